"""The change analytics and delivery metrics pages, and their CSV downloads.

Both read ``self.queryset``: the registered models the person may see, scoped by ``PortalView``
before the handler runs. The only write is the change analytics' fold of the audit events the
beat has not folded yet (``rollup.catch_up``), so that its figures are current to the second.
"""

from __future__ import annotations

import csv
from typing import Any

from django.core.paginator import Paginator
from django.http import HttpRequest, HttpResponse
from django.shortcuts import render
from django.utils.http import urlencode

from apps.analytics import changes, charts, delivery, rollup
from apps.analytics.forms import ChangeFilterForm, PeriodForm
from apps.core.exports import csv_cell
from apps.core.views import PortalView
from apps.registry.models import RegisteredModel

MODELS_PER_PAGE = 50


class AnalyticsView(PortalView):
    queryset = RegisteredModel.objects.select_related("team").order_by("name")

    def models(self) -> list[RegisteredModel]:
        assert self.queryset is not None
        return list(self.queryset)

    def wants_csv(self) -> bool:
        return self.request.GET.get("format") == "csv"


def _csv(name: str, header: list[str], rows: list[list[Any]], period: Any) -> HttpResponse:
    response = HttpResponse(content_type="text/csv; charset=utf-8")
    response["Content-Disposition"] = (
        f'attachment; filename="{name}-{period.first.isoformat()}-{period.last.isoformat()}.csv"'
    )
    writer = csv.writer(response)
    writer.writerow(header)
    for row in rows:
        writer.writerow([csv_cell(value) for value in row])
    return response


def _refused(request: HttpRequest, template: str, context: dict[str, Any]) -> HttpResponse:
    """Invalid filters: the page with the errors at their fields (or, for a CSV, a sentence)."""
    if request.GET.get("format") == "csv":
        form = context["form"]
        problems = " ".join(
            f"{form[name].label if name in form.fields else ''}: {message}".lstrip(": ")
            for name, messages in form.errors.items()
            for message in messages
        )
        return HttpResponse(
            "Nothing exported; correct the filters. " + problems,
            status=400,
            content_type="text/plain; charset=utf-8",
        )
    return render(request, template, context, status=400)


class ChangeAnalyticsPage(AnalyticsView):
    template = "analytics/change_analytics.html"

    def get(self, request: HttpRequest) -> HttpResponse:
        assert self.queryset is not None
        form = ChangeFilterForm(request.GET, models=self.models())
        context: dict[str, Any] = {
            "form": form,
            "whole_trail": changes.reads_whole_trail(self.person),
            "factor": changes.FACTOR,
            "min_events": changes.MIN_EVENTS,
            "baseline_days": changes.BASELINE_DAYS,
            "columns": changes.COLUMNS,
        }
        if not form.is_valid():
            return _refused(request, self.template, context)
        period = form.period
        found = changes.analyse(
            self.person,
            self.queryset,
            first=period.first,
            last=period.last,
            chosen=form.chosen_models(),
            actor=form.cleaned_data["actor"],
            kind=form.cleaned_data["kind"],
            bucket=form.bucket_size(),
            counted_to=rollup.catch_up(),
        )
        if self.wants_csv():
            return _csv(
                "change-analytics",
                ["model", "team", "changes", *(heading for _, heading, _ in changes.COLUMNS)],
                [
                    [
                        row.model.name if row.model else "(not about one model)",
                        row.model.team.name if row.model else "",
                        row.total,
                        *(row.counts[key] for key, _, _ in changes.COLUMNS),
                    ]
                    for row in found.by_model
                ],
                period,
            )
        query = form.query()
        context.update(
            found=found,
            period=period,
            figure=charts.changes_over_time(found) if found.total else None,
            csv_query=urlencode({**query, "format": "csv"}),
            delivery_query=urlencode(
                {k: v for k, v in query.items() if k in ("from", "to", "model", "team")}
            ),
            top_models=[row for row in found.by_model if row.model is not None][: changes.TOP],
            # The table pages by 50 (the CSV has every row): a bank's 250 models are one
            # screen of work each, and drawing them all made the page slow.
            page=Paginator(found.by_model, MODELS_PER_PAGE).get_page(request.GET.get("page")),
            query=urlencode(query),
            top_teams=found.by_team[: changes.TOP],
            top_actors=found.by_actor[: changes.TOP],
        )
        return render(request, self.template, context)


class DeliveryPage(AnalyticsView):
    template = "analytics/delivery.html"

    def get(self, request: HttpRequest) -> HttpResponse:
        assert self.queryset is not None
        form = PeriodForm(request.GET, models=self.models())
        context: dict[str, Any] = {"form": form, "window_days": delivery.ALERT_WINDOW.days}
        if not form.is_valid():
            return _refused(request, self.template, context)
        chosen = form.chosen_models()
        models = (
            self.queryset if chosen is None else self.queryset.filter(pk__in=[m.pk for m in chosen])
        )
        found = delivery.measure(models, form.period)
        if self.wants_csv():
            return _csv(
                "delivery-metrics",
                ["scope", "name", *DELIVERY_FIELDS],
                [
                    ["bank", "All models you can see", *_values(found.bank)],
                    *(["team", name, *_values(metrics)] for _, name, metrics in found.by_team),
                    *(["model", m.name, *_values(metrics)] for m, metrics in found.by_model),
                ],
                form.period,
            )
        query = form.query()
        context.update(
            found=found,
            period=form.period,
            bank=found.bank.as_dict(),
            by_team=[(name, m.as_dict()) for _, name, m in found.by_team],
            by_model=[(model, m.as_dict()) for model, m in found.by_model],
            csv_query=urlencode({**query, "format": "csv"}),
            analytics_query=urlencode(query),
        )
        return render(request, self.template, context)


DELIVERY_FIELDS = [
    "deployments",
    "weeks",
    "deployment_frequency",
    "lead_time_count",
    "lead_time_median_hours",
    "lead_time_p90_hours",
    "changes",
    "failed_changes",
    "change_failure_rate",
    "restore_count",
    "restore_median_hours",
    "restore_p90_hours",
    "unrestored",
]


def _values(metrics: delivery.Metrics) -> list[Any]:
    figures = metrics.as_dict()
    return [figures[name] for name in DELIVERY_FIELDS]
