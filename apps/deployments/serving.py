"""Serving predictions: ``POST /serve/<model>/<environment>/predict`` and ``.../feedback``.

Built for speed, as the benchmark demands. A serving process keeps each live model in memory with
its signature and the hashes of its valid serving keys, and looks at the database at most once a
second per model and environment to notice a switch, a new key or a revoked one. A request
therefore touches no table: it checks the key against the cached hashes, validates the rows,
predicts, and appends to an in-memory log that a background thread writes in batches.

A process keeps at most ``PORTAL_SERVING_MAX_MODELS`` estimators loaded, dropping the least
recently used and loading it again when it is next asked for; ``Models.preload`` loads the
production models before the first request, and ``GET /serve/_status`` (with its own token) says
what a process holds.

``ServingApp`` answers ``/serve/`` directly in front of Django's WSGI application (see wsgi.py),
or alone in the serving tier (serving_wsgi.py); ``django_view`` gives the same handler to
Django's URLconf, for the development and test servers.
"""

from __future__ import annotations

import atexit
import hashlib
import hmac
import json
import logging
import math
import os
import queue
import random
import re
import sys
import threading
import time
import warnings
from collections import Counter, OrderedDict
from collections.abc import Callable, Collection, Iterable
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime
from itertools import chain
from typing import Any

import numpy as np
from django.conf import settings
from django.db import (
    DatabaseError,
    InterfaceError,
    OperationalError,
    close_old_connections,
    connection,
    transaction,
)

from apps.audit.context import request_id_from
from apps.deployments import inputs
from apps.validation.engine import answers

logger = logging.getLogger(__name__)

_PATH = re.compile(
    r"^/serve/(?P<model>[-a-zA-Z0-9_]+)/(?P<environment>[-a-zA-Z0-9_]+)/"
    r"(?P<action>predict|feedback)/?$"
)
# What a serving process holds. One segment, and "_" is in no slug: it cannot be a model's path.
STATUS_PATH = "/serve/_status"
_NOT_FOUND = "Use /serve/<model>/<environment>/predict."


# The array path below gives a model fitted on a DataFrame the same values in the same column
# order without their names (validation, or Scorer, checked it answers identically);
# scikit-learn would otherwise warn on every request that the names are missing.
warnings.filterwarnings("ignore", message=answers.FEATURE_NAMES_WARNING, category=UserWarning)


def import_sklearn_without_pandas() -> None:
    """Import scikit-learn without letting it import pandas.

    scikit-learn (1.9) imports pandas as it is itself imported, whenever pandas is installed
    (``sklearn.utils.fixes`` keeps it under a name no estimator uses): ~100 MB and ~0.3 s in a
    serving process even when every model it holds takes arrays. So it is imported here with
    pandas hidden (``import pandas`` fails meanwhile, which scikit-learn expects where pandas is
    not installed); afterwards pandas imports as usual, when a model needs its DataFrame
    (``answers.as_frame``), and scikit-learn finds it then: it looks for pandas in
    ``sys.modules`` at each call. Nothing happens if either was imported already. Called before
    a serving process loads its first model, under ``Models``'s lock, when nothing else in the
    process can be importing pandas (no model is loaded yet to need it)."""
    if "sklearn" in sys.modules or "pandas" in sys.modules:
        return
    sys.modules["pandas"] = None  # type: ignore[assignment]
    try:
        import sklearn.base
        import sklearn.pipeline  # noqa: F401 - what Scorer and skops then use
    finally:
        if "pandas" in sys.modules and sys.modules["pandas"] is None:
            del sys.modules["pandas"]


class Scorer:
    """A loaded estimator, called so that one request checks and converts its rows once.

    A request wants the model's own ``predict`` (not the argmax of its probabilities: the two
    differ for thresholded or calibrated classifiers) and ``predict_proba``. Called on the
    pipeline, each would convert and check the DataFrame again, which is most of the cost of a
    small request. So the transforms of a pipeline run once and its final step answers both:
    exactly what ``Pipeline.predict`` and ``predict_proba`` do inside.

    When every feature is numeric the rows go to the model as one float array instead of a
    DataFrame, which costs a third as much for a single row (bench/serving.py) and needs no
    pandas — but only if the model answers exactly the same from both: a pipeline that selects
    columns by name, say, keeps the DataFrame. Validation decides it on the holdout
    (``takes_arrays``, ``engine.answers.array_check``); for a version validated before it did
    (None), the model is tried on both here, when it is loaded, which imports pandas.
    """

    path = "scikit-learn"

    def __init__(
        self, estimator: Any, signature: dict[str, Any], takes_arrays: bool | None = None
    ) -> None:
        self.transforms, self.final = answers.steps_of(estimator)
        features = signature.get("features") or []
        self.probabilities = answers.gives_probabilities(self.final, signature.get("task"))
        numeric = bool(features) and all(f["kind"] == "numeric" for f in features)
        if not numeric or takes_arrays is not None:
            self.as_array = numeric and bool(takes_arrays)
        else:
            self.as_array = self._array_answers_the_same([f["name"] for f in features])

    def __call__(self, columns: dict[str, list[Any]]) -> dict[str, Any]:
        """Answers for checked columns (``inputs.checked_columns``), in the model's order."""
        rows = answers.as_array(columns) if self.as_array else answers.as_frame(columns)
        return self._answer(rows)

    def _answer(self, rows: Any) -> dict[str, Any]:
        return answers.answer(self.transforms, self.final, self.probabilities, rows)

    def _array_answers_the_same(self, names: list[str]) -> bool:
        """The fallback for versions validation did not decide for: random numbers, since the
        holdout is not at hand here."""
        rng = np.random.default_rng(0)
        sample = rng.normal(0, 10, (16, len(names))).round(3)
        sample[:, ::2] = sample[:, ::2].round()  # whole numbers too, as counts would be
        columns = {name: sample[:, i].tolist() for i, name in enumerate(names)}
        try:
            return self._answer(answers.as_array(columns)) == self._answer(
                answers.as_frame(columns)
            )
        except Exception:  # the model wants its DataFrame, or these values: keep the DataFrame
            return False


# The operator domains an ONNX copy may use: the standard operators and ONNX-ML (what skl2onnx
# writes). Anything else would be a custom operator library onnxruntime would have to load.
ONNX_DOMAINS = frozenset({"", "ai.onnx.ml"})
_ONNX_INPUTS = {"tensor(double)": np.float64, "tensor(float)": np.float32}


