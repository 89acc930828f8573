"""The portfolio: every live deployment a person may see, judged over the last 24 hours."""

from __future__ import annotations

from datetime import timedelta

import numpy as np
import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from apps.deployments.models import Deployment, Environment
from apps.monitoring import health, rollup
from apps.monitoring.models import Health
from tests.monitoring.conftest import log

pytestmark = pytest.mark.django_db


def _requests(live, count: int, income_mean: float, rows: int = 5) -> None:
    rng = np.random.default_rng(count)
    now = timezone.now()
    for i in range(count):
        log(
            live.deployment,
            now - timedelta(minutes=i),
            {
                "income": rng.normal(income_mean, 10, rows).tolist(),
                "segment": rng.choice(["a", "b", "c"], rows).tolist(),
            },
            rng.random(rows).tolist(),
            latency_ms=20.0,
        )


def test_drift_beyond_the_alert_level_puts_the_deployment_in_alert(live):
    _requests(live, 40, income_mean=80)  # the baseline's income is around 50
    rollup.fold()
    health.evaluate()
    judged = Health.objects.get(deployment=live.deployment)
    assert judged.state == Health.State.ALERT
    assert judged.drifted_feature == "income" and judged.drifted_psi > health.PSI_ALERT
    assert (judged.requests, judged.rows) == (40, 200)
    assert judged.latency_p95_ms == pytest.approx(20.0, rel=0.1)
    assert "Drift in income" in judged.reason


def test_traffic_like_the_baseline_is_healthy_and_too_little_is_waiting(live):
    _requests(live, 10, income_mean=50)
    rollup.fold()
    health.evaluate()
    assert Health.objects.get().state == Health.State.WAITING
    assert "50 rows in 24 hours; drift is judged from 100" in Health.objects.get().reason
    _requests(live, 60, income_mean=50)
    rollup.fold()
    health.evaluate()
    assert Health.objects.get().state == Health.State.HEALTHY


def test_no_requests_is_no_traffic_and_an_ended_deployment_leaves_the_portfolio(live):
    health.evaluate()
    assert Health.objects.get().state == Health.State.NO_TRAFFIC
    Deployment.objects.filter(pk=live.deployment.pk).update(status=Deployment.Status.UNDEPLOYED)
    health.evaluate()
    assert not Health.objects.exists()


@pytest.mark.parametrize(
    ("who", "sees"),
    [("alice", True), ("rita", True), ("carl", True), ("ivan", True), ("bob", False)],
)
def test_the_portfolio_shows_each_role_what_it_may_see(client, people, live, who, sees):
    health.evaluate()
    client.force_login(getattr(people, who))
    page = client.get("/monitoring/")
    assert page.status_code == 200
    assert ("Loan default" in page.content.decode()) is sees


def test_filters_narrow_the_portfolio_and_say_so_when_nothing_matches(client, people, live):
    health.evaluate()
    client.force_login(people.alice)
    assert "Loan default" in client.get("/monitoring/?state=no_traffic").content.decode()
    empty = client.get("/monitoring/?state=alert&tier=high").content.decode()
    assert "Loan default" not in empty and "No live deployment matches these filters" in empty
    assert "Loan default" not in client.get("/monitoring/?team=fraud").content.decode()


def test_the_portfolio_reads_a_constant_number_of_queries(client, people, live):
    staging = Environment.objects.get(slug="staging")

    def queries() -> int:
        health.evaluate()
        client.force_login(people.alice)
        with CaptureQueriesContext(connection) as captured:
            assert client.get("/monitoring/").status_code == 200
        return len(captured)

    queries()  # the first request of a test warms caches (content types, the session)
    one = queries()
    for _ in range(20):
        Deployment.objects.create(
            model=live.deployment.model,
            version=live.deployment.version,
            environment=staging,
            status=Deployment.Status.LIVE,
            requested_by=people.ivan,
        )
    assert queries() == one


@pytest.mark.parametrize(("who", "sees"), [("ivan", True), ("rita", True), ("bob", False)])
def test_the_dashboard_shows_live_models_in_alert_to_those_who_may_see_them(
    client, people, live, who, sees
):
    _requests(live, 40, income_mean=80)
    rollup.fold()
    health.evaluate()
    client.force_login(getattr(people, who))
    page = client.get("/").content.decode()
    assert ("Live models needing attention" in page) is sees
    assert ("Drift in income" in page) is sees
