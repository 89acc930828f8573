"""Drift of one window: the portal's computation against Evidently's data drift report.

Run it from the repository root (about a minute; the first run creates Evidently's virtualenv
``var/bench/evidently-venv`` and installs it, a few minutes more)::

    .venv/bin/python bench/evidently_drift.py
    .venv/bin/python bench/evidently_drift.py --rows 20000    # quick check

``bench/monitoring.py`` runs it too, with the defaults, as its third part.

The data: a reference sample of 5,000 rows of 20 numeric features (standard normal, fixed seed),
as validation keeps it, and a current window of ``--rows`` rows (100,000) where five features
drift (their means move by 0.5, 0.3, 0.2, 0.15 and 0.1) and the others do not. Both go to
Parquet files in a temporary folder; each side reads the same files back, untimed.

1. The portal, in this process: the baseline is fixed beforehand, as validation fixes it
   (``metrics.baseline``: deciles of the reference, with each bin's count); the timed part
   counts the window's values of every feature into the baseline's bins (``bin_counts``, the
   ``bin_index`` + ``bincount`` the rollup does) and computes each PSI from the two counts
   (``psi_of_counts``, what the health evaluation does). Best of 3.
2. Evidently (``EVIDENTLY_VERSION``, in its own virtualenv: it needs plotly < 6 and pandas < 3,
   which our pins exclude), in ``bench/evidently_drift_child.py``:
   ``Report([DataDriftPreset(method="psi")]).run(current, reference)`` on the same DataFrames,
   timed inside its process (imports and file reading excluded), best of 3. That is the whole
   report as Evidently runs it: it computes each column's PSI three times (its ``ValueDrift``
   metric, then ``DatasetDriftMetric`` and ``DataDriftTable`` for the preset's widgets) and
   builds plotly figures. Its PSI stat test alone (``psi_stat_test`` per column) is timed too,
   for scale. Evidently bins each numeric column anew for every report
   (``evidently/legacy/calculations/stattests/utils.py``, ``get_binned_data``): equal-width
   bins, ``np.histogram_bin_edges`` of reference and current together with the "sturges" rule
   (ceil(log2(n) + 1) bins for n values in all, 18 for 105,000), left-closed but the last;
   then it replaces each sample's empty shares by 0.0001, or by a millionth of that sample's
   smallest non-zero share when this is 0.0001 or less. (A column with 20 distinct reference
   values or fewer it counts per value instead. The ``n_bins=30`` its PSI test passes down is
   not used either way.)
3. PSI side by side: the portal's on its decile bins, Evidently's, and the portal's
   ``psi_of_counts`` on Evidently's own edges (its interior edges as a baseline spec), so that
   the two compare on the same bins. On the same bins the counts are the same, and the PSIs
   differ only through the floors: the portal raises every share below 0.0001 to 0.0001,
   Evidently only the empty ones, and with less when the sample has a share that small. To
   show that the edges here are Evidently's, its floor rule is applied to the portal's counts
   as well: that reproduces its PSI.

Goal: the portal's drift of a window no slower than Evidently's report (the time ratio), and on
the same bins the same PSI as Evidently up to the floor rule (the largest difference).

Prints a report; writes every figure to ``bench/results/evidently-drift-<UTC timestamp>.json``.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import scipy

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

from common import ensure_tool_venv, log  # noqa: E402  (bench/ is first on sys.path)

from apps.validation.engine import metrics  # noqa: E402  (numpy, scipy, pandas only: no Django)

EVIDENTLY_VERSION = "0.7.23"
EVIDENTLY_VENV = REPO / "var" / "bench" / "evidently-venv"
CHILD = REPO / "bench" / "evidently_drift_child.py"
REFERENCE_ROWS = 5_000
# Mean shift of the drifting features; every other feature keeps the reference's distribution.
DRIFT = {"f0": 0.5, "f1": 0.3, "f2": 0.2, "f3": 0.15, "f4": 0.1}
REPEAT = 3


# --- Evidently's virtualenv -------------------------------------------------------------------


def ensure_evidently_venv(venv: Path = EVIDENTLY_VENV, version: str = EVIDENTLY_VERSION) -> Path:
    """Evidently's own virtualenv: created once, reused while the pin holds. Returns its
    python."""
    # Evidently 0.7 asks for pandas >= 1.3.5 with no upper bound, but its legacy tests module
    # (imported by ``import evidently``) imports ``infer_dtype_from_object``, gone in pandas 3.
    return ensure_tool_venv(venv, "evidently", version, also=["pandas<3"])


# --- Data and binning -------------------------------------------------------------------------


def feature_names(features: int) -> list[str]:
    return [f"f{i}" for i in range(features)]


def samples(rows: int, features: int, seed: int) -> tuple[pd.DataFrame, pd.DataFrame]:
    """The reference sample and the current window, standard normal; ``DRIFT`` moves means."""
    names = feature_names(features)
    rng = np.random.default_rng(seed)
    shift = np.array([DRIFT.get(name, 0.0) for name in names])
    reference = rng.normal(0.0, 1.0, (REFERENCE_ROWS, features))
    current = rng.normal(0.0, 1.0, (rows, features)) + shift
    return pd.DataFrame(reference, columns=names), pd.DataFrame(current, columns=names)


def evidently_edges(reference: np.ndarray, current: np.ndarray) -> np.ndarray:
    """The edges Evidently's PSI cuts a numeric column at (``get_binned_data``): equal-width
    "sturges" bins over reference and current together."""
    return np.histogram_bin_edges(np.concatenate([reference, current]), bins="sturges")


def evidently_psi_rule(expected: np.ndarray, actual: np.ndarray) -> float:
    """Evidently's PSI of two samples' counts in the same bins, its floor rule included:
    each sample's empty shares become 0.0001, or a millionth of its smallest non-zero share when
    that is 0.0001 or less; the others stay as they are."""

    def shares(counts: np.ndarray) -> np.ndarray:
        share = counts / counts.sum()
        smallest = share[share > 0].min()
        share[share == 0] = smallest / 10**6 if smallest <= 0.0001 else 0.0001
        return share

    e, a = shares(expected.astype(np.float64)), shares(actual.astype(np.float64))
    return float(np.sum((e - a) * np.log(e / a)))


def same_bins(reference: np.ndarray, current: np.ndarray) -> dict[str, Any]:
    """The portal's PSI on Evidently's bins, and Evidently's rule on the very same counts."""
    edges = evidently_edges(reference, current)
    # Evidently's interior edges as a portal baseline: its outer edges are the smallest and
    # largest value of both samples, so (-inf, e1] ... (ek, inf) holds the same values.
    spec = {"kind": "numeric", "edges": edges[1:-1].tolist()}
    spec["counts"] = metrics.bin_counts(spec, reference)
    counted = metrics.bin_counts(spec, current)
    # Evidently's bins are [a, b), the last [a, b]; the portal's (a, b]. Only a value exactly on
    # an interior edge could fall differently: check that none did.
    theirs_ref = np.histogram(reference, edges)[0]
    theirs_cur = np.histogram(current, edges)[0]
    identical = bool(
        np.array_equal(spec["counts"][:-1], theirs_ref) and np.array_equal(counted[:-1], theirs_cur)
    )
    # Without the portal's missing bin (empty in both here).
    ref_counts, cur_counts = np.asarray(spec["counts"][:-1]), np.asarray(counted[:-1])
    cur_shares = cur_counts / cur_counts.sum()
    return {
        "psi": metrics.psi_of_counts(spec["counts"], counted),
        "evidently_rule": evidently_psi_rule(ref_counts, cur_counts),
        "bins": len(edges) - 1,
        "counts_identical": identical,
        # Where the two floor rules part: non-empty shares under 0.0001, and empty bins.
        "current_bins_below_floor": int(np.sum((cur_shares > 0) & (cur_shares < 1e-4))),
        "empty_bins": {
            "reference": int(np.sum(ref_counts == 0)),
            "current": int(np.sum(cur_counts == 0)),
        },
    }


