"""Sending webhook deliveries: the SSRF guard, signing, the HTTP request, retries.

A webhook URL is typed by an administrator but the request is made from inside the bank's
network, so every attempt first checks where the URL leads (``check_target``): the host is
resolved once, every address is checked, and the request then goes to one of those checked
addresses (with a ``Host`` header and TLS verified against the name). Resolving again at connect
time would let a DNS answer that changes between the check and the connection (DNS rebinding)
walk around the guard.

A delivery row moves PENDING → DELIVERED, FAILED or REFUSED. It is sent by a job of kind
``DELIVERY``: the jobs engine claims each attempt (duplicate or late Celery messages do nothing),
retries after ``backoff``, and its reaper resends a delivery whose message was lost or whose
worker died. The row mirrors the attempt: how many, the last answer and error. Receivers
deduplicate on ``X-Portal-Delivery``: delivery is at-least-once, never exactly-once, because a
crash after the receiver answered and before the answer is recorded sends again.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import logging
import random
import time
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit

import urllib3
from django.conf import settings
from django.db import transaction
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
from apps.core.registry import JobKind
from apps.jobs import services as jobs
from apps.jobs.models import Job
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


def _delivery_failed(job: Job) -> None:
    """The delivery's job failed for good (attempts used up, the hook deactivated): so did the
    delivery, unless it already ended (refused)."""
    delivery = WebhookDelivery.objects.filter(pk=job.payload["delivery"], status=_PENDING)
    delivery.filter(error="").update(error=_clip(job.message))
    delivery.update(status=WebhookDelivery.Status.FAILED)


def backoff(attempt: int) -> float:
    """Seconds to wait after failed attempt number ``attempt`` (1, 2, …) before the next one.

    Grows threefold per attempt, ±20 % jitter so that deliveries that failed together (a receiver
    that was down) do not come back together. Never more than an hour: with the Redis broker a
    countdown near its visibility timeout (an hour by default) can get the message delivered
    twice, and the job's claim is what makes such a duplicate harmless.
    """
    base = settings.PORTAL_WEBHOOK_BACKOFF_SECONDS * 3.0 ** (max(attempt, 1) - 1)
    jitter = random.uniform(1 - _JITTER, 1 + _JITTER)  # noqa: S311 - spreading load, not a secret
    return min(base * jitter, _BACKOFF_CAP_SECONDS)


# Each delivery is a job: claimed once per attempt, retried with the backoff above, resent by the
# jobs reaper when its message was lost or its worker died (decisions §6).
DELIVERY = JobKind(
    name="webhook_delivery",
    task="notifications.deliver_webhook",
    when_failed=_delivery_failed,
    backoff=backoff,
)


def send_after_commit(delivery: WebhookDelivery) -> Job:
    """The job that sends ``delivery``, queued once the caller's transaction commits. If the
    broker is down then, the job stays queued and the reaper sends it later."""
    return jobs.create_job(
        kind=DELIVERY,
        target=delivery,
        payload={"delivery": delivery.pk},
        # Connecting and each read are bounded by the timeout; the limit bounds a receiver that
        # answers byte by byte.
        time_limit=2 * settings.PORTAL_WEBHOOK_TIMEOUT_SECONDS + 60,
        max_attempts=settings.PORTAL_WEBHOOK_MAX_ATTEMPTS,
    )


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
        refused = WebhookDelivery.objects.filter(pk=delivery.pk, status=_PENDING).update(
            status=WebhookDelivery.Status.REFUSED, error=_clip(reason)
        )
        if refused:
            after = {"url": redacted(hook.url), "reason": reason}
            audit.record(None, AuditAction.WEBHOOK_REFUSED, hook, after=after)
    logger.warning("webhook delivery %s refused: %s", delivery.pk, reason)


def _send(job: Job) -> _Outcome:
    """One attempt of the delivery ``job`` is about; raises ``Transient`` when the receiver did
    not accept it (the job engine retries after ``backoff``) and ``Final`` when no attempt can
    succeed."""
    delivery = (
        WebhookDelivery.objects.select_related("webhook")
        .filter(pk=job.payload["delivery"], status=_PENDING)
        .first()
    )
    if delivery is None:
        raise jobs.Final("The delivery ended or was removed before this attempt.")
    delivery.attempts = job.attempts
    WebhookDelivery.objects.filter(pk=delivery.pk).update(
        attempts=job.attempts, last_attempt_at=timezone.now(), error="", response_code=None
    )
    hook = delivery.webhook
    if not hook.active:
        raise jobs.Final("The webhook was deactivated before this delivery could be sent.")
    try:
        target = check_target(hook.url)
    except TargetRefused as refused:
        _refuse(delivery, hook, str(refused))
        raise jobs.Final(str(refused)) from None
    body = _body_of(delivery)
    try:
        outcome = _post(target, body, _headers(target, delivery, hook.secret, body))
    except Exception as exc:
        # A bug here must not leave the delivery looking "in flight".
        logger.exception("webhook delivery %s: unexpected error", delivery.pk)
        outcome = _Outcome(None, f"Unexpected error while sending: {exc!r}")
    if outcome.error:
        error = outcome.error
        if job.attempts >= job.max_attempts:
            error = f"{error} Gave up after {job.attempts} attempts."
        WebhookDelivery.objects.filter(pk=delivery.pk).update(
            response_code=outcome.status, error=_clip(error)
        )
        logger.warning(
            "webhook delivery %s attempt %s/%s failed: %s",
            delivery.pk,
            job.attempts,
            job.max_attempts,
            error,
        )
        raise jobs.Transient(outcome.error)
    return outcome


def _delivered(job: Job, outcome: _Outcome) -> dict[str, Any]:
    WebhookDelivery.objects.filter(pk=job.payload["delivery"], status=_PENDING).update(
        status=WebhookDelivery.Status.DELIVERED,
        response_code=outcome.status,
        error="",
        delivered_at=timezone.now(),
    )
    logger.info("webhook delivery %s delivered (HTTP %s)", job.payload["delivery"], outcome.status)
    return {"response_code": outcome.status}


def attempt(job_uuid: str, *, worker: str) -> None:
    """Run one attempt of a delivery's job: what the ``notifications.deliver_webhook`` task does.
    A duplicate or late message does nothing: only a queued job can be claimed."""
    jobs.run(job_uuid, worker=worker, execute=_send, commit=_delivered)