class RefusedOnnx(ValueError):
    """An ONNX copy serving will not run; the message says why."""


def _onnx_graphs(graph: Any) -> Iterable[Any]:
    """The graph and every subgraph inside its nodes' attributes (If, Loop, Scan bodies)."""
    from onnx import AttributeProto

    yield graph
    for node in graph.node:
        for attribute in node.attribute:
            if attribute.type == AttributeProto.GRAPH:
                yield from _onnx_graphs(attribute.g)
            elif attribute.type == AttributeProto.GRAPHS:
                for inner in attribute.graphs:
                    yield from _onnx_graphs(inner)


def _onnx_tensors(graph: Any) -> Iterable[Any]:
    from onnx import AttributeProto

    yield from graph.initializer
    for sparse in graph.sparse_initializer:
        yield sparse.values
        yield sparse.indices
    for node in graph.node:
        for attribute in node.attribute:
            if attribute.type == AttributeProto.TENSOR:
                yield attribute.t
            elif attribute.type == AttributeProto.TENSORS:
                yield from attribute.tensors


def checked_onnx(content: bytes) -> Any:
    """The ONNX model in ``content`` if serving may run it, else RefusedOnnx.

    The file came out of the validation sandbox, so it is read as untrusted before onnxruntime
    sees it: a valid model (the ONNX checker), no external data (a tensor that points at a file
    would make onnxruntime open a path the graph names), no functions of its own, and only the
    standard and ONNX-ML operator domains, in the graph and in every subgraph.
    """
    import onnx
    from onnx import TensorProto

    try:
        model = onnx.load_model_from_string(content)
        onnx.checker.check_model(model)
    except Exception as exc:
        raise RefusedOnnx(f"not a valid ONNX model ({type(exc).__name__})") from None
    if model.functions:
        raise RefusedOnnx("the model defines functions of its own")
    domains = {entry.domain for entry in model.opset_import}
    for graph in _onnx_graphs(model.graph):
        domains |= {node.domain for node in graph.node}
        for tensor in _onnx_tensors(graph):
            if tensor.data_location == TensorProto.EXTERNAL or len(tensor.external_data):
                raise RefusedOnnx("the model keeps tensors in external data")
    foreign = domains - ONNX_DOMAINS
    if foreign:
        raise RefusedOnnx("the model uses operator domains " + ", ".join(sorted(foreign)))
    return model


class OnnxScorer:
    """The fast path: the version's ONNX copy run by onnxruntime (one thread, CPU), answering
    exactly as ``Scorer`` does. Validation kept the copy only if, on every holdout row, its label
    output is the model's own ``predict`` and its probabilities are within 1e-6 of
    ``predict_proba`` (regressors: predictions within 1e-6, relative above 1): see
    docs/serving-fast-path.md. Every feature is numeric, so rows go in as one array."""

    path = "onnx"
    as_array = True

    def __init__(
        self, content: bytes, signature: dict[str, Any], classes: list[Any] | None
    ) -> None:
        import onnxruntime

        features = signature.get("features") or []
        if not features or any(f["kind"] != "numeric" for f in features):
            raise RefusedOnnx("a feature is not numeric")
        self.probabilities = signature.get("task") != "regression"
        if self.probabilities and not classes:
            raise RefusedOnnx("the validation report names no classes")
        self.classes = list(classes or [])
        checked_onnx(content)
        options = onnxruntime.SessionOptions()
        options.intra_op_num_threads = 1
        options.inter_op_num_threads = 1
        options.execution_mode = onnxruntime.ExecutionMode.ORT_SEQUENTIAL
        self.session = onnxruntime.InferenceSession(
            content, sess_options=options, providers=["CPUExecutionProvider"]
        )
        inputs_ = self.session.get_inputs()
        if len(inputs_) != 1 or inputs_[0].type not in _ONNX_INPUTS:
            raise RefusedOnnx("the model does not take one array of numbers")
        shape = inputs_[0].shape
        width = shape[1] if len(shape) == 2 else -1
        if isinstance(width, int) and width != len(features):  # a name or None: any width
            raise RefusedOnnx(f"the model does not take {len(features)} features")
        self.input = inputs_[0].name
        self.dtype = _ONNX_INPUTS[inputs_[0].type]
        outputs = self.session.get_outputs()
        if len(outputs) < (2 if self.probabilities else 1):
            raise RefusedOnnx("the model does not answer labels and probabilities")
        self.outputs = [o.name for o in outputs[: 2 if self.probabilities else 1]]

    def __call__(self, columns: dict[str, list[Any]]) -> dict[str, Any]:
        """Answers for checked columns (``inputs.checked_columns``), in the model's order."""
        rows = np.array(list(columns.values()), dtype=self.dtype).T  # missing becomes NaN
        answered = self.session.run(self.outputs, {self.input: rows})
        count = rows.shape[0]
        if not self.probabilities:
            return {"predictions": np.asarray(answered[0], dtype=float).reshape(count).tolist()}
        proba = np.asarray(answered[1], dtype=float)
        return {
            "predictions": np.asarray(answered[0]).reshape(count).tolist(),
            "classes": self.classes,
            "probabilities": proba.round(6).tolist(),
        }


@dataclass(frozen=True)
class Challenger:
    """A version running beside the live one (``mode`` shadow or canary; ``traffic`` a canary's
    percent of the requests)."""

    deployment_id: int
    version: int
    mode: str
    traffic: int
    score: Scorer | OnnxScorer
    # Its own signature when it differs from the live version's (its rows are checked and
    # ordered by it then); None when they are the same and the live version's columns serve.
    signature: dict[str, Any] | None = None


@dataclass
class Live:
    """A live model as one serving process holds it, with its challenger if one runs."""

    deployment_id: int
    model: str
    environment: str
    version: int
    score: Scorer | OnnxScorer
    signature: dict[str, Any]
    key_hashes: frozenset[str]
    challenger: Challenger | None = None
    # When this process loaded it (for /serve/_status), and when it last answered with it
    # (monotonic: what the least recently used is chosen by).
    loaded_at: datetime = field(default_factory=lambda: datetime.now(UTC))
    last_used: float = field(default_factory=time.monotonic)

    @property
    def estimators(self) -> int:
        """How many loaded models this holds: its own, and its challenger's."""
        return 1 if self.challenger is None else 2


