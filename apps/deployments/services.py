"""Deploying versions, switching what is live, and serving keys.

What is live for a model in an environment is one Placement row. It changes only here, in the
transaction that marks the deployments live, superseded, rolled back or undeployed, so the history
of deployments always agrees with what served.
"""

from __future__ import annotations

import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from django.contrib.auth.models import User
from django.core.exceptions import PermissionDenied, ValidationError
from django.db import transaction
from django.utils import timezone

from apps.audit import services as audit
from apps.core.audit_actions import AuditAction
from apps.core.errors import required_reason
from apps.core.formats import listing
from apps.core.permissions import require, visible_to
from apps.core.registry import JobKind, waiting_for
from apps.core.registry import registry as registry_of_apps
from apps.deployments.models import Deployment, Environment, Placement, ServingKey
from apps.jobs import services as jobs
from apps.jobs.models import Job
from apps.registry import services as registry
from apps.registry import storage
from apps.registry.models import ModelVersion, RegisteredModel, StoredFile
from apps.reviews import services as reviews
from apps.reviews.models import Review
from apps.validation import evidence

DEPLOY = "deployments.add_deployment"
SMOKE_ROWS = 200


def check_can_deploy(actor: User, model: RegisteredModel) -> None:
    require(actor, DEPLOY, message="Only model operations deploy, roll back and manage keys.")
    require(actor, registry.VIEW, model)


def check_independent_of(actor: User, version: ModelVersion) -> None:
    """Nobody deploys a version they uploaded or submitted; and where its review's policy wants
    independent sign-offs, nobody of the model's owning team deploys it either."""
    review = Review.objects.filter(version=version).select_related("policy", "team").first()
    requested_by = review.requested_by_id if review else None
    if actor.pk in (version.uploaded_by_id, requested_by):
        raise PermissionDenied("You uploaded or submitted this version; someone else deploys it.")
    if (
        review is not None
        and review.policy.independent
        and reviews.in_team(actor, review.team_id, version.model.team_id)
    ):
        raise PermissionDenied(
            f"You are in {version.model.team}, the team that owns {version.model}; under the "
            f"{review.policy} its versions are deployed from outside the team."
        )


def approvals_of(version: ModelVersion) -> list[dict[str, Any]]:
    """The sign-offs that allowed ``version`` into production, as recorded with a deployment."""
    review = Review.objects.filter(version=version).first()
    if review is None:
        return []
    return [
        {
            "role": d.role,
            "reviewer": d.reviewer.username,
            "verdict": d.verdict,
            "reason": d.reason,
            "at": d.created_at.isoformat(),
        }
        for d in review.decisions.select_related("reviewer")
    ]


def environment_named(slug: str) -> Environment:
    target = Environment.objects.filter(slug=slug).first()
    if target is None:
        raise ValidationError({"environment": f"There is no environment “{slug}”."})
    return target


def live_deployment(model: RegisteredModel, environment: Environment) -> Deployment | None:
    placement = (
        Placement.objects.filter(model=model, environment=environment)
        .select_related("deployment__version")
        .first()
    )
    return placement.deployment if placement else None


# --- Deploying --------------------------------------------------------------------------------


def _check_deployable(version: ModelVersion, target: Environment) -> None:
    """What any version must meet to serve in ``target``, as the live version or as a
    challenger: approved, the environment's promotion rule, a validated copy to load."""
    if version.status != ModelVersion.Status.APPROVED:
        # Say who is next, so the refusal is also the answer to "what now?".
        waiting = waiting_for(version)
        raise ValidationError(
            f"Only approved versions deploy; version {version.number} is "
            f"{version.get_status_display().lower()}"
            + (f", waiting for {listing(waiting)}." if waiting else ".")
        )
    prerequisite = target.requires_live_in
    if (
        prerequisite is not None
        and not Deployment.objects.filter(
            version=version,
            environment=prerequisite,
            mode=Deployment.Mode.CHAMPION,
            live_from__isnull=False,
        ).exists()
    ):
        raise ValidationError(
            f"Version {version.number} has not been live in {prerequisite}; "
            f"deploy it there before {target}."
        )
    if not version.files.filter(role=StoredFile.Role.CANONICAL).exists():
        raise ValidationError(
            "The version has no validated .skops copy to deploy; re-run its validation."
        )


