"""The review endpoints for every role: requesting, deciding (201/403/404/409), discussing."""

from __future__ import annotations

import pytest

from apps.reviews import services

pytestmark = pytest.mark.django_db

V = "/api/v1/models/loan-default/versions/1"


@pytest.mark.parametrize(
    ("who", "status"), [("alice", 201), ("rita", 403), ("carl", 403), ("ivan", 404), ("bob", 404)]
)
def test_requesting_review(people, api, validated, who, status):
    response = api(getattr(people, who)).post(f"{V}/review/", {"summary": "Ready"}, format="json")
    assert response.status_code == status, response.content


@pytest.mark.parametrize(
    ("who", "status"), [("ivan", 201), ("rita", 201), ("alice", 403), ("carl", 403), ("bob", 404)]
)
def test_deciding(people, api, validated, who, status):
    services.request_review(validated.pk, actor=people.alice, summary="Ready")
    response = api(getattr(people, who)).post(
        f"{V}/decisions/", {"decision": "approve", "reason": "checked"}, format="json"
    )
    assert response.status_code == status, response.content


def test_a_second_or_late_decision_is_a_409_that_says_why(people, api, validated):
    services.request_review(validated.pk, actor=people.alice, summary="Ready")
    ivan = api(people.ivan)
    assert (
        ivan.post(
            f"{V}/decisions/", {"decision": "approve", "reason": "ok"}, format="json"
        ).status_code
        == 201
    )
    again = ivan.post(f"{V}/decisions/", {"decision": "approve", "reason": "ok"}, format="json")
    assert again.status_code == 409 and "one person gives one sign-off" in again.json()["detail"]
    rita = api(people.rita)
    body = rita.post(
        f"{V}/decisions/", {"decision": "reject", "reason": "no"}, format="json"
    ).json()
    assert body["status"] == "rejected" and [d["decision"] for d in body["decisions"]] == [
        "approve",
        "reject",
    ]
    late = rita.post(f"{V}/decisions/", {"decision": "approve", "reason": "?"}, format="json")
    assert late.status_code == 409 and "already closed" in late.json()["detail"]
    missing = ivan.post(f"{V}/decisions/", {"decision": "approve"}, format="json")
    assert missing.status_code == 400


def test_reading_the_review_and_the_waiting_queue(people, api, validated):
    assert api(people.alice).get(f"{V}/review/").status_code == 404
    services.request_review(validated.pk, actor=people.alice, summary="Ready")
    body = api(people.carl).get(f"{V}/review/").json()
    assert body["status"] == "open" and body["sign_offs_required"] == {
        "model_ops": 1,
        "risk_owner": 1,
    }
    assert [r["model"] for r in api(people.ivan).get("/api/v1/reviews/waiting/").json()] == [
        "loan-default"
    ]
    assert api(people.alice).get("/api/v1/reviews/waiting/").json() == []
    assert api(people.bob).get(f"{V}/review/").status_code == 404


def test_comments_through_the_api(people, api, validated):
    response = api(people.rita).post(
        f"{V}/comments/", {"body": "Why *this* threshold?"}, format="json"
    )
    assert response.status_code == 201
    assert response.json()["html"] == "<p>Why <em>this</em> threshold?</p>"
    listed = api(people.alice).get(f"{V}/comments/").json()
    assert [c["author"] for c in listed] == ["rita"]
    assert api(people.bob).post(f"{V}/comments/", {"body": "hi"}, format="json").status_code == 404
    assert api(people.rita).post(f"{V}/comments/", {"body": ""}, format="json").status_code == 400
