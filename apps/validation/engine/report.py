"""A validation report from a loaded estimator and the version's data. Runs inside the sandbox.

Everything returned is plain JSON. A problem the data scientist must fix (columns that do not match,
labels the model does not know) raises ValidationProblem with a message saying what to change.
"""

from __future__ import annotations

import platform
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from . import metrics

Progress = Callable[[int, str], None]

# The metric a champion comparison and "must not be worse than the champion" are judged on.
PRIMARY_METRIC = {"binary": "roc_auc", "multiclass": "accuracy", "regression": "r2"}


class ValidationProblem(Exception):
    def __init__(self, message: str, kind: str = "data") -> None:
        super().__init__(message)
        self.message = message
        self.kind = kind


def read_frame(path: Path, file_format: str) -> pd.DataFrame:
    if file_format == "parquet":
        return pd.read_parquet(path)
    return pd.read_csv(path, low_memory=False)


def _kind(series: pd.Series) -> str:
    if pd.api.types.is_bool_dtype(series):
        return "boolean"
    if pd.api.types.is_numeric_dtype(series):
        return "numeric"
    if pd.api.types.is_datetime64_any_dtype(series):
        return "datetime"
    return "categorical"


def signature(
    estimator: Any, holdout: pd.DataFrame, target: str, sensitive: str | None
) -> dict[str, Any]:
    """The input columns the model takes, checked against the holdout.

    With ``feature_names_in_`` the names must match exactly (the sensitive column may be extra);
    without it the holdout's columns are taken in order and their count must match.
    """
    offered = [c for c in holdout.columns if c != target]
    recorded = getattr(estimator, "feature_names_in_", None)
    if recorded is not None:
        expected = [str(c) for c in recorded]
        missing = [c for c in expected if c not in offered]
        extra = [c for c in offered if c not in expected and c != sensitive]
        if missing or extra:
            parts = []
            if missing:
                parts.append("the holdout lacks columns the model needs: " + ", ".join(missing))
            if extra:
                parts.append(
                    "the holdout has columns the model does not take: "
                    + ", ".join(extra)
                    + " (remove them, or name one as the sensitive column)"
                )
            raise ValidationProblem(
                "Input signature mismatch: " + "; ".join(parts) + ".", "signature"
            )
        features = expected
    else:
        features = [c for c in offered if c != sensitive]
        needed = getattr(estimator, "n_features_in_", None)
        if needed is not None and needed != len(features):
            raise ValidationProblem(
                f"Input signature mismatch: the model takes {needed} features but the holdout "
                f"offers {len(features)} ({', '.join(features)}).",
                "signature",
            )
    return {
        "features": [
            {
                "name": name,
                "dtype": str(holdout[name].dtype),
                "kind": _kind(holdout[name]),
                "nullable": bool(holdout[name].isna().any()),
            }
            for name in features
        ],
        "target": target,
        "model_records_feature_names": recorded is not None,
    }


def task_of(estimator: Any) -> str:
    from sklearn.base import is_classifier, is_regressor

    if is_classifier(estimator):
        classes = getattr(estimator, "classes_", None)
        if classes is None:
            raise ValidationProblem("The classifier is not fitted (it has no classes_).", "model")
        return "binary" if len(classes) == 2 else "multiclass"
    if is_regressor(estimator):
        return "regression"
    raise ValidationProblem(
        f"{type(estimator).__name__} is neither a scikit-learn classifier nor a regressor.", "model"
    )


