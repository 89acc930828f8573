"""Review and sign-off of model versions, and the discussion around them.

``decide`` is where concurrency matters: it locks the version row, checks segregation of duties and
the open sign-offs, and relies on two unique constraints (one decision per required sign-off, one
per person) so that even racing requests can never record more than the policy asks for. A
request that loses the race gets ``Conflict`` (HTTP 409) with a sentence saying why.
"""

from __future__ import annotations

import re

from django.contrib.auth.models import User
from django.core.exceptions import PermissionDenied, ValidationError
from django.db import IntegrityError, transaction
from django.db.models import Q, QuerySet
from django.utils import timezone

from apps.accounts.models import Team
from apps.accounts.roles import Role, roles_of
from apps.audit import services as audit
from apps.core.audit_actions import AuditAction
from apps.core.errors import Conflict
from apps.core.permissions import can, require, visible_to
from apps.core.registry import registry as registry_of_apps
from apps.core.templatetags.words import role_group
from apps.notifications import services as notifications
from apps.registry import services as registry
from apps.registry.models import ModelVersion, RegisteredModel
from apps.reviews import events
from apps.reviews.models import (
    SIGN_OFF_ROLES,
    Comment,
    Decision,
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


def exception_reasons(version: ModelVersion) -> list[str]:
    """Why ``version`` may go to review only as a policy exception: it failed validation, or an
    app says something stands in the way (``registry.review_blockers``: empty documentation)."""
    reasons = (
        ["it failed validation"] if version.status == ModelVersion.Status.VALIDATION_FAILED else []
    )
    return reasons + [
        said for source in registry_of_apps.review_blockers for said in source(version)
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
    if version.status not in (
        ModelVersion.Status.VALIDATED,
        ModelVersion.Status.VALIDATION_FAILED,
    ):
        raise ValidationError(
            f"Version {version.number} is {version.get_status_display().lower()}"
            "; only validated versions go to review."
        )
    reasons = exception_reasons(version)
    exception = bool(reasons)
    if exception:
        said = "; ".join(reasons)
        if not policy.allow_exceptions:
            raise ValidationError(
                f"Version {version.number} cannot go to review: {said}. The {policy} does not "
                "allow policy exceptions."
            )
        if not justification:
            raise ValidationError(
                {
                    "justification": f"Version {version.number} goes to review only as a policy "
                    f"exception, with a written justification: {said}."
                }
            )
    review = Review.objects.create(
        version=version,
        policy=policy,
        requested_by=actor,
        risk_owner=model.risk_owner,
        team=model.team,
        summary=summary,
        is_exception=exception,
        exception_reasons=reasons,
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
            "exception_reasons": reasons,
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
        names = " or ".join(role_group(r) for r in required)
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
    if verdict == Decision.Verdict.APPROVE and not review.is_exception:
        blockers = [
            said for source in registry_of_apps.approval_blockers for said in source(version)
        ]
        if blockers:
            raise Conflict(
                f"Version {version.number} cannot be approved while these are open: "
                + "; ".join(blockers)
                + ". Close them first, or request review as a policy exception."
            )
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
    followed: dict[str, object] = {}
    if review.status != Review.Status.OPEN:
        review.closed_at = timezone.now()
        review.save(update_fields=["status", "closed_at"])
        version.save(update_fields=["status"])
    if review.status == Review.Status.APPROVED:
        for follow in registry_of_apps.version_approved:
            followed.update(follow(version, actor))
    audit.record(
        actor,
        AuditAction(f"review.{verdict}"),
        version,
        before={"status": before},
        after={
            "status": version.status,
            "role": role,
            "reason": reason,
            "review": review.status,
            **followed,
        },
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
