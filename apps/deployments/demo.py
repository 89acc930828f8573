"""The demo's story for `make run`: what has happened to the registry demo's versions.

Everything goes through the services people use, with the demo users as actors, so it is audited,
notified and governed exactly as in real use; the jobs a worker would run are run here, in this
process, the way the worker runs them. Every step first looks at the state it would change, so
running the seed again changes nothing:

- *Retail loan default* v1: validated, reviewed by alice, approved by ivan (IT) and signed off by
  rita (risk owner), live in staging then production (the champion), with a production serving
  key whose raw value is kept in ``var/demo_serving_key`` (it cannot be shown again otherwise);
- *Retail loan default* v2: validated, review requested by alice, signed off by ivan and rita
  to run beside v1 as a shadow challenger in staging (the monitoring demo gives it traffic);
- *Card fraud detection* v1: validated, review requested by bob, waiting.

The other versions' validation jobs stay queued for the real worker, so a newcomer watches one run.
"""

from __future__ import annotations

import io
import json
import os
import time
from typing import Any

from django.conf import settings
from django.contrib.auth.models import User
from django.core.exceptions import PermissionDenied, ValidationError

from apps.core.templatetags.words import role_title
from apps.deployments import services as deployments
from apps.deployments.models import Deployment, ServingKey
from apps.jobs import services as jobs
from apps.jobs.models import Job
from apps.registry import storage
from apps.registry.models import ModelVersion, StoredFile
from apps.reviews import services as reviews
from apps.reviews.models import Review
from apps.validation import evidence, sandbox
from apps.validation import services as validation

LOAN = "Retail loan default"
FRAUD = "Card fraud detection"
KEY_NAME = "loan origination system"
KEY_FILE = "demo_serving_key"
# How long to wait for a job that a live worker took before this process could.
WAIT_SECONDS = 60

Out = io.TextIOBase | Any

# What each reviewer writes; the summaries are the authors'.
SUMMARIES = {
    (LOAN, 1): "Baseline scaled logistic regression on 4,200 applications; ROC AUC and "
    "calibration within policy on the holdout, fairness across age bands checked.",
    (LOAN, 2): "Gradient boosting challenger to v1: captures the non-linear effect of "
    "debt-to-income. Same training data and holdout as v1.",
    (FRAUD, 1): "First fraud model: logistic regression on transaction features; recall and "
    "alert volume reviewed with the fraud operations team.",
}
CHALLENGER_APPROVALS = {
    "ivan": "Loads and scores within the latency policy; to run in shadow beside v1 in staging "
    "before any switch.",
    "rita": "To be tried in shadow only: its ROC AUC shortfall against v1 must be confirmed on "
    "live traffic before it is promoted.",
}
APPROVALS = {
    "ivan": "Loads from the validated .skops copy and scores within the latency policy; "
    "monitoring and the rollback plan are in place.",
    "rita": "Discrimination, calibration and the gap across age bands are acceptable for "
    "decline/refer decisions up to €50,000.",
}


def seed(stdout: Out) -> None:
    """Play the demo story forward as far as it has not happened yet."""
    names = ["alice", "bob", "ivan", "rita"]
    people = {u.username: u for u in User.objects.filter(username__in=names)}
    # Validated first, in upload order, as the worker would have done: their jobs were queued at
    # upload, before anything was live. (Validated against v1 as champion, v2's ROC AUC falls a
    # little more below it than the high-risk policy allows: a finding to make in the demo.)
    story = [(LOAN, 1, "alice"), (LOAN, 2, "alice"), (FRAUD, 1, "bob")]
    validated: list[tuple[ModelVersion, User]] = []
    for model_name, number, username in story:
        version = _version(model_name, number)
        if version is not None and _validated(version, stdout):
            validated.append((version, people[username]))
    for version, author in validated:
        reviewed = _reviewed(version, author, stdout)
        if reviewed and (version.model.name, version.number) == (LOAN, 1):
            _champion(version, people, stdout)
        if reviewed and (version.model.name, version.number) == (LOAN, 2):
            _challenger(version, people, stdout)


def _champion(version: ModelVersion, people: dict[str, User], stdout: Out) -> None:
    """Signed off by IT and the risk owner, live in staging then production, with a key."""
    ready = (
        _decided(version, people["ivan"], APPROVALS["ivan"], stdout)
        and _decided(version, people["rita"], APPROVALS["rita"], stdout)
        and _deployed(version, "staging", people["ivan"], stdout)
        and _deployed(version, "production", people["ivan"], stdout)
    )
    if ready:
        _serving_key(version, people["ivan"], stdout)


