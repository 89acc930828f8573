"""What a scikit-learn model answers a serving request, written once: serving's ``Scorer``
(apps/deployments/serving.py) answers with these functions, and validation uses them in the
sandbox to decide whether serving may hand the model its rows as one float array instead of a
DataFrame (``array_check``), so that a serving process need not import pandas to find out.

Only numpy is imported at the top: serving imports this module, and a serving process whose
models all take arrays never imports pandas (``as_frame`` imports it when a model needs it).
"""

from __future__ import annotations

import json
import time
import warnings
from typing import TYPE_CHECKING, Any

import numpy as np

if TYPE_CHECKING:
    import pandas as pd

# The most values (rows times features) the array check builds as a request would carry them: all
# the holdout's rows up to that, else an evenly spaced sample of them. A million Python numbers
# in two copies stays far inside the sandbox's memory limit.
ARRAY_CHECK_VALUES = 1_000_000
# Said when the model was given the rows as an array: its DataFrame had names the array lacks.
FEATURE_NAMES_WARNING = "X does not have valid feature names"


def steps_of(estimator: Any) -> tuple[list[Any], Any]:
    """(the transforms a request's rows go through, the final estimator that answers).

    A pipeline's steps are called directly, as ``Pipeline.transform`` does without metadata
    routing (whose bookkeeping cost a tenth of a one-row request), so that ``predict`` and
    ``predict_proba`` share one pass through the transforms."""
    from sklearn.pipeline import Pipeline

    if isinstance(estimator, Pipeline):
        *steps, final = [step for _, step in estimator.steps]
        return [s for s in steps if s not in (None, "passthrough")], final
    return [], estimator


def gives_probabilities(final: Any, task: str | None) -> bool:
    return task != "regression" and hasattr(final, "predict_proba")


def answer(transforms: list[Any], final: Any, probabilities: bool, rows: Any) -> dict[str, Any]:
    """The answer serving sends for ``rows`` (an array or a DataFrame): the model's own
    ``predict`` (not the argmax of its probabilities: the two differ for thresholded or
    calibrated classifiers) and, for a classifier, its classes and ``predict_proba`` rounded to
    six places."""
    prepared = rows
    for step in transforms:
        prepared = step.transform(prepared)
    answered = {"predictions": np.asarray(final.predict(prepared)).tolist()}
    if probabilities:
        proba = np.asarray(final.predict_proba(prepared), dtype=float)
        answered["classes"] = final.classes_.tolist()
        answered["probabilities"] = proba.round(6).tolist()
    return answered


def as_array(columns: dict[str, list[Any]]) -> np.ndarray:
    """Checked numeric columns as one float array, one row per row (a missing value is NaN)."""
    return np.array(list(columns.values()), dtype=float).T


def as_frame(columns: dict[str, list[Any]]) -> pd.DataFrame:
    """Checked columns as the DataFrame the model takes (missing values become NaN or None)."""
    import pandas as pd

    return pd.DataFrame(columns, columns=list(columns))


def request_columns(holdout: pd.DataFrame, features: list[str]) -> dict[str, list[Any]]:
    """Holdout rows as a client's JSON carries them to serving: Python numbers, null (None)
    where a value is missing, in the model's column order."""
    columns = {}
    for name in features:
        series = holdout[name]
        missing = series.isna().to_numpy()
        columns[name] = [
            None if gone else value
            for value, gone in zip(series.tolist(), missing.tolist(), strict=True)
        ]
    return columns


def _sample(holdout: pd.DataFrame, features: int) -> pd.DataFrame:
    most = max(1, ARRAY_CHECK_VALUES // max(features, 1))
    if len(holdout) <= most:
        return holdout
    return holdout.iloc[np.unique(np.linspace(0, len(holdout) - 1, most).astype(int))]


def _differing_rows(a: dict[str, Any], b: dict[str, Any]) -> int:
    rows = len(a["predictions"])
    if len(b.get("predictions", [])) != rows:
        return rows
    keys = [k for k in ("predictions", "probabilities") if k in a or k in b]
    return sum(
        1
        for i in range(rows)
        if any(
            json.dumps(a.get(k, [None] * rows)[i]) != json.dumps(b.get(k, [None] * rows)[i])
            for k in keys
        )
    )


def _failure(exc: Exception) -> str:
    message = str(exc).strip().splitlines()[0] if str(exc).strip() else ""
    return f"{type(exc).__name__}: {message[:200]}" if message else type(exc).__name__


def array_check(
    estimator: Any, *, task: str, signature: dict[str, Any], holdout: pd.DataFrame
) -> dict[str, Any]:
    """Whether serving may give the model its rows as one float array: the record for the
    report's ``serving_path["arrays"]``.

    Tried on the holdout's rows as a request carries them (all of them, or an evenly spaced
    sample of ``ARRAY_CHECK_VALUES`` values), each answered as serving answers it
    (``answer``) from the array and from the DataFrame; the two must be identical once written
    as JSON. ``takes_arrays`` is None when the check could not tell (the DataFrame itself could
    not be answered), which leaves serving to try the model when it loads it."""
    started = time.perf_counter()
    record: dict[str, Any] = {"takes_arrays": False}
    features = signature.get("features") or []
    named = [f["name"] for f in features if f["kind"] != "numeric"]
    if not features or named:
        record["reason"] = "a feature is not numeric" + (
            f" ({', '.join(named[:5])})" if named else ""
        )
        return record
    names = [f["name"] for f in features]
    rows = _sample(holdout, len(names))
    columns = request_columns(rows, names)
    transforms, final = steps_of(estimator)
    probabilities = gives_probabilities(final, task)
    try:
        from_frame = answer(transforms, final, probabilities, as_frame(columns))
    except MemoryError:
        raise
    except Exception as exc:
        problem = _failure(exc)
        return {
            "takes_arrays": None,
            "reason": f"the model could not answer the holdout as serving sends it ({problem})",
        }
    record["rows_checked"] = len(rows)
    try:
        with warnings.catch_warnings():
            warnings.filterwarnings("ignore", message=FEATURE_NAMES_WARNING, category=UserWarning)
            from_array = answer(transforms, final, probabilities, as_array(columns))
    except MemoryError:
        raise
    except Exception as exc:  # it wants its DataFrame (columns chosen by name, say)
        record["reason"] = f"given the rows without their column names it fails ({_failure(exc)})"
        record["seconds"] = round(time.perf_counter() - started, 3)
        return record
    checked = (
        f"all {len(rows):,} holdout rows"
        if len(rows) == len(holdout)
        else f"{len(rows):,} holdout rows (an evenly spaced sample of {len(holdout):,})"
    )
    if json.dumps(from_array) == json.dumps(from_frame):
        record["takes_arrays"] = True
        record["reason"] = f"answers identical to its DataFrame on {checked}"
    elif differing := _differing_rows(from_array, from_frame):
        record["reason"] = (
            "given the rows without their column names it answers differently on "
            f"{differing:,} of {checked}"
        )
    else:
        record["reason"] = (
            "given the rows without their column names it names its classes differently"
        )
    record["seconds"] = round(time.perf_counter() - started, 3)
    return record
