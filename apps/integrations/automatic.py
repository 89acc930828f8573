"""Automatic hand-over from MLflow: a link's settings, MLflow's signed webhook deliveries, and
polling for servers that cannot send webhooks.

Who acts: an automatic import is requested on behalf of the person who turned automatic import
on for the link (``MlflowLink.automatic_by``). Their rights are checked again for every import
(may they still upload to the model, may their teams still use the connection); the audit trail
records them as the actor of ``MLFLOW_IMPORT_REQUESTED``, with ``"via": "MLflow webhook"`` (and
the delivery id) or ``"via": "polling MLflow"`` and the connection's name in its values. The
holdout is the data set kept with the link, copied for each import (the import's job removes its
own copy when it ends, as for a person's import), or the data set each version's run logged at
the path the link names (``holdout_artifact``), which each import's job downloads.

The same MLflow version is imported at most once per model, whichever of the webhook and the
poller sees it first (``services.already_imported`` under the model's lock, and a unique
constraint behind it).
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import logging
import re
import time
from dataclasses import dataclass
from datetime import timedelta
from pathlib import PurePosixPath
from typing import Any

from django.contrib.auth.models import User
from django.core.exceptions import PermissionDenied, ValidationError
from django.core.files.uploadedfile import UploadedFile
from django.db import IntegrityError, transaction
from django.utils import timezone

from apps.audit import services as audit
from apps.core.audit_actions import AuditAction
from apps.integrations import mlflow_client as mlflow
from apps.integrations import services
from apps.integrations.models import MlflowConnection, MlflowDelivery, MlflowImport, MlflowLink
from apps.registry import storage

logger = logging.getLogger(__name__)

# How old a delivery may be (MLflow's timestamp against our clock), and how far ahead of our
# clock it may claim to be (clocks drift a little).
MAX_AGE_SECONDS = 300
MAX_SKEW_SECONDS = 30
MAX_BODY_BYTES = 64 * 2**10
VERSION_CREATED = ("model_version", "created")
ALIAS_CREATED = ("model_version_alias", "created")
ALIAS = re.compile(r"[A-Za-z][A-Za-z0-9_.-]{0,255}")


# --- Settings of a link -----------------------------------------------------------------------


@dataclass(frozen=True)
class Automatic:
    on_version_created: bool
    on_alias: str
    target_column: str
    sensitive_column: str = ""
    # Instead of a holdout file: the path of the data set each imported version's run logged.
    holdout_artifact: str = ""


def _holdout_of(link: MlflowLink) -> dict[str, str] | None:
    if link.holdout_key:
        return {"name": link.holdout_name, "sha256": link.holdout_sha256}
    if link.holdout_artifact:
        return {"run_artifact": link.holdout_artifact}
    return None


def _settings_of(link: MlflowLink) -> dict[str, Any]:
    return {
        "on_version_created": link.on_version_created,
        "on_alias": link.on_alias,
        "target_column": link.target_column,
        "holdout": _holdout_of(link),
        "on_behalf_of": link.automatic_by.username if link.automatic_by else None,
    }


def settings_of(link: MlflowLink) -> dict[str, Any]:
    """A link's automatic-import settings as the API shows them (never a storage key)."""
    return {
        "enabled": link.is_automatic,
        "on_version_created": link.on_version_created,
        "on_alias": link.on_alias,
        "holdout": _holdout_of(link),
        "holdout_artifact": link.holdout_artifact,
        "target_column": link.target_column,
        "sensitive_column": link.sensitive_column,
        "on_behalf_of": link.automatic_by.username if link.automatic_by else None,
        "since": link.automatic_since,
    }


def set_automatic(
    model_id: int, *, actor: User, wanted: Automatic, holdout: UploadedFile | None
) -> MlflowLink:
    """Turn automatic import on (or change it, or off when neither event is chosen) for the
    model's link. On, imports are requested on ``actor``'s behalf with the holdout given now (a
    file, or the path of a data set each version's run logged), or the one kept before."""
    alias = wanted.on_alias.strip().lstrip("@")
    if alias and not ALIAS.fullmatch(alias):
        raise ValidationError(
            {"on_alias": "An MLflow alias starts with a letter, then letters, digits, _ . or -."}
        )
    target, sensitive = wanted.target_column.strip(), wanted.sensitive_column.strip()
    turning_on = wanted.on_version_created or bool(alias)
    artifact = services.holdout_artifact_path(wanted.holdout_artifact) if turning_on else ""
    if holdout is not None and artifact:
        raise ValidationError(
            {
                "holdout_artifact": "Give automatic imports either a holdout file or the path of "
                "a data set each MLflow run logged, not both (clear one)."
            }
        )
    blob = None
    if holdout is not None and turning_on:
        blob = services._stage_holdout(holdout, target, sensitive)
    try:
        return _save_automatic(
            model_id,
            actor,
            Automatic(wanted.on_version_created, alias, target, sensitive, artifact),
            blob,
            (holdout.name or "holdout") if holdout is not None else "",
        )
    except BaseException:
        if blob is not None:
            storage.delete([blob.key])
        raise


