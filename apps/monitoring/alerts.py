"""Alerts: raised once per breach by the evaluation, handled by people, resolved on recovery.

Each evaluation lists the checks a live deployment breaches now (``breaches``). A breach with no
unresolved alert of its check raises one (audited, and announced to the model's team, its risk
owner and model operations); a breach that goes on only moves the alert's ``last_breach_at``
(and raises its level if it got worse). An alert whose check has not breached for a whole
window (24 hours) is resolved by the evaluation, saying so. People who answer for the model
acknowledge and resolve alerts with a reason; compliance reads them.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from django.contrib.auth.models import User
from django.core.exceptions import PermissionDenied
from django.db import transaction
from django.utils import timezone

from apps.accounts.roles import Role, has_role
from apps.audit import services as audit
from apps.core.audit_actions import AuditAction
from apps.core.errors import Conflict, required_reason
from apps.core.permissions import can
from apps.deployments.models import Deployment
from apps.monitoring import events, policies, reviews
from apps.monitoring.models import Alert, Health
from apps.notifications import services as notifications
from apps.registry import services as registry

HANDLE = "monitoring.handle_alert"
_RANKED = {Alert.Level.WARNING: 0, Alert.Level.ALERT: 1}


def breaches(health: Health, applied: policies.Applied) -> list[dict[str, Any]]:
    """The checks ``health`` breaches at the levels ``applied`` (a level left empty is off)."""
    levels = applied.levels
    judged_by = f"{applied.source}: {policies.described(levels)}"[:200]
    found: list[dict[str, Any]] = []

    def breach(check: str, level: str, value: float, message: str) -> None:
        found.append(
            {
                "check_name": check,
                "level": level,
                "value": value,
                "message": message,
                "levels": judged_by,
            }
        )

    warning, alert = levels.get("psi_warning"), levels.get("psi_alert")
    for check, what, value in (
        (
            f"drift:{health.drifted_feature}",
            f"Drift in {health.drifted_feature}",
            health.drifted_psi,
        ),
        ("drift:score", "Drift in the model's score", health.score_psi),
    ):
        if value is None or (warning is None and alert is None):
            continue
        if alert is not None and value >= alert:
            breach(check, Alert.Level.ALERT, value, f"{what}: PSI {value:.2f} over 24 hours")
        elif warning is not None and value >= warning:
            breach(check, Alert.Level.WARNING, value, f"{what}: PSI {value:.2f} over 24 hours")
    highest = levels.get("max_error_rate")
    if highest is not None and health.error_rate is not None and health.error_rate > highest:
        breach(
            "errors",
            Alert.Level.ALERT,
            health.error_rate,
            f"{100 * health.error_rate:.1f} % of requests refused or failed over 24 hours",
        )
    slowest = levels.get("max_p95_latency_ms")
    if (
        slowest is not None
        and health.latency_p95_ms is not None
        and health.latency_p95_ms > slowest
    ):
        breach(
            "latency",
            Alert.Level.WARNING,
            health.latency_p95_ms,
            f"p95 latency {health.latency_p95_ms:.0f} ms over 24 hours",
        )
    silent_hours = levels.get("no_traffic_hours")
    since = health.last_request_at or health.deployment.live_from
    if silent_hours is not None and since is not None:
        silent = (health.evaluated_at - since).total_seconds() / 3600
        if silent > silent_hours:
            message = (
                f"No requests for {silent:.0f} hours"
                if health.last_request_at
                else f"No requests since it went live {silent:.0f} hours ago"
            )
            breach("no_traffic", Alert.Level.ALERT, silent, message)
    drop = levels.get("max_performance_drop")
    enough = health.labelled >= (levels.get("min_labelled") or 0)
    if (
        drop is not None
        and enough
        and health.performance is not None
        and health.validated is not None
    ):
        fell = health.performance - health.validated
        if health.performance_metric != "rmse":
            fell = -fell  # higher is better
        if fell > drop:
            breach(
                f"performance:{health.performance_metric}",
                Alert.Level.ALERT,
                health.performance,
                f"{health.performance_metric} {health.performance:.3f} against "
                f"{health.validated:.3f} at validation, over the last 30 days' predictions",
            )
    return found


def _people_to_tell(deployment: Deployment) -> list[User]:
    model = deployment.model
    team = list(User.objects.filter(groups=model.team.group, is_active=True))
    operations = list(User.objects.filter(groups__name=Role.MODEL_OPS, is_active=True))
    return list(dict.fromkeys([*team, model.risk_owner, *operations]))


def record(deployment: Deployment, found: list[dict[str, Any]], now: datetime) -> list[Alert]:
    """Raise, update and resolve the deployment's alerts after one evaluation (the caller's
    transaction). Returns the alerts raised now."""
    unresolved = {
        a.check_name: a
        for a in Alert.objects.select_for_update()
        .filter(deployment=deployment)
        .exclude(state=Alert.State.RESOLVED)
    }
    raised = []
    for breach in found:
        held = unresolved.pop(breach["check_name"], None)
        if held is None:
            alert = Alert.objects.create(
                deployment=deployment, opened_at=now, last_breach_at=now, **breach
            )
            audit.record(None, AuditAction.ALERT_RAISED, alert, after=_described(alert))
            notifications.emit(
                events.ALERT_RAISED,
                recipients=_people_to_tell(deployment),
                title=f"{deployment.model.name} in {deployment.environment.name}: {alert.message}",
                body=f"{alert.get_level_display()}, judged by {alert.levels}.",
                url=alert.get_absolute_url(),
                payload={"alert": alert.pk, "deployment": deployment.pk, **_described(alert)},
            )
            raised.append(alert)
            if not deployment.is_challenger:  # a challenger is stopped instead, below
                reviews.open_for(alert)
            continue
        held.last_breach_at = now
        fields = ["last_breach_at"]
        if _RANKED[breach["level"]] > _RANKED[Alert.Level(held.level)]:
            held.level, held.message, held.value = (
                breach["level"],
                breach["message"],
                breach["value"],
            )
            fields += ["level", "message", "value"]
        held.save(update_fields=fields)
    for alert in unresolved.values():
        if now - alert.last_breach_at >= _window():
            _resolve(alert, None, "Back within bounds for 24 hours.", now)
    if deployment.is_challenger:
        _guard_rail(deployment)
    return raised


def _guard_rail(challenger: Deployment) -> None:
    """A challenger with an alert-level breach stops at once, by the system, the alert its
    reason: nobody waits for a person to notice that a version meant to be tried is failing."""
    from apps.deployments import services as deployments

    breach = (
        Alert.objects.filter(deployment=challenger, level=Alert.Level.ALERT)
        .exclude(state=Alert.State.RESOLVED)
        .order_by("opened_at")
        .first()
    )
    if breach is None:
        return
    stopped = deployments.stop_breaching_challenger(challenger.pk, breach)
    if stopped is None:
        return
    notifications.emit(
        events.CHALLENGER_STOPPED,
        recipients=_people_to_tell(challenger),
        title=f"{challenger.model.name}: the challenger in {challenger.environment.name} was "
        "stopped",
        body=f"Version {challenger.version.number} ({challenger.mode_label()}): {breach.message}",
        url=breach.get_absolute_url(),
        payload={"deployment": challenger.pk, "alert": breach.pk, **_described(breach)},
    )


def _window() -> Any:
    from apps.monitoring.health import WINDOW

    return WINDOW


def _described(alert: Alert) -> dict[str, Any]:
    return {
        "check": alert.check_name,
        "level": alert.level,
        "state": alert.state,
        "value": alert.value,
        "message": alert.message,
    }


def check_can_handle(actor: User, alert: Alert) -> None:
    """Who acknowledges and resolves: the model's team, its risk owner, model operations."""
    model = alert.deployment.model
    answers = (
        can(actor, registry.CHANGE, model)
        or model.risk_owner_id == actor.pk
        or (has_role(actor, Role.MODEL_OPS) and can(actor, registry.VIEW, model))
        or can(actor, registry.ADMINISTER)
    )
    if not answers:
        raise PermissionDenied(
            "Only the model's team, its risk owner and model operations handle its alerts."
        )


