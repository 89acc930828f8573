"""Periodic review: cadences, the schedule of every production model, triggers, reminders, and
the reviews in which the risk owner and model operations re-certify a live model.

``sweep`` (on beat, every hour; a clock is passed in tests) keeps ``Schedule`` true: one row per
model with a version live in production, due ``cadence.months`` after the later of that
version's approval and the model's last re-certification, or earlier when a trigger brought it
forward. It records each trigger once, sends each reminder once, and opens the periodic review
of a model that is due. People act through ``open_review`` (compliance, at any time),
``request_now`` and ``attest``; each checks who may, runs in one transaction and audits.
"""

from __future__ import annotations

import calendar
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from typing import Any

from django.contrib.auth.models import User
from django.core.exceptions import PermissionDenied, ValidationError
from django.db import transaction
from django.db.models import Count, Q
from django.utils import timezone

from apps.accounts.roles import Role, has_role
from apps.audit import services as audit
from apps.audit.models import AuditEvent
from apps.core.audit_actions import AuditAction
from apps.core.errors import Conflict, required_reason
from apps.core.permissions import require
from apps.deployments.models import Deployment, Placement
from apps.documentation import services as documentation
from apps.findings.models import Finding
from apps.findings.services import applying_to
from apps.monitoring.models import Alert, Health
from apps.notifications import services as notifications
from apps.recertification import events
from apps.recertification.models import Attestation, Cadence, PeriodicReview, Schedule
from apps.registry import services as registry
from apps.registry.models import ModelVersion, RegisteredModel
from apps.reviews.models import Review
from apps.reviews.services import in_team
from apps.validation import checks
from apps.validation.services import latest_report, policy_for

CHANGE_CADENCE = "recertification.change_cadence"
REQUEST = "recertification.request_periodicreview"
ATTEST = "recertification.attest"
REMINDERS = (30, 7, 0)  # days before the due date
DEFAULT_MONTHS = {"high": 12, "medium": 24, "low": 36}


def add_months(day: date, months: int) -> date:
    """The same day ``months`` later, or the month's last day if it has fewer (31 Jan + 1)."""
    month = day.month - 1 + months
    year, month = day.year + month // 12, month % 12 + 1
    return date(year, month, min(day.day, calendar.monthrange(year, month)[1]))


def today(now: datetime | None = None) -> date:
    return timezone.localdate(now or timezone.now())


# --- Cadences ---------------------------------------------------------------------------------


def cadence_for(model: RegisteredModel) -> Cadence:
    own = Cadence.objects.filter(model=model, is_current=True).first()
    if own is not None:
        return own
    tier = Cadence.objects.filter(
        risk_tier=model.risk_tier, model__isnull=True, is_current=True
    ).first()
    if tier is None:  # migration 0002 installs one per tier
        raise RuntimeError(f"no review cadence for {model.risk_tier}-risk models")
    return tier


@transaction.atomic
def update_cadence(
    *,
    actor: User,
    risk_tier: str = "",
    model: RegisteredModel | None = None,
    months: int,
    accepted_alert_days: int = 30,
    note: str,
) -> Cadence:
    require(actor, CHANGE_CADENCE, message="Only administrators change review cadences.")
    if model is None and risk_tier not in RegisteredModel.RiskTier.values:
        raise ValidationError({"risk_tier": "Choose high, medium or low."})
    if not isinstance(months, int) or months < 1 or months > 120:
        raise ValidationError({"months": "A cadence is between 1 and 120 months."})
    if not 1 <= accepted_alert_days <= 365:
        raise ValidationError({"accepted_alert_days": "Between 1 and 365 days."})
    note = required_reason(note, "note")
    scope = (
        Cadence.objects.filter(model=model)
        if model is not None
        else Cadence.objects.filter(risk_tier=risk_tier, model__isnull=True)
    ).select_for_update()
    current = scope.filter(is_current=True).first()
    if current is not None:
        current.is_current = False
        current.save(update_fields=["is_current"])
    cadence = Cadence.objects.create(
        risk_tier=model.risk_tier if model is not None else risk_tier,
        model=model,
        number=max(scope.values_list("number", flat=True), default=0) + 1,
        months=months,
        accepted_alert_days=accepted_alert_days,
        note=note[:300],
        created_by=actor,
    )
    audit.record(
        actor,
        AuditAction.REVIEW_CADENCE_CHANGED,
        cadence,
        before={"months": current.months, "accepted_alert_days": current.accepted_alert_days}
        if current
        else None,
        after={
            "scope": str(cadence),
            "months": months,
            "accepted_alert_days": accepted_alert_days,
            "note": cadence.note,
        },
    )
    return cadence


