"""Notifications: the inbox with its unread count, preferences, and email."""

from __future__ import annotations

import pytest
from django.core import mail
from django.db import transaction
from django.test import Client

from apps.audit.models import AuditEvent
from apps.notifications import services, tasks
from apps.notifications.models import Notification
from apps.reviews.events import REVIEW_REQUESTED
from apps.validation.events import VALIDATION_FAILED

pytestmark = pytest.mark.django_db


def client_for(user) -> Client:
    client = Client()
    client.force_login(user)
    return client


def announce(people, django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks() as callbacks, transaction.atomic():
        services.emit(
            REVIEW_REQUESTED,
            recipients=[people.ivan, people.rita],
            title="Review requested: Loan default v1",
            body="Ready",
            url="/models/loan-default/versions/1/",
        )
    return callbacks


def test_people_get_what_they_chose_in_the_inbox_and_by_email(
    people, django_capture_on_commit_callbacks
):
    services.set_preferences(people.rita, {REVIEW_REQUESTED.code: (False, True)})
    callbacks = announce(people, django_capture_on_commit_callbacks)
    assert list(Notification.objects.values_list("recipient__username", flat=True)) == ["ivan"]
    assert len(callbacks) == 1  # one email task for both, queued after commit
    sent = tasks.send_emails(
        "Review requested: Loan default v1",
        "Ready",
        "http://portal/models/loan-default/versions/1/",
        [people.ivan.pk, people.rita.pk],
    )
    assert sent == 2
    assert sorted(m.to[0] for m in mail.outbox) == ["ivan@bank.example", "rita@bank.example"]
    assert mail.outbox[0].subject == "[MLOps Portal] Review requested: Loan default v1"
    assert "/inbox/settings/" in mail.outbox[0].body
    event = AuditEvent.objects.get(action="notifications.preferences_changed")
    assert event.after == {"review.requested": [False, True]}


def test_the_inbox_counts_unread_and_marks_read(people, django_capture_on_commit_callbacks):
    announce(people, django_capture_on_commit_callbacks)
    ivan = client_for(people.ivan)
    page = ivan.get("/").content.decode()
    assert 'aria-label="1 unread"' in page
    notification = Notification.objects.get(recipient=people.ivan)
    response = ivan.post(f"/inbox/{notification.pk}/read/")
    assert response.status_code == 302 and response.url == "/models/loan-default/versions/1/"
    assert 'aria-label="1 unread"' not in ivan.get("/").content.decode()
    # Nobody reads someone else's notification.
    assert client_for(people.bob).post(f"/inbox/{notification.pk}/read/").url == "/inbox/"


def test_the_inbox_api_lists_and_marks_read(people, api, django_capture_on_commit_callbacks):
    announce(people, django_capture_on_commit_callbacks)
    rita = api(people.rita)
    listed = rita.get("/api/v1/inbox/", {"unread": 1}).json()["results"]
    assert [n["title"] for n in listed] == ["Review requested: Loan default v1"]
    assert rita.post("/api/v1/inbox/read/", {}, format="json").json() == {"marked_read": 1}
    assert rita.get("/api/v1/inbox/", {"unread": 1}).json()["results"] == []
    assert api(people.bob).get("/api/v1/inbox/").json()["results"] == []


def test_marking_chosen_notifications_read_by_id(people, api, django_capture_on_commit_callbacks):
    announce(people, django_capture_on_commit_callbacks)
    announce(people, django_capture_on_commit_callbacks)
    first, second = Notification.objects.filter(recipient=people.rita).order_by("pk")
    rita = api(people.rita)
    response = rita.post("/api/v1/inbox/read/", {"ids": [first.pk]}, format="json")
    assert response.status_code == 200 and response.json() == {"marked_read": 1}
    assert [n["id"] for n in rita.get("/api/v1/inbox/", {"unread": 1}).json()["results"]] == [
        second.pk
    ]


@pytest.mark.parametrize(
    ("body", "message"),
    [
        ({"ids": 5}, "ids must be a list of notification ids"),
        ({"ids": "5"}, "ids must be a list of notification ids"),
        ({"ids": ["a"]}, "ids must be a list of notification ids"),
        ({"ids": [0, -3]}, "ids must be a list of notification ids"),
        ({"ids": [2**63]}, "ids must be a list of notification ids"),  # past any database id
        ({"ids": [{"id": 1}]}, "ids must be a list of notification ids"),
        ({"ids": None}, "Leave ids out to mark every notification read"),
        ({"ids": list(range(1, 1002))}, "at most 1000 notifications"),
        ([1, 2], "Expected a dictionary"),
    ],
)
def test_marking_read_with_malformed_ids_is_a_clear_400_that_marks_nothing(
    people, api, django_capture_on_commit_callbacks, body, message
):
    announce(people, django_capture_on_commit_callbacks)
    response = api(people.rita).post("/api/v1/inbox/read/", body, format="json")
    assert response.status_code == 400
    answer = response.json()
    assert message in answer["detail"]
    assert set(answer["errors"]) <= {"ids", "non_field_errors"}
    assert Notification.objects.filter(recipient=people.rita, read_at__isnull=True).count() == 1


def test_the_schema_documents_the_ids_that_mark_read_takes(people, api):
    schema = api(people.alice).get("/api/v1/schema/", HTTP_ACCEPT="application/json").json()
    operation = schema["paths"]["/api/v1/inbox/read/"]["post"]
    body = operation["requestBody"]["content"]["application/json"]["schema"]["$ref"]
    ids = schema["components"]["schemas"][body.rsplit("/", 1)[1]]["properties"]["ids"]
    assert ids["type"] == "array" and ids["items"] == {
        "type": "integer",
        "minimum": 1,
        "maximum": 2**63 - 1,
        "format": "int64",
    }
    assert {"200", "400"} <= set(operation["responses"])


def test_the_preferences_page(people):
    client = client_for(people.alice)
    assert "Validation failed: by email" in client.get("/inbox/settings/").content.decode()
    data = {f"{e}:in_app": "on" for e in services.event_codes()}
    response = client.post("/inbox/settings/", data)
    assert response.status_code == 302
    assert services.preferences_of(people.alice)[VALIDATION_FAILED.code] == (True, False)
