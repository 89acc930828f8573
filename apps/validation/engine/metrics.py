"""Metrics for validation reports.

Wherever scikit-learn or SciPy has a metric, the number is theirs: each function below calls the
library function its docstring names (``IMPLEMENTATIONS`` lists them for the report), so a
model-risk reviewer can tell which implementation produced a figure. The portal's own code is
kept only where no library has the metric (PSI, lift and gain, the monitoring baseline's bins,
the fairness rates and gaps) and for the report's shape around the library calls: the guards for
undefined cases, the thinning of curves, the conversion to JSON.

This module runs inside the locked-down validation sandbox as well as in ordinary code
(monitoring reads PSI and the baseline bins from it), so it imports nothing but numpy, scipy and
pandas at the top (no Django, no other project module). scikit-learn is imported inside the
functions that use it: the sandbox has it loaded already, and the web and monitoring processes,
which only need PSI and bins, do not pay for importing it.

Every public function takes numpy arrays or pandas objects and returns plain JSON-serialisable
Python values: dicts, lists, ``float``, ``int``, ``bool``, ``str`` and ``None``. A value that is
undefined for the given data (for example ROC AUC when only one class is present) is ``None``,
never NaN or inf, and the library is not called for it (it would raise or warn).

The exact definitions, as a reader of a report sees them, are in ``docs/metrics.md``.
"""

from __future__ import annotations

import math
import statistics
import time
import warnings
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

import numpy as np

if TYPE_CHECKING:
    # Imported by the functions that use it: monitoring imports this module at start-up, and
    # neither a web nor a serving process should pay ~0.5 s for pandas before it needs it.
    import pandas as pd

__all__ = [
    "IMPLEMENTATIONS",
    "baseline",
    "bin_count",
    "bin_counts",
    "bin_index",
    "binary_classification",
    "categorical_baseline",
    "fairness",
    "implementations",
    "ks_test",
    "latency",
    "multiclass_classification",
    "numeric_baseline",
    "permutation_importance",
    "psi",
    "psi_categorical",
    "psi_of_counts",
    "regression",
    "roc_auc",
    "stability",
]

PSI_FLOOR = 1e-4
CALIBRATION_BINS = 10
LIFT_FRACTIONS = 10
RESIDUAL_BINS = 30

# --------------------------------------------------------------------------------------------
# Which implementation computes what. The report carries this mapping with the library versions
# (``implementations``), so a stored report says what produced its numbers even after an
# upgrade. Keys are the report's own: a metric's key in ``metrics``, or "section.field".

SKLEARN = "scikit-learn"
SCIPY = "scipy"
PORTAL = "portal (see docs/metrics.md)"

IMPLEMENTATIONS: dict[str, dict[str, str]] = {
    "binary": {
        "accuracy": SKLEARN,  # accuracy_score
        "precision": SKLEARN,  # precision_recall_fscore_support(average="binary")
        "recall": SKLEARN,
        "f1": SKLEARN,
        "confusion_matrix": SKLEARN,  # confusion_matrix
        "roc_auc": SKLEARN,  # roc_auc_score
        "gini": SKLEARN,  # 2 * roc_auc_score - 1
        "roc_curve": SKLEARN,  # roc_curve, thinned for display by the portal
        "pr_auc": SKLEARN,  # average_precision_score
        "pr_curve": SKLEARN,  # precision_recall_curve, thinned for display by the portal
        "log_loss": SKLEARN,  # log_loss
        "brier": SKLEARN,  # brier_score_loss
        "calibration": SKLEARN,  # sklearn.calibration.calibration_curve
        "ks": SCIPY,  # scipy.stats.ks_2samp(alternative="greater")
        "base_rate": PORTAL,
        "lift": PORTAL,  # gain and lift
    },
    "multiclass": {
        "accuracy": SKLEARN,
        "precision_macro": SKLEARN,  # precision_recall_fscore_support(average="macro")
        "recall_macro": SKLEARN,
        "f1_macro": SKLEARN,
        "roc_auc_ovr": SKLEARN,  # roc_auc_score per class against the rest
        "log_loss": SKLEARN,
        "confusion_matrix": SKLEARN,
    },
    "regression": {
        "rmse": SKLEARN,  # root_mean_squared_error
        "mae": SKLEARN,  # mean_absolute_error
        "r2": SKLEARN,  # r2_score
        "residuals": PORTAL,  # numpy.histogram and a seeded sample
    },
    # Sections every report may have.
    "common": {
        "stability.psi": PORTAL,
        "stability.ks_statistic": SCIPY,  # scipy.stats.ks_2samp(method="asymp")
        "stability.ks_p_value": SCIPY,
        "baseline": PORTAL,
        "importance": SKLEARN,  # sklearn.inspection.permutation_importance
        "latency": PORTAL,
    },
    "fairness": {
        "fairness.roc_auc": SKLEARN,  # roc_auc_score within each group
        "fairness.selection_rate": PORTAL,
        "fairness.true_positive_rate": PORTAL,
        "fairness.false_positive_rate": PORTAL,
        "fairness.accuracy": PORTAL,
        "fairness.demographic_parity_difference": PORTAL,
        "fairness.equal_opportunity_difference": PORTAL,
    },
}


def implementations(task: str) -> dict[str, Any]:
    """{versions, metrics}: the versions of the libraries that computed the report (keys as in
    the report's ``environment``), and for each metric of a ``task`` report which of
    scikit-learn, scipy or the portal computed it."""
    import pandas as pd
    import scipy
    import sklearn

    by_metric = {**IMPLEMENTATIONS[task], **IMPLEMENTATIONS["common"]}
    if task == "binary":
        by_metric.update(IMPLEMENTATIONS["fairness"])
    return {
        "versions": {
            "scikit_learn": sklearn.__version__,
            "scipy": scipy.__version__,
            "numpy": np.__version__,
            "pandas": pd.__version__,
        },
        "metrics": by_metric,
    }


