"""The sandboxed validation process. Run as a script: ``python -I child.py`` in its scratch folder.

It reads ``job.json`` from the current folder, lowers its own privileges and limits before it opens
anything uploaded, and writes exactly one JSON object to the file descriptor that was its stdout.
Progress goes to stderr as ``@@progress {...}`` lines. Whatever an opened model prints lands on
stderr too, so it can never be taken for the result.

Two modes:
- ``convert`` opens a pickle or joblib artifact (untrusted code may run here, which is why this
  stage exists at all) and writes ``out/canonical.skops`` plus predictions on sample rows;
- ``validate`` opens a ``.skops`` file with the trusted-type allowlist, writes its canonical copy,
  checks the copy predicts the same, and computes the report; checks whether the model answers
  the same from a float array as from its DataFrame (``answers.py``: serving then gives it
  arrays, without pandas); then, in a forked process of its own, converts the model to ONNX for
  the serving fast path and writes ``out/model.onnx`` if the converted model answers like it on
  the whole holdout (``fastpath.py``). No uploaded code runs in this stage, so its result can be
  trusted.
"""

from __future__ import annotations

import contextlib
import ctypes
import hashlib
import importlib
import json
import os
import resource
import sys
from pathlib import Path
from typing import Any

_PR_SET_NO_NEW_PRIVS = 38
_PR_CAPBSET_READ = 23
_PR_CAPBSET_DROP = 24
_CAPABILITY_VERSION_3 = 0x20080522
_CAPABILITIES = range(64)  # past the kernel's last one, prctl answers EINVAL


def _empty_bounding_set(libc: ctypes.CDLL) -> None:
    """Drop every capability from the bounding set (takes CAP_SETPCAP), so that nothing this
    process or its children execute can ever gain one back."""
    for cap in _CAPABILITIES:
        if libc.prctl(_PR_CAPBSET_DROP, cap, 0, 0, 0) != 0 and ctypes.get_errno() != 22:
            raise SystemExit(f"could not drop capability {cap} from the bounding set")


def _clear_capabilities(libc: ctypes.CDLL) -> None:
    """Effective, permitted and inheritable sets to nothing (lowering needs no privilege)."""
    header = (ctypes.c_uint32 * 2)(_CAPABILITY_VERSION_3, 0)
    data = (ctypes.c_uint32 * 6)()
    if libc.capset(header, data) != 0:
        raise SystemExit("could not clear the capability sets")


def _check_no_capabilities(libc: ctypes.CDLL) -> None:
    held = [cap for cap in _CAPABILITIES if libc.prctl(_PR_CAPBSET_READ, cap, 0, 0, 0) == 1]
    header = (ctypes.c_uint32 * 2)(_CAPABILITY_VERSION_3, 0)
    data = (ctypes.c_uint32 * 6)()
    if held or libc.capget(header, data) != 0 or any(data):
        raise SystemExit(f"the sandbox still holds capabilities (bounding set {held})")


def _lock_down(spec: dict[str, Any]) -> None:
    """Give up privileges and set the limits. Runs before any uploaded file is opened."""
    libc = ctypes.CDLL(None, use_errno=True)
    uid = spec.get("drop_to_uid")
    if uid is not None and os.getuid() == 0:
        os.setgroups([])
        os.setgid(uid)
        _empty_bounding_set(libc)
        os.setuid(uid)  # clears the effective and permitted capabilities
        if os.getuid() == 0:
            raise SystemExit("could not drop root privileges")
    if spec.get("isolated"):
        _clear_capabilities(libc)
        _check_no_capabilities(libc)
    libc.prctl(_PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0)  # no setuid program can give them back
    limits = spec["limits"]
    memory = limits["memory_mb"] * 2**20
    resource.setrlimit(resource.RLIMIT_AS, (memory, memory))
    resource.setrlimit(resource.RLIMIT_CPU, (limits["cpu_seconds"], limits["cpu_seconds"] + 5))
    size = limits["file_mb"] * 2**20
    resource.setrlimit(resource.RLIMIT_FSIZE, (size, size))
    resource.setrlimit(resource.RLIMIT_NPROC, (limits["processes"], limits["processes"]))
    resource.setrlimit(resource.RLIMIT_NOFILE, (limits["open_files"], limits["open_files"]))
    resource.setrlimit(resource.RLIMIT_CORE, (0, 0))
    # One BLAS thread: predictable on a shared worker, and fewer processes against the limit.
    for name in ("OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS", "MKL_NUM_THREADS"):
        os.environ[name] = "1"


def _peak_memory_mb() -> float | None:
    """This process's own peak resident memory (VmHWM). Inside bubblewrap there is no /proc, and
    ru_maxrss is the child's own (bubblewrap started it); without bubblewrap the child starts
    from the worker, whose resident size ru_maxrss carries over, so /proc is read there."""
    try:
        for line in Path("/proc/self/status").read_text().splitlines():
            if line.startswith("VmHWM:"):
                return round(int(line.split()[1]) / 1024, 1)
    except OSError:
        return round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 1)
    return None


