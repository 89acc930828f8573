"""Raising findings and tracking them to closure.

Model operations, risk owners and compliance raise a finding on a version they can see, for a
person of the model's team to answer. The owner answers with the remediation; the person who
raised it verifies and closes it, or reopens it. Every step has a reason, is audited and tells
the other side. An open finding of high or critical severity blocks approval of its model's
versions (it carries over to later versions until closed), unless the review is a policy
exception (decisions §35).
"""

from __future__ import annotations

from datetime import date
from typing import Any

from django.contrib.auth.models import User
from django.core.exceptions import PermissionDenied, ValidationError
from django.db import transaction
from django.db.models import Q, QuerySet
from django.utils import timezone

from apps.accounts.models import Team
from apps.audit import services as audit
from apps.core.audit_actions import AuditAction
from apps.core.errors import Conflict, required_reason
from apps.core.permissions import require
from apps.findings import events
from apps.findings.models import Finding
from apps.notifications import services as notifications
from apps.registry import services as registry
from apps.registry.models import ModelVersion

RAISE = "findings.add_finding"


def check_can_raise(actor: User, version: ModelVersion) -> None:
    require(
        actor,
        RAISE,
        message="Model operations, risk owners and compliance raise findings.",
    )
    require(actor, registry.VIEW_VERSION, version)


def check_can_remediate(actor: User, finding: Finding) -> None:
    if actor.pk != finding.owner_id:
        raise PermissionDenied(
            f"Only the finding's owner, {finding.owner.username}, answers it with a remediation."
        )


def check_can_verify(actor: User, finding: Finding) -> None:
    if actor.pk != finding.raised_by_id:
        raise PermissionDenied(
            f"Only {finding.raised_by.username}, who raised the finding, verifies and closes or "
            "reopens it."
        )


def _described(finding: Finding) -> dict[str, Any]:
    return {
        "model": finding.model.slug,
        "version": finding.version.number,
        "title": finding.title,
        "severity": finding.severity,
        "category": finding.category,
        "owner": finding.owner.username,
        "due_date": finding.due_date.isoformat(),
        "state": finding.state,
    }


def _choice(value: str, choices: Any, what: str) -> str:
    if value not in choices.values:
        raise ValidationError({what: f"Choose one of: {', '.join(choices.values)}."})
    return value


@transaction.atomic
def raise_finding(
    version_id: int,
    *,
    actor: User,
    title: str,
    severity: str,
    category: str,
    description: str,
    owner: User,
    due_date: date,
) -> Finding:
    version = ModelVersion.objects.select_related("model__team").get(pk=version_id)
    check_can_raise(actor, version)
    title = title.strip()
    if not title:
        raise ValidationError({"title": "Give the finding a title."})
    _choice(severity, Finding.Severity, "severity")
    _choice(category, Finding.Category, "category")
    description = required_reason(description, "description")
    if due_date < timezone.localdate():
        raise ValidationError({"due_date": f"The due date {due_date} is in the past."})
    team = version.model.team
    if not owner.is_active or not Team.objects.filter(pk=team.pk, group__user=owner).exists():
        raise ValidationError(
            {"owner": f"The owner must be an active member of {team}, the model's team."}
        )
    finding = Finding.objects.create(
        model=version.model,
        version=version,
        title=title[:200],
        severity=severity,
        category=category,
        description=description,
        owner=owner,
        due_date=due_date,
        raised_by=actor,
    )
    audit.record(actor, AuditAction.FINDING_RAISED, finding, after=_described(finding))
    notifications.emit(
        events.RAISED,
        recipients=[owner, version.model.risk_owner],
        title=f"{finding.get_severity_display()} finding on {version}: {finding.title}",
        body=f"Owner {owner.username}, due {due_date}. {description}",
        url=finding.get_absolute_url(),
        payload={"finding": finding.pk, **_described(finding)},
    )
    return finding


def _locked(finding_id: int) -> Finding:
    return (
        Finding.objects.select_for_update()
        .select_related("model", "version", "owner", "raised_by")
        .get(pk=finding_id)
    )