def _challenger(version: ModelVersion, people: dict[str, User], stdout: Out) -> None:
    """Signed off to be tried beside the live version, and running in staging as a shadow."""
    signed_off = _decided(
        version, people["ivan"], CHALLENGER_APPROVALS["ivan"], stdout
    ) and _decided(version, people["rita"], CHALLENGER_APPROVALS["rita"], stdout)
    if signed_off:
        _deployed(version, "staging", people["ivan"], stdout, Deployment.Mode.SHADOW)


def _version(model_name: str, number: int) -> ModelVersion | None:
    return (
        ModelVersion.objects.select_related("model")
        .filter(model__name=model_name, number=number)
        .first()
    )


def _note(stdout: Out, text: str) -> None:
    stdout.write(f"  note: {text}\n")


def _wait_while(fetch: Any, busy: Any) -> Any:
    """Refetch until ``busy`` is false or WAIT_SECONDS pass, if a live worker may be running
    the job; without one (an earlier seed interrupted, say) there is nothing to wait for."""
    deadline = time.monotonic() + WAIT_SECONDS
    current = fetch()
    if busy(current) and not jobs.live_workers().exists():
        return current
    while busy(current) and time.monotonic() < deadline:
        time.sleep(0.5)
        current = fetch()
    return current


# --- Steps ------------------------------------------------------------------------------------


def _validated(version: ModelVersion, stdout: Out) -> bool:
    """Run the version's queued validation job here, as a worker would; True once validated."""
    pending = {ModelVersion.Status.DRAFT, ModelVersion.Status.VALIDATING}
    if version.status not in pending:
        return _passed(version, stdout)
    job = validation.jobs_of(version).filter(status=Job.Status.QUEUED).first()
    if job is not None:
        started = time.monotonic()
        jobs.run(
            str(job.uuid),
            worker="demo-seed",
            execute=validation.run_validation,
            commit=validation.store_validation,
        )
        seconds = time.monotonic() - started
        version.refresh_from_db()
        if version.status not in pending:  # else a worker claimed it first: wait for it below
            outcome = "passed" if version.status == ModelVersion.Status.VALIDATED else "failed"
            isolation = sandbox.isolation()
            where = "in the sandbox" if isolation.isolated else "with limits only, not isolated"
            stdout.write(f"  validated {version} {where}: {outcome} ({seconds:.0f} s)\n")
    if version.status in pending:
        version = _wait_while(
            lambda: ModelVersion.objects.select_related("model").get(pk=version.pk),
            lambda v: v.status in pending,
        )
    if version.status in pending:
        _note(
            stdout,
            f"{version} is not validated yet (its job is not queued here); run "
            "seed_demo again once it has finished.",
        )
        return False
    return _passed(version, stdout)


def _passed(version: ModelVersion, stdout: Out) -> bool:
    if version.status != ModelVersion.Status.VALIDATION_FAILED:
        return True
    report = validation.latest_report(version)
    last_job = validation.jobs_of(version).order_by("-created_at", "-id").first()
    if report is not None:
        reasons = "; ".join(report.reasons)
    else:  # the job itself failed: its message says why
        reasons = last_job.message if last_job is not None else "no report"
    isolation = sandbox.isolation()
    hint = "" if isolation.isolated else f" (this host cannot sandbox: {isolation.reason})"
    _note(stdout, f"{version} did not pass validation{hint}: {reasons}")
    _note(stdout, f"the rest of {version}'s demo story is skipped.")
    return False


def _reviewed(version: ModelVersion, author: User, stdout: Out) -> bool:
    """The author requests review; True once a review exists."""
    if Review.objects.filter(version=version).exists():
        return True
    try:
        reviews.request_review(
            version.pk, actor=author, summary=SUMMARIES[(version.model.name, version.number)]
        )
    except (ValidationError, PermissionDenied, reviews.Conflict) as refused:
        _note(stdout, f"{author} could not request review of {version}: {_message(refused)}")
        return False
    stdout.write(f"  {author} requested review of {version}\n")
    return True


def _decided(version: ModelVersion, reviewer: User, reason: str, stdout: Out) -> bool:
    """The reviewer approves, unless they have decided already; True once they approved."""
    review = Review.objects.get(version=version)
    given = review.decisions.filter(reviewer=reviewer).first()
    if given is not None:
        return given.verdict == "approve"
    if review.status != Review.Status.OPEN:
        return False
    try:
        decision = reviews.decide(version.pk, actor=reviewer, verdict="approve", reason=reason)
    except (ValidationError, PermissionDenied, reviews.Conflict) as refused:
        _note(stdout, f"{reviewer} could not sign off {version}: {_message(refused)}")
        return False
    role = role_title(decision.role)
    stdout.write(f"  {reviewer} approved {version} ({role} sign-off)\n")
    return True


