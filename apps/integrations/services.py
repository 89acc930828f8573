"""State changes of MLflow interop: connections (administrators), links and imports.

Each function checks who may act, runs in one transaction and audits what it changed. An
import is a service call that stores the request and queues a job (``request_import``); the job
(``IMPORT``, run by ``tasks.import_from_mlflow``) fetches the version from MLflow and hands the
artifact and the holdout to the registry's upload path, the same as a person's upload. A webhook
or a poller will call ``request_import`` the same way.
"""

from __future__ import annotations

import shutil
import tempfile
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path, PurePosixPath
from typing import IO, Any

import yaml
from django.contrib.auth.models import User
from django.core.exceptions import PermissionDenied, ValidationError
from django.core.files.uploadedfile import UploadedFile
from django.db import transaction
from django.utils import timezone

from apps.audit import services as audit
from apps.core.audit_actions import AuditAction
from apps.core.permissions import require
from apps.core.registry import JobKind
from apps.integrations import mlflow_client as mlflow
from apps.integrations.models import MlflowConnection, MlflowImport, MlflowLink
from apps.jobs import services as jobs
from apps.jobs.models import Job
from apps.registry import services as registry
from apps.registry import storage, uploads
from apps.registry.models import ModelVersion, RegisteredModel, StoredFile

ADMINISTER = "integrations.change_mlflowconnection"
LINK = "integrations.link"
IMPORT_RULE = "integrations.import"
# MLmodel is a short YAML file; one larger than this is not MLflow's.
MLMODEL_LIMIT = 2**20
FORMATS = {"pickle": "pickle", "cloudpickle": "pickle", "skops": "skops"}
FILE_NAMES = {"pickle": "model.pkl", "skops": "model.skops"}


# --- Connections (Django admin) ---------------------------------------------------------------


def _require_admin(actor: User) -> None:
    require(actor, ADMINISTER, message="Only administrators configure MLflow connections.")


def _connection_snapshot(connection: MlflowConnection) -> dict[str, Any]:
    """What the audit trail keeps of a connection: never the secret, only whether one is set."""
    return {
        "name": connection.name,
        "tracking_url": connection.tracking_url,
        "auth": connection.auth,
        "username": connection.username,
        "secret": "set" if connection.secret else "not set",
        "webhook_secret": "set" if connection.webhook_secret else "not set",
        "send_tags": connection.send_tags,
        "teams": sorted(connection.teams.values_list("slug", flat=True)) if connection.pk else [],
    }


def check_connection(connection: MlflowConnection) -> None:
    """What a connection must be: a URL the SSRF guard lets through, credentials that fit."""
    try:
        mlflow.check_url(connection.tracking_url)
    except mlflow.TargetRefused as refused:
        raise ValidationError({"tracking_url": str(refused)}) from None
    if connection.auth == MlflowConnection.Auth.BASIC and not connection.username.strip():
        raise ValidationError({"username": "Basic authentication needs a user name."})


@transaction.atomic
def save_connection(
    actor: User,
    connection: MlflowConnection,
    *,
    new_secret: str | None = None,
    new_webhook_secret: str | None = None,
    teams: list[Any] | None = None,
) -> MlflowConnection:
    """Create or change a connection. ``new_secret`` replaces the secret (None keeps it, "" clears
    it), ``new_webhook_secret`` likewise the secret MLflow signs webhooks with; the audit trail
    records only whether each is set and whether it changed."""
    _require_admin(actor)
    before = None
    if connection.pk:
        before = _connection_snapshot(
            MlflowConnection.objects.select_for_update().get(pk=connection.pk)
        )
    check_connection(connection)
    secret_changed = new_secret is not None and new_secret != connection.secret
    if new_secret is not None:
        connection.secret = new_secret
    webhook_secret_changed = (
        new_webhook_secret is not None and new_webhook_secret != connection.webhook_secret
    )
    if new_webhook_secret is not None:
        connection.webhook_secret = new_webhook_secret
    if connection.auth == MlflowConnection.Auth.NONE:
        connection.secret, connection.username = "", ""
    connection.created_by = connection.created_by or actor
    connection.full_clean(exclude=["teams"])
    connection.save()
    if teams is not None:
        connection.teams.set(teams)
    after = _connection_snapshot(connection)
    if secret_changed:
        after["secret"] = "replaced" if connection.secret else "cleared"
    if webhook_secret_changed:
        after["webhook_secret"] = "replaced" if connection.webhook_secret else "cleared"
    audit.record(actor, AuditAction.MLFLOW_CONNECTION_SAVED, connection, before=before, after=after)
    return connection


