"""Running the validation engine in a sandboxed child process (worker side).

With bubblewrap the child gets: no network (its own network namespace: the host's loopback, where
the database and broker listen, does not exist there), its own PID namespace, a read-only view of
the system and the Python installation only (not the portal's code, settings or data), a private
writable scratch folder, no /proc, an empty environment, no capabilities (an empty bounding set
too), a seccomp filter (``seccomp.py``), uid 65534, and resource limits. The worker kills its
whole process group at the wall-clock limit, and takes files out of the scratch folder through a
walk that refuses links (``take_output``).

Without bubblewrap (or where the kernel refuses namespaces) the child still runs with the limits,
an empty environment and its own scratch folder, but pickle formats are refused: only `.skops`
files, opened with a type allowlist, are validated there.
"""

from __future__ import annotations

import contextlib
import functools
import hashlib
import json
import logging
import os
import re
import selectors
import shutil
import signal
import stat
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Iterator
from dataclasses import asdict, dataclass
from pathlib import Path, PurePosixPath
from typing import Any

from django.conf import settings

from apps.validation import seccomp

logger = logging.getLogger(__name__)

ENGINE_DIR = Path(__file__).resolve().parent / "engine"
SANDBOX_ENGINE = "/opt/portal/engine"
SANDBOX_SCRATCH = "/scratch"
NOBODY = 65534
MAX_RESULT_BYTES = 64 * 2**20


@dataclass(frozen=True)
class Limits:
    memory_mb: int
    cpu_seconds: int
    wall_seconds: int
    file_mb: int
    processes: int
    open_files: int

    @classmethod
    def from_settings(cls) -> Limits:
        return cls(**settings.PORTAL_SANDBOX_LIMITS)


@dataclass(frozen=True)
class Isolation:
    isolated: bool
    reason: str


class SandboxFailure(Exception):
    """Validation could not finish; ``message`` is written for the data scientist."""

    def __init__(self, message: str, kind: str = "error") -> None:
        super().__init__(message)
        self.message = message
        self.kind = kind


def _python_paths() -> list[str]:
    """What the child needs to run this interpreter and its packages, and nothing more."""
    paths = {sys.prefix, sys.base_prefix, str(Path(sys.executable).resolve().parent.parent)}
    return sorted(p for p in paths if not p.startswith("/usr/"))


@contextlib.contextmanager
def _seccomp_program() -> Iterator[int]:
    """A file descriptor holding the seccomp filter, for bubblewrap's ``--seccomp``."""
    with tempfile.TemporaryFile() as program:
        program.write(seccomp.program())
        program.flush()
        program.seek(0)
        yield program.fileno()


def _bwrap_command(scratch: Path, argv: list[str], *, seccomp_fd: int) -> list[str]:
    as_root = os.geteuid() == 0
    command = [
        "bwrap",
        "--die-with-parent",
        "--new-session",
        "--unshare-net",
        "--unshare-pid",
        "--unshare-ipc",
        "--unshare-uts",
        "--unshare-cgroup-try",
        "--cap-drop",
        "ALL",
    ]
    if as_root:
        # Namespaces as real root, then the child drops to uid 65534 itself: only a non-root uid
        # is held to RLIMIT_NPROC, and it can still read a Python installed under /root. It
        # empties its capability bounding set first (bwrap leaves it full for root), which
        # takes CAP_SETPCAP.
        command += ["--cap-add", "CAP_SETUID", "--cap-add", "CAP_SETGID"]
        command += ["--cap-add", "CAP_SETPCAP"]
    else:
        command += ["--unshare-user", "--uid", str(NOBODY), "--gid", str(NOBODY)]
    # The sandbox's own empty /tmp first: a Python installed under /tmp (a checkout there) is
    # bound on top of it below, not hidden by it.
    command += ["--tmpfs", "/tmp", "--ro-bind", "/usr", "/usr"]  # noqa: S108
    for name in ("bin", "lib", "lib64", "sbin"):
        top = Path("/") / name
        if top.is_symlink():
            command += ["--symlink", os.readlink(top), str(top)]
        elif top.is_dir():
            command += ["--ro-bind", str(top), str(top)]
    binds = [*_python_paths(), SANDBOX_ENGINE]
    created: list[str] = []
    for target in binds:  # bwrap creates missing parents as 0700; uid 65534 must traverse them
        for parent in reversed(PurePosixPath(target).parents):
            if str(parent) != "/" and str(parent) not in created:
                created.append(str(parent))
                command += ["--perms", "0755", "--dir", str(parent)]
    for path in _python_paths():
        command += ["--ro-bind", path, path]
    command += [
        "--ro-bind",
        str(ENGINE_DIR),
        SANDBOX_ENGINE,
        "--bind",
        str(scratch),
        SANDBOX_SCRATCH,
        # out/ is a mount point of its own inside: the child cannot rename or remove it, so it
        # cannot put a link to a host folder in its place (the worker's walk refuses one anyway).
        "--bind",
        str(scratch / "out"),
        f"{SANDBOX_SCRATCH}/out",
        "--chdir",
        SANDBOX_SCRATCH,
        "--dev",
        "/dev",
        # No /proc: its mountinfo names the host folders bound here (the scratch folder's path
        # above all, what a link to a host folder would aim at), and nothing in the engine needs it.
        "--seccomp",
        str(seccomp_fd),
        *argv,
    ]
    return command


