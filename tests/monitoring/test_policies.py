"""Monitoring policies: administrators version each tier's levels; evaluations and alerts use
them and name the version."""

from __future__ import annotations

import re

import pytest

from apps.audit.models import AuditEvent
from apps.deployments import serving
from apps.monitoring import health, policies, rollup
from apps.monitoring.models import Alert, Health, MonitoringPolicy
from tests.monitoring.test_portfolio import _requests

pytestmark = pytest.mark.django_db


def _form(**levels: object) -> dict[str, object]:
    values = {name: level.default for name, level in policies.LEVELS.items()}
    values.update(levels)
    return {k: "" if v is None else v for k, v in values.items()}


def test_an_administrator_saves_a_new_version_and_others_are_refused(client, people):
    client.force_login(people.rita)
    assert client.get("/monitoring/policies/high/").status_code == 403
    assert client.get("/monitoring/policies/").status_code == 200  # everyone reads them

    client.force_login(people.admin)
    saved = client.post(
        "/monitoring/policies/high/", {**_form(psi_alert=0.4), "note": "Fewer false alarms"}
    )
    assert saved.status_code == 302
    refused = client.post(
        "/monitoring/policies/high/", {**_form(psi_warning=0.5, psi_alert=0.3), "note": "x"}
    )
    assert "at least the warning level" in refused.content.decode()
    client.post("/monitoring/policies/high/", {**_form(max_error_rate=0.05), "note": "Errors too"})

    assert list(
        MonitoringPolicy.objects.filter(risk_tier="high").values_list("number", "is_current")
    ) == [
        (2, True),
        (1, False),
    ]
    event = AuditEvent.objects.filter(action="monitoring.policy_changed").order_by("id").last()
    assert event.actor == people.admin and event.before["number"] == 1
    assert event.after["levels"]["max_error_rate"] == 0.05
    assert "high risk monitoring policy v2" in client.get("/monitoring/policies/").content.decode()


def test_evaluations_judge_by_the_tiers_policy_and_alerts_name_it(live, people):
    policies.update(
        actor=people.admin,
        risk_tier="high",
        levels={"psi_warning": 0.1, "psi_alert": 50.0, "max_error_rate": 0.1},
        note="Drift alerts only past 50",
    )
    _requests(live, 40, income_mean=80)
    for status in (422, 422, 500, 400, 400):
        serving.LOG.refused(live.deployment.pk, status)
    serving.LOG.flush()
    rollup.fold()
    rollup.fold_refused()
    health.evaluate()

    judged = Health.objects.get()
    assert judged.state == Health.State.WARNING, (judged.reason, judged.drifted_psi)
    raised = {a.check_name: a for a in Alert.objects.all()}
    score_drifted = judged.score_psi is not None and judged.score_psi >= 0.1
    assert set(raised) == {"drift:income", "errors"} | ({"drift:score"} if score_drifted else set())
    assert raised["drift:income"].level == Alert.Level.WARNING
    assert raised["errors"].level == Alert.Level.ALERT
    assert "11.1 % of requests refused or failed" in raised["errors"].message
    assert raised["errors"].levels.startswith("high risk monitoring policy v1: ")


def test_a_model_with_a_policy_of_its_own_is_judged_by_it_until_it_is_removed(client, live, people):
    model = live.deployment.model
    client.force_login(people.alice)
    assert client.get(f"/monitoring/policies/models/{model.slug}/").status_code == 403
    client.force_login(people.admin)
    page = client.get(f"/monitoring/policies/?model={model.slug}", follow=True)
    assert "The model is judged by the default levels now" in page.content.decode()
    saved = client.post(
        f"/monitoring/policies/models/{model.slug}/",
        {**_form(psi_warning=0.1, psi_alert=50.0), "note": "A campaign shifts incomes"},
    )
    assert saved.status_code == 302
    _requests(live, 40, income_mean=80)
    rollup.fold()
    health.evaluate()
    [alert] = Alert.objects.filter(check_name="drift:income")
    assert alert.level == Alert.Level.WARNING  # the tier's defaults would have said alert
    assert alert.levels.startswith(f"{model.name} monitoring policy v1: ")
    listed = client.get("/monitoring/policies/").content.decode()
    assert "Models with a policy of their own" in listed and model.name in listed

    assert (
        client.post(f"/monitoring/policies/models/{model.slug}/remove/", {"note": ""}).status_code
        == 302
    )
    assert MonitoringPolicy.objects.get(model=model).is_current  # no reason, nothing removed
    client.post(f"/monitoring/policies/models/{model.slug}/remove/", {"note": "Campaign over"})
    assert not MonitoringPolicy.objects.get(model=model).is_current
    assert policies.applied(model).source == "default levels"
    removed = AuditEvent.objects.filter(action="monitoring.policy_changed").order_by("id").last()
    assert removed.actor == people.admin and removed.after["removed"] is True
    assert client.get("/monitoring/policies/models/no-such-model/").status_code == 404


def test_a_model_expected_to_be_called_raises_an_alert_after_hours_without_a_request(live, people):
    from datetime import timedelta

    from django.utils import timezone

    from tests.monitoring.conftest import log

    policies.update(
        actor=people.admin,
        risk_tier="high",
        levels={"psi_warning": None, "psi_alert": None, "no_traffic_hours": 2},
        note="Scoring runs all day",
    )
    now = timezone.now()
    log(live.deployment, now - timedelta(hours=1), {"income": [50]}, [0.3])
    rollup.fold()
    health.evaluate(now=now)
    assert not Alert.objects.exists()
    assert Health.objects.get().last_request_at is not None

    health.evaluate(now=now + timedelta(hours=1, minutes=30))  # 2.5 hours since the request
    health.evaluate(now=now + timedelta(hours=2))
    [alert] = Alert.objects.all()
    assert (alert.check_name, alert.level) == ("no_traffic", Alert.Level.ALERT)
    assert re.fullmatch(r"No requests for [23] hours", alert.message), alert.message

    # Beyond the 24 hours the buckets are read for, the last request is still known.
    health.evaluate(now=now + timedelta(hours=30))
    assert Health.objects.get().last_request_at is not None
    assert Alert.objects.get().state == Alert.State.OPEN
