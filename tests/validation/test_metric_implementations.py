"""Issue 17: the metrics come from scikit-learn and SciPy, and the report says so.

Comparing a metric with the library function it calls would prove nothing, so the numbers here
are worked out by hand on small cases, or are the values the portal's own code produced on the
fixtures of ``test_metrics.py`` before the library calls replaced it
(``metric_values_before_issue_17.json``, written by commit 85012d3's ``metrics.py``).
"""

from __future__ import annotations

import json
import math
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pytest
import scipy
import sklearn
from django.test import Client

from apps.validation.engine import metrics, report
from apps.validation.models import ValidationReport
from tests.validation.conftest import frame, upload, validate_now
from tests.validation.test_metrics import (
    BINARY_KINDS,
    assert_plain_json,
    binary_case,
    full_set_inputs,
    multiclass_case,
)

BEFORE = json.loads((Path(__file__).parent / "metric_values_before_issue_17.json").read_text())


# --------------------------------------------------------------------------------------------
# Small cases worked out by hand


def test_binary_metrics_of_four_rows_worked_out_by_hand() -> None:
    # y      1    0    1    0          predicted (p >= 0.5): 1 1 1 0 -> tn 1, fp 1, fn 0, tp 2
    # p     .8   .6   .6   .1
    y = np.array([1, 0, 1, 0])
    p = np.array([0.8, 0.6, 0.6, 0.1])
    result = metrics.binary_classification(y, p, (p >= 0.5).astype(int))

    assert result["confusion_matrix"] == [[1, 1], [0, 2]]
    assert result["accuracy"] == 0.75
    assert result["precision"] == pytest.approx(2 / 3)
    assert result["recall"] == 1.0
    assert result["f1"] == pytest.approx(0.8)  # 2 tp / (2 tp + fp + fn) = 4 / 5
    # Positive/negative pairs: .8>.6, .8>.1, .6=.6 (one half), .6>.1 -> 3.5 / 4.
    assert result["roc_auc"] == pytest.approx(0.875)
    assert result["gini"] == pytest.approx(0.75)
    # Thresholds .8, .6, .1: precision 1, 2/3, 1/2 at recall 1/2, 1, 1 -> 0.5 * 1 + 0.5 * 2/3.
    assert result["pr_auc"] == pytest.approx(5 / 6)
    # TPR - FPR at >= .8: 0.5 - 0; at >= .6: 1 - 0.5; at >= .1: 0.
    assert result["ks"] == pytest.approx(0.5)
    assert result["log_loss"] == pytest.approx(
        -(math.log(0.8) + math.log(0.4) + math.log(0.6) + math.log(0.9)) / 4
    )
    assert result["brier"] == pytest.approx((0.04 + 0.36 + 0.16 + 0.01) / 4)
    # Bins [0, .1], (.5, .6], (.7, .8]: the .1 falls in the first, each .6 in (.5, .6].
    assert result["calibration"] == {
        "mean_predicted": [pytest.approx(0.1), pytest.approx(0.6), pytest.approx(0.8)],
        "fraction_positive": [0.0, 0.5, 1.0],
        "count": [1, 2, 1],
    }
    assert result["roc_curve"] == {"fpr": [0.0, 0.0, 0.5, 1.0], "tpr": [0.0, 0.5, 1.0, 1.0]}
    assert result["pr_curve"]["recall"] == [0.0, 0.5, 1.0, 1.0]
    assert result["pr_curve"]["precision"] == pytest.approx([1.0, 1.0, 2 / 3, 0.5])
    assert_plain_json(result)


def test_a_perfect_ranking_scores_one_and_a_reversed_one_zero() -> None:
    y = np.array([0, 0, 0, 1, 1])
    p = np.array([0.1, 0.2, 0.3, 0.7, 0.9])
    perfect = metrics.binary_classification(y, p, (p >= 0.5).astype(int))
    reversed_ = metrics.binary_classification(y, 1 - p, (p < 0.5).astype(int))

    assert (perfect["roc_auc"], perfect["gini"], perfect["ks"], perfect["pr_auc"]) == (
        1.0,
        1.0,
        1.0,
        1.0,
    )
    assert perfect["lift"]["gain"][3] == 1.0  # the top 40 % (2 rows) hold both positives
    assert reversed_["roc_auc"] == 0.0 and reversed_["gini"] == -1.0
    assert reversed_["ks"] == 0.0  # never below 0: "nothing selected" is a threshold too
    assert metrics.roc_auc(y, p) == 1.0 and metrics.roc_auc(y, 1 - p) == 0.0


