"""Review and sign-off of model versions, and the discussion around them.

``decide`` is where concurrency matters: it locks the version row, checks segregation of duties and
the open sign-offs, and relies on two unique constraints (one decision per required sign-off, one
per person) so that even racing requests can never record more than the policy asks for. A
request that loses the race gets ``Conflict`` (HTTP 409) with a sentence saying why.
"""

from __future__ import annotations

import re

import markdown
import nh3
from django.contrib.auth.models import User
from django.core.exceptions import PermissionDenied, ValidationError
from django.db import IntegrityError, transaction
from django.db.models import Q, QuerySet
from django.utils import timezone

from apps.accounts.models import Team
from apps.accounts.roles import Role, has_role, roles_of
from apps.audit import services as audit
from apps.core.audit_actions import AuditAction
from apps.core.errors import Conflict
from apps.core.permissions import can, require, visible_to
from apps.notifications import services as notifications
from apps.registry import services as registry
from apps.registry.models import ModelVersion, RegisteredModel
from apps.reviews import events
from apps.reviews.models import (
    SIGN_OFF_ROLES,
    Comment,
    Decision,
    ModelChange,
    Review,
    ReviewPolicy,
)

REQUEST = "reviews.request_review"
DECIDE = "reviews.decide_review"
CHANGE_POLICY = "reviews.change_reviewpolicy"
# Compliance's and the administrators' capability; a model's risk owner decides its changes too.
DECIDE_CHANGE = "reviews.decide_modelchange"


def current_policy(risk_tier: str) -> ReviewPolicy:
    return ReviewPolicy.objects.get(risk_tier=risk_tier, is_current=True)


def in_team(user: User, *team_ids: int) -> bool:
    """Whether ``user`` is a member of one of the teams (cached per request on the user)."""
    teams: set[int] | None = getattr(user, "_portal_team_ids", None)
    if teams is None:
        teams = set(Team.objects.filter(group__user=user).values_list("pk", flat=True))
        setattr(user, "_portal_team_ids", teams)  # noqa: B010 - a per-request cache
    return any(team_id in teams for team_id in team_ids)


def _not_independent(actor: User, review: Review) -> bool:
    """The review's policy wants sign-offs from outside the owning team, and ``actor`` is in it
    (the team the model had when review was requested, or has now)."""
    return review.policy.independent and in_team(
        actor, review.team_id, review.version.model.team_id
    )


def open_slots(review: Review) -> list[tuple[str, int]]:
    taken = {(d.role, d.slot) for d in review.decisions.all()}
    return [slot for slot in review.policy.slots if slot not in taken]


# --- Requesting review ------------------------------------------------------------------------


def check_can_request(actor: User, version: ModelVersion) -> None:
    require(actor, REQUEST, message="Only data scientists request review.")
    require(
        actor,
        registry.CHANGE,
        version.model,
        "Only the model's team (or people it is shared with for change) request review.",
    )


def reviewers_for(review: Review) -> list[User]:
    """Who is asked: every model operations person, and the model's risk owner if required."""
    required = review.policy.required
    people: list[User] = []
    if required.get(Role.MODEL_OPS):
        people += list(User.objects.filter(groups__name=Role.MODEL_OPS, is_active=True))
    if required.get(Role.RISK_OWNER):
        people.append(review.risk_owner)
    excluded = {review.requested_by_id, review.version.uploaded_by_id}
    return [
        p for p in dict.fromkeys(people) if p.pk not in excluded and not _not_independent(p, review)
    ]


