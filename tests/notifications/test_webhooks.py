"""Outbound webhooks against real parts: real resolution, a real receiver, a real worker."""

from __future__ import annotations

import hashlib
import hmac
import json
import time
from datetime import datetime, timedelta

import pytest
from django.conf import settings
from django.contrib.contenttypes.models import ContentType
from django.core.exceptions import ValidationError
from django.db import transaction
from django.db.models import ProtectedError
from django.utils import timezone

from apps.audit.models import AuditEvent
from apps.jobs import services as jobs
from apps.jobs.models import Job
from apps.notifications import services, webhooks
from apps.notifications.models import Webhook, WebhookDelivery
from apps.reviews.events import REVIEW_REQUESTED
from tests.notifications.conftest import Answer, Receiver
from tests.support.services import free_port
from tests.support.worker import wait_for

pytestmark = pytest.mark.django_db

PUBLIC_IP = "93.184.216.34"  # check_target resolves but never connects


def _emit(title: str = "Loan default v3 needs your review") -> WebhookDelivery:
    """One event through the real service, in its own transaction, as other services do."""
    with transaction.atomic():
        services.emit(
            REVIEW_REQUESTED,
            recipients=[],
            title=title,
            url="/models/loan-default/versions/3/",
            payload={"model": "loan-default", "version": 3},
        )
    return WebhookDelivery.objects.latest("id")


def _reloaded(delivery: WebhookDelivery) -> WebhookDelivery:
    delivery.refresh_from_db()
    return delivery


def _job_of(delivery: WebhookDelivery) -> Job:
    target = ContentType.objects.get_for_model(WebhookDelivery)
    return Job.objects.get(target_type=target, target_id=str(delivery.pk))


def _attempt(delivery: WebhookDelivery) -> None:
    """What a worker runs when the message of the delivery's job arrives."""
    webhooks.attempt(str(_job_of(delivery).uuid), worker="test@host")


def _retry_wait(delivery: WebhookDelivery, since: datetime) -> float:
    """How long after ``since`` the re-queued job of ``delivery`` is due again."""
    job = _job_of(delivery)
    assert job.status == Job.Status.QUEUED and job.enqueued_at is not None
    return (job.enqueued_at - since).total_seconds()


# --- check_target -----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("url", "reason"),
    [
        ("http://127.0.0.1/hook", "loopback"),
        ("http://localhost:8000/hook", "loopback"),
        ("http://LOCALHOST/hook", "loopback"),
        ("http://10.1.2.3/hook", "private"),
        ("http://172.16.0.9/hook", "private"),
        ("http://192.168.1.10/hook", "private"),
        ("http://169.254.169.254/latest/meta-data/", "link-local"),
        ("http://0.0.0.0:8000/", "unspecified"),
        ("http://0/", "unspecified"),
        ("http://100.64.0.1/", "shared"),
        ("http://224.0.0.1/", "multicast"),
        ("http://240.0.0.1/", "reserved"),
        ("http://255.255.255.255/", "reserved"),
        ("http://192.0.2.1/", "special-purpose"),
        ("http://198.18.0.1/", "special-purpose"),
        ("http://[::1]:8000/hook", "loopback"),
        ("http://[::]/", "unspecified"),
        ("http://[fe80::1]/", "link-local"),
        ("http://[fd00::1]/", "private"),
        ("http://[fec0::1]/", "site-local"),
        ("http://[ff02::1]/", "multicast"),
        ("http://[::ffff:127.0.0.1]/", "loopback"),
        ("http://[::ffff:7f00:1]/", "loopback"),
        ("http://[::ffff:169.254.169.254]/", "link-local"),
        ("http://[::ffff:10.0.0.1]/", "private"),
        ("http://[::127.0.0.1]/", "IPv4-compatible"),
        ("http://[2002:7f00:1::1]/", "loopback"),  # 6to4 around 127.0.0.1
        ("http://[64:ff9b::a9fe:a9fe]/", "link-local"),  # NAT64 around the metadata address
        ("http://2130706433/", "loopback"),
        ("http://0x7f.0.0.1/", "loopback"),
        ("http://0x7f000001/", "loopback"),
        ("http://017700000001/", "loopback"),
        ("http://127.1/", "loopback"),
        ("http://0251.0376.0251.0376/", "link-local"),  # 169.254.169.254 in octal
    ],
)
def test_check_target_refuses_every_address_that_is_not_public(url, reason):
    with pytest.raises(webhooks.TargetRefused, match=reason):
        webhooks.check_target(url)


