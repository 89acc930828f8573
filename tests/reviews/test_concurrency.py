"""Fifty simultaneous decisions on one version, over HTTP, on PostgreSQL.

The live server handles each request in its own thread with its own database connection, as
gunicorn's threads do; the row lock and the unique constraints must keep the review consistent.
"""

from __future__ import annotations

import random
from concurrent.futures import ThreadPoolExecutor

import pytest
import requests

from apps.accounts import services as accounts
from apps.audit.models import AuditEvent
from apps.registry.models import ModelVersion
from apps.reviews import services
from apps.reviews.models import Decision, Review
from tests.factories import UserFactory
from tests.reviews.conftest import new_version
from tests.support.services import require_postgres

pytestmark = pytest.mark.django_db(transaction=True)


def test_fifty_concurrent_decisions_keep_the_review_consistent(
    people, alices_model, files, live_server
):
    require_postgres()
    services.update_policy(
        actor=people.admin,
        risk_tier="high",
        required={"model_ops": 2, "risk_owner": 1},
        allow_exceptions=False,
        note="Two IT sign-offs for the race",
    )
    version = new_version(alices_model, people.alice, files)
    services.request_review(version.pk, actor=people.alice, summary="Ready")
    reviewers = [people.ivan, people.rita] + [
        UserFactory(username=f"it{i}", role="model_ops") for i in range(4)
    ]
    tokens = {
        user.username: f"Bearer {accounts.create_token(actor=user, name='race')[1]}"
        for user in reviewers
    }
    url = f"{live_server.url}/api/v1/models/loan-default/versions/{version.number}/decisions/"
    rng = random.Random(7)
    attempts = [
        (rng.choice(reviewers).username, rng.choice(["approve", "approve", "approve", "reject"]))
        for _ in range(50)
    ]

    def attempt(who_and_verdict: tuple[str, str]) -> int:
        who, verdict = who_and_verdict
        response = requests.post(
            url,
            json={"decision": verdict, "reason": f"{who} says {verdict}"},
            headers={"Authorization": tokens[who]},
            timeout=60,
        )
        return response.status_code

    with ThreadPoolExecutor(max_workers=50) as pool:
        answers = list(pool.map(attempt, attempts))

    assert set(answers) <= {201, 409}, answers
    review = Review.objects.get(version=version)
    version.refresh_from_db()
    decisions = list(Decision.objects.filter(review=review))
    successes = answers.count(201)
    # Every accepted attempt is one recorded decision and one audit event; the rest were 409.
    assert len(decisions) == successes
    assert (
        AuditEvent.objects.filter(
            action__in=["review.approve", "review.reject"], object_id=str(version.pk)
        ).count()
        == successes
    )
    # No more decisions than sign-offs, no person twice, no slot twice.
    assert len(decisions) <= 3
    assert len({d.reviewer_id for d in decisions}) == len(decisions)
    assert len({(d.role, d.slot) for d in decisions}) == len(decisions)
    assert sum(d.role == "risk_owner" for d in decisions) <= 1
    # The final state follows from the decisions.
    verdicts = [d.verdict for d in decisions]
    if "reject" in verdicts:
        assert verdicts[-1] == "reject" and review.status == "rejected"
        assert version.status == ModelVersion.Status.REJECTED
    elif len(decisions) == 3:
        assert review.status == "approved" and version.status == ModelVersion.Status.APPROVED
    else:
        assert review.status == "open" and version.status == ModelVersion.Status.IN_REVIEW
    assert review.status != "open" or successes < 3