def _deployed(
    version: ModelVersion,
    environment: str,
    actor: User,
    stdout: Out,
    mode: str = Deployment.Mode.CHAMPION,
) -> bool:
    """Deploy (as the live version, or as a challenger in ``mode``) and run the job here, as
    the worker would; True once it has been live there."""
    mine = Deployment.objects.filter(version=version, environment__slug=environment, mode=mode)
    if mine.filter(live_from__isnull=False).exists():
        return True
    deployment = mine.filter(
        status__in=[Deployment.Status.QUEUED, Deployment.Status.RUNNING]
    ).first()
    if deployment is None:
        try:
            deployment = deployments.request_deployment(
                version.pk, environment, actor=actor, mode=mode
            )
        except (ValidationError, PermissionDenied) as refused:
            _note(
                stdout, f"{actor} could not deploy {version} to {environment}: {_message(refused)}"
            )
            return False
    assert deployment.job is not None
    if deployment.job.status == Job.Status.QUEUED:
        jobs.run(
            str(deployment.job.uuid),
            worker="demo-seed",
            execute=deployments.run_deployment,
            commit=deployments.commit_deployment,
        )
    busy = {Deployment.Status.QUEUED, Deployment.Status.RUNNING}
    deployment = _wait_while(
        lambda: Deployment.objects.get(pk=deployment.pk), lambda d: d.status in busy
    )
    if deployment.live_from is None:
        _note(
            stdout, f"{version} did not go live in {environment}: {deployment.message or 'not yet'}"
        )
        return False
    as_what = "" if mode == Deployment.Mode.CHAMPION else f" as a {deployment.mode_label()}"
    stdout.write(f"  {actor} deployed {version} to {environment}{as_what}: live\n")
    return True


def _serving_key(version: ModelVersion, actor: User, stdout: Out) -> None:
    """A production key for the loan origination system, shown now and on every later run."""
    model = version.model
    stored = settings.VAR_DIR / KEY_FILE
    raw = stored.read_text().strip() if stored.exists() else ""
    key = ServingKey.objects.filter(key_hash=ServingKey.hash(raw)).first() if raw else None
    if key is None:
        existing = ServingKey.objects.filter(
            model=model, environment__slug="production", name=KEY_NAME
        ).first()
        if existing is not None:
            _note(
                stdout,
                f"the demo serving key {existing} exists but {stored} does not hold it; "
                "create another on the Serving keys page.",
            )
            return
        key, raw = deployments.create_serving_key(
            model.pk, "production", actor=actor, name=KEY_NAME
        )
        descriptor = os.open(stored, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(descriptor, "w") as handle:
            handle.write(raw + "\n")
        stored.chmod(0o600)
        stdout.write(f"  {actor} created the production serving key “{KEY_NAME}”\n")
    if key.revoked_at is not None:
        _note(stdout, f"the demo serving key {key} (in {stored}) has been revoked.")
        return
    port = os.environ.get("PORT", "8000")
    stdout.write(
        f"\n  Serving key for {model} in production (kept in {stored}):\n    {raw}\n"
        "  Try it with one row of the model's holdout:\n"
        f"    curl -s -X POST http://127.0.0.1:{port}/serve/{model.slug}/production/predict \\\n"
        f"         -H 'Authorization: Bearer {raw}' -H 'Content-Type: application/json' \\\n"
        f"         -d '{json.dumps(holdout_rows(version, 1))}'\n\n"
    )


def holdout_rows(version: ModelVersion, n: int) -> list[dict[str, Any]]:
    """The first ``n`` holdout rows of the version, features only, as serving takes them."""
    import pandas as pd

    signature = evidence.signature_of(version) or {"features": []}
    features = [f["name"] for f in signature["features"]]
    holdout = version.files.get(role=StoredFile.Role.HOLDOUT)
    with storage.open_blob(holdout.key) as handle:
        if holdout.file_format == "parquet":
            frame = pd.read_parquet(io.BytesIO(handle.read())).head(n)
        else:
            frame = pd.read_csv(handle, nrows=n)
    rows: list[dict[str, Any]] = frame[features].to_dict(orient="records")
    return rows


def _message(error: Exception) -> str:
    if isinstance(error, ValidationError):
        return " ".join(error.messages)
    return str(error)
