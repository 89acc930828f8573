"""Retention of raw prediction logs: deleted after ``PORTAL_PREDICTION_LOG_DAYS``, audited.

Only logs the rollup has folded are deleted (ids at or below its watermark and not among its
gaps), so the buckets keep everything the logs said. Each run deletes in batches and records,
per deployment, how many rows from which time range went.
"""

from __future__ import annotations

from datetime import datetime, timedelta

from django.conf import settings
from django.db import transaction
from django.db.models import Count, Max, Min
from django.utils import timezone

from apps.audit import services as audit
from apps.core.audit_actions import AuditAction
from apps.deployments.models import Deployment, PredictionLog
from apps.monitoring.models import RollupCursor
from apps.monitoring.rollup import SOURCE

BATCH = 5_000


def apply(now: datetime | None = None) -> int:
    """Delete the folded logs older than the retention period; return how many."""
    cutoff = (now or timezone.now()) - timedelta(days=settings.PORTAL_PREDICTION_LOG_DAYS)
    cursor = RollupCursor.objects.filter(source=SOURCE).first()
    if cursor is None:
        return 0  # nothing was ever folded: nothing may go
    expired = PredictionLog.objects.filter(received_at__lt=cutoff, id__lte=cursor.watermark)
    for first, last, _ in cursor.gaps:
        expired = expired.exclude(id__range=(first, last))
    deleted = 0
    while True:
        with transaction.atomic():
            ids = list(expired.order_by("id").values_list("id", flat=True)[:BATCH])
            if not ids:
                return deleted
            batch = PredictionLog.objects.filter(id__in=ids)
            summary = batch.values("deployment_id").annotate(
                count=Count("id"), first=Min("received_at"), last=Max("received_at")
            )
            deployments = Deployment.objects.in_bulk([row["deployment_id"] for row in summary])
            for row in summary:
                audit.record(
                    None,
                    AuditAction.LOGS_DELETED,
                    deployments[row["deployment_id"]],
                    after={
                        "count": row["count"],
                        "from": row["first"].isoformat(),
                        "to": row["last"].isoformat(),
                        "retention_days": settings.PORTAL_PREDICTION_LOG_DAYS,
                    },
                )
            deleted += batch.delete()[0]
