"""Delivery metrics on a history built with known answers, scoped like the models, in a fixed
number of queries, and the same figures through the API and as CSV."""

from __future__ import annotations

import csv
import io
from datetime import date, datetime, time, timedelta

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from apps.deployments.models import Deployment, Environment
from apps.monitoring.models import Alert
from apps.registry.models import ModelVersion
from apps.reviews import services as reviews
from apps.reviews.models import Review
from tests.reviews.conftest import new_version

pytestmark = pytest.mark.django_db

URL = "/audit/delivery/"
API = "/api/v1/analytics/delivery/"
H = timedelta(hours=1)
# The period asked for: 28 days, so 4 weeks.
FIRST, LAST = date(2026, 3, 2), date(2026, 3, 29)
PERIOD = {"from": FIRST.isoformat(), "to": LAST.isoformat()}


def at(day: int, hour: int = 0) -> datetime:
    """A moment of March 2026 in the portal's time zone."""
    return datetime.combine(date(2026, 3, day), time(hour), timezone.get_current_timezone())


def uploaded(model, people, files, when: datetime) -> ModelVersion:  # type: ignore[no-untyped-def]
    version = new_version(
        model, people.alice if model.slug == "loan-default" else people.bob, files
    )
    ModelVersion.objects.filter(pk=version.pk).update(created_at=when)
    version.refresh_from_db()
    return version


def deployment(version, env, by, *, created, status, live_from=None, live_until=None, **more):  # type: ignore[no-untyped-def]
    return Deployment.objects.create(
        model=version.model,
        version=version,
        environment=env,
        requested_by=by,
        created_at=created,
        status=status,
        live_from=live_from,
        live_until=live_until,
        **more,
    )


def alert(on: Deployment, level: str, opened: datetime, resolved: datetime | None = None) -> Alert:
    return Alert.objects.create(
        deployment=on,
        check_name=f"drift:x{Alert.objects.count()}",
        level=level,
        state="resolved" if resolved else "open",
        message="drift",
        levels="0.1/0.25",
        opened_at=opened,
        last_breach_at=opened,
        resolved_at=resolved,
    )


@pytest.fixture
def built(people, alices_model, bobs_model, files):  # type: ignore[no-untyped-def]
    """Alice's model in production during March 2026:

    - v1 (uploaded 20 Feb, 0h) live 2 Mar 0h: lead 240 h; superseded. A warning on day 2 and
      an alert 8 days after going live: neither within 7 days at alert level. Not a failure.
    - v2 (uploaded 3 Mar 0h) live 5 Mar 0h (lead 48 h), rolled back 5 h later: a failure,
      restored in 5 h; the rollback itself (v1 again) is no change.
    - v3 (uploaded 6 Mar 0h) fails to deploy 10 Mar: a failure with nothing to restore; it
      goes live 12 Mar 0h (lead 144 h), an alert-level alert on 14 Mar, resolved 3 h later:
      a failure restored in 3 h.
    - v3 also went to staging (not production) and a shadow of it ran in production: neither
      counts. A deployment of February is outside the period.
    Bob's model: v1 (uploaded 1 Mar 0h) live 2 Mar 12h (lead 36 h), failed with an open alert.
    """
    production = Environment.objects.get(slug="production")
    staging = Environment.objects.get(slug="staging")
    ivan = people.ivan
    v0 = uploaded(alices_model, people, files, at(1) - timedelta(days=40))
    v1 = uploaded(alices_model, people, files, at(2) - timedelta(days=10))
    v2 = uploaded(alices_model, people, files, at(3))
    v3 = uploaded(alices_model, people, files, at(6))
    old = deployment(
        v0,
        production,
        ivan,
        created=at(1) - timedelta(days=20),
        status="superseded",
        live_from=at(1) - timedelta(days=20),
        live_until=at(2),
    )
    d1 = deployment(
        v1,
        production,
        ivan,
        created=at(2),
        status="superseded",
        live_from=at(2),
        live_until=at(5),
        replaced=old,
    )
    alert(d1, "warning", at(4))
    alert(d1, "alert", at(10, 1))
    d2 = deployment(
        v2,
        production,
        ivan,
        created=at(5),
        status="rolled_back",
        live_from=at(5),
        live_until=at(5, 5),
        replaced=d1,
    )
    deployment(
        v1,
        production,
        ivan,
        created=at(5, 5),
        status="superseded",
        kind="rollback",
        live_from=at(5, 5),
        live_until=at(12),
    )
    deployment(v3, production, ivan, created=at(10), status="failed")
    deployment(v3, staging, ivan, created=at(8), status="live", live_from=at(8))
    d5 = deployment(v3, production, ivan, created=at(12), status="live", live_from=at(12))
    deployment(
        v3,
        production,
        ivan,
        created=at(13),
        status="stopped",
        mode="shadow",
        live_from=at(13),
        live_until=at(14),
        challenged=d5,
    )
    alert(d5, "alert", at(14), at(14, 3))
    b1 = uploaded(bobs_model, people, files, at(1))
    fraud = deployment(b1, production, ivan, created=at(2, 12), status="live", live_from=at(2, 12))
    alert(fraud, "alert", at(3))
    return {"d1": d1, "d2": d2, "d5": d5, "v1": v1}