def test_undefined_binary_metrics_are_none_and_the_library_is_not_asked(recwarn) -> None:
    p = np.array([0.2, 0.4, 0.9])
    only_negatives = metrics.binary_classification(np.zeros(3, int), p, np.zeros(3, int))

    assert only_negatives["roc_auc"] is None and only_negatives["pr_auc"] is None
    assert metrics.roc_auc(np.ones(3, int), p) is None
    # scikit-learn warns (UndefinedMetricWarning) when asked for these: it never was.
    assert not [w for w in recwarn if issubclass(w.category, UserWarning)]


def test_multiclass_metrics_of_five_rows_worked_out_by_hand() -> None:
    #   y   pred   proba (class 0, 1, 2)
    #   0    0     .7 .2 .1
    #   0    1     .4 .5 .1
    #   1    1     .1 .8 .1
    #   2    2     .2 .2 .6
    #   2    0     .5 .1 .4
    y = np.array([0, 0, 1, 2, 2])
    pred = np.array([0, 1, 1, 2, 0])
    proba = np.array(
        [[0.7, 0.2, 0.1], [0.4, 0.5, 0.1], [0.1, 0.8, 0.1], [0.2, 0.2, 0.6], [0.5, 0.1, 0.4]]
    )
    result = metrics.multiclass_classification(y, proba, pred)

    assert result["accuracy"] == pytest.approx(3 / 5)
    assert result["confusion_matrix"] == [[1, 1, 0], [0, 1, 0], [1, 0, 1]]
    # Per class precision 1/2, 1/2, 1; recall 1/2, 1, 1/2; F1 1/2, 2/3, 2/3.
    assert result["precision_macro"] == pytest.approx(2 / 3)
    assert result["recall_macro"] == pytest.approx(2 / 3)
    assert result["f1_macro"] == pytest.approx((1 / 2 + 2 / 3 + 2 / 3) / 3)
    # One vs rest: class 0 by column 0: positives .7 .4 against .1 .2 .5 -> 5 of 6 pairs;
    # class 1: .8 against .2 .5 .2 .1 -> 1; class 2: .6 .4 against .1 .1 .1 -> 1.
    assert result["roc_auc_ovr"] == pytest.approx((5 / 6 + 1 + 1) / 3)
    assert result["log_loss"] == pytest.approx(
        -(math.log(0.7) + math.log(0.4) + math.log(0.8) + math.log(0.6) + math.log(0.4)) / 5
    )


def test_regression_metrics_of_four_rows_worked_out_by_hand() -> None:
    # Residuals 0, 0, 0, -4; y mean 2.5, total sum of squares 5.
    result = metrics.regression(np.array([1.0, 2.0, 3.0, 4.0]), np.array([1.0, 2.0, 3.0, 8.0]))

    assert result["rmse"] == pytest.approx(2.0)  # sqrt(16 / 4)
    assert result["mae"] == pytest.approx(1.0)
    assert result["r2"] == pytest.approx(1 - 16 / 5)


def test_ks_p_value_of_large_samples_follows_the_kolmogorov_distribution() -> None:
    # b is a shifted by 400 of 20,000 values: D = 400 / 20000 = 0.02 exactly. With
    # en = 20000 * 20000 / 40000 = 10000, sqrt(en) D = 2, and the limiting distribution gives
    # p = 2 (e^-8 - e^-32 + ...) = 6.7093e-4; at n = 10000 the exact one is within a few %.
    a = np.arange(20_000.0)
    result = metrics.ks_test(a, a + 400)
    assert result["statistic"] == pytest.approx(0.02, abs=1e-15)
    limit = 2 * sum((-1) ** (k - 1) * math.exp(-2 * k * k * 4) for k in range(1, 20))
    assert limit == pytest.approx(6.7093e-4, rel=1e-4)
    assert result["p_value"] == pytest.approx(limit, rel=0.05)