# --- The comparison ---------------------------------------------------------------------------


def run_evidently(python: Path, folder: Path) -> dict[str, Any]:
    started = time.perf_counter()
    child = subprocess.run(
        [str(python), str(CHILD), str(folder), str(REPEAT)],
        cwd=folder,
        capture_output=True,
        text=True,
        timeout=1800,
        check=False,
    )
    if child.returncode != 0:
        raise RuntimeError(f"{CHILD.name} exited with {child.returncode}:\n{child.stderr[-3000:]}")
    answer: dict[str, Any] = json.loads(child.stdout.strip().splitlines()[-1])
    answer["process_seconds"] = time.perf_counter() - started
    return answer


def compare(rows: int = 100_000, features: int = 20, seed: int = 0) -> dict[str, Any]:
    names = feature_names(features)
    reference_frame, current_frame = samples(rows, features, seed)
    python = ensure_evidently_venv()
    with tempfile.TemporaryDirectory(prefix="bench-evidently-") as scratch:
        folder = Path(scratch)
        reference_frame.to_parquet(folder / "reference.parquet")
        current_frame.to_parquet(folder / "current.parquet")
        # What each side computes on: the files, read back.
        reference = pd.read_parquet(folder / "reference.parquet")
        current = pd.read_parquet(folder / "current.parquet")

        # The baseline, as validation fixes it (not timed: it is done once per version).
        specs = metrics.baseline(reference, names)

        def portal() -> dict[str, float | None]:
            return {
                spec["feature"]: metrics.psi_of_counts(
                    spec["counts"], metrics.bin_counts(spec, current[spec["feature"]])
                )
                for spec in specs
            }

        log(f"portal: bin counts + PSI of {rows:,} rows x {features} features, best of {REPEAT}")
        portal_runs = []
        for _ in range(REPEAT):
            started = time.perf_counter()
            ours = portal()
            portal_runs.append(time.perf_counter() - started)

        log(f"evidently: data drift report on the same files, best of {REPEAT} (its process)")
        theirs = run_evidently(python, folder)

    table = []
    for name in names:
        ref, cur = reference[name].to_numpy(), current[name].to_numpy()
        on_their_bins = same_bins(ref, cur)
        table.append(
            {
                "feature": name,
                "mean_shift": DRIFT.get(name, 0.0),
                "portal_psi_deciles": ours[name],
                "evidently_psi": theirs["psi"][name],
                "portal_psi_evidently_bins": on_their_bins["psi"],
                "evidently_rule_on_portal_counts": on_their_bins["evidently_rule"],
                "evidently_stattest_psi": theirs["psi_stattest"][name],
                "evidently_method": theirs["methods"][name],
                "evidently_bins": on_their_bins["bins"],
                "counts_identical": on_their_bins["counts_identical"],
                "current_bins_below_floor": on_their_bins["current_bins_below_floor"],
                "empty_bins_evidently": on_their_bins["empty_bins"],
            }
        )

    def largest(key: str) -> float:
        return max(abs(row[key] - row["evidently_psi"]) for row in table)

    portal_seconds = min(portal_runs)
    return {
        "rows": rows,
        "reference_rows": REFERENCE_ROWS,
        "features": features,
        "seed": seed,
        "repeat": REPEAT,
        "versions": {
            "portal_venv": {
                "python": sys.version.split()[0],
                "numpy": np.__version__,
                "pandas": pd.__version__,
                "scipy": scipy.__version__,
            },
            "evidently_venv": theirs["versions"],
        },
        "portal_seconds": portal_seconds,
        "portal_runs": portal_runs,
        "evidently_seconds": theirs["report_seconds"],
        "evidently_runs": theirs["report_runs"],
        "evidently_over_portal": theirs["report_seconds"] / portal_seconds,
        "evidently_stattest_seconds": theirs["stattest_seconds"],
        "evidently_stattest_over_portal": theirs["stattest_seconds"] / portal_seconds,
        "evidently_process_seconds": theirs["process_seconds"],
        "per_feature": table,
        "max_abs_difference_same_bins": largest("portal_psi_evidently_bins"),
        "max_abs_difference_evidently_rule": largest("evidently_rule_on_portal_counts"),
        "max_abs_difference_stattest_vs_report": largest("evidently_stattest_psi"),
        "counts_identical_all_features": all(row["counts_identical"] for row in table),
        "timing_note": (
            "portal: bin_counts + psi_of_counts per feature on the window, the baseline fixed "
            "beforehand (metrics.baseline, as at validation), in this process; Evidently: "
            "Report([DataDriftPreset(method='psi')]).run on the same DataFrames (Datasets, PSI "
            "three times per column, widgets) in its own process, imports and file reading "
            "excluded; both best of 3"
        ),
        "bins_note": (
            "portal: the reference's deciles, fixed at validation, right-closed bins (-inf, e1] "
            "... (e9, inf) plus a missing bin, every share floored at 0.0001; Evidently: equal-"
            "width bins recomputed per report, np.histogram_bin_edges(reference + current, "
            "'sturges') = ceil(log2(n) + 1) bins, [a, b) but the last, empty shares only set "
            "to 0.0001 (or the sample's smallest share / 1e6 when that is <= 0.0001)"
        ),
        "load_average": [round(v, 2) for v in os.getloadavg()],
        "cpus": os.cpu_count(),
    }