# --- The schedule -----------------------------------------------------------------------------


def live_in_production(model: RegisteredModel) -> ModelVersion | None:
    placement = (
        Placement.objects.filter(model=model, environment__is_production=True)
        .select_related("deployment__version")
        .order_by("environment__order")
        .first()
    )
    return placement.deployment.version if placement else None


def _basis(model: RegisteredModel, version: ModelVersion) -> tuple[datetime, str]:
    """The later of the live version's approval and the model's last re-certification."""
    approved = (
        Review.objects.filter(version=version, status=Review.Status.APPROVED)
        .values_list("closed_at", flat=True)
        .first()
    )
    candidates = [(approved or version.created_at, f"approval of version {version.number}")]
    last = (
        PeriodicReview.objects.filter(model=model, closed_at__isnull=False)
        .exclude(status=PeriodicReview.Status.REPLACE)
        .order_by("-closed_at")
        .first()
    )
    if last is not None:
        assert last.closed_at is not None
        candidates.append((last.closed_at, f"re-certification {last.number}"))
    return max(candidates, key=lambda c: c[0])


@dataclass
class Trigger:
    key: str  # what makes two sightings the same trigger
    reason: str


def _triggers(
    model: RegisteredModel, version: ModelVersion, since: datetime, cadence: Cadence, now: datetime
) -> list[Trigger]:
    """What, since ``since``, makes the model due now (compliance's requests are recorded when
    made, by ``open_review``)."""
    found = []
    stale = now - timedelta(days=cadence.accepted_alert_days)
    for alert in Alert.objects.filter(
        deployment__model=model,
        deployment__status=Deployment.Status.LIVE,
        deployment__environment__is_production=True,
        state=Alert.State.ACKNOWLEDGED,
        acknowledged_at__lt=stale,
    ):
        found.append(
            Trigger(
                f"alert:{alert.pk}",
                f"an alert ({alert.message}) accepted for more than "
                f"{cadence.accepted_alert_days} days",
            )
        )
    for event in AuditEvent.objects.filter(
        object_type="registry.registeredmodel",
        object_id=str(model.pk),
        occurred_at__gt=since,
        action__in=[AuditAction.MODEL_GOVERNANCE_CHANGED, AuditAction.MODEL_UPDATED],
    ).order_by("id"):
        after = event.after or {}
        if "risk_tier" in after:
            found.append(
                Trigger(f"event:{event.pk}", f"its risk tier changed to {after['risk_tier']}")
            )
        elif "use_case" in after:
            found.append(Trigger(f"event:{event.pk}", "its use case changed"))
    report = latest_report(version)
    policy = policy_for(model)
    if report is not None and report.policy_id != policy.pk:
        failed = checks.failures(checks.evaluate(policy.checks, report.data))
        if failed:
            found.append(
                Trigger(
                    f"policy:{policy.pk}",
                    f"the {policy} is not passed by version {version.number}: {failed[0]}",
                )
            )
    return found


def _people_for(model: RegisteredModel) -> list[User]:
    team = list(User.objects.filter(groups__team=model.team, is_active=True))
    ops = list(User.objects.filter(groups__name=Role.MODEL_OPS, is_active=True))
    return list(dict.fromkeys([*team, model.risk_owner, *ops]))


def _compliance() -> list[User]:
    return list(User.objects.filter(groups__name=Role.COMPLIANCE, is_active=True))


@dataclass
class SweepReport:
    scheduled: int = 0
    removed: int = 0
    triggered: int = 0
    reminded: int = 0
    opened: int = 0
    problems: list[str] = field(default_factory=list)