@transaction.atomic
def request_review(
    version_id: int, *, actor: User, summary: str, justification: str = ""
) -> Review:
    version = (
        ModelVersion.objects.select_for_update()
        .select_related("model__risk_owner")
        .get(pk=version_id)
    )
    check_can_request(actor, version)
    summary, justification = summary.strip(), justification.strip()
    if not summary:
        raise ValidationError({"summary": "Say in a few lines what changed and why it is ready."})
    if Review.objects.filter(version=version).exists():
        raise Conflict(f"Version {version.number} has already been submitted for review.")
    model = version.model
    policy = current_policy(model.risk_tier)
    if (
        policy.required.get(Role.RISK_OWNER)
        and policy.independent
        and in_team(model.risk_owner, model.team_id)
    ):
        raise ValidationError(
            f"{model.risk_owner} is in {model.team}, the team that owns {model}; the {policy} "
            "wants its sign-offs from outside the team. Propose another risk owner first."
        )
    exception = version.status == ModelVersion.Status.VALIDATION_FAILED
    if exception:
        if not policy.allow_exceptions:
            raise ValidationError(
                f"Version {version.number} failed validation, and the {policy} does not allow "
                "reviews of failed versions. Fix the problems and upload a new version."
            )
        if not justification:
            raise ValidationError(
                {
                    "justification": "A version that failed validation goes to "
                    "review only with a written justification."
                }
            )
    elif version.status != ModelVersion.Status.VALIDATED:
        raise ValidationError(
            f"Version {version.number} is {version.get_status_display().lower()}"
            "; only validated versions go to review."
        )
    review = Review.objects.create(
        version=version,
        policy=policy,
        requested_by=actor,
        risk_owner=model.risk_owner,
        team=model.team,
        summary=summary,
        is_exception=exception,
        justification=justification if exception else "",
    )
    before = version.status
    version.status = ModelVersion.Status.IN_REVIEW
    version.submitted_at = timezone.now()
    version.save(update_fields=["status", "submitted_at"])
    # One conditional update: two versions submitted at once leave the higher one.
    RegisteredModel.objects.filter(
        Q(latest_submitted__isnull=True) | Q(latest_submitted__number__lt=version.number),
        pk=model.pk,
    ).update(latest_submitted=version)
    # IT runs production for the whole bank: from the first review on, model operations see the
    # model and its submitted versions. A grant that follows from this step, so it is made and
    # recorded here.
    granted = registry.grant_model_operations(model)
    audit.record(
        actor,
        AuditAction.REVIEW_EXCEPTION_REQUESTED if exception else AuditAction.REVIEW_REQUESTED,
        version,
        before={"status": before},
        after={
            "status": version.status,
            "summary": summary,
            "exception": exception,
            "justification": review.justification,
            "policy": str(policy),
            "risk_owner": model.risk_owner.username,
            "granted": "model operations see the model and its submitted versions"
            if granted
            else "model operations now see this version",
        },
    )
    notifications.emit(
        events.REVIEW_REQUESTED,
        recipients=reviewers_for(review),
        title=f"Review requested: {version}" + (" (policy exception)" if exception else ""),
        body=summary,
        url=version.get_absolute_url(),
        payload={
            "model": version.model.slug,
            "version": version.number,
            "requested_by": actor.username,
            "exception": exception,
        },
    )
    return review


# --- Deciding ---------------------------------------------------------------------------------


def _may_fill(actor: User, review: Review, role: str, slot: int) -> bool:
    """The first risk-owner sign-off belongs to the model's own risk owner, the person who answers
    for its decisions: otherwise the model's team could share it with a friendlier risk owner
    and pick its own approver. Further risk-owner sign-offs, where a policy asks for them, may
    come from any other risk owner who can see the model."""
    return role != Role.RISK_OWNER or slot > 1 or actor.pk == review.risk_owner_id


def _role_for(actor: User, review: Review) -> tuple[str, int]:
    """The open sign-off this person may fill, or why not."""
    required = [role for role in SIGN_OFF_ROLES if review.policy.required.get(role)]
    held = [role for role in required if role in roles_of(actor)]
    if not held:
        names = " or ".join(r.replace("_", " ") for r in required)
        raise PermissionDenied(f"This review needs sign-off from {names}; you hold no such role.")
    open_to_you = [(role, slot) for role, slot in open_slots(review) if role in held]
    for role, slot in open_to_you:
        if _may_fill(actor, review, role, slot):
            return role, slot
    if open_to_you:
        raise PermissionDenied(
            f"The risk owner sign-off of this review is for its risk owner, {review.risk_owner} "
            "(the model's risk owner when review was requested)."
        )
    raise Conflict(
        f"The {held[0].replace('_', ' ')} sign-off of this version has already been given."
    )