CANARY_SHARES = range(1, 51)


def _canary_share(traffic: Any) -> int:
    if isinstance(traffic, bool) or not isinstance(traffic, int) or traffic not in CANARY_SHARES:
        raise ValidationError(
            {"traffic": f"A canary answers 1 to 50 percent of the requests, not {traffic}."}
        )
    return traffic


def _challenger_mode(
    mode: str, traffic: int | None, model: RegisteredModel, target: Environment
) -> int | None:
    """Check a challenger may start here; return its share of the requests (canary) or None."""
    if mode not in Deployment.Mode.values:
        raise ValidationError({"mode": f"“{mode}” is not a mode; use champion, shadow or canary."})
    if mode != Deployment.Mode.CANARY and traffic is not None:
        raise ValidationError({"traffic": "Only a canary has a share of the requests."})
    share = _canary_share(traffic) if mode == Deployment.Mode.CANARY else None
    if mode == Deployment.Mode.CHAMPION:
        return None
    placement = Placement.objects.filter(model=model, environment=target).first()
    if placement is None:
        raise ValidationError(
            f"Nothing of {model} is live in {target}, so there is nothing to challenge; "
            "deploy the version as the live version instead."
        )
    if placement.challenger_id is not None:
        raise ValidationError(
            f"{target} already has a challenger of {model}; stop or promote it first "
            "(one challenger per environment)."
        )
    return share


@transaction.atomic
def request_deployment(
    version_id: int,
    environment: str,
    *,
    actor: User,
    mode: str = Deployment.Mode.CHAMPION,
    traffic: int | None = None,
) -> Deployment:
    """Queue the deployment of an approved version, as the live version or as a challenger
    beside it (``mode`` shadow or canary, ``traffic`` a canary's percent); the job switches it
    live if it loads."""
    version = ModelVersion.objects.select_related("model").get(pk=version_id)
    # One deployment decision per model at a time: the checks below hold until commit.
    model = RegisteredModel.objects.select_for_update().get(pk=version.model_id)
    version.refresh_from_db()
    check_can_deploy(actor, model)
    require(actor, registry.VIEW_VERSION, version)
    check_independent_of(actor, version)
    target = environment_named(environment)
    traffic = _challenger_mode(mode, traffic, model, target)
    _check_deployable(version, target)
    if Deployment.objects.filter(
        model=model,
        environment=target,
        status__in=[Deployment.Status.QUEUED, Deployment.Status.RUNNING],
    ).exists():
        raise ValidationError(f"A deployment of {model} to {target} is already under way.")
    current = live_deployment(model, target)
    if current is not None and current.version_id == version.pk:
        raise ValidationError(f"Version {version.number} is already live in {target}.")
    deployment = Deployment.objects.create(
        model=model,
        version=version,
        environment=target,
        mode=mode,
        traffic=traffic,
        requested_by=actor,
        approvals=approvals_of(version),
    )
    deployment.job = jobs.create_job(kind=DEPLOYMENT, target=deployment, actor=actor)
    deployment.save(update_fields=["job"])
    audit.record(
        actor,
        AuditAction.DEPLOYMENT_REQUESTED,
        deployment,
        after={
            "model": model.slug,
            "version": version.number,
            "environment": target.slug,
            "live_now": current.version.number if current else None,
            "mode": mode,
            "traffic": traffic,
        },
    )
    return deployment