def sweep(now: datetime | None = None) -> SweepReport:
    """Bring every production model's schedule up to date; one transaction per model."""
    now = now or timezone.now()
    report = SweepReport()
    live = set(
        Placement.objects.filter(environment__is_production=True).values_list("model_id", flat=True)
    )
    for schedule in Schedule.objects.exclude(model_id__in=live):
        schedule.delete()  # nothing in production: nothing to re-certify
        report.removed += 1
    for model in RegisteredModel.objects.filter(pk__in=live).select_related("team", "risk_owner"):
        with transaction.atomic():
            _sweep_model(model, now, report)
    return report


def _sweep_model(model: RegisteredModel, now: datetime, report: SweepReport) -> None:
    version = live_in_production(model)
    if version is None:
        return
    cadence = cadence_for(model)
    since, basis = _basis(model, version)
    basis_on = timezone.localdate(since)
    schedule = Schedule.objects.select_for_update().filter(model=model).first()
    kept = [
        t
        for t in (schedule.triggers if schedule else [])
        if datetime.fromisoformat(t["at"]) > since  # the re-certification answered older ones
    ]
    known = {t["key"] for t in kept}
    for trigger in _triggers(model, version, since, cadence, now):
        if trigger.key in known:
            continue
        kept.append(
            {
                "key": trigger.key,
                "at": now.isoformat(),
                "on": today(now).isoformat(),
                "reason": trigger.reason,
            }
        )
        known.add(trigger.key)
        report.triggered += 1
        audit.record(
            None, AuditAction.REVIEW_PERIODIC_TRIGGERED, model, after={"reason": trigger.reason}
        )
        notifications.emit(
            events.TRIGGERED,
            recipients=_people_for(model),
            title=f"{model}: periodic review brought forward",
            body=f"Because {trigger.reason}.",
            url=model.get_absolute_url(),
            payload={"model": model.slug, "reason": trigger.reason},
        )
    due_on = add_months(basis_on, cadence.months)
    if kept:
        due_on = min(due_on, *(date.fromisoformat(t["on"]) for t in kept))
    replace = (
        PeriodicReview.objects.filter(model=model, status=PeriodicReview.Status.REPLACE)
        .order_by("-closed_at")
        .first()
    )
    if replace is not None and replace.replace_by and replace.version_id == version.pk:
        due_on = min(due_on, replace.replace_by)  # the same version is still live: its deadline
    if schedule is None:
        schedule = Schedule(model=model)
    if schedule.due_on != due_on:
        schedule.reminded = []
    schedule.version, schedule.basis, schedule.basis_on = version, basis, basis_on
    schedule.cadence, schedule.due_on, schedule.triggers = cadence, due_on, kept
    _remind(schedule, now, report)
    schedule.save()
    report.scheduled += 1
    if (
        due_on <= today(now)
        and not PeriodicReview.objects.filter(
            model=model, status=PeriodicReview.Status.OPEN
        ).exists()
    ):
        reason = kept[-1]["reason"] if kept else f"due on {due_on:%-d %B %Y}"
        _open(model, version, due_on, reason, actor=None)
        report.opened += 1


def _remind(schedule: Schedule, now: datetime, report: SweepReport) -> None:
    model, left = schedule.model, (schedule.due_on - today(now)).days
    for days in REMINDERS:
        key = str(days)
        # Only the reminder of the window we are in: a date brought forward to today sends
        # "due today", not three reminders at once.
        window = [d for d in REMINDERS if left <= d]
        if key in schedule.reminded or not window or min(window) != days or left < 0:
            continue
        schedule.reminded = [*schedule.reminded, key]
        report.reminded += 1
        when = "today" if days == 0 else f"in {left} days, on {schedule.due_on:%-d %B %Y}"
        notifications.emit(
            events.DUE,
            recipients=_people_for(model),
            title=f"{model} is due for periodic review {when}",
            body=f"Counted from the {schedule.basis}.",
            url=model.get_absolute_url(),
            payload={"model": model.slug, "due_on": schedule.due_on.isoformat(), "days": left},
        )
    if left < 0 and "overdue" not in schedule.reminded:
        schedule.reminded = [*schedule.reminded, "overdue"]
        report.reminded += 1
        notifications.emit(
            events.OVERDUE,
            recipients=[*_compliance(), *_people_for(model)],
            title=f"{model}'s periodic review is overdue (due {schedule.due_on:%-d %B %Y})",
            body="The model is live in production without a current re-certification.",
            url=model.get_absolute_url(),
            payload={"model": model.slug, "due_on": schedule.due_on.isoformat()},
        )


