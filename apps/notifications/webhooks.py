"""Sending webhook deliveries: the SSRF guard, signing, the HTTP request, retries.

A webhook URL is typed by an administrator but the request is made from inside the bank's
network, so every attempt first checks where the URL leads (``check_target``): the host is
resolved once, every address is checked, and the request then goes to one of those checked
addresses (with a ``Host`` header and TLS verified against the name). Resolving again at connect
time would let a DNS answer that changes between the check and the connection (DNS rebinding)
walk around the guard.

A delivery row moves PENDING → DELIVERED, FAILED or REFUSED. Each attempt is claimed with a
conditional UPDATE, so duplicate or late Celery messages do nothing. While an attempt is in flight
the row is PENDING with ``attempts > 0`` and an empty ``error``: every attempt that ends badly
writes an error, so an empty one means "someone is sending right now" (or crashed while sending,
which the lease below bounds). Receivers deduplicate on ``X-Portal-Delivery``: delivery is
at-least-once, never exactly-once, because a crash after the receiver answered and before the
answer is recorded sends again.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import logging
import random
import time
from dataclasses import dataclass
from datetime import datetime, timedelta
from urllib.parse import urlsplit

import urllib3
from django.conf import settings
from django.db import transaction
from django.db.models import F, Q, QuerySet
from django.utils import timezone
from urllib3.exceptions import (
    ConnectTimeoutError,
    HTTPError,
    NewConnectionError,
    ProtocolError,
    ReadTimeoutError,
    SSLError,
)

from apps.audit import services as audit
from apps.core import outbound
from apps.core.audit_actions import AuditAction
from apps.core.outbound import Target, TargetRefused
from apps.notifications.models import AllowedWebhookHost, Webhook, WebhookDelivery

logger = logging.getLogger(__name__)

USER_AGENT = "MLOps-Portal-Webhooks/1.0"
SIGNATURE_PREFIX = "sha256="

# Enough of a response body to show a person why the receiver said no; the rest is never read,
# so a receiver cannot make the worker download something large.
_BODY_PREVIEW_BYTES = 512
_ERROR_MAX_CHARS = 500  # WebhookDelivery.error
_BACKOFF_CAP_SECONDS = 3600.0
_JITTER = 0.2
# How long after its last attempt (or creation) a pending delivery may wait for its message on
# top of the backoff, before resend_stalled concludes the message was lost. The beat task runs
# every five minutes and a busy queue can hold a message for a while; a resend that turns out to
# be a duplicate costs nothing because of the claim.
_STALL_MARGIN_SECONDS = 600.0
_RESEND_BATCH = 500


# --- The SSRF guard, with the webhooks' allowlist ---------------------------------------------


def _allowlisted(candidates: set[str]) -> bool:
    return AllowedWebhookHost.objects.filter(host__in=candidates).exists()


def check_target(url: str) -> Target:
    """Where a webhook may be sent (``apps.core.outbound.check_target``, with the hosts an
    administrator allowed under Allowed webhook hosts)."""
    return outbound.check_target(
        url,
        allowlisted=_allowlisted,
        what="The webhook URL",
        allow_advice=" under Allowed webhook hosts",
    )


# --- Signing ----------------------------------------------------------------------------------


def sign(secret: str, timestamp: str, body: bytes) -> str:
    """``sha256=`` and the hex HMAC-SHA256 of ``timestamp.body``: the X-Portal-Signature value.

    The timestamp is signed too, so a receiver that rejects old timestamps also rejects replays.
    """
    message = timestamp.encode("ascii") + b"." + body
    return SIGNATURE_PREFIX + hmac.new(secret.encode("utf-8"), message, hashlib.sha256).hexdigest()


def verify(
    secret: str,
    timestamp: str,
    body: bytes,
    signature: str,
    *,
    max_age_seconds: float | None = None,
) -> bool:
    """For receivers: whether ``signature`` is ours for this timestamp and body.

    With ``max_age_seconds``, a timestamp further than that from now is refused as well.
    """
    if max_age_seconds is not None:
        try:
            age = abs(time.time() - int(timestamp))
        except ValueError:
            return False
        if age > max_age_seconds:
            return False
    try:
        expected = sign(secret, timestamp, body)
    except UnicodeError:
        return False
    # Constant time, so the comparison does not tell an attacker how much of a guess was right.
    return hmac.compare_digest(expected.encode("utf-8"), signature.encode("utf-8"))


# --- One HTTP request -------------------------------------------------------------------------


@dataclass(frozen=True)
class _Outcome:
    status: int | None
    error: str  # empty when the receiver accepted the delivery


def _body_of(delivery: WebhookDelivery) -> bytes:
    # The id goes last so that nothing in the payload can pretend to be another delivery.
    document = {**delivery.payload, "delivery": delivery.pk}
    return json.dumps(document, sort_keys=True, separators=(",", ":")).encode("utf-8")


def _headers(target: Target, delivery: WebhookDelivery, secret: str, body: bytes) -> dict[str, str]:
    timestamp = str(int(time.time()))
    return {
        "Host": target.host_header,
        "Content-Type": "application/json",
        "User-Agent": USER_AGENT,
        "X-Portal-Event": delivery.event,
        "X-Portal-Delivery": str(delivery.pk),
        "X-Portal-Timestamp": timestamp,
        "X-Portal-Signature": sign(secret, timestamp, body),
        "Connection": "close",
    }


def _preview(raw: bytes) -> str:
    text = raw.decode("utf-8", errors="replace")
    return " ".join("".join(ch if ch.isprintable() else " " for ch in text).split())[:200]


def _read_preview(response: urllib3.BaseHTTPResponse) -> str:
    """The start of the body, for the error message. The status is the answer: a body that
    breaks off or trickles must not turn an accepted delivery into a failure and a resend."""
    try:
        # decode_content=False: a compressed answer is not inflated either.
        return _preview(response.read(_BODY_PREVIEW_BYTES, decode_content=False))
    except (HTTPError, OSError):
        return ""
    finally:
        response.close()


def _post(target: Target, body: bytes, headers: dict[str, str]) -> _Outcome:
    """POST once. Addresses are tried in order only while connecting, as a resolver-driven
    client would; once a request may have reached a receiver it is never sent again here."""
    timeout = float(settings.PORTAL_WEBHOOK_TIMEOUT_SECONDS)
    deadline = time.monotonic() + timeout
    failure = _Outcome(None, f"Could not connect to {target.host}.")
    for address in target.addresses:
        remaining = deadline - time.monotonic()
        if remaining <= 0:
            break
        where = target.host if address == target.host else f"{target.host} ({address})"
        where = f"{where} port {target.port}"
        pool = outbound.connection_pool(
            target, address, urllib3.Timeout(connect=remaining, read=remaining)
        )
        try:
            response = pool.urlopen(
                "POST",
                target.path,
                body=body,
                headers=headers,
                retries=False,
                redirect=False,  # a 3xx is an answer, and a failure: never followed
                preload_content=False,
                assert_same_host=False,
            )
            preview = _read_preview(response)
        except NewConnectionError as exc:
            cause = exc.__cause__
            reason = getattr(cause, "strerror", None) or str(cause or exc)
            failure = _Outcome(None, f"Could not connect to {where}: {reason}.")
            continue
        except ConnectTimeoutError:
            failure = _Outcome(None, f"Timed out connecting to {where} after {timeout:g} s.")
            continue
        except ReadTimeoutError:
            return _Outcome(None, f"{where} did not answer within {timeout:g} s.")
        except SSLError as exc:
            return _Outcome(None, f"The TLS connection to {where} failed: {exc.__cause__ or exc}.")
        except ProtocolError as exc:
            return _Outcome(None, f"The connection to {where} broke: {exc}.")
        except (HTTPError, OSError) as exc:
            return _Outcome(None, f"Sending to {where} failed: {exc}.")
        finally:
            pool.close()
        status = response.status
        if 200 <= status < 300:
            return _Outcome(status, "")
        if 300 <= status < 400:
            location = _preview((response.headers.get("Location") or "").encode("utf-8"))
            return _Outcome(
                status,
                f"The receiver answered HTTP {status}, a redirect to {location or 'nowhere'}. "
                "Redirects are not followed: point the webhook at the final URL.",
            )
        detail = f": {preview}" if preview else "."
        return _Outcome(status, f"The receiver answered HTTP {status}{detail}")
    return failure


# --- Deliveries -------------------------------------------------------------------------------

_PENDING = WebhookDelivery.Status.PENDING


def _attempt_lease() -> timedelta:
    """How long an attempt may be in flight before another one may start (a crashed worker).

    Longer than a normal attempt takes, since connecting and each read are bounded by the
    timeout. A receiver that trickles its answer byte by byte could outlast it; the worst that
    does is let a second attempt overlap the first.
    """
    return timedelta(seconds=2 * settings.PORTAL_WEBHOOK_TIMEOUT_SECONDS + 60)


def _claim(delivery_id: int, now: datetime) -> bool:
    """Start an attempt: only on a PENDING delivery with no attempt in flight."""
    not_in_flight = Q(attempts=0) | ~Q(error="") | Q(last_attempt_at__lt=now - _attempt_lease())
    claimed = WebhookDelivery.objects.filter(not_in_flight, pk=delivery_id, status=_PENDING).update(
        attempts=F("attempts") + 1, last_attempt_at=now, error="", response_code=None
    )
    return claimed == 1


def send_after_commit(delivery_id: int, countdown: float = 0) -> None:
    """Queue a delivery once the caller's transaction commits. Robust: if the broker is down the
    row stays PENDING and ``resend_stalled`` sends it later. (A named function, not
    functools.partial: Django names a robust callback that fails, and a partial has no name.)"""
    from apps.notifications import tasks

    def send() -> None:
        tasks.deliver_webhook.apply_async((delivery_id,), countdown=countdown)

    send.delivery_id, send.countdown = delivery_id, countdown  # type: ignore[attr-defined]
    transaction.on_commit(send, robust=True)


def _this_attempt(delivery_id: int, attempt: int) -> QuerySet[WebhookDelivery]:
    """The row, if it is still ours: an attempt whose lease ran out must not overwrite a later
    one's result."""
    return WebhookDelivery.objects.filter(pk=delivery_id, status=_PENDING, attempts=attempt)


