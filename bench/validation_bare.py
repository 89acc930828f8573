"""The bare side of ``bench/validation.py``: the sandboxed child's work, with no portal around it.

``bench/validation.py`` starts it as ``.venv/bin/python -I -B bench/validation_bare.py SPEC`` with
an empty environment, exactly as the worker starts ``engine/child.py`` (minus bubblewrap), and
times it from launch to exit. SPEC is a JSON file naming the artifact, holdout, reference, target
and sensitive column. The script does what ``child.validate`` does, in the same order and through
the same engine functions: check and load the ``.skops`` file with the trusted-type allowlist,
read the holdout and the reference, ``report.build``, then predict on the first rows, dump the
canonical copy, reload it and check it predicts the same. No sandbox, broker, worker or database.

It prints one JSON object on stdout: the report, the time of each stage measured inside the
process, and its peak resident memory (VmHWM; see ``ru_maxrss_mb`` for why not ``ru_maxrss``).

This file imports nothing but the standard library before the engine, so that what it adds to the
process time is what the child adds too (reading a small JSON file).
"""

from __future__ import annotations

import importlib
import json
import os
import resource
import sys
import time
from pathlib import Path
from typing import Any

STARTED = time.perf_counter()
STARTED_EPOCH = time.time()  # the caller compares it with its launch time: interpreter start-up


def _peak_rss_mb() -> float:
    """This process image's own peak resident size (VmHWM, reset at exec)."""
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return round(int(line.split()[1]) / 1024, 1)
    raise RuntimeError("no VmHWM in /proc/self/status")


def main() -> None:
    spec = json.loads(Path(sys.argv[1]).read_text())
    # child.py sets these before the engine imports numpy; without them this process could use
    # more BLAS threads than the sandboxed one and the two would not compute alike.
    for name in ("OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS", "MKL_NUM_THREADS"):
        os.environ[name] = "1"
    # The sandbox mounts apps/validation/engine at /opt/portal/engine and puts /opt/portal on
    # sys.path; putting apps/validation first here imports the very same modules the same way.
    sys.path.insert(0, spec["engine_parent"])
    stages: dict[str, float] = {}
    mark = time.perf_counter()

    def stage(name: str) -> None:
        nonlocal mark
        now = time.perf_counter()
        stages[name] = round(now - mark, 4)
        mark = now

    report = importlib.import_module("engine.report")
    trusted = importlib.import_module("engine.trusted")
    import numpy as np

    stage("import_engine")

    artifact = Path(spec["artifact"])
    trusted.check_archive(
        artifact, max_members=spec["max_members"], max_total_bytes=spec["max_total_bytes"]
    )
    estimator = trusted.load_skops(artifact, extra_trusted=spec["trusted_types"])
    stage("load_model")

    holdout = report.read_frame(Path(spec["holdout"]), "csv")
    reference = report.read_frame(Path(spec["reference"]), "csv")
    stage("read_data")

    built = report.build(
        estimator,
        holdout=holdout,
        target=spec["target"],
        reference=reference,
        sensitive=spec["sensitive"],
        champion=None,
        progress=lambda *a: None,
    )
    stage("build")

    features = [f["name"] for f in built["signature"]["features"]]
    sample = holdout[features].head(spec["check_rows"])
    before = report.predictions_for_check(estimator, sample)
    out = Path(spec["out_dir"])
    out.mkdir(parents=True, exist_ok=True)
    trusted.dump_skops(estimator, out / "canonical.skops")
    reloaded = trusted.load_skops(out / "canonical.skops", extra_trusted=spec["trusted_types"])
    after = report.predictions_for_check(reloaded, sample)
    matches = bool(
        before.shape == after.shape
        and np.allclose(before, after, rtol=1e-9, atol=1e-12, equal_nan=True)
    )
    stage("canonical_copy")

    result: dict[str, Any] = {
        "report": built,
        "predictions_match": matches,
        "rows_checked": len(sample),
        "stages_s": stages,
        "in_process_s": round(time.perf_counter() - STARTED, 4),
        "script_started_epoch": STARTED_EPOCH,
        "script_finished_epoch": time.time(),
        "peak_memory_mb": _peak_rss_mb(),
        # What child.py reports as peak_memory_mb (KiB on Linux). Not comparable here: Linux
        # carries the parent's resident size at fork into the child's ru_maxrss, and this
        # process's parent is the benchmark (larger than this process), while the sandboxed
        # child's parent is a small bwrap process.
        "ru_maxrss_mb": round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 1),
    }
    json.dump(result, sys.stdout, allow_nan=False)


if __name__ == "__main__":
    main()
