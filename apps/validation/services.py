"""Validation of model versions: running it in the sandbox, storing its report, policies, re-runs.

A validation job's ``execute`` step (``run_validation``) does the long work outside any
transaction: it checks each file's SHA-256, copies the files into a scratch folder, runs the
engine in the sandbox and judges the report against the policy. Its ``commit`` step
(``store_validation``) stores the report, the canonical artifact and the version's new status in
the job's completion transaction, so a redelivered job stores nothing twice.
"""

from __future__ import annotations

import shutil
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from django.conf import settings
from django.contrib.auth.models import User
from django.core.exceptions import PermissionDenied, ValidationError
from django.core.files import File
from django.db import transaction

from apps.accounts.roles import Role, has_role
from apps.audit import services as audit
from apps.core.audit_actions import AuditAction
from apps.core.permissions import can, require
from apps.core.registry import JobKind
from apps.jobs import services as jobs
from apps.jobs.models import Job
from apps.notifications import services as notifications
from apps.registry import services as registry
from apps.registry import storage
from apps.registry.models import ModelVersion, RegisteredModel, StoredFile
from apps.validation import checks, events, sandbox
from apps.validation.models import ValidationPolicy, ValidationReport

CHANGE_POLICY = "validation.change_validationpolicy"

# Statuses from which a version may be validated again: review and later stages are past it.
RERUNNABLE = {
    ModelVersion.Status.DRAFT,
    ModelVersion.Status.VALIDATING,
    ModelVersion.Status.VALIDATED,
    ModelVersion.Status.VALIDATION_FAILED,
}


def policy_for_tier(risk_tier: str) -> ValidationPolicy:
    return ValidationPolicy.objects.get(model__isnull=True, risk_tier=risk_tier, is_current=True)


def policy_for(model: RegisteredModel) -> ValidationPolicy:
    """The model's own current policy if it has one, else its risk tier's."""
    own = ValidationPolicy.objects.filter(model=model, is_current=True).first()
    return own if own is not None else policy_for_tier(model.risk_tier)


def jobs_of(version: ModelVersion) -> Any:
    return Job.objects.filter(
        kind=VALIDATION.name, target_type__model="modelversion", target_id=str(version.pk)
    )


def active_job(version: ModelVersion) -> Job | None:
    return jobs_of(version).active().first()


# --- The job ----------------------------------------------------------------------------------


@dataclass
class Produced:
    """What the sandbox produced for one validation, before it is stored."""

    version_id: int
    policy_id: int | None
    outcome: str
    reasons: list[str]
    results: list[dict[str, Any]] = field(default_factory=list)
    report: dict[str, Any] = field(default_factory=dict)
    canonical: Path | None = None
    canonical_sha256: str = ""
    # The ONNX copy for the serving fast path, when the sandbox converted and checked one.
    onnx: Path | None = None
    onnx_sha256: str = ""
    champion_id: int | None = None
    isolated: bool = False
    duration_ms: int = 0
    scratch: Path | None = None


def _copy_in(stored: StoredFile, destination: Path) -> None:
    """Copy a stored file into the scratch folder, refusing one whose bytes changed."""
    try:
        with open(destination, "wb") as target:
            digest = storage.copy_to(stored.key, target)
        if digest != stored.sha256:
            raise sandbox.SandboxFailure(
                f"The stored {stored.get_role_display().lower()} does not match the SHA-256 "
                "recorded at upload; it may have been altered. Upload the version again.",
                "integrity",
            )
    except BaseException:
        destination.unlink(missing_ok=True)
        raise