@transaction.atomic
def delete_connection(actor: User, connection: MlflowConnection) -> None:
    _require_admin(actor)
    if connection.links.exists() or connection.imports.exists():
        raise ValidationError(
            f"The connection “{connection.name}” is used by links or imports and is kept for "
            "their record; remove its teams to stop further imports."
        )
    audit.record(
        actor,
        AuditAction.MLFLOW_CONNECTION_DELETED,
        connection,
        before=_connection_snapshot(connection),
    )
    connection.delete()


def connections_for(actor: User) -> list[MlflowConnection]:
    """The connections ``actor``'s teams may import from."""
    return list(
        MlflowConnection.objects.filter(teams__group__user=actor).distinct().order_by("name")
    )


def _check_team_may_use(actor: User, connection: MlflowConnection) -> None:
    if not connection.teams.filter(group__user=actor).exists():
        raise PermissionDenied(
            f"None of your teams may import from the MLflow server “{connection.name}”; an "
            "administrator chooses the teams of a connection."
        )


# --- Links ------------------------------------------------------------------------------------


def check_can_link(actor: User, model: RegisteredModel) -> None:
    """Linking and importing are uploading by another road: the same right."""
    registry.check_can_upload(actor, model)


@transaction.atomic
def link_model(
    model_id: int, *, actor: User, connection: MlflowConnection, mlflow_name: str
) -> MlflowLink:
    model = RegisteredModel.objects.select_for_update().get(pk=model_id)
    check_can_link(actor, model)
    _check_team_may_use(actor, connection)
    mlflow_name = mlflow_name.strip()
    if not mlflow_name or len(mlflow_name) > 256 or "'" in mlflow_name or "/" in mlflow_name:
        raise ValidationError(
            {"mlflow_name": "Name the MLflow registered model (no quotes or slashes)."}
        )
    if MlflowLink.objects.filter(model=model).exists():
        raise ValidationError(
            "This model is already linked to MLflow; unlink it first to link another."
        )
    link = MlflowLink.objects.create(
        model=model, connection=connection, mlflow_name=mlflow_name, created_by=actor
    )
    audit.record(
        actor,
        AuditAction.MLFLOW_LINKED,
        model,
        after={"connection": connection.name, "mlflow_model": mlflow_name},
    )
    return link


@transaction.atomic
def unlink_model(model_id: int, *, actor: User) -> None:
    model = RegisteredModel.objects.select_for_update().get(pk=model_id)
    check_can_link(actor, model)
    link = MlflowLink.objects.filter(model=model).select_related("connection").first()
    if link is None:
        raise ValidationError("This model is not linked to MLflow.")
    before = {"connection": link.connection.name, "mlflow_model": link.mlflow_name}
    kept = link.holdout_key  # the holdout kept for automatic imports goes with the link
    link.delete()
    if kept:
        transaction.on_commit(lambda: storage.delete([kept]))
    audit.record(actor, AuditAction.MLFLOW_UNLINKED, model, before=before, after=None)


def link_of(model: RegisteredModel) -> MlflowLink | None:
    return MlflowLink.objects.filter(model=model).select_related("connection").first()


# --- What MLflow holds, for the picker --------------------------------------------------------


@dataclass
class MlflowVersion:
    """One version of the linked MLflow model, as the picker lists it."""

    version: str
    aliases: list[str]
    run_id: str
    status: str
    created: datetime | None
    metrics: dict[str, float] = field(default_factory=dict)


