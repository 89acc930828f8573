from __future__ import annotations

import json

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import ValidationError
from django.db.models import Q
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.template.loader import render_to_string
from django.utils.text import slugify
from django.views.decorators.http import require_POST
from plotly.offline import get_plotlyjs

from apps.core.permissions import (
    can,
    get_visible_or_404,
    not_found_message,
    require,
    user_of,
    visible_to,
)
from apps.registry.models import ModelVersion, RegisteredModel
from apps.validation import charts, checks, services
from apps.validation.forms import PolicyForm
from apps.validation.models import ValidationPolicy, ValidationReport


def _version(request: HttpRequest, slug: str, number: int) -> ModelVersion:
    return get_visible_or_404(
        request.user,
        ModelVersion.objects.select_related("model"),
        model__slug=slug,
        number=number,
    )


def _report(version: ModelVersion) -> ValidationReport:
    report = services.latest_report(version)
    if report is None:
        raise Http404(not_found_message("validation report"))
    return report


@login_required
def status(request: HttpRequest, slug: str, number: int) -> HttpResponse:
    """The live part of the validation section, polled while the job runs."""
    version = _version(request, slug, number)
    job = services.jobs_of(version).first()
    return render(request, "validation/_job_progress.html", {"job": job, "version": version})


def _attachment(content: str | bytes, filename: str, content_type: str) -> HttpResponse:
    response = HttpResponse(content, content_type=content_type)
    response["Content-Disposition"] = f'attachment; filename="{filename}"'
    return response


def report_document(report: ValidationReport) -> dict[str, object]:
    """The report as downloaded and served by the API: verdict, checks and every measurement."""
    version = report.version
    return {
        "model": version.model.slug,
        "version": version.number,
        "outcome": report.outcome,
        "reasons": report.reasons,
        "policy": {
            "scope": report.policy.scope,
            "number": report.policy.number,
            "checks": report.policy.checks,
        }
        if report.policy
        else None,
        "checks": report.checks,
        "champion_version": report.champion.number if report.champion else None,
        "isolated": report.isolated,
        "duration_ms": report.duration_ms,
        "created_at": report.created_at.isoformat(),
        "job": str(report.job.uuid),
        "report": report.data,
    }


@login_required
def report_json(request: HttpRequest, slug: str, number: int) -> HttpResponse:
    report = _report(_version(request, slug, number))
    return _attachment(
        json.dumps(report_document(report), indent=2),
        f"{slug}-v{number}-validation.json",
        "application/json",
    )


@login_required
def report_html(request: HttpRequest, slug: str, number: int) -> HttpResponse:
    """A single HTML file with plotly.js inlined: it opens offline, anywhere."""
    version = _version(request, slug, number)
    report = _report(version)
    html = render_to_string(
        "validation/report_standalone.html",
        {
            "version": version,
            "report": report,
            "figures": charts.figures(report.data),
            "plotly_js": get_plotlyjs(),
        },
    )
    return _attachment(html, f"{slug}-v{number}-validation.html", "text/html; charset=utf-8")


@login_required
@require_POST
def rerun(request: HttpRequest, slug: str, number: int) -> HttpResponse:
    version = _version(request, slug, number)
    try:
        services.rerun_validation(version.pk, actor=user_of(request))
    except ValidationError as exc:
        messages.error(request, " ".join(exc.messages))
    else:
        messages.success(request, "Validation queued again; this page follows it live.")
    return redirect(version)


@login_required
def policy_list(request: HttpRequest) -> HttpResponse:
    # Tier policies are for everyone; a model's own policy only for those who may see the model.
    policies = ValidationPolicy.objects.filter(
        Q(model__isnull=True)
        | Q(model__in=visible_to(user_of(request), RegisteredModel.objects.all()))
    ).select_related("model", "created_by")
    current = policies.filter(is_current=True)
    return render(
        request,
        "validation/validationpolicy_list.html",
        {
            "tiers": [p for p in current if not p.model_id],
            "overrides": [p for p in current if p.model_id],
            "history": policies.order_by("-created_at")[:30],
            "checks": checks.CHECKS,
            "is_admin": can(request.user, services.CHANGE_POLICY),
        },
    )


@login_required
def policy_edit(request: HttpRequest, scope: str) -> HttpResponse:
    """Edit the current policy of a risk tier ("high") or of one model ("model-<slug>")."""
    user = user_of(request)
    require(user, services.CHANGE_POLICY, message="Only administrators change validation policies.")
    model = None
    tier = ""
    if scope.startswith("model-"):
        model = get_visible_or_404(
            user, RegisteredModel.objects.all(), slug=scope.removeprefix("model-")
        )
        current = ValidationPolicy.objects.filter(model=model, is_current=True).first()
        base = current or services.policy_for(model)
    elif scope in RegisteredModel.RiskTier.values:
        tier = scope
        base = current = services.policy_for_tier(tier)
    else:
        raise Http404(not_found_message("policy", scope))
    form = PolicyForm(request.POST or None, initial={**base.checks, "note": ""})
    if request.method == "POST" and form.is_valid():
        services.update_policy(
            actor=user,
            thresholds=form.thresholds(),
            note=form.cleaned_data["note"],
            risk_tier=tier,
            model=model,
        )
        messages.success(request, "Policy saved as a new version; later validations use it.")
        return redirect("validation:policies")
    title = f"model {model.name}" if model else f"{tier} risk models"
    return render(
        request,
        "validation/validationpolicy_form.html",
        {
            "form": form,
            "title": title,
            "current": current,
            "scope": slugify(scope),
        },
        status=400 if form.is_bound else 200,
    )