# --------------------------------------------------------------------------------------------
# Conversion helpers: everything leaving this module goes through one of these.


def _num(value: Any) -> float | None:
    number = float(value)
    return number if math.isfinite(number) else None


def _floats(values: np.ndarray) -> list[float | None]:
    return [v if math.isfinite(v) else None for v in np.asarray(values, dtype=np.float64).tolist()]


def _ints(values: np.ndarray) -> list[int]:
    return [int(v) for v in np.asarray(values).tolist()]


def _ratio(numerator: float, denominator: float) -> float | None:
    return _num(numerator / denominator) if denominator else None


def _labels01(values: np.ndarray, name: str) -> np.ndarray:
    array = np.asarray(values)
    if array.ndim != 1:
        raise ValueError(f"{name} must be one-dimensional")
    if array.dtype == bool:
        return array.astype(np.int64)
    if array.size and not np.all((array == 0) | (array == 1)):
        raise ValueError(f"{name} must contain only 0 and 1")
    return array.astype(np.int64)


def _class_indices(values: np.ndarray, k: int, name: str) -> np.ndarray:
    array = np.asarray(values)
    if array.ndim != 1:
        raise ValueError(f"{name} must be one-dimensional")
    if array.size and (not np.all(array == np.round(array)) or array.min() < 0 or array.max() >= k):
        raise ValueError(f"{name} must contain class indices 0..{k - 1}")
    return array.astype(np.int64)


def _finite_floats(values: np.ndarray, name: str) -> np.ndarray:
    array = np.asarray(values, dtype=np.float64)
    if array.ndim != 1:
        raise ValueError(f"{name} must be one-dimensional")
    if not np.all(np.isfinite(array)):
        raise ValueError(f"{name} contains NaN or infinite values")
    return array


def _same_length(*arrays: np.ndarray) -> int:
    lengths = {len(a) for a in arrays}
    if len(lengths) != 1:
        raise ValueError(f"inputs have different lengths: {sorted(lengths)}")
    return lengths.pop()


def _is_probability(values: np.ndarray) -> bool:
    return bool(values.size == 0 or (values.min() >= 0.0 and values.max() <= 1.0))


# --------------------------------------------------------------------------------------------
# Binary classification


def _thin(x: np.ndarray, y: np.ndarray, points: int) -> tuple[np.ndarray, np.ndarray]:
    """At most `points` points of a curve, spread evenly along its length, ends kept exactly.

    Spacing by path length (rather than by threshold) keeps the error of the thinned curve's area
    below about 2 / points even when most thresholds crowd into one corner.
    """
    if x.size <= points:
        return x, y
    path = np.concatenate(([0.0], np.cumsum(np.abs(np.diff(x)) + np.abs(np.diff(y)))))
    idx = np.searchsorted(path, np.linspace(0.0, path[-1], points), side="left")
    idx[0], idx[-1] = 0, x.size - 1
    idx = np.unique(idx)
    return x[idx], y[idx]


def _calibration(y: np.ndarray, score: np.ndarray) -> dict[str, list[Any]]:
    from sklearn.calibration import calibration_curve

    fraction_positive, mean_predicted = calibration_curve(
        y, score, n_bins=CALIBRATION_BINS, strategy="uniform", pos_label=1
    )
    # calibration_curve does not return how many rows each point stands for: count them in its
    # own bins (bin i is (edge_i, edge_i+1], the first also holds 0; empty bins left out).
    edges = np.linspace(0.0, 1.0, CALIBRATION_BINS + 1)
    total = np.bincount(np.searchsorted(edges[1:-1], score), minlength=CALIBRATION_BINS)
    count = total[total > 0]
    if count.size != fraction_positive.size:
        raise RuntimeError("calibration_curve binned differently from the documented bins")
    return {
        "mean_predicted": _floats(mean_predicted),
        "fraction_positive": _floats(fraction_positive),
        "count": _ints(count),
    }


def _lift(y: np.ndarray, score: np.ndarray) -> dict[str, list[Any]]:
    """Cumulative gain and lift per tenth of the rows: the portal's own, as no library has them
    (definitions in docs/metrics.md). Needs at least one positive."""
    # Stable descending sort: rows with equal scores keep their order in the holdout.
    cum_pos = np.cumsum(y[np.argsort(-score, kind="stable")])
    n, positives = y.size, int(cum_pos[-1])
    tenths = np.arange(1, LIFT_FRACTIONS + 1)
    # Top fraction f holds ceil(f * n) rows, so every fraction has at least one row.
    rows = (tenths * n + LIFT_FRACTIONS - 1) // LIFT_FRACTIONS
    captured = cum_pos[rows - 1].astype(np.float64)
    return {
        "fraction": [round(t / LIFT_FRACTIONS, 10) for t in tenths.tolist()],
        "gain": _floats(captured / positives),
        "lift": _floats((captured / rows) / (positives / n)),
    }


def roc_auc(y_true: np.ndarray, score: np.ndarray) -> float | None:
    """``sklearn.metrics.roc_auc_score`` of 0/1 labels and finite scores; None unless both
    classes occur (scikit-learn raises there). The area alone, without the other binary metrics:
    what a score that is computed many times (permutation importance, fairness per group) needs.
    """
    y = _labels01(y_true, "y_true")
    p = _finite_floats(score, "score")
    _same_length(y, p)
    if not 0 < int(y.sum()) < y.size:
        return None
    from sklearn.metrics import roc_auc_score

    return _num(roc_auc_score(y, p))