def _sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        while chunk := handle.read(2**20):
            digest.update(chunk)
    return digest.hexdigest()


def progress(percent: int, step: str) -> None:
    print(
        "@@progress " + json.dumps({"percent": percent, "step": step}), file=sys.stderr, flush=True
    )


def _same(a: Any, b: Any) -> bool:
    import numpy as np

    return bool(a.shape == b.shape and np.allclose(a, b, rtol=1e-9, atol=1e-12, equal_nan=True))


def convert(spec: dict[str, Any]) -> dict[str, Any]:
    import numpy as np

    report = importlib.import_module("engine.report")
    trusted = importlib.import_module("engine.trusted")

    progress(10, "Opening the pickle in the sandbox")
    estimator = trusted.load_untrusted(Path(spec["artifact"]["path"]), spec["artifact"]["format"])
    Path("out").mkdir(exist_ok=True)
    trusted.dump_skops(estimator, Path("out/canonical.skops"))
    holdout = report.read_frame(Path(spec["holdout"]["path"]), spec["holdout"]["format"])
    names = getattr(estimator, "feature_names_in_", None)
    if names is not None:
        sample = holdout[[str(n) for n in names]].head(spec["check_rows"])
    else:  # the same columns, in the same order, that validation will give the model
        dropped = [c for c in (spec["target"], spec.get("sensitive")) if c]
        sample = holdout.drop(columns=dropped).head(spec["check_rows"])
    np.save("out/expected.npy", report.predictions_for_check(estimator, sample), allow_pickle=False)
    return {}


def validate(spec: dict[str, Any]) -> dict[str, Any]:
    import numpy as np

    report = importlib.import_module("engine.report")
    trusted = importlib.import_module("engine.trusted")

    archive = spec["archive"]
    extra = spec.get("trusted_types", [])
    progress(10, "Checking the model file")
    artifact = Path(spec["artifact"]["path"])
    trusted.check_archive(
        artifact, max_members=archive["max_members"], max_total_bytes=archive["max_total_bytes"]
    )
    progress(15, "Loading the model with the trusted-type allowlist")
    estimator = trusted.load_skops(artifact, extra_trusted=extra)
    progress(20, "Reading the holdout")
    holdout = report.read_frame(Path(spec["holdout"]["path"]), spec["holdout"]["format"])
    reference = None
    if spec.get("reference"):
        reference = report.read_frame(Path(spec["reference"]["path"]), spec["reference"]["format"])
    champion = None
    if spec.get("champion"):
        champion_path = Path(spec["champion"]["path"])
        trusted.check_archive(
            champion_path,
            max_members=archive["max_members"],
            max_total_bytes=archive["max_total_bytes"],
        )
        champion = trusted.load_skops(champion_path, extra_trusted=extra)

    built = report.build(
        estimator,
        holdout=holdout,
        target=spec["target"],
        reference=reference,
        sensitive=spec.get("sensitive"),
        champion=champion,
        progress=progress,
    )

    progress(93, "Writing and checking the canonical .skops copy")
    features = [f["name"] for f in built["signature"]["features"]]
    sample = holdout[features].head(spec["check_rows"])
    before = report.predictions_for_check(estimator, sample)
    Path("out").mkdir(exist_ok=True)
    trusted.dump_skops(estimator, Path("out/canonical.skops"))
    reloaded = trusted.load_skops(Path("out/canonical.skops"), extra_trusted=extra)
    after = report.predictions_for_check(reloaded, sample)
    matches = _same(before, after)
    if spec.get("expected_predictions"):
        matches = matches and _same(
            np.load(spec["expected_predictions"], allow_pickle=False), after
        )
    if not matches:
        raise report.ValidationProblem(
            "The canonical .skops copy does not predict the same as the uploaded model, so it "
            "cannot be deployed in its place.",
            "model",
        )
    # The digest of the copy this stage wrote, over this stage's own channel: the worker stores
    # the copy only if what it takes out of the folder has this digest.
    built["canonical"] = {
        "predictions_match": True,
        "rows_checked": len(sample),
        "sha256": _sha256(Path("out/canonical.skops")),
    }
    progress(95, "Checking the model answers the same from an array as from its DataFrame")
    arrays = _array_check(estimator, built, holdout)
    progress(96, "Converting to ONNX for the serving fast path")
    built["peak_memory_mb"] = _peak_memory_mb()
    built["serving_path"] = {**_fast_path(estimator, built, holdout), "arrays": arrays}
    return {"report": built}


def _array_check(estimator: Any, built: dict[str, Any], holdout: Any) -> dict[str, Any]:
    """``answers.array_check``: whether serving may give the model its rows as one float array
    (on scikit-learn), decided here once so that a serving process need not import pandas to
    find out. Never fails the validation: undecided, serving tries the model when it loads it."""
    answers = importlib.import_module("engine.answers")
    try:
        return dict(
            answers.array_check(
                estimator, task=built["task"], signature=built["signature"], holdout=holdout
            )
        )
    except MemoryError:
        reason = "the check needed more memory than the sandbox allows"
    except Exception as exc:  # written down for the report, never raised
        reason = f"the check failed ({type(exc).__name__}: {exc})"[:300]
    return {"takes_arrays": None, "reason": reason}


