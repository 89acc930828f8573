from __future__ import annotations

from datetime import timedelta
from typing import Any

from django import forms
from django.contrib import messages
from django.core.exceptions import PermissionDenied, ValidationError
from django.core.paginator import Paginator
from django.db.models import Prefetch
from django.http import HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.utils import timezone

from apps.accounts.models import Team
from apps.core.permissions import can, require
from apps.core.views import ActionView, PortalView
from apps.registry.models import ModelVersion, RegisteredModel
from apps.reviews import changes, lead_times, services
from apps.reviews.forms import (
    ChangeDecisionForm,
    ChangeProposalForm,
    CommentForm,
    DecisionForm,
    RequestReviewForm,
    ReviewPolicyForm,
)
from apps.reviews.models import ModelChange, Review, ReviewPolicy
from apps.validation.models import ValidationReport


class VersionAction(ActionView):
    """A form posted from a version's page."""

    queryset = ModelVersion.objects.select_related("model")
    anchor = "#review"

    def target(self) -> ModelVersion:
        found: ModelVersion = self.get_object(
            model__slug=self.kwargs["slug"], number=self.kwargs["number"]
        )
        return found


class RequestReview(VersionAction):
    form_class = RequestReviewForm
    invalid_message = "Write a summary for the reviewers."

    def perform(self, version: ModelVersion, form: forms.Form | None) -> str:
        assert form is not None
        services.request_review(version.pk, actor=self.person, **form.cleaned_data)
        return "Review requested; the reviewers have been notified."


class Decide(VersionAction):
    form_class = DecisionForm
    invalid_message = "Choose a decision and give a reason."

    def perform(self, version: ModelVersion, form: forms.Form | None) -> str:
        assert form is not None
        decision = services.decide(
            version.pk,
            actor=self.person,
            verdict=form.cleaned_data["decision"],
            reason=form.cleaned_data["reason"],
        )
        return f"Recorded: {decision.get_verdict_display().lower()}."


class AddComment(VersionAction):
    form_class = CommentForm
    invalid_message = "Write a comment first."
    anchor = "#discussion"

    def perform(self, version: ModelVersion, form: forms.Form | None) -> str:
        assert form is not None
        services.add_comment(version.pk, actor=self.person, body=form.cleaned_data["body"])
        return "Comment added."


class Queue(PortalView):
    """Open reviews waiting for the signed-in person's sign-off, oldest first, and the reviews
    they asked for."""

    queryset = Review.objects.select_related("version__model")

    def get(self, request: HttpRequest) -> HttpResponse:
        now = timezone.now()
        waiting = [(r, now - r.requested_at) for r in services.waiting_for(self.person)]
        mine = self.queryset.filter(requested_by=self.person).order_by("-requested_at")[:20]
        return render(
            request, "reviews/review_queue.html", {"panel": {"waiting": waiting}, "mine": mine}
        )


class Exceptions(PortalView):
    """Versions sent to review despite failed validation: for compliance and model risk."""

    queryset = Review.objects.filter(is_exception=True).select_related(
        "version__model", "requested_by"
    )

    def get(self, request: HttpRequest) -> HttpResponse:
        user = self.person
        if not (can(user, "audit.view_auditevent") or can(user, services.DECIDE)):
            raise PermissionDenied("The list of policy exceptions is for compliance and reviewers.")
        found = self.queryset.order_by("-requested_at")
        page = Paginator(found, 30).get_page(request.GET.get("page"))
        return render(request, "reviews/review_exceptions.html", {"page": page})


class LeadTimes(PortalView):
    """Median and 90th-percentile time per stage across the versions the person may see."""

    queryset = ModelVersion.objects.select_related("review", "uploaded_by").prefetch_related(
        Prefetch(
            "validation_reports",
            queryset=ValidationReport.objects.only("version_id", "created_at"),
        ),
        "review__decisions",
    )

    def get(self, request: HttpRequest) -> HttpResponse:
        try:
            days = max(7, min(int(request.GET.get("days", 90)), 730))
        except ValueError:
            days = 90
        since = timezone.now() - timedelta(days=days)
        versions = self.queryset.filter(created_at__gte=since)
        team = request.GET.get("team", "")
        if team:
            versions = versions.filter(model__team__slug=team)
        # Team rows picked by a subquery of the models the person may see: one option per team
        # however many models it owns, and no join that could repeat it.
        teams = list(
            Team.objects.filter(
                pk__in=RegisteredModel.objects.restrict(self.person).values("team")
            ).order_by("name")
        )
        team_name = next((t.name for t in teams if t.slug == team), "")
        return render(
            request,
            "reviews/lead_times.html",
            {
                "rows": lead_times.summary(versions),
                "days": days,
                "team": team,
                "team_name": team_name,
                "teams": teams,
            },
        )