def state_of(schedule: Schedule, open_review: bool, now: datetime | None = None) -> str:
    """overdue (the date has passed without a re-certification, review open or not), in review,
    due (within 30 days) or upcoming."""
    left = (schedule.due_on - today(now)).days
    if left < 0:
        return "overdue"
    if open_review:
        return "in_review"
    return "due" if left <= REMINDERS[0] else "upcoming"


# --- Reviews ----------------------------------------------------------------------------------


def _open(
    model: RegisteredModel, version: ModelVersion, due_on: date, reason: str, actor: User | None
) -> PeriodicReview:
    number = (
        max(PeriodicReview.objects.filter(model=model).values_list("number", flat=True), default=0)
        + 1
    )
    review = PeriodicReview.objects.create(
        model=model,
        version=version,
        number=number,
        reason=reason[:300],
        due_on=due_on,
        opened_by=actor,
    )
    audit.record(
        actor,
        AuditAction.REVIEW_PERIODIC_OPENED,
        review,
        after={
            "model": model.slug,
            "version": version.number,
            "reason": reason,
            "due_on": due_on.isoformat(),
        },
    )
    ops = User.objects.filter(groups__name=Role.MODEL_OPS, is_active=True)
    notifications.emit(
        events.OPENED,
        recipients=[model.risk_owner, *ops],
        title=f"Periodic review of {model} (version {version.number}) waits for your attestation",
        body=f"Opened because {reason}." if not reason.startswith("due") else f"It is {reason}.",
        url=review.get_absolute_url(),
        payload={"model": model.slug, "review": review.pk},
    )
    return review


@transaction.atomic
def open_review(model_id: int, *, actor: User, reason: str) -> PeriodicReview:
    """Compliance opens a periodic review now, whatever the date (the trigger is recorded)."""
    model = RegisteredModel.objects.select_for_update().get(pk=model_id)
    require(actor, REQUEST, message="Compliance asks for periodic reviews outside the calendar.")
    require(actor, registry.VIEW, model)
    reason = required_reason(reason)
    version = live_in_production(model)
    if version is None:
        raise Conflict(f"{model} has no version live in production to re-certify.")
    _sweep_model(model, timezone.now(), SweepReport())  # the schedule, if the sweep has not run
    if PeriodicReview.objects.filter(model=model, status=PeriodicReview.Status.OPEN).exists():
        raise Conflict(f"A periodic review of {model} is already open.")
    schedule = Schedule.objects.select_for_update().filter(model=model).first()
    if schedule is not None:
        moment = timezone.now()
        schedule.triggers = [
            *schedule.triggers,
            {
                "key": f"compliance:{moment.isoformat()}",
                "at": moment.isoformat(),
                "on": today(moment).isoformat(),
                "reason": f"{actor.username} asked for it: {reason}",
            },
        ]
        schedule.due_on = min(schedule.due_on, today())
        schedule.save(update_fields=["triggers", "due_on", "updated_at"])
    audit.record(
        actor,
        AuditAction.REVIEW_PERIODIC_TRIGGERED,
        model,
        after={"reason": f"{actor.username} asked for it: {reason}"},
    )
    return _open(model, version, today(), f"{actor.username} asked for it: {reason}", actor)


def check_can_attest(actor: User, review: PeriodicReview) -> None:
    if review.status != PeriodicReview.Status.OPEN:
        raise PermissionDenied("This periodic review is closed.")
    version = review.version
    submitted = (
        Review.objects.filter(version=version).values_list("requested_by_id", flat=True).first()
    )
    if actor.pk in (version.uploaded_by_id, submitted):
        raise PermissionDenied(
            "You uploaded or submitted the live version; someone else must attest to it."
        )
    if not _role_for(actor, review):
        raise PermissionDenied(
            f"The attestations are for {review.model.risk_owner.username}, the model's risk "
            "owner, and for model operations."
        )