@transaction.atomic
def _save_automatic(
    model_id: int, actor: User, wanted: Automatic, blob: storage.Blob | None, name: str
) -> MlflowLink:
    link = (
        MlflowLink.objects.select_for_update(of=("self",))
        .select_related("connection", "model", "automatic_by")
        .filter(model_id=model_id)
        .first()
    )
    if link is None:
        raise ValidationError("Link this model to an MLflow registered model first.")
    services.check_can_import(actor, link.model)
    before = _settings_of(link)
    replaced = ""
    turning_on = wanted.on_version_created or bool(wanted.on_alias)
    if turning_on:
        services._check_team_may_use(actor, link.connection)
        if not wanted.target_column:
            raise ValidationError({"target_column": "Name the target column of the holdout."})
        keeps_file = blob is None and not wanted.holdout_artifact and bool(link.holdout_key)
        if blob is None and not wanted.holdout_artifact and not link.has_holdout:
            raise ValidationError(
                {
                    "holdout": "Attach the holdout data set the portal validates automatic "
                    "imports on (CSV or Parquet), or name the data set each MLflow run logs "
                    "(e.g. data/holdout.csv)."
                }
            )
        if keeps_file and wanted.target_column != link.target_column:
            raise ValidationError(
                {"holdout": "Attach the holdout again to change its target column."}
            )
        if blob is not None:
            replaced = link.holdout_key
            link.holdout_key, link.holdout_sha256 = blob.key, blob.sha256
            link.holdout_name = name[:255]
            link.holdout_artifact = ""
        elif wanted.holdout_artifact:
            # Each run's own data set from now on: the kept file, if any, goes.
            replaced = link.holdout_key
            link.holdout_key = link.holdout_sha256 = link.holdout_name = ""
            link.holdout_artifact = wanted.holdout_artifact
        if not keeps_file:
            link.target_column, link.sensitive_column = (
                wanted.target_column,
                wanted.sensitive_column,
            )
        link.automatic_by = actor
        if not link.is_automatic or link.automatic_since is None:
            link.automatic_since = timezone.now()
    else:
        replaced = link.holdout_key
        link.holdout_key = link.holdout_sha256 = link.holdout_name = link.holdout_artifact = ""
        link.target_column = link.sensitive_column = ""
        link.automatic_by, link.automatic_since = None, None
    if wanted.on_alias != link.on_alias:
        link.polled_alias_version = ""
    link.on_version_created, link.on_alias = wanted.on_version_created, wanted.on_alias
    link.save()
    audit.record(
        actor,
        AuditAction.MLFLOW_LINKED,
        link.model,
        before={"automatic import": before},
        after={"automatic import": _settings_of(link)},
    )
    if replaced:
        transaction.on_commit(lambda: storage.delete([replaced]))
    return link


# --- Requesting an automatic import -----------------------------------------------------------


def request_automatic(
    link: MlflowLink, version: str, *, trigger: str, via: dict[str, Any]
) -> MlflowImport | None:
    """Ask for MLflow ``version`` of the linked model on behalf of the link's owner, with the
    link's holdout; None when that version was already imported (or is being), or when the
    owner may not import any more (audited as a failed import, with why)."""
    owner = link.automatic_by
    if owner is None or not link.has_holdout:
        return None
    reference = mlflow.Reference(link.mlflow_name, version=str(int(version)))
    if services.already_imported(link.model, link, reference.version):
        return None
    try:
        services.check_can_import(owner, link.model)
        services._check_team_may_use(owner, link.connection)
    except PermissionDenied as denied:
        with transaction.atomic():
            audit.record(
                owner,
                AuditAction.MLFLOW_IMPORT_FAILED,
                link.model,
                after={"reason": str(denied), "reference": str(reference), **via},
            )
        return None
    blob = None
    if link.holdout_key:  # a kept file: each import gets its own copy
        with storage.open_blob(link.holdout_key) as kept:
            blob = storage.save(kept)
    try:
        record = services._create_import(
            link.model_id,
            owner,
            link,
            reference,
            blob,
            link.holdout_name if blob is not None else PurePosixPath(link.holdout_artifact).name,
            link.target_column,
            link.sensitive_column,
            f"Imported automatically from MLflow ({via['via']}): {link.mlflow_name} version "
            f"{reference.version}.",
            holdout_artifact="" if blob is not None else link.holdout_artifact,
            trigger=trigger,
            via=via,
        )
    except IntegrityError:  # the other road got there in the same instant
        record = None
    except BaseException:
        if blob is not None:
            storage.delete([blob.key])
        raise
    if record is None and blob is not None:
        storage.delete([blob.key])
    return record