def routes_to_challenger(model: str, routing_key: str | None, traffic: int) -> bool:
    """Whether a canary answers this request. With a routing key (a customer id, say) the
    answer is the same for that key in every serving process and at every call, and a key in
    the canary at 10 % stays in it at 20 %: the key's hash, salted with the model so that one
    customer is not in every model's canary, falls below the share or not. Without one, a coin
    is tossed."""
    if routing_key:
        digest = hashlib.blake2b(f"{model}\0{routing_key}".encode(), digest_size=8).digest()
        return int.from_bytes(digest, "big") % 10_000 < traffic * 100
    return random.random() * 100 < traffic  # noqa: S311 - a traffic split, not a secret


class Response(Exception):
    """Raised to answer at once; ``body`` is JSON."""

    def __init__(self, status: int, body: dict[str, Any]) -> None:
        super().__init__(status)
        self.status = status
        self.body = body


class Models:
    """The process-wide cache of live models, refreshed at most once a second each.

    Names that are not live (a probe, a typo) are remembered as misses too, so that asking again
    costs no query, but only the ``PORTAL_SERVING_MISSES_KEPT`` latest: made-up names cannot
    grow the cache without bound.

    At most ``PORTAL_SERVING_MAX_MODELS`` estimators stay loaded (a challenger counts as one):
    loading one more drops the least recently used, whose next request loads it again. A request
    for a fresh model takes no lock, so it only stamps its ``last_used``; the least recently used
    is looked for (among at most the maximum) when a model is loaded, under the lock."""

    def __init__(self) -> None:
        self._live: dict[tuple[str, str], Live] = {}
        self._checked: dict[tuple[str, str], float] = {}
        self._misses: OrderedDict[tuple[str, str], float] = OrderedDict()
        self._unloadable: set[int] = set()
        # Versions whose ONNX copy would not load here, warned about once (they serve on
        # scikit-learn).
        self._onnx_refused: set[int] = set()
        self._lock = threading.Lock()

    def _fresh(self, key: tuple[str, str], now: float) -> bool:
        checked = self._checked.get(key, self._misses.get(key, -1e9))
        return now - checked < settings.PORTAL_SERVING_REFRESH_SECONDS

    def get(self, model: str, environment: str) -> Live | None:
        key = (model, environment)
        now = time.monotonic()
        refresh = settings.PORTAL_SERVING_REFRESH_SECONDS
        # Read once each, without the lock: a model dropped meanwhile is either still answered
        # with (it was live a moment ago) or, its check gone, refreshed below.
        live = self._live.get(key)
        if live is not None:
            if now - self._checked.get(key, -1e9) < refresh:
                live.last_used = now
                return live
        elif now - self._misses.get(key, -1e9) < refresh:
            return None
        with self._lock:  # one thread refreshes; the others wait and find it fresh
            if not self._fresh(key, now):
                held = self._live.get(key)
                try:
                    found = self._refresh(model, environment, held)
                except Exception:
                    if held is None:
                        raise
                    # The database is briefly unreachable, say: keep answering with what was
                    # live and keys that were valid a second ago, rather than fail every call.
                    logger.exception("could not refresh %s in %s", model, environment)
                    found = held
                self._remember(key, found)
            live = self._live.get(key)
            if live is not None:
                live.last_used = now
            return live

    def _remember(self, key: tuple[str, str], found: Live | None) -> None:
        checked = time.monotonic()
        if found is not None:
            self._live[key], self._checked[key] = found, checked
            self._misses.pop(key, None)
            self._bound(keep=key)
            return
        self._live.pop(key, None)
        self._checked.pop(key, None)
        self._misses[key] = checked
        self._misses.move_to_end(key)
        while len(self._misses) > settings.PORTAL_SERVING_MISSES_KEPT:
            self._misses.popitem(last=False)

    def _bound(self, keep: tuple[str, str]) -> None:
        """Drop the least recently used models past ``PORTAL_SERVING_MAX_MODELS`` estimators,
        never ``keep``, the one just asked for (the lock is held)."""
        held = sum(live.estimators for live in self._live.values())
        while held > settings.PORTAL_SERVING_MAX_MODELS:
            others = [k for k in self._live if k != keep]
            if not others:
                return  # one live version and its challenger, with a maximum of 1: both serve
            oldest = min(others, key=lambda k: self._live[k].last_used)
            self._checked.pop(oldest, None)
            dropped = self._live.pop(oldest)
            held -= dropped.estimators
            logger.info(
                "dropped %s v%s in %s from memory (at most %s models); it loads again on demand",
                dropped.model,
                dropped.version,
                dropped.environment,
                settings.PORTAL_SERVING_MAX_MODELS,
            )

    def preload(self) -> list[tuple[str, str]]:
        """Load the models live in production environments, the most recently switched first,
        up to ``PORTAL_SERVING_MAX_MODELS``: their first request then finds them in memory
        instead of paying 1.5 to 2.7 s. Never raises: a database that cannot be reached or a
        model that fails to load is logged, and that model loads on demand as before.
        Returns the (model, environment) pairs held."""
        from apps.deployments.models import Placement

        try:
            wanted = list(
                Placement.objects.filter(environment__is_production=True)
                .order_by("-switched_at", "pk")
                .values_list("model__slug", "environment__slug")[
                    : settings.PORTAL_SERVING_MAX_MODELS
                ]
            )
        except Exception:
            logger.exception("could not read the production placements; nothing was preloaded")
            return []
        loaded = []
        for model, environment in wanted:
            if sum(live.estimators for live in self._live.values()) >= (
                settings.PORTAL_SERVING_MAX_MODELS
            ):
                break  # challengers filled it: what is loaded would only be dropped again
            try:
                if self.get(model, environment) is not None:
                    loaded.append((model, environment))
            except Exception:
                logger.exception("could not preload %s in %s", model, environment)
        logger.info("preloaded %s of %s production models", len(loaded), len(wanted))
        return loaded

    def held(self) -> list[dict[str, Any]]:
        """What this process holds, the most recently used first (for /serve/_status)."""
        with self._lock:
            lives = sorted(self._live.values(), key=lambda live: -live.last_used)
        now, wall = time.monotonic(), time.time()
        return [
            {
                "model": live.model,
                "environment": live.environment,
                "version": live.version,
                "loaded_at": live.loaded_at.isoformat(),
                "last_used": datetime.fromtimestamp(
                    wall - (now - live.last_used), tz=UTC
                ).isoformat(),
                "serving_path": live.score.path,
                "challenger": None
                if live.challenger is None
                else {
                    "version": live.challenger.version,
                    "mode": live.challenger.mode,
                    "serving_path": live.challenger.score.path,
                },
            }
            for live in lives
        ]

    def forget(self) -> None:
        with self._lock:
            self._live.clear()
            self._checked.clear()
            self._misses.clear()
            self._onnx_refused.clear()

    def scorer(self, version: Any, signature: dict[str, Any]) -> Scorer | OnnxScorer:
        """The version's ONNX copy on onnxruntime when validation kept one and
        ``PORTAL_SERVING_ONNX`` is on; otherwise (or when the copy fails its digest or its
        checks, warned about once) the canonical .skops copy on scikit-learn, given its rows
        as an array or a DataFrame as validation found it answers the same (``Scorer``)."""
        from apps.validation.evidence import load_canonical, onnx_of, takes_arrays_of

        if settings.PORTAL_SERVING_ONNX and version.pk not in self._onnx_refused:
            try:
                copy = onnx_of(version)
                if copy is not None:
                    return OnnxScorer(copy.content, signature, copy.classes)
            except Exception as exc:
                self._onnx_refused.add(version.pk)
                logger.warning(
                    "the ONNX copy of %s v%s is refused (%s); it serves on scikit-learn",
                    version.model.slug,
                    version.number,
                    exc,
                )
        import_sklearn_without_pandas()
        return Scorer(load_canonical(version), signature, takes_arrays_of(version))

    def _refresh(self, model: str, environment: str, held: Live | None) -> Live | None:
        from apps.deployments.models import Placement, ServingKey
        from apps.validation.evidence import signature_of

        placement = (
            Placement.objects.filter(model__slug=model, environment__slug=environment)
            .select_related("deployment__version", "challenger__version")
            .first()
        )
        if placement is None:
            return None
        deployment = placement.deployment
        keys = frozenset(
            ServingKey.objects.filter(
                model_id=placement.model_id,
                environment_id=placement.environment_id,
                revoked_at__isnull=True,
            ).values_list("key_hash", flat=True)
        )
        if held is not None and held.deployment_id == deployment.pk:
            held.key_hashes = keys
            held.challenger = self._challenger(
                placement.challenger, held.challenger, held.signature
            )
            return held
        version = deployment.version
        signature = signature_of(version) or {}
        score = self.scorer(version, signature)
        logger.info("serving %s v%s in %s on %s", model, version.number, environment, score.path)
        return Live(
            deployment.pk,
            model,
            environment,
            version.number,
            score,
            signature,
            keys,
            self._challenger(placement.challenger, None, signature),
        )

    def _challenger(
        self, running: Any, kept: Challenger | None, live_signature: dict[str, Any]
    ) -> Challenger | None:
        """The placement's challenger as this process runs it: the model loaded once, its
        share read at every refresh. One that cannot be loaded here (the deployment job loaded
        and smoke-tested it, so this is rare) is left out, logged, and the live version answers
        alone."""
        from apps.validation.evidence import signature_of

        if running is None:
            return None
        if kept is not None and kept.deployment_id == running.pk:
            return replace(kept, traffic=running.traffic or 0)
        if running.pk in self._unloadable:
            return None
        try:
            signature = signature_of(running.version) or {}
            scorer = self.scorer(running.version, signature)
        except Exception:
            logger.exception("challenger deployment %s could not be loaded", running.pk)
            self._unloadable.add(running.pk)
            return None
        logger.info("challenger v%s runs as %s", running.version.number, running.mode)
        same = live_signature.get("features") == signature.get("features")
        return Challenger(
            running.pk,
            running.version.number,
            running.mode,
            running.traffic or 0,
            scorer,
            None if same else signature,
        )


