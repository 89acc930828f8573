"""Uploaded models that try to harm the portal are blocked or killed, and the job says why.

Each test uploads a version (pickle formats allowed for the model, as an administrator could) and
runs its validation job in this process exactly as a worker does: the real sandbox, real limits.
"""

from __future__ import annotations

import shutil
import socket
from pathlib import Path

import pytest
from django.conf import settings

from apps.registry import services as registry
from apps.registry.models import ModelVersion
from apps.validation import sandbox
from apps.validation.models import ValidationReport
from tests.support.services import unavailable
from tests.validation.conftest import pickled, require_isolation, upload, validate_now, zip_bomb

pytestmark = pytest.mark.django_db

FAST_LIMITS = {
    "memory_mb": 2048,
    "cpu_seconds": 5,
    "wall_seconds": 20,
    "file_mb": 256,
    "processes": 64,
    "open_files": 256,
}


@pytest.fixture
def pickle_model(people, alices_model, settings):
    require_isolation()
    settings.PORTAL_SANDBOX_LIMITS = FAST_LIMITS
    registry.update_model(alices_model.pk, actor=people.admin, changes={"pickle_allowed": True})
    alices_model.refresh_from_db()
    return alices_model


def attempt(people, model, code: str, models) -> tuple[ModelVersion, ValidationReport]:
    version = upload(model, people.alice, pickled(code), name="model.pkl", holdout=models.holdout)
    job = validate_now(version)
    report = ValidationReport.objects.get(job=job)
    assert report.outcome == ValidationReport.Outcome.ERROR
    assert version.status == ModelVersion.Status.VALIDATION_FAILED
    assert job.message.startswith("Validation failed: ")
    return version, report


def test_a_payload_cannot_write_into_the_portals_data_folder(people, pickle_model, models):
    marker = Path(settings.VAR_DIR) / "pwned-marker"
    media_marker = Path(settings.MEDIA_ROOT) / "pwned-marker"
    code = (
        f"for path in ({str(marker)!r}, {str(media_marker)!r}, '/scratch/../pwned'):\n"
        "    try:\n        open(path, 'w').write('pwned')\n    except OSError:\n        pass\n"
        f"open({str(marker)!r}, 'w').write('pwned')"
    )
    _, report = attempt(people, pickle_model, code, models)
    assert "No such file or directory" in report.reasons[0]
    assert not marker.exists() and not media_marker.exists()


def _listening_on_loopback(port: int) -> bool:
    try:
        socket.create_connection(("127.0.0.1", port), timeout=2).close()
    except OSError:
        return False
    return True


def test_a_payload_cannot_reach_redis_or_postgresql_on_loopback(people, pickle_model, models):
    # Refused connections prove nothing unless something answers there outside the sandbox.
    silent = [port for port in (6379, 5432) if not _listening_on_loopback(port)]
    if silent:
        unavailable(
            "this test needs Redis on 127.0.0.1:6379 and PostgreSQL on 127.0.0.1:5432; nothing "
            f"listens on port {', '.join(map(str, silent))}"
        )
    code = (
        "import socket\nreached = []\n"
        "for port in (6379, 5432):\n"
        "    try:\n"
        "        socket.create_connection(('127.0.0.1', port), timeout=2).close()\n"
        "        reached.append(port)\n"
        "    except OSError:\n        pass\n"
        "raise RuntimeError('reached ports %s' % reached)"
    )
    _, report = attempt(people, pickle_model, code, models)
    assert "RuntimeError: reached ports []" in report.reasons[0]


def test_a_payload_sees_no_environment_and_no_settings(people, pickle_model, models):
    settings_file = Path(settings.BASE_DIR) / "mlops_portal" / "settings.py"
    secret_key = Path(settings.VAR_DIR) / "secret_key"
    code = (
        "import os\nfound = []\n"
        f"for path in ({str(settings_file)!r}, {str(secret_key)!r}):\n"
        "    try:\n        open(path).read(); found.append(path)\n"
        "    except OSError:\n        pass\n"
        "raise RuntimeError('env=%s readable=%s' % (sorted(os.environ), found))"
    )
    _, report = attempt(people, pickle_model, code, models)
    message = report.reasons[0]
    assert "readable=[]" in message
    for secret in ("SECRET_KEY", "DATABASE_URL", "CELERY_BROKER_URL", "PORTAL_DEMO_PASSWORD"):
        assert secret not in message


