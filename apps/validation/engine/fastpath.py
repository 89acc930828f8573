"""The scoring fast path: the validated model converted to ONNX, kept only if it answers like the
model itself on the whole holdout. Runs inside the sandbox, after the report (``child.validate``).

Serving runs a version on onnxruntime only when this stage wrote ``out/model.onnx``; otherwise
(a feature that is not numeric, an estimator skl2onnx cannot convert, answers that differ) it
keeps scikit-learn, and ``serving_path`` says why in the data scientist's words. Nothing here can
fail a validation: every problem becomes the reason the version keeps scikit-learn.

The check is what serving would answer, row by row, on every holdout row:
- predictions identical once written as JSON (so ``1`` and ``1.0`` or ``True`` differ), from the
  ONNX graph's label output against the model's own ``predict``;
- classifiers: every probability within ``PROBABILITY_TOLERANCE`` (absolute) of
  ``predict_proba``, the columns in ``classes_`` order, and the classes named in the graph (where
  its classifier node names them) in that same order;
- regressors: ``|onnx - predict| <= REGRESSION_TOLERANCE * (1 + |predict|)``, i.e. absolute
  below 1 and relative above.
"""

from __future__ import annotations

import json
import re
import time
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

PROBABILITY_TOLERANCE = 1e-6
REGRESSION_TOLERANCE = 1e-6
# The operator domains serving accepts (apps/deployments/serving.py checks them again).
ALLOWED_DOMAINS = frozenset({"", "ai.onnx.ml"})
# Input tensor types, in the order they are tried: float64 keeps the model's own precision;
# float32 is kept only where the converter knows no float64 and the check above still holds.
INPUT_TYPES = ("double", "float")


class NotConverted(Exception):
    """Why the version keeps scikit-learn, as the report says it."""


def _session(content: bytes) -> Any:
    """An onnxruntime session as serving makes it: the CPU provider, one thread."""
    import onnxruntime

    options = onnxruntime.SessionOptions()
    options.intra_op_num_threads = 1
    options.inter_op_num_threads = 1
    options.execution_mode = onnxruntime.ExecutionMode.ORT_SEQUENTIAL
    return onnxruntime.InferenceSession(
        content, sess_options=options, providers=["CPUExecutionProvider"]
    )


def _options(estimator: Any) -> dict[Any, dict[str, Any]]:
    """Classifiers answer a plain probability matrix, not a list of dictionaries (ZipMap)."""
    from sklearn.base import is_classifier

    return {id(estimator): {"zipmap": False}} if is_classifier(estimator) else {}


def _convert(estimator: Any, sample: np.ndarray) -> tuple[bytes, str]:
    """The ONNX graph, trying float64 input first and float32 where float64 is not supported."""
    from skl2onnx import to_onnx

    problems = []
    for kind in INPUT_TYPES:
        typed = sample.astype(np.float64 if kind == "double" else np.float32)
        try:
            converted = to_onnx(estimator, typed[:1], options=_options(estimator))
            content = converted.SerializeToString()
            _session(content)  # onnxruntime may lack a kernel for this type
        except Exception as exc:  # the converter's refusals are of every type
            problems.append(_refusal(estimator, exc))
            continue
        return content, kind
    raise NotConverted(problems[0])


def _refusal(estimator: Any, exc: Exception) -> str:
    message = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
    message = message.split(" with name=")[0].split(" and attributes=")[0]
    unsupported = re.search(r"shape calculator for type '<class '([\w.]+)'>'", str(exc))
    if unsupported:  # no converter for this class: name it alone
        return f"skl2onnx cannot convert {unsupported[1].rsplit('.', 1)[-1]}"
    return f"skl2onnx cannot convert {type(estimator).__name__}: {message[:300]}"


def _graph_classes(model: Any) -> list[Any] | None:
    """The class labels a classifier node of the graph names, in its order (None if none does)."""
    for node in model.graph.node:
        if node.domain != "ai.onnx.ml":
            continue
        for attribute in node.attribute:
            if attribute.name in ("classlabels_int64s", "classlabels_ints"):
                return [int(v) for v in attribute.ints]
            if attribute.name == "classlabels_strings":
                return [v.decode() for v in attribute.strings]
    return None


def _domains(model: Any) -> set[str]:
    found = {entry.domain for entry in model.opset_import}
    found |= {node.domain for node in model.graph.node}
    return found


