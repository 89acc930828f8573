"""Drift of one window: the portal's computation against Evidently's data drift report.

Run it from the repository root (about a minute; the first run installs Evidently into
``var/bench/evidently-venv``, a minute more)::

    .venv/bin/python bench/evidently_drift.py
    .venv/bin/python bench/evidently_drift.py --rows 20000    # quick check

The data: a reference sample of 5,000 rows of 20 numeric features (standard normal, fixed
seed), as validation keeps it, and a current window of ``--rows`` rows (100,000) where five
features drift (their means move by 0.1 to 0.5) and the others do not.

1. The portal: the baseline is fixed beforehand, as validation fixes it (``metrics.baseline``:
   deciles of the reference); the timed part counts the window's values of every feature into
   the baseline's bins and computes each PSI from the counts (``bin_counts``,
   ``psi_of_counts``): what the rollup and the health evaluation do between them. Best of 3.
2. Evidently (``EVIDENTLY_VERSION``, in its own virtualenv: it needs pandas < 3 and plotly < 6,
   which our pins exclude): ``Report([DataDriftPreset(method="psi")])`` on the same arrays,
   timed inside its process, best of 3. It bins each numeric column anew for every report:
   ``np.histogram_bin_edges`` of reference and current together with the "sturges" rule
   (equal-width bins), then fills empty bins with 0.0001 (or a millionth of the smallest
   share when that is below 0.0001) (``evidently/legacy/calculations/stattests/utils.py``,
   ``get_binned_data``).
3. PSI side by side: the portal's on its decile bins, Evidently's, and the portal's
   ``psi_of_counts`` on Evidently's own edges (its interior edges as a baseline spec), so the
   two can be compared on the same bins; they differ only where a bin holds less than 0.01 %
   of a sample (the portal floors every share at 0.0001, Evidently only the empty ones).

Prints a report; writes every figure to ``bench/results/evidently-drift-<UTC timestamp>.json``.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

from common import log, run_checked  # noqa: E402  (bench/ is first on sys.path)

from apps.validation.engine import metrics  # noqa: E402  (pure numpy/pandas: no Django)

EVIDENTLY_VERSION = "0.7.23"
EVIDENTLY_VENV = REPO / "var" / "bench" / "evidently-venv"
REFERENCE_ROWS = 5_000
FEATURES = [f"f{i}" for i in range(20)]
DRIFT = {"f0": 0.5, "f1": 0.3, "f2": 0.2, "f3": 0.15, "f4": 0.1}  # mean shift per feature
REPEAT = 3


def ensure_evidently(venv: Path = EVIDENTLY_VENV) -> Path:
    """Evidently's own virtualenv: created once, reused while the pin holds."""
    python = venv / "bin" / "python"
    probe = [str(python), "-c", "import evidently; print(evidently.__version__)"]
    if python.exists():
        found = subprocess.run(probe, capture_output=True, text=True, check=False)
        if found.returncode == 0 and found.stdout.strip() == EVIDENTLY_VERSION:
            return python
    venv.parent.mkdir(parents=True, exist_ok=True)
    install_log = venv.parent / "evidently-install.log"
    if not python.exists():
        base = shutil.which("python3.11") or sys.executable
        log(f"evidently {EVIDENTLY_VERSION}: creating {venv}")
        run_checked(
            [base, "-m", "venv", str(venv)],
            cwd=venv.parent,
            env=os.environ,
            log_path=install_log,
            timeout=300,
        )
    log(f"evidently {EVIDENTLY_VERSION}: installing into {venv}")
    # Evidently 0.7 imports a pandas function that pandas 3 removed.
    run_checked(
        [
            str(python),
            "-m",
            "pip",
            "install",
            "--quiet",
            f"evidently=={EVIDENTLY_VERSION}",
            "pandas<3",
        ],
        cwd=venv.parent,
        env=os.environ,
        log_path=install_log,
        timeout=1800,
    )
    return python


def _samples(rows: int, seed: int) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    reference = rng.normal(0, 1, (REFERENCE_ROWS, len(FEATURES)))
    shift = np.array([DRIFT.get(name, 0.0) for name in FEATURES])
    current = rng.normal(0, 1, (rows, len(FEATURES))) + shift
    return reference, current


def _evidently_edges(reference: np.ndarray, current: np.ndarray) -> np.ndarray:
    """The edges Evidently's PSI bins a numeric column by (``get_binned_data``)."""
    return np.histogram_bin_edges(np.concatenate([reference, current]), bins="sturges")