def test_a_fork_bomb_stops_at_the_process_limit(people, pickle_model, models):
    code = (
        "import os, time\nn = 0\nwhile n < 100000:\n"
        "    if os.fork() == 0:\n        time.sleep(60)\n        os._exit(0)\n    n += 1"
    )
    _, report = attempt(people, pickle_model, code, models)
    assert "Resource temporarily unavailable" in report.reasons[0]


def test_allocating_10_gb_fails_at_the_memory_limit(people, pickle_model, models):
    _, report = attempt(people, pickle_model, "block = bytearray(10 * 2**30)", models)
    assert report.reasons[0] == (
        "Validation needed more than 2048 MB of memory, the sandbox's limit."
    )


def test_an_endless_loop_is_killed_at_the_cpu_limit(people, pickle_model, models):
    _, report = attempt(people, pickle_model, "while True:\n    pass", models)
    assert report.reasons[0] == (
        "Validation used more than 5 s of CPU time, and was stopped at the sandbox's limit."
    )


def test_a_sleeping_payload_is_killed_at_the_wall_clock_limit(
    people, pickle_model, models, settings
):
    settings.PORTAL_SANDBOX_LIMITS = {**FAST_LIMITS, "wall_seconds": 8}
    _, report = attempt(people, pickle_model, "import time\ntime.sleep(600)", models)
    assert report.reasons[0] == (
        "Validation ran longer than 8 s and was stopped (the sandbox's wall-clock limit)."
    )


def test_a_skops_file_with_an_untrusted_type_is_refused_before_loading(
    people, alices_model, models
):
    version = upload(alices_model, people.alice, models.untrusted, holdout=models.holdout)
    job = validate_now(version)
    report = ValidationReport.objects.get(job=job)
    assert report.outcome == ValidationReport.Outcome.ERROR
    assert report.reasons[0].startswith("The model contains types the portal does not trust: ")
    assert "tests.validation.conftest.CustomScaler" in report.reasons[0]


def test_a_zip_bomb_is_refused_before_it_is_inflated(people, alices_model, models):
    version = upload(alices_model, people.alice, zip_bomb(), holdout=models.holdout)
    report = ValidationReport.objects.get(job=validate_now(version))
    assert "looks like a zip bomb" in report.reasons[0]


def test_without_isolation_pickle_is_refused_and_the_page_says_why(
    people, pickle_model, models, settings, client
):
    settings.PORTAL_SANDBOX_ISOLATION = False
    sandbox.isolation.cache_clear()
    version = upload(
        pickle_model,
        people.alice,
        pickled("raise SystemExit"),
        name="model.pkl",
        holdout=models.holdout,
    )
    report = ValidationReport.objects.get(job=validate_now(version))
    assert report.reasons[0].startswith(
        "Pickle formats are refused on this worker because isolation is switched off"
    )
    client.force_login(people.alice)
    page = client.get(version.get_absolute_url()).content.decode()
    assert "pickle formats are refused on this worker: isolation is switched off" in page


def test_a_clean_pickle_is_converted_and_validated_from_its_skops_copy(
    people, pickle_model, models
):
    import pickle

    import skops.io

    estimator = skops.io.loads(
        models.logistic, trusted=skops.io.get_untrusted_types(data=models.logistic)
    )
    version = upload(
        pickle_model,
        people.alice,
        pickle.dumps(estimator),
        name="model.pkl",
        holdout=models.holdout,
    )
    job = validate_now(version)
    report = ValidationReport.objects.get(job=job)
    assert report.outcome == ValidationReport.Outcome.PASSED, report.reasons
    assert report.isolated and report.data["canonical"]["predictions_match"]
    assert version.files.filter(role="canonical").exists()


class Tampering:
    """Unpickles to a working model, after ``code`` ran: a pickle that tries to cheat."""

    def __init__(self, code: str, model: bytes) -> None:
        self.code, self.model = code, model

    def __reduce__(self):
        expression = f"exec({self.code!r}) or __import__('pickle').loads({self.model!r})"
        return (eval, (expression,))