@transaction.atomic
def decide(version_id: int, *, actor: User, verdict: str, reason: str) -> Decision:
    version = ModelVersion.objects.select_for_update().select_related("model").get(pk=version_id)
    require(actor, DECIDE, message="Only model operations and risk owners decide on reviews.")
    require(actor, registry.VIEW_VERSION, version)
    if verdict not in Decision.Verdict.values:
        raise ValidationError({"decision": "Decide “approve”, “reject” or “request_changes”."})
    reason = reason.strip()
    if not reason:
        raise ValidationError({"reason": "Give a reason: it is part of the record."})
    review = Review.objects.select_for_update().filter(version=version).first()
    if review is None:
        raise Conflict(f"Version {version.number} is not in review.")
    if review.status != Review.Status.OPEN:
        raise Conflict(f"This review is already closed ({review.get_status_display().lower()}).")
    if actor.pk in (version.uploaded_by_id, review.requested_by_id):
        raise PermissionDenied("You uploaded or submitted this version; someone else must decide.")
    if _not_independent(actor, review):
        raise PermissionDenied(
            f"You are in {review.team}, the team that owns {version.model}; the {review.policy} "
            "wants its sign-offs from outside the team."
        )
    if review.decisions.filter(reviewer=actor).exists():
        raise Conflict("You have already decided on this version: one person gives one sign-off.")
    role, slot = _role_for(actor, review)
    try:
        with transaction.atomic():
            decision = Decision.objects.create(
                review=review, role=role, slot=slot, reviewer=actor, verdict=verdict, reason=reason
            )
    except IntegrityError:  # another request took this sign-off first (the lock makes it rare)
        raise Conflict(
            "Another reviewer decided at the same moment; reload and look again."
        ) from None

    before = version.status
    if verdict == Decision.Verdict.REJECT:
        review.status, version.status = Review.Status.REJECTED, ModelVersion.Status.REJECTED
    elif verdict == Decision.Verdict.REQUEST_CHANGES:
        review.status = Review.Status.CHANGES_REQUESTED
        version.status = ModelVersion.Status.CHANGES_REQUESTED
    elif not open_slots(review):
        review.status, version.status = Review.Status.APPROVED, ModelVersion.Status.APPROVED
    if review.status != Review.Status.OPEN:
        review.closed_at = timezone.now()
        review.save(update_fields=["status", "closed_at"])
        version.save(update_fields=["status"])
    audit.record(
        actor,
        AuditAction(f"review.{verdict}"),
        version,
        before={"status": before},
        after={"status": version.status, "role": role, "reason": reason, "review": review.status},
    )
    event = (
        events.CHANGES_REQUESTED
        if verdict == Decision.Verdict.REQUEST_CHANGES
        else events.REVIEW_DECIDED
    )
    outcome = {
        "approve": "signed off",
        "reject": "rejected",
        "request_changes": "requested changes to",
    }[verdict]
    notifications.emit(
        event,
        recipients=[review.requested_by, version.uploaded_by],
        title=f"{actor.get_full_name() or actor.username} {outcome} {version}",
        body=reason
        + (
            f"\n\nThe version is now {version.get_status_display().lower()}."
            if review.status != Review.Status.OPEN
            else ""
        ),
        url=version.get_absolute_url(),
        payload={
            "model": version.model.slug,
            "version": version.number,
            "verdict": verdict,
            "role": role,
            "reviewer": actor.username,
            "status": version.status,
        },
    )
    return decision


def can_decide(actor: User, version: ModelVersion) -> bool:
    """Whether the decision form should be offered (decide() checks everything again)."""
    review = getattr(version, "review", None)
    if review is None or review.status != Review.Status.OPEN:
        return False
    if actor.pk in (version.uploaded_by_id, review.requested_by_id):
        return False
    if not (can(actor, DECIDE) and can(actor, registry.VIEW_VERSION, version)):
        return False
    if _not_independent(actor, review):
        return False
    if review.decisions.filter(reviewer=actor).exists():
        return False
    held = set(roles_of(actor))
    return any(
        role in held and _may_fill(actor, review, role, slot) for role, slot in open_slots(review)
    )


def waiting_for(user: User) -> QuerySet[Review]:
    """Open reviews with a sign-off this person could give: their "my work" queue."""
    held = [r for r in roles_of(user) if r in SIGN_OFF_ROLES]
    if not held:
        return Review.objects.none()
    visible = visible_to(user, ModelVersion.objects.all())
    candidates = (
        Review.objects.filter(status=Review.Status.OPEN, version__in=visible)
        .exclude(requested_by=user)
        .exclude(version__uploaded_by=user)
        .exclude(decisions__reviewer=user)
        .select_related("version__model", "requested_by", "policy", "team")
        .prefetch_related("decisions")
        .order_by("requested_at")
    )
    return candidates.filter(
        pk__in=[
            r.pk
            for r in candidates
            if not _not_independent(user, r)
            and any(role in held and _may_fill(user, r, role, slot) for role, slot in open_slots(r))
        ]
    )