def _clip(error: str) -> str:
    return error if len(error) <= _ERROR_MAX_CHARS else error[: _ERROR_MAX_CHARS - 1] + "…"


def redacted(url: str) -> str:
    """The URL as the append-only audit trail may keep it: scheme, host and port only.

    Webhook URLs often carry a token in the path or query (Slack-style URLs) or credentials; a
    fingerprint still shows when the URL changed.
    """
    fingerprint = hashlib.sha256(url.encode()).hexdigest()[:12]
    try:
        parts = urlsplit(url)
        host = parts.hostname or "?"
        port = f":{parts.port}" if parts.port else ""
    except ValueError:
        return f"(unparseable URL, fingerprint {fingerprint})"
    return f"{parts.scheme}://{host}{port}/… (fingerprint {fingerprint})"


def _refuse(delivery: WebhookDelivery, hook: Webhook, reason: str) -> None:
    with transaction.atomic():
        refused = _this_attempt(delivery.pk, delivery.attempts).update(
            status=WebhookDelivery.Status.REFUSED, error=_clip(reason)
        )
        if refused:
            after = {"url": redacted(hook.url), "reason": reason}
            audit.record(None, AuditAction.WEBHOOK_REFUSED, hook, after=after)
    logger.warning("webhook delivery %s refused: %s", delivery.pk, reason)