class PolicyList(PortalView):
    """The review policies: bank-wide rules every signed-in person may read."""

    def get(self, request: HttpRequest) -> HttpResponse:
        return render(
            request,
            "reviews/reviewpolicy_list.html",
            {
                "current": ReviewPolicy.objects.filter(is_current=True),
                "history": ReviewPolicy.objects.select_related("created_by").order_by(
                    "-created_at"
                )[:30],
                "is_admin": can(self.person, services.CHANGE_POLICY),
            },
        )


class PolicyEdit(PortalView):
    """Edit a risk tier's review policy: each save is a new, audited version."""

    def current(self, risk_tier: str) -> ReviewPolicy:
        require(
            self.person,
            services.CHANGE_POLICY,
            message="Only administrators change review policies.",
        )
        return get_object_or_404(ReviewPolicy, risk_tier=risk_tier, is_current=True)

    def get(self, request: HttpRequest, risk_tier: str) -> HttpResponse:
        current = self.current(risk_tier)
        initial = {
            "model_ops": current.required.get("model_ops", 0),
            "risk_owner": current.required.get("risk_owner", 0),
            "allow_exceptions": current.allow_exceptions,
            "independent": current.independent,
        }
        return self._form(ReviewPolicyForm(initial=initial), current)

    def post(self, request: HttpRequest, risk_tier: str) -> HttpResponse:
        current = self.current(risk_tier)
        form = ReviewPolicyForm(request.POST)
        if form.is_valid():
            data = form.cleaned_data
            try:
                services.update_policy(
                    actor=self.person,
                    risk_tier=risk_tier,
                    required={"model_ops": data["model_ops"], "risk_owner": data["risk_owner"]},
                    allow_exceptions=data["allow_exceptions"],
                    independent=data["independent"],
                    note=data["note"],
                )
            except ValidationError as exc:
                form.add_error(None, " ".join(exc.messages))
            else:
                messages.success(request, "Review policy saved as a new version.")
                return redirect("reviews:policies")
        return self._form(form, current)

    def _form(self, form: ReviewPolicyForm, current: ReviewPolicy) -> HttpResponse:
        return render(
            self.request,
            "reviews/reviewpolicy_form.html",
            {"form": form, "current": current},
            status=400 if form.is_bound else 200,
        )


# --- Governed changes of a model ---------------------------------------------------------------


class ProposeChange(ActionView):
    queryset = RegisteredModel.objects.select_related("risk_owner")
    anchor = "#governance"
    invalid_message = "Choose what to change, its new value, and give a reason."

    def post(self, request: HttpRequest, **kwargs: Any) -> HttpResponse:
        # Refused for who they are before the form says anything about what they sent.
        changes.check_can_propose(self.person, self.target())
        return super().post(request, **kwargs)

    def perform(self, model: RegisteredModel, form: forms.Form | None) -> str:
        proposal = ChangeProposalForm(self.request.POST, model=model)
        if not proposal.is_valid():
            raise ValidationError(self.invalid_message)
        change = changes.propose_change(
            model.pk,
            actor=self.person,
            field=proposal.cleaned_data["field"],
            value=proposal.value(),
            reason=proposal.cleaned_data["reason"],
        )
        if change.status == ModelChange.Status.APPROVED:
            return f"{change.get_field_display()} changed to {change.new_value}."
        return f"Change proposed; {model.risk_owner} (risk owner) or compliance will decide it."


class ChangeAction(ActionView):
    """A decision on, or the withdrawal of, one proposed change."""

    queryset = ModelChange.objects.select_related("model")
    anchor = "#governance"

    def target(self) -> ModelChange:
        found: ModelChange = self.get_object(model__slug=self.kwargs["slug"], pk=self.kwargs["pk"])
        return found

    def next_url(self, change: ModelChange) -> str:
        return change.model.get_absolute_url() + self.anchor


class DecideChange(ChangeAction):
    form_class = ChangeDecisionForm
    invalid_message = "Choose approve or reject and give a reason."

    def perform(self, change: ModelChange, form: forms.Form | None) -> str:
        assert form is not None
        decided = changes.decide_change(
            change.pk,
            actor=self.person,
            approve=form.cleaned_data["decision"] == "approve",
            reason=form.cleaned_data["reason"],
        )
        return f"Change {decided.get_status_display().lower()}."


class WithdrawChange(ChangeAction):
    def perform(self, change: ModelChange, form: forms.Form | None) -> str:
        changes.withdraw_change(change.pk, actor=self.person)
        return "Proposal withdrawn."
