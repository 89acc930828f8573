"""Governed changes of a model: its risk owner, owning team and risk tier.

The owning team may not choose who signs off its work (decisions §30): it proposes, and the
current risk owner, compliance or an administrator decides. An open review keeps the sign-off
holders it started with; a tier that rises reopens the reviews approved under the lower one.
"""

from __future__ import annotations

from django.contrib.auth.models import User
from django.core.exceptions import PermissionDenied, ValidationError
from django.db import transaction

from apps.accounts.models import Team
from apps.accounts.roles import Role, has_role
from apps.audit import services as audit
from apps.core.audit_actions import AuditAction
from apps.core.errors import Conflict
from apps.core.permissions import can, require
from apps.notifications import services as notifications
from apps.registry import services as registry
from apps.registry.models import ModelVersion, RegisteredModel
from apps.reviews import events
from apps.reviews.models import ModelChange, Review
from apps.reviews.services import DECIDE_CHANGE, current_policy, in_team, reviewers_for

# --- Governed changes of a model: risk owner, team, risk tier -----------------------------------


def may_decide_change(actor: User, model: RegisteredModel) -> bool:
    """The model's current risk owner, compliance (who can see it) or an administrator."""
    if not actor.is_active:
        return False
    return actor.pk == model.risk_owner_id or (
        can(actor, DECIDE_CHANGE) and can(actor, registry.VIEW, model)
    )


def check_can_decide_change(actor: User, model: RegisteredModel) -> None:
    if not may_decide_change(actor, model):
        raise PermissionDenied(
            f"Only {model.risk_owner} (the model's risk owner), compliance or an administrator "
            "decide a change of its risk owner, team or tier."
        )


def check_can_propose(actor: User, model: RegisteredModel) -> None:
    if not may_decide_change(actor, model):
        require(
            actor,
            registry.CHANGE,
            model,
            "Only the model's team proposes a change of its risk owner, team or tier; its risk "
            "owner, compliance or an administrator decides it.",
        )


def _label(model: RegisteredModel, field: str) -> str:
    value = getattr(model, field)
    if isinstance(value, User):
        return value.username
    if isinstance(value, Team):
        return value.slug
    return str(value)


def _new_value(model: RegisteredModel, field: str, value: str) -> User | Team | str:
    """The object a proposed value names, or why it cannot be."""
    value = str(value).strip()
    if field == ModelChange.Field.RISK_OWNER:
        person = User.objects.filter(username=value, is_active=True).first()
        if person is None or not has_role(person, Role.RISK_OWNER):
            raise ValidationError({"value": f"“{value}” is not a person with the risk owner role."})
        return person
    if field == ModelChange.Field.TEAM:
        team = Team.objects.filter(slug=value).first()
        if team is None:
            raise ValidationError({"value": f"There is no team “{value}”."})
        return team
    if field == ModelChange.Field.RISK_TIER:
        if value not in RegisteredModel.RiskTier.values:
            raise ValidationError({"value": "A risk tier is “high”, “medium” or “low”."})
        return value
    raise ValidationError({"field": "Propose a change of “risk_owner”, “team” or “risk_tier”."})


def _check_independence(model: RegisteredModel) -> None:
    """After a change: a policy that wants independent sign-offs cannot have a risk owner from
    the owning team."""
    policy = current_policy(model.risk_tier)
    if (
        policy.required.get(Role.RISK_OWNER)
        and policy.independent
        and in_team(model.risk_owner, model.team_id)
    ):
        raise ValidationError(
            {
                "value": f"{model.risk_owner} is in {model.team}, the team that owns {model}; the "
                f"{policy} wants the risk owner's sign-off from outside the team."
            }
        )


def _decision_makers(model: RegisteredModel) -> list[User]:
    compliance = User.objects.filter(groups__name=Role.COMPLIANCE, is_active=True)
    return [model.risk_owner, *compliance]


