"""Whom a version waits for in its review (``registry.waiting_for``): the open sign-offs, each
with the people who may give it, so "Waiting for the risk owner's sign-off (Rita Okafor)" is said
where the next step cannot happen yet — on the version page, and in a deployment's refusal."""

from __future__ import annotations

from django.contrib.auth.models import User

from apps.accounts.roles import Role
from apps.core.templatetags.words import role_title
from apps.registry.models import ModelVersion
from apps.reviews import services
from apps.reviews.models import Review

# Beyond this many people, name the first ones and say "or others".
NAMED = 3


def _names(people: list[User]) -> str:
    names = [p.get_full_name() or p.username for p in people]
    if len(names) > NAMED:
        return f"{', '.join(names[:NAMED])} or others"
    return " or ".join(names) if len(names) <= 2 else f"{', '.join(names[:-1])} or {names[-1]}"


def _phrase(review: Review, role: str, slot: int) -> str:
    if role == Role.RISK_OWNER and slot == 1:
        owner = review.risk_owner
        return f"the risk owner's sign-off ({owner.get_full_name() or owner.username})"
    ordinal = {1: "a", 2: "a second", 3: "a third"}.get(slot, "a further")
    people = _who_may_give(review, role)
    who = _names(people) if people else "nobody holds this role yet: ask an administrator"
    return f"{ordinal} {role_title(role)} sign-off ({who})"


def _who_may_give(review: Review, role: str) -> list[User]:
    """The people of ``role`` who may give this sign-off, in one query: not its author, and from
    outside the owning team where the policy wants independence (``services.decide`` decides;
    this only names them)."""
    people = User.objects.filter(groups__name=role, is_active=True).exclude(
        pk__in=[review.requested_by_id, review.version.uploaded_by_id]
    )
    if review.policy.independent:
        people = people.exclude(groups__team__in=[review.team_id, review.version.model.team_id])
    return list(people.distinct().order_by("first_name", "username")[: NAMED + 1])


def waiting_for(version: ModelVersion) -> list[str]:
    team = version.model.team.name
    if (
        version.status
        in (
            ModelVersion.Status.VALIDATED,
            ModelVersion.Status.VALIDATION_FAILED,
        )
        and not Review.objects.filter(version=version).exists()
    ):
        if version.status == ModelVersion.Status.VALIDATED:
            return [f"a review request from the {team} team"]
        return [
            f"the {team} team: a new version that passes validation, or a review request "
            "as a policy exception"
        ]
    review = (
        Review.objects.filter(version=version, status=Review.Status.OPEN)
        .select_related("policy", "risk_owner", "version")
        .prefetch_related("decisions")
        .first()
    )
    return list(open_sign_offs(review).values()) if review is not None else []


def open_sign_offs(review: Review) -> dict[tuple[str, int], str]:
    """Each open sign-off of an open review, as (role, slot) -> whose it is, in words."""
    if review.status != Review.Status.OPEN:
        return {}
    return {(role, slot): _phrase(review, role, slot) for role, slot in services.open_slots(review)}
