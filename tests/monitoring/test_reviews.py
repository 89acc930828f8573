"""The decision loop: an alert on a production model opens one review; its risk owner or model
operations decide once, with a reason; the version's author does not."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.utils import timezone

from apps.audit.models import AuditEvent
from apps.monitoring import health, rollup
from apps.monitoring.models import MonitoringReview
from apps.notifications.models import Notification
from tests.monitoring.test_portfolio import _requests

pytestmark = pytest.mark.django_db


@pytest.fixture
def review(live) -> MonitoringReview:
    _requests(live, 40, income_mean=80)
    rollup.fold()
    health.evaluate()
    health.evaluate()  # a breach that goes on opens nothing more
    return MonitoringReview.objects.get()


def test_an_alert_on_a_high_risk_production_model_opens_one_review_for_its_deciders(review):
    assert review.is_open and review.alert.check_name == "drift:income"
    told = set(
        Notification.objects.filter(event="monitoring.review_opened").values_list(
            "recipient__username", flat=True
        )
    )
    assert told == {"rita", "ivan"}


def test_the_risk_owner_accepts_for_now_until_a_date_and_everyone_who_may_see_reads_it(
    client, people, review
):
    url = f"/monitoring/reviews/{review.pk}/decide/"
    client.force_login(people.rita)
    dashboard = client.get("/").content.decode()
    assert "Monitoring decisions" in dashboard and "Drift in income" in dashboard
    no_date = client.post(
        url, {"decision": "accept", "reason": "Campaign ends Friday"}, follow=True
    )
    assert "Say by when it must be looked at again." in no_date.content.decode()
    later = (timezone.localdate() + timedelta(days=14)).isoformat()
    client.post(
        url, {"decision": "accept", "reason": "Campaign ends Friday", "look_again_on": later}
    )
    review.refresh_from_db()
    assert (review.decision, review.decided_by, review.look_again_on.isoformat()) == (
        "accept",
        people.rita,
        later,
    )
    event = AuditEvent.objects.get(action="monitoring.review_decided")
    assert event.actor == people.rita and event.after["reason"] == "Campaign ends Friday"
    again = client.post(url, {"decision": "new_version", "reason": "x"}, follow=True)
    assert "decided already (accept for now)" in again.content.decode()

    client.force_login(people.carl)  # compliance reads every decision
    page = client.get(f"/monitoring/deployments/{review.deployment_id}/").content.decode()
    assert "Accept for now" in page and "Campaign ends Friday" in page
    history = client.get(f"/models/{review.deployment.model.slug}/history/").content.decode()
    assert "Decided a monitoring review" in history


def test_asking_for_a_new_version_tells_the_team(client, people, review):
    client.force_login(people.ivan)
    client.post(
        f"/monitoring/reviews/{review.pk}/decide/",
        {"decision": "new_version", "reason": "Retrain on this year's loans"},
    )
    review.refresh_from_db()
    assert review.decision == "new_version" and review.look_again_on is None
    assert Notification.objects.filter(
        event="monitoring.new_version_requested", recipient=people.alice
    ).exists()


def test_a_rollback_that_cannot_be_made_records_no_decision(client, people, review):
    client.force_login(people.ivan)
    answer = client.post(
        f"/monitoring/reviews/{review.pk}/decide/",
        {"decision": "rollback", "reason": "Back to v1"},
        follow=True,
    )
    # The fixture's deployment row has no placement: the rollback service refuses, as it would
    # with no earlier version live, and the review stays open.
    assert "Nothing of Loan default is live in Production." in answer.content.decode()
    review.refresh_from_db()
    assert review.is_open


@pytest.mark.parametrize(("who", "status"), [("alice", 403), ("bob", 404), ("carl", 403)])
def test_the_author_others_and_compliance_do_not_decide(client, people, review, who, status):
    client.force_login(getattr(people, who))
    answer = client.post(
        f"/monitoring/reviews/{review.pk}/decide/", {"decision": "new_version", "reason": "x"}
    )
    assert answer.status_code == status
    review.refresh_from_db()
    assert review.is_open