def _role_for(actor: User, review: PeriodicReview) -> str:
    taken = {a.role: a.person_id for a in review.attestations.all()}
    if actor.pk in taken.values():
        return ""
    if actor.pk == review.model.risk_owner_id and Attestation.Role.RISK_OWNER not in taken:
        return Attestation.Role.RISK_OWNER
    if (
        has_role(actor, Role.MODEL_OPS)
        and not in_team(actor, review.model.team_id)
        and Attestation.Role.MODEL_OPS not in taken
    ):
        return Attestation.Role.MODEL_OPS
    return ""


@transaction.atomic
def attest(
    review_id: int,
    *,
    actor: User,
    outcome: str,
    statement: str,
    replace_by: date | None = None,
) -> Attestation:
    review = (
        PeriodicReview.objects.select_for_update()
        .select_related("model__risk_owner", "model__team", "version")
        .get(pk=review_id)
    )
    require(actor, registry.VIEW, review.model)
    if PeriodicReview.objects.filter(pk=review.pk, attestations__person=actor).exists():
        raise Conflict("You have already attested in this review: one person, one attestation.")
    check_can_attest(actor, review)
    if outcome not in Attestation.Outcome.values:
        raise ValidationError({"outcome": "Re-certify, re-certify with findings, or replace."})
    statement = required_reason(statement, "statement")
    if outcome == Attestation.Outcome.REPLACE and (replace_by is None or replace_by <= today()):
        raise ValidationError(
            {"replace_by": "Give the team a deadline for the new version, after today."}
        )
    attestation = Attestation.objects.create(
        review=review,
        role=_role_for(actor, review),
        person=actor,
        outcome=outcome,
        statement=statement,
    )
    audit.record(
        actor,
        AuditAction.REVIEW_PERIODIC_ATTESTED,
        review,
        after={"role": attestation.role, "outcome": outcome, "statement": statement},
    )
    if outcome == Attestation.Outcome.REPLACE:
        review.replace_by = (
            min(replace_by, review.replace_by) if review.replace_by and replace_by else replace_by
        )
        review.save(update_fields=["replace_by"])
    if {a.role for a in review.attestations.all()} == set(Attestation.Role.values):
        _close(review, actor)
    return attestation


def _close(review: PeriodicReview, actor: User) -> None:
    outcomes = {a.outcome for a in review.attestations.all()}
    if Attestation.Outcome.REPLACE in outcomes:
        review.status = PeriodicReview.Status.REPLACE
    elif Attestation.Outcome.WITH_FINDINGS in outcomes:
        review.status = PeriodicReview.Status.WITH_FINDINGS
    else:
        review.status = PeriodicReview.Status.RECERTIFIED
    review.closed_at = timezone.now()
    review.evidence = evidence(review)
    cadence = cadence_for(review.model)
    if review.status != PeriodicReview.Status.REPLACE:
        review.next_due_on = add_months(timezone.localdate(review.closed_at), cadence.months)
    review.save(update_fields=["status", "closed_at", "evidence", "next_due_on"])
    _sweep_model(review.model, timezone.now(), SweepReport())  # the new date, at once
    audit.record(
        actor,
        AuditAction.REVIEW_PERIODIC_CLOSED,
        review,
        after={
            "status": review.status,
            "next_due_on": review.next_due_on.isoformat() if review.next_due_on else None,
            "replace_by": review.replace_by.isoformat() if review.replace_by else None,
        },
    )
    model = review.model
    title = {
        PeriodicReview.Status.RECERTIFIED: f"{model} was re-certified",
        PeriodicReview.Status.WITH_FINDINGS: f"{model} was re-certified with findings",
        PeriodicReview.Status.REPLACE: f"{model} is to be replaced by {review.replace_by:%-d %B %Y}"
        if review.replace_by
        else f"{model} is to be replaced",
    }[PeriodicReview.Status(review.status)]
    notifications.emit(
        events.CLOSED,
        recipients=_people_for(model),
        title=title,
        body="\n\n".join(
            f"{a.person.username} ({a.get_role_display()}): {a.statement}"
            for a in review.attestations.all()
        ),
        url=review.get_absolute_url(),
        payload={"model": model.slug, "review": review.pk, "status": review.status},
    )