def _convert_pickle(spec: dict[str, Any], scratch: Path, limits: sandbox.Limits) -> None:
    """Open the pickle in a scratch folder of its own and take back only the two files it makes.

    Code in a pickle runs as it opens and may rewrite anything in its folder. So that folder holds
    copies of the artifact and the holdout only: the files the trusted stage reads afterwards (the
    holdout, the reference, the champion) never share a folder with uploaded code, and nothing
    but two regular files comes back from it.
    """
    own = sandbox.new_scratch(owner=sandbox.owner_of(scratch))
    try:
        for name in (spec["artifact"]["path"], spec["holdout"]["path"]):
            shutil.copyfile(scratch / name, own / name)
        convert = {**spec, "mode": "convert", "reference": None, "champion": None}
        sandbox.run(convert, own, limits=limits)
        sandbox.take_output(own, "canonical.skops", scratch / "in" / "converted.skops")
        sandbox.take_output(own, "expected.npy", scratch / "in" / "expected.npy")
    finally:
        shutil.rmtree(own, ignore_errors=True)


def _take_canonical(scratch: Path, report: dict[str, Any]) -> tuple[Path, str]:
    """The canonical copy the trusted stage wrote, taken out of its folder, and its digest.

    The stage reports the SHA-256 of what it wrote in its JSON result; a file in ``out/`` with
    any other digest is not that copy, and is not kept.
    """
    reported = str(report.get("canonical", {}).get("sha256", ""))
    taken = scratch / "canonical.skops"
    found = sandbox.take_output(scratch, "canonical.skops", taken)
    if found != reported:
        raise sandbox.SandboxFailure(
            "The canonical .skops copy in the sandbox's folder is not the one the validation "
            "stage wrote (its SHA-256 differs), so it is not kept.",
            "integrity",
        )
    return taken, found


def _take_onnx(scratch: Path, report: dict[str, Any]) -> tuple[Path | None, str]:
    """The ONNX copy the trusted stage wrote for the serving fast path, taken out of its folder,
    and its digest; (None, "") when there is none or it is not the one the stage reported, in
    which case the report's ``serving_path`` says the version keeps scikit-learn, and why. Never
    fails the validation."""
    path = report.get("serving_path")
    if not isinstance(path, dict) or path.get("path") != "onnx":
        return None, ""
    reported = str(path.get("sha256", ""))
    taken = scratch / "model.onnx"
    try:
        found = sandbox.take_output(scratch, "model.onnx", taken)
    except sandbox.SandboxFailure as failure:
        found, problem = "", failure.message
    else:
        problem = "" if found == reported else "its SHA-256 differs from the one reported"
    if problem:
        taken.unlink(missing_ok=True)
        report["serving_path"] = {
            **path,
            "path": "scikit-learn",
            "reason": f"the ONNX copy could not be taken out of the sandbox ({problem})",
        }
        return None, ""
    return taken, found


