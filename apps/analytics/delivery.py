"""Delivery metrics: how often and how fast models reach production, and how often that hurts.

Definitions (the page and docs/analytics.md say the same in words):

- A **production deployment** is a deployment of a version as the live version (not a shadow or
  canary challenger) of a production environment, made by deploying or by promoting a
  challenger; a rollback is a restore, not a new change. It belongs to the day it was requested
  and counts once it has ended its job: it went live or it failed.
- **Deployment frequency**: production deployments that went live, per week of the period
  (days / 7).
- **Lead time to production**: for each version whose first time live in production falls in the
  period, from its upload to that moment; median and 90th percentile, and split by stage: the
  review stages of ``apps.reviews.lead_times`` (its ``stage_times``, unchanged), then from the
  review's decision to production. The 90th percentile is the lead-time page's
  (``lead_times.percentile_90``: linear interpolation, 9.1 for the values 1 … 10).
- **Change failure rate**: the share of production deployments that failed (the job refused to
  switch: the previous version kept serving), were rolled back (at any time), or had an
  alert-level monitoring alert opened within 7 days of going live.
- **Time to restore**: for a failed change that went live, from the failure to service restored:
  from the first alert-level alert within those 7 days (or, rolled back without one, from going
  live) until the rollback; not rolled back, from that alert until it was resolved. A failed
  deployment job restores nothing (nothing changed); an alert still unresolved is "not restored
  yet" and counted apart. Median and 90th percentile.

Rows are production deployments (a handful a week per model), never audit events; the queries
are fixed in number (deployments, alerts, and the versions with their reports and decisions).
"""

from __future__ import annotations

import statistics
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from django.db.models import OuterRef, QuerySet, Subquery

from apps.analytics.forms import Period
from apps.deployments.models import Deployment
from apps.monitoring.models import Alert
from apps.registry.models import ModelVersion, RegisteredModel
from apps.reviews import lead_times

ALERT_WINDOW = timedelta(days=7)
CHANGES = (Deployment.Kind.DEPLOY, Deployment.Kind.PROMOTION)
UNFINISHED = (Deployment.Status.QUEUED, Deployment.Status.RUNNING)
HOUR = timedelta(hours=1)

# The lead-time stages: the review stages exactly as the lead-time page defines them, then ours.
STAGES: list[tuple[str, str]] = [
    *((key, label) for key, label in lead_times.STAGES if key != "total"),
    ("to_decision", "Upload to review decision"),
    ("decision_to_production", "Review decision to production"),
    ("to_production", "Upload to production"),
]


def median(values: list[float]) -> float | None:
    return statistics.median(values) if values else None


@dataclass
class Change:
    """One production deployment of the period, judged."""

    deployment_id: int
    model_id: int
    status: str
    live_from: datetime | None
    failed: bool = False
    why: list[str] = field(default_factory=list)
    restore_hours: float | None = None
    unrestored: bool = False
    lead_hours: float | None = None  # when it is its version's first time live in production


@dataclass
class Metrics:
    deployments: int  # went live
    changes: int  # went live or failed
    failed_changes: int
    weeks: float
    lead_times: list[float]
    restores: list[float]
    unrestored: int

    @property
    def deployment_frequency(self) -> float:
        return self.deployments / self.weeks

    @property
    def change_failure_rate(self) -> float | None:
        return self.failed_changes / self.changes if self.changes else None

    def as_dict(self) -> dict[str, Any]:
        return {
            "deployments": self.deployments,
            "weeks": round(self.weeks, 3),
            "deployment_frequency": round(self.deployment_frequency, 3),
            "lead_time_count": len(self.lead_times),
            "lead_time_median_hours": _round(median(self.lead_times)),
            "lead_time_p90_hours": _round(lead_times.percentile_90(self.lead_times)),
            "changes": self.changes,
            "failed_changes": self.failed_changes,
            "change_failure_rate": _round(self.change_failure_rate, 4),
            "restore_count": len(self.restores),
            "restore_median_hours": _round(median(self.restores)),
            "restore_p90_hours": _round(lead_times.percentile_90(self.restores)),
            "unrestored": self.unrestored,
        }


def _round(value: float | None, digits: int = 2) -> float | None:
    return None if value is None else round(value, digits)


def _metrics(changes: Iterable[Change], weeks: float) -> Metrics:
    found = list(changes)
    return Metrics(
        deployments=sum(1 for c in found if c.live_from is not None),
        changes=len(found),
        failed_changes=sum(1 for c in found if c.failed),
        weeks=weeks,
        lead_times=[c.lead_hours for c in found if c.lead_hours is not None],
        restores=[c.restore_hours for c in found if c.restore_hours is not None],
        unrestored=sum(1 for c in found if c.unrestored),
    )


