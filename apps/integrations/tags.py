"""Back to MLflow: the outcome of an imported version, as tags on its MLflow model version.

For a connection with ``send_tags`` on, a version imported from it gets ``portal.status`` (its
status in the portal: approved, rejected, retired, ...) and ``portal.live_in`` (the environments
it serves in, comma-separated, or "none") whenever it is approved, deployed, rolled back or
undeployed. A job (``TAGS``) sends them after the transition commits; it reads both values when
it runs, so tags always say the latest truth whatever order jobs run in. A failure is retried
and then recorded on the job; it never touches the portal's own transition.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from django.contrib.auth.models import User

from apps.audit import services as audit
from apps.core.audit_actions import AuditAction
from apps.core.registry import JobKind, live_versions
from apps.integrations import mlflow_client as mlflow
from apps.integrations.models import MlflowImport
from apps.jobs import services as jobs
from apps.jobs.models import Job
from apps.registry.models import ModelVersion

STATUS_TAG = "portal.status"
LIVE_TAG = "portal.live_in"


def _scope(user: User) -> Any:
    return MlflowImport.objects.restrict(user, "view")


TAGS = JobKind(
    name="mlflow_tags",
    task="integrations.send_tags",
    scope=_scope,
    time_limit=300,
    max_attempts=5,
)


def _imported(version_ids: list[int]) -> list[MlflowImport]:
    return list(
        MlflowImport.objects.filter(
            version_id__in=version_ids,
            state=MlflowImport.State.IMPORTED,
            connection__send_tags=True,
        ).select_related("connection")
    )


def queue(versions: list[ModelVersion], actor: User | None = None) -> list[Job]:
    """Queue a tags job for each of ``versions`` that came from a connection that sends tags
    (in the caller's transaction; the job is sent once it commits). A version with a job still
    queued gets no second one: that job reads the state when it runs."""
    queued = []
    for record in _imported([v.pk for v in versions if v is not None]):
        waiting = Job.objects.filter(
            kind=TAGS.name, status=Job.Status.QUEUED, payload__import=record.pk
        ).exists()
        if not waiting:
            queued.append(
                jobs.create_job(
                    kind=TAGS, target=record, actor=actor, payload={"import": record.pk}
                )
            )
    return queued


def after_approval(version: ModelVersion, actor: User) -> dict[str, Any]:
    """``registry.version_approved``: tell MLflow once the approval commits."""
    return {"mlflow tags": "queued"} if queue([version], actor) else {}


def after_live_change(versions: list[ModelVersion], actor: User | None) -> None:
    """For deployments (deploy, rollback, undeploy): tell MLflow where these versions serve."""
    queue(versions, actor)


@dataclass
class Outcome:
    record_id: int
    tags: dict[str, str]


def outcome_of(version: ModelVersion) -> dict[str, str]:
    """The tags as they are now: the version's status and where it is live."""
    places = [
        live.environment
        for live in live_versions([version.model_id]).get(version.model_id, [])
        if live.version == version.number
    ]
    return {STATUS_TAG: version.status, LIVE_TAG: ", ".join(sorted(set(places))) or "none"}


def send(job: Job) -> Outcome:
    """Outside a transaction: set the tags through MLflow's REST API."""
    record = (
        MlflowImport.objects.select_related("connection", "version")
        .filter(pk=job.payload.get("import"), version__isnull=False)
        .first()
    )
    if record is None or record.version is None:
        raise jobs.Final("The imported version is gone.")
    tags = outcome_of(record.version)
    client = mlflow.MlflowClient.for_connection(record.connection)
    try:
        for key, value in tags.items():
            client.post_json(
                "model-versions/set-tag",
                {
                    "name": record.mlflow_name,
                    "version": record.mlflow_version,
                    "key": key,
                    "value": value,
                },
            )
    except mlflow.Unreachable as exc:
        raise jobs.Transient(str(exc)) from None
    except mlflow.MlflowError as exc:
        raise jobs.Final(f"MLflow did not take the tags: {exc}") from None
    jobs.report_progress(job, 90, "Tags set in MLflow")
    return Outcome(record.pk, tags)


def sent(job: Job, outcome: Outcome) -> dict[str, Any]:
    """In the job's completion transaction: audit what MLflow was told."""
    record = MlflowImport.objects.select_related("connection").get(pk=outcome.record_id)
    audit.record(
        None,
        AuditAction.MLFLOW_TAGS_SENT,
        record,
        after={
            "connection": record.connection.name,
            "mlflow_model": record.mlflow_name,
            "mlflow_version": record.mlflow_version,
            **outcome.tags,
        },
    )
    job.message = f"MLflow version {record.mlflow_version}: " + ", ".join(
        f"{k} = {v}" for k, v in outcome.tags.items()
    )
    return dict(outcome.tags)


def run_send(job_uuid: str, *, worker: str) -> None:
    jobs.run(job_uuid, worker=worker, execute=send, commit=sent)
