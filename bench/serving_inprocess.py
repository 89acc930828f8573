"""The portal's serving path in one process, no HTTP: where a prediction's time goes.

Run by bench/serving.py after its HTTP measurements, with the portal's environment (the same
``PORTAL_VAR_DIR``, so the same database, live deployment and serving key)::

    .venv/bin/python bench/serving_inprocess.py MODEL ENVIRONMENT KEY ROWS_JSON REPEAT

``ROWS_JSON`` is a file holding ``{"one": [record], "batch": [1000 records]}``. It calls
``mlops_portal.wsgi.application`` (the ``ServingApp`` gunicorn serves) with a WSGI environ built
here, and times each stage of ``apps.deployments.serving.predict`` apart, with the same calls
the handler makes: parsing the body, checking it against the signature, the scorer's
``predict`` and ``predict_proba`` (on a float array or a DataFrame, as it chose), the JSON answer.
It then writes the buffered prediction records the way the background thread does
(``PredictionLog.flush``: one ``bulk_create``) and times that per record, and profiles
single-row requests with cProfile, totalling the time spent inside each library. For
comparison only, it also times the same model work done other ways (the pipeline called twice,
its transforms run once, one ``predict_proba``, scikit-learn's ``assume_finite``, a float array
instead of a DataFrame) on the version's estimator as ``evidence.load_canonical`` loads it:
what the serving code could save or did cost, not necessarily what it does now. Prints one
JSON object. The records it writes go to the benchmark's throw-away database.
"""

from __future__ import annotations

import cProfile
import io
import json
import os
import pstats
import statistics
import sys
import time
import warnings
from collections.abc import Callable
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parent.parent