def run_validation(job: Job) -> Produced:
    """The long part of a validation job. Never raises for a problem with the version itself."""
    started = time.monotonic()
    version = ModelVersion.objects.select_related("model__champion").get(pk=job.target_id)
    files = {f.role: f for f in version.files.all()}
    policy = policy_for(version.model)
    isolation = sandbox.isolation()
    scratch = sandbox.new_scratch(owner=f"{job.uuid}-a{job.attempts}")
    produced = Produced(
        version.pk,
        policy.pk,
        ValidationReport.Outcome.ERROR,
        [],
        isolated=isolation.isolated,
        scratch=scratch,
    )
    limits = sandbox.Limits.from_settings()

    def progress(percent: int, step: str) -> None:
        jobs.report_progress(job, percent, step)

    try:
        progress(2, "Checking the stored files")
        artifact = files[StoredFile.Role.ARTIFACT]
        extension = {"joblib": "joblib", "pickle": "pkl"}.get(artifact.file_format, "skops")
        _copy_in(artifact, scratch / "in" / f"artifact.{extension}")
        holdout = files[StoredFile.Role.HOLDOUT]
        _copy_in(holdout, scratch / "in" / f"holdout.{holdout.file_format}")
        spec: dict[str, Any] = {
            "mode": "validate",
            "artifact": {"path": f"in/artifact.{extension}", "format": artifact.file_format},
            "holdout": {"path": f"in/holdout.{holdout.file_format}", "format": holdout.file_format},
            "reference": None,
            "target": version.target_column,
            "sensitive": version.sensitive_column or None,
            "champion": None,
            "expected_predictions": None,
            "check_rows": 1000,
            "trusted_types": list(settings.PORTAL_SKOPS_TRUSTED_TYPES),
            "archive": {
                "max_members": settings.PORTAL_SKOPS_MAX_MEMBERS,
                "max_total_bytes": settings.PORTAL_SKOPS_MAX_BYTES,
            },
        }
        if reference := files.get(StoredFile.Role.REFERENCE):
            _copy_in(reference, scratch / "in" / f"reference.{reference.file_format}")
            spec["reference"] = {
                "path": f"in/reference.{reference.file_format}",
                "format": reference.file_format,
            }
        champion = version.model.champion
        if champion is not None and champion.pk != version.pk:
            canonical = champion.files.filter(role=StoredFile.Role.CANONICAL).first()
            if canonical is not None:
                _copy_in(canonical, scratch / "in" / "champion.skops")
                spec["champion"] = {"path": "in/champion.skops", "version": champion.number}
                produced.champion_id = champion.pk

        if artifact.file_format != "skops":
            if not isolation.isolated:
                raise sandbox.SandboxFailure(
                    f"Pickle formats are refused on this worker because {isolation.reason}: "
                    "opening a pickle can run any code it contains, and only the sandbox can "
                    "contain it. Upload the model as .skops (skops.io.dump).",
                    "refused",
                )
            progress(5, "Converting the pickle to .skops inside the sandbox")
            _convert_pickle(spec, scratch, limits)
            spec["artifact"] = {"path": "in/converted.skops", "format": "skops"}
            spec["expected_predictions"] = "in/expected.npy"

        result = sandbox.run(spec, scratch, limits=limits, on_progress=progress)
        report = result["report"]
        results = checks.evaluate(policy.checks, report)
        failed = checks.failures(results)
        produced.report = report
        produced.results = results
        produced.reasons = failed
        produced.outcome = (
            ValidationReport.Outcome.FAILED if failed else ValidationReport.Outcome.PASSED
        )
        produced.canonical, produced.canonical_sha256 = _take_canonical(scratch, report)
        produced.onnx, produced.onnx_sha256 = _take_onnx(scratch, report)
    except sandbox.SandboxFailure as failure:
        produced.reasons = [failure.message]
        produced.report = {"error": failure.message, "error_kind": failure.kind}
    except BaseException:
        shutil.rmtree(scratch, ignore_errors=True)
        raise
    produced.duration_ms = int((time.monotonic() - started) * 1000)
    return produced


def store_validation(job: Job, produced: Produced) -> dict[str, Any]:
    """Store the report (inside the job's completion transaction) and move the version on."""
    try:
        version = ModelVersion.objects.select_for_update().get(pk=produced.version_id)
        # Past review the stored canonical copy is what was approved and is served: a re-run
        # (``fix_baseline``) adds evidence and never swaps it.
        keep_canonical = (
            version.status not in RERUNNABLE
            and version.files.filter(role=StoredFile.Role.CANONICAL).exists()
        )
        if (
            produced.canonical is not None
            and not keep_canonical
            and not _store_canonical(version, produced.canonical, produced.canonical_sha256)
        ):
            message = (
                "The canonical .skops copy to be stored is not the one the validation stage "
                "wrote (its SHA-256 differs), so it was not kept. Re-run validation."
            )
            produced.outcome = ValidationReport.Outcome.ERROR
            produced.reasons = [message]
            produced.report = {"error": message, "error_kind": "integrity"}
            produced.results = []
        onnx_key, onnx_sha256 = "", ""
        if produced.onnx is not None and produced.outcome != ValidationReport.Outcome.ERROR:
            onnx_key, onnx_sha256 = _store_onnx(produced)
        report = ValidationReport.objects.create(
            onnx_key=onnx_key,
            onnx_sha256=onnx_sha256,
            version=version,
            job=job,
            policy_id=produced.policy_id,
            outcome=produced.outcome,
            reasons=produced.reasons,
            checks=produced.results,
            data=produced.report,
            champion_id=produced.champion_id,
            isolated=produced.isolated,
            duration_ms=produced.duration_ms,
        )
        before = version.status
        if before in RERUNNABLE:
            version.status = (
                ModelVersion.Status.VALIDATED
                if produced.outcome == ValidationReport.Outcome.PASSED
                else ModelVersion.Status.VALIDATION_FAILED
            )
            version.save(update_fields=["status"])
        action = (
            AuditAction.VALIDATION_PASSED
            if produced.outcome == ValidationReport.Outcome.PASSED
            else AuditAction.VALIDATION_FAILED
        )
        audit.record(
            None,
            action,
            version,
            before={"status": before},
            after={
                "status": version.status,
                "outcome": produced.outcome,
                "reasons": produced.reasons,
                "report": report.pk,
                "policy": str(report.policy) if report.policy else None,
            },
        )
        passed = produced.outcome == ValidationReport.Outcome.PASSED
        _announce(version, produced.outcome, produced.reasons)
        job.message = (
            "Validation passed" if passed else "Validation failed: " + "; ".join(produced.reasons)
        )[:500]
        job.save(update_fields=["message"])
        return {"report": report.pk, "outcome": produced.outcome}
    finally:
        if produced.scratch is not None:
            transaction.on_commit(
                lambda: shutil.rmtree(produced.scratch or "", ignore_errors=True), robust=True
            )


