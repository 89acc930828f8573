"""The analytics API: the same figures as the pages, for the models the caller may see."""

from __future__ import annotations

from typing import Any

from django.core.exceptions import ValidationError
from drf_spectacular.utils import OpenApiParameter, extend_schema
from rest_framework.request import Request
from rest_framework.response import Response

from apps.analytics import changes, delivery, rollup
from apps.analytics.api.serializers import ChangeAnalyticsSerializer, DeliverySerializer
from apps.analytics.forms import ChangeFilterForm, Period, PeriodForm, error_messages
from apps.core.api import ErrorSerializer, ScopedAPIView
from apps.registry.models import RegisteredModel

PERIOD = [
    OpenApiParameter("from", str, description="First day, YYYY-MM-DD (default: 90 days ago)."),
    OpenApiParameter("to", str, description="Last day, YYYY-MM-DD, included (default: today)."),
    OpenApiParameter("model", str, description="A model's slug."),
    OpenApiParameter("team", str, description="A team's slug."),
]
FILTERS = [
    *PERIOD,
    OpenApiParameter("actor", str, description="A username."),
    OpenApiParameter(
        "kind", str, description="A kind of action: " + ", ".join(changes.KINDS) + "."
    ),
    OpenApiParameter("bucket", str, description="day or week (default: day up to 92 days)."),
]
ERRORS = {400: ErrorSerializer, 401: ErrorSerializer, 403: ErrorSerializer}


def _period(period: Period) -> dict[str, Any]:
    return {"first": period.first, "last": period.last, "days": period.days}


class AnalyticsAPIView(ScopedAPIView):
    """Reads the registered models the caller may see (scoped in ``initial``)."""

    queryset = RegisteredModel.objects.select_related("team").order_by("name")
    pagination_class = None

    def checked(self, form: PeriodForm) -> PeriodForm:
        if not form.is_valid():
            raise ValidationError(error_messages(form))
        return form


class ChangeAnalyticsView(AnalyticsAPIView):
    """Changes over time by kind, per model, team and actor, and people far above their usual
    rate, in the period."""

    @extend_schema(parameters=FILTERS, responses={200: ChangeAnalyticsSerializer, **ERRORS})
    def get(self, request: Request) -> Response:
        visible = self.get_queryset()
        form = self.checked(ChangeFilterForm(request.query_params, models=list(visible)))
        assert isinstance(form, ChangeFilterForm)
        period = form.period
        found = changes.analyse(
            request.user,
            visible,
            first=period.first,
            last=period.last,
            chosen=form.chosen_models(),
            actor=form.cleaned_data["actor"],
            kind=form.cleaned_data["kind"],
            bucket=form.bucket_size(),
            counted_to=rollup.catch_up(),
        )
        body = {
            "period": _period(period),
            "bucket": found.bucket,
            "total": found.total,
            "by_bucket": [
                {"bucket": when, "kind": kind, "count": n} for when, kind, n in found.by_bucket
            ],
            "by_model": [
                {
                    "model": row.model.slug if row.model else None,
                    "name": row.model.name if row.model else "(not about one model)",
                    "team": row.model.team.slug if row.model else None,
                    "changes": row.total,
                    **row.counts,
                }
                for row in found.by_model
            ],
            "by_team": [
                {"team": slug, "name": name, "changes": n} for slug, name, n in found.by_team
            ],
            "by_actor": [{"actor": actor, "changes": n} for actor, n in found.by_actor],
            "unusual": [
                {"actor": u.actor, "changes": u.count, "usual": u.usual, "ratio": u.ratio}
                for u in found.unusual
            ],
            "unusual_rule": {
                "factor": changes.FACTOR,
                "min_changes": changes.MIN_EVENTS,
                "baseline_days": changes.BASELINE_DAYS,
            },
        }
        return Response(ChangeAnalyticsSerializer(body).data)


class DeliveryView(AnalyticsAPIView):
    """Deployment frequency, lead time to production (by stage), change failure rate and time
    to restore, for the whole bank (what the caller sees), per team and per model."""

    @extend_schema(parameters=PERIOD, responses={200: DeliverySerializer, **ERRORS})
    def get(self, request: Request) -> Response:
        visible = self.get_queryset()
        form = self.checked(PeriodForm(request.query_params, models=list(visible)))
        chosen = form.chosen_models()
        models = visible if chosen is None else visible.filter(pk__in=[m.pk for m in chosen])
        found = delivery.measure(models, form.period)
        body = {
            "period": _period(form.period),
            "bank": found.bank.as_dict(),
            "by_team": [
                {"team": slug, "name": name, "metrics": m.as_dict()}
                for slug, name, m in found.by_team
            ],
            "by_model": [
                {
                    "model": model.slug,
                    "name": model.name,
                    "team": model.team.slug,
                    "metrics": m.as_dict(),
                }
                for model, m in found.by_model
            ],
            "lead_time_stages": found.stages,
        }
        return Response(DeliverySerializer(body).data)