@dataclass
class Checked:
    """What the deployment job found before switching: None means the version may go live."""

    deployment_id: int
    problem: str | None = None
    # Something to say about a version that may go live (its ONNX copy is refused, say).
    note: str = ""


def _smoke_test(version: ModelVersion, estimator: Any) -> Any:
    """Predict a few holdout rows and check the answers are usable; the rows tried."""
    import numpy as np

    from apps.validation.engine.report import read_frame

    signature = evidence.signature_of(version)
    if signature is None:
        raise ValueError("the version has no passing validation report")
    holdout = version.files.get(role=StoredFile.Role.HOLDOUT)
    with (
        storage.open_blob(holdout.key) as source,
        tempfile.NamedTemporaryFile(suffix=f".{holdout.file_format}") as copy,
    ):
        copy.write(source.read())
        copy.flush()
        frame = read_frame(Path(copy.name), holdout.file_format).head(SMOKE_ROWS)
    features = [f["name"] for f in signature["features"]]
    if signature["task"] == "regression":
        answers = np.asarray(estimator.predict(frame[features]), dtype=float)
    else:
        answers = np.asarray(estimator.predict_proba(frame[features]), dtype=float)
    if len(answers) != len(frame) or not np.all(np.isfinite(answers)):
        raise ValueError(f"the smoke test on {len(frame)} holdout rows gave unusable answers")
    return frame


def _smoke_test_onnx(version: ModelVersion, frame: Any) -> str:
    """Load the version's ONNX copy, if validation stored one, as a serving process would
    (digests, the checks before onnxruntime sees it, the session) and score the smoke rows
    with it: a copy serving would refuse is found here, not first at a request. Returns what to
    say about it ("" when there is no copy or it answers); never stops the deployment, since
    the version then serves on scikit-learn."""
    import numpy as np

    from apps.deployments.serving import OnnxScorer

    try:
        copy = evidence.onnx_of(version)
        if copy is None:
            return ""
        signature = evidence.signature_of(version) or {}
        scorer = OnnxScorer(copy.content, signature, copy.classes)
        features = [f["name"] for f in signature["features"]]
        answered = scorer({name: frame[name].tolist() for name in features})
        values = np.asarray(answered.get("probabilities", answered["predictions"]), dtype=float)
        if len(answered["predictions"]) != len(frame) or not np.all(np.isfinite(values)):
            raise ValueError(f"it gave unusable answers on {len(frame)} holdout rows")
    except Exception as exc:  # any reason serving would not run the copy
        return (
            f"Its ONNX copy is refused ({exc}); it serves on scikit-learn, which passed the "
            "smoke test."
        )[:450]
    return ""


def run_deployment(job: Job) -> Checked:
    """The deployment job's long part: load and smoke-test, outside any transaction."""
    deployment = Deployment.objects.select_related("version").get(pk=job.target_id)
    Deployment.objects.filter(pk=deployment.pk, status=Deployment.Status.QUEUED).update(
        status=Deployment.Status.RUNNING
    )
    try:
        jobs.report_progress(job, 20, "Loading the canonical .skops copy")
        estimator = evidence.load_canonical(deployment.version)
        jobs.report_progress(job, 60, f"Smoke-testing on {SMOKE_ROWS} holdout rows")
        frame = _smoke_test(deployment.version, estimator)
    except jobs.JobLost:
        raise
    except Exception as exc:  # any reason the version cannot serve: it must not go live
        return Checked(deployment.pk, f"{type(exc).__name__}: {exc}"[:450])
    jobs.report_progress(job, 75, "Trying the ONNX copy, if the version has one")
    note = _smoke_test_onnx(deployment.version, frame)
    jobs.report_progress(job, 90, "Switching the live version")
    return Checked(deployment.pk, note=note)


def _fail(deployment: Deployment, problem: str) -> None:
    deployment.status = Deployment.Status.FAILED
    deployment.message = f"Not deployed; what was live stays live. {problem}"[:500]
    deployment.save(update_fields=["status", "message"])
    audit.record(None, AuditAction.DEPLOYMENT_FAILED, deployment, after={"reason": problem})