# --------------------------------------------------------------------------------------------
# The values the portal's own code gave before, on the same fixtures


def assert_same(now: Any, before: Any, where: str = "") -> None:
    if isinstance(before, dict):
        assert now.keys() == before.keys(), where
        for key in before:
            assert_same(now[key], before[key], f"{where}.{key}")
    elif isinstance(before, list):
        assert len(now) == len(before), where
        for i, (a, b) in enumerate(zip(now, before, strict=True)):
            assert_same(a, b, f"{where}[{i}]")
    elif isinstance(before, float):
        assert now == pytest.approx(before, rel=1e-12, abs=1e-12), where
    else:
        assert now == before, where


@pytest.mark.parametrize("kind", BINARY_KINDS)
def test_binary_metrics_equal_the_portals_previous_values(kind: str) -> None:
    y, score, pred = binary_case(kind, 0)
    result = metrics.binary_classification(y, score, pred, curve_points=50)
    assert_same(result, BEFORE["binary"][kind], kind)


@pytest.mark.parametrize(("k", "tied"), [(3, False), (4, False), (3, True)])
def test_multiclass_metrics_equal_the_portals_previous_values(k: int, tied: bool) -> None:
    y, proba = multiclass_case(k, 0, tied=tied)
    result = metrics.multiclass_classification(y, proba, proba.argmax(axis=1))
    assert_same(result, BEFORE["multiclass"][f"{k}{'_tied' if tied else ''}"])


def test_regression_metrics_equal_the_portals_previous_values() -> None:
    rng = np.random.default_rng(0)
    y = rng.normal(10, 3, 4000)
    pred = y + rng.normal(0.5, 1, 4000)
    result = metrics.regression(y, pred, sample=0)
    now = {k: result[k] for k in ("n", "rmse", "mae", "r2")}
    assert_same({**now, "histogram": result["residuals"]["histogram"]}, BEFORE["regression"])


@pytest.mark.parametrize("sizes", [(300, 500), (2000, 1500)])
def test_ks_test_equals_the_portals_previous_values(sizes: tuple[int, int]) -> None:
    # Both below 5,000 effective observations, where the old code used the same distribution.
    rng = np.random.default_rng(0)
    a = np.round(rng.normal(size=sizes[0]), 2)
    b = np.round(rng.normal(0.05, 1.1, size=sizes[1]), 2)
    assert_same(metrics.ks_test(a, b), BEFORE["ks"][f"{sizes[0]}x{sizes[1]}"])


def test_stability_and_fairness_equal_the_portals_previous_values() -> None:
    data = full_set_inputs(2000, 6)
    assert_same(
        metrics.stability(data["reference"], data["holdout"], data["names"]), BEFORE["stability"]
    )
    assert_same(
        metrics.fairness(data["y"], data["pred"], data["groups"], score=data["score"]),
        BEFORE["fairness"],
    )


# --------------------------------------------------------------------------------------------
# Permutation importance through scikit-learn


def test_permutation_importance_shuffles_only_the_features_and_keeps_the_other_columns() -> None:
    rng = np.random.default_rng(0)
    data = pd.DataFrame(
        {
            "target": rng.normal(size=400),
            "x": rng.normal(size=400),
            "group": pd.Categorical(rng.choice(["a", "b"], 400)),
            "z": rng.normal(size=400),
        }
    )
    data["x"] = data["target"] + 0.1 * data["x"]
    seen: list[pd.DataFrame] = []

    def score_fn(rows: pd.DataFrame) -> float:
        seen.append(rows)
        return -float(np.mean((rows["target"] - rows["x"]) ** 2))

    result = metrics.permutation_importance(score_fn, data, ["x", "z"], n_repeats=2)

    assert [r["feature"] for r in result] == ["x", "z"]
    assert result[0]["importance"] > 1 and result[1] == {
        "feature": "z",
        "importance": 0.0,
        "std": 0.0,
    }
    assert len(seen) == 1 + 2 * 2
    for scored in seen:
        assert list(scored.columns) == ["target", "x", "group", "z"]
        pd.testing.assert_series_equal(scored["target"], data["target"])
        pd.testing.assert_series_equal(scored["group"], data["group"])
    assert sorted(seen[1]["x"]) == sorted(data["x"]) and not seen[1]["x"].equals(data["x"])