def _when(millis: Any) -> datetime | None:
    try:
        return datetime.fromtimestamp(int(millis) / 1000, tz=UTC)
    except (TypeError, ValueError, OverflowError, OSError):
        return None


def mlflow_versions(link: MlflowLink, *, limit: int = 20) -> list[MlflowVersion]:
    """The newest versions of the linked MLflow model, with their run's metrics (a few)."""
    client = mlflow.MlflowClient.for_connection(link.connection)
    found = client.get_json(
        "model-versions/search",
        filter=f"name='{link.mlflow_name}'",
        max_results=str(limit),
        order_by="version_number DESC",
    )
    # The search leaves aliases out; the registered model lists them all.
    registered = client.get_json("registered-models/get", name=link.mlflow_name)
    aliases: dict[str, list[str]] = {}
    for entry in registered.get("registered_model", {}).get("aliases", []):
        if isinstance(entry, dict):
            aliases.setdefault(str(entry.get("version")), []).append(str(entry.get("alias")))
    versions = []
    for item in found.get("model_versions", [])[:limit]:
        row = MlflowVersion(
            version=str(item.get("version", "")),
            aliases=sorted(aliases.get(str(item.get("version", "")), [])),
            run_id=str(item.get("run_id", "")),
            status=str(item.get("status", "")),
            created=_when(item.get("creation_timestamp")),
        )
        if row.run_id:
            try:
                run = client.get_json("runs/get", run_id=row.run_id).get("run", {})
                metrics = run.get("data", {}).get("metrics", [])
                row.metrics = {str(m["key"]): float(m["value"]) for m in metrics[:4]}
            except (mlflow.NotFound, KeyError, TypeError, ValueError):
                pass
        versions.append(row)
    versions.sort(key=lambda v: int(v.version) if v.version.isdigit() else 0, reverse=True)
    return versions


# --- Imports ----------------------------------------------------------------------------------


def check_can_import(actor: User, model: RegisteredModel) -> None:
    registry.check_can_upload(actor, model)


def _check_holdout(
    stream: IO[bytes], name: str, size: int, target_column: str, sensitive_column: str
) -> None:
    """The checks of an upload's holdout: its size, CSV or Parquet that reads, the columns."""
    uploads.check_size("holdout", size, uploads.file_limit("holdout"))
    info = uploads.inspect_dataset("holdout", name, stream)
    uploads.check_target(info, target_column)
    uploads.check_sensitive(info, sensitive_column, target_column)


def _stage_holdout(
    holdout: UploadedFile, target_column: str, sensitive_column: str
) -> storage.Blob:
    """Check the holdout as an upload is checked, then keep it for the job."""
    _check_holdout(holdout, holdout.name or "", holdout.size or 0, target_column, sensitive_column)
    return storage.save(holdout)


def holdout_artifact_path(text: str, *, field: str = "holdout_artifact") -> str:
    """A person's ``data/holdout.csv``: a path under a run's artifacts, checked segment by
    segment as MLflow's own paths are (it is only ever sent to MLflow, percent-encoded, never
    used as a local path), naming a CSV or Parquet file. ``""`` for none."""
    path = text.strip()
    if not path:
        return ""
    try:
        mlflow.safe_artifact_path(path)
    except mlflow.UnsafePath:
        raise ValidationError(
            {
                field: f"“{path[:200]}” is not a path inside the run's artifacts. Write it as "
                "MLflow lists it under the run, e.g. data/holdout.csv: names of letters, digits "
                "and _ . = + - separated by /, without .., a leading /, \\, %, ?, # or ;."
            }
        ) from None
    if PurePosixPath(path.lower()).suffix not in uploads.DATASET_EXTENSIONS:
        raise ValidationError(
            {field: f"“{path[:200]}” is not a .csv or .parquet file; name the run's holdout."}
        )
    return path