def _job_failed(job: Job) -> None:
    """The job gave up (its workers kept dying, say): the deployment did not happen."""
    deployment = (
        Deployment.objects.select_for_update()
        .filter(job=job, status__in=[Deployment.Status.QUEUED, Deployment.Status.RUNNING])
        .first()
    )
    if deployment is not None:
        _fail(deployment, f"The deployment job failed: {job.message}")


def commit_deployment(job: Job, checked: Checked) -> dict[str, Any]:
    """Inside the job's completion transaction: switch live, or record why not."""
    deployment = (
        Deployment.objects.select_for_update()
        .select_related("version")
        .get(pk=checked.deployment_id)
    )
    problem = checked.problem
    if problem is None and deployment.version.status != ModelVersion.Status.APPROVED:
        problem = f"version {deployment.version.number} is no longer approved"
    if problem is not None:
        _fail(deployment, problem)
        job.message = deployment.message[:500]
        return {"deployment": deployment.pk, "status": deployment.status}
    if deployment.is_challenger:
        problem = _start_challenger(deployment)
        if problem is not None:
            _fail(deployment, problem)
            job.message = deployment.message[:500]
        else:
            job.message = (
                f"Version {deployment.version.number} runs beside the live version in "
                f"{deployment.environment} as a {deployment.mode_label()}"
            )
            _note(deployment, job, checked.note)
        return {"deployment": deployment.pk, "status": deployment.status}
    _switch(
        deployment,
        actor=deployment.requested_by,
        action=AuditAction.DEPLOYMENT_LIVE,
        extra={"note": checked.note} if checked.note else None,
    )
    job.message = f"Version {deployment.version.number} is live in {deployment.environment}"
    _note(deployment, job, checked.note)
    return {"deployment": deployment.pk, "status": deployment.status}


def _note(deployment: Deployment, job: Job, note: str) -> None:
    """What the smoke test found about a version that went live, in the deployment's result."""
    if not note:
        return
    deployment.message = note[:500]
    deployment.save(update_fields=["message"])
    job.message = f"{job.message}. {note}"[:500]


def _switch(
    incoming: Deployment,
    *,
    actor: User,
    action: AuditAction,
    outgoing_status: str = Deployment.Status.SUPERSEDED,
    extra: dict[str, Any] | None = None,
) -> None:
    """Make ``incoming`` the live deployment of its model and environment (caller's transaction)."""
    now = timezone.now()
    placement = (
        Placement.objects.select_for_update()
        .filter(model=incoming.model, environment=incoming.environment)
        .first()
    )
    outgoing = placement.deployment if placement else None
    if placement is not None and outgoing is not None:
        if placement.challenger is not None:
            _end_challenger(
                placement,
                actor,
                f"The live version it challenged was replaced by version "
                f"{incoming.version.number}.",
            )
        outgoing.status, outgoing.live_until, outgoing.ended_by = outgoing_status, now, actor
        outgoing.save(update_fields=["status", "live_until", "ended_by"])
        placement.deployment, placement.switched_at = incoming, now
        placement.save(update_fields=["deployment", "switched_at"])
    else:
        Placement.objects.create(
            model=incoming.model,
            environment=incoming.environment,
            deployment=incoming,
            switched_at=now,
        )
    incoming.status, incoming.live_from = Deployment.Status.LIVE, now
    if incoming.kind != Deployment.Kind.ROLLBACK:
        incoming.replaced = outgoing
    incoming.save(update_fields=["status", "live_from", "replaced"])
    if incoming.environment.is_production:
        RegisteredModel.objects.filter(pk=incoming.model_id).update(champion=incoming.version)
    audit.record(
        actor,
        action,
        incoming,
        before={"live": outgoing.version.number if outgoing else None},
        after={
            "live": incoming.version.number,
            "environment": incoming.environment.slug,
            "model": incoming.model.slug,
            **(extra or {}),
        },
    )
    for follow in registry_of_apps.live_changed:
        follow([incoming.version] + ([outgoing.version] if outgoing else []), actor)