@functools.cache
def isolation() -> Isolation:
    """Whether this host can isolate the child (probed once per process)."""
    if not settings.PORTAL_SANDBOX_ISOLATION:
        return Isolation(False, "isolation is switched off (PORTAL_SANDBOX_ISOLATION=0)")
    if shutil.which("bwrap") is None:
        return Isolation(False, "bubblewrap (bwrap) is not installed on the worker")
    scratch = Path(tempfile.mkdtemp(prefix="probe-", dir=_scratch_root()))
    (scratch / "out").mkdir()
    try:
        with _seccomp_program() as seccomp_fd:
            result = subprocess.run(  # noqa: S603 - fixed command, no shell
                _bwrap_command(
                    scratch, [sys.executable, "-I", "-c", "pass"], seccomp_fd=seccomp_fd
                ),
                env={},
                capture_output=True,
                text=True,
                timeout=60,
                check=False,
                pass_fds=(seccomp_fd,),
            )
    except (OSError, subprocess.TimeoutExpired) as exc:
        return Isolation(False, f"bubblewrap could not start: {exc}")
    finally:
        shutil.rmtree(scratch, ignore_errors=True)
    if result.returncode != 0:
        detail = result.stderr.strip().splitlines()[-1:] or ["no message"]
        return Isolation(False, f"this kernel refuses the sandbox's namespaces ({detail[0]})")
    return Isolation(
        True,
        "bubblewrap: no network, read-only system, private scratch folder, "
        "uid 65534, no capabilities, seccomp filter, resource limits",
    )


def _scratch_root() -> Path:
    root = Path(settings.PORTAL_SANDBOX_DIR)
    root.mkdir(parents=True, exist_ok=True)
    root.chmod(0o711)  # others may enter a scratch folder they know the random name of, not list
    return root


def _remove_abandoned_scratch(root: Path) -> None:
    """Scratch folders of attempts that died with their worker (kill -9, a crashed machine).

    Each holds copies of a version's files; nothing removes them when the worker is killed. A
    folder untouched for twice a validation's time limit belongs to no running attempt.
    """
    cutoff = time.time() - 2 * settings.PORTAL_VALIDATION_TIME_LIMIT
    for folder in root.glob("validation-*"):
        with contextlib.suppress(OSError):
            if folder.is_dir() and not folder.is_symlink() and folder.stat().st_mtime < cutoff:
                shutil.rmtree(folder, ignore_errors=True)


# ``validation-<job uuid>-a<attempt>-<random>``: the attempt a scratch folder belongs to.
OWNED = re.compile(r"^validation-(?P<job>[0-9a-f-]{36})-a(?P<attempt>[0-9]+)-")


def owner_of(scratch: Path) -> str:
    """The ``<job uuid>-a<attempt>`` a scratch folder was made for ("" if none)."""
    found = OWNED.match(scratch.name)
    return f"{found['job']}-a{found['attempt']}" if found else ""


def owned_scratch() -> dict[tuple[str, int], list[Path]]:
    """This host's scratch folders, by the (job uuid, attempt) that made them."""
    found: dict[tuple[str, int], list[Path]] = {}
    for folder in _scratch_root().glob("validation-*"):
        if (owned := OWNED.match(folder.name)) and folder.is_dir() and not folder.is_symlink():
            found.setdefault((owned["job"], int(owned["attempt"])), []).append(folder)
    return found


