"""Validation through real `celery worker` processes: queued on upload, survives a killed worker."""

from __future__ import annotations

import os
import signal
from pathlib import Path

import pytest

from apps.jobs import services as jobs
from apps.jobs.models import Job
from apps.registry.models import ModelVersion
from apps.validation import sandbox, services
from apps.validation.models import ValidationReport
from tests.factories import TeamFactory, UserFactory
from tests.support.cli import cli_for
from tests.support.worker import WorkerProcess, wait_for
from tests.validation.conftest import upload

pytestmark = [pytest.mark.worker, pytest.mark.django_db(transaction=True)]


def _status(version: ModelVersion) -> str:
    version.refresh_from_db()
    return version.status


def test_an_upload_is_validated_by_a_worker(people, alices_model, models, worker):
    version = upload(
        alices_model,
        people.alice,
        models.boosting,
        holdout=models.holdout,
        reference=models.reference,
    )
    wait_for(
        lambda: _status(version) == ModelVersion.Status.VALIDATED,
        timeout=90,
        message=f"the worker to validate the version\n{worker.output()}",
    )
    job = services.jobs_of(version).get()
    assert job.worker == worker.hostname and job.status == Job.Status.SUCCEEDED
    assert ValidationReport.objects.get(job=job).outcome == "passed"
    steps = job.log
    for step in (
        "Loading the model with the trusted-type allowlist",
        "Scoring the holdout",
        "Permutation feature importance",
        "Writing and checking the canonical",
    ):
        assert step in steps


def _processes() -> dict[int, tuple[int, str, str]]:
    """pid -> (parent pid, start time, command line) of every live process on this host."""
    found = {}
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            fields = (entry / "stat").read_text().rsplit(")", 1)[1].split()
            cmdline = (entry / "cmdline").read_bytes().replace(b"\0", b" ").decode(errors="replace")
        except OSError:  # gone while we looked
            continue
        if fields[0] not in ("Z", "X"):  # a zombie runs nothing; only its parent can reap it
            found[int(entry.name)] = (int(fields[1]), fields[19], cmdline.strip())
    return found


def _sandbox_processes_under(root: int) -> dict[tuple[int, str], str]:
    """(pid, start time) -> command line of the bwrap and engine/child.py processes below root."""
    processes = _processes()
    tree, grew = {root}, True
    while grew:
        below = {pid for pid, (parent, _, _) in processes.items() if parent in tree}
        grew = not below <= tree
        tree |= below
    return {
        (pid, processes[pid][1]): processes[pid][2]
        for pid in tree
        if pid in processes
        and (processes[pid][2].startswith("bwrap ") or "engine/child.py" in processes[pid][2])
    }


def _still_running(sandboxed: dict[tuple[int, str], str]) -> dict[tuple[int, str], str]:
    processes = _processes()
    return {
        (pid, started): cmdline
        for (pid, started), cmdline in sandboxed.items()
        if pid in processes and processes[pid][1] == started
    }


def test_a_validation_whose_worker_is_killed_is_stored_exactly_once(people, alices_model, models):
    from tests.support.services import require_redis
    from tests.validation.conftest import frame

    require_redis()
    # A million rows keep the sandboxed stage busy for a few seconds: long enough to be killed in.
    holdout = frame(1_000_000, 3).to_csv(index=False).encode()
    first = WorkerProcess(queues="validation").start()
    try:
        version = upload(
            alices_model, people.alice, models.boosting, holdout=holdout, reference=models.reference
        )
        job = services.jobs_of(version).get()

        def in_the_sandbox() -> bool:
            job.refresh_from_db()
            # 10 % and beyond are reported by the sandboxed child itself.
            return job.status == Job.Status.RUNNING and job.progress >= 10

        wait_for(
            in_the_sandbox,
            timeout=90,
            interval=0.05,
            message=f"validation to enter the sandbox\n{first.output()}",
        )
        assert first.process is not None
        sandboxed = _sandbox_processes_under(first.process.pid)
        first.kill()
    finally:
        first.stop()
    job.refresh_from_db()
    assert job.progress < 100, "the sandbox finished before the worker was killed"
    assert any("engine/child.py" in cmdline for cmdline in sandboxed.values()), sandboxed
    wait_for(
        lambda: not _still_running(sandboxed),
        timeout=15,
        message=f"the killed worker's sandbox to stop: {_still_running(sandboxed)}",
    )
    assert not ValidationReport.objects.filter(version=version).exists()

    second = WorkerProcess(queues="validation").start()
    try:
        wait_for(
            lambda: jobs.reap_stale_jobs(stale_after=2).requeued == 1,
            timeout=30,
            interval=0.5,
            message="the reaper to re-queue the validation",
        )
        wait_for(
            lambda: _status(version) == ModelVersion.Status.VALIDATED,
            timeout=180,
            message=f"the second worker to validate\n{second.output()}",
        )
    finally:
        second.stop()
    job.refresh_from_db()
    assert job.attempts == 2 and job.worker == second.hostname
    assert ValidationReport.objects.filter(version=version).count() == 1
    assert version.files.filter(role="canonical").count() == 1


