"""DNS rebinding: a webhook host whose DNS answer changes between the check and the connection.

The attacker controls the DNS of the webhook's host, so this is the one place where the resolver
is replaced on purpose: ``socket.getaddrinfo`` answers for ``hooks.example.test`` as the attacker
chooses and passes every other question (the IP literals urllib3 asks about) to the real one.
Everything else is real: the webhook is saved and delivered through the portal's services, and a
real HTTP server on 127.0.0.1, the internal service the attacker is after, records every request.
"""

from __future__ import annotations

import socket
from typing import Any

import pytest
from django.contrib.contenttypes.models import ContentType
from django.core.exceptions import ValidationError
from django.db import transaction

from apps.audit.models import AuditEvent
from apps.jobs.models import Job
from apps.notifications import services, webhooks
from apps.notifications.models import Webhook, WebhookDelivery
from apps.reviews.events import REVIEW_REQUESTED
from tests.notifications.conftest import Receiver

pytestmark = pytest.mark.django_db

NAME = "hooks.example.test"
# Public, so the guard lets it through. The connection to it fails (refused, unreachable, or the
# one-second connect timeout below): nothing there listens on the receiver's port.
PUBLIC_IP = "93.184.216.34"


class Resolver:
    """The attacker's DNS for ``NAME``: ``answers`` are given in order, the last one repeats."""

    def __init__(self, monkeypatch: pytest.MonkeyPatch) -> None:
        self.answers: list[tuple[str, ...]] = [(PUBLIC_IP,)]
        self.asked: list[str] = []  # every host asked about, in order, names and literals alike
        real = socket.getaddrinfo

        def getaddrinfo(host: Any, port: Any, *args: Any, **kwargs: Any) -> list[Any]:
            self.asked.append(host)
            if host != NAME:
                return real(host, port, *args, **kwargs)
            addresses = self.answers.pop(0) if len(self.answers) > 1 else self.answers[0]
            return [
                (socket.AF_INET6, socket.SOCK_STREAM, socket.IPPROTO_TCP, "", (a, port, 0, 0))
                if ":" in a
                else (socket.AF_INET, socket.SOCK_STREAM, socket.IPPROTO_TCP, "", (a, port))
                for a in addresses
            ]

        monkeypatch.setattr(socket, "getaddrinfo", getaddrinfo)

    def answer(self, *answers: tuple[str, ...]) -> None:
        self.answers = list(answers)
        self.asked = []

    def times_asked_for_the_name(self) -> int:
        return self.asked.count(NAME)


@pytest.fixture
def resolver(monkeypatch: pytest.MonkeyPatch) -> Resolver:
    return Resolver(monkeypatch)


@pytest.fixture
def internal_service():  # type: ignore[no-untyped-def]
    server = Receiver().start()
    yield server
    server.stop()


@pytest.fixture
def hook(people, resolver: Resolver, internal_service: Receiver, settings) -> Webhook:  # type: ignore[no-untyped-def]
    """A webhook at ``NAME`` on the internal service's port, saved while the name looks public."""
    settings.PORTAL_WEBHOOK_TIMEOUT_SECONDS = 1  # the least there is: connecting to PUBLIC_IP fails
    saved = services.save_webhook(
        people.admin,
        Webhook(
            name="Rebinding",
            url=f"http://{NAME}:{internal_service.port}/hook",
            events=[REVIEW_REQUESTED.code],
        ),
    )
    internal_service.secret = saved.secret
    return saved


def _deliver_once() -> WebhookDelivery:
    """An event through the real service, then one attempt of its delivery, as a worker runs it."""
    with transaction.atomic():
        services.emit(REVIEW_REQUESTED, recipients=[], title="Loan default v3 needs your review")
    delivery = WebhookDelivery.objects.latest("id")
    return _attempt_again(delivery)