def _empty_curves() -> dict[str, Any]:
    return {
        "roc_curve": {"fpr": [], "tpr": []},
        "pr_curve": {"recall": [], "precision": []},
        "calibration": {"mean_predicted": [], "fraction_positive": [], "count": []},
        "lift": {"fraction": [], "gain": [], "lift": []},
    }


def binary_classification(
    y_true: np.ndarray, score: np.ndarray, y_pred: np.ndarray, *, curve_points: int = 200
) -> dict:
    """Metrics of a binary classifier (1 = positive class).

    ``y_true`` and ``y_pred`` hold 0/1, ``score`` the predicted probability of class 1 (finite).
    With n rows, P positives, N negatives; functions are ``sklearn.metrics``'s unless named:

    - ``n``; ``base_rate`` = P / n; ``accuracy``: ``accuracy_score``.
    - ``precision``, ``recall``, ``f1``: ``precision_recall_fscore_support(average="binary",
      pos_label=1, zero_division=0)``, so each is 0 when its denominator is 0.
    - ``confusion_matrix``: ``confusion_matrix(labels=[0, 1])`` = [[tn, fp], [fn, tp]].
    - ``roc_auc``: ``roc_auc_score``; ``gini`` = 2 * roc_auc - 1.
    - ``pr_auc``: ``average_precision_score``.
    - ``ks``: ``scipy.stats.ks_2samp(scores of negatives, scores of positives,
      alternative="greater")``'s statistic = max over thresholds of TPR - FPR (never below 0).
    - ``log_loss``: ``log_loss(labels=[0, 1])`` (probabilities clipped to [eps, 1 - eps], eps the
      float64 machine epsilon); ``brier``: ``brier_score_loss(pos_label=1)``.
    - ``roc_curve`` {fpr, tpr}: ``roc_curve(drop_intermediate=False)``, from (0, 0) to (1, 1);
      ``pr_curve`` {recall, precision}: ``precision_recall_curve`` in order of decreasing
      threshold, from the conventional point (0, 1) to the lowest score (recall 1, precision =
      base rate); both thinned to at most ``curve_points`` points along their length, ends kept.
    - ``calibration`` {mean_predicted, fraction_positive, count}:
      ``sklearn.calibration.calibration_curve(n_bins=10, strategy="uniform")``, with the number
      of rows in each of its non-empty bins (right-closed, the first also holding 0).
    - ``lift`` (the portal's own): rows ordered by score descending, ties in input order; for f
      in 0.1, ..., 1.0 the top ceil(f * n) rows; ``gain`` = positives among them / P, ``lift`` =
      their positive rate / base rate.

    roc_auc, gini, ks, roc_curve need both classes; pr_auc, pr_curve, gain and lift need at least
    one positive; otherwise they are None or empty lists. log_loss, brier and calibration are None
    or empty when some score lies outside [0, 1]. With no rows every metric is None.
    """
    if curve_points < 2:
        raise ValueError("curve_points must be at least 2")
    y = _labels01(y_true, "y_true")
    pred = _labels01(y_pred, "y_pred")
    p = _finite_floats(score, "score")
    n = _same_length(y, pred, p)

    result: dict[str, Any] = {
        "n": n,
        "base_rate": None,
        "accuracy": None,
        "precision": None,
        "recall": None,
        "f1": None,
        "roc_auc": None,
        "pr_auc": None,
        "log_loss": None,
        "brier": None,
        "ks": None,
        "gini": None,
        "confusion_matrix": [[0, 0], [0, 0]],
        **_empty_curves(),
    }
    if n == 0:
        return result

    from sklearn import metrics as skm

    matrix = skm.confusion_matrix(y, pred, labels=[0, 1])
    precision, recall, f1, _ = skm.precision_recall_fscore_support(
        y, pred, average="binary", pos_label=1, zero_division=0
    )
    positives = int(matrix[1].sum())
    result["confusion_matrix"] = [_ints(row) for row in matrix]
    result["base_rate"] = positives / n
    result["accuracy"] = _num(skm.accuracy_score(y, pred))
    result["precision"] = _num(precision)
    result["recall"] = _num(recall)
    result["f1"] = _num(f1)

    if _is_probability(p):
        result["log_loss"] = _num(skm.log_loss(y, p, labels=[0, 1]))
        result["brier"] = _num(skm.brier_score_loss(y, p, pos_label=1, labels=[0, 1]))
        result["calibration"] = _calibration(y, p)

    if 0 < positives < n:
        auc = skm.roc_auc_score(y, p)
        result["roc_auc"] = _num(auc)
        result["gini"] = _num(2 * auc - 1)
        # TPR - FPR at threshold t is F_negatives(t) - F_positives(t): the one-sided statistic.
        from scipy import stats  # here, not at import: scipy.stats costs web processes ~1 s

        ks = stats.ks_2samp(p[y == 0], p[y == 1], alternative="greater", method="asymp")
        result["ks"] = _num(ks.statistic)
        fpr, tpr, _ = skm.roc_curve(y, p, drop_intermediate=False)
        fpr, tpr = _thin(fpr, tpr, curve_points)
        result["roc_curve"] = {"fpr": _floats(fpr), "tpr": _floats(tpr)}
    if positives:
        result["pr_auc"] = _num(skm.average_precision_score(y, p))
        # scikit-learn lists the curve by increasing threshold, ending at (recall 0, precision 1).
        precisions, recalls, _ = skm.precision_recall_curve(y, p)
        recall_curve, precision_curve = _thin(recalls[::-1], precisions[::-1], curve_points)
        result["pr_curve"] = {
            "recall": _floats(recall_curve),
            "precision": _floats(precision_curve),
        }
        result["lift"] = _lift(y, p)
    return result


