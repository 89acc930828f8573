from __future__ import annotations

import csv
import io
import json
from typing import Any

from django import forms
from django.contrib import messages
from django.core.exceptions import ValidationError
from django.core.paginator import Paginator
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.urls import reverse

from apps.accounts.models import Team
from apps.audit import services as audit
from apps.core.audit_actions import AuditAction
from apps.core.permissions import can
from apps.core.views import ActionView, PortalView, flag_models
from apps.deployments.models import Deployment, Environment, PredictionLog
from apps.monitoring import alerts, charts, comparison, estimate, policies, series
from apps.monitoring import reviews as monitoring_reviews
from apps.monitoring.forms import PolicyForm, RemovePolicyForm, ReviewDecisionForm
from apps.monitoring.models import Alert, Health, MonitoringPolicy, MonitoringReview
from apps.registry import services as registry
from apps.registry.models import RegisteredModel
from apps.validation import evidence

SORTS = {
    "state": ("rank", "deployment__model__name"),
    "model": ("deployment__model__name", "deployment__environment__order"),
    "traffic": ("-requests", "rank"),
    "drift": ("-drifted_psi", "rank"),
    "latency": ("-latency_p95_ms", "rank"),
}
PAGE_SIZE = 25


class Portfolio(PortalView):
    """Every live deployment the person may see, with how it did over the last 24 hours."""

    queryset = Health.objects.select_related(
        "deployment__model__team", "deployment__environment", "deployment__version__model"
    )

    def get(self, request: HttpRequest) -> HttpResponse:
        assert self.queryset is not None
        rows = self.queryset
        chosen = {
            "team": request.GET.get("team", ""),
            "tier": request.GET.get("tier", ""),
            "environment": request.GET.get("environment", ""),
            "state": request.GET.get("state", ""),
        }
        if chosen["team"]:
            rows = rows.filter(deployment__model__team__slug=chosen["team"])
        if chosen["tier"] in RegisteredModel.RiskTier.values:
            rows = rows.filter(deployment__model__risk_tier=chosen["tier"])
        if chosen["environment"]:
            rows = rows.filter(deployment__environment__slug=chosen["environment"])
        if chosen["state"] in Health.State.values:
            rows = rows.filter(state=chosen["state"])
        sort = request.GET.get("sort", "state")
        rows = rows.order_by(*SORTS.get(sort, SORTS["state"]), "pk")
        page = Paginator(rows, PAGE_SIZE).get_page(request.GET.get("page"))
        flag_models(page.object_list, key=lambda health: health.deployment.model_id)
        query = request.GET.copy()
        query.pop("page", None)
        return render(
            request,
            "monitoring/portfolio.html",
            {
                "page": page,
                "chosen": chosen,
                "sort": sort if sort in SORTS else "state",
                "sorts": list(SORTS),
                # Only the teams of models this person may see: a team's name is not for all.
                "teams": Team.objects.filter(
                    pk__in=RegisteredModel.objects.restrict(self.person).values("team")
                ).order_by("name"),
                "tiers": RegisteredModel.RiskTier.choices,
                "environments": Environment.objects.all(),
                "states": Health.State.choices,
                "query": query.urlencode(),
            },
        )


def _markers(deployment: Deployment, window: series.Window) -> list[dict[str, str]]:
    """The switches of this model in this environment and this deployment's alerts inside the
    window, for the charts."""
    switches = Deployment.objects.filter(
        model_id=deployment.model_id,
        environment_id=deployment.environment_id,
        live_from__gte=window.start,
        live_from__lt=window.end,
    ).select_related("version")
    found = [
        {
            "at": d.live_from.isoformat(),
            "label": f"{'rolled back to' if d.kind == Deployment.Kind.ROLLBACK else ''} "
            f"v{d.version.number} live".strip(),
        }
        for d in switches
        if d.live_from is not None
    ]
    raised = Alert.objects.filter(
        deployment=deployment, opened_at__gte=window.start, opened_at__lt=window.end
    )
    found += [
        {"at": a.opened_at.isoformat(), "label": f"{a.get_level_display().lower()}: {a.check_name}"}
        for a in raised
    ]
    return sorted(found, key=lambda marker: marker["at"])