class Scorer:
    """The estimator applied to the holdout, with labels encoded as the metrics expect."""

    def __init__(self, estimator: Any, task: str, features: list[str], y: pd.Series) -> None:
        self.estimator, self.task, self.features = estimator, task, features
        if task == "regression":
            self.y = y.to_numpy(dtype=float)
            return
        classes = list(estimator.classes_)
        index = {value: i for i, value in enumerate(classes)}
        unknown = sorted({str(v) for v in y.unique() if v not in index})
        if unknown:
            raise ValidationProblem(
                f"The target column holds values the model was not trained on: "
                f"{', '.join(unknown[:10])}. The model knows {', '.join(map(str, classes))}.",
                "data",
            )
        if not hasattr(estimator, "predict_proba"):
            raise ValidationProblem(
                "Classifiers must provide predict_proba so that ROC, calibration and lift can be "
                "measured (for SVC, train with probability=True).",
                "model",
            )
        self.classes = classes
        self.index = index
        self.y = y.map(index).to_numpy(dtype=int)

    def predict(self, frame: pd.DataFrame) -> dict[str, np.ndarray]:
        X = frame[self.features]
        try:
            if self.task == "regression":
                return {"pred": np.asarray(self.estimator.predict(X), dtype=float)}
            proba = np.asarray(self.estimator.predict_proba(X), dtype=float)
            # The model's own predict, as serving answers: not the argmax of the probabilities,
            # which differs for a thresholded or calibrated classifier.
            labels = np.asarray(self.estimator.predict(X))
        except Exception as exc:
            raise ValidationProblem(
                f"The model could not score the holdout: {type(exc).__name__}: {exc}", "model"
            ) from None
        return {"proba": proba, "pred": self._indices(labels)}

    def _indices(self, labels: np.ndarray) -> np.ndarray:
        """The predicted labels as positions in ``classes_``, as the metrics expect them."""
        try:
            return np.fromiter(
                (self.index[label] for label in labels), dtype=int, count=len(labels)
            )
        except (KeyError, TypeError):
            strange = sorted({str(v) for v in labels if v not in self.index})[:5]
            raise ValidationProblem(
                "The model's predict answered labels that are not among its classes_: "
                + ", ".join(strange),
                "model",
            ) from None

    def metrics(
        self, predicted: dict[str, np.ndarray], y: np.ndarray | None = None
    ) -> dict[str, Any]:
        y = self.y if y is None else y
        if self.task == "regression":
            return metrics.regression(y, predicted["pred"])
        if self.task == "binary":
            return metrics.binary_classification(y, predicted["proba"][:, 1], predicted["pred"])
        return metrics.multiclass_classification(y, predicted["proba"], predicted["pred"])

    def primary(self, frame: pd.DataFrame, y: np.ndarray) -> float:
        """The score permutation importance uses: higher is better."""
        predicted = self.predict(frame)
        if self.task == "binary":
            value = metrics.roc_auc(y, predicted["proba"][:, 1])
        elif self.task == "multiclass":
            value = float(np.mean(predicted["pred"] == y))
        else:
            value = metrics.regression(y, predicted["pred"], sample=0)["r2"]
        return float(value) if value is not None else 0.0


def _baseline(
    task: str,
    features: list[str],
    holdout: pd.DataFrame,
    reference: pd.DataFrame | None,
    predicted: dict[str, np.ndarray],
    scorer: Scorer,
) -> dict[str, Any]:
    """What monitoring compares live traffic with: each feature's bins over the reference
    sample (the holdout when there is none), and the holdout's score distribution (the
    positive class's probability, the prediction, or the predicted class)."""
    sample = reference if reference is not None else holdout
    if task == "binary":
        score = metrics.numeric_baseline(predicted["proba"][:, 1])
    elif task == "regression":
        score = metrics.numeric_baseline(predicted["pred"])
    else:
        score = metrics.categorical_baseline(
            np.asarray(scorer.classes, dtype=object)[predicted["pred"]]
        )
    return {
        "sample": "reference" if reference is not None else "holdout",
        "features": metrics.baseline(sample, features),
        "score": score,
    }


def _importance(scorer: Scorer, holdout: pd.DataFrame) -> list[dict[str, Any]]:
    y_by_index = pd.Series(scorer.y, index=holdout.index)

    def score(frame: pd.DataFrame) -> float:
        return scorer.primary(frame, y_by_index.loc[frame.index].to_numpy())

    return metrics.permutation_importance(score, holdout, scorer.features)


