"""Policy checks: what each one measures in a report, and how a report is judged against them.

Pure functions over the report's JSON; the thresholds come from a ValidationPolicy.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

Report = dict[str, Any]


def _metric(name: str) -> Callable[[Report], float | None]:
    return lambda report: report.get("metrics", {}).get(name)


def _largest_psi(report: Report) -> float | None:
    values = [row["psi"] for row in report.get("stability") or [] if row.get("psi") is not None]
    return max(values) if values else None


def _fairness_gap(report: Report) -> float | None:
    fairness = report.get("fairness") or {}
    gaps = [
        fairness.get(k) for k in ("demographic_parity_difference", "equal_opportunity_difference")
    ]
    present = [g for g in gaps if g is not None]
    return max(present) if present else None


def _why_no_fairness(report: Report) -> str:
    if not report.get("sensitive_column"):
        return "no sensitive column was named"
    if report.get("task") != "binary":
        return "fairness is measured for binary classifiers only"
    return "no two groups could be compared"


def _latency(report: Report) -> float | None:
    return (report.get("latency") or {}).get("ms_per_row_single")


def _champion_drop(report: Report) -> float | None:
    champion = report.get("champion") or {}
    if not champion.get("comparable"):
        return None
    difference = champion.get("differences", {}).get(report.get("primary_metric", ""))
    if difference is None:
        return None
    return 0.0 - difference  # positive: worse than the champion (and no "-0" for a tie)


@dataclass(frozen=True)
class Check:
    key: str
    label: str
    comparison: str  # ">=" or "<="
    measure: Callable[[Report], float | None]
    # Shown when the report has nothing to measure: a sentence, or one that depends on the report.
    not_applicable: str | Callable[[Report], str]

    def _why_not_applicable(self, report: Report) -> str:
        if callable(self.not_applicable):
            return self.not_applicable(report)
        return self.not_applicable

    def judge(self, threshold: float, report: Report) -> dict[str, Any]:
        value = self.measure(report)
        if value is None:
            passed = None
        elif self.comparison == ">=":
            passed = value >= threshold
        else:
            passed = value <= threshold
        return {
            "key": self.key,
            "label": self.label,
            "comparison": self.comparison,
            "threshold": threshold,
            "value": value,
            "passed": passed,
            "note": self._why_not_applicable(report) if value is None else "",
        }


CHECKS = {
    check.key: check
    for check in [
        Check(
            "min_roc_auc",
            "ROC AUC",
            ">=",
            _metric("roc_auc"),
            "not a binary classifier, or the holdout has one class only",
        ),
        Check("min_accuracy", "Accuracy", ">=", _metric("accuracy"), "not a classifier"),
        Check("min_r2", "R²", ">=", _metric("r2"), "not a regression model"),
        Check(
            "max_psi", "Largest feature PSI", "<=", _largest_psi, "no reference sample was uploaded"
        ),
        Check(
            "max_fairness_gap",
            "Fairness gap (parity or opportunity)",
            "<=",
            _fairness_gap,
            _why_no_fairness,
        ),
        Check("max_latency_ms", "Latency for one row (ms)", "<=", _latency, "not measured"),
        Check(
            "max_champion_drop",
            "Drop of the primary metric below the champion",
            "<=",
            _champion_drop,
            "no comparable champion is live in production",
        ),
    ]
}


def evaluate(thresholds: dict[str, float], report: Report) -> list[dict[str, Any]]:
    """Judge a report; checks that do not apply are neither passed nor failed."""
    return [
        CHECKS[key].judge(float(value), report)
        for key, value in thresholds.items()
        if key in CHECKS
    ]


def failures(results: list[dict[str, Any]]) -> list[str]:
    """One sentence per failed check, for the version's reasons."""
    sentences = []
    for r in results:
        if r["passed"] is False:
            bound = "at least" if r["comparison"] == ">=" else "at most"
            sentences.append(
                f"{r['label']} is {r['value']:.4g}; the policy requires {bound} {r['threshold']:g}."
            )
    return sentences