def _csv(deployment: Deployment, found: dict[str, Any]) -> HttpResponse:
    response = HttpResponse(content_type="text/csv; charset=utf-8")
    name = f"{deployment.model.slug}-{deployment.environment.slug}-monitoring.csv"
    response["Content-Disposition"] = f'attachment; filename="{name}"'
    features = list(found["psi"])
    writer = csv.writer(response)
    columns = ["bucket_start", "requests", "rows", "latency_p50_ms", "latency_p95_ms"]
    measured = list(found["performance"])
    refused = list(found["refused"])
    columns += ["latency_p99_ms", "score_psi", *(f"psi_{name}" for name in features), *measured]
    columns += [f"refused_{kind}" for kind in refused]
    writer.writerow(columns)
    for i, start in enumerate(found["t"]):
        writer.writerow(
            [
                start,
                found["requests"][i],
                found["rows"][i],
                found["latency_p50"][i],
                found["latency_p95"][i],
                found["latency_p99"][i],
                found["score_psi"][i],
                *(found["psi"][name][i] for name in features),
                *(found["performance"][name][i] for name in measured),
                *(found["refused"][kind][i] for kind in refused),
            ]
        )
    return response


class DeploymentMonitoring(PortalView):
    """One deployment's charts over a window: traffic, latency, score and feature drift."""

    queryset = Deployment.objects.select_related(
        "model", "version", "environment", "challenged__version"
    )

    def get(self, request: HttpRequest, pk: int) -> HttpResponse:
        deployment: Deployment = self.get_object(pk=pk)
        try:
            window = series.window_from(request.GET)
        except series.WindowError as problem:
            messages.error(request, f"{problem} Showing the last 24 hours.")
            window = series.window_from({})
        vouched = evidence.of(deployment.version_id)
        baseline, signature = vouched.baseline, vouched.signature or {}
        found = series.series(deployment, window, baseline, signature.get("task", ""))
        validated = vouched.metrics
        calibration_error = estimate.calibration_error(vouched.calibration)
        if request.GET.get("format") == "csv":
            return _csv(deployment, found)
        query = request.GET.copy()
        query.pop("format", None)
        listed_reviews = list(
            MonitoringReview.objects.filter(deployment=deployment).select_related(
                "alert", "decided_by", "deployment__model", "deployment__version"
            )[:10]
        )
        listed_alerts = list(
            Alert.objects.filter(deployment=deployment).select_related(
                "acknowledged_by", "resolved_by", "deployment__model"
            )[:20]
        )
        # Who may decide and handle depends on the deployment alone: asked once, not per row.
        may_decide = bool(listed_reviews) and can(
            self.person, monitoring_reviews.DECIDE, listed_reviews[0]
        )
        may_handle = bool(listed_alerts) and can(self.person, alerts.HANDLE, listed_alerts[0])
        compared = comparison.compare(deployment)
        return render(
            request,
            "monitoring/deployment.html",
            {
                "deployment": deployment,
                "window": window,
                "windows": list(series.WINDOWS),
                "chosen": request.GET.get("window", "" if "from" in request.GET else "24h"),
                "baseline": baseline,
                "found": found,
                "rows": sum(found["rows"]),
                "min_rows": series.MIN_ROWS_PER_POINT,
                "figures": charts.figures(found, _markers(deployment, window), validated),
                "health": Health.objects.filter(deployment=deployment).first(),
                "comparison": compared,
                "comparison_figure": charts.score_comparison(compared.score_histograms)
                if compared is not None and compared.score_histograms
                else None,
                "judged_by": policies.applied(deployment.model).source,
                "reviews": [
                    (
                        review,
                        may_decide and review.is_open,
                        # Ids of its own: several reviews can wait on one page.
                        ReviewDecisionForm(auto_id=f"review-{review.pk}-%s"),
                    )
                    for review in listed_reviews
                ],
                "alerts": [
                    (alert, may_handle and alert.state != Alert.State.RESOLVED)
                    for alert in listed_alerts
                ],
                "query": query.urlencode(),
                "may_export": can(self.person, registry.ADMINISTER),
                "calibration_error": calibration_error,
                "estimate_trusted": calibration_error is not None
                and calibration_error <= estimate.MAX_CALIBRATION_ERROR,
                "from": request.GET.get("from", ""),
                "to": request.GET.get("to", ""),
            },
        )


class ReasonForm(forms.Form):
    reason = forms.CharField(max_length=2000, strip=True)