@transaction.atomic
def propose_change(
    model_id: int, *, actor: User, field: str, value: str, reason: str
) -> ModelChange:
    """The team proposes a new risk owner, team or risk tier; the risk owner, compliance or an
    administrator deciding it. Proposed by one of those, the change is made at once."""
    model = (
        RegisteredModel.objects.select_for_update()
        .select_related("team", "risk_owner")
        .get(pk=model_id)
    )
    check_can_propose(actor, model)
    reason = reason.strip()
    if not reason:
        raise ValidationError({"reason": "Say why: the reason is part of the record."})
    new = _new_value(model, field, value)
    old_label = _label(model, field)
    new_label = (
        new.username if isinstance(new, User) else new.slug if isinstance(new, Team) else new
    )
    if new_label == old_label:
        raise ValidationError({"value": f"The model's {field.replace('_', ' ')} is already that."})
    pending = ModelChange.objects.filter(
        model=model, field=field, status=ModelChange.Status.PENDING
    ).first()
    if pending is not None:
        raise Conflict(
            f"A change of the {pending.get_field_display().lower()} proposed by "
            f"{pending.proposed_by} is already waiting for approval."
        )
    change = ModelChange.objects.create(
        model=model,
        field=field,
        old_value=old_label,
        new_value=new_label,
        reason=reason,
        proposed_by=actor,
    )
    audit.record(
        actor,
        AuditAction.MODEL_CHANGE_PROPOSED,
        model,
        before={field: old_label},
        after={field: new_label, "reason": reason, "change": change.pk},
    )
    if may_decide_change(actor, model):
        _apply(change, model, new, actor=actor, reason=reason)
    else:
        notifications.emit(
            events.MODEL_CHANGE_PROPOSED,
            recipients=[u for u in _decision_makers(model) if u.pk != actor.pk],
            title=f"{actor.get_full_name() or actor.username} proposes a new "
            f"{change.get_field_display().lower()} for {model}: {old_label} → {new_label}",
            body=reason,
            url=model.get_absolute_url() + "#governance",
            payload={"model": model.slug, "field": field, "old": old_label, "new": new_label},
        )
    return change


@transaction.atomic
def decide_change(change_id: int, *, actor: User, approve: bool, reason: str) -> ModelChange:
    """The model's risk owner, compliance or an administrator approves or rejects a proposal."""
    change = ModelChange.objects.select_for_update().get(pk=change_id)
    model = (
        RegisteredModel.objects.select_for_update()
        .select_related("team", "risk_owner")
        .get(pk=change.model_id)
    )
    check_can_decide_change(actor, model)
    if actor.pk == change.proposed_by_id:
        raise PermissionDenied("You proposed this change; someone else must decide it.")
    if change.status != ModelChange.Status.PENDING:
        raise Conflict(f"This change was already {change.get_status_display().lower()}.")
    reason = reason.strip()
    if not reason:
        raise ValidationError({"reason": "Give a reason: it is part of the record."})
    if _label(model, change.field) != change.old_value:
        raise Conflict(
            f"The model's {change.get_field_display().lower()} changed since this was proposed; "
            "reject it and propose again."
        )
    if approve:
        _apply(change, model, _new_value(model, change.field, change.new_value), actor, reason)
    else:
        change.close(ModelChange.Status.REJECTED, by=actor, reason=reason)
        audit.record(
            actor,
            AuditAction.MODEL_CHANGE_REJECTED,
            model,
            before={change.field: change.old_value},
            after={"proposed": change.new_value, "reason": reason, "change": change.pk},
        )
        _announce_decision(change, model, actor)
    return change


@transaction.atomic
def withdraw_change(change_id: int, *, actor: User) -> ModelChange:
    change = ModelChange.objects.select_for_update().select_related("model").get(pk=change_id)
    if actor.pk != change.proposed_by_id:
        raise PermissionDenied("Only the person who proposed a change withdraws it.")
    if change.status != ModelChange.Status.PENDING:
        raise Conflict(f"This change was already {change.get_status_display().lower()}.")
    change.close(ModelChange.Status.WITHDRAWN)
    audit.record(
        actor,
        AuditAction.MODEL_CHANGE_WITHDRAWN,
        change.model,
        after={"field": change.field, "proposed": change.new_value, "change": change.pk},
    )
    return change