def _record_failure(delivery: WebhookDelivery, outcome: _Outcome) -> None:
    attempt = delivery.attempts
    max_attempts = settings.PORTAL_WEBHOOK_MAX_ATTEMPTS
    give_up = attempt >= max_attempts
    error = outcome.error or "The delivery failed."
    if give_up:
        error = f"{error} Gave up after {attempt} attempts."
    with transaction.atomic():
        updated = _this_attempt(delivery.pk, attempt).update(
            status=WebhookDelivery.Status.FAILED if give_up else _PENDING,
            response_code=outcome.status,
            error=_clip(error),
        )
        if updated and not give_up:
            send_after_commit(delivery.pk, countdown=backoff(attempt))
    logger.warning(
        "webhook delivery %s attempt %s/%s failed: %s", delivery.pk, attempt, max_attempts, error
    )


def deliver(delivery_id: int) -> None:
    """One attempt at one delivery: what the ``notifications.deliver_webhook`` task runs.

    Safe to run for a duplicate or late message: the claim makes it do nothing.
    """
    if not _claim(delivery_id, timezone.now()):
        return  # finished already, or another attempt is in flight
    try:
        delivery = WebhookDelivery.objects.select_related("webhook").get(pk=delivery_id)
    except WebhookDelivery.DoesNotExist:
        return  # its webhook was deleted just now, and the delivery with it (CASCADE)
    hook = delivery.webhook
    if not hook.active:
        _this_attempt(delivery_id, delivery.attempts).update(
            status=WebhookDelivery.Status.FAILED,
            error="The webhook was deactivated before this delivery could be sent.",
        )
        return
    try:
        target = check_target(hook.url)
    except TargetRefused as refused:
        _refuse(delivery, hook, str(refused))
        return
    body = _body_of(delivery)
    try:
        outcome = _post(target, body, _headers(target, delivery, hook.secret, body))
    except Exception as exc:
        # A bug here must not leave the row looking "in flight" until the lease runs out.
        logger.exception("webhook delivery %s: unexpected error", delivery_id)
        outcome = _Outcome(None, f"Unexpected error while sending: {exc!r}")
    if outcome.error:
        _record_failure(delivery, outcome)
        return
    _this_attempt(delivery_id, delivery.attempts).update(
        status=WebhookDelivery.Status.DELIVERED,
        response_code=outcome.status,
        error="",
        delivered_at=timezone.now(),
    )
    logger.info("webhook delivery %s delivered (HTTP %s)", delivery_id, outcome.status)