def compare(rows: int = 100_000, seed: int = 0) -> dict[str, Any]:
    reference, current = _samples(rows, seed)
    specs = metrics.baseline(pd.DataFrame(reference, columns=FEATURES), FEATURES)

    def portal() -> dict[str, float | None]:
        return {
            spec["feature"]: metrics.psi_of_counts(
                spec["counts"], metrics.bin_counts(spec, current[:, i])
            )
            for i, spec in enumerate(specs)
        }

    timings = []
    for _ in range(REPEAT):
        started = time.perf_counter()
        ours = portal()
        timings.append(time.perf_counter() - started)

    python = ensure_evidently()
    with tempfile.TemporaryDirectory(prefix="bench-evidently-") as folder:
        np.save(Path(folder) / "reference.npy", reference)
        np.save(Path(folder) / "current.npy", current)
        (Path(folder) / "columns.json").write_text(json.dumps(FEATURES))
        log(f"evidently: data drift report on {rows:,} rows x {len(FEATURES)} features")
        child = subprocess.run(
            [str(python), str(REPO / "bench" / "evidently_drift_child.py"), folder, str(REPEAT)],
            capture_output=True,
            text=True,
            timeout=1800,
            check=False,
        )
    if child.returncode != 0:
        raise RuntimeError(f"evidently_drift_child.py failed:\n{child.stderr[-3000:]}")
    theirs = json.loads(child.stdout.strip().splitlines()[-1])

    table = []
    for i, name in enumerate(FEATURES):
        edges = _evidently_edges(reference[:, i], current[:, i])
        spec = metrics.numeric_baseline(reference[:, i])
        spec = {**spec, "edges": edges[1:-1].tolist()}
        spec["counts"] = metrics.bin_counts(spec, reference[:, i])
        same_bins = metrics.psi_of_counts(spec["counts"], metrics.bin_counts(spec, current[:, i]))
        table.append(
            {
                "feature": name,
                "mean_shift": DRIFT.get(name, 0.0),
                "portal_psi_deciles": ours[name],
                "evidently_psi": theirs["psi"][name],
                "portal_psi_evidently_bins": same_bins,
                "bins_evidently": len(edges) - 1,
            }
        )
    differences = [abs(r["portal_psi_evidently_bins"] - r["evidently_psi"]) for r in table]
    return {
        "rows": rows,
        "reference_rows": REFERENCE_ROWS,
        "features": len(FEATURES),
        "versions": {
            "portal": {"numpy": np.__version__, "pandas": pd.__version__},
            "evidently_venv": theirs["versions"],
        },
        "portal_seconds": min(timings),
        "evidently_seconds": theirs["seconds"],
        "evidently_over_portal": theirs["seconds"] / min(timings),
        "per_feature": table,
        "max_abs_difference_same_bins": max(differences),
        "bins_note": (
            "portal: deciles of the reference fixed at validation, right-closed, plus a missing "
            "bin, shares floored at 0.0001; Evidently: equal-width 'sturges' bins over reference "
            "and current together, recomputed per report, empty bins filled with 0.0001"
        ),
    }


def render(result: dict[str, Any]) -> list[str]:
    lines = [
        f"Drift of a {result['rows']:,}-row window, {result['features']} features, against a "
        f"{result['reference_rows']:,}-row reference:",
        f"  portal     {1000 * result['portal_seconds']:8.1f} ms (bin counts + PSI, best of 3)",
        f"  Evidently  {1000 * result['evidently_seconds']:8.1f} ms (DataDriftPreset psi, "
        "best of 3)",
        f"  Evidently / portal  {result['evidently_over_portal']:.1f}x",
        "PSI per feature: portal (deciles) | Evidently | portal on Evidently's bins",
    ]
    for row in result["per_feature"]:
        lines.append(
            f"  {row['feature']:<4} shift {row['mean_shift']:<4} "
            f"{row['portal_psi_deciles']:8.4f} | {row['evidently_psi']:8.4f} | "
            f"{row['portal_psi_evidently_bins']:8.4f}"
        )
    lines.append(
        f"  largest difference on the same bins: {result['max_abs_difference_same_bins']:.2e}"
    )
    return lines


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=100_000)
    args = parser.parse_args()
    result = compare(args.rows)
    result["at"] = datetime.now(UTC).isoformat()
    out = REPO / "bench" / "results"
    out.mkdir(exist_ok=True)
    path = out / f"evidently-drift-{datetime.now(UTC):%Y%m%dT%H%M%SZ}.json"
    path.write_text(json.dumps(result, indent=2))
    print("\n".join(render(result)))
    print(f"Figures: {path.relative_to(REPO)}")


if __name__ == "__main__":
    main()