@transaction.atomic
def remediate(finding_id: int, *, actor: User, remediation: str) -> Finding:
    """The owner says what was done; the finding waits for the raiser to verify it."""
    finding = _locked(finding_id)
    check_can_remediate(actor, finding)
    remediation = required_reason(remediation, "remediation")
    if finding.state != Finding.State.OPEN:
        raise Conflict(f"This finding is {finding.get_state_display().lower()}, not open.")
    before = _described(finding)
    finding.state, finding.remediation = Finding.State.REMEDIATED, remediation
    finding.remediated_at = timezone.now()
    finding.save(update_fields=["state", "remediation", "remediated_at"])
    audit.record(
        actor,
        AuditAction.FINDING_REMEDIATED,
        finding,
        before=before,
        after={**_described(finding), "remediation": remediation},
    )
    notifications.emit(
        events.REMEDIATED,
        recipients=[finding.raised_by],
        title=f"{actor.username} answered the finding “{finding.title}”: verify it",
        body=remediation,
        url=finding.get_absolute_url(),
        payload={"finding": finding.pk, **_described(finding)},
    )
    return finding


@transaction.atomic
def close(finding_id: int, *, actor: User, reason: str) -> Finding:
    """The raiser verified the remediation."""
    return _verify(finding_id, actor, reason, Finding.State.CLOSED)


@transaction.atomic
def reopen(finding_id: int, *, actor: User, reason: str) -> Finding:
    """The raiser found the remediation wanting: back to its owner."""
    return _verify(finding_id, actor, reason, Finding.State.OPEN)


def _verify(finding_id: int, actor: User, reason: str, to: str) -> Finding:
    finding = _locked(finding_id)
    check_can_verify(actor, finding)
    reason = required_reason(reason)
    if finding.state != Finding.State.REMEDIATED:
        raise Conflict(
            f"This finding is {finding.get_state_display().lower()}: it is verified once its "
            "owner has answered with a remediation."
        )
    before = _described(finding)
    finding.state, finding.last_reason = to, reason
    finding.closed_at = timezone.now() if to == Finding.State.CLOSED else None
    finding.save(update_fields=["state", "last_reason", "closed_at"])
    closed = to == Finding.State.CLOSED
    audit.record(
        actor,
        AuditAction.FINDING_CLOSED if closed else AuditAction.FINDING_REOPENED,
        finding,
        before=before,
        after={**_described(finding), "reason": reason},
    )
    notifications.emit(
        events.CLOSED if closed else events.REOPENED,
        recipients=[finding.owner],
        title=f"{actor.username} {'closed' if closed else 'reopened'} the finding "
        f"“{finding.title}”",
        body=reason,
        url=finding.get_absolute_url(),
        payload={"finding": finding.pk, **_described(finding)},
    )
    return finding


def blocking(version: ModelVersion) -> list[Finding]:
    """The open high and critical findings that stand in the way of approving ``version``:
    raised on it or on an earlier version of its model (a finding carries over until closed)."""
    return [f for f in applying_to(version).select_related("version") if f.blocks_approval]


def applying_to(version: ModelVersion) -> QuerySet[Finding]:
    """The findings that concern ``version``: raised on it, or on an earlier version of its
    model and not closed yet (a finding carries over until closed), oldest first."""
    return (
        Finding.objects.filter(model_id=version.model_id, version__number__lte=version.number)
        .filter(Q(version=version) | ~Q(state=Finding.State.CLOSED))
        .order_by("raised_at", "id")
    )


def approval_blockers(version: ModelVersion) -> list[str]:
    """What the findings say against approving ``version``, one sentence each (the reviews
    app asks every app through the registry)."""
    return [blocker_sentence(f) for f in blocking(version)]


def blocker_sentence(finding: Finding) -> str:
    return (
        f"{finding.get_severity_display()} finding “{finding.title}” (raised on version "
        f"{finding.version.number}, {finding.get_state_display().lower()})"
    )
