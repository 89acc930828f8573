"""Runs in Evidently's own virtualenv (bench/evidently_drift.py starts it, never the portal's).

Usage: ``evidently_drift_child.py FOLDER REPEAT``. Reads ``reference.parquet`` and
``current.parquet`` from FOLDER (not timed), then times, best of REPEAT, in this process:

- ``report``: Evidently's data drift report with the PSI test on every column,
  ``Report([DataDriftPreset(method="psi")]).run(current, reference)``, from the two DataFrames
  (wrapping them as Datasets included: the report takes nothing else);
- ``stattest``: Evidently's PSI stat test alone (``psi_stat_test``, the function the report calls
  per column) on each column, for scale.

Prints one JSON line: both times, each column's PSI from the report and from the stat test, the
method the report used per column, and the versions of evidently, numpy, pandas and scipy here.
"""

from __future__ import annotations

import json
import sys
import time
from pathlib import Path


def main() -> None:
    import numpy as np
    import pandas as pd
    import scipy
    from evidently import DataDefinition, Dataset, Report
    from evidently import __version__ as evidently_version
    from evidently.legacy.calculations.stattests import psi_stat_test
    from evidently.legacy.core import ColumnType
    from evidently.presets import DataDriftPreset

    folder, repeat = Path(sys.argv[1]), int(sys.argv[2])
    reference = pd.read_parquet(folder / "reference.parquet")
    current = pd.read_parquet(folder / "current.parquet")
    columns = [str(name) for name in reference.columns]
    definition = DataDefinition(numerical_columns=columns)

    report_seconds = []
    for _ in range(repeat):
        started = time.perf_counter()
        snapshot = Report([DataDriftPreset(method="psi")]).run(
            Dataset.from_pandas(current, data_definition=definition),
            Dataset.from_pandas(reference, data_definition=definition),
        )
        report_seconds.append(time.perf_counter() - started)

    numerical = ColumnType.Numerical
    stattest_seconds = []
    for _ in range(repeat):
        started = time.perf_counter()
        direct = {
            name: float(psi_stat_test(reference[name], current[name], numerical, None).drift_score)
            for name in columns
        }
        stattest_seconds.append(time.perf_counter() - started)

    psi: dict[str, float] = {}
    methods: dict[str, str] = {}
    for metric in snapshot.dict()["metrics"]:
        config = metric["config"]
        if config.get("type") == "evidently:metric_v2:ValueDrift":
            psi[config["column"]] = float(metric["value"])
            methods[config["column"]] = str(config.get("method"))
    missing = sorted(set(columns) - set(psi))
    if missing:
        raise RuntimeError(f"the report has no ValueDrift for {missing}")
    print(
        json.dumps(
            {
                "report_seconds": min(report_seconds),
                "report_runs": report_seconds,
                "stattest_seconds": min(stattest_seconds),
                "psi": psi,
                "psi_stattest": direct,
                "methods": methods,
                "versions": {
                    "evidently": evidently_version,
                    "numpy": np.__version__,
                    "pandas": pd.__version__,
                    "scipy": scipy.__version__,
                },
            }
        )
    )


if __name__ == "__main__":
    main()