# --- Discussion -------------------------------------------------------------------------------

_MENTION = re.compile(r"(?<![\w@])@([\w.+-]{1,150})")
_ALLOWED_TAGS = {
    "p",
    "br",
    "strong",
    "em",
    "code",
    "pre",
    "blockquote",
    "ul",
    "ol",
    "li",
    "a",
    "h3",
    "h4",
    "table",
    "thead",
    "tbody",
    "tr",
    "th",
    "td",
    "hr",
    "del",
}


def render_markdown(text: str) -> str:
    """Markdown to HTML that no script survives: the output goes through nh3's allowlist."""
    html = markdown.markdown(
        text, extensions=["fenced_code", "tables", "sane_lists"], output_format="html"
    )
    return nh3.clean(
        html,
        tags=_ALLOWED_TAGS,
        attributes={"a": {"href", "title"}},
        url_schemes={"http", "https", "mailto"},
        link_rel="noopener noreferrer nofollow",
    )


@transaction.atomic
def add_comment(version_id: int, *, actor: User, body: str) -> Comment:
    version = ModelVersion.objects.select_related("model").get(pk=version_id)
    require(actor, registry.VIEW_VERSION, version)
    body = body.strip()
    if not body:
        raise ValidationError({"body": "Write something first."})
    if len(body) > 20_000:
        raise ValidationError({"body": "Keep a comment under 20,000 characters."})
    comment = Comment.objects.create(version=version, author=actor, body=body)
    # "Thanks @rita." mentions rita: a sentence's full stop is not part of the name.
    names = {name for raw in _MENTION.findall(body) for name in (raw, raw.rstrip("."))}
    mentioned = [
        u
        for u in User.objects.filter(username__in=names, is_active=True)
        if u.pk != actor.pk and can(u, registry.VIEW_VERSION, version)
    ]
    comment.mentions.set(mentioned)
    audit.record(
        actor,
        AuditAction.COMMENT_ADDED,
        version,
        after={"comment": comment.pk, "mentions": sorted(u.username for u in mentioned)},
    )
    if mentioned:
        notifications.emit(
            events.MENTIONED,
            recipients=mentioned,
            title=f"{actor.get_full_name() or actor.username} mentioned you on {version}",
            body=body[:500],
            url=version.get_absolute_url() + "#discussion",
            payload={
                "model": version.model.slug,
                "version": version.number,
                "author": actor.username,
            },
        )
    return comment


# --- Policies ---------------------------------------------------------------------------------


@transaction.atomic
def update_policy(
    *,
    actor: User,
    risk_tier: str,
    required: dict[str, int],
    allow_exceptions: bool,
    note: str,
    independent: bool = True,
) -> ReviewPolicy:
    require(actor, CHANGE_POLICY, message="Only administrators change review policies.")
    unknown = set(required) - set(SIGN_OFF_ROLES)
    if unknown or any(not 0 <= n <= 5 for n in required.values()):
        raise ValidationError("Require between 0 and 5 sign-offs of model_ops and risk_owner.")
    if not any(required.values()):
        raise ValidationError("A review needs at least one sign-off.")
    current = (
        ReviewPolicy.objects.select_for_update()
        .filter(risk_tier=risk_tier, is_current=True)
        .first()
    )
    number = (current.number if current else 0) + 1
    if current is not None:
        current.is_current = False
        current.save(update_fields=["is_current"])
    policy = ReviewPolicy.objects.create(
        risk_tier=risk_tier,
        number=number,
        required={k: v for k, v in required.items() if v},
        allow_exceptions=allow_exceptions,
        independent=independent,
        note=note.strip()[:300],
        created_by=actor,
    )
    audit.record(
        actor,
        AuditAction.REVIEW_POLICY_CHANGED,
        policy,
        before={
            "required": current.required,
            "allow_exceptions": current.allow_exceptions,
            "independent": current.independent,
            "number": current.number,
        }
        if current
        else None,
        after={
            "required": policy.required,
            "allow_exceptions": allow_exceptions,
            "independent": independent,
            "number": number,
            "note": policy.note,
        },
    )
    return policy


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