class PredictionLog:
    """Prediction records buffered in memory and written in batches by one thread.

    Nothing is dropped silently: while the database is unreachable the records wait (at most
    ``PORTAL_PREDICTION_LOG_BUFFER``; past that the oldest go), a record the database refuses is
    written on its own so that it cannot block the others, and whatever could not be written is
    counted per deployment and stored as ``PredictionLogLoss`` rows once the database answers.
    """

    def __init__(self) -> None:
        self._buffer: list[dict[str, Any]] = []
        self._lost: Counter[tuple[int, str]] = Counter()
        self._refused: Counter[tuple[int, int, int]] = Counter()
        self._lock = threading.Lock()
        self._thread: threading.Thread | None = None
        self._written = 0
        # Tests that run the handler in their own process turn the thread off and flush() when
        # they choose: its writes would land outside their transaction.
        self.in_background = True

    def add(self, record: dict[str, Any]) -> None:
        if not settings.PORTAL_PREDICTION_LOGGING:
            return
        with self._lock:
            self._buffer.append(record)
            self._bound()
            if self.in_background and (self._thread is None or not self._thread.is_alive()):
                self._thread = threading.Thread(
                    target=self._run, name="prediction-log", daemon=True
                )
                self._thread.start()

    def _bound(self) -> None:
        """Drop the oldest records past the buffer's size, counted (the lock is held)."""
        over = len(self._buffer) - settings.PORTAL_PREDICTION_LOG_BUFFER
        if over > 0:
            for record in self._buffer[:over]:
                self._lost[(record["deployment_id"], _BUFFER_FULL)] += 1
            del self._buffer[:over]

    def refused(self, deployment_id: int, status: int) -> None:
        """Count a request to a live deployment answered with ``status`` (4xx or 5xx)."""
        if not settings.PORTAL_PREDICTION_LOGGING:
            return
        now = int(time.time())
        with self._lock:
            self._refused[(deployment_id, now - now % 300, status)] += 1

    def lost(self, deployment_id: int, reason: str) -> None:
        """Count a record that could not even be made (a shadow's scoring fell behind)."""
        with self._lock:
            self._lost[(deployment_id, reason)] += 1

    def holds(self, deployment_ids: Collection[int], request_id: str) -> dict[int, int]:
        """The rows of each buffered prediction of these deployments with this id (a live
        version and its shadow answer the same request), by deployment."""
        with self._lock:
            return {
                record["deployment_id"]: int(record["rows"])
                for record in self._buffer
                if record["request_id"] == request_id and record["deployment_id"] in deployment_ids
            }

    def _run(self) -> None:
        while True:
            time.sleep(settings.PORTAL_PREDICTION_LOG_FLUSH_SECONDS)
            try:
                close_old_connections()  # this thread's own connection, as a request would
                self.flush()
            except Exception:
                logger.exception("could not write prediction logs; they will be retried")

    def figures(self) -> dict[str, Any]:
        """The buffer as /serve/_status reports it: records waiting, the most it keeps, records
        written since the process started, and losses and refusals counted but not yet stored."""
        with self._lock:
            return {
                "logging": bool(settings.PORTAL_PREDICTION_LOGGING),
                "buffered": len(self._buffer),
                "buffer_max": settings.PORTAL_PREDICTION_LOG_BUFFER,
                "written": self._written,
                "lost_not_yet_stored": sum(self._lost.values()),
                "refused_not_yet_stored": sum(self._refused.values()),
                "writer_running": self._thread is not None and self._thread.is_alive(),
            }

    def discard(self) -> None:
        """Forget what is buffered: for tests, whose transactions roll the deployments back."""
        with self._lock:
            self._buffer.clear()
            self._lost.clear()
            self._refused.clear()

    def flush(self) -> int:
        """Write what is buffered (also called at exit and by tests); return how many were
        written. Raises if the database is unreachable, keeping the records for the next try."""
        from apps.deployments.models import PredictionLog as Row

        with self._lock:
            batch, self._buffer = self._buffer, []
        written = 0
        try:
            if batch:
                try:
                    with transaction.atomic():
                        _insert_logs(batch)
                    written = len(batch)
                except (OperationalError, InterfaceError):
                    raise
                except (DatabaseError, ValueError, TypeError):
                    # One record the database refuses must not stop the others.
                    written = self._one_by_one(Row, batch)
                batch = []
            self._write_losses()
            self._write_refused()
        except (OperationalError, InterfaceError):
            with self._lock:  # keep them for the next flush rather than lose them
                self._buffer[:0] = batch
                self._bound()
                self._written += written
            raise
        with self._lock:
            self._written += written
        return written

    def _one_by_one(self, row: Any, batch: list[dict[str, Any]]) -> int:
        written = 0
        for index, record in enumerate(batch):
            try:
                with transaction.atomic():
                    row.objects.create(**record)
                written += 1
            except (OperationalError, InterfaceError):
                del batch[:index]  # the rest waits for the database with the next flush
                raise
            except (DatabaseError, ValueError, TypeError) as exc:
                logger.error("prediction log %s refused: %s", record.get("request_id"), exc)
                with self._lock:
                    self._lost[(record["deployment_id"], _REFUSED)] += 1
        return written

    def _write_losses(self) -> None:
        from apps.deployments.models import PredictionLogLoss

        with self._lock:
            lost, self._lost = self._lost, Counter()
        if not lost:
            return
        try:
            PredictionLogLoss.objects.bulk_create(
                PredictionLogLoss(deployment_id=deployment_id, lost=count, reason=reason)
                for (deployment_id, reason), count in lost.items()
            )
        except Exception:
            with self._lock:
                self._lost.update(lost)
            raise
        logger.error("prediction logs lost: %s", dict(lost))

    def _write_refused(self) -> None:
        from apps.deployments.models import RefusedRequests

        with self._lock:
            refused, self._refused = self._refused, Counter()
        if not refused:
            return
        try:
            RefusedRequests.objects.bulk_create(
                RefusedRequests(
                    deployment_id=deployment_id,
                    at=datetime.fromtimestamp(start, tz=UTC),
                    status=status,
                    count=count,
                )
                for (deployment_id, start, status), count in refused.items()
            )
        except Exception:
            with self._lock:
                self._refused.update(refused)
            raise