def test_a_pickle_cannot_alter_what_its_report_is_computed_from(
    people, pickle_model, models, tmp_path
):
    """The conversion runs in a folder of its own: a pickle that flips the holdout's labels,
    plants a champion and links a host file there changes nothing the report or worker uses."""
    import pickle

    import skops.io

    host_file = tmp_path / "host-file"
    host_file.write_text("the worker's")
    owner = host_file.stat().st_uid
    code = (
        "import os, pathlib\n"
        "import pandas\n"
        "folder = pathlib.Path('/scratch/in')\n"
        "for path in folder.glob('*.csv'):\n"
        "    rows = pandas.read_csv(path)\n"
        "    rows['default'] = 1 - rows['default']\n"
        "    rows.to_csv(path, index=False)\n"
        "(folder / 'champion.skops').write_bytes(b'PK planted')\n"
        f"os.symlink({str(host_file)!r}, folder / 'linked')\n"
        f"os.symlink({str(host_file)!r}, '/scratch/out/linked')\n"
    )
    estimator = skops.io.loads(
        models.logistic, trusted=skops.io.get_untrusted_types(data=models.logistic)
    )
    payload = pickle.dumps(Tampering(code, pickle.dumps(estimator)))
    version = upload(pickle_model, people.alice, payload, name="model.pkl", holdout=models.holdout)
    report = ValidationReport.objects.get(job=validate_now(version))

    assert report.outcome == ValidationReport.Outcome.PASSED, report.reasons
    assert report.data["metrics"]["roc_auc"] > 0.6  # scored against the true labels
    assert report.data["champion"] is None
    assert host_file.stat().st_uid == owner and host_file.read_text() == "the worker's"


def test_scratch_folders_left_by_killed_workers_are_removed_later(settings):
    import os
    import time

    root = Path(settings.PORTAL_SANDBOX_DIR)
    root.mkdir(parents=True, exist_ok=True)
    abandoned, recent = root / "validation-abandoned", root / "validation-recent"
    for folder in (abandoned, recent):
        (folder / "in").mkdir(parents=True, exist_ok=True)
        (folder / "in" / "holdout.csv").write_text("a,b\n1,2\n")
    long_ago = time.time() - 2 * settings.PORTAL_VALIDATION_TIME_LIMIT - 60
    os.utime(abandoned, (long_ago, long_ago))
    made = sandbox.new_scratch()
    try:
        assert not abandoned.exists()
        assert recent.exists()  # it may belong to an attempt still running
    finally:
        for folder in (made, recent):
            shutil.rmtree(folder, ignore_errors=True)


def _planted_folder(folder: Path, models) -> Path:
    """A host folder holding another, real model's conversion output: what the attacker points
    the sandbox's ``out/`` at (a concurrent job's scratch folder, say)."""
    import io

    import numpy as np
    import pandas as pd
    import skops.io

    from apps.validation.engine import report

    trusted = skops.io.get_untrusted_types(data=models.boosting)
    real = skops.io.loads(models.boosting, trusted=trusted)
    holdout = pd.read_csv(io.BytesIO(models.holdout))[list(models.features)].head(1000)
    folder.mkdir()
    (folder / "canonical.skops").write_bytes(models.boosting)
    np.save(folder / "expected.npy", report.predictions_for_check(real, holdout))
    return folder


def test_a_pickle_that_swaps_its_output_folder_for_a_link_is_refused(
    people, pickle_model, models, tmp_path
):
    """A dummy classifier that replaces ``out/`` with a link to a host folder holding a real
    model's files (and keeps the engine from writing its own) must not be validated with that
    model's AUC, nor have it stored as its canonical copy. Where the folder cannot be replaced,
    it links the two files instead: refused too."""
    import pickle

    from sklearn.dummy import DummyClassifier

    planted = _planted_folder(tmp_path / "planted", models)
    code = (
        "import os, pathlib, sys\nimport numpy\n"
        "sys.modules['engine.trusted'].dump_skops = lambda *args: None\n"
        "numpy.save = lambda *args, **kwargs: None\n"
        "pathlib.Path.mkdir = lambda *args, **kwargs: None\n"
        "try:\n"
        "    os.rename('/scratch/out', '/scratch/was-out')\n"
        f"    os.symlink({str(planted)!r}, '/scratch/out')\n"
        "except OSError:\n"
        "    for name in ('canonical.skops', 'expected.npy'):\n"
        f"        os.symlink(os.path.join({str(planted)!r}, name), '/scratch/out/' + name)\n"
    )
    dummy = DummyClassifier(strategy="prior").fit([[0, 0, 0]] * 4, [0, 1, 0, 1])
    payload = pickle.dumps(Tampering(code, pickle.dumps(dummy)))
    version = upload(pickle_model, people.alice, payload, name="model.pkl", holdout=models.holdout)
    report = ValidationReport.objects.get(job=validate_now(version))

    assert report.outcome == ValidationReport.Outcome.ERROR, report.data.get("metrics")
    assert "metrics" not in report.data
    assert report.reasons[0] in (
        "The model replaced its output folder with a link; nothing was read from it.",
        "The model replaced its output file canonical.skops with a link; nothing was read from it.",
    )
    assert not version.files.filter(role="canonical").exists()