# --------------------------------------------------------------------------------------------
# Multiclass and regression


def multiclass_classification(y_true: np.ndarray, proba: np.ndarray, y_pred: np.ndarray) -> dict:
    """Metrics of a k-class classifier; classes are the indices 0..k-1 of ``proba``'s columns.
    Functions are ``sklearn.metrics``'s.

    - ``n``; ``accuracy``: ``accuracy_score``.
    - ``precision_macro``, ``recall_macro``, ``f1_macro``: ``precision_recall_fscore_support(
      average="macro", zero_division=0)``: the unweighted mean over the classes that occur in
      y_true or y_pred of the per-class figures, each 0 when its denominator is 0.
    - ``roc_auc_ovr``: the unweighted mean over all k classes of ``roc_auc_score(y_true == j,
      proba[:, j])``, which is ``roc_auc_score(multi_class="ovr", average="macro")`` without its
      demand that every row of proba sum to 1; None unless every class occurs in y_true and
      k >= 2 (where scikit-learn refuses to compute it).
    - ``log_loss``: ``log_loss(labels=range(k))``, proba clipped, not renormalised; None if
      proba has values outside [0, 1] or k < 2 (scikit-learn needs two labels).
    - ``confusion_matrix``: ``confusion_matrix(labels=range(k))``, rows = true class, columns =
      predicted class.
    """
    scores = np.asarray(proba, dtype=np.float64)
    if scores.ndim != 2:
        raise ValueError("proba must be two-dimensional (n, k)")
    if not np.all(np.isfinite(scores)):
        raise ValueError("proba contains NaN or infinite values")
    k = scores.shape[1]
    y = _class_indices(y_true, k, "y_true")
    pred = _class_indices(y_pred, k, "y_pred")
    n = _same_length(y, pred, scores)

    result: dict[str, Any] = {
        "n": n,
        "accuracy": None,
        "precision_macro": None,
        "recall_macro": None,
        "f1_macro": None,
        "roc_auc_ovr": None,
        "log_loss": None,
        "confusion_matrix": [[0] * k for _ in range(k)],
    }
    if n == 0:
        return result

    from sklearn import metrics as skm

    labels = np.arange(k)
    result["confusion_matrix"] = [
        _ints(row) for row in skm.confusion_matrix(y, pred, labels=labels)
    ]
    result["accuracy"] = _num(skm.accuracy_score(y, pred))
    precision, recall, f1, _ = skm.precision_recall_fscore_support(
        y, pred, average="macro", zero_division=0
    )
    result["precision_macro"] = _num(precision)
    result["recall_macro"] = _num(recall)
    result["f1_macro"] = _num(f1)

    if k >= 2 and np.all(np.bincount(y, minlength=k) > 0):
        aucs = [skm.roc_auc_score(y == j, scores[:, j]) for j in range(k)]
        result["roc_auc_ovr"] = _num(np.mean(aucs))
    if k >= 2 and _is_probability(scores.ravel()):
        with warnings.catch_warnings():
            # Rows that do not sum to 1 are scored as they are (documented); no need to say so.
            warnings.filterwarnings("ignore", message=".*do not sum to one", category=UserWarning)
            result["log_loss"] = _num(skm.log_loss(y, scores, labels=labels))
    return result


def regression(y_true: np.ndarray, y_pred: np.ndarray, *, sample: int = 500, seed: int = 0) -> dict:
    """Metrics of a regression model. Residual r = y_true - y_pred.

    - ``n``; ``rmse``: ``sklearn.metrics.root_mean_squared_error``; ``mae``:
      ``mean_absolute_error``; ``r2``: ``r2_score``, None when y_true is constant or has fewer
      than two values (scikit-learn would report 1.0 or 0.0 there, or NaN).
    - ``residuals.histogram`` (the portal's): 30 equal-width bins spanning min(r)..max(r)
      (``numpy.histogram``, last bin closed), 31 ``edges`` and 30 ``counts``; when all residuals
      are equal (up to rounding) the bins span median(r) - 0.5 .. median(r) + 0.5.
    - ``residuals.sample``: at most ``sample`` rows drawn without replacement with
      ``numpy.random.default_rng(seed)``, kept in input order: ``predicted`` and ``residual``.

    Inputs must be finite. With no rows the metrics are None and the lists empty.
    """
    truth = _finite_floats(y_true, "y_true")
    predicted = _finite_floats(y_pred, "y_pred")
    n = _same_length(truth, predicted)
    result: dict[str, Any] = {
        "n": n,
        "rmse": None,
        "mae": None,
        "r2": None,
        "residuals": {
            "histogram": {"edges": [], "counts": []},
            "sample": {"predicted": [], "residual": []},
        },
    }
    if n == 0:
        return result

    from sklearn import metrics as skm

    result["rmse"] = _num(skm.root_mean_squared_error(truth, predicted))
    result["mae"] = _num(skm.mean_absolute_error(truth, predicted))
    if n >= 2 and np.any(truth != truth[0]):
        result["r2"] = _num(skm.r2_score(truth, predicted))

    residual = truth - predicted
    try:
        counts, edges = np.histogram(residual, bins=RESIDUAL_BINS)
    except ValueError:
        # Residuals equal up to rounding leave no room for 30 finite bins: centre a unit range on
        # them, as numpy does for exactly constant data.
        middle = float(np.median(residual))
        counts, edges = np.histogram(
            residual, bins=RESIDUAL_BINS, range=(middle - 0.5, middle + 0.5)
        )
    rows = np.arange(n)
    if n > sample:
        rows = np.sort(np.random.default_rng(seed).choice(n, size=max(sample, 0), replace=False))
    result["residuals"] = {
        "histogram": {"edges": _floats(edges), "counts": _ints(counts)},
        "sample": {"predicted": _floats(predicted[rows]), "residual": _floats(residual[rows])},
    }
    return result