_LOG_FIELDS = (
    "deployment_id",
    "request_id",
    "received_at",
    "latency_ms",
    "rows",
    "inputs",
    "outputs",
)


def _insert_logs(batch: list[dict[str, Any]]) -> None:
    """Write the records without building a model instance per record: the flush runs in the
    serving process, so its CPU is taken from the requests (decisions §33). PostgreSQL gets
    them by ``COPY``, half the CPU of ``INSERT`` on both sides; other databases by one INSERT
    sent with ``executemany``, values adapted as the ORM adapts them."""
    from apps.deployments.models import PredictionLog as Row

    ops = connection.ops
    table = ops.quote_name(Row._meta.db_table)
    fields = {f.attname: f.column for f in Row._meta.concrete_fields}
    columns = ", ".join(ops.quote_name(fields[name]) for name in _LOG_FIELDS)
    encoder = Row._meta.get_field("inputs").encoder
    # Names from the model and quoted, values as parameters or COPY data: nothing from a request
    # becomes SQL.
    with connection.cursor() as cursor:
        if connection.vendor == "postgresql":
            # psycopg's own cursor, its errors turned into Django's as the ORM's are.
            copying = cursor.cursor.copy(f"COPY {table} ({columns}) FROM STDIN")
            with connection.wrap_database_errors, copying as copy:
                for r in batch:
                    copy.write_row(
                        (
                            r["deployment_id"],
                            r["request_id"],
                            r["received_at"],
                            r["latency_ms"],
                            r["rows"],
                            json.dumps(r["inputs"], cls=encoder),
                            json.dumps(r["outputs"], cls=encoder),
                        )
                    )
            return
        placeholders = ", ".join(["%s"] * len(_LOG_FIELDS))
        sql = f"INSERT INTO {table} ({columns}) VALUES ({placeholders})"  # noqa: S608
        for start in range(0, len(batch), 500):
            cursor.executemany(
                sql,
                [
                    (
                        r["deployment_id"],
                        r["request_id"],
                        ops.adapt_datetimefield_value(r["received_at"]),
                        r["latency_ms"],
                        r["rows"],
                        ops.adapt_json_value(r["inputs"], encoder),
                        ops.adapt_json_value(r["outputs"], encoder),
                    )
                    for r in batch[start : start + 500]
                ],
            )


_BUFFER_FULL = "The database could not be reached and the serving process's buffer was full."
_REFUSED = "The database refused the record."


MODELS = Models()
LOG = PredictionLog()
atexit.register(lambda: LOG.flush())


def _bearer(headers: Callable[[str], str | None]) -> str:
    value = headers("HTTP_AUTHORIZATION") or ""
    scheme, _, key = value.partition(" ")
    if scheme.lower() != "bearer" or not key.strip():
        raise Response(401, {"error": "Send the serving key as 'Authorization: Bearer <key>'."})
    return key.strip()


