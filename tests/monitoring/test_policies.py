"""Monitoring policies: administrators version each tier's levels; evaluations and alerts use
them and name the version."""

from __future__ import annotations

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