def _one_holdout(holdout: UploadedFile | None, holdout_artifact: str) -> None:
    """Exactly one of a file and a run artifact's path."""
    if holdout is not None and holdout_artifact:
        raise uploads.UploadRefused(
            "holdout",
            "Send the holdout either as a file or as the path of a data set in the MLflow run "
            "(holdout_artifact), not both.",
        )
    if holdout is None and not holdout_artifact:
        raise uploads.UploadRefused(
            "holdout",
            "Attach the holdout data set (CSV or Parquet), or name a data set the MLflow run "
            "logged (holdout_artifact, e.g. data/holdout.csv): the portal validates the imported "
            "model on it, whatever MLflow measured.",
        )


def request_import(
    model_id: int,
    *,
    actor: User,
    reference: str,
    holdout: UploadedFile | None,
    target_column: str,
    sensitive_column: str = "",
    notes: str = "",
    holdout_artifact: str = "",
) -> MlflowImport:
    """Ask for a version of the linked MLflow model (``models:/name/7``, ``models:/name@alias``,
    ``7`` or ``@alias``) to be imported as a new version of this model, with ``holdout`` (CSV or
    Parquet, as for an upload) or, instead, ``holdout_artifact``: the path of a data set the
    version's run logged, which the job downloads and checks as it would check an upload.
    Refuses at once what can be checked here (rights, link, reference, holdout or path); the job
    does the rest and fails with a message saying why if it must."""
    model = RegisteredModel.objects.get(pk=model_id)
    check_can_import(actor, model)
    link = link_of(model)
    if link is None:
        raise ValidationError("Link this model to an MLflow registered model before importing.")
    _check_team_may_use(actor, link.connection)
    try:
        parsed = mlflow.parse_reference(reference, linked_name=link.mlflow_name)
    except ValueError as exc:
        raise ValidationError({"reference": str(exc)}) from None
    artifact_path = holdout_artifact_path(holdout_artifact)
    _one_holdout(holdout, artifact_path)
    target_column, sensitive_column = target_column.strip(), sensitive_column.strip()
    if holdout is None and not target_column:
        raise ValidationError({"target_column": "Name the target column of the holdout."})
    # A file is checked and staged now; a run's artifact is fetched and checked by the job.
    blob = None if holdout is None else _stage_holdout(holdout, target_column, sensitive_column)
    try:
        record = _create_import(
            model.pk,
            actor,
            link,
            parsed,
            blob,
            PurePosixPath(artifact_path).name if holdout is None else holdout.name or "holdout",
            target_column,
            sensitive_column,
            notes,
            holdout_artifact=artifact_path,
        )
    except BaseException:
        if blob is not None:
            storage.delete([blob.key])
        raise
    assert record is not None  # only automatic imports are ever skipped
    return record


@transaction.atomic
def _create_import(
    model_id: int,
    actor: User,
    link: MlflowLink,
    reference: mlflow.Reference,
    holdout: storage.Blob | None,
    holdout_name: str,
    target_column: str,
    sensitive_column: str,
    notes: str,
    *,
    holdout_artifact: str = "",
    trigger: str = MlflowImport.Trigger.PERSON,
    via: dict[str, Any] | None = None,
) -> MlflowImport | None:
    """The import and its job, in one transaction with the model locked. The holdout is the
    staged ``holdout`` or, when None, the run's ``holdout_artifact``. An automatic import
    (``trigger`` webhook or poll, ``via`` saying how for the audit trail) of a version this model
    already has, or is importing, is not made again: None."""
    model = RegisteredModel.objects.select_for_update().get(pk=model_id)
    if not MlflowLink.objects.filter(pk=link.pk, model=model).exists():
        raise ValidationError("The model was unlinked from MLflow meanwhile.")
    if trigger != MlflowImport.Trigger.PERSON and already_imported(model, link, reference.version):
        return None
    record = MlflowImport.objects.create(
        model=model,
        connection=link.connection,
        reference=str(reference),
        mlflow_name=reference.name,
        mlflow_version=reference.version,
        holdout_key=holdout.key if holdout is not None else "",
        holdout_name=holdout_name[:255],
        holdout_sha256=holdout.sha256 if holdout is not None else "",
        holdout_artifact=holdout_artifact,
        target_column=target_column,
        sensitive_column=sensitive_column,
        notes=notes.strip(),
        requested_by=actor,
        trigger=trigger,
    )
    record.job = jobs.create_job(
        kind=IMPORT, target=record, actor=actor, payload={"import": record.pk}
    )
    record.save(update_fields=["job"])
    audit.record(
        actor,
        AuditAction.MLFLOW_IMPORT_REQUESTED,
        record,
        after={
            "model": model.slug,
            "connection": link.connection.name,
            "reference": str(reference),
            "holdout": {"name": holdout_name, "sha256": holdout.sha256, "size": holdout.size}
            if holdout is not None
            else {"run_artifact": holdout_artifact},
            "target_column": target_column,
            **(via or {}),
        },
    )
    return record