# --- The evidence pack ------------------------------------------------------------------------


def since_of(review: PeriodicReview) -> datetime:
    """Where "since the last review" starts: the last closed periodic review, or the approval
    of the version this review covers."""
    last = (
        PeriodicReview.objects.filter(model=review.model, closed_at__isnull=False)
        .exclude(pk=review.pk)
        .order_by("-closed_at")
        .first()
    )
    if last is not None and last.closed_at is not None:
        return last.closed_at
    approved = (
        Review.objects.filter(version=review.version).values_list("closed_at", flat=True).first()
    )
    return approved or review.version.created_at


CHANGE_KINDS = {
    "versions uploaded": [AuditAction.VERSION_UPLOADED],
    "deployments": [AuditAction.DEPLOYMENT_LIVE, AuditAction.CHALLENGER_PROMOTED],
    "rollbacks": [AuditAction.DEPLOYMENT_ROLLED_BACK],
    "failed deployments": [AuditAction.DEPLOYMENT_FAILED],
    "policy exceptions": [AuditAction.REVIEW_EXCEPTION_REQUESTED],
    "permission changes": [AuditAction.MODEL_SHARED, AuditAction.MODEL_UNSHARED],
    "governance changes": [AuditAction.MODEL_GOVERNANCE_CHANGED, AuditAction.MODEL_UPDATED],
}


def evidence(review: PeriodicReview) -> dict[str, Any]:
    """What the reviewers read: monitoring, findings and changes since the last review, and the
    documentation, as plain data (stored with the review when it closes)."""
    model, version, since = review.model, review.version, since_of(review)
    deployments = Deployment.objects.filter(model=model)
    alerts = Alert.objects.filter(deployment__in=deployments, opened_at__gte=since)
    by_level = dict(alerts.values_list("level").annotate(n=Count("id")).values_list("level", "n"))
    health = [
        {
            # A challenger beside the live version has health of its own: say whose it is.
            "environment": f"{h.deployment.environment.name}, version "
            f"{h.deployment.version.number}"
            + (f" ({h.deployment.mode_label()})" if h.deployment.is_challenger else ""),
            "state": h.get_state_display(),
            "drifted_feature": h.drifted_feature,
            "drifted_psi": h.drifted_psi,
            "metric": h.performance_metric,
            "performance": h.performance,
            "validated": h.validated,
        }
        for h in Health.objects.filter(
            deployment__model=model, deployment__status=Deployment.Status.LIVE
        )
        .select_related("deployment__environment", "deployment__version")
        .order_by("deployment__environment__order", "deployment__mode")
    ]
    findings = [
        {
            "id": f.pk,
            "title": f.title,
            "severity": f.get_severity_display(),
            "state": f.get_state_display(),
            "owner": f.owner.username,
            "due_date": f.due_date.isoformat(),
        }
        for f in applying_to(version).exclude(state=Finding.State.CLOSED).select_related("owner")
    ]
    version_ids = [str(pk) for pk in model.versions.values_list("pk", flat=True)]
    deployment_ids = [str(pk) for pk in deployments.values_list("pk", flat=True)]
    events_since = AuditEvent.objects.filter(occurred_at__gte=since).filter(
        Q(object_type="registry.registeredmodel", object_id=str(model.pk))
        | Q(object_type="registry.modelversion", object_id__in=version_ids)
        | Q(object_type="deployments.deployment", object_id__in=deployment_ids)
    )
    counted = dict(
        events_since.values_list("action").annotate(n=Count("id")).values_list("action", "n")
    )
    changes = {
        kind: sum(counted.get(str(a), 0) for a in actions) for kind, actions in CHANGE_KINDS.items()
    }
    latest = documentation.latest_revision(version)
    return {
        "since": since.isoformat(),
        "alerts": {
            "alert": by_level.get("alert", 0),
            "warning": by_level.get("warning", 0),
            "still_open": alerts.exclude(state=Alert.State.RESOLVED).count(),
        },
        "health": health,
        "findings": findings,
        "changes": changes,
        "documentation": {
            "url": documentation.url_of(version),
            "revision": latest.number if latest else None,
            "status": latest.get_status_display() if latest else "not written",
        },
    }
