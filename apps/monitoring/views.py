from __future__ import annotations

from django.core.paginator import Paginator
from django.http import HttpRequest, HttpResponse
from django.shortcuts import render

from apps.accounts.models import Team
from apps.core.views import PortalView
from apps.deployments.models import Environment
from apps.monitoring.models import Health
from apps.registry.models import RegisteredModel

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
                "teams": Team.objects.all(),
                "tiers": RegisteredModel.RiskTier.choices,
                "environments": Environment.objects.all(),
                "states": Health.State.choices,
                "query": query.urlencode(),
            },
        )