class AlertAction(ActionView):
    """Acknowledge or resolve an alert, with a reason (the service checks who may)."""

    queryset = Alert.objects.select_related("deployment__model")
    form_class = ReasonForm
    invalid_message = "Say why, in a few words."

    def next_url(self, alert: Alert) -> str:
        return alert.get_absolute_url()


class AcknowledgeAlert(AlertAction):
    def perform(self, alert: Alert, form: forms.Form | None) -> str:
        assert form is not None
        alerts.acknowledge(alert.pk, actor=self.person, reason=form.cleaned_data["reason"])
        return "Alert acknowledged."


class ResolveAlert(AlertAction):
    def perform(self, alert: Alert, form: forms.Form | None) -> str:
        assert form is not None
        alerts.resolve(alert.pk, actor=self.person, reason=form.cleaned_data["reason"])
        return "Alert resolved."


class AlertList(PortalView):
    """Every alert of the deployments the person may see, newest first."""

    queryset = Alert.objects.select_related(
        "deployment__model", "deployment__environment", "acknowledged_by", "resolved_by"
    )

    def get(self, request: HttpRequest) -> HttpResponse:
        assert self.queryset is not None
        rows = self.queryset
        state = request.GET.get("state", "unresolved")
        if state == "unresolved":
            rows = rows.exclude(state=Alert.State.RESOLVED)
        elif state in Alert.State.values:
            rows = rows.filter(state=state)
        page = Paginator(rows, PAGE_SIZE).get_page(request.GET.get("page"))
        query = request.GET.copy()
        query.pop("page", None)
        return render(
            request,
            "monitoring/alert_list.html",
            {
                "page": page,
                "state": state,
                "states": [
                    ("unresolved", "Open or acknowledged"),
                    *Alert.State.choices,
                    ("all", "All"),
                ],
                "query": query.urlencode(),
            },
        )


EXPORT_MAX_ROWS = 1_000_000


class ExportLogs(PortalView):
    """An administrator downloads a deployment's raw prediction logs for chosen days as Parquet,
    before retention deletes them (audited)."""

    queryset = Deployment.objects.select_related("model", "environment")
    permission_required = registry.ADMINISTER
    permission_message = "Only administrators export raw prediction logs."

    def get(self, request: HttpRequest, pk: int) -> HttpResponse:
        import pandas as pd

        deployment: Deployment = self.get_object(pk=pk)
        try:
            window = series.window_from(request.GET)
        except series.WindowError as problem:
            messages.error(request, str(problem))
            return redirect("monitoring:deployment", pk=deployment.pk)
        logs = PredictionLog.objects.filter(
            deployment=deployment, received_at__gte=window.start, received_at__lt=window.end
        ).order_by("received_at", "id")
        count = logs.count()
        if count > EXPORT_MAX_ROWS:
            messages.error(
                request,
                f"{count:,} logs in {window.label}: export at most {EXPORT_MAX_ROWS:,} at a time; "
                "choose fewer days.",
            )
            return redirect("monitoring:deployment", pk=deployment.pk)
        rows = logs.values_list(
            "request_id", "received_at", "latency_ms", "rows", "inputs", "outputs"
        )
        frame = pd.DataFrame(
            [(r, at, ms, n, json.dumps(i), json.dumps(o)) for r, at, ms, n, i, o in rows],
            columns=["request_id", "received_at", "latency_ms", "rows", "inputs", "outputs"],
        )
        content = io.BytesIO()
        frame.to_parquet(content, index=False)
        audit.record(
            self.person,
            AuditAction.LOGS_EXPORTED,
            deployment,
            after={"from": window.start.isoformat(), "to": window.end.isoformat(), "count": count},
        )
        response = HttpResponse(content.getvalue(), content_type="application/vnd.apache.parquet")
        name = f"{deployment.model.slug}-{deployment.environment.slug}-predictions.parquet"
        response["Content-Disposition"] = f'attachment; filename="{name}"'
        return response