def automatic_links(connection: MlflowConnection, mlflow_name: str) -> list[MlflowLink]:
    return [
        link
        for link in MlflowLink.objects.filter(connection=connection, mlflow_name=mlflow_name)
        .select_related("model", "connection", "automatic_by")
        .order_by("pk")
        if link.is_automatic
    ]


# --- Webhook deliveries -----------------------------------------------------------------------


class Refusal(Exception):
    """Why a delivery is refused, with the HTTP status to answer."""

    def __init__(self, status: int, reason: str) -> None:
        super().__init__(reason)
        self.status = status
        self.reason = reason


def signature_of(secret: str, delivery_id: str, timestamp: str, body: bytes) -> str:
    """MLflow's signature: ``v1,`` + base64(HMAC-SHA256(secret, "<id>.<timestamp>.<body>"))."""
    signed = f"{delivery_id}.{timestamp}.".encode() + body
    digest = hmac.new(secret.encode("utf-8"), signed, hashlib.sha256).digest()
    return "v1," + base64.b64encode(digest).decode("ascii")


def verify(
    secret: str,
    *,
    delivery_id: str,
    timestamp: str,
    signature: str,
    body: bytes,
    now: float | None = None,
) -> dict[str, Any]:
    """The delivery's JSON document if it is MLflow's, signed with ``secret``, and fresh;
    otherwise Refusal (401: no or a wrong signature; 400: stale, future or malformed)."""
    if not secret:
        raise Refusal(401, "the connection has no webhook secret, so no delivery can be trusted")
    if not delivery_id or len(delivery_id) > 100 or not timestamp:
        raise Refusal(400, "the delivery id or timestamp header is missing")
    if not signature:
        raise Refusal(401, "the delivery is not signed")
    expected = signature_of(secret, delivery_id, timestamp, body).encode()
    # A header may carry several signatures (a secret being rotated), space-separated.
    if not any(hmac.compare_digest(given.encode(), expected) for given in signature.split()):
        raise Refusal(401, "the signature does not match the connection's webhook secret")
    if not timestamp.isdigit():
        raise Refusal(400, "the timestamp is not a number of seconds")
    age = (time.time() if now is None else now) - int(timestamp)
    if age > MAX_AGE_SECONDS:
        raise Refusal(400, f"the delivery is {int(age)} seconds old (at most {MAX_AGE_SECONDS})")
    if age < -MAX_SKEW_SECONDS:
        raise Refusal(400, "the delivery's timestamp is in the future")
    try:
        document = json.loads(body)
    except ValueError:
        raise Refusal(400, "the body is not JSON") from None
    if not isinstance(document, dict) or not isinstance(document.get("data"), dict):
        raise Refusal(400, "the body is not an MLflow webhook payload")
    return document


def refuse(connection: MlflowConnection | None, delivery_id: str, refusal: Refusal) -> None:
    """Audit a refused delivery as a denial: why, which connection, which delivery id."""
    with transaction.atomic():
        audit.record(
            None,
            AuditAction.MLFLOW_WEBHOOK_REFUSED,
            connection,
            after={
                "reason": refusal.reason,
                "status": refusal.status,
                "connection": connection.name if connection else None,
                "delivery_id": delivery_id[:100],
            },
        )


def _remember(connection: MlflowConnection, delivery_id: str) -> None:
    """Keep the delivery's id; Refusal if it was seen before. Ids older than a delivery may be
    are pruned: such a replay fails on its timestamp."""
    horizon = timezone.now() - timedelta(seconds=MAX_AGE_SECONDS + MAX_SKEW_SECONDS + 60)
    MlflowDelivery.objects.filter(received_at__lt=horizon).delete()
    try:
        with transaction.atomic():
            MlflowDelivery.objects.create(connection=connection, delivery_id=delivery_id)
    except IntegrityError:
        raise Refusal(400, "this delivery id was received before (a replay)") from None


