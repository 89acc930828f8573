"""The guard rail: a challenger with an alert-level breach is stopped by the system."""

from __future__ import annotations

import pytest
from django.utils import timezone

from apps.audit.models import AuditEvent
from apps.deployments.models import Deployment, Placement
from apps.monitoring import health, rollup
from apps.monitoring.models import Alert, MonitoringReview
from apps.notifications.models import Notification
from tests.monitoring.test_portfolio import _requests

pytestmark = pytest.mark.django_db


@pytest.fixture
def challenger(live, people) -> Deployment:
    """The monitored deployment as a shadow beside a live version of the same model."""
    champion = Deployment.objects.create(
        model=live.deployment.model,
        version=live.deployment.version,
        environment=live.deployment.environment,
        status=Deployment.Status.LIVE,
        requested_by=people.ivan,
        live_from=timezone.now(),
    )
    Deployment.objects.filter(pk=live.deployment.pk).update(mode="shadow")
    Placement.objects.create(
        model=champion.model,
        environment=champion.environment,
        deployment=champion,
        challenger=live.deployment,
    )
    live.deployment.refresh_from_db()
    return live.deployment


def test_a_challenger_in_alert_is_stopped_by_the_system_and_model_ops_are_told(live, challenger):
    _requests(live, 40, income_mean=80)  # the baseline's income is around 50
    rollup.fold()
    health.evaluate()
    challenger.refresh_from_db()
    [alert] = Alert.objects.filter(deployment=challenger)
    assert alert.level == Alert.Level.ALERT
    assert challenger.status == Deployment.Status.STOPPED and challenger.ended_by is None
    assert challenger.message == f"Stopped by monitoring: {alert.message}"
    assert Placement.objects.get().challenger is None
    stopped = AuditEvent.objects.get(action="challenger.stopped")
    assert stopped.actor is None and stopped.after["reason"] == challenger.message
    told = set(
        Notification.objects.filter(event="monitoring.challenger_stopped").values_list(
            "recipient__username", flat=True
        )
    )
    assert told == {"alice", "rita", "ivan"}
    # A challenger is stopped, not reviewed: no decision waits for anyone.
    assert not MonitoringReview.objects.exists()
    health.evaluate()  # and a stopped challenger is not evaluated again
    assert AuditEvent.objects.filter(action="challenger.stopped").count() == 1


def test_a_challenger_within_bounds_runs_on(live, challenger):
    _requests(live, 40, income_mean=50)
    rollup.fold()
    health.evaluate()
    challenger.refresh_from_db()
    assert challenger.status == Deployment.Status.LIVE
    assert Placement.objects.get().challenger == challenger