# --------------------------------------------------------------------------------------------
# Stability: PSI (the portal's own) and Kolmogorov-Smirnov (scipy). `stability` takes each
# column's non-missing values once and hands them to both.


def _as_float(values: np.ndarray | pd.Series) -> np.ndarray:
    import pandas as pd

    if isinstance(values, pd.Series):
        return values.to_numpy(dtype=np.float64, na_value=np.nan)
    array = np.asarray(values)
    if array.dtype == object:
        return pd.Series(array).to_numpy(dtype=np.float64, na_value=np.nan)
    return array.astype(np.float64).ravel()


def _sorted_present(values: np.ndarray) -> tuple[np.ndarray, int]:
    """Sorted non-NaN values and the number of NaNs."""
    missing = np.isnan(values)
    count = int(missing.sum())
    return np.sort(values[~missing] if count else values), count


def _quantiles_of_sorted(ordered: np.ndarray, probs: np.ndarray) -> np.ndarray:
    """``numpy.quantile(..., method="linear")`` of an already sorted array, without re-sorting.

    The arithmetic follows numpy's own (virtual index (n - 1) q, and its two-sided lerp), so the
    edges are bit-for-bit those of ``numpy.quantile``.
    """
    virtual = (ordered.size - 1) * probs
    below = np.floor(virtual).astype(np.intp)
    above = np.minimum(below + 1, ordered.size - 1)
    gamma = virtual - below
    a, b = ordered[below], ordered[above]
    with np.errstate(invalid="ignore"):  # inf - inf between infinite values gives NaN: dropped
        diff = b - a
        out = a + diff * gamma
        np.subtract(b, diff * (1 - gamma), out=out, where=gamma >= 0.5)
    return out


def _psi_of_counts(expected: np.ndarray, actual: np.ndarray) -> float:
    e = np.maximum(expected / expected.sum(), PSI_FLOOR)
    a = np.maximum(actual / actual.sum(), PSI_FLOOR)
    return float(np.sum((a - e) * np.log(a / e)))


def _psi_sorted(
    expected: np.ndarray, expected_nan: int, actual: np.ndarray, actual_nan: int, bins: int
) -> float | None:
    if expected.size + expected_nan == 0 or actual.size + actual_nan == 0:
        return None
    if expected.size:
        edges = _quantiles_of_sorted(expected, np.linspace(0.0, 1.0, bins + 1)[1:-1])
        edges = np.unique(edges[~np.isnan(edges)])
    else:
        edges = np.empty(0)
    # Bins are right-closed, (edge_i-1, edge_i], between -inf and +inf; then one bin for NaN.
    e = np.diff(np.concatenate(([0], np.searchsorted(expected, edges, "right"), [expected.size])))
    a = np.diff(np.concatenate(([0], np.searchsorted(actual, edges, "right"), [actual.size])))
    return _num(_psi_of_counts(np.append(e, expected_nan), np.append(a, actual_nan)))


def psi(expected: np.ndarray, actual: np.ndarray, *, bins: int = 10) -> float | None:
    """Population stability index of a numeric variable, ``actual`` against ``expected``.

    Bin edges are the quantiles at 1/bins, ..., (bins-1)/bins of the non-missing ``expected``
    values (``numpy.quantile``, linear interpolation), duplicates dropped, with outer edges -inf
    and +inf; bins are right-closed, (lower, upper]. Missing values (NaN) form one more bin.
    With e_i and a_i the shares of all rows of each sample in bin i, each floored at 1e-4:
    PSI = sum_i (a_i - e_i) * ln(a_i / e_i). Bins empty in both samples contribute 0.
    None if either sample has no rows.
    """
    if bins < 1:
        raise ValueError("bins must be at least 1")
    exp_sorted, exp_nan = _sorted_present(_as_float(expected))
    act_sorted, act_nan = _sorted_present(_as_float(actual))
    return _psi_sorted(exp_sorted, exp_nan, act_sorted, act_nan, bins)


def psi_categorical(
    expected: np.ndarray | pd.Series, actual: np.ndarray | pd.Series
) -> float | None:
    """Population stability index of a categorical variable, ``actual`` against ``expected``.

    One bin per distinct value seen in either sample; all missing values (None, NaN, NA) form one
    bin. Shares floored at 1e-4 and summed as in ``psi``. None if either sample has no rows.
    """
    import pandas as pd

    left = pd.Series(expected).reset_index(drop=True)
    right = pd.Series(actual).reset_index(drop=True)
    if left.size == 0 or right.size == 0:
        return None
    joined = pd.concat([left, right], ignore_index=True)
    codes, uniques = pd.factorize(joined, use_na_sentinel=False)
    e = np.bincount(codes[: left.size], minlength=len(uniques))
    a = np.bincount(codes[left.size :], minlength=len(uniques))
    return _num(_psi_of_counts(e, a))


def _ks_present(a: np.ndarray, b: np.ndarray) -> dict[str, float | None]:
    """``ks_test`` of two arrays without NaN."""
    if a.size == 0 or b.size == 0:
        return {"statistic": None, "p_value": None}
    from scipy import stats  # here, not at import (see binary_classification)

    found = stats.ks_2samp(a, b, alternative="two-sided", method="asymp")
    return {"statistic": _num(found.statistic), "p_value": _num(found.pvalue)}