@pytest.mark.parametrize(
    ("url", "reason"),
    [
        (f"ftp://{PUBLIC_IP}/hook", "http:// or https://"),
        ("file:///etc/passwd", "http:// or https://"),
        (f"gopher://{PUBLIC_IP}:70/_", "http:// or https://"),
        ("javascript:alert(1)", "http:// or https://"),
        (f"{PUBLIC_IP}/hook", "http:// or https://"),
        (f"http://user:secret@{PUBLIC_IP}/hook", "user name or password"),
        (f"http://user@{PUBLIC_IP}/hook", "user name or password"),
        (f"http://{PUBLIC_IP}@127.0.0.1/hook", "user name or password"),
        ("http:///hook", "no host"),
        ("http://:8080/hook", "no host"),
        (f"http://{PUBLIC_IP}:99999/", "not valid"),
        (f"http://{PUBLIC_IP}:0/", "Port 0"),
        (f"http://{PUBLIC_IP}/hook\r\nX-Injected: 1", "control characters"),
        (f"http://{PUBLIC_IP} /hook", "spaces"),
        ("http://exa mple.com/", "spaces"),
        ("http://bad%2fname/", "not a valid host name"),
        ("http://does-not-exist.invalid/hook", "could not be resolved"),
    ],
)
def test_check_target_refuses_urls_that_are_not_plain_http_to_a_host(url, reason):
    with pytest.raises(webhooks.TargetRefused, match=reason):
        webhooks.check_target(url)


def test_a_refusal_says_where_the_name_leads_and_what_to_do():
    with pytest.raises(webhooks.TargetRefused) as refused:
        webhooks.check_target("http://localhost/hook")
    message = str(refused.value)
    assert "localhost resolves to 127.0.0.1" in message
    assert "unless an administrator allows this exact host" in message


def test_check_target_allows_a_public_ip_literal_without_connecting():
    target = webhooks.check_target(f"http://{PUBLIC_IP}/hook")
    assert target == webhooks.Target(
        scheme="http", host=PUBLIC_IP, port=80, path="/hook", addresses=(PUBLIC_IP,)
    )
    assert target.host_header == PUBLIC_IP


def test_check_target_keeps_the_port_path_and_query_and_drops_the_fragment():
    target = webhooks.check_target(f"HTTPS://{PUBLIC_IP}:8443/a/b?x=1&y=%20#frag")
    assert (target.scheme, target.port, target.path) == ("https", 8443, "/a/b?x=1&y=%20")
    assert target.host_header == f"{PUBLIC_IP}:8443"
    assert webhooks.check_target(f"http://{PUBLIC_IP}?x=1").path == "/?x=1"


def test_check_target_allows_a_public_ipv6_address_and_a_mapped_public_one():
    target = webhooks.check_target("http://[2606:2800:220:1:248:1893:25c8:1946]/hook")
    assert target.host_header == "[2606:2800:220:1:248:1893:25c8:1946]"
    assert webhooks.check_target(f"http://[::ffff:{PUBLIC_IP}]/").addresses == (
        f"::ffff:{PUBLIC_IP}",
    )


def test_an_allowlisted_exact_host_may_be_internal_on_any_port(people):
    services.allow_host(people.admin, " 127.0.0.1 ")
    target = webhooks.check_target("http://127.0.0.1:8080/hook")
    assert target.allowlisted and target.addresses == ("127.0.0.1",)
    assert webhooks.check_target("http://127.0.0.1:6379/").allowlisted


@pytest.mark.parametrize(
    "other_spelling",
    [
        "http://localhost:8080/hook",
        "http://127.1:8080/hook",
        "http://2130706433:8080/hook",
        "http://0x7f.0.0.1:8080/hook",
        "http://[::ffff:127.0.0.1]:8080/hook",
        "http://127.0.0.2:8080/hook",
    ],
)
def test_the_allowlist_is_by_exact_host_not_by_address(people, other_spelling):
    services.allow_host(people.admin, "127.0.0.1")
    with pytest.raises(webhooks.TargetRefused, match="loopback"):
        webhooks.check_target(other_spelling)