def receive(
    connection: MlflowConnection, *, delivery_id: str, timestamp: str, signature: str, body: bytes
) -> list[MlflowImport]:
    """Check and act on one delivery: the imports it started (often none: an event no link
    follows). Refusal is audited before it is raised."""
    try:
        if len(body) > MAX_BODY_BYTES:
            raise Refusal(400, "the body is larger than an MLflow webhook payload may be")
        document = verify(
            connection.webhook_secret,
            delivery_id=delivery_id,
            timestamp=timestamp,
            signature=signature,
            body=body,
        )
        _remember(connection, delivery_id)
    except Refusal as refusal:
        refuse(connection, delivery_id, refusal)
        raise
    event = (str(document.get("entity", "")), str(document.get("action", "")))
    data = document["data"]
    name, version = str(data.get("name", "")), str(data.get("version", ""))
    if event not in (VERSION_CREATED, ALIAS_CREATED) or not version.isdigit():
        return []
    started = []
    for link in automatic_links(connection, name):
        if event == VERSION_CREATED and not link.on_version_created:
            continue
        if event == ALIAS_CREATED and (not link.on_alias or data.get("alias") != link.on_alias):
            continue
        via = {"via": "MLflow webhook", "connection": connection.name, "delivery_id": delivery_id}
        if event == ALIAS_CREATED:
            via["alias"] = link.on_alias
        try:
            record = request_automatic(link, version, trigger=MlflowImport.Trigger.WEBHOOK, via=via)
        except (ValidationError, OSError):
            logger.exception("automatic import for link %s failed to start", link.pk)
            continue
        if record is not None:
            started.append(record)
    return started


# --- Polling ----------------------------------------------------------------------------------


def poll_link(link: MlflowLink) -> list[MlflowImport]:
    """Ask MLflow what is new for one automatic link and import it once: versions above the
    highest seen (created after automatic import was turned on), and the alias's version when
    the alias moved."""
    client = mlflow.MlflowClient.for_connection(link.connection)
    started: list[MlflowImport] = []
    via = {"via": "polling MLflow", "connection": link.connection.name}
    if link.on_version_created:
        found = client.get_json(
            "model-versions/search",
            filter=f"name='{link.mlflow_name}'",
            max_results="200",
            order_by="version_number DESC",
        )
        since = link.automatic_since.timestamp() * 1000 if link.automatic_since else 0
        newest = link.polled_version
        for item in sorted(
            found.get("model_versions", []), key=lambda v: int(str(v.get("version", "0")))
        ):
            number = int(str(item.get("version", "0")))
            if number <= link.polled_version or item.get("status", "READY") != "READY":
                continue
            newest = max(newest, number)
            if int(item.get("creation_timestamp") or 0) < since:
                continue  # there before automatic import was on: a person imports those
            record = request_automatic(
                link, str(number), trigger=MlflowImport.Trigger.POLL, via=via
            )
            if record is not None:
                started.append(record)
        MlflowLink.objects.filter(pk=link.pk).update(polled_version=newest)
    if link.on_alias:
        try:
            found = client.get_json(
                "registered-models/alias", name=link.mlflow_name, alias=link.on_alias
            )
        except mlflow.NotFound:
            return started
        version = str(found.get("model_version", {}).get("version", ""))
        if version.isdigit() and version != link.polled_alias_version:
            record = request_automatic(
                link,
                version,
                trigger=MlflowImport.Trigger.POLL,
                via={**via, "alias": link.on_alias},
            )
            if record is not None:
                started.append(record)
            MlflowLink.objects.filter(pk=link.pk).update(polled_alias_version=version)
    return started


def poll_all() -> int:
    """One round of polling over every automatic link; a server that fails is logged and
    tried again next round. How many imports it started."""
    started = 0
    links = (
        MlflowLink.objects.filter(automatic_by__isnull=False)
        .select_related("model", "connection", "automatic_by")
        .order_by("pk")
    )
    for link in links:
        if not link.is_automatic:
            continue
        try:
            started += len(poll_link(link))
        except (mlflow.MlflowError, ValidationError, OSError) as exc:
            logger.warning("polling MLflow for link %s failed: %s", link.pk, exc)
    return started
