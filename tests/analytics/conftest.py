"""The history the change analytics tests count: made through the services."""

from __future__ import annotations

from contextlib import contextmanager
from datetime import datetime
from unittest import mock

import pytest

from apps.registry import services as registry
from apps.registry.models import ModelVersion, RegisteredModel
from apps.reviews import services as reviews
from tests.reviews.conftest import new_version


@contextmanager
def clock(at: datetime):  # type: ignore[no-untyped-def]
    """The services' clock set to ``at``: history made through the services, back then."""
    with mock.patch("django.utils.timezone.now", return_value=at):
        yield


def share_and_revoke(model: RegisteredModel, actor, times: int) -> None:  # type: ignore[no-untyped-def]
    """``2 * times`` permission changes of ``model`` by ``actor``."""
    for _ in range(times):
        registry.share_model(model.pk, actor=actor, grantee="user:ivan", level="view")
        registry.unshare_model(model.pk, actor=actor, grantee="user:ivan")


@pytest.fixture
def history(people, alices_model, bobs_model, files) -> dict[str, list[ModelVersion]]:
    """Two versions of alice's model (one submitted for review), one of bob's, shares."""
    loan = [new_version(alices_model, people.alice, files) for _ in range(2)]
    reviews.request_review(loan[1].pk, actor=people.alice, summary="Ready")
    fraud = [new_version(bobs_model, people.bob, files)]
    share_and_revoke(alices_model, people.alice, 2)
    share_and_revoke(bobs_model, people.bob, 1)
    return {"loan": loan, "fraud": fraud}
