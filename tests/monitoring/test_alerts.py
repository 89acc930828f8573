"""Alerts: raised once per breach, announced, handled with a reason, resolved on recovery."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.utils import timezone

from apps.audit.models import AuditEvent
from apps.monitoring import health, rollup
from apps.monitoring.models import Alert
from apps.notifications.models import Notification
from tests.monitoring.test_portfolio import _requests

pytestmark = pytest.mark.django_db


def _drift(live) -> None:
    _requests(live, 40, income_mean=80)
    rollup.fold()


def test_a_drift_raises_one_alert_however_often_it_is_evaluated(live, people):
    _drift(live)
    for _ in range(3):
        health.evaluate()
    [alert] = Alert.objects.all()
    assert (alert.check_name, alert.level, alert.state) == ("drift:income", "alert", "open")
    assert "Drift in income: PSI" in alert.message and "default levels" in alert.levels
    assert AuditEvent.objects.filter(action="monitoring.alert_raised").count() == 1
    told = set(
        Notification.objects.filter(event="monitoring.alert_raised").values_list(
            "recipient__username", flat=True
        )
    )
    assert told == {"alice", "rita", "ivan"}  # the team, the risk owner, model operations


def test_an_alert_resolves_itself_after_a_whole_window_within_bounds(live):
    _drift(live)
    health.evaluate()
    assert health.evaluate(now=timezone.now() + timedelta(hours=12)) == 1
    assert Alert.objects.get().state == Alert.State.OPEN  # the drifted hour is still in the window
    health.evaluate(now=timezone.now() + timedelta(hours=25))
    health.evaluate(now=timezone.now() + timedelta(hours=49))
    alert = Alert.objects.get()
    assert alert.state == Alert.State.RESOLVED and alert.resolved_by is None
    assert alert.resolution == "Back within bounds for 24 hours."
    assert Notification.objects.filter(event="monitoring.alert_resolved").exists()


@pytest.mark.parametrize(("who", "status"), [("alice", 302), ("rita", 302), ("ivan", 302)])
def test_the_people_who_answer_for_the_model_acknowledge_and_resolve_with_a_reason(
    client, people, live, who, status
):
    _drift(live)
    health.evaluate()
    alert = Alert.objects.get()
    client.force_login(getattr(people, who))
    url = f"/monitoring/alerts/{alert.pk}/"
    assert client.post(url + "acknowledge/", {"reason": ""}).status_code == 302
    assert Alert.objects.get().state == Alert.State.OPEN  # no reason, nothing done
    assert client.post(url + "acknowledge/", {"reason": "Marketing campaign"}).status_code == 302
    assert client.post(url + "resolve/", {"reason": "Retrained as v2"}).status_code == status
    alert.refresh_from_db()
    assert (alert.state, alert.acknowledgement, alert.resolution) == (
        "resolved",
        "Marketing campaign",
        "Retrained as v2",
    )
    assert alert.acknowledged_by == alert.resolved_by == getattr(people, who)
    actions = (
        AuditEvent.objects.filter(object_type="monitoring.alert", object_id=str(alert.pk))
        .order_by("id")
        .values_list("action", flat=True)
    )
    assert list(actions) == [
        "monitoring.alert_raised",
        "monitoring.alert_acknowledged",
        "monitoring.alert_resolved",
    ]
    # A breach that goes on raises a new alert: the next evaluation says so again.
    health.evaluate()
    assert Alert.objects.exclude(state="resolved").count() == 1


def test_compliance_reads_alerts_but_does_not_handle_them_and_others_do_not_see_them(
    client, people, live
):
    _drift(live)
    health.evaluate()
    alert = Alert.objects.get()
    client.force_login(people.carl)
    assert "Drift in income" in client.get("/monitoring/alerts/").content.decode()
    page = client.get(f"/monitoring/deployments/{live.deployment.pk}/").content.decode()
    assert "Drift in income" in page and "Acknowledge, because" not in page
    refused = client.post(f"/monitoring/alerts/{alert.pk}/resolve/", {"reason": "no"})
    assert refused.status_code == 403
    client.force_login(people.bob)
    assert "Drift in income" not in client.get("/monitoring/alerts/").content.decode()
    assert (
        client.post(f"/monitoring/alerts/{alert.pk}/resolve/", {"reason": "x"}).status_code == 404
    )
    assert Alert.objects.get().state == Alert.State.OPEN
