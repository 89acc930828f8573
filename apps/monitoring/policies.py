"""Monitoring policies: the levels each risk tier's live models are judged by.

Without a policy a tier is judged by the defaults below (PSI 0.1 warning and 0.25 alert, the
other checks off). A level left empty switches its check off. A model whose use needs other
levels (a batch model called once a day, a model with a tighter latency budget) can have a
policy of its own, which replaces its tier's until an administrator removes it.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from django.contrib.auth.models import User
from django.core.exceptions import ValidationError
from django.db import transaction

from apps.audit import services as audit
from apps.core.audit_actions import AuditAction
from apps.core.errors import Conflict
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
    "no_traffic_hours": Level(
        "Alert after this many hours without a request",
        None,
        "for models expected to be called all the time",
    ),
}


@dataclass(frozen=True)
class Applied:
    """The levels a deployment is judged by, and where they come from (named in alerts)."""

    levels: dict[str, float | None]
    source: str


def current(risk_tier: str) -> MonitoringPolicy | None:
    return MonitoringPolicy.objects.filter(
        risk_tier=risk_tier, model__isnull=True, is_current=True
    ).first()


def current_of_model(model: RegisteredModel) -> MonitoringPolicy | None:
    return MonitoringPolicy.objects.filter(model=model, is_current=True).first()


def applied(
    model: RegisteredModel,
    tiers: dict[str, MonitoringPolicy] | None = None,
    own: dict[int, MonitoringPolicy] | None = None,
) -> Applied:
    """The model's own current policy if it has one, else its tier's, over the defaults
    (``tiers`` and ``own``: from ``current_by_tier`` and ``current_by_model``, to spare two
    queries per model)."""
    policy = current_of_model(model) if own is None else own.get(model.pk)
    if policy is None:
        policy = tiers.get(model.risk_tier) if tiers is not None else current(model.risk_tier)
    return Applied(applied_levels(policy), str(policy) if policy is not None else "default levels")


def applied_levels(policy: MonitoringPolicy | None) -> dict[str, float | None]:
    """The levels a policy (or, for None, the defaults) judges by."""
    defaults = {name: level.default for name, level in LEVELS.items()}
    return {**defaults, **(policy.levels if policy is not None else {})}


def current_by_tier() -> dict[str, MonitoringPolicy]:
    return {
        p.risk_tier: p for p in MonitoringPolicy.objects.filter(is_current=True, model__isnull=True)
    }


def current_by_model() -> dict[int, MonitoringPolicy]:
    """The models with a policy of their own, by model id."""
    found = MonitoringPolicy.objects.filter(is_current=True, model__isnull=False)
    return {p.model_id: p for p in found.select_related("model") if p.model_id is not None}


def _checked(actor: User, levels: dict[str, float | None], note: str) -> dict[str, float | None]:
    require(actor, CHANGE_POLICY, message="Only administrators change monitoring policies.")
    unknown = set(levels) - set(LEVELS)
    if unknown:
        raise ValidationError(f"Unknown levels: {', '.join(sorted(unknown))}.")
    if not note.strip():
        raise ValidationError({"note": "Say why the policy changes."})
    warning, alert = levels.get("psi_warning"), levels.get("psi_alert")
    if warning is not None and alert is not None and alert < warning:
        raise ValidationError({"psi_alert": "The alert level is at least the warning level."})
    return {name: levels.get(name) for name in LEVELS}


def _replace(
    actor: User, scope: Any, levels: dict[str, float | None], note: str, **fields: Any
) -> MonitoringPolicy:
    """Make the next version in ``scope`` (a tier's or a model's policies) current, audited."""
    scope = scope.select_for_update()
    before = scope.filter(is_current=True).first()
    number = max(scope.values_list("number", flat=True), default=0) + 1
    scope.filter(is_current=True).update(is_current=False)
    policy = MonitoringPolicy.objects.create(
        number=number, levels=levels, note=note.strip(), created_by=actor, **fields
    )
    audit.record(
        actor,
        AuditAction.MONITORING_POLICY_CHANGED,
        policy,
        before={"number": before.number, "levels": before.levels} if before else None,
        after={"number": number, "levels": levels, "note": policy.note},
    )
    return policy


@transaction.atomic
def update(
    *, actor: User, risk_tier: str, levels: dict[str, float | None], note: str
) -> MonitoringPolicy:
    """Make a new version of a tier's monitoring policy current; administrators only."""
    chosen = _checked(actor, levels, note)
    if risk_tier not in RegisteredModel.RiskTier.values:
        raise ValidationError({"risk_tier": f"There is no risk tier “{risk_tier}”."})
    scope = MonitoringPolicy.objects.filter(risk_tier=risk_tier, model__isnull=True)
    return _replace(actor, scope, chosen, note, risk_tier=risk_tier)


@transaction.atomic
def update_for_model(
    *, actor: User, model: RegisteredModel, levels: dict[str, float | None], note: str
) -> MonitoringPolicy:
    """Give a model levels of its own (a new version of its policy); administrators only."""
    chosen = _checked(actor, levels, note)
    scope = MonitoringPolicy.objects.filter(model=model)
    return _replace(actor, scope, chosen, note, risk_tier=model.risk_tier, model=model)


@transaction.atomic
def remove_for_model(*, actor: User, model: RegisteredModel, note: str) -> None:
    """Judge a model by its tier's policy again; administrators only. Its own versions stay in
    the history."""
    _checked(actor, {}, note)
    own = MonitoringPolicy.objects.select_for_update().filter(model=model, is_current=True).first()
    if own is None:
        raise Conflict(f"{model.name} has no policy of its own.")
    own.is_current = False
    own.save(update_fields=["is_current"])
    audit.record(
        actor,
        AuditAction.MONITORING_POLICY_CHANGED,
        own,
        before={"number": own.number, "levels": own.levels},
        after={"removed": True, "note": note.strip(), "now": str(applied(model).source)},
    )


def described(values: dict[str, Any]) -> str:
    return ", ".join(f"{name} {value}" for name, value in values.items() if value is not None)