def new_scratch(owner: str = "") -> Path:
    """A private scratch folder for one attempt. ``owner`` (``<job uuid>-a<attempt>``) names it,
    so that the folders of an attempt whose process died are removed as soon as the attempt is
    over (``validation.services.remove_scratch_of_ended_attempts``, run by the worker's
    heartbeat), not after twice the time limit."""
    _remove_abandoned_scratch(_scratch_root())
    prefix = f"validation-{owner}-" if owner else "validation-"
    scratch = Path(tempfile.mkdtemp(prefix=prefix, dir=_scratch_root()))
    # bwrap enters the folder as root without capabilities, so "others" need to traverse it.
    scratch.chmod(0o755)
    (scratch / "in").mkdir(mode=0o755)
    (scratch / "out").mkdir(mode=0o755)
    return scratch


def _describe(name: str, dir_fd: int) -> str:
    """What stands at ``name`` in the folder ``dir_fd``, for a refusal's message."""
    try:
        found = os.stat(name, dir_fd=dir_fd, follow_symlinks=False)
    except OSError:
        return "missing"
    return "link" if stat.S_ISLNK(found.st_mode) else "other"


def take_output(scratch: Path, name: str, destination: Path, max_bytes: int | None = None) -> str:
    """Copy ``out/<name>`` out of a scratch folder the sandbox wrote in, and return its SHA-256.

    Code in an uploaded model may have replaced ``out/`` or the file with a symbolic link to a
    host folder or file (another job's output, say), a FIFO that blocks the worker, a hard link,
    or something larger than any model. So the walk opens each component relative to the one
    before, never following a link (``O_NOFOLLOW`` at every step, the folder with
    ``O_DIRECTORY``), checks what it opened with ``fstat`` before a byte is read, and reads at
    most ``max_bytes``. ``destination`` is created, never opened if it exists.
    """
    limit = max_bytes if max_bytes is not None else settings.PORTAL_SKOPS_MAX_BYTES
    nofollow = os.O_RDONLY | os.O_NOFOLLOW | os.O_CLOEXEC
    root = os.open(scratch, nofollow | os.O_DIRECTORY)
    try:
        try:
            folder = os.open("out", nofollow | os.O_DIRECTORY, dir_fd=root)
        except OSError:
            if _describe("out", root) == "link":
                raise SandboxFailure(
                    "The model replaced its output folder with a link; nothing was read from it.",
                    "unsafe",
                ) from None
            raise SandboxFailure("The sandbox left no output folder.") from None
        try:
            try:
                fd = os.open(name, nofollow | os.O_NONBLOCK, dir_fd=folder)
            except OSError as exc:
                if _describe(name, folder) == "link":
                    raise SandboxFailure(
                        f"The model replaced its output file {name} with a link; nothing was "
                        "read from it.",
                        "unsafe",
                    ) from None
                raise SandboxFailure(
                    f"The sandbox did not produce {name} as a plain file ({exc.strerror})."
                ) from None
        finally:
            os.close(folder)
    finally:
        os.close(root)
    with os.fdopen(fd, "rb") as handle:
        found = os.fstat(handle.fileno())
        if not stat.S_ISREG(found.st_mode) or found.st_nlink != 1:
            raise SandboxFailure(
                f"The sandbox produced {name} as something other than a plain file.", "unsafe"
            )
        if found.st_size > limit:
            raise SandboxFailure(
                f"The sandbox produced a {name} larger than the {limit:,} bytes the portal accepts."
            )
        digest = hashlib.sha256()
        written = 0
        target_fd = os.open(
            destination, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW | os.O_CLOEXEC, 0o600
        )
        try:
            with os.fdopen(target_fd, "wb") as target:
                while chunk := handle.read(2**20):
                    written += len(chunk)
                    if written > limit:  # grown since fstat: something still writes there
                        raise SandboxFailure(f"The sandbox produced a {name} that kept growing.")
                    digest.update(chunk)
                    target.write(chunk)
        except BaseException:
            destination.unlink(missing_ok=True)
            raise
    return digest.hexdigest()


def _interpret_exit(
    code: int, limits: Limits, stderr_tail: list[str], timed_out: bool
) -> tuple[str, str]:
    """A sentence for the data scientist, and whether a limit ("limit") or a crash ("error")."""
    if timed_out:
        return (
            f"Validation ran longer than {limits.wall_seconds} s and was stopped (the "
            "sandbox's wall-clock limit).",
            "limit",
        )
    signals = {
        signal.SIGXCPU: f"used more than {limits.cpu_seconds} s of CPU time",
        signal.SIGXFSZ: f"tried to write a file larger than {limits.file_mb} MB",
        signal.SIGKILL: (
            f"was killed by the system, past its CPU-time limit ({limits.cpu_seconds} s) or out "
            "of memory"
        ),
    }
    number = -code if code < 0 else code - 128 if code > 128 else 0
    for sig, what in signals.items():
        if number == sig:
            return f"Validation {what}, and was stopped at the sandbox's limit.", "limit"
    detail = "; ".join(stderr_tail[-3:]) or "no message"
    return f"The validation process stopped unexpectedly (exit code {code}): {detail}", "error"


