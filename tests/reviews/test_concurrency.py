"""Fifty simultaneous decisions on one version, over HTTP, on PostgreSQL.

The live server handles each request in its own thread with its own database connection, as
gunicorn's threads do; the row lock and the unique constraints must keep the review consistent.
"""

from __future__ import annotations

import random
import threading
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import Any

import pytest
import requests
from django.db import IntegrityError, connection, transaction

from apps.accounts import services as accounts
from apps.audit.models import AuditEvent
from apps.registry import services as registry
from apps.registry.models import ModelVersion
from apps.reviews import services
from apps.reviews.models import Decision, Review
from tests.factories import UserFactory
from tests.reviews.conftest import new_version
from tests.support.services import require_postgres

pytestmark = pytest.mark.django_db(transaction=True)


@dataclass(frozen=True)
class Answer:
    who: str
    verdict: str
    reason: str
    status: int
    content_type: str
    body: Any


def test_fifty_concurrent_decisions_keep_the_review_consistent(
    people, alices_model, files, live_server
):
    """Six model operations people race for the one model_ops sign-off of the high-risk policy,
    rita for the risk-owner one; rolf, a risk owner the team shared the model with, may see it
    but not give its first risk-owner sign-off (it is reserved for the model's own risk owner).

    Each call is answered 201 (recorded) or 409 (too late: the slot is taken, the person already
    decided or the review is closed). Only rolf may get 403: while the risk-owner slot is open he
    is refused for who he is, not for coming late.
    """
    require_postgres()
    version = new_version(alices_model, people.alice, files)
    services.request_review(version.pk, actor=people.alice, summary="Ready")
    review = Review.objects.select_related("policy").get(version=version)
    assert review.policy.slots == [("model_ops", 1), ("risk_owner", 1)]
    operators = [people.ivan] + [UserFactory(username=f"it{i}", role="model_ops") for i in range(5)]
    rolf = UserFactory(username="rolf", role="risk_owner")
    registry.share_model(alices_model.pk, actor=people.alice, grantee=rolf, level="view")
    reviewers = [*operators, people.rita, rolf]
    tokens = {
        user.username: f"Bearer {accounts.create_token(actor=user, name='race')[1]}"
        for user in reviewers
    }
    url = f"{live_server.url}/api/v1/models/loan-default/versions/{version.number}/decisions/"
    rng = random.Random(7)
    # Everyone tries several times; the rest of the fifty go to anyone.
    callers = [u.username for u in reviewers] * 4
    callers += [rng.choice(reviewers).username for _ in range(50 - len(callers))]
    rng.shuffle(callers)
    attempts = [
        (who, rng.choice(["approve", "approve", "approve", "reject"]), i)
        for i, who in enumerate(callers)
    ]

    def attempt(call: tuple[str, str, int]) -> Answer:
        who, verdict, i = call
        reason = f"{who} says {verdict} (attempt {i})"
        response = requests.post(
            url,
            json={"decision": verdict, "reason": reason},
            headers={"Authorization": tokens[who]},
            timeout=60,
        )
        content_type = response.headers.get("Content-Type", "")
        body = response.json() if content_type.startswith("application/json") else response.text
        return Answer(who, verdict, reason, response.status_code, content_type, body)

    with ThreadPoolExecutor(max_workers=50) as pool:
        answers = list(pool.map(attempt, attempts))

    # Every call got an answer a client can act on.
    assert len(answers) == 50
    unexpected = [a for a in answers if a.status not in (201, 409, 403)]
    assert not unexpected, unexpected
    for a in answers:
        if a.status in (403, 409):
            assert a.content_type.startswith("application/json"), a
            assert isinstance(a.body, dict) and isinstance(a.body.get("detail"), str), a
            assert a.body["detail"].strip(), a
    refused = [a for a in answers if a.status == 403]
    assert all(a.who == rolf.username for a in refused), refused
    assert all("is for its risk owner" in a.body["detail"] for a in refused), refused
    assert all(a.status in (403, 409) for a in answers if a.who == rolf.username)

    review.refresh_from_db()
    version.refresh_from_db()
    decisions = list(Decision.objects.filter(review=review).order_by("created_at", "id"))

    # Each 201 is one recorded decision, with the verdict and reason that call sent.
    accepted = sorted((a.who, a.verdict, a.reason) for a in answers if a.status == 201)
    recorded = sorted((d.reviewer.username, d.verdict, d.reason) for d in decisions)
    assert accepted == recorded
    assert len({d.reviewer_id for d in decisions}) == len(decisions)
    assert len({(d.role, d.slot) for d in decisions}) == len(decisions)
    assert {(d.role, d.slot) for d in decisions} <= set(review.policy.slots)
    assert sum(d.reviewer in operators for d in decisions) <= 1

    # The review closed, and its state follows from the decisions in the order they were made.
    verdicts = [d.verdict for d in decisions]
    assert review.closed_at is not None
    assert all(d.created_at <= review.closed_at for d in decisions)
    if review.status == Review.Status.APPROVED:
        assert version.status == ModelVersion.Status.APPROVED
        assert sorted((d.role, d.slot) for d in decisions) == sorted(review.policy.slots)
        assert verdicts == ["approve"] * len(review.policy.slots)
    else:
        assert review.status == Review.Status.REJECTED, review.status
        assert version.status == ModelVersion.Status.REJECTED
        assert verdicts[-1] == "reject" and set(verdicts[:-1]) <= {"approve"}
        assert len(decisions) <= len(review.policy.slots)

    # Every recorded decision has its audit event, and no refused call left one.
    events = AuditEvent.objects.filter(
        action__in=["review.approve", "review.reject"], object_id=str(version.pk)
    )
    audited = sorted(
        (e.actor_username, e.action, e.after["reason"], e.after["role"]) for e in events
    )
    assert audited == sorted(
        (d.reviewer.username, f"review.{d.verdict}", d.reason, d.role) for d in decisions
    )


def test_the_database_keeps_one_decision_per_sign_off_even_without_the_lock(
    people, alices_model, files
):
    """decide() locks the version row, so over HTTP the racers queue on the lock; the unique
    constraint is what holds if anything ever writes without it. Ten transactions insert the
    one model_ops sign-off at the same moment: one is recorded, nine are refused."""
    require_postgres()
    version = new_version(alices_model, people.alice, files)
    review = services.request_review(version.pk, actor=people.alice, summary="Ready")
    operators = [UserFactory(username=f"it{i}", role="model_ops") for i in range(10)]
    start = threading.Barrier(len(operators))

    def insert(reviewer) -> str:
        try:
            start.wait(timeout=30)
            with transaction.atomic():
                Decision.objects.create(
                    review=review,
                    role="model_ops",
                    slot=1,
                    reviewer=reviewer,
                    verdict="approve",
                    reason="racing",
                )
            return "recorded"
        except IntegrityError:
            return "refused"
        finally:
            connection.close()

    with ThreadPoolExecutor(max_workers=len(operators)) as pool:
        outcomes = list(pool.map(insert, operators))

    assert sorted(outcomes) == ["recorded"] + ["refused"] * 9
    assert Decision.objects.filter(review=review).count() == 1