def sample(call: Callable[[], object], repeat: int) -> dict[str, float]:
    """Median and p99 in milliseconds, after a warm-up of a tenth of ``repeat``."""
    for _ in range(max(1, repeat // 10)):
        call()
    seconds = []
    for _ in range(repeat):
        start = time.perf_counter()
        call()
        seconds.append(time.perf_counter() - start)
    seconds.sort()
    return {
        "median_ms": round(statistics.median(seconds) * 1000, 4),
        "p99_ms": round(seconds[int(0.99 * (len(seconds) - 1))] * 1000, 4),
        "n": repeat,
    }


def library_of(filename: str) -> str:
    """Which library a profiled function belongs to, from its file."""
    if filename.startswith(("~", "<")):
        return "builtins / C functions"
    path = filename.replace("\\", "/")
    if "/site-packages/" in path:
        return path.split("/site-packages/", 1)[1].split("/", 1)[0].removesuffix(".py")
    if path.startswith(str(REPO)):
        return "portal (" + path[len(str(REPO)) + 1 :].split("/", 2)[0] + ")"
    return "python stdlib"


def profile(call: Callable[[], object], calls: int) -> dict[str, Any]:
    profiler = cProfile.Profile()
    profiler.enable()
    for _ in range(calls):
        call()
    profiler.disable()
    stats = pstats.Stats(profiler, stream=io.StringIO())
    raw: dict[tuple[str, int, str], tuple[int, int, float, float, Any]] = stats.stats  # type: ignore[attr-defined]
    total = sum(entry[2] for entry in raw.values())
    by_library: dict[str, float] = {}
    rows: list[dict[str, Any]] = []
    for (filename, line, function), (_, ncalls, tottime, cumtime, _) in raw.items():
        library = library_of(filename)
        by_library[library] = by_library.get(library, 0.0) + tottime
        rows.append(
            {
                "function": f"{Path(filename).name}:{line}({function})",
                "library": library,
                "calls_per_request": round(ncalls / calls, 2),
                "self_ms_per_request": round(tottime / calls * 1000, 4),
                "cumulative_ms_per_request": round(cumtime / calls * 1000, 4),
            }
        )
    rows.sort(key=lambda r: -float(r["self_ms_per_request"]))
    cumulative = sorted(rows, key=lambda r: -float(r["cumulative_ms_per_request"]))
    return {
        "requests": calls,
        "profiled_ms_per_request": round(total / calls * 1000, 4),
        "function_calls_per_request": round(sum(entry[1] for entry in raw.values()) / calls, 1),
        "self_ms_by_library": {
            k: round(v / calls * 1000, 4)
            for k, v in sorted(by_library.items(), key=lambda i: -i[1])
        },
        "top_self": rows[:20],
        "top_cumulative": cumulative[:40],
    }


def estimator_of(live: Any) -> Any:
    """The live version's estimator, loaded the way the portal loads it (not from ``live``,
    whose shape is the serving module's own business)."""
    from apps.deployments.models import Deployment
    from apps.validation.evidence import load_canonical

    return load_canonical(Deployment.objects.get(pk=live.deployment_id).version)


def stage_timings(
    live: Any, body: bytes, key: str, whole: Callable[[], object], count: int
) -> dict[str, dict[str, float]]:
    """Each step apps.deployments.serving makes for a request, timed apart on ``body``."""
    from django.conf import settings

    from apps.audit.context import request_id_from
    from apps.deployments import inputs, serving
    from apps.deployments.models import ServingKey

    max_rows = settings.PORTAL_SERVING_MAX_ROWS
    signature = live.signature
    payload = inputs.parse_body(body)
    answer = serving.predict(live, body, "bench")
    serving.LOG.discard()
    columns = inputs.checked_columns(payload, signature, max_rows)
    rows_as = "float array" if live.score.as_array else "DataFrame"
    # Which scorer the version serves on: onnxruntime (the ONNX fast path) or scikit-learn.
    scored_on = getattr(live.score, "path", "scikit-learn")
    return {
        "whole ServingApp call (no HTTP)": sample(whole, count),
        "parse_body (json.loads)": sample(lambda: inputs.parse_body(body), count),
        "checked_columns (signature check)": sample(
            lambda: inputs.checked_columns(payload, signature, max_rows), count
        ),
        f"live.score(columns) (on {scored_on}, rows as {rows_as})": sample(
            lambda: live.score(columns), count
        ),
        "json.dumps(answer)": sample(lambda: json.dumps(answer).encode(), count),
        "ServingKey.hash(key)": sample(lambda: ServingKey.hash(key), count),
        "request_id_from('')": sample(lambda: request_id_from(""), count),
        "MODELS.get (cached)": sample(
            lambda: serving.MODELS.get(live.model, live.environment), count
        ),
        # What a canary adds to each request: the routing decision (a hash of the key).
        "routes_to_challenger (canary, X-Routing-Key)": sample(
            lambda: serving.routes_to_challenger(live.model, "customer-0012345", 10), count
        ),
        "routes_to_challenger (canary, no key)": sample(
            lambda: serving.routes_to_challenger(live.model, None, 10), count
        ),
    }


def alternatives(live: Any, body: bytes, count: int) -> dict[str, dict[str, float]]:
    """The model work done several ways on the same checked rows, for comparison.

    The first is what the portal did before its Scorer (the pipeline's ``predict`` and
    ``predict_proba``, each converting and checking the DataFrame again); the others are what
    could be done instead. The array ones hand the pipeline a float array in the signature's
    feature order (names and values already checked), with the warning scikit-learn raises for
    an array without feature names filtered out.
    """
    import numpy as np
    import pandas as pd
    import sklearn

    estimator = estimator_of(live)
    features = [f["name"] for f in live.signature["features"]]
    records = json.loads(body)
    columns = {name: [float(r[name]) for r in records] for name in features}
    frame = pd.DataFrame(columns, columns=features)
    array = frame.to_numpy(dtype=float)
    final = estimator[-1] if hasattr(estimator, "steps") else estimator
    transforms = estimator[:-1] if hasattr(estimator, "steps") and len(estimator) > 1 else None

    def both_trusted() -> None:
        with sklearn.config_context(assume_finite=True, skip_parameter_validation=True):
            estimator.predict(frame)
            estimator.predict_proba(frame)

    def transforms_once() -> None:
        prepared = frame if transforms is None else transforms.transform(frame)
        final.predict(prepared)
        final.predict_proba(prepared)

    def proba_once() -> None:
        proba = estimator.predict_proba(frame)
        estimator.classes_[proba.argmax(axis=1)]

    def array_transforms_once() -> None:
        built = np.array([columns[n] for n in features], dtype=float).T
        prepared = built if transforms is None else transforms.transform(built)
        final.predict(prepared)
        final.predict_proba(prepared)

    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", message="X does not have valid feature names")
        return {
            "pipeline predict(frame) + predict_proba(frame)": sample(
                lambda: (estimator.predict(frame), estimator.predict_proba(frame)), count
            ),
            "same, under sklearn.config_context(assume_finite=True)": sample(both_trusted, count),
            "transforms once, final step predict + predict_proba": sample(transforms_once, count),
            "pipeline predict_proba(frame) once + classes_[argmax]": sample(proba_once, count),
            "float array from the columns, transforms once, predict + proba": sample(
                array_transforms_once, count
            ),
            "pipeline predict_proba(array) alone": sample(
                lambda: estimator.predict_proba(array), count
            ),
            "pandas.DataFrame(columns) alone": sample(
                lambda: pd.DataFrame(columns, columns=features), count
            ),
        }


def main(model: str, environment: str, key: str, rows_json: str, repeat_text: str) -> int:
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "mlops_portal.settings")
    sys.path.insert(0, str(REPO))
    import django

    django.setup()
    from django.conf import settings

    from apps.deployments import serving
    from apps.deployments.models import PredictionLog
    from mlops_portal.wsgi import application

    repeat = int(repeat_text)
    rows = json.loads(Path(rows_json).read_text())
    path = f"/serve/{model}/{environment}/predict"
    serving.LOG.in_background = False  # flushed below, on purpose, and timed
    live = serving.MODELS.get(model, environment)
    if live is None:
        raise SystemExit(f"{model} is not live in {environment}")

    def app_call(body: bytes) -> Callable[[], object]:
        def call() -> object:
            environ = {
                "REQUEST_METHOD": "POST",
                "PATH_INFO": path,
                "CONTENT_LENGTH": str(len(body)),
                "CONTENT_TYPE": "application/json",
                "HTTP_AUTHORIZATION": f"Bearer {key}",
                "wsgi.input": io.BytesIO(body),
            }
            answer: list[str] = []
            content = application(environ, lambda status, headers: answer.append(status))
            if not answer or not answer[0].startswith("200"):
                raise RuntimeError(f"{answer} {b''.join(content)[:300]!r}")
            return content

        return call

    result: dict[str, Any] = {"settings": {}, "sizes": {}}
    result["settings"] = {
        "PORTAL_PREDICTION_LOG_FLUSH_SECONDS": settings.PORTAL_PREDICTION_LOG_FLUSH_SECONDS,
        "PORTAL_SERVING_REFRESH_SECONDS": settings.PORTAL_SERVING_REFRESH_SECONDS,
    }
    for size, records in (("one_row", rows["one"]), ("batch", rows["batch"])):
        body = json.dumps(records).encode()
        count = repeat if size == "one_row" else max(20, repeat // 50)
        stages = stage_timings(live, body, key, app_call(body), count)
        others = alternatives(live, body, count)
        serving.LOG.discard()
        # What the background thread does with these records: one bulk_create per flush.
        for _ in range(count):
            app_call(body)()
        before = PredictionLog.objects.count()
        started = time.perf_counter()
        written = serving.LOG.flush()
        flush_seconds = time.perf_counter() - started
        if PredictionLog.objects.count() - before != written:
            raise RuntimeError("the flush did not write what it reported")
        result["sizes"][size] = {
            "rows": len(records),
            "body_bytes": len(body),
            "stages": stages,
            "alternatives": others,
            "log_flush": {
                "records": written,
                "ms_per_record": round(flush_seconds / max(written, 1) * 1000, 4),
            },
            "profile": profile(app_call(body), count),
        }
        serving.LOG.discard()
    print(json.dumps(result))
    return 0


if __name__ == "__main__":
    if len(sys.argv) != 6:
        sys.exit(__doc__)
    sys.exit(main(*sys.argv[1:]))