def already_imported(model: RegisteredModel, link: MlflowLink, mlflow_version: str) -> bool:
    """Whether ``mlflow_version`` of the linked MLflow model was imported into ``model``, or is
    being imported (a failed import does not count)."""
    return (
        MlflowImport.objects.filter(
            model=model, connection=link.connection, mlflow_name=link.mlflow_name
        )
        .filter(mlflow_version=mlflow_version)
        .exclude(state=MlflowImport.State.FAILED)
        .exists()
    )


# --- The import job ---------------------------------------------------------------------------


@dataclass
class Fetched:
    """What the long part of the job fetched: the artifact on disk, and its provenance."""

    folder: Path
    artifact: Path
    file_format: str  # the portal's: "pickle" or "skops"
    provenance: dict[str, Any]
    holdout: Path | None = None  # downloaded from the run; None: the one staged at the request


def _pairs(items: Any) -> dict[str, Any]:
    """MLflow's ``[{"key": k, "value": v}, …]`` as a dict."""
    found: dict[str, Any] = {}
    for item in items or []:
        if isinstance(item, dict) and "key" in item:
            found[str(item["key"])] = item.get("value")
    return found


def _resolve(client: mlflow.MlflowClient, record: MlflowImport) -> dict[str, Any]:
    name = record.mlflow_name
    try:
        if record.mlflow_version:
            found = client.get_json("model-versions/get", name=name, version=record.mlflow_version)
        else:
            alias = record.reference.rsplit("@", 1)[-1]
            found = client.get_json("registered-models/alias", name=name, alias=alias)
    except mlflow.NotFound:
        what = (
            f"version {record.mlflow_version}"
            if record.mlflow_version
            else f"the alias “{record.reference.rsplit('@', 1)[-1]}”"
        )
        raise mlflow.NotFound(
            f"The MLflow model “{name}” on “{client.name}” has no {what} (or no such model)."
        ) from None
    version = found.get("model_version")
    if not isinstance(version, dict) or not str(version.get("version", "")).isdigit():
        raise mlflow.MlflowError("MLflow answered without a model version.")
    if version.get("status", "READY") != "READY":
        raise mlflow.MlflowError(
            f"MLflow version {version.get('version')} is {version.get('status')}, not READY yet."
        )
    return version


def _artifact_folder(client: mlflow.MlflowClient, version: dict[str, Any]) -> str:
    """The model's folder under the artifact proxy, from the version's ``source``."""
    kind, value = mlflow.model_path(str(version.get("source", "")))
    if kind == "logged":
        logged = client.get_json(f"logged-models/{value}").get("model", {})
        return mlflow.proxied_location(str(logged.get("info", {}).get("artifact_uri", "")))
    if kind == "run":
        run_id, _, inner = value.partition("/")
        run = client.get_json("runs/get", run_id=run_id).get("run", {})
        root = mlflow.proxied_location(str(run.get("info", {}).get("artifact_uri", "")))
        return f"{root}/{inner}" if inner else root
    return value