def test_a_hostile_pickle_fails_its_job_and_the_worker_lives_on(
    people, alices_model, models, worker, settings
):
    from apps.registry import services as registry
    from tests.validation.conftest import pickled, require_isolation

    require_isolation()
    registry.update_model(alices_model.pk, actor=people.admin, changes={"pickle_allowed": True})
    alices_model.refresh_from_db()
    marker = Path(settings.VAR_DIR) / "worker-marker"
    version = upload(
        alices_model,
        people.alice,
        pickled(f"open({str(marker)!r}, 'w').write('pwned')"),
        name="model.pkl",
        holdout=models.holdout,
    )
    wait_for(
        lambda: _status(version) == ModelVersion.Status.VALIDATION_FAILED,
        timeout=90,
        message=f"the hostile validation to fail\n{worker.output()}",
    )
    report = ValidationReport.objects.get(version=version)
    assert "No such file or directory" in report.reasons[0] and not marker.exists()
    assert worker.process.poll() is None  # still running
    healthy = upload(alices_model, people.alice, models.logistic, holdout=models.holdout)
    wait_for(
        lambda: _status(healthy) == ModelVersion.Status.VALIDATED,
        timeout=90,
        message=f"the worker to go on validating\n{worker.output()}",
    )


def test_push_wait_prints_the_summary_and_fails_on_a_failed_validation(
    live_server, worker, models, tmp_path
):
    team = TeamFactory(slug="retail-credit")
    UserFactory(username="alice", role="data_scientist", team=team)
    UserFactory(username="rita", role="risk_owner")
    run = cli_for(live_server.url, tmp_path / "login.json")

    assert (
        run("login", "--username", "alice", "--password-stdin", stdin="pw-alice\n").returncode == 0
    )
    assert (
        run(
            "register",
            "Loan default",
            "--team",
            "retail-credit",
            "--risk-tier",
            "low",
            "--risk-owner",
            "rita",
            "--use-case",
            "loans",
        ).returncode
        == 0
    )
    (tmp_path / "good.skops").write_bytes(models.boosting)
    (tmp_path / "holdout.csv").write_bytes(models.holdout)
    passed = run(
        "push",
        "loan-default",
        str(tmp_path / "good.skops"),
        "--holdout",
        str(tmp_path / "holdout.csv"),
        "--target",
        "default",
        "--sensitive",
        "age_band",
        "--wait",
    )
    assert passed.returncode == 0, passed.stderr + worker.output()
    assert "Validation PASSED (policy: low risk v1)" in passed.stdout
    assert "[pass] ROC AUC >= 0.6" in passed.stdout

    services.update_policy(
        actor=UserFactory(username="root", is_superuser=True),
        thresholds={"min_roc_auc": 0.999},
        note="strict",
        risk_tier="low",
    )
    failed = run(
        "push",
        "loan-default",
        str(tmp_path / "good.skops"),
        "--holdout",
        str(tmp_path / "holdout.csv"),
        "--target",
        "default",
        "--sensitive",
        "age_band",
        "--wait",
    )
    assert failed.returncode == 4, failed.stderr
    assert "Validation FAILED (policy: low risk v2)" in failed.stdout
    assert "the policy requires at least 0.999" in failed.stdout


def test_a_killed_pool_process_leaves_no_scratch_folder_and_its_validation_is_retried(
    people, alices_model, models
):
    """kill -9 of the pool child while its sandbox runs: its copies of the holdout are removed
    within a heartbeat or two, and the job's next attempt validates the version once."""
    from tests.validation.conftest import frame

    holdout = frame(300_000, 3).to_csv(index=False).encode()
    worker = WorkerProcess(queues="validation").start()
    try:
        version = upload(
            alices_model, people.alice, models.boosting, holdout=holdout, reference=models.reference
        )
        job = services.jobs_of(version).get()

        def in_the_sandbox() -> bool:
            job.refresh_from_db()
            return job.status == Job.Status.RUNNING and job.progress >= 10

        wait_for(in_the_sandbox, timeout=90, interval=0.05, message=worker.output())
        owner = (str(job.uuid), job.attempts)
        assert sandbox.owned_scratch().get(owner), "the attempt's scratch folder"
        os.kill(job.pid, signal.SIGKILL)
        wait_for(
            lambda: not sandbox.owned_scratch().get(owner),
            timeout=15,
            message="the killed attempt's scratch folder to be removed",
        )
        wait_for(
            lambda: _status(version) == ModelVersion.Status.VALIDATED,
            timeout=180,
            message=f"the next attempt to validate\n{worker.output()}",
        )
        # The successful attempt's folder goes once its commit is done, a moment after the
        # status: in the worker, so the worker must still be running to remove it.
        wait_for(lambda: not sandbox.owned_scratch(), timeout=15, message="no scratch folder left")
    finally:
        worker.stop()
    job.refresh_from_db()
    assert job.attempts == 2 and job.status == Job.Status.SUCCEEDED
    assert ValidationReport.objects.filter(version=version).count() == 1