# How long the ONNX conversion and its check may take, and the most its result may weigh.
FAST_PATH_SECONDS = 120
_FAST_PATH_RESULT_BYTES = 2**20


def _fast_path(estimator: Any, built: dict[str, Any], holdout: Any) -> dict[str, Any]:
    """``fastpath.check`` in a forked process of its own, so that nothing it does (a crash of
    onnxruntime's native code, memory past the limit, a conversion that never ends) can fail the
    validation: the version then serves on scikit-learn, and the report says why.

    The fork is this same trusted stage (no uploaded code runs here), so ``out/model.onnx`` is
    what it wrote; its SHA-256 goes back over this stage's own channel, like the canonical copy's.
    """
    import signal
    import time

    out, result = Path("out"), Path("fastpath.json")
    started = time.perf_counter()
    pid = os.fork()
    if pid == 0:  # the conversion's own process: it never returns into the caller's code
        code = 1
        try:
            fastpath = importlib.import_module("engine.fastpath")
            written = fastpath.check(
                estimator,
                task=built["task"],
                signature=built["signature"],
                holdout=holdout,
                out=out,
            )
            written["peak_memory_mb"] = _peak_memory_mb()
            result.write_text(json.dumps(written, allow_nan=False))
            code = 0
        except MemoryError:
            code = 3
        except BaseException as exc:  # written down for the report, never raised
            with contextlib.suppress(BaseException):  # nothing left to tell anyone with
                result.write_text(json.dumps({"error": f"{type(exc).__name__}: {exc}"[:300]}))
        finally:
            os._exit(code)
    deadline = started + FAST_PATH_SECONDS
    status = None
    while status is None:
        done, raw = os.waitpid(pid, os.WNOHANG)
        if done:
            status = raw
        elif time.perf_counter() > deadline:
            os.kill(pid, signal.SIGKILL)
            os.waitpid(pid, 0)
            break
        else:
            time.sleep(0.02)
    record: dict[str, Any] = {}
    if status is not None and os.WIFEXITED(status) and os.WEXITSTATUS(status) == 0:
        try:
            with open(result, "rb") as handle:
                found = json.loads(handle.read(_FAST_PATH_RESULT_BYTES))
            record = found if isinstance(found, dict) else {}
        except (OSError, ValueError):
            record = {}
    if status is None:
        reason = f"the ONNX conversion took longer than {FAST_PATH_SECONDS} s and was stopped"
    elif os.WIFEXITED(status) and os.WEXITSTATUS(status) == 3:
        reason = "the ONNX conversion needed more memory than the sandbox allows"
    elif os.WIFSIGNALED(status):
        reason = f"the ONNX conversion stopped unexpectedly (signal {os.WTERMSIG(status)})"
    elif "error" in record or not record:
        detail = str(record.get("error", "no result"))
        reason = f"the ONNX conversion failed ({detail})"
    else:
        reason = ""
    onnx = out / "model.onnx"
    if reason or record.get("path") != "onnx" or not onnx.is_file():
        onnx.unlink(missing_ok=True)
        kept = {k: v for k, v in record.items() if k != "error"}
        record = {**kept, "path": "scikit-learn", "reason": reason or kept.get("reason", "")}
        if not record["reason"]:
            record["reason"] = "the ONNX conversion produced no model"
    else:
        record["sha256"] = _sha256(onnx)
    record["seconds"] = round(time.perf_counter() - started, 3)
    return record


def main() -> None:
    # The result goes to the original stdout only; from here on fd 1 is stderr, so that anything
    # a model prints cannot pass for the result.
    result_fd = os.dup(1)
    os.dup2(2, 1)
    spec = json.loads(Path("job.json").read_text())
    _lock_down(spec)
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
    report = importlib.import_module("engine.report")
    trusted = importlib.import_module("engine.trusted")

    try:
        outcome = {"ok": True, **(convert(spec) if spec["mode"] == "convert" else validate(spec))}
    except MemoryError:
        outcome = {
            "ok": False,
            "kind": "limit",
            "error": (
                f"Validation needed more than {spec['limits']['memory_mb']} MB of memory, the "
                "sandbox's limit."
            ),
        }
    except report.ValidationProblem as problem:
        outcome = {"ok": False, "kind": problem.kind, "error": problem.message}
    except trusted.UnsafeModel as unsafe:
        outcome = {"ok": False, "kind": "unsafe", "error": str(unsafe)}
    except BaseException as exc:  # anything an uploaded model raises while loading or scoring
        outcome = {"ok": False, "kind": "error", "error": f"{type(exc).__name__}: {exc}"[:2000]}
    with os.fdopen(result_fd, "w") as out:
        json.dump(outcome, out, allow_nan=False)


if __name__ == "__main__":
    main()