def _sklearn_flavour(mlmodel: bytes) -> tuple[str, str]:
    """The pickled model's path and MLflow's serialisation format, from MLmodel's ``sklearn``
    flavour; refuses any other flavour with the ones it has."""
    try:
        document = yaml.safe_load(mlmodel.decode("utf-8"))
    except (yaml.YAMLError, UnicodeDecodeError):
        raise mlflow.MlflowError("The model's MLmodel file is not valid YAML.") from None
    flavours = document.get("flavors") if isinstance(document, dict) else None
    if not isinstance(flavours, dict):
        raise mlflow.MlflowError("The model's MLmodel file lists no flavours.")
    sklearn = flavours.get("sklearn")
    if not isinstance(sklearn, dict):
        names = ", ".join(sorted(str(k) for k in flavours)) or "none"
        raise mlflow.MlflowError(
            f"The MLflow model is not a scikit-learn model (its flavours: {names}). The portal "
            "imports models logged with mlflow.sklearn.log_model."
        )
    path = mlflow.safe_artifact_path(str(sklearn.get("pickled_model", "")))
    fmt = str(sklearn.get("serialization_format", "cloudpickle"))
    if fmt not in FORMATS:
        raise mlflow.MlflowError(
            f"The model was saved as {fmt[:50]!r}; the portal imports pickle, cloudpickle or skops."
        )
    return path, fmt


def _provenance_update(record_id: int, **fields: Any) -> None:
    MlflowImport.objects.filter(pk=record_id).update(**fields)


def fetch(job: Job) -> Fetched:
    """The long part of an import job, outside any transaction: resolve the version, read its
    run and experiment, download the artifact (size-limited, hashed as it streams)."""
    record = MlflowImport.objects.select_related("connection", "model").get(
        pk=job.payload["import"]
    )
    if record.is_finished:
        raise jobs.Final("This import has already ended.")
    _provenance_update(record.pk, state=MlflowImport.State.RUNNING)
    client = mlflow.MlflowClient.for_connection(record.connection)
    try:
        return _fetch(job, record, client)
    except mlflow.Unreachable as exc:
        raise jobs.Transient(str(exc)) from None
    except mlflow.MlflowError as exc:
        raise jobs.Final(str(exc)) from None


def _fetch(job: Job, record: MlflowImport, client: mlflow.MlflowClient) -> Fetched:
    jobs.report_progress(job, 5, f"Resolving {record.reference} on {client.name}")
    version = _resolve(client, record)
    provenance: dict[str, Any] = {
        "mlflow_version": str(version["version"]),
        "aliases": [str(a) for a in version.get("aliases", [])],
        "source": str(version.get("source", ""))[:1000],
        "run_id": str(version.get("run_id", ""))[:64],
    }
    _provenance_update(record.pk, **provenance)
    run: dict[str, Any] = {}
    if provenance["run_id"]:
        jobs.report_progress(job, 15, f"Reading run {provenance['run_id']}")
        run = client.get_json("runs/get", run_id=provenance["run_id"]).get("run", {})
        data = run.get("data", {})
        tags = _pairs(data.get("tags"))
        provenance.update(
            params=_pairs(data.get("params")),
            metrics={
                str(m.get("key")): m.get("value")
                for m in data.get("metrics", [])
                if isinstance(m, dict)
            },
            tags=tags,
            git_commit=str(tags.get("mlflow.source.git.commit", ""))[:100],
            experiment_id=str(run.get("info", {}).get("experiment_id", ""))[:64],
        )
        if provenance["experiment_id"]:
            experiment = client.get_json(
                "experiments/get", experiment_id=provenance["experiment_id"]
            )
            provenance["experiment_name"] = str(experiment.get("experiment", {}).get("name", ""))[
                :500
            ]
        _provenance_update(record.pk, **provenance)
    # Local names are ours; MLflow's paths (and the holdout artifact's, a person's) are only
    # ever part of a URL, never of a file path.
    scratch = Path(tempfile.mkdtemp(prefix="mlflow-import-"))
    try:
        holdout = None
        if record.holdout_artifact:
            holdout = scratch / "holdout.data"
            provenance.update(_fetch_holdout(job, record, client, run, holdout))
            _provenance_update(record.pk, **provenance)
        jobs.report_progress(job, 30, "Reading the model's MLmodel file")
        folder = _artifact_folder(client, version)
        pickled, mlflow_format = _sklearn_flavour(
            client.read_artifact(f"{folder}/MLmodel", limit=MLMODEL_LIMIT)
        )
        file_format = FORMATS[mlflow_format]
        if file_format == "pickle" and not record.model.pickle_allowed:
            raise mlflow.MlflowError(
                f"The MLflow model was saved with {mlflow_format}, and pickle formats are refused "
                "for this model: opening a pickle can run any code it contains. Log it with "
                'mlflow.sklearn.log_model(..., serialization_format="skops"), or ask an '
                "administrator to allow pickle formats for this model."
            )
        jobs.report_progress(job, 40, f"Downloading the {mlflow_format} artifact")
        artifact = scratch / FILE_NAMES[file_format]
        with artifact.open("wb") as target:
            download = client.download(f"{folder}/{pickled}", target, limit=mlflow.artifact_limit())
    except BaseException:
        shutil.rmtree(scratch, ignore_errors=True)
        raise
    provenance.update(
        original_format=mlflow_format,
        original_sha256=download.sha256,
        original_size=download.size,
    )
    _provenance_update(record.pk, **provenance)
    jobs.report_progress(job, 80, "Handing the artifact to validation")
    return Fetched(scratch, artifact, file_format, provenance, holdout)