def _locked_placement(
    model_id: int, environment: str, actor: User
) -> tuple[RegisteredModel, Environment, Placement]:
    """What is live for the model in the environment, locked until commit; or why nothing is."""
    model = RegisteredModel.objects.get(pk=model_id)
    check_can_deploy(actor, model)
    target = environment_named(environment)
    placement = (
        Placement.objects.select_for_update()
        .filter(model=model, environment=target)
        .select_related("deployment__version")
        .first()
    )
    if placement is None:
        raise ValidationError(f"Nothing of {model} is live in {target}.")
    return model, target, placement


@transaction.atomic
def rollback(model_id: int, environment: str, *, actor: User) -> Deployment:
    """Put back the version that was live before the current one, at once (no job)."""
    model, target, placement = _locked_placement(model_id, environment, actor)
    current = placement.deployment
    previous = current.replaced
    if previous is None:
        raise ValidationError(
            f"No earlier version of {model} was live in {target}; undeploy instead."
        )
    restored = Deployment.objects.create(
        model=model,
        version=previous.version,
        environment=target,
        kind=Deployment.Kind.ROLLBACK,
        requested_by=actor,
        approvals=approvals_of(previous.version),
        # A further rollback steps back again, to what was live before the restored version.
        replaced=previous.replaced,
    )
    _switch(
        restored,
        actor=actor,
        action=AuditAction.DEPLOYMENT_ROLLED_BACK,
        outgoing_status=Deployment.Status.ROLLED_BACK,
    )
    return restored


@transaction.atomic
def undeploy(model_id: int, environment: str, *, actor: User) -> Deployment:
    """Stop serving the model in the environment."""
    model, target, placement = _locked_placement(model_id, environment, actor)
    current = placement.deployment
    if placement.challenger is not None:
        _end_challenger(placement, actor, "The live version it challenged was undeployed.")
    placement.delete()
    current.status, current.live_until, current.ended_by = (
        Deployment.Status.UNDEPLOYED,
        timezone.now(),
        actor,
    )
    current.save(update_fields=["status", "live_until", "ended_by"])
    if target.is_production:
        RegisteredModel.objects.filter(pk=model.pk, champion=current.version).update(champion=None)
    audit.record(
        actor,
        AuditAction.DEPLOYMENT_UNDEPLOYED,
        current,
        before={"live": current.version.number},
        after={"live": None, "environment": target.slug},
    )
    for follow in registry_of_apps.live_changed:
        follow([current.version], actor)
    return current


# --- Challengers ------------------------------------------------------------------------------


def _start_challenger(deployment: Deployment) -> str | None:
    """Put a loaded challenger beside the live version (the job's transaction), or say why
    it cannot run: what it was to challenge changed while it loaded."""
    placement = (
        Placement.objects.select_for_update()
        .filter(model=deployment.model, environment=deployment.environment)
        .select_related("deployment__version")
        .first()
    )
    if placement is None:
        return "Nothing is live there any more, so there is nothing to challenge."
    if placement.challenger_id is not None:
        return "Another challenger started there first (one challenger per environment)."
    if placement.deployment.version_id == deployment.version_id:
        return f"Version {deployment.version.number} became the live version meanwhile."
    deployment.status, deployment.live_from = Deployment.Status.LIVE, timezone.now()
    deployment.challenged = placement.deployment
    deployment.save(update_fields=["status", "live_from", "challenged"])
    placement.challenger = deployment
    placement.save(update_fields=["challenger"])
    audit.record(
        deployment.requested_by,
        AuditAction.CHALLENGER_STARTED,
        deployment,
        after={
            **_challenger_facts(deployment),
            "champion": placement.deployment.version.number,
        },
    )
    return None