def render(result: dict[str, Any]) -> list[str]:
    portal_ms = 1000 * result["portal_seconds"]
    evidently_ms = 1000 * result["evidently_seconds"]
    lines = [
        f"Drift of a {result['rows']:,}-row window, {result['features']} features: "
        f"portal {portal_ms:.1f} ms, Evidently {evidently_ms:.1f} ms "
        f"(Evidently/portal {result['evidently_over_portal']:.1f}x)",
        f"  reference {result['reference_rows']:,} rows; best of {result['repeat']} each. Portal: "
        "bin counts + PSI per feature, baseline fixed beforehand as at validation.",
        f"  Evidently {result['versions']['evidently_venv']['evidently']}: "
        "Report([DataDriftPreset(method='psi')]).run; its PSI stat test alone "
        f"{1000 * result['evidently_stattest_seconds']:.1f} ms "
        f"({result['evidently_stattest_over_portal']:.1f}x the portal).",
        f"  load average {result['load_average'][0]} on {result['cpus']} CPUs",
        "",
    ]
    headers = ("feature", "shift", "portal PSI deciles", "Evidently PSI", "portal PSI Ev. bins")
    cells = [
        (
            row["feature"],
            f"{row['mean_shift']:g}",
            f"{row['portal_psi_deciles']:.4f}",
            f"{row['evidently_psi']:.4f}",
            f"{row['portal_psi_evidently_bins']:.4f}",
        )
        for row in result["per_feature"]
    ]
    widths = [max(len(text) for text in column) for column in zip(headers, *cells, strict=True)]

    def line(texts: tuple[str, ...]) -> str:
        return "  ".join(
            text.ljust(width) if i == 0 else text.rjust(width)
            for i, (text, width) in enumerate(zip(texts, widths, strict=True))
        )

    lines += [line(headers), "  ".join("-" * width for width in widths)]
    lines += [line(texts) for texts in cells]
    lines += [
        "",
        "Same bins (Evidently's): largest |portal - Evidently| "
        f"{result['max_abs_difference_same_bins']:.2e}; Evidently's floor rule on the portal's "
        f"counts reproduces its PSI to {result['max_abs_difference_evidently_rule']:.1e}"
        + ("" if result["counts_identical_all_features"] else " (COUNTS DIFFER)"),
        f"Bins: {result['bins_note']}.",
    ]
    return lines


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--rows", type=int, default=100_000, help="rows of the current window")
    args = parser.parse_args(argv)
    started = datetime.now(UTC)
    result = {"at": started.isoformat(), **compare(args.rows)}
    out = REPO / "bench" / "results"
    out.mkdir(parents=True, exist_ok=True)
    path = out / f"evidently-drift-{started:%Y%m%dT%H%M%SZ}.json"
    path.write_text(json.dumps(result, indent=2) + "\n")
    print("\n".join(render(result)))
    print(f"Figures: {path.relative_to(REPO)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