def _attempt_again(delivery: WebhookDelivery) -> WebhookDelivery:
    content_type = ContentType.objects.get_for_model(WebhookDelivery)
    job = Job.objects.get(target_type=content_type, target_id=str(delivery.pk))
    # A retry is queued with a countdown; a worker takes it when its message arrives, as here.
    assert job.status == Job.Status.QUEUED
    webhooks.attempt(str(job.uuid), worker="test@host")
    delivery.refresh_from_db()
    return delivery


def test_a_name_that_rebinds_to_loopback_after_the_check_is_never_connected_to_loopback(
    hook, resolver, internal_service
):
    # The check sees the public address; every later answer points at the internal service.
    resolver.answer((PUBLIC_IP,), ("127.0.0.1",))

    delivery = _deliver_once()

    assert internal_service.requests == []
    # Resolved once, for the check; the connection went to the address that was checked.
    assert resolver.times_asked_for_the_name() == 1
    where = f"{NAME} ({PUBLIC_IP}) port {internal_service.port}"
    assert (
        f"Could not connect to {where}" in delivery.error
        or f"Timed out connecting to {where}" in delivery.error
    ), delivery.error
    assert delivery.status == WebhookDelivery.Status.PENDING and delivery.response_code is None


def test_a_retry_checks_again_and_refuses_the_name_once_it_points_inside(
    hook, resolver, internal_service
):
    resolver.answer((PUBLIC_IP,), ("127.0.0.1",))
    delivery = _deliver_once()
    assert delivery.status == WebhookDelivery.Status.PENDING  # will be retried

    delivery = _attempt_again(delivery)

    assert delivery.status == WebhookDelivery.Status.REFUSED
    assert f"{NAME} resolves to 127.0.0.1, which is a loopback address" in delivery.error
    assert internal_service.requests == []
    assert AuditEvent.objects.filter(action="webhook.refused", object_id=str(hook.pk)).exists()


@pytest.mark.parametrize(
    ("answer", "internal", "reason"),
    [
        ((PUBLIC_IP, "127.0.0.1"), "127.0.0.1", "a loopback address"),
        (("127.0.0.1", PUBLIC_IP), "127.0.0.1", "a loopback address"),
        ((PUBLIC_IP, "10.0.0.5"), "10.0.0.5", "a private or special-purpose address"),
        ((PUBLIC_IP, "169.254.169.254"), "169.254.169.254", "a link-local address"),
        ((PUBLIC_IP, "::ffff:127.0.0.1"), "::ffff:127.0.0.1", "a loopback address"),
    ],
)
def test_a_name_with_a_public_and_an_internal_address_is_refused(
    people, hook, resolver, internal_service, answer, internal, reason
):
    resolver.answer(answer)

    with pytest.raises(ValidationError) as refused:
        services.save_webhook(
            people.admin,
            Webhook(name="Mixed", url=f"http://{NAME}/hook", events=[REVIEW_REQUESTED.code]),
        )
    assert f"{NAME} resolves to {internal}, which is {reason}" in str(refused.value)

    # The saved webhook's name now answers both ways too: its delivery is refused, not tried.
    delivery = _deliver_once()
    assert delivery.status == WebhookDelivery.Status.REFUSED
    assert f"{NAME} resolves to {internal}, which is {reason}" in delivery.error
    assert internal_service.requests == []


def test_the_same_path_reaches_the_service_when_an_administrator_allowed_the_name(
    people, hook, resolver, internal_service
):
    """The control: with the name allowed and resolving to the service, it is delivered there,
    to the address resolved once, with the name in the Host header."""
    services.allow_host(people.admin, NAME, "the rebinding test's internal receiver")
    resolver.answer(("127.0.0.1",))

    delivery = _deliver_once()

    assert delivery.status == WebhookDelivery.Status.DELIVERED, delivery.error
    [request] = internal_service.requests
    assert request.headers["host"] == f"{NAME}:{internal_service.port}" and request.signature_ok
    assert resolver.times_asked_for_the_name() == 1
