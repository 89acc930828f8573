"""Monitoring policies: the levels each risk tier's live models are judged by.

Without a policy a tier is judged by the defaults below (PSI 0.1 warning and 0.25 alert, the
other checks off). A level left empty switches its check off.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from django.contrib.auth.models import User
from django.core.exceptions import ValidationError
from django.db import transaction

from apps.audit import services as audit
from apps.core.audit_actions import AuditAction
from apps.core.permissions import require
from apps.monitoring.models import MonitoringPolicy
from apps.registry.models import RegisteredModel

CHANGE_POLICY = "monitoring.change_monitoringpolicy"


@dataclass(frozen=True)
class Level:
    label: str
    default: float | None
    help: str


LEVELS = {
    "psi_warning": Level("PSI warning level", 0.1, "a feature's or the score's PSI over 24 hours"),
    "psi_alert": Level("PSI alert level", 0.25, "as above; at least the warning level"),
    "max_error_rate": Level(
        "Highest error rate", None, "refused and failed requests over all requests, 0 to 1"
    ),
    "max_p95_latency_ms": Level("Highest p95 latency (ms)", None, "over 24 hours"),
    "max_performance_drop": Level(
        "Largest drop of the primary metric from validation",
        None,
        "ROC AUC, accuracy: a fall; RMSE: a rise; over the last 30 days' predictions",
    ),
    "min_labelled": Level(
        "Outcomes needed before performance is judged", 100, "labelled rows in the window"
    ),
}


@dataclass(frozen=True)
class Applied:
    """The levels a deployment is judged by, and where they come from (named in alerts)."""

    levels: dict[str, float | None]
    source: str


def current(risk_tier: str) -> MonitoringPolicy | None:
    return MonitoringPolicy.objects.filter(risk_tier=risk_tier, is_current=True).first()


def applied(model: RegisteredModel, policies: dict[str, MonitoringPolicy] | None = None) -> Applied:
    """The current policy of the model's tier over the defaults (``policies``: by tier, to
    spare a query per model)."""
    policy = (
        (policies or {}).get(model.risk_tier) if policies is not None else current(model.risk_tier)
    )
    return Applied(applied_levels(policy), str(policy) if policy is not None else "default levels")


def applied_levels(policy: MonitoringPolicy | None) -> dict[str, float | None]:
    """The levels a policy (or, for None, the defaults) judges by."""
    defaults = {name: level.default for name, level in LEVELS.items()}
    return {**defaults, **(policy.levels if policy is not None else {})}


def current_by_tier() -> dict[str, MonitoringPolicy]:
    return {p.risk_tier: p for p in MonitoringPolicy.objects.filter(is_current=True)}


@transaction.atomic
def update(
    *, actor: User, risk_tier: str, levels: dict[str, float | None], note: str
) -> MonitoringPolicy:
    """Make a new version of a tier's monitoring policy current; administrators only."""
    require(actor, CHANGE_POLICY, message="Only administrators change monitoring policies.")
    if risk_tier not in RegisteredModel.RiskTier.values:
        raise ValidationError({"risk_tier": f"There is no risk tier “{risk_tier}”."})
    unknown = set(levels) - set(LEVELS)
    if unknown:
        raise ValidationError(f"Unknown levels: {', '.join(sorted(unknown))}.")
    if not note.strip():
        raise ValidationError({"note": "Say why the policy changes."})
    warning, alert = levels.get("psi_warning"), levels.get("psi_alert")
    if warning is not None and alert is not None and alert < warning:
        raise ValidationError({"psi_alert": "The alert level is at least the warning level."})
    scope = MonitoringPolicy.objects.select_for_update().filter(risk_tier=risk_tier)
    before = scope.filter(is_current=True).first()
    number = max(scope.values_list("number", flat=True), default=0) + 1
    scope.filter(is_current=True).update(is_current=False)
    chosen = {name: levels.get(name) for name in LEVELS}
    policy = MonitoringPolicy.objects.create(
        risk_tier=risk_tier, number=number, levels=chosen, note=note.strip(), created_by=actor
    )
    audit.record(
        actor,
        AuditAction.MONITORING_POLICY_CHANGED,
        policy,
        before={"number": before.number, "levels": before.levels} if before else None,
        after={"number": number, "levels": chosen, "note": policy.note},
    )
    return policy


def described(values: dict[str, Any]) -> str:
    return ", ".join(f"{name} {value}" for name, value in values.items() if value is not None)