def _locked(alert_id: int) -> Alert:
    return Alert.objects.select_for_update().select_related("deployment__model").get(pk=alert_id)


@transaction.atomic
def acknowledge(alert_id: int, *, actor: User, reason: str) -> Alert:
    alert = _locked(alert_id)
    check_can_handle(actor, alert)
    reason = required_reason(reason)
    if alert.state != Alert.State.OPEN:
        raise Conflict(f"This alert is {alert.get_state_display().lower()} already.")
    before = _described(alert)
    alert.state, alert.acknowledged_by = Alert.State.ACKNOWLEDGED, actor
    alert.acknowledged_at, alert.acknowledgement = timezone.now(), reason
    alert.save(update_fields=["state", "acknowledged_by", "acknowledged_at", "acknowledgement"])
    audit.record(
        actor,
        AuditAction.ALERT_ACKNOWLEDGED,
        alert,
        before=before,
        after={**_described(alert), "reason": reason},
    )
    return alert


@transaction.atomic
def resolve(alert_id: int, *, actor: User, reason: str) -> Alert:
    alert = _locked(alert_id)
    check_can_handle(actor, alert)
    if alert.state == Alert.State.RESOLVED:
        raise Conflict("This alert is resolved already.")
    return _resolve(alert, actor, required_reason(reason), timezone.now())


def _resolve(alert: Alert, actor: User | None, reason: str, now: datetime) -> Alert:
    before = _described(alert)
    alert.state, alert.resolved_by, alert.resolved_at, alert.resolution = (
        Alert.State.RESOLVED,
        actor,
        now,
        reason,
    )
    alert.save(update_fields=["state", "resolved_by", "resolved_at", "resolution"])
    audit.record(
        actor,
        AuditAction.ALERT_RESOLVED,
        alert,
        before=before,
        after={**_described(alert), "reason": reason},
    )
    deployment = alert.deployment
    notifications.emit(
        events.ALERT_RESOLVED,
        recipients=_people_to_tell(deployment),
        title=f"Resolved: {deployment.model.name} in {deployment.environment.name}: "
        f"{alert.message}",
        body=f"{reason} ({actor.username if actor else 'the monitoring evaluation'})",
        url=alert.get_absolute_url(),
        payload={"alert": alert.pk, "deployment": deployment.pk, **_described(alert)},
    )
    return alert


def handled_by(actor: User, alert: Alert) -> bool:
    try:
        check_can_handle(actor, alert)
    except PermissionDenied:
        return False
    return alert.state != Alert.State.RESOLVED