def test_delivery_metrics_on_a_known_history(client, people, built):
    client.force_login(people.carl)
    answer = client.get(URL, PERIOD)
    assert answer.status_code == 200
    found = answer.context["found"]
    bank = found.bank.as_dict()
    assert bank["weeks"] == 4
    assert bank["changes"] == 5  # d1, d2, failed v3, d5, bob's
    assert bank["deployments"] == 4
    assert bank["deployment_frequency"] == 1.0
    assert bank["failed_changes"] == 4  # d2 rolled back, v3 failed, d5 alert, bob's alert
    assert bank["change_failure_rate"] == 0.8
    assert sorted(c.lead_hours for c in found.changes if c.lead_hours) == [36, 48, 144, 240]
    assert bank["lead_time_median_hours"] == 96  # (48 + 144) / 2
    # Linear interpolation at rank 0.9 * 3 = 2.7: 144 + 0.7 * (240 - 144), not the maximum 240.
    assert bank["lead_time_p90_hours"] == 211.2
    assert bank["restore_count"] == 2 and bank["restore_median_hours"] == 4  # 5 h and 3 h
    assert bank["restore_p90_hours"] == 4.8  # 3 + 0.9 * (5 - 3)
    assert bank["unrestored"] == 1  # bob's alert is still open
    by_model = {model.slug: m.as_dict() for model, m in found.by_model}
    loan = by_model["loan-default"]
    assert (loan["changes"], loan["failed_changes"], loan["change_failure_rate"]) == (4, 3, 0.75)
    assert (loan["lead_time_median_hours"], loan["restore_median_hours"]) == (144, 4)
    assert by_model["card-fraud"]["change_failure_rate"] == 1.0
    teams = {slug: m.as_dict() for slug, _, m in found.by_team}
    assert teams["retail-credit"]["deployments"] == 3 and teams["fraud"]["deployments"] == 1
    stages = {row["stage"]: row for row in found.stages}
    assert stages["to_production"]["count"] == 4
    assert stages["to_production"]["median_hours"] == 96