def _authorised(live: Live | None, key: str, model: str, environment: str) -> Live:
    from apps.deployments.models import ServingKey

    if live is None or ServingKey.hash(key) not in live.key_hashes:
        # One answer for an unknown key and for a model not live here: nothing to probe.
        raise Response(401, {"error": f"No live {model} in {environment} for this serving key."})
    return live


def predict(
    live: Live, body: bytes, request_id: str, routing_key: str | None = None
) -> dict[str, Any]:
    """Answer with the live version, or with its canary for the canary's share of requests;
    a shadow scores the same rows after the answer, on its own thread."""
    started = time.perf_counter()
    payload = inputs.parse_body(body)
    columns = inputs.checked_columns(payload, live.signature, settings.PORTAL_SERVING_MAX_ROWS)
    challenger = live.challenger
    if (
        challenger is not None
        and challenger.mode == "canary"
        and routes_to_challenger(live.model, routing_key, challenger.traffic)
    ):
        answered = challenger_answer(challenger, payload, columns)
        if answered is not None:  # else the live version answers: a canary's failure is its own
            canary_columns, scored = answered
            elapsed = (time.perf_counter() - started) * 1000
            LOG.add(_record(challenger.deployment_id, request_id, elapsed, canary_columns, scored))
            return _answer(live, challenger.version, request_id, scored)
    try:
        scored = live.score(columns)
    except Exception as exc:
        # Values the signature allows but the model cannot use (an unseen category, say).
        raise inputs.InputError(422, f"The model could not score these rows: {exc}") from None
    _check_finite(scored)
    elapsed = (time.perf_counter() - started) * 1000
    LOG.add(_record(live.deployment_id, request_id, elapsed, columns, scored))
    if challenger is not None and challenger.mode == "shadow":
        SHADOW.submit(challenger, payload, columns, request_id)
    return _answer(live, live.version, request_id, scored)


def _answer(live: Live, version: int, request_id: str, scored: dict[str, Any]) -> dict[str, Any]:
    return {
        "model": live.model,
        "environment": live.environment,
        "version": version,  # who answered: the live version or its canary
        "request_id": request_id,
        **scored,
    }


def _record(
    deployment_id: int,
    request_id: str,
    latency_ms: float,
    columns: dict[str, list[Any]],
    scored: dict[str, Any],
    received_at: datetime | None = None,
) -> dict[str, Any]:
    return {
        "deployment_id": deployment_id,
        "request_id": request_id,
        "received_at": received_at or datetime.now(UTC),
        "latency_ms": latency_ms,
        "rows": _rows_of(columns),
        "inputs": columns,  # the checked JSON values themselves: nothing to convert
        "outputs": {k: scored[k] for k in ("predictions", "probabilities") if k in scored},
    }


def _challenger_columns(
    challenger: Challenger, payload: Any, columns: dict[str, list[Any]]
) -> dict[str, list[Any]]:
    """The rows as the challenger takes them: the live version's columns, or checked and
    ordered by its own signature when that differs (an array model fed another order would
    answer wrong, silently)."""
    if challenger.signature is None:
        return columns
    return inputs.checked_columns(payload, challenger.signature, settings.PORTAL_SERVING_MAX_ROWS)


def _challenger_failed(challenger: Challenger, problem: Exception) -> None:
    """A challenger's failure is its own: counted as one of its server errors, for the
    comparison; the live version's answer is never touched by it."""
    logger.warning(
        "challenger deployment %s could not answer: %s", challenger.deployment_id, problem
    )
    LOG.refused(challenger.deployment_id, 500)


def challenger_answer(
    challenger: Challenger, payload: Any, columns: dict[str, list[Any]]
) -> tuple[dict[str, list[Any]], dict[str, Any]] | None:
    """The challenger's answer for rows the live version's signature accepted: (its columns,
    its answer), or None when it cannot answer them."""
    try:
        columns = _challenger_columns(challenger, payload, columns)
        scored = challenger.score(columns)
        _check_finite(scored)
    except Exception as exc:
        _challenger_failed(challenger, exc)
        return None
    return columns, scored


@dataclass(frozen=True)
class ShadowWork:
    """One answered request for a shadow to score."""

    challenger: Challenger
    payload: Any
    columns: dict[str, list[Any]]
    request_id: str
    received_at: datetime


class ShadowScoring:
    """Shadows score the rows their live version answered, on one thread per serving process,
    after the answer has gone: a slow or failing shadow never delays or changes an answer.

    The thread lets work gather for ``SHADOW_GATHER_SECONDS`` and scores it in one call per
    shadow: a model answers many rows for little more than one, and the thread then holds the
    GIL for one short burst now and then instead of after every answer. Scored one request at a
    time, a shadow made its live version's one-row p50 1.29x (``bench/serving.py``). Its
    latency is therefore its scoring time per request, shared out by rows. The queue is bounded;
    what a shadow cannot keep up with is counted as lost for it, never silently skipped."""

    def __init__(self) -> None:
        self._queue: queue.Queue[ShadowWork] = queue.Queue(maxsize=SHADOW_QUEUE)
        self._thread: threading.Thread | None = None
        self._lock = threading.Lock()
        # Tests that run the handler in their own process score at once (see PredictionLog).
        self.in_background = True

    def submit(
        self, challenger: Challenger, payload: Any, columns: dict[str, list[Any]], request_id: str
    ) -> None:
        work = ShadowWork(challenger, payload, columns, request_id, datetime.now(UTC))
        if not self.in_background:
            score_shadows([work])
            return
        try:
            self._queue.put_nowait(work)
        except queue.Full:
            LOG.lost(challenger.deployment_id, _SHADOW_BEHIND)
            return
        if self._thread is None or not self._thread.is_alive():
            with self._lock:
                if self._thread is None or not self._thread.is_alive():
                    self._thread = threading.Thread(
                        target=self._run, name="shadow-scoring", daemon=True
                    )
                    self._thread.start()

    def _run(self) -> None:
        while True:
            batch = [self._queue.get()]
            time.sleep(SHADOW_GATHER_SECONDS)
            rows = _rows_of(batch[0].columns)
            while rows < SHADOW_BATCH_ROWS:
                try:
                    batch.append(self._queue.get_nowait())
                except queue.Empty:
                    break
                rows += _rows_of(batch[-1].columns)
            try:
                score_shadows(batch)
            except Exception:
                logger.exception("shadow scoring failed")