def test_an_allowlisted_name_does_not_allow_the_address_it_resolves_to(people):
    services.allow_host(people.admin, "LocalHost")
    assert webhooks.check_target("http://localhost/hook").allowlisted
    with pytest.raises(webhooks.TargetRefused, match="loopback"):
        webhooks.check_target("http://127.0.0.1/hook")


def test_an_allowlist_entry_with_a_port_allows_that_port_only(people):
    services.allow_host(people.admin, "127.0.0.1:8080")
    assert webhooks.check_target("http://127.0.0.1:8080/hook").allowlisted
    with pytest.raises(webhooks.TargetRefused, match="loopback"):
        webhooks.check_target("http://127.0.0.1:6379/")
    with pytest.raises(webhooks.TargetRefused, match="loopback"):
        webhooks.check_target("http://127.0.0.1/hook")


def test_an_allowlisted_ipv6_literal_matches_with_or_without_brackets(people):
    services.allow_host(people.admin, "[::1]")
    assert webhooks.check_target("http://[::1]:9000/hook").allowlisted
    with pytest.raises(webhooks.TargetRefused, match="loopback"):
        webhooks.check_target("http://[::ffff:127.0.0.1]:9000/hook")


def test_even_an_allowlisted_host_cannot_be_the_unspecified_address(people):
    services.allow_host(people.admin, "0.0.0.0")  # noqa: S104 - the point of the test
    with pytest.raises(webhooks.TargetRefused, match="unspecified"):
        webhooks.check_target("http://0.0.0.0:8000/")


# --- Signing and backoff ----------------------------------------------------------------------


def test_a_signature_covers_the_secret_the_timestamp_and_the_body():
    body = b'{"delivery":1}'
    signature = webhooks.sign("s3cret", "1700000000", body)
    expected = hmac.new(b"s3cret", b"1700000000." + body, hashlib.sha256).hexdigest()
    assert signature == f"sha256={expected}"
    assert webhooks.verify("s3cret", "1700000000", body, signature)
    assert not webhooks.verify("other", "1700000000", body, signature)
    assert not webhooks.verify("s3cret", "1700000001", body, signature)
    assert not webhooks.verify("s3cret", "1700000000", body + b" ", signature)
    assert not webhooks.verify("s3cret", "1700000000", body, "sha256=é")


def test_a_receiver_can_refuse_an_old_timestamp():
    now = str(int(time.time()))
    old = str(int(time.time()) - 3600)
    body = b"{}"
    assert webhooks.verify("k", now, body, webhooks.sign("k", now, body), max_age_seconds=300)
    assert not webhooks.verify("k", old, body, webhooks.sign("k", old, body), max_age_seconds=300)
    assert not webhooks.verify(
        "k", "soon", body, webhooks.sign("k", "soon", body), max_age_seconds=1
    )


def test_backoff_triples_with_jitter_and_never_exceeds_an_hour(settings):
    settings.PORTAL_WEBHOOK_BACKOFF_SECONDS = 10
    first = [webhooks.backoff(1) for _ in range(200)]
    assert all(8 <= s <= 12 for s in first) and len(set(first)) > 1
    assert all(72 <= webhooks.backoff(3) <= 108 for _ in range(50))
    assert all(2880 <= webhooks.backoff(20) <= 3600 for _ in range(50))


# --- deliver() against a real receiver --------------------------------------------------------


def test_an_emitted_event_arrives_signed_with_the_expected_headers_and_body(
    hook, loopback_allowed, receiver, django_capture_on_commit_callbacks
):
    with django_capture_on_commit_callbacks() as callbacks:
        delivery = _emit()
    assert len(callbacks) == 1  # the delivery is sent only once the event commits

    started = int(time.time())
    _attempt(delivery)

    delivery = _reloaded(delivery)
    assert delivery.status == WebhookDelivery.Status.DELIVERED
    assert (delivery.attempts, delivery.response_code, delivery.error) == (1, 200, "")
    assert delivery.delivered_at is not None and delivery.last_attempt_at is not None
    [request] = receiver.requests
    assert request.path == "/hook" and request.signature_ok
    document = json.loads(request.body)
    assert document == {**delivery.payload, "delivery": delivery.pk}
    assert document["event"] == "review.requested"
    assert document["data"] == {"model": "loan-default", "version": 3}
    assert document["url"] == "http://127.0.0.1:8000/models/loan-default/versions/3/"
    assert request.body == json.dumps(document, sort_keys=True, separators=(",", ":")).encode()
    headers = request.headers
    assert headers["content-type"] == "application/json"
    assert "MLOps-Portal" in headers["user-agent"]
    assert headers["host"] == f"127.0.0.1:{receiver.port}"
    assert headers["x-portal-event"] == "review.requested"
    assert headers["x-portal-delivery"] == str(delivery.pk)
    assert started - 5 <= int(headers["x-portal-timestamp"]) <= time.time() + 5
    signed = headers["x-portal-timestamp"].encode() + b"." + request.body
    expected = hmac.new(hook.secret.encode(), signed, hashlib.sha256).hexdigest()
    assert headers["x-portal-signature"] == f"sha256={expected}"