def test_lead_time_stages_are_those_of_the_lead_time_page(client, people, alices_model, files):
    """A version reviewed for real: its stages come from its report, review and decisions."""
    version = new_version(alices_model, people.alice, files)
    reviews.request_review(version.pk, actor=people.alice, summary="Ready")
    reviews.decide(version.pk, actor=people.ivan, verdict="approve", reason="Infra ok")
    reviews.decide(version.pk, actor=people.rita, verdict="approve", reason="Risk ok")
    requested = timezone.now() - timedelta(days=3)
    ModelVersion.objects.filter(pk=version.pk).update(created_at=requested - 10 * H)
    Review.objects.filter(version=version).update(
        requested_at=requested, closed_at=requested + 2 * H
    )
    went_live = requested + 26 * H
    deployment(
        version,
        Environment.objects.get(slug="production"),
        people.ivan,
        created=went_live,
        status="live",
        live_from=went_live,
    )
    client.force_login(people.rita)
    stages = {row["stage"]: row for row in client.get(URL).context["found"].stages}
    assert stages["to_decision"]["median_hours"] == 12
    assert stages["decision_to_production"]["median_hours"] == 24
    assert stages["to_production"]["median_hours"] == 36
    assert stages["validation"]["count"] == 0  # no validation report: new_version skips it
    assert stages["waiting_for_it"]["count"] == 1


def test_delivery_is_scoped_to_the_models_each_role_sees(client, api, people, built):
    def models(user):  # type: ignore[no-untyped-def]
        body = api(user).get(API, PERIOD).json()
        return {row["model"] for row in body["by_model"]}, body["bank"]["changes"]

    assert models(people.alice) == ({"loan-default"}, 4)
    assert models(people.bob) == ({"card-fraud"}, 1)
    assert models(people.ivan) == (set(), 0)  # nothing was submitted for review
    assert models(people.rita) == ({"loan-default", "card-fraud"}, 5)
    assert models(people.carl) == ({"loan-default", "card-fraud"}, 5)
    assert models(people.admin) == ({"loan-default", "card-fraud"}, 5)
    assert api(people.bob).get(API, {**PERIOD, "model": "loan-default"}).status_code == 400
    client.force_login(people.bob)
    assert "Loan default" not in client.get(URL, PERIOD).content.decode()


def test_the_api_and_the_csv_give_the_page_figures(client, api, people, built):
    body = api(people.carl).get(API, {**PERIOD, "team": "retail-credit"}).json()
    assert body["period"] == {"first": "2026-03-02", "last": "2026-03-29", "days": 28}
    assert body["bank"]["change_failure_rate"] == 0.75
    assert [row["team"] for row in body["by_team"]] == ["retail-credit"]
    client.force_login(people.carl)
    answer = client.get(URL, {**PERIOD, "format": "csv"})
    rows = list(csv.DictReader(io.StringIO(answer.content.decode())))
    assert rows[0]["scope"] == "bank" and rows[0]["change_failure_rate"] == "0.8"
    assert {row["name"] for row in rows if row["scope"] == "model"} == {
        "Loan default",
        "Card fraud",
    }


def test_the_query_count_is_fixed(client, people, built, alices_model, files):
    client.force_login(people.carl)

    def counted() -> int:
        with CaptureQueriesContext(connection) as captured:
            assert client.get(URL, PERIOD).status_code == 200
        return len(captured)

    client.get(URL, PERIOD)  # the session's first request also loads what it caches
    before = counted()
    production = Environment.objects.get(slug="production")
    for day in range(15, 25):
        version = uploaded(alices_model, people, files, at(day - 1))
        d = deployment(
            version,
            production,
            people.ivan,
            created=at(day),
            status="superseded",
            live_from=at(day),
            live_until=at(day + 1),
        )
        alert(d, "alert", at(day, 2), at(day, 4))
    assert counted() == before


def test_an_empty_period_and_bad_dates(client, api, people, built):
    client.force_login(people.carl)
    text = client.get(URL, {"from": "2025-01-01", "to": "2025-01-31"}).content.decode()
    assert "No production deployment was requested between 1 Jan 2025 and 31 Jan 2025" in text
    refused = client.get(URL, {"from": "2026-03-29", "to": "2026-03-02"})
    assert refused.status_code == 400
    assert "“To” must be on or after “From”." in refused.content.decode()
    answer = api(people.carl).get(API, {"from": "2026-13-01"})
    assert answer.status_code == 400 and "from" in answer.json()["errors"]