def _rows_of(columns: dict[str, list[Any]]) -> int:
    return len(next(iter(columns.values()), []))


def score_shadows(batch: list[ShadowWork]) -> None:
    """Score each shadow's requests of the batch in one call, and log each request's answers
    under the shadow's deployment. When one request's rows make the call fail, each request is
    scored alone, so that exactly the failing ones are counted."""
    by_shadow: dict[int, list[ShadowWork]] = {}
    for work in batch:
        by_shadow.setdefault(work.challenger.deployment_id, []).append(work)
    for group in by_shadow.values():
        challenger = group[0].challenger
        prepared = []
        for work in group:
            try:
                prepared.append((work, _challenger_columns(challenger, work.payload, work.columns)))
            except Exception as exc:
                _challenger_failed(challenger, exc)
        if not prepared:
            continue
        merged = {
            name: list(chain.from_iterable(columns[name] for _, columns in prepared))
            for name in prepared[0][1]
        }
        started = time.perf_counter()
        try:
            scored = challenger.score(merged)
            _check_finite(scored)
        except Exception as exc:
            if len(prepared) == 1:
                _challenger_failed(challenger, exc)
            else:
                for work, _ in prepared:
                    score_shadows([work])
            continue
        per_row_ms = (time.perf_counter() - started) * 1000 / max(_rows_of(merged), 1)
        offset = 0
        for work, columns in prepared:
            rows = _rows_of(columns)
            answered = {
                k: scored[k][offset : offset + rows]
                for k in ("predictions", "probabilities")
                if k in scored
            }
            LOG.add(
                _record(
                    challenger.deployment_id,
                    work.request_id,
                    per_row_ms * rows,
                    columns,
                    answered,
                    work.received_at,
                )
            )
            offset += rows


SHADOW_QUEUE = 1_000
SHADOW_GATHER_SECONDS = 0.05
SHADOW_BATCH_ROWS = 10_000
_SHADOW_BEHIND = (
    "The shadow challenger could not keep up with the requests; it did not score these."
)
SHADOW = ShadowScoring()


def _check_finite(scored: dict[str, Any]) -> None:
    """JSON carries no infinity or NaN: a model answering one gets a 422 naming the row, and
    nothing unwritable reaches the prediction log."""
    for name in ("predictions", "probabilities"):
        values = scored.get(name)
        if values is None:
            continue
        try:
            answers = np.asarray(values, dtype=float)
        except (TypeError, ValueError):
            continue  # class labels
        bad = ~np.isfinite(answers)
        if bad.any():
            row = int(np.argwhere(bad)[0][0])
            raise inputs.InputError(
                422,
                f"The model answered a value JSON cannot carry (infinity or NaN) for row {row}; "
                "no prediction was returned.",
            )


# What feedback may carry per outcome: a label or a number, short enough to be a label.
_OUTCOME_MAX_CHARS = 200


def _outcome_problem(outcome: Any) -> str:
    if outcome is None or isinstance(outcome, bool):
        return ""
    if isinstance(outcome, int | float):
        return "" if math.isfinite(outcome) else "is infinite or NaN, which no outcome can be"
    if isinstance(outcome, str):
        if len(outcome) > _OUTCOME_MAX_CHARS:
            return f"is longer than {_OUTCOME_MAX_CHARS} characters"
        return ""
    return "must be a label, a number or null"


def feedback(live: Live, body: bytes) -> dict[str, Any]:
    from apps.deployments.models import Feedback

    payload = inputs.parse_body(body)
    if not isinstance(payload, dict) or not isinstance(payload.get("request_id"), str):
        raise inputs.InputError(422, 'Send {"request_id": "…", "outcomes": [...]}.')
    request_id = payload["request_id"]
    if not request_id or len(request_id) > 64:
        raise inputs.InputError(422, "“request_id” is the id a prediction answered with.")
    outcomes = payload.get("outcomes", payload.get("outcome"))
    if not isinstance(outcomes, list):
        outcomes = [outcomes]
    for row, outcome in enumerate(outcomes):
        if problem := _outcome_problem(outcome):
            raise inputs.InputError(422, f"The outcome of row {row} {problem}.")
    answered = _predictions(live, request_id)
    rows = next(iter(answered.values()))
    if len(outcomes) != rows:
        raise inputs.InputError(
            422,
            f"Prediction {request_id} had {rows} row{'s' if rows != 1 else ''}: send one outcome "
            f"per row (null where it is not known yet), not {len(outcomes)}.",
        )
    with transaction.atomic():
        if Feedback.objects.filter(deployment_id__in=answered, request_id=request_id).exists():
            raise inputs.InputError(
                409, f"Feedback for prediction {request_id} was recorded already."
            )
        # A live version and its shadow answered the same request: the outcome is each one's.
        Feedback.objects.bulk_create(
            Feedback(deployment_id=deployment_id, request_id=request_id, outcomes=outcomes)
            for deployment_id in answered
        )
    # The answer's own "request_id" is this feedback call's (``_json`` adds it, as for every
    # answer, equal to its X-Request-ID); the prediction it is about goes under its own key.
    return {"recorded": len(outcomes), "prediction_request_id": request_id}


def _predictions(live: Live, request_id: str) -> dict[int, int]:
    """The rows of a prediction this model served in this environment, by deployment that
    answered it (a live version and its shadow both did): still in this process's buffer, or
    logged. A 404 for any other id."""
    from apps.deployments.models import PredictionLog as Row

    serving_now = {live.deployment_id}
    if live.challenger is not None:
        serving_now.add(live.challenger.deployment_id)
    buffered = LOG.holds(serving_now, request_id)
    if buffered.keys() == serving_now:  # every one that may have answered still holds it
        return buffered
    logged = dict(
        Row.objects.filter(
            request_id=request_id,
            deployment__model__slug=live.model,
            deployment__environment__slug=live.environment,
        ).values_list("deployment_id", "rows")
    )
    found = {**logged, **buffered}
    if not found:
        raise inputs.InputError(
            404, f"No prediction {request_id} of {live.model} in {live.environment} is known here."
        )
    return found


def _too_large(limit: int) -> Response:
    return Response(413, {"error": f"The body is larger than {limit} bytes."})


