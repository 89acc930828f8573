"""The decision loop: an alert at alert level on a production deployment of a high- or
medium-risk model opens a monitoring review for its risk owner and model operations, who record
one decision with a reason (segregation of duties as in reviews: not the version's author)."""

from __future__ import annotations

from datetime import date

from django.contrib.auth.models import User
from django.core.exceptions import PermissionDenied, ValidationError
from django.db import transaction
from django.db.models import Q, QuerySet
from django.utils import timezone

from apps.accounts.roles import Role, has_role
from apps.audit import services as audit
from apps.core.audit_actions import AuditAction
from apps.core.errors import Conflict
from apps.core.permissions import can, visible_to
from apps.deployments import services as deployments
from apps.monitoring import events
from apps.monitoring.models import Alert, MonitoringReview
from apps.notifications import services as notifications
from apps.registry import services as registry
from apps.registry.models import RegisteredModel

DECIDE = "monitoring.decide_review"
REVIEWED_TIERS = (RegisteredModel.RiskTier.HIGH, RegisteredModel.RiskTier.MEDIUM)


def open_for(alert: Alert) -> MonitoringReview | None:
    """Open the review an alert calls for (in the evaluation's transaction), or None."""
    deployment = alert.deployment
    model = deployment.model
    if (
        alert.level != Alert.Level.ALERT
        or not deployment.environment.is_production
        or model.risk_tier not in REVIEWED_TIERS
    ):
        return None
    review = MonitoringReview.objects.create(deployment=deployment, alert=alert)
    audit.record(None, AuditAction.MONITORING_REVIEW_OPENED, review, after={"alert": alert.pk})
    operations = User.objects.filter(groups__name=Role.MODEL_OPS, is_active=True)
    notifications.emit(
        events.REVIEW_OPENED,
        recipients=[model.risk_owner, *operations],
        title=f"Decide on {model.name} in {deployment.environment.name}: {alert.message}",
        body="Accept it for now, ask the team for a new version, or roll back.",
        url=review.get_absolute_url(),
        payload={"review": review.pk, "alert": alert.pk, "deployment": deployment.pk},
    )
    return review


def check_can_decide(actor: User, review: MonitoringReview) -> None:
    model = review.deployment.model
    answers = model.risk_owner_id == actor.pk or (
        has_role(actor, Role.MODEL_OPS) and can(actor, registry.VIEW, model)
    )
    if not answers:
        raise PermissionDenied("The model's risk owner or model operations decide.")
    if review.deployment.version.uploaded_by_id == actor.pk:
        raise PermissionDenied("Nobody decides on a version they uploaded.")


@transaction.atomic
def decide(
    review_id: int, *, actor: User, decision: str, reason: str, look_again_on: date | None = None
) -> MonitoringReview:
    review = (
        MonitoringReview.objects.select_for_update()
        .select_related("deployment__model", "deployment__version", "deployment__environment")
        .get(pk=review_id)
    )
    check_can_decide(actor, review)
    if not review.is_open:
        raise Conflict(
            f"This review was decided already ({review.get_decision_display().lower()})."
        )
    if decision not in MonitoringReview.Decision.values:
        raise ValidationError({"decision": "Accept, request a new version, or roll back."})
    reason = reason.strip()
    if not reason:
        raise ValidationError({"reason": "Give the reason for the decision."})
    if decision == MonitoringReview.Decision.ACCEPT:
        if look_again_on is None or look_again_on <= timezone.localdate():
            raise ValidationError({"look_again_on": "Say by when it must be looked at again."})
    else:
        look_again_on = None
    deployment = review.deployment
    if decision == MonitoringReview.Decision.ROLLBACK:
        deployments.rollback(deployment.model_id, deployment.environment.slug, actor=actor)
    _record(review, actor, decision, reason, look_again_on)
    if decision == MonitoringReview.Decision.ROLLBACK:
        # The rolled-back deployment's other open reviews are answered by the same decision.
        others = MonitoringReview.objects.select_for_update().filter(
            deployment=deployment, decision=""
        )
        for other in others.exclude(pk=review.pk):
            _record(
                other,
                actor,
                decision,
                f"Rolled back with the decision on “{review.alert.message}”: {reason}",
                None,
            )
    if decision == MonitoringReview.Decision.NEW_VERSION:
        model = deployment.model
        notifications.emit(
            events.NEW_VERSION_REQUESTED,
            recipients=User.objects.filter(groups=model.team.group, is_active=True),
            title=f"A new version of {model.name} is requested",
            body=f"{actor.username}: {reason}",
            url=review.get_absolute_url(),
            payload={"review": review.pk, "model": model.slug},
        )
    return review


def _record(
    review: MonitoringReview, actor: User, decision: str, reason: str, look_again_on: date | None
) -> None:
    review.decision, review.reason, review.look_again_on = decision, reason, look_again_on
    review.decided_by, review.decided_at = actor, timezone.now()
    review.save(update_fields=["decision", "reason", "look_again_on", "decided_by", "decided_at"])
    audit.record(
        actor,
        AuditAction.MONITORING_REVIEW_DECIDED,
        review,
        after={
            "decision": decision,
            "reason": reason,
            "look_again_on": look_again_on.isoformat() if look_again_on else None,
        },
    )


def waiting_for(user: User) -> QuerySet[MonitoringReview]:
    """Open reviews this person may decide (risk owner of the model, or model operations)."""
    mine = visible_to(user, MonitoringReview.objects.filter(decision=""))
    if has_role(user, Role.MODEL_OPS):
        return mine.exclude(deployment__version__uploaded_by=user)
    return mine.filter(Q(deployment__model__risk_owner=user)).exclude(
        deployment__version__uploaded_by=user
    )