def ks_test(a: np.ndarray, b: np.ndarray) -> dict:
    """Two-sample Kolmogorov-Smirnov test, NaNs ignored: ``scipy.stats.ks_2samp(a, b,
    method="asymp")``, two-sided.

    ``statistic`` D = sup_x |F_a(x) - F_b(x)| with F the empirical distribution functions;
    ``p_value`` from the distribution of D under "same distribution" for en = m n / (m + n)
    observations (m, n the sample sizes), ``scipy.stats.kstwo.sf(D, round(en))``. The asymptotic
    method is chosen for every size, so that a p-value does not change its method with the
    sample size. Both None if either sample has no non-missing value.
    """
    a_sorted, _ = _sorted_present(_as_float(a))
    b_sorted, _ = _sorted_present(_as_float(b))
    return _ks_present(a_sorted, b_sorted)


def _is_numeric(column: pd.Series) -> bool:
    import pandas as pd

    dtype = column.dtype
    return bool(
        pd.api.types.is_numeric_dtype(dtype)
        and not pd.api.types.is_bool_dtype(dtype)
        and not pd.api.types.is_complex_dtype(dtype)
    )


def stability(reference: pd.DataFrame, holdout: pd.DataFrame, columns: list[str]) -> list[dict]:
    """Per column, in order: {feature, kind, psi, ks_statistic, ks_p_value}.

    A column is "numeric" when its dtype is numeric (not bool) in both frames, else
    "categorical". Numeric: ``psi`` with 10 quantile bins of the reference, and ``ks_test``.
    Categorical: ``psi_categorical``, KS fields None. The reference is the expected sample.
    """
    result: list[dict] = []
    for name in columns:
        ref, hold = reference[name], holdout[name]
        if _is_numeric(ref) and _is_numeric(hold):
            ref_sorted, ref_nan = _sorted_present(_as_float(ref))
            hold_sorted, hold_nan = _sorted_present(_as_float(hold))
            ks = _ks_present(ref_sorted, hold_sorted)
            result.append(
                {
                    "feature": str(name),
                    "kind": "numeric",
                    "psi": _psi_sorted(ref_sorted, ref_nan, hold_sorted, hold_nan, 10),
                    "ks_statistic": ks["statistic"],
                    "ks_p_value": ks["p_value"],
                }
            )
        else:
            result.append(
                {
                    "feature": str(name),
                    "kind": "categorical",
                    "psi": psi_categorical(ref, hold),
                    "ks_statistic": None,
                    "ks_p_value": None,
                }
            )
    return result


# --------------------------------------------------------------------------------------------
# Baselines: what monitoring compares live traffic with, fixed when a version is validated.
#
# A baseline keeps the bins and the count of baseline rows in each, not the rows: monitoring
# counts live values into the same bins (``bin_counts``) and ``psi_of_counts`` then gives exactly
# the ``psi`` / ``psi_categorical`` of the two samples' rows.

BASELINE_BINS = 10
BASELINE_TOP_CATEGORIES = 10


def numeric_baseline(values: np.ndarray | pd.Series, *, bins: int = BASELINE_BINS) -> dict:
    """{kind: "numeric", edges, counts}: the edges ``psi`` would cut the sample at (its quantiles
    at 1/bins, ..., (bins-1)/bins, duplicates and non-finite ones dropped); ``counts`` has one
    entry per right-closed bin (-inf, e1], ..., (ek, inf), then the missing values."""
    ordered, missing = _sorted_present(_as_float(values))
    if ordered.size:
        edges = _quantiles_of_sorted(ordered, np.linspace(0.0, 1.0, bins + 1)[1:-1])
        edges = np.unique(edges[np.isfinite(edges)])
    else:
        edges = np.empty(0)
    counts = np.diff(
        np.concatenate(([0], np.searchsorted(ordered, edges, "right"), [ordered.size]))
    )
    return {"kind": "numeric", "edges": _floats(edges), "counts": [*_ints(counts), missing]}


def categorical_baseline(
    values: np.ndarray | pd.Series, *, top: int = BASELINE_TOP_CATEGORIES
) -> dict:
    """{kind: "categorical", categories, counts}: the ``top`` most frequent values (as text,
    ties by text), then "other" and missing as the last two counts."""
    import pandas as pd

    series = pd.Series(values).reset_index(drop=True)
    present = series[series.notna()].astype(str)
    frequency = present.value_counts()
    ranked = sorted(frequency.items(), key=lambda item: (-item[1], item[0]))[:top]
    categories = [name for name, _ in ranked]
    counts = [int(count) for _, count in ranked]
    return {
        "kind": "categorical",
        "categories": categories,
        "counts": [*counts, int(present.size - sum(counts)), int(series.size - present.size)],
    }


def bin_count(spec: dict) -> int:
    """How many bins a baseline ``spec`` has (its values' bins, then "other" for categories,
    then missing)."""
    if spec["kind"] == "numeric":
        return len(spec["edges"]) + 2
    return len(spec["categories"]) + 2


def bin_index(spec: dict, values: np.ndarray | pd.Series | list[Any]) -> np.ndarray:
    """The bin of a baseline ``spec`` each of ``values`` falls in: for numbers the right-closed
    bin between the edges (a value that is not a number is missing), for categories its own bin,
    "other" or missing."""
    if spec["kind"] == "numeric":
        numbers = as_numbers(values)
        edges = np.asarray(spec["edges"], dtype=np.float64)
        found = np.searchsorted(edges, numbers, "left")
        found[np.isnan(numbers)] = len(edges) + 1
        return found
    import pandas as pd

    series = pd.Series(values, dtype=object)
    index = {name: i for i, name in enumerate(spec["categories"])}
    present = series.notna().to_numpy()
    found = np.full(len(series), len(index) + 1, dtype=np.intp)
    found[present] = (
        series[present].astype(str).map(index).fillna(len(index)).to_numpy(dtype=np.intp)
    )
    return found