def _announce(version: ModelVersion, outcome: str, reasons: list[str]) -> None:
    """Tell the uploader how validation ended (inside the caller's transaction)."""
    passed = outcome == ValidationReport.Outcome.PASSED
    notifications.emit(
        events.VALIDATION_FINISHED if passed else events.VALIDATION_FAILED,
        recipients=[version.uploaded_by],
        title=f"{version} {'passed' if passed else 'failed'} validation",
        body="\n".join(reasons) or "Every applicable check of the policy holds.",
        url=version.get_absolute_url() + "#validation",
        payload={
            "model": version.model.slug,
            "version": version.number,
            "outcome": outcome,
            "reasons": reasons,
        },
    )


def _job_failed(job: Job) -> None:
    """The job gave up (its workers kept dying, say): the version did not pass validation.

    Left ``validating`` it would wait for a report that never comes; failed, its uploader is told
    why and can re-run it.
    """
    version = (
        ModelVersion.objects.select_for_update()
        .select_related("model")
        .filter(pk=job.target_id, status=ModelVersion.Status.VALIDATING)
        .first()
    )
    if version is None:
        return
    reasons = [f"The validation job failed: {job.message} Re-run it once the cause is fixed."]
    version.status = ModelVersion.Status.VALIDATION_FAILED
    version.save(update_fields=["status"])
    audit.record(
        None,
        AuditAction.VALIDATION_FAILED,
        version,
        before={"status": ModelVersion.Status.VALIDATING},
        after={
            "status": version.status,
            "outcome": ValidationReport.Outcome.ERROR,
            "reasons": reasons,
        },
    )
    _announce(version, ValidationReport.Outcome.ERROR, reasons)


def _store_canonical(version: ModelVersion, path: Path, sha256: str) -> bool:
    """Keep the validated canonical .skops copy that deployment will load (one per version).

    ``sha256`` is the digest the trusted stage reported for the copy it wrote: what is stored
    (and recorded, and checked before every later load) must be exactly that. Returns False,
    storing nothing, if it is not.
    """
    previous = version.files.filter(role=StoredFile.Role.CANONICAL).first()
    with open(path, "rb") as handle:
        blob = storage.save(File(handle))
    # Read back from the storage, not only hashed on the way in: what deployment will load.
    if blob.sha256 != sha256 or storage.sha256_of(blob.key) != sha256:
        key = blob.key
        transaction.on_commit(lambda: storage.delete([key]), robust=True)
        return False
    if previous is not None:
        old_key = previous.key
        previous.delete()
        transaction.on_commit(lambda: storage.delete([old_key]), robust=True)
    StoredFile.objects.create(
        version=version,
        role=StoredFile.Role.CANONICAL,
        key=blob.key,
        original_name="canonical.skops",
        file_format="skops",
        size=blob.size,
        sha256=blob.sha256,
    )
    return True