def _fetch_holdout(
    job: Job, record: MlflowImport, client: mlflow.MlflowClient, run: dict[str, Any], local: Path
) -> dict[str, str]:
    """Download the holdout the version's run logged at ``record.holdout_artifact`` into
    ``local`` (streamed, hashed, stopped at the holdout limit), then check it as an uploaded
    holdout is checked. Its name and SHA-256, for the provenance."""
    path = record.holdout_artifact
    if not run:
        raise mlflow.MlflowError(
            f"The MLflow version was not logged from a run, so there is no run artifact “{path}” "
            "to take the holdout from; attach the holdout as a file instead."
        )
    run_id = str(run.get("info", {}).get("run_id", ""))[:64]
    where = f"“{path}” in run {run_id}"
    jobs.report_progress(job, 20, f"Downloading the holdout artifact {path}")
    root = mlflow.proxied_location(str(run.get("info", {}).get("artifact_uri", "")))
    try:
        with local.open("wb") as target:
            download = client.download(
                f"{root}/{path}",
                target,
                limit=uploads.file_limit("holdout"),
                what=mlflow.Limit(
                    f"The holdout artifact {where}", "holdouts", "PORTAL_MAX_DATASET_MB"
                ),
            )
    except mlflow.NotFound:
        raise mlflow.NotFound(
            f"The run {run_id} has no artifact “{path}” to take the holdout from: log it in the "
            "run (mlflow.log_artifact) or name the path it has under the run's artifacts."
        ) from None
    name = PurePosixPath(path).name
    try:
        with local.open("rb") as stream:
            _check_holdout(
                stream, name, download.size, record.target_column, record.sensitive_column
            )
    except uploads.UploadRefused as refused:
        raise mlflow.MlflowError(
            f"The holdout artifact {where} was refused: {refused.message}"
        ) from None
    return {"holdout_name": name[:255], "holdout_sha256": download.sha256}