@dataclass
class Delivery:
    period: Period
    bank: Metrics
    by_team: list[tuple[str, str, Metrics]]  # slug, name
    by_model: list[tuple[RegisteredModel, Metrics]]
    stages: list[dict[str, Any]]
    changes: list[Change]


def production_deployments(models: QuerySet[RegisteredModel]) -> QuerySet[Deployment]:
    """Every production change of ``models``: live version, deployed or promoted."""
    return Deployment.objects.filter(
        model__in=models,
        environment__is_production=True,
        mode=Deployment.Mode.CHAMPION,
        kind__in=CHANGES,
    )


def measure(models: QuerySet[RegisteredModel], period: Period) -> Delivery:
    """The delivery metrics of ``models`` (already scoped to the person) over ``period``."""
    production = production_deployments(models)
    first_live = (
        production.filter(version=OuterRef("version"), live_from__isnull=False)
        .order_by("live_from", "pk")
        .values("pk")[:1]
    )
    rows = list(
        production.filter(created_at__gte=period.start, created_at__lt=period.end)
        .exclude(status__in=UNFINISHED)
        .annotate(first_live_pk=Subquery(first_live))
        .values(
            "pk", "model_id", "version_id", "status", "live_from", "live_until", "first_live_pk"
        )
        .order_by("created_at", "pk")
    )
    alerts: dict[int, list[dict[str, Any]]] = {}
    for found in (
        Alert.objects.filter(
            level=Alert.Level.ALERT, deployment_id__in=[r["pk"] for r in rows if r["live_from"]]
        )
        .order_by("opened_at", "pk")
        .values("deployment_id", "opened_at", "resolved_at")
    ):
        alerts.setdefault(found["deployment_id"], []).append(dict(found))

    firsts = {r["version_id"]: r for r in rows if r["first_live_pk"] == r["pk"]}
    versions = (
        ModelVersion.objects.filter(pk__in=list(firsts))
        .select_related("review")
        .prefetch_related("validation_reports", "review__decisions")
    )
    stage_samples: dict[str, list[float]] = {key: [] for key, _ in STAGES}
    lead: dict[int, float] = {}
    for version in versions:
        went_live = firsts[version.pk]["live_from"]
        times = lead_times.stage_times(version)
        review = getattr(version, "review", None)
        decided = review.closed_at if review is not None else None
        times["to_decision"] = times.pop("total")
        times["decision_to_production"] = (
            went_live - decided if decided and went_live >= decided else None
        )
        to_production = went_live - version.created_at
        times["to_production"] = to_production
        for key, duration in times.items():
            if duration is not None:
                stage_samples[key].append(duration / HOUR)
        lead[firsts[version.pk]["pk"]] = to_production / HOUR

    changes = [_judge(row, alerts.get(row["pk"], []), lead.get(row["pk"])) for row in rows]
    named = {m.pk: m for m in models.filter(pk__in={c.model_id for c in changes})}
    by_model = [
        (model, _metrics((c for c in changes if c.model_id == model.pk), period.weeks))
        for model in sorted(named.values(), key=lambda m: m.name)
    ]
    teams: dict[str, tuple[str, list[Change]]] = {}
    for change in changes:
        team = named[change.model_id].team
        teams.setdefault(team.slug, (team.name, []))[1].append(change)
    by_team = [
        (slug, name, _metrics(found, period.weeks))
        for slug, (name, found) in sorted(teams.items(), key=lambda kv: kv[1][0])
    ]
    stages = [
        {
            "stage": key,
            "label": label,
            "count": len(stage_samples[key]),
            "median_hours": _round(median(stage_samples[key])),
            "p90_hours": _round(lead_times.percentile_90(stage_samples[key])),
        }
        for key, label in STAGES
    ]
    return Delivery(period, _metrics(changes, period.weeks), by_team, by_model, stages, changes)


def _judge(row: dict[str, Any], alerts: list[dict[str, Any]], lead_hours: float | None) -> Change:
    change = Change(row["pk"], row["model_id"], row["status"], row["live_from"])
    change.lead_hours = lead_hours
    if row["status"] == Deployment.Status.FAILED:
        change.failed = True
        change.why.append("the deployment failed")
        return change
    went_live = row["live_from"]
    alert = next(
        (a for a in alerts if went_live <= a["opened_at"] <= went_live + ALERT_WINDOW), None
    )
    rolled_back = row["status"] == Deployment.Status.ROLLED_BACK
    if rolled_back:
        change.why.append("rolled back")
    if alert is not None:
        change.why.append("alert-level monitoring alert within 7 days")
    change.failed = bool(change.why)
    if rolled_back:
        began = alert["opened_at"] if alert and alert["opened_at"] <= row["live_until"] else None
        change.restore_hours = (row["live_until"] - (began or went_live)) / HOUR
    elif alert is not None:
        if alert["resolved_at"] is not None:
            change.restore_hours = (alert["resolved_at"] - alert["opened_at"]) / HOUR
        else:
            change.unrestored = True
    return change