def _store_onnx(produced: Produced) -> tuple[str, str]:
    """Store the ONNX copy under a generated key and return (key, SHA-256), read back from the
    storage as the canonical copy is; ("", "") and the report saying why if it is not the copy
    the trusted stage reported."""
    assert produced.onnx is not None
    with open(produced.onnx, "rb") as handle:
        blob = storage.save(File(handle))
    if blob.sha256 != produced.onnx_sha256 or storage.sha256_of(blob.key) != blob.sha256:
        key = blob.key
        transaction.on_commit(lambda: storage.delete([key]), robust=True)
        produced.report["serving_path"] = {
            **produced.report.get("serving_path", {}),
            "path": "scikit-learn",
            "reason": "the stored ONNX copy is not the one the validation stage wrote",
        }
        return "", ""
    return blob.key, blob.sha256


def start_validation(version: ModelVersion, *, actor: User | None) -> Job:
    """Queue the version's validation job once the caller commits; a version before review is
    marked as validating (one past it keeps its status: see ``fix_baseline``)."""
    if version.status in RERUNNABLE:
        version.status = ModelVersion.Status.VALIDATING
        version.save(update_fields=["status"])
    return jobs.create_job(
        kind=VALIDATION,
        target=version,
        actor=actor,
        time_limit=settings.PORTAL_VALIDATION_TIME_LIMIT,
    )


def validate_after_upload(version: ModelVersion, actor: User) -> dict[str, Any]:
    """Registered in ``registry.version_uploaded``: every upload is validated; the job joins the
    upload's audit record."""
    return {"validation_job": str(start_validation(version, actor=actor).uuid)}


# --- People's actions -------------------------------------------------------------------------


def check_can_rerun(actor: User, version: ModelVersion) -> None:
    model = version.model
    data_scientist = can(actor, "registry.add_modelversion") and can(actor, registry.CHANGE, model)
    operator = has_role(actor, Role.MODEL_OPS) and can(actor, registry.VIEW, model)
    if not (data_scientist or operator or can(actor, registry.ADMINISTER)):
        raise PermissionDenied(
            "Only the model's data scientists and model operations may re-run validation."
        )


@transaction.atomic
def rerun_validation(version_id: int, *, actor: User) -> Job:
    version = ModelVersion.objects.select_for_update().select_related("model").get(pk=version_id)
    check_can_rerun(actor, version)
    if version.status not in RERUNNABLE:
        raise ValidationError(
            f"Version {version.number} is {version.get_status_display().lower()}; validation can "
            "only be re-run before review."
        )
    return _queue_rerun(version, actor)


def _queue_rerun(version: ModelVersion, actor: User | None, **why: str) -> Job:
    """Queue the version's validation again, audited (the caller holds its row lock)."""
    if active_job(version) is not None:
        raise ValidationError("A validation of this version is already queued or running.")
    before = version.status
    job = start_validation(version, actor=actor)
    audit.record(
        actor,
        AuditAction.VALIDATION_RERUN_REQUESTED,
        version,
        before={"status": before},
        after={"status": version.status, "job": str(job.uuid), **why},
    )
    return job


def lacking_baseline() -> list[int]:
    """Versions whose latest passing validation fixed no monitoring baseline (validated before
    baselines existed) and have no validation queued or running: what ``fix_baseline`` is for."""
    from apps.validation import evidence

    passed = ValidationReport.objects.filter(outcome=ValidationReport.Outcome.PASSED)
    ids = sorted(set(passed.values_list("version_id", flat=True)))
    fixed = evidence.baselines_of(ids)
    busy = {
        int(key)
        for key in Job.objects.filter(kind=VALIDATION.name)
        .active()
        .values_list("target_id", flat=True)
    }
    return [pk for pk in ids if pk not in fixed and pk not in busy]


