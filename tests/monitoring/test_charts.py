"""A deployment's monitoring page, its CSV and its API: the figures of the rows, scoped."""

from __future__ import annotations

import csv
import io
import json
from datetime import timedelta

import numpy as np
import pytest
from django.utils import timezone

from apps.monitoring import health, rollup
from apps.validation.engine import metrics
from tests.monitoring.conftest import log
from tests.monitoring.test_rollup import NOON, _traffic

pytestmark = pytest.mark.django_db

WEEK = "from=2026-10-30&to=2026-11-05"  # NOON inside; seven days: hourly buckets


@pytest.fixture
def traffic(live):
    raw = _traffic(live, np.random.default_rng(5), 300, NOON, shift=6.0)
    rollup.fold()
    health.evaluate()
    return raw


def test_the_api_gives_each_hours_drift_as_the_psi_of_its_rows(api, people, live, traffic):
    url = f"/api/v1/monitoring/deployments/{live.deployment.pk}/series/?{WEEK}"
    answer = api(people.alice).get(f"{url}&metric=psi:income")
    assert answer.status_code == 200, answer.content
    body = answer.json()
    assert body["span_seconds"] == 3600 and list(body["values"]) == ["psi:income"]
    assert body["t"][0].startswith("2026-11-02T12:00")
    for start, value in zip(body["t"], body["values"]["psi:income"], strict=True):
        hour = traffic[
            (traffic["at"] >= NOON.fromisoformat(start))
            & (traffic["at"] < NOON.fromisoformat(start) + timedelta(hours=1))
        ]
        assert value == pytest.approx(
            metrics.psi(live.reference["income"], hour["income"]), abs=1e-12
        )
    everything = api(people.alice).get(url).json()["values"]
    assert {"requests", "rows", "latency_p95", "score_psi", "psi:segment"} <= set(everything)
    assert sum(everything["requests"]) == 300


@pytest.mark.parametrize(
    ("query", "message"),
    [
        ("metric=rmse", "“rmse” is not a metric here"),  # a classifier's
        ("from=2026-11-05&to=2026-11-01", "comes after"),
        ("from=2024-01-01&to=2026-01-01", "at most a year"),
        ("window=5y", "Choose a window of 24h, 7d, 30d, 90d"),
        ("from=yesterday&to=2026-11-01", "as a date, YYYY-MM-DD"),
    ],
)
def test_a_window_or_metric_that_cannot_be_shown_is_a_400_naming_why(
    api, people, live, query, message
):
    answer = api(people.alice).get(
        f"/api/v1/monitoring/deployments/{live.deployment.pk}/series/?{query}"
    )
    assert answer.status_code == 400 and message in answer.json()["detail"]


@pytest.mark.parametrize(
    ("who", "status"), [("alice", 200), ("ivan", 200), ("carl", 200), ("bob", 404)]
)
def test_the_page_and_the_api_are_scoped_like_the_deployment(
    client, api, people, live, who, status
):
    user = getattr(people, who)
    client.force_login(user)
    assert client.get(f"/monitoring/deployments/{live.deployment.pk}/").status_code == status
    url = f"/api/v1/monitoring/deployments/{live.deployment.pk}/series/"
    assert api(user).get(url).status_code == status


def test_the_page_draws_four_charts_and_downloads_the_same_figures(client, people, live, traffic):
    client.force_login(people.rita)
    page = client.get(f"/monitoring/deployments/{live.deployment.pk}/?{WEEK}").content.decode()
    for chart in ("traffic", "latency", "score-drift", "feature-drift"):
        assert f'data-plotly="{chart}"' in page
    script = 'id="feature-drift" type="application/json">'
    heatmap = json.loads(page.split(script)[1].split("</script>")[0])
    assert heatmap["data"][0]["y"] == ["income", "segment"]

    download = client.get(f"/monitoring/deployments/{live.deployment.pk}/?{WEEK}&format=csv")
    assert download["Content-Disposition"].endswith('-monitoring.csv"')
    rows = list(csv.DictReader(io.StringIO(download.content.decode())))
    assert sum(int(r["requests"]) for r in rows) == 300 and "psi_income" in rows[0]


def test_a_window_that_cannot_be_shown_says_why_and_shows_the_last_day(client, people, live):
    client.force_login(people.alice)
    page = client.get(
        f"/monitoring/deployments/{live.deployment.pk}/?from=2026-11-05&to=2026-11-01"
    )
    text = page.content.decode()
    assert page.status_code == 200 and "comes after" in text and "Showing the last 24 hours" in text
    assert "No prediction was logged in this window." in text


def test_refused_requests_are_counted_by_kind_without_their_bodies(client, api, people, live):
    from apps.deployments import serving
    from apps.deployments.models import RefusedRequests
    from apps.monitoring.models import Bucket, Health

    # What serving counted in five minutes: malformed bodies, wrong keys, a crash.
    deployment = live.deployment.pk
    for status in (400, 400, 401, 422, 500):
        serving.LOG.refused(deployment, status)
    serving.LOG.refused(deployment, 422)
    serving.LOG.flush()
    assert RefusedRequests.objects.filter(deployment=deployment).count() == 4  # per status
    log(live.deployment, timezone.now(), {"income": [50.0], "segment": ["a"]}, [0.3])

    assert rollup.fold_refused() == 4 and rollup.fold_refused() == 0
    rollup.fold()
    health.evaluate()
    bucket = Bucket.objects.get(span=Bucket.Span.DAY)
    assert bucket.refused == {"400": 2, "401": 1, "422": 2, "500": 1}
    judged = Health.objects.get()
    assert (judged.refused, judged.error_rate) == (6, 6 / 7)

    values = (
        api(people.alice)
        .get(f"/api/v1/monitoring/deployments/{deployment}/series/?window=24h")
        .json()["values"]
    )
    assert sum(values["refused:malformed"]) == 2 and sum(values["refused:server_error"]) == 1
    client.force_login(people.alice)
    assert "85.7 %" in client.get("/monitoring/").content.decode()


def test_the_page_asks_the_same_number_of_queries_with_one_alert_or_many(client, people, live):
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    from apps.monitoring.models import Alert, MonitoringReview

    def raise_alerts(count: int) -> None:
        for i in range(count):
            alert = Alert.objects.create(
                deployment=live.deployment,
                check_name=f"drift:f{Alert.objects.count()}",
                level="alert",
                message=f"Drift {i}",
                levels="default levels",
            )
            MonitoringReview.objects.create(deployment=live.deployment, alert=alert)

    client.force_login(people.ivan)
    url = f"/monitoring/deployments/{live.deployment.pk}/"
    counts = []
    for more in (1, 6):
        raise_alerts(more)
        client.get(url)
        with CaptureQueriesContext(connection) as captured:
            page = client.get(url)
        assert page.status_code == 200
        counts.append(len(captured))
    assert counts[0] == counts[1], counts
    assert page.content.decode().count("Record the decision") == 7