def as_numbers(values: np.ndarray | pd.Series | list[Any]) -> np.ndarray:
    """``values`` as floats, anything that is not a number as NaN. Numbers and None convert
    directly (the common case, and ten times faster); anything else goes through pandas."""
    try:
        numbers = np.array(values, dtype=np.float64)
        if numbers.ndim == 1:
            return numbers
    except (TypeError, ValueError):
        pass
    import pandas as pd

    return _as_float(pd.to_numeric(pd.Series(values, dtype=object), errors="coerce"))


def bin_counts(spec: dict, values: np.ndarray | pd.Series | list[Any]) -> list[int]:
    """How many of ``values`` fall in each bin of a baseline ``spec``, in its order."""
    return _ints(np.bincount(bin_index(spec, values), minlength=bin_count(spec)))


def psi_of_counts(expected: list[int], actual: list[int]) -> float | None:
    """PSI of two samples counted into the same bins (as ``psi``: shares floored at 1e-4)."""
    e, a = np.asarray(expected, dtype=np.float64), np.asarray(actual, dtype=np.float64)
    if e.shape != a.shape:
        raise ValueError("both samples must be counted into the same bins")
    if e.sum() == 0 or a.sum() == 0:
        return None
    return _num(_psi_of_counts(e, a))


def psi_of_each(expected: list[int], actuals: list[list[int] | None]) -> list[float | None]:
    """``psi_of_counts(expected, actual)`` for each of ``actuals`` at once (None where an actual
    is None or counts nothing): what a chart of drift over a window's buckets needs."""
    e = np.asarray(expected, dtype=np.float64)
    found: list[float | None] = [None] * len(actuals)
    present = [i for i, actual in enumerate(actuals) if actual]
    if not present or e.sum() == 0:
        return found
    a = np.asarray([actuals[i] for i in present], dtype=np.float64)
    if a.shape[1] != e.shape[0]:
        raise ValueError("both samples must be counted into the same bins")
    totals = a.sum(axis=1, keepdims=True)
    counted = totals[:, 0] > 0
    e = np.maximum(e / e.sum(), PSI_FLOOR)
    with np.errstate(invalid="ignore", divide="ignore"):
        a = np.maximum(a / totals, PSI_FLOOR)
    values = np.sum((a - e) * np.log(a / e), axis=1)
    for i, value, ok in zip(present, values, counted, strict=True):
        found[i] = _num(float(value)) if ok else None
    return found


def baseline(frame: pd.DataFrame, columns: list[str]) -> list[dict]:
    """One baseline per column, in order: numeric columns (numeric dtype, not bool) get
    quantile bins, the others their top categories."""
    return [
        {
            "feature": str(name),
            **(
                numeric_baseline(frame[name])
                if _is_numeric(frame[name])
                else categorical_baseline(frame[name])
            ),
        }
        for name in columns
    ]


# --------------------------------------------------------------------------------------------
# Fairness


def fairness(
    y_true: np.ndarray,
    y_pred: np.ndarray,
    groups: np.ndarray,
    *,
    score: np.ndarray | None = None,
    max_groups: int = 50,
) -> dict:
    """Binary-classification metrics per group (1 = positive) and the gaps between groups.

    Groups are the distinct values of ``groups`` as text; missing values form the group
    "missing". If there are more than ``max_groups``, the largest ``max_groups`` (ties by name)
    are kept, rows of the others are left out, and ``truncated`` is True; ``total_groups`` is
    the number before truncation. Groups are listed by size, largest first, ties by name.

    Per group: ``n``; ``selection_rate`` = share with y_pred = 1; ``true_positive_rate`` =
    tp / (tp + fn), None without positives; ``false_positive_rate`` = fp / (fp + tn), None
    without negatives; ``accuracy``; ``roc_auc``: ``sklearn.metrics.roc_auc_score`` of ``score``
    in the group, None without score or without both classes. The rates and gaps are the
    portal's own counts (scikit-learn has no grouped metrics).

    ``demographic_parity_difference`` = max - min selection rate over the groups (0 with one
    group, None with none); ``equal_opportunity_difference`` = max - min true positive rate over
    the groups where it is defined, None if fewer than two.
    """
    y = _labels01(y_true, "y_true")
    pred = _labels01(y_pred, "y_pred")
    import pandas as pd

    if isinstance(groups, pd.Series):
        raw_groups = groups.reset_index(drop=True)
    else:
        raw_groups = pd.Series(np.asarray(groups, dtype=object))
    scores = None if score is None else _finite_floats(score, "score")
    n = _same_length(y, pred, raw_groups.to_numpy(), *(() if scores is None else (scores,)))

    codes, uniques = pd.factorize(raw_groups, use_na_sentinel=True)
    names = [str(u) for u in uniques] + ["missing"]
    codes = np.where(codes < 0, len(uniques), codes)
    sizes = np.bincount(codes, minlength=len(names))
    present = [g for g in range(len(names)) if sizes[g] > 0]
    present.sort(key=lambda g: (-int(sizes[g]), names[g]))
    kept = present[:max_groups]

    def count(mask: np.ndarray) -> np.ndarray:
        return np.bincount(codes[mask], minlength=len(names))

    selected = count(pred == 1)
    positives = count(y == 1)
    true_pos = count((y == 1) & (pred == 1))
    false_pos = count((y == 0) & (pred == 1))
    correct = count(y == pred)

    rows_of: dict[int, np.ndarray] = {}
    if scores is not None and n:
        order = np.argsort(codes, kind="stable")
        starts = np.concatenate(([0], np.cumsum(sizes)))
        rows_of = {g: order[starts[g] : starts[g + 1]] for g in kept}

    out_groups: list[dict[str, Any]] = []
    for g in kept:
        size = int(sizes[g])
        negatives = size - int(positives[g])
        auc = None
        if scores is not None:
            rows = rows_of[g]
            auc = roc_auc(y[rows], scores[rows])
        out_groups.append(
            {
                "group": names[g],
                "n": size,
                "selection_rate": float(selected[g] / size),
                "true_positive_rate": _ratio(float(true_pos[g]), float(positives[g])),
                "false_positive_rate": _ratio(float(false_pos[g]), float(negatives)),
                "accuracy": float(correct[g] / size),
                "roc_auc": auc,
            }
        )

    selection = [grp["selection_rate"] for grp in out_groups]
    tprs = [
        grp["true_positive_rate"] for grp in out_groups if grp["true_positive_rate"] is not None
    ]
    return {
        "groups": out_groups,
        "demographic_parity_difference": max(selection) - min(selection) if selection else None,
        "equal_opportunity_difference": max(tprs) - min(tprs) if len(tprs) >= 2 else None,
        "truncated": len(present) > len(kept),
        "total_groups": len(present),
    }