@transaction.atomic
def fix_baseline(version_id: int) -> Job:
    """Re-run a version's validation so that its report fixes the baseline monitoring compares
    live traffic with. Allowed at any status: a version past review keeps its status and its
    approved canonical copy; the new report is added to its evidence, audited like any re-run.
    An operator's action (``manage.py fix_baselines``), so no person is named."""
    version = ModelVersion.objects.select_for_update().get(pk=version_id)
    return _queue_rerun(version, None, why="monitoring baseline")


@transaction.atomic
def update_policy(
    *,
    actor: User,
    thresholds: dict[str, float | None],
    note: str,
    risk_tier: str = "",
    model: RegisteredModel | None = None,
) -> ValidationPolicy:
    """Make a new version of a tier's (or one model's) policy current; admins only."""
    require(actor, CHANGE_POLICY, message="Only administrators change validation policies.")
    if bool(risk_tier) == (model is not None):
        raise ValidationError("A policy is for a risk tier or for one model.")
    unknown = set(thresholds) - set(checks.CHECKS)
    if unknown:
        raise ValidationError(f"Unknown checks: {', '.join(sorted(unknown))}.")
    new_checks = {k: float(v) for k, v in thresholds.items() if v is not None}
    scope = ValidationPolicy.objects.select_for_update().filter(
        model=model, risk_tier="" if model else risk_tier
    )
    current = scope.filter(is_current=True).first()
    number = (max(scope.values_list("number", flat=True), default=0)) + 1
    if current is not None:
        current.is_current = False
        current.save(update_fields=["is_current"])
    policy = ValidationPolicy.objects.create(
        risk_tier="" if model else risk_tier,
        model=model,
        number=number,
        checks=new_checks,
        note=note.strip()[:300],
        created_by=actor,
    )
    audit.record(
        actor,
        AuditAction.VALIDATION_POLICY_CHANGED,
        policy,
        before={"number": current.number, "checks": current.checks} if current else None,
        after={"number": number, "checks": new_checks, "note": policy.note},
    )
    return policy


def latest_report(version: ModelVersion) -> ValidationReport | None:
    return (
        ValidationReport.objects.filter(version=version)
        .select_related("policy", "champion", "job")
        .order_by("-created_at", "-id")
        .first()
    )


def report_document(report: ValidationReport) -> dict[str, object]:
    """The report as downloaded and served by the API: verdict, checks and every measurement."""
    version = report.version
    return {
        "model": version.model.slug,
        "version": version.number,
        "outcome": report.outcome,
        "reasons": report.reasons,
        "policy": {
            "scope": report.policy.scope,
            "number": report.policy.number,
            "checks": report.policy.checks,
        }
        if report.policy
        else None,
        "checks": report.checks,
        "champion_version": report.champion.number if report.champion else None,
        "isolated": report.isolated,
        "duration_ms": report.duration_ms,
        "serving_path": report.serving_path,
        "created_at": report.created_at.isoformat(),
        "job": str(report.job.uuid),
        "report": report.data,
    }


def remove_scratch_of_ended_attempts() -> int:
    """Registered in ``registry.worker_janitors``: remove this host's scratch folders (copies of
    holdouts and artifacts) of attempts that are no longer running, e.g. because their process
    was killed and the heartbeat gave the job a new attempt. Returns how many were removed."""
    owned = sandbox.owned_scratch()
    if not owned:
        return 0
    running = {
        (str(uuid), attempts)
        for uuid, attempts in Job.objects.filter(
            uuid__in={job for job, _ in owned}, status=Job.Status.RUNNING
        ).values_list("uuid", "attempts")
    }
    removed = 0
    for attempt, folders in owned.items():
        if attempt not in running:
            for folder in folders:
                shutil.rmtree(folder, ignore_errors=True)
                removed += 1
    return removed


def _versions_seen(user: User) -> Any:
    """A validation job shows its version's messages, log and result, so it is visible exactly
    where the version is (decisions §8): model operations once the version is submitted."""
    return ModelVersion.objects.restrict(user)


# Validation's job kind: its task (tasks.py) is declared with this name; registered when ready.
VALIDATION = JobKind(
    name="validation",
    task="validation.validate_version",
    queue="validation",
    scope=_versions_seen,
    when_failed=_job_failed,
)