def _apply(
    change: ModelChange,
    model: RegisteredModel,
    new: User | Team | str,
    actor: User,
    reason: str,
) -> None:
    """Make an approved change (inside the caller's transaction, the model row locked)."""
    old_risk_owner, old_team, old_tier = model.risk_owner, model.team, model.risk_tier
    setattr(model, change.field, new)
    _check_independence(model)
    model.save(update_fields=[change.field, "updated_at"])
    effects: dict[str, object] = {}
    if change.field == ModelChange.Field.RISK_OWNER:
        holds_open = Review.objects.filter(
            version__model=model, status=Review.Status.OPEN, risk_owner=old_risk_owner
        ).exists()
        registry.move_risk_owner_access(model, old_risk_owner, keep_old=holds_open)
        if holds_open:
            effects["open_reviews"] = f"{old_risk_owner} keeps the sign-off of the open review"
    elif change.field == ModelChange.Field.TEAM:
        registry.move_team_access(model, old_team)
    else:
        effects["reviews"] = _follow_tier(model, old_tier, actor)
    change.close(ModelChange.Status.APPROVED, by=actor, reason=reason)
    audit.record(
        actor,
        AuditAction.MODEL_GOVERNANCE_CHANGED,
        model,
        before={change.field: change.old_value},
        after={
            change.field: change.new_value,
            "reason": reason,
            "proposed_by": change.proposed_by.username,
            "change": change.pk,
            **effects,
        },
    )
    _announce_decision(change, model, actor, old_risk_owner=old_risk_owner)


def _follow_tier(model: RegisteredModel, old_tier: str, actor: User) -> list[str]:
    """The risk tier changed. Reviews open or approved under a laxer policy than the new tier's
    take the new tier's policy; approved versions go back to review for the sign-offs they now
    lack (they cannot deploy until given). What is live keeps serving."""
    policy = current_policy(model.risk_tier)
    touched: list[str] = []
    reviews = (
        Review.objects.select_for_update()
        .filter(version__model=model, status__in=[Review.Status.OPEN, Review.Status.APPROVED])
        .select_related("version", "policy")
    )
    for review in reviews:
        version = review.version
        if not policy.is_stricter_than(review.policy) or version.status not in (
            ModelVersion.Status.IN_REVIEW,
            ModelVersion.Status.APPROVED,
        ):
            continue
        before = {"status": version.status, "policy": str(review.policy)}
        review.policy = policy
        if review.status == Review.Status.APPROVED:
            review.status, review.closed_at = Review.Status.OPEN, None
            version.status = ModelVersion.Status.IN_REVIEW
            version.save(update_fields=["status"])
        review.save(update_fields=["policy", "status", "closed_at"])
        audit.record(
            actor,
            AuditAction.REVIEW_REOPENED
            if before["status"] == ModelVersion.Status.APPROVED
            else AuditAction.REVIEW_POLICY_RAISED,
            version,
            before=before,
            after={
                "status": version.status,
                "policy": str(policy),
                "reason": f"risk tier changed from {old_tier} to {model.risk_tier}",
            },
        )
        notifications.emit(
            events.REVIEW_REQUESTED,
            recipients=[p for p in reviewers_for(review) if p.pk != actor.pk],
            title=f"Sign-off needed again: {version} (risk tier now {model.risk_tier})",
            body=f"The risk tier of {model} changed from {old_tier} to {model.risk_tier}; the "
            f"{policy} asks for sign-offs this version does not have yet.",
            url=version.get_absolute_url(),
            payload={"model": model.slug, "version": version.number, "reopened": True},
        )
        touched.append(f"v{version.number}")
    return touched


def _announce_decision(
    change: ModelChange, model: RegisteredModel, actor: User, old_risk_owner: User | None = None
) -> None:
    recipients = [change.proposed_by, model.risk_owner]
    if old_risk_owner is not None:
        recipients.append(old_risk_owner)
    notifications.emit(
        events.MODEL_CHANGE_DECIDED,
        recipients=[u for u in recipients if u.pk != actor.pk],
        title=f"{actor.get_full_name() or actor.username} {change.get_status_display().lower()} "
        f"the new {change.get_field_display().lower()} of {model}: "
        f"{change.old_value} → {change.new_value}",
        body=change.decision_reason,
        url=model.get_absolute_url() + "#governance",
        payload={
            "model": model.slug,
            "field": change.field,
            "old": change.old_value,
            "new": change.new_value,
            "status": change.status,
        },
    )
