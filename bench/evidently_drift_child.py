"""Runs in Evidently's own virtualenv (bench/evidently_drift.py starts it): Evidently's data
drift report with the PSI test on the reference and current samples saved as .npy, timed here,
each column's PSI and the library versions printed as one JSON line."""

from __future__ import annotations

import json
import sys
import time
from pathlib import Path


def main() -> None:
    import numpy as np
    import pandas as pd
    from evidently import DataDefinition, Dataset, Report
    from evidently import __version__ as evidently_version
    from evidently.presets import DataDriftPreset

    folder, repeat = Path(sys.argv[1]), int(sys.argv[2])
    columns = json.loads((folder / "columns.json").read_text())
    reference = pd.DataFrame(np.load(folder / "reference.npy"), columns=columns)
    current = pd.DataFrame(np.load(folder / "current.npy"), columns=columns)
    definition = DataDefinition(numerical_columns=columns)
    seconds = []
    for _ in range(repeat):
        started = time.perf_counter()
        snapshot = Report([DataDriftPreset(method="psi")]).run(
            Dataset.from_pandas(current, data_definition=definition),
            Dataset.from_pandas(reference, data_definition=definition),
        )
        seconds.append(time.perf_counter() - started)
    psi = {
        metric["config"]["column"]: float(metric["value"])
        for metric in snapshot.dict()["metrics"]
        if metric["config"].get("type") == "evidently:metric_v2:ValueDrift"
    }
    versions = {"evidently": evidently_version, "numpy": np.__version__, "pandas": pd.__version__}
    print(json.dumps({"seconds": min(seconds), "psi": psi, "versions": versions}))


if __name__ == "__main__":
    main()