def _challenger_facts(challenger: Deployment) -> dict[str, Any]:
    return {
        "model": challenger.model.slug,
        "environment": challenger.environment.slug,
        "version": challenger.version.number,
        "mode": challenger.mode,
        "traffic": challenger.traffic,
    }


def _reason(reason: str) -> str:
    return required_reason(reason)[:500]  # kept in the deployment's message too


def _locked_challenger(
    model_id: int, environment: str, actor: User
) -> tuple[Placement, Deployment]:
    model, target, placement = _locked_placement(model_id, environment, actor)
    challenger = placement.challenger
    if challenger is None:
        raise ValidationError(f"No challenger of {model} runs in {target}.")
    return placement, challenger


@transaction.atomic
def set_traffic(
    model_id: int, environment: str, traffic: int, *, actor: User, reason: str
) -> Deployment:
    """Change a canary's share of the requests; serving follows within a second."""
    _, challenger = _locked_challenger(model_id, environment, actor)
    reason = _reason(reason)
    if challenger.mode != Deployment.Mode.CANARY:
        raise ValidationError(
            "A shadow challenger answers no requests; stop it and start a canary instead."
        )
    traffic = _canary_share(traffic)
    before = challenger.traffic
    if traffic == before:
        raise ValidationError(f"The canary answers {traffic} % of the requests already.")
    challenger.traffic = traffic
    challenger.save(update_fields=["traffic"])
    audit.record(
        actor,
        AuditAction.CHALLENGER_TRAFFIC_CHANGED,
        challenger,
        before={"traffic": before},
        after={**_challenger_facts(challenger), "reason": reason},
    )
    return challenger


def _end_challenger(
    placement: Placement,
    actor: User | None,
    reason: str,
    status: str = Deployment.Status.STOPPED,
) -> Deployment:
    """Take the challenger off the placement (caller's transaction, placement locked)."""
    challenger = placement.challenger
    assert challenger is not None
    challenger.status, challenger.live_until, challenger.ended_by = (
        status,
        timezone.now(),
        actor,
    )
    challenger.message = reason[:500]
    challenger.save(update_fields=["status", "live_until", "ended_by", "message"])
    placement.challenger = None
    placement.save(update_fields=["challenger"])
    if status == Deployment.Status.STOPPED:
        audit.record(
            actor,
            AuditAction.CHALLENGER_STOPPED,
            challenger,
            after={**_challenger_facts(challenger), "reason": reason},
        )
    return challenger


@transaction.atomic
def stop_challenger(model_id: int, environment: str, *, actor: User, reason: str) -> Deployment:
    """Stop the challenger; the live version answers everything within a second."""
    placement, _ = _locked_challenger(model_id, environment, actor)
    return _end_challenger(placement, actor, _reason(reason))


def stop_breaching_challenger(deployment_id: int, alert: Any) -> Deployment | None:
    """The guard rail: a challenger with an alert-level breach is stopped by the system, the
    alert its reason (the monitoring job's transaction). None if it is not a running
    challenger."""
    placement = (
        Placement.objects.select_for_update()
        .filter(challenger_id=deployment_id)
        .select_related("challenger__model", "challenger__environment", "challenger__version")
        .first()
    )
    if placement is None:
        return None
    return _end_challenger(placement, None, f"Stopped by monitoring: {alert.message}")