def run(
    spec: dict[str, Any],
    scratch: Path,
    *,
    limits: Limits,
    on_progress: Callable[[int, str], None] | None = None,
) -> dict[str, Any]:
    """Run one stage of the engine in ``scratch`` and return its JSON result."""
    isolated = isolation().isolated
    spec = {
        **spec,
        "limits": asdict(limits),
        "drop_to_uid": NOBODY if isolated and os.geteuid() == 0 else None,
        "isolated": isolated,
    }
    (scratch / "job.json").write_text(json.dumps(spec))
    stderr_tail: list[str] = []
    timed_out = False
    with contextlib.ExitStack() as stack:
        result_file = stack.enter_context(tempfile.TemporaryFile())
        if isolated:
            if os.geteuid() == 0:
                for path in [scratch, *scratch.rglob("*")]:
                    os.chown(path, NOBODY, NOBODY, follow_symlinks=False)
            seccomp_fd = stack.enter_context(_seccomp_program())
            command = _bwrap_command(
                scratch,
                [sys.executable, "-I", "-B", f"{SANDBOX_ENGINE}/child.py"],
                seccomp_fd=seccomp_fd,
            )
            passed: tuple[int, ...] = (seccomp_fd,)
        else:
            command = [sys.executable, "-I", "-B", str(ENGINE_DIR / "child.py")]
            passed = ()
        process = subprocess.Popen(  # noqa: S603 - fixed command, no shell
            command,
            stdin=subprocess.DEVNULL,
            stdout=result_file,
            stderr=subprocess.PIPE,
            env={},
            cwd=scratch,
            start_new_session=True,
            pass_fds=passed,
        )
        assert process.stderr is not None
        deadline = time.monotonic() + limits.wall_seconds
        selector = selectors.DefaultSelector()
        selector.register(process.stderr, selectors.EVENT_READ)
        buffer = b""
        try:
            while True:
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    timed_out = True
                    break
                if not selector.select(timeout=min(remaining, 1.0)):
                    continue
                chunk = os.read(process.stderr.fileno(), 65536)
                if not chunk:  # stderr closed: the child is exiting, or hiding; the clock runs on
                    try:
                        process.wait(timeout=max(deadline - time.monotonic(), 0))
                    except subprocess.TimeoutExpired:
                        timed_out = True
                    break
                buffer += chunk
                *lines, buffer = buffer.split(b"\n")
                buffer = buffer[-65536:]  # a process printing without newlines stays bounded
                for raw in lines:
                    line = raw.decode("utf-8", "replace").rstrip()
                    if line.startswith("@@progress ") and on_progress is not None:
                        try:
                            update = json.loads(line.removeprefix("@@progress "))
                            on_progress(int(update["percent"]), str(update["step"])[:200])
                        except (ValueError, KeyError, TypeError):
                            pass
                    elif line:
                        stderr_tail = [*stderr_tail[-29:], line[:500]]
            if timed_out:
                with contextlib.suppress(ProcessLookupError):
                    os.killpg(process.pid, signal.SIGKILL)
            process.wait()
        except BaseException:
            # The worker is shutting down or the job was lost: take the whole sandbox down too.
            with contextlib.suppress(ProcessLookupError):
                os.killpg(process.pid, signal.SIGKILL)
            process.wait()
            raise
        finally:
            selector.close()
            process.stderr.close()
        if process.returncode != 0:
            raise SandboxFailure(
                *_interpret_exit(process.returncode, limits, stderr_tail, timed_out)
            )
        result_file.seek(0)
        raw = result_file.read(MAX_RESULT_BYTES + 1)
    if len(raw) > MAX_RESULT_BYTES:
        raise SandboxFailure("The validation result was larger than the portal accepts.")
    try:
        result = json.loads(raw)
    except ValueError:
        raise SandboxFailure(
            "The validation process returned no readable result: "
            + ("; ".join(stderr_tail[-3:]) or "no message")
        ) from None
    if not isinstance(result, dict) or "ok" not in result:
        raise SandboxFailure("The validation process returned an unexpected result.")
    if not result["ok"]:
        raise SandboxFailure(
            str(result.get("error", "unknown error"))[:2000], str(result.get("kind", "error"))
        )
    return result