def build(
    estimator: Any,
    *,
    holdout: pd.DataFrame,
    target: str,
    reference: pd.DataFrame | None,
    sensitive: str | None,
    champion: Any | None,
    progress: Progress,
) -> dict[str, Any]:
    timings: dict[str, float] = {}

    def timed(name: str, percent: int, step: str, work: Callable[[], Any]) -> Any:
        progress(percent, step)
        started = time.perf_counter()
        result = work()
        timings[name] = round(time.perf_counter() - started, 3)
        return result

    if target not in holdout.columns:
        raise ValidationProblem(f"The holdout has no target column “{target}”.", "data")
    if sensitive and sensitive not in holdout.columns:
        raise ValidationProblem(f"The holdout has no sensitive column “{sensitive}”.", "data")
    task = task_of(estimator)
    sig = signature(estimator, holdout, target, sensitive)
    features = [f["name"] for f in sig["features"]]
    scorer = Scorer(estimator, task, features, holdout[target])

    predicted = timed("scoring", 35, "Scoring the holdout", lambda: scorer.predict(holdout))
    report: dict[str, Any] = {
        "task": task,
        "primary_metric": PRIMARY_METRIC[task],
        "rows": len(holdout),
        "signature": sig,
        "metrics": timed("metrics", 45, "Computing metrics", lambda: scorer.metrics(predicted)),
    }
    if task != "regression":
        report["classes"] = [str(c) for c in scorer.classes]
        if task == "binary":
            report["positive_class"] = str(scorer.classes[1])

    report["stability"] = None
    if reference is not None:
        report["stability"] = timed(
            "stability",
            55,
            "Comparing the holdout with the reference sample",
            lambda: metrics.stability(reference, holdout, features),
        )

    report["baseline"] = timed(
        "baseline",
        58,
        "Fixing the baseline monitoring compares traffic with",
        lambda: _baseline(task, features, holdout, reference, predicted, scorer),
    )

    report["fairness"] = None
    report["sensitive_column"] = sensitive
    if sensitive and task == "binary":
        report["fairness"] = timed(
            "fairness",
            62,
            f"Measuring fairness across “{sensitive}”",
            lambda: metrics.fairness(
                scorer.y,
                predicted["pred"],
                holdout[sensitive].to_numpy(dtype=object),
                score=predicted["proba"][:, 1],
            ),
        )

    report["importance"] = timed(
        "importance", 70, "Permutation feature importance", lambda: _importance(scorer, holdout)
    )

    def predict(frame: pd.DataFrame) -> Any:
        method = estimator.predict if task == "regression" else estimator.predict_proba
        return method(frame[features])

    report["latency"] = timed(
        "latency", 82, "Measuring scoring latency", lambda: metrics.latency(predict, holdout)
    )

    report["champion"] = None
    if champion is not None:
        report["champion"] = timed(
            "champion",
            88,
            "Scoring the champion on the same holdout",
            lambda: _champion(champion, task, features, holdout, target, report["metrics"]),
        )
    report["timings"] = timings
    report["environment"] = _environment()
    # Which library computed each metric, with its version: model-risk reviewers ask.
    report["implementations"] = metrics.implementations(task)
    return report


_COMPARED = [
    "accuracy",
    "precision",
    "recall",
    "f1",
    "roc_auc",
    "pr_auc",
    "log_loss",
    "brier",
    "ks",
    "gini",
    "precision_macro",
    "recall_macro",
    "f1_macro",
    "roc_auc_ovr",
    "rmse",
    "mae",
    "r2",
]


def _champion(
    champion: Any,
    task: str,
    features: list[str],
    holdout: pd.DataFrame,
    target: str,
    challenger: dict[str, Any],
) -> dict[str, Any]:
    try:
        champion_task = task_of(champion)
    except ValidationProblem as problem:
        return {
            "comparable": False,
            "reason": f"The champion cannot be compared: {problem.message}",
        }
    if champion_task != task:
        return {
            "comparable": False,
            "reason": f"The champion is a {champion_task} model; this version is {task}.",
        }
    missing = [c for c in getattr(champion, "feature_names_in_", features) if c not in holdout]
    if missing:
        return {
            "comparable": False,
            "reason": "This holdout lacks columns the champion needs: " + ", ".join(missing),
        }
    champion_features = [str(c) for c in getattr(champion, "feature_names_in_", features)]
    scorer = Scorer(champion, task, champion_features, holdout[target])
    values = scorer.metrics(scorer.predict(holdout))
    keys = [
        k
        for k in _COMPARED
        if isinstance(challenger.get(k), int | float) and isinstance(values.get(k), int | float)
    ]
    return {
        "comparable": True,
        "metrics": {k: values[k] for k in keys},
        "differences": {k: challenger[k] - values[k] for k in keys},
    }


def _environment() -> dict[str, str]:
    import sklearn
    import skops

    return {
        "python": platform.python_version(),
        "scikit_learn": sklearn.__version__,
        "skops": skops.__version__,
        "numpy": np.__version__,
        "pandas": pd.__version__,
    }


def predictions_for_check(estimator: Any, frame: pd.DataFrame) -> np.ndarray:
    """What the canonical copy must reproduce: probabilities for classifiers, else predictions."""
    if hasattr(estimator, "predict_proba"):
        return np.asarray(estimator.predict_proba(frame), dtype=float)
    return np.asarray(estimator.predict(frame), dtype=float)