def test_a_failed_attempt_is_retried_after_a_backoff_and_then_delivered(
    hook, loopback_allowed, receiver, django_capture_on_commit_callbacks
):
    receiver.answer(Answer(500, body=b"database is down"), 200)
    delivery = _emit()

    before = timezone.now()
    with django_capture_on_commit_callbacks() as retries:
        _attempt(delivery)
    delivery = _reloaded(delivery)
    assert (delivery.status, delivery.attempts, delivery.response_code) == ("pending", 1, 500)
    assert "HTTP 500" in delivery.error and "database is down" in delivery.error
    assert len(retries) == 1  # the retry's message, sent with its countdown
    base = settings.PORTAL_WEBHOOK_BACKOFF_SECONDS
    assert 0.8 * base <= _retry_wait(delivery, before) <= 1.2 * base + 2

    with django_capture_on_commit_callbacks() as retries:
        _attempt(delivery)  # what the worker runs when the countdown is over
    delivery = _reloaded(delivery)
    assert (delivery.status, delivery.attempts, delivery.response_code) == ("delivered", 2, 200)
    assert delivery.error == "" and retries == []
    assert [r.headers["x-portal-delivery"] for r in receiver.requests] == [str(delivery.pk)] * 2
    assert all(r.signature_ok for r in receiver.requests)


def test_a_delivery_fails_for_good_after_the_maximum_number_of_attempts(
    hook, loopback_allowed, receiver, settings, django_capture_on_commit_callbacks
):
    settings.PORTAL_WEBHOOK_MAX_ATTEMPTS = 3
    receiver.answer(503)
    delivery = _emit()
    countdowns = []
    for _ in range(3):
        before = timezone.now()
        with django_capture_on_commit_callbacks() as retries:
            _attempt(delivery)
        if retries:
            countdowns.append(_retry_wait(delivery, before))

    delivery = _reloaded(delivery)
    assert (delivery.status, delivery.attempts, delivery.response_code) == ("failed", 3, 503)
    assert "HTTP 503" in delivery.error and "Gave up after 3 attempts" in delivery.error
    base = settings.PORTAL_WEBHOOK_BACKOFF_SECONDS
    assert len(countdowns) == 2
    assert 0.8 * base <= countdowns[0] <= 1.2 * base + 2
    assert 0.8 * 3 * base <= countdowns[1] <= 1.2 * 3 * base + 2
    assert _job_of(delivery).status == Job.Status.FAILED

    _attempt(delivery)  # a late duplicate message
    assert len(receiver.requests) == 3 and _reloaded(delivery).attempts == 3


def test_a_redirect_is_not_followed_and_counts_as_a_failure(
    hook, loopback_allowed, receiver, django_capture_on_commit_callbacks
):
    receiver.answer(Answer(302, headers={"Location": receiver.url("/internal-admin")}))
    delivery = _emit()
    with django_capture_on_commit_callbacks() as retries:
        _attempt(delivery)
    delivery = _reloaded(delivery)
    assert (delivery.status, delivery.response_code) == ("pending", 302)
    assert "redirect" in delivery.error and "/internal-admin" in delivery.error
    assert [r.path for r in receiver.requests] == ["/hook"]
    assert len(retries) == 1


def test_a_redirect_to_the_metadata_service_is_not_followed_either(
    hook, loopback_allowed, receiver
):
    metadata = "http://169.254.169.254/latest/meta-data/iam/security-credentials/"
    receiver.answer(Answer(307, headers={"Location": metadata}))
    delivery = _emit()
    _attempt(delivery)
    delivery = _reloaded(delivery)
    assert delivery.response_code == 307 and "not followed" in delivery.error
    assert len(receiver.requests) == 1


