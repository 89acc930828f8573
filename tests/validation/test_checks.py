"""Judging a report against a policy's thresholds."""

from __future__ import annotations

from apps.validation import checks

REPORT = {
    "task": "binary",
    "primary_metric": "roc_auc",
    "metrics": {"roc_auc": 0.81, "accuracy": 0.77},
    "stability": [{"feature": "a", "psi": 0.02}, {"feature": "b", "psi": 0.31}],
    "fairness": {"demographic_parity_difference": 0.04, "equal_opportunity_difference": 0.12},
    "latency": {"ms_per_row_single": 2.5},
    "champion": {"comparable": True, "differences": {"roc_auc": -0.03}},
}


def judged(thresholds: dict[str, float], report: dict | None = None) -> dict[str, object]:
    return {r["key"]: r["passed"] for r in checks.evaluate(thresholds, report or REPORT)}


def test_each_check_reads_its_measure():
    assert judged({"min_roc_auc": 0.8, "min_accuracy": 0.8}) == {
        "min_roc_auc": True,
        "min_accuracy": False,
    }
    assert judged({"max_psi": 0.25}) == {"max_psi": False}  # the largest PSI counts
    assert judged({"max_fairness_gap": 0.1}) == {"max_fairness_gap": False}  # the larger gap
    assert judged({"max_latency_ms": 5}) == {"max_latency_ms": True}
    assert judged({"max_champion_drop": 0.02}) == {"max_champion_drop": False}  # 0.03 worse
    assert judged({"max_champion_drop": 0.05}) == {"max_champion_drop": True}


def test_checks_without_a_measure_are_not_applicable():
    regression = {
        "task": "regression",
        "primary_metric": "r2",
        "metrics": {"r2": 0.4},
        "stability": None,
        "fairness": None,
        "champion": None,
    }
    assert judged(
        {
            "min_roc_auc": 0.7,
            "max_psi": 0.2,
            "max_fairness_gap": 0.1,
            "max_champion_drop": 0.01,
            "min_r2": 0.3,
        },
        regression,
    ) == {
        "min_roc_auc": None,
        "max_psi": None,
        "max_fairness_gap": None,
        "max_champion_drop": None,
        "min_r2": True,
    }
    result = checks.evaluate({"max_psi": 0.2}, regression)[0]
    assert result["note"] == "no reference sample was uploaded"


def test_failures_read_as_sentences_and_unknown_keys_are_ignored():
    results = checks.evaluate({"min_roc_auc": 0.9, "max_psi": 0.25, "not_a_check": 1}, REPORT)
    assert [r["key"] for r in results] == ["min_roc_auc", "max_psi"]
    assert checks.failures(results) == [
        "ROC AUC is 0.81; the policy requires at least 0.9.",
        "Largest feature PSI is 0.31; the policy requires at most 0.25.",
    ]


def test_fairness_of_a_model_that_is_not_a_binary_classifier_is_not_blamed_on_the_column():
    for task in ("multiclass", "regression"):
        report = {"task": task, "sensitive_column": "age_band", "fairness": None}
        result = checks.evaluate({"max_fairness_gap": 0.1}, report)[0]
        assert result["passed"] is None
        assert result["note"] == "fairness is measured for binary classifiers only"
    unnamed = {"task": "multiclass", "sensitive_column": None, "fairness": None}
    assert checks.evaluate({"max_fairness_gap": 0.1}, unnamed)[0]["note"] == (
        "no sensitive column was named"
    )


def test_a_tie_with_the_champion_is_a_drop_of_zero_not_minus_zero():
    tie = {**REPORT, "champion": {"comparable": True, "differences": {"roc_auc": 0.0}}}
    (check,) = checks.evaluate({"max_champion_drop": 0.01}, tie)
    assert check["passed"] is True
    assert f"{check['value']:.4g}" == "0"  # what the CLI and the report print