# --------------------------------------------------------------------------------------------
# Model-dependent measurements


class _ScoredByFunction:
    """The estimator ``sklearn.inspection.permutation_importance`` is handed. It only checks that
    there is a ``fit`` and passes the estimator to the scoring callable, which scores through the
    caller's function instead: the sandbox's scorer knows the model, the label encoding and the
    primary metric, and this module stays free of them."""

    def fit(self, X: Any, y: Any = None) -> _ScoredByFunction:
        return self


def permutation_importance(
    score_fn: Callable[[pd.DataFrame], float],
    frame: pd.DataFrame,
    features: list[str],
    *,
    n_repeats: int = 3,
    max_rows: int = 5000,
    seed: int = 0,
) -> list[dict]:
    """Drop in ``score_fn`` (higher is better) when one feature's values are shuffled:
    ``sklearn.inspection.permutation_importance(n_repeats=n_repeats, random_state=seed)``.

    At most ``max_rows`` rows are used, drawn without replacement with
    ``numpy.random.default_rng(seed)`` and kept in input order with their original index labels,
    so ``score_fn`` can align true labels by index; they are drawn here rather than with
    scikit-learn's ``max_samples``, which would score the unshuffled baseline on every row but
    the shuffled ones on the sample. The baseline is ``score_fn`` on those rows; scikit-learn
    then shuffles each of ``features`` ``n_repeats`` times (the other columns untouched) and
    importance = mean(baseline - permuted score), ``std`` = population standard deviation of
    those drops. Returned as [{feature, importance, std}], importance descending (stable).
    Raises ValueError if ``score_fn`` returns NaN or inf.
    """
    if n_repeats < 1:
        raise ValueError("n_repeats must be at least 1")
    rng = np.random.default_rng(seed)
    rows = len(frame)
    if rows > max_rows:
        frame = frame.iloc[np.sort(rng.choice(rows, size=max_rows, replace=False))]
    if not features:
        return []
    import pandas as pd
    from sklearn.inspection import permutation_importance as shuffled_drops

    features = list(features)
    others = [c for c in frame.columns if c not in set(features)]

    def scoring(_estimator: Any, X: pd.DataFrame, _y: Any) -> float:
        # scikit-learn shuffles only the columns it is given: the others join them unshuffled.
        data = pd.concat([X, frame[others]], axis=1)[frame.columns] if others else X
        value = float(score_fn(data))
        if not math.isfinite(value):
            raise ValueError("score_fn returned a non-finite value")
        return value

    found = shuffled_drops(
        _ScoredByFunction(),
        frame[features],
        None,
        scoring=scoring,
        n_repeats=n_repeats,
        random_state=seed,
    )
    drops = zip(features, found.importances_mean, found.importances_std, strict=True)
    ranked = sorted(drops, key=lambda drop: -float(drop[1]))  # stable: ties keep their order
    return [
        {"feature": str(feature), "importance": float(mean), "std": float(std)}
        for feature, mean, std in ranked
    ]


def latency(
    predict: Callable[[pd.DataFrame], object],
    frame: pd.DataFrame,
    *,
    single_repeats: int = 50,
    batch_rows: int = 1000,
    batch_repeats: int = 5,
) -> dict:
    """Wall-clock prediction time, measured with ``time.perf_counter``.

    ``ms_per_row_single``: median over ``single_repeats`` calls on the first row, after one
    warm-up call. ``ms_per_1000_rows``: median over ``batch_repeats`` calls on the first
    ``batch_rows`` rows (all rows if fewer), scaled to 1,000 rows. ``rows_in_batch``: rows in that
    batch. With an empty frame both times are None.
    """
    if single_repeats < 1 or batch_repeats < 1 or batch_rows < 1:
        raise ValueError("repeats and batch_rows must be at least 1")
    if len(frame) == 0:
        return {"ms_per_row_single": None, "ms_per_1000_rows": None, "rows_in_batch": 0}

    def timed(data: pd.DataFrame) -> float:
        start = time.perf_counter()
        predict(data)
        return (time.perf_counter() - start) * 1000.0

    one = frame.iloc[:1]
    predict(one)
    single = statistics.median(timed(one) for _ in range(single_repeats))
    batch = frame.iloc[:batch_rows]
    per_batch = statistics.median(timed(batch) for _ in range(batch_repeats))
    return {
        "ms_per_row_single": float(single),
        "ms_per_1000_rows": float(per_batch * 1000.0 / len(batch)),
        "rows_in_batch": len(batch),
    }