@transaction.atomic
def promote_challenger(model_id: int, environment: str, *, actor: User, reason: str) -> Deployment:
    """Make the challenger the live version, under the rules of any deployment (approved, the
    environment's promotion rule, segregation of duties): recorded as a promotion."""
    placement, challenger = _locked_challenger(model_id, environment, actor)
    reason = _reason(reason)
    version = ModelVersion.objects.select_related("model").get(pk=challenger.version_id)
    require(actor, registry.VIEW_VERSION, version)
    check_independent_of(actor, version)
    _check_deployable(version, challenger.environment)
    _end_challenger(placement, actor, reason, status=Deployment.Status.PROMOTED)
    promoted = Deployment.objects.create(
        model=challenger.model,
        version=version,
        environment=challenger.environment,
        kind=Deployment.Kind.PROMOTION,
        requested_by=actor,
        approvals=approvals_of(version),
        message=reason,
    )
    _switch(
        promoted,
        actor=actor,
        action=AuditAction.CHALLENGER_PROMOTED,
        extra={"reason": reason, "was": challenger.mode_label()},
    )
    return promoted


@transaction.atomic
def retire(version_id: int, *, actor: User) -> ModelVersion:
    """A version live nowhere is retired: it can no longer be deployed."""
    version = ModelVersion.objects.select_related("model").get(pk=version_id)
    RegisteredModel.objects.select_for_update().get(pk=version.model_id)  # as request_deployment
    version.refresh_from_db()
    check_can_deploy(actor, version.model)
    require(actor, registry.VIEW_VERSION, version)
    if Placement.objects.filter(deployment__version=version).exists():
        raise ValidationError(f"Version {version.number} is still live; undeploy it first.")
    if Placement.objects.filter(challenger__version=version).exists():
        raise ValidationError(f"Version {version.number} runs as a challenger; stop it first.")
    if Deployment.objects.filter(
        version=version, status__in=[Deployment.Status.QUEUED, Deployment.Status.RUNNING]
    ).exists():
        raise ValidationError(f"Version {version.number} is being deployed; wait for it to end.")
    if version.status == ModelVersion.Status.RETIRED:
        raise ValidationError(f"Version {version.number} is already retired.")
    before = version.status
    version.status = ModelVersion.Status.RETIRED
    version.save(update_fields=["status"])
    audit.record(
        actor,
        AuditAction.VERSION_RETIRED,
        version,
        before={"status": before},
        after={"status": version.status},
    )
    return version


def _deployments_seen(user: User) -> Any:
    """A deployment job is visible where its deployment is: with the model (decisions §8)."""
    return visible_to(user, Deployment.objects.all())


# The deployment job kind: its task (tasks.py) is declared with this name; registered when ready.
DEPLOYMENT = JobKind(
    name="deployment",
    task="deployments.deploy",
    queue="deployment",
    scope=_deployments_seen,
    when_failed=_job_failed,
    time_limit=600,
)


# --- Serving keys -----------------------------------------------------------------------------


@transaction.atomic
def create_serving_key(
    model_id: int, environment: str, *, actor: User, name: str
) -> tuple[ServingKey, str]:
    model = RegisteredModel.objects.get(pk=model_id)
    check_can_deploy(actor, model)
    target = environment_named(environment)
    name = name.strip()
    if not name:
        raise ValidationError({"name": "Name the key after the system that will use it."})
    raw = ServingKey.generate()
    key = ServingKey.objects.create(
        model=model,
        environment=target,
        name=name[:100],
        key_hash=ServingKey.hash(raw),
        hint=raw[:10],
        created_by=actor,
    )
    audit.record(
        actor,
        AuditAction.SERVING_KEY_CREATED,
        key,
        after={"model": model.slug, "environment": target.slug, "name": key.name},
    )
    return key, raw


@transaction.atomic
def revoke_serving_key(key_id: int, *, actor: User) -> ServingKey:
    key = ServingKey.objects.select_for_update().select_related("model").get(pk=key_id)
    check_can_deploy(actor, key.model)
    if key.revoked_at is None:
        key.revoked_at = timezone.now()
        key.save(update_fields=["revoked_at"])
        audit.record(
            actor,
            AuditAction.SERVING_KEY_REVOKED,
            key,
            before={"state": "active"},
            after={"state": "revoked"},
        )
    return key
