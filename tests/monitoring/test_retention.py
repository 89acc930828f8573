"""Retention deletes only folded logs older than the limit and audits what went; an
administrator exports logs as Parquet first."""

from __future__ import annotations

import io
from datetime import timedelta

import pandas as pd
import pytest
from django.utils import timezone

from apps.audit.models import AuditEvent
from apps.deployments.models import PredictionLog
from apps.monitoring import retention, rollup
from apps.monitoring.models import Bucket
from tests.monitoring.conftest import log

pytestmark = pytest.mark.django_db


def _logs(live, days_ago: list[int]) -> list[PredictionLog]:
    now = timezone.now()
    return [
        log(live.deployment, now - timedelta(days=d), {"income": [50.0], "segment": ["a"]}, [0.2])
        for d in days_ago
    ]


def test_only_folded_logs_older_than_the_limit_go_and_the_rollups_stay(live, settings):
    settings.PORTAL_PREDICTION_LOG_DAYS = 30
    old = _logs(live, [200, 100, 40])
    recent = _logs(live, [10, 1])
    rollup.fold()
    unfolded = _logs(live, [90])  # written after the last fold: it waits for the rollup

    assert retention.apply() == 3
    left = set(PredictionLog.objects.values_list("pk", flat=True))
    assert left == {p.pk for p in recent + unfolded}
    assert sum(b.requests for b in Bucket.objects.filter(span=86400)) == 5  # kept
    [event] = AuditEvent.objects.filter(action="monitoring.logs_deleted")
    assert event.after["count"] == 3 and event.after["retention_days"] == 30
    assert event.after["from"] == old[0].received_at.isoformat()
    assert event.after["to"] == old[2].received_at.isoformat()
    assert event.object_id == str(live.deployment.pk)

    rollup.fold()
    assert retention.apply() == 1 and retention.apply() == 0


def test_an_administrator_exports_a_days_logs_as_parquet_and_it_is_audited(client, people, live):
    _logs(live, [3, 3, 1])
    url = f"/monitoring/deployments/{live.deployment.pk}/logs.parquet"
    day = (timezone.localtime() - timedelta(days=3)).date().isoformat()
    client.force_login(people.alice)
    assert client.get(f"{url}?from={day}&to={day}").status_code == 403
    client.force_login(people.admin)
    download = client.get(f"{url}?from={day}&to={day}")
    assert download.status_code == 200
    frame = pd.read_parquet(io.BytesIO(download.content))
    assert len(frame) == 2 and set(frame.columns) >= {"request_id", "inputs", "outputs"}
    event = AuditEvent.objects.get(action="monitoring.logs_exported")
    assert event.actor == people.admin and event.after["count"] == 2