def store_import(job: Job, fetched: Fetched, stored_keys: list[str]) -> dict[str, Any]:
    """Inside the job's completion transaction: create the version through the registry's upload
    path (its checks, storage and validation), and point the import at it. ``stored_keys``
    collects the blobs the upload stored, so that the task removes them if this transaction
    rolls back after all."""
    record = (
        MlflowImport.objects.select_for_update()
        .select_related("requested_by")
        .get(pk=job.payload["import"])
    )
    if record.is_finished:
        raise jobs.Final("This import has already ended.")
    # A name of ours; the uploader's name travels as metadata (its extension says the format).
    holdout_local = fetched.holdout or fetched.folder / "holdout.data"
    if fetched.holdout is None:
        with holdout_local.open("wb") as copy:
            if storage.copy_to(record.holdout_key, copy) != record.holdout_sha256:
                raise jobs.Final("The holdout stored with the request changed since; import again.")
    with fetched.artifact.open("rb") as artifact, holdout_local.open("rb") as holdout:
        try:
            version = registry.upload_version(
                record.model_id,
                actor=record.requested_by,
                artifact=UploadedFile(
                    artifact, name=fetched.artifact.name, size=fetched.provenance["original_size"]
                ),
                holdout=UploadedFile(
                    holdout, name=record.holdout_name, size=holdout_local.stat().st_size
                ),
                target_column=record.target_column,
                sensitive_column=record.sensitive_column,
                notes=record.notes
                or f"Imported from MLflow: {record.mlflow_name} version "
                f"{fetched.provenance['mlflow_version']}.",
            )
        except uploads.UploadRefused as refused:
            raise jobs.Final(refused.message) from None
    stored_keys.extend(StoredFile.objects.filter(version=version).values_list("key", flat=True))
    for name, value in fetched.provenance.items():
        setattr(record, name, value)
    record.version = version
    record.state = MlflowImport.State.IMPORTED
    record.finished_at = timezone.now()
    record.failure = ""
    staged = record.holdout_key
    record.holdout_key = ""
    record.save()
    audit.record(
        record.requested_by,
        AuditAction.MLFLOW_IMPORTED,
        record,
        after={
            "version": version.number,
            "connection": record.connection.name,
            "mlflow_model": record.mlflow_name,
            "mlflow_version": record.mlflow_version,
            "run_id": record.run_id,
            "original_format": record.original_format,
            "original_sha256": record.original_sha256,
            "holdout": {"run_artifact": record.holdout_artifact, "sha256": record.holdout_sha256}
            if record.holdout_artifact
            else {"name": record.holdout_name, "sha256": record.holdout_sha256},
        },
    )
    if staged:
        transaction.on_commit(lambda: storage.delete([staged]))
    return {"version": version.number, "mlflow version": record.mlflow_version}


def import_failed(job: Job) -> None:
    """The import's job failed for good (in the transaction that fails it): so did the import,
    with the job's message; the staged holdout goes once that commits."""
    record = (
        MlflowImport.objects.select_for_update()
        .filter(pk=job.payload.get("import"), version__isnull=True)
        .exclude(state__in=[MlflowImport.State.IMPORTED, MlflowImport.State.FAILED])
        .first()
    )
    if record is None:
        return
    staged = record.holdout_key
    record.state = MlflowImport.State.FAILED
    record.failure = job.message
    record.finished_at = timezone.now()
    record.holdout_key = ""
    record.save(update_fields=["state", "failure", "finished_at", "holdout_key"])
    audit.record(
        None,
        AuditAction.MLFLOW_IMPORT_FAILED,
        record,
        after={
            "reason": job.message,
            "reference": record.reference,
            "requested_by": record.requested_by.username,
        },
    )
    if staged:
        transaction.on_commit(lambda: storage.delete([staged]))


def _import_scope(user: User) -> Any:
    return MlflowImport.objects.restrict(user, "view")


IMPORT = JobKind(
    name="mlflow_import",
    task="integrations.import_from_mlflow",
    scope=_import_scope,
    when_failed=import_failed,
    # Downloading is bounded by the artifact limit and each read by the client's timeout.
    time_limit=1800,
    max_attempts=3,
)


def provenance_of(version: ModelVersion) -> MlflowImport | None:
    return (
        MlflowImport.objects.filter(version=version, state=MlflowImport.State.IMPORTED)
        .select_related("connection", "requested_by")
        .first()
    )