def test_a_receiver_that_does_not_answer_in_time_is_a_failure(
    hook, loopback_allowed, receiver, settings, django_capture_on_commit_callbacks
):
    settings.PORTAL_WEBHOOK_TIMEOUT_SECONDS = 1
    receiver.answer(Answer(200, delay=2.5))
    delivery = _emit()
    with django_capture_on_commit_callbacks() as retries:
        _attempt(delivery)
    delivery = _reloaded(delivery)
    assert delivery.status == "pending" and delivery.response_code is None
    assert "did not answer within 1 s" in delivery.error
    assert len(retries) == 1


def test_a_refused_connection_is_a_failure_with_a_clear_message(
    people, loopback_allowed, django_capture_on_commit_callbacks
):
    port = free_port()
    services.save_webhook(
        people.admin,
        Webhook(name="down", url=f"http://127.0.0.1:{port}/", events=[REVIEW_REQUESTED.code]),
    )
    delivery = _emit()
    with django_capture_on_commit_callbacks() as retries:
        _attempt(delivery)
    delivery = _reloaded(delivery)
    assert delivery.status == "pending" and delivery.attempts == 1
    assert f"Could not connect to 127.0.0.1 port {port}" in delivery.error
    assert "refused" in delivery.error.lower()
    assert len(retries) == 1


def test_a_receiver_with_an_untrusted_certificate_gets_nothing(
    people, loopback_allowed, tls_receiver, django_capture_on_commit_callbacks
):
    services.save_webhook(
        people.admin, Webhook(name="tls", url=tls_receiver.url(), events=[REVIEW_REQUESTED.code])
    )
    delivery = _emit()
    with django_capture_on_commit_callbacks() as retries:
        _attempt(delivery)
    delivery = _reloaded(delivery)
    assert delivery.status == "pending" and "TLS" in delivery.error
    assert "certificate" in delivery.error.lower()
    assert tls_receiver.requests == [] and len(retries) == 1


def test_an_internal_url_without_an_allowlist_entry_is_refused_and_audited(
    hook, receiver, django_capture_on_commit_callbacks
):
    delivery = _emit()
    with django_capture_on_commit_callbacks() as retries:
        _attempt(delivery)

    delivery = _reloaded(delivery)
    assert delivery.status == WebhookDelivery.Status.REFUSED and delivery.attempts == 1
    assert "127.0.0.1 is a loopback address" in delivery.error
    assert receiver.requests == [] and retries == []
    event = AuditEvent.objects.get(action="webhook.refused")
    assert event.actor is None
    assert (event.object_type, event.object_id) == ("notifications.webhook", str(hook.pk))
    assert event.after == {"url": webhooks.redacted(hook.url), "reason": delivery.error}
    assert "/hook" not in event.after["url"]  # paths and queries often carry tokens

    _attempt(delivery)  # a duplicate message neither sends nor audits again
    assert AuditEvent.objects.filter(action="webhook.refused").count() == 1


def test_saving_checks_the_target_and_keeps_secrets_out_of_the_audit_trail(people):
    with pytest.raises(ValidationError, match="must not contain a user name or password"):
        services.save_webhook(
            people.admin,
            Webhook(name="creds", url=f"http://bot:hunter2@{PUBLIC_IP}/hook", events=[]),
        )
    with pytest.raises(ValidationError, match="loopback"):
        services.save_webhook(people.admin, Webhook(name="local", url="http://127.0.0.1:9/x"))
    token_url = f"http://{PUBLIC_IP}/services/T000/B000/secret-token?key=abc"
    hook = services.save_webhook(people.admin, Webhook(name="chat", url=token_url, events=[]))
    assert hook.wants("validation.failed")  # no events listed: every event
    saved = AuditEvent.objects.get(action="webhook.saved", object_id=str(hook.pk))
    assert "secret-token" not in json.dumps(saved.after) and "abc" not in saved.after["url"]
    assert saved.after["url"].startswith(f"http://{PUBLIC_IP}/… (fingerprint ")


def test_a_webhook_deactivated_after_the_event_fails_the_delivery_without_sending(
    people, hook, loopback_allowed, receiver
):
    delivery = _emit()
    hook.active = False
    services.save_webhook(people.admin, hook)
    _attempt(delivery)
    delivery = _reloaded(delivery)
    assert delivery.status == "failed" and "deactivated" in delivery.error
    assert receiver.requests == []


