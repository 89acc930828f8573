from __future__ import annotations

import json

from django import forms
from django.contrib import messages
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.template.loader import render_to_string
from django.utils.text import slugify
from plotly.offline import get_plotlyjs

from apps.core.permissions import can, not_found_message
from apps.core.views import ActionView, PortalView, scoped_get
from apps.registry.models import ModelVersion, RegisteredModel
from apps.validation import charts, checks, services
from apps.validation.forms import PolicyForm
from apps.validation.models import ValidationPolicy, ValidationReport


class VersionView(PortalView):
    """A page about one version's validation, named by the model's slug and the version's
    number."""

    queryset = ModelVersion.objects.select_related("model")

    def version(self) -> ModelVersion:
        found: ModelVersion = self.get_object(
            model__slug=self.kwargs["slug"], number=self.kwargs["number"]
        )
        return found

    def report(self, version: ModelVersion) -> ValidationReport:
        report = services.latest_report(version)
        if report is None:
            raise Http404(not_found_message("validation report"))
        return report


class Status(VersionView):
    """The live part of the validation section, polled while the job runs."""

    def get(self, request: HttpRequest, slug: str, number: int) -> HttpResponse:
        version = self.version()
        job = services.jobs_of(version).first()
        return render(request, "validation/_job_progress.html", {"job": job, "version": version})


def _attachment(content: str | bytes, filename: str, content_type: str) -> HttpResponse:
    response = HttpResponse(content, content_type=content_type)
    response["Content-Disposition"] = f'attachment; filename="{filename}"'
    return response


class ReportJson(VersionView):
    def get(self, request: HttpRequest, slug: str, number: int) -> HttpResponse:
        report = self.report(self.version())
        return _attachment(
            json.dumps(services.report_document(report), indent=2),
            f"{slug}-v{number}-validation.json",
            "application/json",
        )


class ReportHtml(VersionView):
    """A single HTML file with plotly.js inlined: it opens offline, anywhere."""

    def get(self, request: HttpRequest, slug: str, number: int) -> HttpResponse:
        version = self.version()
        report = self.report(version)
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


class Rerun(ActionView):
    queryset = ModelVersion.objects.select_related("model")

    def target(self) -> ModelVersion:
        found: ModelVersion = self.get_object(
            model__slug=self.kwargs["slug"], number=self.kwargs["number"]
        )
        return found

    def perform(self, version: ModelVersion, form: forms.Form | None) -> str:
        services.rerun_validation(version.pk, actor=self.person)
        return "Validation queued again; this page follows it live."


class PolicyList(PortalView):
    """Tier policies are for everyone; a model's own policy for those who may see the model."""

    queryset = ValidationPolicy.objects.select_related("model", "created_by")

    def get(self, request: HttpRequest) -> HttpResponse:
        assert self.queryset is not None
        current = self.queryset.filter(is_current=True)
        return render(
            request,
            "validation/validationpolicy_list.html",
            {
                "tiers": [p for p in current if not p.model_id],
                "overrides": [p for p in current if p.model_id],
                "history": self.queryset.order_by("-created_at")[:30],
                "checks": checks.CHECKS,
                "is_admin": can(self.person, services.CHANGE_POLICY),
            },
        )


class PolicyEdit(PortalView):
    """Edit the current policy of a risk tier ("high") or of one model ("model-<slug>")."""

    permission_required = services.CHANGE_POLICY
    permission_message = "Only administrators change validation policies."

    def scope(
        self, scope: str
    ) -> tuple[RegisteredModel | None, str, ValidationPolicy | None, ValidationPolicy]:
        """(model, tier, its current own policy, the policy the form starts from)."""
        if scope.startswith("model-"):
            model = scoped_get(
                RegisteredModel.objects.restrict(self.person), slug=scope.removeprefix("model-")
            )
            current = ValidationPolicy.objects.filter(model=model, is_current=True).first()
            return model, "", current, current or services.policy_for(model)
        if scope in RegisteredModel.RiskTier.values:
            current = services.policy_for_tier(scope)
            return None, scope, current, current
        raise Http404(not_found_message("policy", scope))

    def get(self, request: HttpRequest, scope: str) -> HttpResponse:
        model, tier, current, base = self.scope(scope)
        form = PolicyForm(initial={**base.checks, "note": ""})
        return self._form(form, scope, model, tier, current)

    def post(self, request: HttpRequest, scope: str) -> HttpResponse:
        model, tier, current, base = self.scope(scope)
        form = PolicyForm(request.POST, initial={**base.checks, "note": ""})
        if form.is_valid():
            services.update_policy(
                actor=self.person,
                thresholds=form.thresholds(),
                note=form.cleaned_data["note"],
                risk_tier=tier,
                model=model,
            )
            messages.success(request, "Policy saved as a new version; later validations use it.")
            return redirect("validation:policies")
        return self._form(form, scope, model, tier, current)

    def _form(
        self,
        form: PolicyForm,
        scope: str,
        model: RegisteredModel | None,
        tier: str,
        current: ValidationPolicy | None,
    ) -> HttpResponse:
        title = f"model {model.name}" if model else f"{tier} risk models"
        return render(
            self.request,
            "validation/validationpolicy_form.html",
            {"form": form, "title": title, "current": current, "scope": slugify(scope)},
            status=400 if form.is_bound else 200,
        )
