from __future__ import annotations

from datetime import timedelta

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied, ValidationError
from django.core.paginator import Paginator
from django.db.models import Prefetch
from django.http import HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.utils import timezone
from django.views.decorators.http import require_POST

from apps.core.permissions import can, get_visible_or_404, require, user_of, visible_to
from apps.registry.models import ModelVersion, RegisteredModel
from apps.reviews import lead_times, services
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


def _version(request: HttpRequest, slug: str, number: int) -> ModelVersion:
    return get_visible_or_404(
        request.user, ModelVersion.objects.select_related("model"), model__slug=slug, number=number
    )


def _errors(exc: ValidationError) -> str:
    return " ".join(exc.messages)


@login_required
@require_POST
def request_review(request: HttpRequest, slug: str, number: int) -> HttpResponse:
    version = _version(request, slug, number)
    form = RequestReviewForm(request.POST)
    if not form.is_valid():
        messages.error(request, "Write a summary for the reviewers.")
        return redirect(version.get_absolute_url() + "#review")
    try:
        services.request_review(version.pk, actor=user_of(request), **form.cleaned_data)
    except ValidationError as exc:
        messages.error(request, _errors(exc))
    except services.Conflict as exc:
        messages.error(request, str(exc))
    else:
        messages.success(request, "Review requested; the reviewers have been notified.")
    return redirect(version.get_absolute_url() + "#review")


@login_required
@require_POST
def decide(request: HttpRequest, slug: str, number: int) -> HttpResponse:
    version = _version(request, slug, number)
    form = DecisionForm(request.POST)
    if not form.is_valid():
        messages.error(request, "Choose a decision and give a reason.")
        return redirect(version.get_absolute_url() + "#review")
    try:
        decision = services.decide(
            version.pk,
            actor=user_of(request),
            verdict=form.cleaned_data["decision"],
            reason=form.cleaned_data["reason"],
        )
    except ValidationError as exc:
        messages.error(request, _errors(exc))
    except services.Conflict as exc:
        messages.error(request, str(exc))
    else:
        messages.success(request, f"Recorded: {decision.get_verdict_display().lower()}.")
    return redirect(version.get_absolute_url() + "#review")


@login_required
@require_POST
def comment(request: HttpRequest, slug: str, number: int) -> HttpResponse:
    version = _version(request, slug, number)
    form = CommentForm(request.POST)
    if form.is_valid():
        try:
            services.add_comment(version.pk, actor=user_of(request), body=form.cleaned_data["body"])
        except ValidationError as exc:
            messages.error(request, _errors(exc))
    else:
        messages.error(request, "Write a comment first.")
    return redirect(version.get_absolute_url() + "#discussion")


@login_required
def queue(request: HttpRequest) -> HttpResponse:
    """Open reviews waiting for the signed-in person's sign-off, oldest first."""
    user = user_of(request)
    now = timezone.now()
    waiting = [(r, now - r.requested_at) for r in services.waiting_for(user)]
    mine = (
        Review.objects.filter(requested_by=user)
        .select_related("version__model")
        .order_by("-requested_at")[:20]
    )
    return render(
        request, "reviews/review_queue.html", {"panel": {"waiting": waiting}, "mine": mine}
    )


@login_required
def exceptions(request: HttpRequest) -> HttpResponse:
    """Versions sent to review despite failed validation: for compliance and model risk."""
    user = user_of(request)
    if not (user.has_perm("audit.view_auditevent") or user.has_perm(services.DECIDE)):
        raise PermissionDenied("The list of policy exceptions is for compliance and reviewers.")
    visible = visible_to(user, RegisteredModel.objects.all())
    found = (
        Review.objects.filter(is_exception=True, version__model__in=visible)
        .select_related("version__model", "requested_by")
        .order_by("-requested_at")
    )
    page = Paginator(found, 30).get_page(request.GET.get("page"))
    return render(request, "reviews/review_exceptions.html", {"page": page})


@login_required
def lead_time_dashboard(request: HttpRequest) -> HttpResponse:
    """Median and 90th-percentile time per stage across the models the user can see."""
    user = user_of(request)
    try:
        days = max(7, min(int(request.GET.get("days", 90)), 730))
    except ValueError:
        days = 90
    since = timezone.now() - timedelta(days=days)
    visible = visible_to(user, RegisteredModel.objects.all())
    versions = (
        ModelVersion.objects.filter(model__in=visible, created_at__gte=since)
        .select_related("review", "uploaded_by")
        .prefetch_related(
            Prefetch(
                "validation_reports",
                queryset=ValidationReport.objects.only("version_id", "created_at"),
            ),
            "review__decisions",
        )
    )
    team = request.GET.get("team", "")
    if team:
        versions = versions.filter(model__team__slug=team)
    rows = lead_times.summary(versions)
    return render(
        request,
        "reviews/lead_times.html",
        {
            "rows": rows,
            "days": days,
            "team": team,
            "teams": visible.values_list("team__slug", "team__name").distinct(),
        },
    )