def _payload_report(people, model, code: str, models) -> str:
    """What a payload found out inside the sandbox (it raises it as its error)."""
    _, report = attempt(people, model, f"exec({code!r}, {{}})", models)
    return report.reasons[0]


def test_a_payload_can_neither_move_nor_remove_its_output_folder(people, pickle_model, models):
    code = (
        "import os\nfound = []\n"
        "for attempt in (lambda: os.rename('/scratch/out', '/scratch/was-out'),\n"
        "                lambda: os.rmdir('/scratch/out')):\n"
        "    try:\n"
        "        attempt()\n"
        "        found.append('done')\n"
        "    except OSError as exc:\n"
        "        found.append(exc.strerror)\n"
        "raise RuntimeError('out %s' % found)"
    )
    found = _payload_report(people, pickle_model, code, models)
    assert found == "RuntimeError: out ['Device or resource busy', 'Device or resource busy']"


def test_a_payload_cannot_open_namespaces_trace_or_use_keyrings(people, pickle_model, models):
    import platform

    keyctl = {"x86_64": 250, "aarch64": 219}[platform.machine()]
    code = (
        "import ctypes\nlibc = ctypes.CDLL(None, use_errno=True)\nfound = {}\n"
        "def attempt(name, *args):\n"
        "    ctypes.set_errno(0)\n"
        "    result = getattr(libc, name)(*args)\n"
        "    found[name] = 'errno %d' % ctypes.get_errno() if result == -1 else 'allowed'\n"
        "attempt('unshare', 0x10000000)\n"  # CLONE_NEWUSER
        "attempt('ptrace', 0, 0, 0, 0)\n"  # PTRACE_TRACEME
        f"attempt('syscall', {keyctl}, 0, 0, 0)\n"  # keyctl(KEYCTL_GET_KEYRING_ID)
        "attempt('personality', 0x0040000)\n"  # ADDR_NO_RANDOMIZE
        "raise RuntimeError('syscalls %s' % sorted(found.items()))"
    )
    found = _payload_report(people, pickle_model, code, models)
    assert found == (
        "RuntimeError: syscalls [('personality', 'errno 1'), ('ptrace', 'errno 1'), "
        "('syscall', 'errno 1'), ('unshare', 'errno 1')]"
    )


def test_a_payload_holds_no_capability_even_in_its_bounding_set(people, pickle_model, models):
    code = (  # PR_CAPBSET_READ is 23; _LINUX_CAPABILITY_VERSION_3 is 0x20080522
        "import ctypes\nlibc = ctypes.CDLL(None, use_errno=True)\n"
        "bounding = [cap for cap in range(64) if libc.prctl(23, cap, 0, 0, 0) == 1]\n"
        "header = (ctypes.c_uint32 * 2)(0x20080522, 0)\n"
        "data = (ctypes.c_uint32 * 6)()\n"
        "libc.capget(header, data)\n"
        "raise RuntimeError('bounding %s effective-permitted-inheritable %s'\n"
        "                   % (bounding, list(data)))"
    )
    found = _payload_report(people, pickle_model, code, models)
    assert found == "RuntimeError: bounding [] effective-permitted-inheritable [0, 0, 0, 0, 0, 0]"


def test_a_payload_learns_no_host_path_from_the_mount_table(people, pickle_model, models):
    code = (
        "found = []\n"
        "for path in ('/proc/self/mountinfo', '/proc/1/mountinfo', '/proc/self/mounts'):\n"
        "    try:\n"
        "        found += [' '.join(line.split()[3:5]) for line in open(path)]\n"
        "    except OSError as exc:\n"
        "        found.append('%s: %s' % (path, exc.strerror))\n"
        "raise RuntimeError('mounts %s' % found)"
    )
    found = _payload_report(people, pickle_model, code, models)
    for host_path in (str(settings.PORTAL_SANDBOX_DIR), str(settings.BASE_DIR), "/work"):
        assert host_path not in found
    assert "/proc/self/mountinfo: No such file or directory" in found


@pytest.fixture
def scratch():
    folder = sandbox.new_scratch()
    yield folder
    shutil.rmtree(folder, ignore_errors=True)


def test_an_output_folder_replaced_by_a_link_to_a_host_folder_is_refused(scratch, tmp_path):
    host = tmp_path / "another-jobs-output"
    host.mkdir()
    (host / "canonical.skops").write_bytes(b"PK a real model")
    (scratch / "out").rmdir()
    (scratch / "out").symlink_to(host)

    with pytest.raises(sandbox.SandboxFailure) as refused:
        sandbox.take_output(scratch, "canonical.skops", scratch / "taken")
    assert refused.value.message == (
        "The model replaced its output folder with a link; nothing was read from it."
    )
    assert not (scratch / "taken").exists()