def test_permutation_importance_refuses_a_score_that_is_not_a_number() -> None:
    data = pd.DataFrame({"x": np.arange(10.0)})
    with pytest.raises(ValueError, match="non-finite"):
        metrics.permutation_importance(lambda frame: math.nan, data, ["x"])
    assert metrics.permutation_importance(lambda frame: 1.0, data, []) == []


# --------------------------------------------------------------------------------------------
# The report names the implementations


def test_every_metric_of_every_task_says_which_library_computed_it() -> None:
    y, score, pred = binary_case("informative", 0)
    classes, proba = multiclass_case(3, 0)
    produced = {
        "binary": metrics.binary_classification(y, score, pred),
        "multiclass": metrics.multiclass_classification(classes, proba, proba.argmax(axis=1)),
        "regression": metrics.regression(score, score + 0.1),
    }
    for task, result in produced.items():
        named = metrics.implementations(task)
        assert set(result) - {"n"} <= set(named["metrics"]), task
        assert set(named["metrics"].values()) <= {
            "scikit-learn",
            "scipy",
            "portal (see docs/metrics.md)",
        }
        assert named["versions"] == {
            "scikit_learn": sklearn.__version__,
            "scipy": scipy.__version__,
            "numpy": np.__version__,
            "pandas": pd.__version__,
        }
    binary = metrics.implementations("binary")["metrics"]
    assert binary["roc_auc"] == "scikit-learn" and binary["ks"] == "scipy"
    assert binary["lift"] == binary["stability.psi"] == "portal (see docs/metrics.md)"
    assert binary["fairness.roc_auc"] == "scikit-learn"
    assert "fairness.roc_auc" not in metrics.implementations("regression")["metrics"]


def test_a_built_report_names_the_library_versions() -> None:
    from sklearn.linear_model import LogisticRegression

    train, holdout = frame(300, 1), frame(120, 2)
    features = ["income", "debt", "tenure"]
    model = LogisticRegression().fit(train[features], train["default"])
    built = report.build(
        model,
        holdout=holdout.drop(columns="age_band"),
        target="default",
        reference=None,
        sensitive=None,
        champion=None,
        progress=lambda percent, step: None,
    )

    assert built["implementations"]["versions"]["scikit_learn"] == sklearn.__version__
    assert built["implementations"]["versions"]["scipy"] == scipy.__version__
    assert built["implementations"]["metrics"]["importance"] == "scikit-learn"
    assert_plain_json(built["implementations"])


@pytest.mark.django_db
def test_the_report_page_names_the_versions_and_an_older_report_still_renders(
    people, alices_model, models
) -> None:
    version = upload(alices_model, people.alice, models.logistic, holdout=models.holdout)
    validate_now(version)
    client = Client()
    client.force_login(people.alice)
    url = f"/models/{alices_model.slug}/versions/{version.number}/"

    page = client.get(url).content.decode()
    assert (
        f"Computed with scikit-learn {sklearn.__version__} and SciPy {scipy.__version__}; "
        "PSI, lift and gain by the portal (definitions in docs/metrics.md)."
    ) in page

    # A report stored before the block existed: the same page, without the line.
    stored = ValidationReport.objects.get(version=version)
    older = {k: v for k, v in stored.data.items() if k != "implementations"}
    ValidationReport.objects.filter(pk=stored.pk).update(data=older)
    answer = client.get(url)
    page = answer.content.decode()
    assert answer.status_code == 200
    assert "Computed with" not in page
    assert "Performance on 600 holdout rows" in page and "Policy checks" in page