@login_required
def policy_list(request: HttpRequest) -> HttpResponse:
    return render(
        request,
        "reviews/reviewpolicy_list.html",
        {
            "current": ReviewPolicy.objects.filter(is_current=True),
            "history": ReviewPolicy.objects.select_related("created_by").order_by("-created_at")[
                :30
            ],
            "is_admin": can(request.user, services.CHANGE_POLICY),
        },
    )


@login_required
def policy_edit(request: HttpRequest, risk_tier: str) -> HttpResponse:
    user = user_of(request)
    require(user, services.CHANGE_POLICY, message="Only administrators change review policies.")
    current = get_object_or_404(ReviewPolicy, risk_tier=risk_tier, is_current=True)
    form = ReviewPolicyForm(
        request.POST or None,
        initial={
            "model_ops": current.required.get("model_ops", 0),
            "risk_owner": current.required.get("risk_owner", 0),
            "allow_exceptions": current.allow_exceptions,
            "independent": current.independent,
        },
    )
    if request.method == "POST" and form.is_valid():
        data = form.cleaned_data
        try:
            services.update_policy(
                actor=user,
                risk_tier=risk_tier,
                required={"model_ops": data["model_ops"], "risk_owner": data["risk_owner"]},
                allow_exceptions=data["allow_exceptions"],
                independent=data["independent"],
                note=data["note"],
            )
        except ValidationError as exc:
            form.add_error(None, _errors(exc))
        else:
            messages.success(request, "Review policy saved as a new version.")
            return redirect("reviews:policies")
    return render(
        request,
        "reviews/reviewpolicy_form.html",
        {"form": form, "current": current},
        status=400 if form.is_bound else 200,
    )


# --- Governed changes of a model ---------------------------------------------------------------


def _model_changes(request: HttpRequest, slug: str) -> tuple[RegisteredModel, str]:
    model = get_visible_or_404(request.user, RegisteredModel.objects.all(), slug=slug)
    return model, model.get_absolute_url() + "#governance"


@login_required
@require_POST
def propose_change(request: HttpRequest, slug: str) -> HttpResponse:
    model, back = _model_changes(request, slug)
    user = user_of(request)
    services.check_can_propose(user, model)  # 403 before the form says anything
    form = ChangeProposalForm(request.POST, model=model)
    try:
        if not form.is_valid():
            raise ValidationError("Choose what to change, its new value, and give a reason.")
        change = services.propose_change(
            model.pk,
            actor=user,
            field=form.cleaned_data["field"],
            value=form.value(),
            reason=form.cleaned_data["reason"],
        )
    except (ValidationError, services.Conflict) as exc:
        messages.error(request, _errors(exc) if isinstance(exc, ValidationError) else str(exc))
    else:
        if change.status == ModelChange.Status.APPROVED:
            messages.success(
                request, f"{change.get_field_display()} changed to {change.new_value}."
            )
        else:
            messages.success(
                request,
                f"Change proposed; {model.risk_owner} (risk owner) or compliance will decide it.",
            )
    return redirect(back)


@login_required
@require_POST
def decide_change(request: HttpRequest, slug: str, pk: int) -> HttpResponse:
    model, back = _model_changes(request, slug)
    change = get_visible_or_404(request.user, ModelChange.objects.filter(model=model), pk=pk)
    form = ChangeDecisionForm(request.POST)
    if not form.is_valid():
        messages.error(request, "Choose approve or reject and give a reason.")
        return redirect(back)
    try:
        change = services.decide_change(
            change.pk,
            actor=user_of(request),
            approve=form.cleaned_data["decision"] == "approve",
            reason=form.cleaned_data["reason"],
        )
    except ValidationError as exc:
        messages.error(request, _errors(exc))
    except services.Conflict as exc:
        messages.error(request, str(exc))
    else:
        messages.success(request, f"Change {change.get_status_display().lower()}.")
    return redirect(back)


@login_required
@require_POST
def withdraw_change(request: HttpRequest, slug: str, pk: int) -> HttpResponse:
    model, back = _model_changes(request, slug)
    change = get_visible_or_404(request.user, ModelChange.objects.filter(model=model), pk=pk)
    try:
        services.withdraw_change(change.pk, actor=user_of(request))
    except services.Conflict as exc:
        messages.error(request, str(exc))
    else:
        messages.success(request, "Proposal withdrawn.")
    return redirect(back)