def _compare(
    estimator: Any, task: str, frame: pd.DataFrame, outputs: list[np.ndarray]
) -> tuple[bool, str, dict[str, Any]]:
    """Whether the ONNX answers are the model's own, and the largest difference found."""
    predicted = np.asarray(estimator.predict(frame))
    if task == "regression":
        converted = np.asarray(outputs[0], dtype=float).reshape(len(frame))
        expected = predicted.astype(float)
        difference = float(np.max(np.abs(converted - expected), initial=0.0))
        within = np.abs(converted - expected) <= REGRESSION_TOLERANCE * (1 + np.abs(expected))
        figures = {"largest_prediction_difference": difference}
        if not bool(np.all(within)):
            return False, f"predictions differ by up to {difference:.1g} on the holdout", figures
        return True, f"largest prediction difference {difference:.1g}", figures
    labels = np.asarray(outputs[0]).reshape(len(frame))
    if json.dumps(labels.tolist()) != json.dumps(predicted.tolist()):
        differing = int(np.sum(labels.astype(str) != predicted.astype(str)))
        if differing == 0:  # the same values, as other types (1.0 for 1, say)
            return False, "the converted model answers its classes as another type", {}
        return False, f"the predicted class differs on {differing:,} holdout rows", {}
    proba = np.asarray(outputs[1], dtype=float)
    expected_proba = np.asarray(estimator.predict_proba(frame), dtype=float)
    if proba.shape != expected_proba.shape:
        return False, "the converted model answers probabilities of another shape", {}
    difference = float(np.max(np.abs(proba - expected_proba), initial=0.0))
    figures = {"largest_probability_difference": difference}
    if not difference <= PROBABILITY_TOLERANCE:
        return False, f"probabilities differ by up to {difference:.1g} on the holdout", figures
    return True, f"largest probability difference {difference:.1g}", figures


def check(
    estimator: Any, *, task: str, signature: dict[str, Any], holdout: pd.DataFrame, out: Path
) -> dict[str, Any]:
    """Convert, check, and write ``out/model.onnx`` if the check holds; the ``serving_path``
    record for the report either way. Never raises for the model's sake."""
    started = time.perf_counter()
    record: dict[str, Any] = {"path": "scikit-learn"}
    features = [f["name"] for f in signature["features"]]
    if not features or any(f["kind"] != "numeric" for f in signature["features"]):
        named = [f["name"] for f in signature["features"] if f["kind"] != "numeric"]
        record["reason"] = "a feature is not numeric" + (
            f" ({', '.join(named[:5])})" if named else ""
        )
        return record
    timings: dict[str, float] = {}
    try:
        mark = time.perf_counter()
        import onnx
        import onnxruntime
        import skl2onnx

        timings["import"] = round(time.perf_counter() - mark, 3)
        frame = holdout[features]
        rows = frame.to_numpy(dtype=np.float64)
        mark = time.perf_counter()
        content, kind = _convert(estimator, rows)
        timings["convert"] = round(time.perf_counter() - mark, 3)
        mark = time.perf_counter()
        model = onnx.load_from_string(content)
        foreign = _domains(model) - ALLOWED_DOMAINS
        if foreign:
            raise NotConverted(
                "the converted model uses operators outside ONNX and ONNX-ML ("
                + ", ".join(sorted(foreign))
                + ")"
            )
        session = _session(content)
        typed = rows.astype(np.float64 if kind == "double" else np.float32)
        feed = {session.get_inputs()[0].name: typed}
        outputs = session.run(None, feed)
        same, detail, figures = _compare(estimator, task, frame, outputs)
        if same and task != "regression":
            graph_classes = _graph_classes(model)
            if graph_classes is not None and [str(c) for c in graph_classes] != [
                str(c) for c in estimator.classes_.tolist()
            ]:
                same, detail = False, "the converted model lists its classes in another order"
        timings["check"] = round(time.perf_counter() - mark, 3)
    except NotConverted as refused:
        record["reason"] = str(refused)
        record["seconds"] = round(time.perf_counter() - started, 3)
        return record
    except MemoryError:
        raise
    except Exception as exc:  # the conversion or the run failed in a way skl2onnx does not name
        record["reason"] = _refusal(estimator, exc)
        record["seconds"] = round(time.perf_counter() - started, 3)
        return record
    record.update(figures)
    record["rows_checked"] = len(frame)
    record["input_type"] = kind
    record["timings"] = timings
    record["seconds"] = round(time.perf_counter() - started, 3)
    record["versions"] = {
        "skl2onnx": skl2onnx.__version__,
        "onnx": onnx.__version__,
        "onnxruntime": onnxruntime.__version__,
    }
    if not same:
        record["reason"] = detail + (
            " (float32 input: skl2onnx converts this model for float32 only)"
            if kind == "float"
            else ""
        )
        return record
    if task != "regression":
        record["classes"] = estimator.classes_.tolist()
    out.mkdir(exist_ok=True)
    (out / "model.onnx").write_bytes(content)
    record["path"] = "onnx"
    answers = (
        "predictions within 1e-6 (relative above 1)"
        if task == "regression"
        else "answers identical"
    )
    record["reason"] = (
        f"converted to ONNX; {answers} on all {len(frame):,} holdout rows ({detail}"
        + (", float32 input" if kind == "float" else "")
        + ")"
    )
    return record
