"""MLflow's side of bench/serving.py, run by the MLflow virtualenv's Python (not the portal's).

    var/bench/mlflow-venv/bin/python bench/serving_mlflow.py DATA.npz MODEL_DIR PARAMS_JSON

Fits the benchmark's model on the training rows in ``DATA.npz`` (the arrays bench/serving.py
fitted the portal's copy on, with the same hyper-parameters), saves it with
``mlflow.sklearn.save_model`` (signature inferred from the data, ``predict_proba`` as the pyfunc's
predict so that MLflow answers probabilities as the portal does), loads it back as MLflow's
scoring server does (``mlflow.pyfunc.load_model``) and times, in this process, one-row
predictions through the pyfunc (MLflow's schema enforcement included) and through the bare
scikit-learn pipeline. Prints one JSON object: versions, the fitted parameters (for the
same-model check) and the timings.
"""

from __future__ import annotations

import json
import statistics
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd


def median_seconds(call: Callable[[], object], repeat: int) -> float:
    for _ in range(min(200, repeat)):
        call()
    samples = []
    for _ in range(repeat):
        start = time.perf_counter()
        call()
        samples.append(time.perf_counter() - start)
    return statistics.median(samples)


def main(data_path: str, model_dir: str, params_json: str) -> int:
    import mlflow  # type: ignore[import-not-found]
    import mlflow.pyfunc  # type: ignore[import-not-found]
    import mlflow.sklearn  # type: ignore[import-not-found]
    import sklearn
    from mlflow.models import infer_signature  # type: ignore[import-not-found]
    from sklearn.linear_model import LogisticRegression
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import StandardScaler

    data = np.load(data_path, allow_pickle=False)
    features = [str(name) for name in data["features"]]
    params = json.loads(params_json)
    frame = pd.DataFrame(data["x_train"], columns=features)
    model = make_pipeline(StandardScaler(), LogisticRegression(**params)).fit(
        frame, data["y_train"]
    )
    sample = frame.head(100)
    signature = infer_signature(sample, model.predict_proba(sample))
    mlflow.sklearn.save_model(
        model,
        model_dir,
        signature=signature,
        pyfunc_predict_fn="predict_proba",
        # Pinned rather than inferred: inference loads the model in a subprocess (slow).
        pip_requirements=[f"scikit-learn=={sklearn.__version__}"],
    )
    served = mlflow.pyfunc.load_model(model_dir)
    one = pd.DataFrame(data["x_probe"][:1], columns=features)
    repeat = 3000
    timings = {
        "pyfunc_predict_one_row_ms": median_seconds(lambda: served.predict(one), repeat) * 1000,
        "sklearn_predict_proba_one_row_ms": median_seconds(lambda: model.predict_proba(one), repeat)
        * 1000,
    }
    probe = pd.DataFrame(data["x_probe"], columns=features)
    result: dict[str, Any] = {
        "versions": {
            "python": sys.version.split()[0],
            "mlflow": mlflow.__version__,
            "scikit-learn": sklearn.__version__,
            "numpy": np.__version__,
            "pandas": pd.__version__,
        },
        "fitted": {
            "mean": model[0].mean_.tolist(),
            "scale": model[0].scale_.tolist(),
            "coef": model[-1].coef_.ravel().tolist(),
            "intercept": model[-1].intercept_.tolist(),
            "classes": model[-1].classes_.tolist(),
        },
        "probe_probabilities": np.asarray(served.predict(probe), dtype=float).tolist(),
        "signature": signature.to_dict(),
        "timings": timings,
        "model_dir_files": sorted(p.name for p in Path(model_dir).iterdir()),
    }
    print(json.dumps(result))
    return 0


if __name__ == "__main__":
    if len(sys.argv) != 4:
        sys.exit(__doc__)
    sys.exit(main(*sys.argv[1:]))