def test_a_webhook_with_deliveries_is_deactivated_not_deleted(people, hook, receiver):
    delivery = _emit()
    with pytest.raises(ProtectedError):
        services.delete_webhook(people.admin, hook)
    assert WebhookDelivery.objects.filter(pk=delivery.pk).exists()  # the log stays


def test_a_duplicate_message_during_an_attempt_sends_nothing(hook, loopback_allowed, receiver):
    delivery = _emit()
    # The job is claimed: its request is under way on another worker.
    assert jobs.claim(str(_job_of(delivery).uuid), worker="other@host") is not None
    _attempt(delivery)
    assert receiver.requests == [] and _reloaded(delivery).attempts == 0


def test_an_attempt_whose_worker_died_is_taken_over_once_its_heartbeat_is_stale(
    hook, loopback_allowed, receiver
):
    delivery = _emit()
    job = jobs.claim(str(_job_of(delivery).uuid), worker="dead@host")
    assert job is not None
    Job.objects.filter(pk=job.pk).update(heartbeat_at=timezone.now() - timedelta(hours=1))
    _attempt(delivery)
    assert receiver.requests == []  # not while the dead attempt still holds the job

    assert jobs.reap_stale_jobs().requeued == 1
    _attempt(delivery)
    delivery = _reloaded(delivery)
    assert (delivery.status, delivery.attempts) == ("delivered", 2)
    assert len(receiver.requests) == 1


# --- Lost messages ----------------------------------------------------------------------------


def _lost(hook: Webhook, age: timedelta) -> WebhookDelivery:
    """A delivery whose job's message, due ``age`` ago (negative: due later), never came."""
    with transaction.atomic():
        delivery = WebhookDelivery.objects.create(
            webhook=hook, event="review.requested", payload={"event": "review.requested"}
        )
        job = webhooks.send_after_commit(delivery)
        Job.objects.filter(pk=job.pk).update(enqueued_at=timezone.now() - age)
        transaction.set_rollback(False)
    return delivery


def test_the_reaper_resends_lost_deliveries_and_leaves_waiting_ones_alone(
    hook, django_capture_on_commit_callbacks
):
    never_sent = _lost(hook, timedelta(hours=1))
    _lost(hook, timedelta(seconds=5))  # its message is on the way
    _lost(hook, -timedelta(minutes=50))  # waiting for its retry, due in 50 minutes

    report = jobs.reap_stale_jobs()

    assert report.resent == 1
    assert "enqueued again" in _job_of(never_sent).log


# --- With a real worker and broker ------------------------------------------------------------


@pytest.mark.worker
@pytest.mark.django_db(transaction=True)
def test_a_committed_event_is_delivered_by_a_worker(
    hook, loopback_allowed, receiver: Receiver, worker
):
    delivery = _emit()
    wait_for(
        lambda: _reloaded(delivery).status == "delivered",
        message=f"the worker to deliver\n{worker.output()}",
    )
    [request] = receiver.requests
    assert request.signature_ok
    assert json.loads(request.body) == {**delivery.payload, "delivery": delivery.pk}
    assert delivery.attempts == 1 and delivery.response_code == 200


@pytest.mark.worker
@pytest.mark.django_db(transaction=True)
def test_a_worker_retries_through_the_broker_until_the_receiver_accepts(
    hook, loopback_allowed, receiver: Receiver, fast_retry_worker
):
    receiver.answer(500, 502, 200)
    delivery = _emit()
    wait_for(
        lambda: _reloaded(delivery).status == "delivered",
        message=f"the worker to deliver on the third attempt\n{fast_retry_worker.output()}",
    )
    assert delivery.attempts == 3 and delivery.response_code == 200
    assert len(receiver.requests) == 3 and all(r.signature_ok for r in receiver.requests)


@pytest.mark.worker
@pytest.mark.django_db(transaction=True)
def test_a_delivery_whose_message_was_lost_is_resent_and_delivered_by_a_worker(
    hook, loopback_allowed, receiver: Receiver, worker
):
    lost = _lost(hook, timedelta(hours=1))
    assert jobs.reap_stale_jobs().resent == 1
    wait_for(
        lambda: _reloaded(lost).status == "delivered",
        message=f"the worker to deliver the resent message\n{worker.output()}",
    )
    [request] = receiver.requests
    assert request.signature_ok and json.loads(request.body)["delivery"] == lost.pk
