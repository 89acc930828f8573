"""The review part of the version page: sign-offs, the timeline, and the discussion."""

from __future__ import annotations

from django.http import HttpRequest

from apps.core.markdown import render_markdown
from apps.core.permissions import can, user_of
from apps.core.registry import Section
from apps.registry.models import ModelVersion
from apps.reviews import lead_times, services, waiting
from apps.reviews.forms import CommentForm, DecisionForm, RequestReviewForm
from apps.reviews.models import Comment, Review


def sections(request: HttpRequest, version: ModelVersion) -> list[Section]:
    user = user_of(request)
    review = (
        Review.objects.filter(version=version)
        .select_related("requested_by", "policy", "risk_owner")
        .prefetch_related("decisions__reviewer")
        .first()
    )
    may_request = (
        review is None
        and version.status in (ModelVersion.Status.VALIDATED, ModelVersion.Status.VALIDATION_FAILED)
        and can(user, "reviews.request", version)
    )
    sign_offs = []
    if review is not None:
        decided = {(d.role, d.slot): d for d in review.decisions.all()}
        owed = waiting.open_sign_offs(review)
        sign_offs = [
            (role, slot, decided.get((role, slot)), owed.get((role, slot)))
            for role, slot in review.policy.slots
        ]
    comments = Comment.objects.filter(version=version).select_related("author")
    durations = lead_times.stage_times(version)  # once: each call queries reports and decisions
    return [
        Section(
            "reviews/_version_section.html",
            {
                "version": version,
                "review": review,
                "sign_offs": sign_offs,
                "may_request": may_request,
                "exception_reasons": services.exception_reasons(version) if may_request else [],
                "request_form": RequestReviewForm(),
                "may_decide": services.can_decide(user, version),
                "decision_form": DecisionForm(),
                "timeline": lead_times.timeline(version),
                "stages": [(label, durations[key]) for key, label in lead_times.STAGES],
                "comments": [(c, render_markdown(c.body)) for c in comments],
                "comment_form": CommentForm(),
            },
            order=20,
        )
    ]
