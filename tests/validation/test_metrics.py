"""The validation engine's metrics against scikit-learn, scipy and values worked out by hand.

These tests need no database: the metrics module is pure numpy/scipy/pandas.
"""

from __future__ import annotations

import itertools
import json
import math
import time
from typing import Any

import numpy as np
import pandas as pd
import pytest
from scipy import stats
from sklearn import metrics as skm
from sklearn.calibration import calibration_curve

from apps.validation.engine import metrics

SEEDS = [0, 1, 2]
BINARY_KINDS = ["informative", "tied_scores", "imbalanced", "perfect", "useless", "inverted"]


def binary_case(kind: str, seed: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    n = 5000 if kind == "imbalanced" else 2000
    rate = 0.02 if kind == "imbalanced" else 0.3
    y = (rng.random(n) < rate).astype(int)
    score = np.clip(0.3 + 0.3 * y + rng.normal(0, 0.2, n), 0, 1)
    if kind == "tied_scores":
        score = np.round(score, 1)
    elif kind == "perfect":
        score = y.astype(float)
    elif kind == "useless":
        score = np.full(n, 0.5)
    elif kind == "inverted":
        score = 1 - score
    pred = (score >= 0.5).astype(int)
    return y, score, pred


def assert_plain_json(value: Any) -> None:
    """Only Python's own types (numpy scalars would slip through json.dumps as float subclasses)."""
    json.dumps(value, allow_nan=False)
    if isinstance(value, dict):
        assert all(type(k) is str for k in value)
        for item in value.values():
            assert_plain_json(item)
    elif isinstance(value, list):
        for item in value:
            assert_plain_json(item)
    else:
        assert value is None or type(value) in (str, int, float, bool), type(value)


# --------------------------------------------------------------------------------------------
# Binary classification


@pytest.mark.parametrize("seed", SEEDS)
@pytest.mark.parametrize("kind", BINARY_KINDS)
def test_binary_metrics_match_scikit_learn(kind: str, seed: int) -> None:
    y, score, pred = binary_case(kind, seed)
    result = metrics.binary_classification(y, score, pred)

    assert result["n"] == len(y)
    assert result["base_rate"] == pytest.approx(y.mean())
    assert result["accuracy"] == pytest.approx(skm.accuracy_score(y, pred))
    assert result["precision"] == pytest.approx(skm.precision_score(y, pred, zero_division=0))
    assert result["recall"] == pytest.approx(skm.recall_score(y, pred, zero_division=0))
    assert result["f1"] == pytest.approx(skm.f1_score(y, pred, zero_division=0))
    assert result["roc_auc"] == pytest.approx(skm.roc_auc_score(y, score), abs=1e-12)
    assert result["gini"] == pytest.approx(2 * skm.roc_auc_score(y, score) - 1, abs=1e-12)
    assert result["pr_auc"] == pytest.approx(skm.average_precision_score(y, score), abs=1e-12)
    assert result["log_loss"] == pytest.approx(skm.log_loss(y, score, labels=[0, 1]), rel=1e-12)
    assert result["brier"] == pytest.approx(skm.brier_score_loss(y, score), abs=1e-12)
    assert result["confusion_matrix"] == skm.confusion_matrix(y, pred, labels=[0, 1]).tolist()


@pytest.mark.parametrize("seed", SEEDS)
@pytest.mark.parametrize("kind", BINARY_KINDS)
def test_calibration_matches_scikit_learn_calibration_curve(kind: str, seed: int) -> None:
    y, score, pred = binary_case(kind, seed)
    calibration = metrics.binary_classification(y, score, pred)["calibration"]

    fraction_positive, mean_predicted = calibration_curve(y, score, n_bins=10, strategy="uniform")
    np.testing.assert_allclose(calibration["fraction_positive"], fraction_positive, rtol=1e-12)
    np.testing.assert_allclose(calibration["mean_predicted"], mean_predicted, rtol=1e-12)
    assert sum(calibration["count"]) == len(y)
    assert all(count > 0 for count in calibration["count"])


@pytest.mark.parametrize("seed", SEEDS)
@pytest.mark.parametrize("kind", BINARY_KINDS)
def test_ks_is_the_largest_gap_between_tpr_and_fpr(kind: str, seed: int) -> None:
    y, score, pred = binary_case(kind, seed)
    result = metrics.binary_classification(y, score, pred)

    fpr, tpr, _ = skm.roc_curve(y, score, drop_intermediate=False)
    assert result["ks"] == pytest.approx(max(0.0, np.max(tpr - fpr)), abs=1e-12)
    # TPR - FPR at threshold x is F_negatives(x) - F_positives(x): scipy's one-sided statistic.
    one_sided = stats.ks_2samp(
        score[y == 0], score[y == 1], alternative="greater", method="asymp"
    ).statistic
    assert result["ks"] == pytest.approx(one_sided, abs=1e-12)


@pytest.mark.parametrize("seed", SEEDS)
def test_ks_equals_the_two_sample_statistic_when_positives_score_higher(seed: int) -> None:
    y, score, pred = binary_case("informative", seed)
    result = metrics.binary_classification(y, score, pred)

    assert result["ks"] == pytest.approx(stats.ks_2samp(score[y == 1], score[y == 0]).statistic)


@pytest.mark.parametrize("seed", SEEDS)
@pytest.mark.parametrize("kind", ["informative", "tied_scores", "imbalanced", "inverted"])
def test_thinned_roc_curve_keeps_exact_ends_and_the_area(kind: str, seed: int) -> None:
    y, score, pred = binary_case(kind, seed)
    for points in (200, 50, 10):
        curve = metrics.binary_classification(y, score, pred, curve_points=points)["roc_curve"]

        assert 2 <= len(curve["fpr"]) == len(curve["tpr"]) <= points
        assert (curve["fpr"][0], curve["tpr"][0]) == (0.0, 0.0)
        assert (curve["fpr"][-1], curve["tpr"][-1]) == (1.0, 1.0)
        assert np.all(np.diff(curve["fpr"]) >= 0) and np.all(np.diff(curve["tpr"]) >= 0)
        # Chords across a staircase overestimate a little; 200 points keep it within 0.0025.
        area = np.trapezoid(curve["tpr"], curve["fpr"])
        assert area == pytest.approx(skm.roc_auc_score(y, score), abs=0.5 / points)


def test_short_roc_and_pr_curves_are_scikit_learns_own_points() -> None:
    y, score, pred = binary_case("tied_scores", 0)  # 11 distinct scores: nothing to thin
    result = metrics.binary_classification(y, score, pred)

    fpr, tpr, _ = skm.roc_curve(y, score, drop_intermediate=False)
    np.testing.assert_allclose(result["roc_curve"]["fpr"], fpr)
    np.testing.assert_allclose(result["roc_curve"]["tpr"], tpr)
    precision, recall, _ = skm.precision_recall_curve(y, score)
    np.testing.assert_allclose(result["pr_curve"]["recall"], recall[::-1])
    np.testing.assert_allclose(result["pr_curve"]["precision"], precision[::-1])


@pytest.mark.parametrize("seed", SEEDS)
def test_thinned_pr_curve_runs_from_zero_recall_to_the_base_rate(seed: int) -> None:
    y, score, pred = binary_case("imbalanced", seed)
    curve = metrics.binary_classification(y, score, pred, curve_points=40)["pr_curve"]

    assert len(curve["recall"]) == len(curve["precision"]) <= 40
    assert (curve["recall"][0], curve["precision"][0]) == (0.0, 1.0)
    assert (curve["recall"][-1], curve["precision"][-1]) == (1.0, pytest.approx(y.mean()))
    assert np.all(np.diff(curve["recall"]) >= 0)


def test_lift_and_gain_on_a_tiny_example_with_a_tie() -> None:
    # Ordered by score descending, ties in input order (rows 1 and 2 both score 0.8):
    #   row:     0    1    2    3    4    5    6    7    8    9
    #   y:       1    0    1    1    0    0    1    0    0    0      P = 4, base rate 0.4
    # Top k rows (k = 1..10, one per tenth) capture 1,1,2,3,3,3,4,4,4,4 positives:
    #   gain = captured / 4, lift = (captured / k) / 0.4 = gain / fraction.
    score = np.array([0.9, 0.8, 0.8, 0.7, 0.6, 0.5, 0.4, 0.3, 0.2, 0.1])
    y = np.array([1, 0, 1, 1, 0, 0, 1, 0, 0, 0])
    lift = metrics.binary_classification(y, score, (score > 0.5).astype(int))["lift"]

    assert lift["fraction"] == [0.1, 0.2, 0.3, 0.4, 0.5, 0.6, 0.7, 0.8, 0.9, 1.0]
    gain = [0.25, 0.25, 0.5, 0.75, 0.75, 0.75, 1.0, 1.0, 1.0, 1.0]
    assert lift["gain"] == pytest.approx(gain)
    assert lift["lift"] == pytest.approx(
        [2.5, 1.25, 5 / 3, 1.875, 1.5, 1.25, 10 / 7, 1.25, 10 / 9, 1.0]
    )


def test_lift_takes_at_least_the_fraction_of_rows_when_they_do_not_divide_by_ten() -> None:
    # n = 4: the top ceil(f * 4) rows are 1, 1, 2, 2, 2, 3, 3, 4, 4, 4 for f = 0.1 .. 1.0.
    # y by rank: 1, 0, 1, 0  -> captured 1, 1, 1, 1, 1, 2, 2, 2, 2, 2 of P = 2, base rate 0.5.
    score = np.array([0.4, 0.3, 0.2, 0.1])
    y = np.array([1, 0, 1, 0])
    lift = metrics.binary_classification(y, score, np.zeros(4, dtype=int))["lift"]

    assert lift["gain"] == pytest.approx([0.5] * 5 + [1.0] * 5)
    # lift = (captured / rows) / 0.5
    assert lift["lift"] == pytest.approx([2, 2, 1, 1, 1, 4 / 3, 4 / 3, 1, 1, 1])


def test_roc_auc_and_ks_are_none_when_only_one_class_is_present() -> None:
    score = np.array([0.2, 0.4, 0.9])
    negatives = metrics.binary_classification(np.zeros(3, int), score, np.zeros(3, int))
    positives = metrics.binary_classification(np.ones(3, int), score, np.ones(3, int))

    for result in (negatives, positives):
        assert result["roc_auc"] is None
        assert result["gini"] is None
        assert result["ks"] is None
        assert result["roc_curve"] == {"fpr": [], "tpr": []}
    assert negatives["pr_auc"] is None
    assert negatives["pr_curve"] == {"recall": [], "precision": []}
    assert negatives["lift"] == {"fraction": [], "gain": [], "lift": []}
    assert negatives["precision"] == 0.0 and negatives["f1"] == 0.0
    # Only positives: every threshold has precision 1, as scikit-learn reports.
    assert positives["pr_auc"] == pytest.approx(skm.average_precision_score(np.ones(3), score))
    assert positives["lift"]["lift"] == pytest.approx([1.0] * 10)


def test_binary_metrics_of_no_rows_are_none() -> None:
    empty = np.array([], dtype=int)
    result = metrics.binary_classification(empty, np.array([], dtype=float), empty)

    assert result["n"] == 0
    assert result["confusion_matrix"] == [[0, 0], [0, 0]]
    for key in ("base_rate", "accuracy", "precision", "recall", "f1", "roc_auc", "pr_auc"):
        assert result[key] is None
    assert result["calibration"]["count"] == []
    assert_plain_json(result)


def test_scores_outside_zero_one_get_ranking_metrics_but_no_probability_metrics() -> None:
    y, score, pred = binary_case("informative", 0)
    margin = 4 * score - 2
    result = metrics.binary_classification(y, margin, pred)

    assert result["roc_auc"] == pytest.approx(skm.roc_auc_score(y, margin))
    assert result["log_loss"] is None
    assert result["brier"] is None
    assert result["calibration"] == {"mean_predicted": [], "fraction_positive": [], "count": []}


def test_binary_inputs_are_validated() -> None:
    with pytest.raises(ValueError, match="only 0 and 1"):
        metrics.binary_classification(np.array([0, 2]), np.array([0.1, 0.2]), np.array([0, 1]))
    with pytest.raises(ValueError, match="different lengths"):
        metrics.binary_classification(np.array([0, 1]), np.array([0.1]), np.array([0, 1]))
    with pytest.raises(ValueError, match="NaN"):
        metrics.binary_classification(np.array([0, 1]), np.array([0.1, np.nan]), np.array([0, 1]))


# --------------------------------------------------------------------------------------------
# Multiclass


def multiclass_case(k: int, seed: int, *, tied: bool = False) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    n = 3000
    y = rng.choice(k, size=n, p=np.linspace(1, 2, k) / np.linspace(1, 2, k).sum())
    logits = rng.normal(size=(n, k)) + 1.5 * np.eye(k)[y]
    if tied:
        logits = np.round(logits)  # few distinct rows of probabilities: many ties per column
    proba = np.exp(logits) / np.exp(logits).sum(axis=1, keepdims=True)
    return y, proba


@pytest.mark.parametrize("seed", SEEDS)
@pytest.mark.parametrize(("k", "tied"), [(3, False), (4, False), (3, True)])
def test_multiclass_metrics_match_scikit_learn(k: int, tied: bool, seed: int) -> None:
    y, proba = multiclass_case(k, seed, tied=tied)
    pred = proba.argmax(axis=1)
    result = metrics.multiclass_classification(y, proba, pred)

    assert result["n"] == len(y)
    assert result["accuracy"] == pytest.approx(skm.accuracy_score(y, pred))
    for name, function in [
        ("precision_macro", skm.precision_score),
        ("recall_macro", skm.recall_score),
        ("f1_macro", skm.f1_score),
    ]:
        assert result[name] == pytest.approx(function(y, pred, average="macro", zero_division=0))
    assert result["roc_auc_ovr"] == pytest.approx(
        skm.roc_auc_score(y, proba, multi_class="ovr", average="macro"), abs=1e-12
    )
    assert result["log_loss"] == pytest.approx(
        skm.log_loss(y, proba, labels=list(range(k))), rel=1e-12
    )
    assert result["confusion_matrix"] == skm.confusion_matrix(y, pred, labels=range(k)).tolist()


def test_macro_averages_skip_classes_never_seen_like_scikit_learn() -> None:
    # Class 3 appears neither in y_true nor y_pred; class 2 only in y_pred.
    y = np.array([0, 0, 1, 1, 1, 0])
    pred = np.array([0, 1, 1, 2, 1, 0])
    proba = np.full((6, 4), 0.25)
    result = metrics.multiclass_classification(y, proba, pred)

    for name, function in [
        ("precision_macro", skm.precision_score),
        ("recall_macro", skm.recall_score),
        ("f1_macro", skm.f1_score),
    ]:
        assert result[name] == pytest.approx(function(y, pred, average="macro", zero_division=0))
    # Classes 2 and 3 have no true rows: one-vs-rest AUC is undefined for them.
    assert result["roc_auc_ovr"] is None
    assert len(result["confusion_matrix"]) == 4


def test_multiclass_of_no_rows_is_none_with_an_empty_confusion_matrix() -> None:
    empty = np.array([], dtype=int)
    result = metrics.multiclass_classification(empty, np.empty((0, 3)), empty)

    assert result["n"] == 0
    assert result["accuracy"] is None and result["roc_auc_ovr"] is None
    assert result["confusion_matrix"] == [[0, 0, 0]] * 3


# --------------------------------------------------------------------------------------------
# Regression


@pytest.mark.parametrize("seed", SEEDS)
def test_regression_metrics_match_scikit_learn(seed: int) -> None:
    rng = np.random.default_rng(seed)
    y = rng.normal(10, 3, 4000)
    pred = y + rng.normal(0.5, 1, 4000)
    result = metrics.regression(y, pred, sample=300, seed=seed)

    assert result["n"] == 4000
    assert result["rmse"] == pytest.approx(skm.root_mean_squared_error(y, pred), rel=1e-12)
    assert result["mae"] == pytest.approx(skm.mean_absolute_error(y, pred), rel=1e-12)
    assert result["r2"] == pytest.approx(skm.r2_score(y, pred), rel=1e-12)
    counts, edges = np.histogram(y - pred, bins=30)
    assert result["residuals"]["histogram"] == {"edges": edges.tolist(), "counts": counts.tolist()}


def test_residual_sample_is_reproducible_and_consistent() -> None:
    rng = np.random.default_rng(0)
    y = rng.normal(size=2000)
    pred = y + rng.normal(size=2000)
    first = metrics.regression(y, pred, sample=100, seed=7)["residuals"]["sample"]
    again = metrics.regression(y, pred, sample=100, seed=7)["residuals"]["sample"]
    other = metrics.regression(y, pred, sample=100, seed=8)["residuals"]["sample"]
    small = metrics.regression(y[:50], pred[:50], sample=100)["residuals"]["sample"]

    assert first == again != other
    assert len(first["predicted"]) == len(first["residual"]) == 100
    rows = [int(np.flatnonzero(pred == p)[0]) for p in first["predicted"]]
    assert rows == sorted(rows)
    assert first["residual"] == pytest.approx([y[r] - pred[r] for r in rows])
    assert small["predicted"] == pytest.approx(pred[:50].tolist())


def test_r2_is_none_for_a_constant_target_and_constant_residuals_still_get_a_histogram() -> None:
    result = metrics.regression(np.full(10, 3.0), np.linspace(0, 1, 10))
    assert result["r2"] is None
    assert result["rmse"] is not None

    y = np.linspace(0, 1, 1000)
    near_constant = metrics.regression(y, y + 1e6)  # residuals equal up to rounding
    assert sum(near_constant["residuals"]["histogram"]["counts"]) == 1000
    assert metrics.regression(np.array([]), np.array([]))["rmse"] is None


# --------------------------------------------------------------------------------------------
# PSI


def test_psi_of_a_small_pair_computed_by_hand() -> None:
    # bins=2: the median of expected [1, 2, 3, 4] is 2.5, so the bins are (-inf, 2.5], (2.5, inf).
    # expected shares 2/4, 2/4; actual [1, 3, 4, 5] shares 1/4, 3/4.
    # PSI = (0.25 - 0.5) ln(0.25 / 0.5) + (0.75 - 0.5) ln(0.75 / 0.5)
    #     = 0.25 ln 2 + 0.25 ln 1.5 = 0.25 ln 3 = 0.274653...
    value = metrics.psi(np.array([1, 2, 3, 4]), np.array([1, 3, 4, 5]), bins=2)
    assert value == pytest.approx(0.25 * math.log(3))
    assert value == pytest.approx(0.2746530722)


def test_psi_floors_an_empty_bin_at_one_in_ten_thousand() -> None:
    # Same bins; actual [3, 4, 5, 6] leaves (-inf, 2.5] empty: its share becomes 1e-4.
    # PSI = (1e-4 - 0.5) ln(1e-4 / 0.5) + (1 - 0.5) ln(1 / 0.5)
    #     = 0.4999 * 8.517193 + 0.5 * 0.693147 = 4.257745 + 0.346574 = 4.604319
    value = metrics.psi(np.array([1, 2, 3, 4]), np.array([3, 4, 5, 6]), bins=2)
    assert value == pytest.approx((1e-4 - 0.5) * math.log(1e-4 / 0.5) + 0.5 * math.log(2))
    assert value == pytest.approx(4.604319, abs=1e-6)


def test_psi_gives_missing_values_their_own_bin() -> None:
    # expected [1, 2, 3, NaN]: the median of the non-missing values is 2 -> (-inf, 2], (2, inf),
    # plus the NaN bin. expected shares 2/4, 1/4, 1/4; actual [1, NaN, NaN, NaN]: 1/4, 0, 3/4.
    # PSI = (0.25 - 0.5) ln(0.25 / 0.5) + (1e-4 - 0.25) ln(1e-4 / 0.25) + (0.75 - 0.25) ln 3
    #     = 0.173287 + 1.955229 + 0.549306 = 2.677822
    value = metrics.psi(np.array([1, 2, 3, np.nan]), np.array([1, np.nan, np.nan, np.nan]), bins=2)
    assert value == pytest.approx(2.677822, abs=1e-6)


def test_psi_of_a_constant_feature() -> None:
    # Only one distinct edge, 5: bins (-inf, 5], (5, inf).
    assert metrics.psi(np.full(100, 5.0), np.full(50, 5.0)) == 0.0
    # Everything moves to the second bin: 2 (1 - 1e-4) ln(1e4) = 18.4188
    moved = metrics.psi(np.full(100, 5.0), np.full(50, 6.0))
    assert moved == pytest.approx(2 * (1 - 1e-4) * math.log(1e4))


def test_psi_is_none_for_an_empty_sample_and_zero_for_identical_samples() -> None:
    assert metrics.psi(np.array([]), np.array([1.0])) is None
    assert metrics.psi(np.array([1.0]), np.array([])) is None
    sample = np.random.default_rng(0).normal(size=1000)
    assert metrics.psi(sample, sample) == 0.0


def textbook_psi(expected: np.ndarray, actual: np.ndarray, bins: int = 10) -> float:
    edges = np.unique(np.quantile(expected[~np.isnan(expected)], np.linspace(0, 1, bins + 1)[1:-1]))
    edges = np.concatenate(([-np.inf], edges, [np.inf]))

    def shares(values: np.ndarray) -> list[float]:
        present = values[~np.isnan(values)]
        counts = [np.sum((present > lo) & (present <= hi)) for lo, hi in itertools.pairwise(edges)]
        counts.append(np.sum(np.isnan(values)))
        return [max(c / len(values), 1e-4) for c in counts]

    return sum(
        (a - e) * math.log(a / e) for e, a in zip(shares(expected), shares(actual), strict=True)
    )


@pytest.mark.parametrize("seed", SEEDS)
@pytest.mark.parametrize("rounding", [None, 1, 0])
def test_psi_matches_a_textbook_implementation(seed: int, rounding: int | None) -> None:
    rng = np.random.default_rng(seed)
    expected = rng.normal(size=3000)
    actual = rng.normal(0.3, 1.2, size=2000)
    expected[rng.random(3000) < 0.02] = np.nan
    actual[rng.random(2000) < 0.05] = np.nan
    if rounding is not None:  # ties, and duplicate quantile edges when rounded to integers
        expected, actual = np.round(expected, rounding), np.round(actual, rounding)

    assert metrics.psi(expected, actual) == pytest.approx(textbook_psi(expected, actual), rel=1e-12)


def test_categorical_psi_computed_by_hand() -> None:
    # Categories a, b and missing (None and NaN together).
    # expected shares 2/4, 2/4, 0 -> 1e-4; actual ["a", "b", "b", None] shares 1/4, 2/4, 1/4.
    # PSI = (0.25 - 0.5) ln(0.25 / 0.5) + 0 + (0.25 - 1e-4) ln(0.25 / 1e-4)
    #     = 0.173287 + 1.955229 = 2.128516
    value = metrics.psi_categorical(
        np.array(["a", "a", "b", "b"], dtype=object), np.array(["a", "b", "b", None], dtype=object)
    )
    assert value == pytest.approx(2.128516, abs=1e-6)
    both_missing = metrics.psi_categorical(
        np.array(["a", None], dtype=object), np.array([np.nan, "a"], dtype=object)
    )
    assert both_missing == 0.0
    assert metrics.psi_categorical(np.array([]), np.array(["a"])) is None


# --------------------------------------------------------------------------------------------
# Kolmogorov-Smirnov


def test_ks_statistic_of_a_small_pair_computed_by_hand() -> None:
    # F_a - F_b at x = 1, 2, 3, 4, 5, 6: 0.25, 0.5, 0.5, 0.5, 0.25, 0 -> D = 0.5
    result = metrics.ks_test(np.array([1, 2, 3, 4]), np.array([3, 4, 5, 6]))
    assert result["statistic"] == 0.5
    assert result["p_value"] == pytest.approx(
        stats.ks_2samp([1, 2, 3, 4], [3, 4, 5, 6], method="asymp").pvalue
    )


@pytest.mark.parametrize("seed", SEEDS)
@pytest.mark.parametrize("sizes", [(300, 500), (2000, 1500), (40000, 60000)])
def test_ks_test_matches_scipy_with_ties_and_ignores_nans(
    seed: int, sizes: tuple[int, int]
) -> None:
    rng = np.random.default_rng(seed)
    a = np.round(rng.normal(size=sizes[0]), 2)
    b = np.round(rng.normal(0.05, 1.1, size=sizes[1]), 2)
    with_nans_a = np.concatenate((a, [np.nan] * 7))
    result = metrics.ks_test(with_nans_a, b)

    reference = stats.ks_2samp(a, b, method="asymp")
    assert result["statistic"] == pytest.approx(reference.statistic, abs=1e-12)
    effective = sizes[0] * sizes[1] / sum(sizes)
    if effective <= 5000:
        assert result["p_value"] == pytest.approx(reference.pvalue, rel=1e-9, abs=1e-15)
    else:  # the large-sample limit of the same distribution
        assert result["p_value"] == pytest.approx(reference.pvalue, abs=4e-3)


def test_ks_test_of_an_empty_sample_is_none() -> None:
    assert metrics.ks_test(np.array([np.nan]), np.array([1.0])) == {
        "statistic": None,
        "p_value": None,
    }


# --------------------------------------------------------------------------------------------
# Stability


def test_stability_classifies_columns_and_reuses_psi_and_ks() -> None:
    rng = np.random.default_rng(0)
    n = 1000

    def frame(shift: float) -> pd.DataFrame:
        return pd.DataFrame(
            {
                "amount": rng.normal(shift, 1, n),
                "count": rng.integers(0, 5 + int(shift * 4), n),
                "nullable": pd.array(
                    [None if i % 10 == 0 else i % 7 for i in range(n)], dtype="Int64"
                ),
                "flag": rng.random(n) < 0.3 + shift / 10,
                "city": rng.choice(["Oslo", "Lima", "Pune"], n),
                "tier": pd.Categorical(rng.choice(["gold", "silver"], n)),
            }
        )

    reference, holdout = frame(0.0), frame(0.5)
    columns = ["city", "amount", "count", "nullable", "flag", "tier"]
    result = metrics.stability(reference, holdout, columns)

    assert [r["feature"] for r in result] == columns
    kinds = {r["feature"]: r["kind"] for r in result}
    assert kinds == {
        "city": "categorical",
        "amount": "numeric",
        "count": "numeric",
        "nullable": "numeric",
        "flag": "categorical",
        "tier": "categorical",
    }
    for row in result:
        ref, hold = reference[row["feature"]], holdout[row["feature"]]
        if row["kind"] == "numeric":
            ref_values = ref.to_numpy(dtype=float, na_value=np.nan)
            hold_values = hold.to_numpy(dtype=float, na_value=np.nan)
            assert row["psi"] == pytest.approx(metrics.psi(ref_values, hold_values))
            ks = metrics.ks_test(ref_values, hold_values)
            assert row["ks_statistic"] == ks["statistic"]
            assert row["ks_p_value"] == ks["p_value"]
        else:
            assert row["psi"] == pytest.approx(metrics.psi_categorical(ref, hold))
            assert row["ks_statistic"] is None and row["ks_p_value"] is None
    assert result[1]["psi"] > 0.1  # the shifted amount is flagged
    assert_plain_json(result)


# --------------------------------------------------------------------------------------------
# Fairness


def test_fairness_gaps_on_a_tiny_example() -> None:
    #           group a           group b           missing
    # y_true    1   1   0   0     1   0   0   0     0   0
    # y_pred    1   0   1   0     1   1   0   0     1   1
    # score    .9  .4  .6  .1    .8  .8  .3  .2    .5  .7
    # a: selection 2/4, TPR 1/2, FPR 1/2, accuracy 2/4, AUC: pairs (.9>.6, .9>.1, .4<.6, .4>.1) 3/4
    # b: selection 2/4, TPR 1/1, FPR 1/3, accuracy 3/4, AUC: (.8=.8 -> 1/2, .8>.3, .8>.2) 2.5/3
    # missing: selection 2/2, TPR undefined, FPR 2/2, accuracy 0, AUC undefined (no positives)
    # demographic parity = 1 - 0.5 = 0.5; equal opportunity (a and b only) = 1 - 0.5 = 0.5
    y = np.array([1, 1, 0, 0, 1, 0, 0, 0, 0, 0])
    pred = np.array([1, 0, 1, 0, 1, 1, 0, 0, 1, 1])
    score = np.array([0.9, 0.4, 0.6, 0.1, 0.8, 0.8, 0.3, 0.2, 0.5, 0.7])
    groups = np.array(["a", "a", "a", "a", "b", "b", "b", "b", None, np.nan], dtype=object)
    result = metrics.fairness(y, pred, groups, score=score)

    assert result["groups"] == [
        {
            "group": "a",
            "n": 4,
            "selection_rate": 0.5,
            "true_positive_rate": 0.5,
            "false_positive_rate": 0.5,
            "accuracy": 0.5,
            "roc_auc": 0.75,
        },
        {
            "group": "b",
            "n": 4,
            "selection_rate": 0.5,
            "true_positive_rate": 1.0,
            "false_positive_rate": pytest.approx(1 / 3),
            "accuracy": 0.75,
            "roc_auc": pytest.approx(2.5 / 3),
        },
        {
            "group": "missing",
            "n": 2,
            "selection_rate": 1.0,
            "true_positive_rate": None,
            "false_positive_rate": 1.0,
            "accuracy": 0.0,
            "roc_auc": None,
        },
    ]
    assert result["demographic_parity_difference"] == 0.5
    assert result["equal_opportunity_difference"] == 0.5
    assert result["truncated"] is False
    assert_plain_json(result)


def test_fairness_per_group_auc_matches_scikit_learn() -> None:
    y, score, pred = binary_case("tied_scores", 3)
    groups = np.random.default_rng(3).choice(["x", "y", "z"], len(y)).astype(object)
    result = metrics.fairness(y, pred, groups, score=score)

    for group in result["groups"]:
        rows = groups == group["group"]
        assert group["n"] == rows.sum()
        assert group["roc_auc"] == pytest.approx(skm.roc_auc_score(y[rows], score[rows]))
        assert group["true_positive_rate"] == pytest.approx(skm.recall_score(y[rows], pred[rows]))


def test_fairness_keeps_the_largest_groups_and_says_it_truncated() -> None:
    sizes = {f"g{i:02d}": i + 1 for i in range(60)}
    groups = np.array([g for g, size in sizes.items() for _ in range(size)], dtype=object)
    y = np.arange(len(groups)) % 2
    result = metrics.fairness(y, y, groups, max_groups=50)

    assert result["truncated"] is True
    assert result["total_groups"] == 60
    assert [g["group"] for g in result["groups"]] == [f"g{i:02d}" for i in range(59, 9, -1)]
    assert all(g["roc_auc"] is None for g in result["groups"])  # no score given


def test_fairness_gaps_need_enough_groups() -> None:
    one = metrics.fairness(np.array([1, 0]), np.array([1, 1]), np.array(["a", "a"], dtype=object))
    assert one["demographic_parity_difference"] == 0.0
    assert one["equal_opportunity_difference"] is None
    empty = np.array([], dtype=int)
    none = metrics.fairness(empty, empty, np.array([], dtype=object))
    assert none["groups"] == []
    assert none["demographic_parity_difference"] is None


# --------------------------------------------------------------------------------------------
# Permutation importance and latency


def test_permutation_importance_ranks_the_feature_the_model_uses() -> None:
    rng = np.random.default_rng(0)
    frame = pd.DataFrame(
        {"signal": rng.normal(size=8000), "noise": rng.normal(size=8000)},
        index=pd.RangeIndex(100, 8100),
    )
    target = pd.Series(3 * frame["signal"], index=frame.index)
    seen: list[pd.Index] = []

    def score_fn(data: pd.DataFrame) -> float:
        seen.append(data.index)
        residual = target.loc[data.index] - 3 * data["signal"]
        return -float(np.mean(residual**2))

    before = frame.copy()
    result = metrics.permutation_importance(
        score_fn, frame, ["noise", "signal"], n_repeats=4, max_rows=1000, seed=1
    )

    assert [r["feature"] for r in result] == ["signal", "noise"]
    assert result[0]["importance"] > 10
    assert result[1] == {"feature": "noise", "importance": 0.0, "std": 0.0}
    assert len(seen) == 1 + 2 * 4
    assert all(len(index) == 1000 and index.equals(seen[0]) for index in seen)
    assert seen[0].isin(frame.index).all() and seen[0].is_monotonic_increasing
    pd.testing.assert_frame_equal(frame, before)
    again = metrics.permutation_importance(
        score_fn, frame, ["noise", "signal"], n_repeats=4, max_rows=1000, seed=1
    )
    assert again == result
    assert_plain_json(result)


def test_latency_times_one_row_and_a_batch() -> None:
    calls: list[int] = []

    def predict(data: pd.DataFrame) -> object:
        calls.append(len(data))
        return data.sum(axis=1)

    frame = pd.DataFrame({"x": np.arange(300.0), "y": np.arange(300.0)})
    result = metrics.latency(predict, frame, single_repeats=5, batch_rows=1000, batch_repeats=3)

    assert calls == [1] * 6 + [300] * 3  # one warm-up, five timed single rows, three batches
    assert result["rows_in_batch"] == 300
    assert result["ms_per_row_single"] >= 0 and result["ms_per_1000_rows"] >= 0
    assert_plain_json(result)
    assert metrics.latency(predict, frame.iloc[:0])["rows_in_batch"] == 0


# --------------------------------------------------------------------------------------------
# Everything together


def full_set_inputs(n: int, features: int, seed: int = 0) -> dict[str, Any]:
    rng = np.random.default_rng(seed)
    names = [f"f{i:02d}" for i in range(features)]
    reference = pd.DataFrame(rng.normal(size=(n, features)), columns=names)
    holdout = pd.DataFrame(rng.normal(0.05, 1.1, size=(n, features)), columns=names)
    for name in names[-3:]:
        reference[name] = rng.choice(["a", "b", "c", "d"], n)
        holdout[name] = rng.choice(["a", "b", "c", "d", "e"], n)
    holdout.loc[holdout.index[::50], names[0]] = np.nan
    y = (rng.random(n) < 0.3).astype(int)
    score = np.round(np.clip(0.3 + 0.3 * y + rng.normal(0, 0.2, n), 0, 1), 3)
    classes, proba = multiclass_case(3, seed)
    return {
        "names": names,
        "reference": reference,
        "holdout": holdout,
        "y": y,
        "score": score,
        "pred": (score >= 0.5).astype(int),
        "classes": np.resize(classes, n),
        "proba": np.resize(proba, (n, 3)),
        "target": score * 10,
        "estimate": score * 10 + rng.normal(size=n),
        "groups": rng.choice(["north", "south", "east", None], n).astype(object),
    }


def full_set(data: dict[str, Any]) -> dict[str, Any]:
    return {
        "binary": metrics.binary_classification(data["y"], data["score"], data["pred"]),
        "multiclass": metrics.multiclass_classification(
            data["classes"], data["proba"], data["proba"].argmax(axis=1)
        ),
        "regression": metrics.regression(data["target"], data["estimate"]),
        "stability": metrics.stability(data["reference"], data["holdout"], data["names"]),
        "fairness": metrics.fairness(data["y"], data["pred"], data["groups"], score=data["score"]),
    }


def test_every_result_is_plain_json() -> None:
    assert_plain_json(full_set(full_set_inputs(2000, 6)))
    for kind in BINARY_KINDS:
        assert_plain_json(metrics.binary_classification(*binary_case(kind, 0)))


def test_the_full_set_completes_on_100000_rows_and_20_features() -> None:
    data = full_set_inputs(100_000, 20)
    started = time.perf_counter()
    result = full_set(data)
    elapsed = time.perf_counter() - started

    assert len(result["stability"]) == 20
    assert result["binary"]["n"] == 100_000
    assert_plain_json(result)
    print(f"\nfull metric set on 100,000 rows x 20 features: {elapsed:.3f} s")