class PolicyList(PortalView):
    """The monitoring policy of each risk tier and the models with one of their own, current and
    past: a bank-wide rule all read."""

    def get(self, request: HttpRequest) -> HttpResponse:
        if request.GET.get("model"):  # "Give a model its own policy" picks one here
            return redirect("monitoring:model-policy-edit", slug=request.GET["model"])
        history = MonitoringPolicy.objects.select_related("created_by", "model").order_by(
            "-created_at"
        )
        tiers = policies.current_by_tier()
        is_admin = can(self.person, policies.CHANGE_POLICY)
        return render(
            request,
            "monitoring/policy_list.html",
            {
                "tiers": [
                    (value, label, tiers.get(value), policies.applied_levels(tiers.get(value)))
                    for value, label in RegisteredModel.RiskTier.choices
                ],
                "own": [
                    (policy, policies.applied_levels(policy))
                    for policy in sorted(policies.current_by_model().values(), key=lambda p: str(p))
                ],
                "levels": policies.LEVELS,
                "history": history[:30],
                "is_admin": is_admin,
                "models": RegisteredModel.objects.order_by("name").only("slug", "name")
                if is_admin
                else [],
            },
        )


class PolicyEdit(PortalView):
    """Edit a risk tier's monitoring policy, or a model's own (``slug`` in the URL): saving
    makes the next version current."""

    queryset = RegisteredModel.objects.all()
    permission_required = policies.CHANGE_POLICY
    permission_message = "Only administrators change monitoring policies."

    def _subject(self) -> tuple[str, RegisteredModel | None, MonitoringPolicy | None]:
        """The tier (or the model) the policy is for, and its current version."""
        if "slug" in self.kwargs:
            model: RegisteredModel = self.get_object(slug=self.kwargs["slug"])
            return model.risk_tier, model, policies.current_of_model(model)
        tier = self.kwargs["tier"]
        if tier not in RegisteredModel.RiskTier.values:
            raise Http404(f"There is no risk tier “{tier}”.")
        return tier, None, policies.current(tier)

    def _page(self, form: PolicyForm) -> HttpResponse:
        tier, model, current = self._subject()
        return render(
            self.request,
            "monitoring/policy_form.html",
            {
                "form": form,
                "tier": tier,
                "model": model,
                "current": current,
                "tier_policy": policies.current(tier) if model else None,
            },
        )

    def get(self, request: HttpRequest, **kwargs: Any) -> HttpResponse:
        tier, model, current = self._subject()
        # A model's first policy starts from the levels it is judged by now.
        starting = current or (policies.current(tier) if model else None)
        return self._page(PolicyForm(initial={**policies.applied_levels(starting), "note": ""}))

    def post(self, request: HttpRequest, **kwargs: Any) -> HttpResponse:
        tier, model, _ = self._subject()
        form = PolicyForm(request.POST)
        if form.is_valid():
            try:
                if model is None:
                    policies.update(
                        actor=self.person,
                        risk_tier=tier,
                        levels=form.levels(),
                        note=form.cleaned_data["note"],
                    )
                else:
                    policies.update_for_model(
                        actor=self.person,
                        model=model,
                        levels=form.levels(),
                        note=form.cleaned_data["note"],
                    )
            except ValidationError as problem:
                for field, errors in problem.message_dict.items():
                    for error in errors:
                        form.add_error(field if field in form.fields else None, error)
            else:
                messages.success(
                    request, "Policy saved as a new version; the next evaluation uses it."
                )
                return redirect("monitoring:policies")
        return self._page(form)


class RemoveModelPolicy(ActionView):
    """Judge a model by its tier's policy again (administrators; the service checks)."""

    queryset = RegisteredModel.objects.all()
    form_class = RemovePolicyForm
    invalid_message = "Say why the model goes back to its tier's policy."

    def next_url(self, model: RegisteredModel) -> str:
        return str(reverse("monitoring:policies"))

    def perform(self, model: RegisteredModel, form: forms.Form | None) -> str:
        assert form is not None
        policies.remove_for_model(actor=self.person, model=model, note=form.cleaned_data["note"])
        return f"{model.name} is judged by its tier's policy again."


class DecideReview(ActionView):
    """Record the monitoring review's one decision (the service checks who, and rolls back)."""

    queryset = MonitoringReview.objects.select_related("deployment")
    form_class = ReviewDecisionForm
    invalid_message = "Choose a decision and give a reason."

    def next_url(self, review: MonitoringReview) -> str:
        return review.get_absolute_url()

    def perform(self, review: MonitoringReview, form: forms.Form | None) -> str:
        assert form is not None
        decided = monitoring_reviews.decide(
            review.pk,
            actor=self.person,
            decision=form.cleaned_data["decision"],
            reason=form.cleaned_data["reason"],
            look_again_on=form.cleaned_data["look_again_on"],
        )
        return f"Decided: {decided.get_decision_display().lower()}."