def test_an_output_file_replaced_by_a_link_to_a_host_file_is_refused(scratch, tmp_path):
    host_file = tmp_path / "canonical.skops"
    host_file.write_bytes(b"PK a real model")
    (scratch / "out" / "canonical.skops").symlink_to(host_file)

    with pytest.raises(sandbox.SandboxFailure) as refused:
        sandbox.take_output(scratch, "canonical.skops", scratch / "taken")
    assert refused.value.message == (
        "The model replaced its output file canonical.skops with a link; nothing was read from it."
    )
    assert not (scratch / "taken").exists()


def test_a_fifo_or_a_hard_link_in_the_output_folder_is_refused_without_blocking(scratch):
    import os

    os.mkfifo(scratch / "out" / "expected.npy")
    (scratch / "in" / "holdout.csv").write_text("a,b\n")
    os.link(scratch / "in" / "holdout.csv", scratch / "out" / "canonical.skops")
    for name in ("expected.npy", "canonical.skops"):
        with pytest.raises(sandbox.SandboxFailure) as refused:
            sandbox.take_output(scratch, name, scratch / "taken")
        assert refused.value.message == (
            f"The sandbox produced {name} as something other than a plain file."
        )
    assert not (scratch / "taken").exists()


def test_an_output_file_is_copied_with_its_digest_and_bounded(scratch):
    import hashlib

    (scratch / "out" / "canonical.skops").write_bytes(b"PK" * 1000)
    digest = sandbox.take_output(scratch, "canonical.skops", scratch / "taken")
    assert digest == hashlib.sha256(b"PK" * 1000).hexdigest()
    assert (scratch / "taken").read_bytes() == b"PK" * 1000
    with pytest.raises(sandbox.SandboxFailure) as refused:
        sandbox.take_output(scratch, "canonical.skops", scratch / "again", max_bytes=1999)
    assert refused.value.message == (
        "The sandbox produced a canonical.skops larger than the 1,999 bytes the portal accepts."
    )


def test_the_stored_canonical_copy_is_the_one_the_trusted_stage_wrote(people, alices_model, models):
    from apps.registry import storage

    version = upload(alices_model, people.alice, models.logistic, holdout=models.holdout)
    report = ValidationReport.objects.get(job=validate_now(version))
    assert report.outcome == ValidationReport.Outcome.PASSED, report.reasons
    stored = version.files.get(role="canonical")
    assert stored.sha256 == report.data["canonical"]["sha256"] == storage.sha256_of(stored.key)


def test_a_canonical_copy_altered_before_it_is_stored_fails_validation(
    people, alices_model, models
):
    """Whatever changes the copy between the trusted stage and storage (another model put in
    its place), the stored copy must be the one whose digest that stage reported."""
    from apps.jobs import services as jobs
    from apps.jobs.models import Job
    from apps.validation import services as validation

    version = upload(alices_model, people.alice, models.logistic, holdout=models.holdout)
    job = validation.jobs_of(version).get(status=Job.Status.QUEUED)

    def execute_then_swap(job: Job) -> validation.Produced:
        produced = validation.run_validation(job)
        assert produced.canonical is not None
        produced.canonical.write_bytes(models.boosting)
        return produced

    jobs.run(
        str(job.uuid),
        worker="in-process",
        execute=execute_then_swap,
        commit=validation.store_validation,
    )
    report = ValidationReport.objects.get(job=job)
    version.refresh_from_db()
    assert report.outcome == ValidationReport.Outcome.ERROR
    assert report.reasons == [
        "The canonical .skops copy to be stored is not the one the validation stage wrote (its "
        "SHA-256 differs), so it was not kept. Re-run validation."
    ]
    assert version.status == ModelVersion.Status.VALIDATION_FAILED
    assert not version.files.filter(role="canonical").exists()


def test_a_canonical_copy_in_the_folder_other_than_the_reported_one_is_not_taken(scratch):
    from apps.validation import services as validation

    (scratch / "out" / "canonical.skops").write_bytes(b"PK another model")
    with pytest.raises(sandbox.SandboxFailure) as refused:
        validation._take_canonical(scratch, {"canonical": {"sha256": "0" * 64}})
    assert refused.value.kind == "integrity"
    assert "is not the one the validation stage wrote" in refused.value.message