def _backoff_base(attempt: int) -> float:
    base = settings.PORTAL_WEBHOOK_BACKOFF_SECONDS * 3.0 ** (max(attempt, 1) - 1)
    return min(base, _BACKOFF_CAP_SECONDS)


def backoff(attempt: int) -> float:
    """Seconds to wait after failed attempt number ``attempt`` (1, 2, …) before the next one.

    Grows threefold per attempt, ±20 % jitter so that deliveries that failed together (a receiver
    that was down) do not come back together. Never more than an hour: with the Redis broker a
    countdown near its visibility timeout (an hour by default) can get the message delivered
    twice, and the claim in ``deliver`` is what makes such a duplicate harmless.
    """
    jitter = random.uniform(1 - _JITTER, 1 + _JITTER)  # noqa: S311 - spreading load, not a secret
    return min(_backoff_base(attempt) * jitter, _BACKOFF_CAP_SECONDS)


def _longest_wait(attempts: int) -> timedelta:
    """The longest a healthy pending delivery with ``attempts`` attempts waits for its message."""
    waiting = (
        0.0 if attempts == 0 else min(_backoff_base(attempts) * (1 + _JITTER), _BACKOFF_CAP_SECONDS)
    )
    return timedelta(seconds=2 * waiting + _STALL_MARGIN_SECONDS) + _attempt_lease()


def resend_stalled() -> int:
    """Dispatch again the pending deliveries whose message was lost; return how many.

    A crash or a broker outage between commit and enqueue (or a retry lost with a broker) leaves
    a PENDING row that no message will ever pick up. Such a row is one whose last attempt (or
    creation, if never attempted) is older than twice the longest backoff it could be waiting
    for, plus a margin. Resending one that was merely slow is harmless: the claim turns the
    duplicate message into nothing. A row whose last permitted attempt never reported back (its
    worker died) is marked FAILED instead, since another attempt would exceed the limit.
    """
    now = timezone.now()
    max_attempts = settings.PORTAL_WEBHOOK_MAX_ATTEMPTS
    stalled = Q(attempts=0, created_at__lt=now - _longest_wait(0))
    for attempts in range(1, max_attempts):
        stalled |= Q(attempts=attempts, last_attempt_at__lt=now - _longest_wait(attempts))
    pending = WebhookDelivery.objects.filter(status=_PENDING)

    exhausted = pending.filter(
        attempts__gte=max_attempts,
        last_attempt_at__lt=now - _longest_wait(0),
    ).update(
        status=WebhookDelivery.Status.FAILED,
        error="Gave up: no attempts left, and the last one never reported back.",
    )
    if exhausted:
        logger.warning("%s webhook deliveries failed: their last attempt was lost", exhausted)

    ids = list(
        pending.filter(stalled)
        .order_by("created_at", "id")
        .values_list("pk", flat=True)[:_RESEND_BATCH]
    )
    for delivery_id in ids:
        # robust: one failed enqueue (a broker hiccup) must not stop the others; the row stays
        # PENDING and the next run tries again.
        send_after_commit(delivery_id)
    if ids:
        logger.warning("re-dispatched %s stalled webhook deliveries", len(ids))
    return len(ids)