def handle(
    method: str,
    path: str,
    headers: Callable[[str], str | None],
    read_body: Callable[[int], bytes],
    request_id: str,
) -> tuple[int, dict[str, Any]]:
    """One request: (status, JSON body). Never raises for a client's mistake."""
    held: Live | None = None
    try:
        if path.rstrip("/") == STATUS_PATH:
            return status(method, headers)
        matched = _PATH.match(path)
        if matched is None:
            raise Response(404, {"error": _NOT_FOUND})
        if method != "POST":
            raise Response(405, {"error": "Use POST."})
        model, environment = matched["model"], matched["environment"]
        held = MODELS.get(model, environment)
        key = _bearer(headers)
        limit = settings.PORTAL_SERVING_MAX_BODY_BYTES
        declared = headers("CONTENT_LENGTH")
        if declared:
            try:
                length = int(declared)
            except ValueError:
                raise Response(400, {"error": "Content-Length is not a number."}) from None
            if length > limit:
                raise _too_large(limit)
        else:  # a chunked body: read at most one byte past the limit to know it is too large
            length = limit + 1
        live = _authorised(held, key, model, environment)
        body = read_body(length)
        if len(body) > limit:
            raise _too_large(limit)
        if matched["action"] == "predict":
            return 200, predict(live, body, request_id, headers("HTTP_X_ROUTING_KEY"))
        return 200, feedback(live, body)
    except Response as answer:
        return _refused(held, answer.status, answer.body)
    except inputs.InputError as problem:
        return _refused(held, problem.status, {"error": problem.message})
    except Exception:
        logger.exception("serving request %s failed", request_id)
        return _refused(held, 500, {"error": "The portal failed to answer; the failure is logged."})


def status(method: str, headers: Callable[[str], str | None]) -> tuple[int, dict[str, Any]]:
    """``GET /serve/_status``: what this process holds, for whoever has
    ``PORTAL_SERVING_STATUS_TOKEN``. Not a serving key's business (the list says which models
    are live, in every environment); with no token configured the path does not exist."""
    token = settings.PORTAL_SERVING_STATUS_TOKEN
    if not token:
        raise Response(404, {"error": _NOT_FOUND})
    scheme, _, given = (headers("HTTP_AUTHORIZATION") or "").partition(" ")
    if scheme.lower() != "bearer" or not hmac.compare_digest(
        given.strip().encode(), token.encode()
    ):
        raise Response(401, {"error": "Send the status token as 'Authorization: Bearer <token>'."})
    if method != "GET":
        raise Response(405, {"error": "Use GET."})
    return 200, {
        "pid": os.getpid(),
        "max_models": settings.PORTAL_SERVING_MAX_MODELS,
        "models": MODELS.held(),
        "prediction_log": LOG.figures(),
        # Whether a model held (or once held) here needed its DataFrame: pandas costs a serving
        # process ~100 MB, and none of its models may need it (docs/serving-fast-path.md).
        "pandas_imported": "pandas" in sys.modules,
    }


def _refused(held: Live | None, status: int, body: dict[str, Any]) -> tuple[int, dict[str, Any]]:
    """An error answer, counted for monitoring when it was about a live deployment (made-up
    names are not counted: nothing would be watching them)."""
    if held is not None:
        LOG.refused(held.deployment_id, status)
    return status, body


def _json(
    status: int, body: dict[str, Any], request_id: str
) -> tuple[str, list[tuple[str, str]], bytes]:
    try:
        content = json.dumps({**body, "request_id": request_id}, allow_nan=False).encode()
    except ValueError:  # _check_finite should have answered; never send invalid JSON
        logger.error("serving answer %s held a value JSON cannot carry", request_id)
        status, body = 500, {"error": "The portal failed to answer; the failure is logged."}
        content = json.dumps({**body, "request_id": request_id}).encode()
    reason = {
        200: "OK",
        400: "Bad Request",
        401: "Unauthorized",
        404: "Not Found",
        405: "Method Not Allowed",
        409: "Conflict",
        413: "Payload Too Large",
        422: "Unprocessable Content",
        500: "Internal Server Error",
    }.get(status, "")
    headers = [
        ("Content-Type", "application/json"),
        ("Content-Length", str(len(content))),
        ("X-Request-ID", request_id),
        ("X-Content-Type-Options", "nosniff"),
        ("Cache-Control", "no-store"),
    ]
    return f"{status} {reason}", headers, content


class ServingApp:
    """WSGI: answers /serve/ itself, hands everything else to the portal's Django application,
    or, without one (the serving tier, serving_wsgi.py), answers it with a JSON 404."""

    def __init__(self, portal: Callable[..., Iterable[bytes]] | None = None) -> None:
        self.portal = portal
        if not settings.PORTAL_PREDICTION_LOGGING:
            logger.warning(
                "PORTAL_PREDICTION_LOGGING is off: predictions are neither logged nor monitored"
            )

    def __call__(
        self, environ: dict[str, Any], start_response: Callable[..., Any]
    ) -> Iterable[bytes]:
        path = environ.get("PATH_INFO", "")
        if not path.startswith("/serve/"):
            if self.portal is not None:
                return self.portal(environ, start_response)
            request_id = request_id_from(environ.get("HTTP_X_REQUEST_ID", ""))
            line, headers, content = _json(
                404, {"error": f"This server answers predictions only. {_NOT_FOUND}"}, request_id
            )
            start_response(line, headers)
            return [content]
        stream = environ["wsgi.input"]
        # What Django does around each of its requests: drop a connection that broke or aged.
        close_old_connections()
        request_id = request_id_from(environ.get("HTTP_X_REQUEST_ID", ""))
        try:
            status, body = handle(
                environ.get("REQUEST_METHOD", "GET"), path, environ.get, stream.read, request_id
            )
        finally:
            close_old_connections()
        line, headers, content = _json(status, body, request_id)
        start_response(line, headers)
        return [content]


def django_view(request: Any, model: str, environment: str, action: str) -> Any:
    """The same handler behind Django's URLconf (development server, tests)."""
    from django.http import HttpResponse

    from apps.audit.context import current

    bound = current()  # the portal's middleware gave this request its id
    request_id = bound.request_id if bound else request_id_from("")
    status, body = handle(
        request.method, request.path, request.META.get, lambda n: request.body, request_id
    )
    _, headers, content = _json(status, body, request_id)
    response = HttpResponse(content, status=status, content_type="application/json")
    for name, value in headers:
        if name not in ("Content-Type", "Content-Length"):
            response[name] = value
    return response
