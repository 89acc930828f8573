"""The scoring fast path in serving: a version validation converted to ONNX answers through
/serve/ on onnxruntime exactly as on scikit-learn; a version without a copy, a copy whose bytes
changed or that uses a foreign operator domain, or the setting off, serve on scikit-learn."""

from __future__ import annotations

import io
import json
import logging

import numpy as np
import pandas as pd
import pytest
import skops.io
from django.core.files.base import ContentFile

from apps.deployments import serving
from apps.registry import storage
from apps.validation.evidence import signature_of
from apps.validation.models import ValidationReport
from tests.deployments.conftest import approved_version, deploy_now

pytestmark = pytest.mark.django_db

URL = "/serve/loan-default/staging/predict"
FEATURES = ["income", "debt", "tenure"]


def _call(client, key: str, rows: pd.DataFrame):  # type: ignore[no-untyped-def]
    response = client.post(
        URL,
        data=json.dumps({"columns": rows.to_dict(orient="list")}),
        content_type="application/json",
        HTTP_AUTHORIZATION=f"Bearer {key}",
    )
    assert response.status_code == 200, response.content
    return response.json()


def _holdout(models) -> pd.DataFrame:  # type: ignore[no-untyped-def]
    return pd.read_csv(io.BytesIO(models.holdout))[FEATURES]


def _path_held() -> str:
    (held,) = serving.MODELS.held()
    return held["serving_path"]


def _report(version) -> ValidationReport:  # type: ignore[no-untyped-def]
    return ValidationReport.objects.filter(version=version).latest()


def test_a_converted_version_serves_on_onnx_with_the_same_answers_as_scikit_learn(
    client, key, models, v1, settings
):
    assert _report(v1).serving_path["path"] == "onnx"
    rows = _holdout(models)  # every holdout row, in one request
    fast = _call(client, key, rows)
    assert _path_held() == "onnx"

    settings.PORTAL_SERVING_ONNX = False
    serving.MODELS.forget()
    slow = _call(client, key, rows)
    assert _path_held() == "scikit-learn"

    estimator = skops.io.loads(models.logistic, trusted=[])
    assert fast["predictions"] == slow["predictions"] == estimator.predict(rows).tolist()
    assert fast["classes"] == slow["classes"] == [0, 1]
    assert len(fast["probabilities"]) == len(rows) == 600
    # Both rounded to six places; the ONNX copy is within 1e-6 before rounding.
    assert np.abs(np.subtract(fast["probabilities"], slow["probabilities"])).max() <= 1.01e-6
    assert np.allclose(fast["probabilities"], estimator.predict_proba(rows), atol=1e-6)
    assert set(fast) == set(slow)


def test_the_status_page_says_which_path_each_model_serves_on(client, key, models, settings):
    settings.PORTAL_SERVING_STATUS_TOKEN = "t" * 40
    _call(client, key, _holdout(models).head(1))
    # What the WSGI entry points answer at /serve/_status (Django's URLconf has no such path).
    headers = {"HTTP_AUTHORIZATION": "Bearer " + "t" * 40}
    status, answer = serving.handle("GET", "/serve/_status", headers.get, lambda n: b"", "req")
    assert status == 200
    (held,) = answer["models"]
    assert held["serving_path"] == "onnx" and held["challenger"] is None


def test_a_version_skl2onnx_cannot_convert_serves_on_scikit_learn(
    client, people, alices_model, models
):
    from apps.deployments import services
    from tests.validation.test_onnx import _nearest_centroid

    version = approved_version(people, alices_model, _nearest_centroid(), models.holdout)
    assert _report(version).serving_path == {
        "path": "scikit-learn",
        "reason": "skl2onnx cannot convert NearestCentroid",
        "takes_arrays": True,
        "arrays_reason": "answers identical to its DataFrame on all 600 holdout rows",
    }
    deploy_now(services.request_deployment(version.pk, "staging", actor=people.ivan))
    _, raw = services.create_serving_key(
        alices_model.pk, "staging", actor=people.ivan, name="loan origination"
    )
    rows = _holdout(models).head(20)
    answer = _call(client, raw, rows)
    assert _path_held() == "scikit-learn"
    estimator = skops.io.loads(_nearest_centroid(), trusted=[])
    assert answer["predictions"] == estimator.predict(rows).tolist()


def _replace_copy(report: ValidationReport, content: bytes, *, record_digest: bool) -> None:
    """Put other bytes where the report's ONNX copy is: under its key (the digest then no longer
    matches), or as a new blob whose digest is recorded (what a sandbox that wrote a hostile
    graph would have produced)."""
    if record_digest:
        blob = storage.save(ContentFile(content))
        ValidationReport.objects.filter(pk=report.pk).update(
            onnx_key=blob.key, onnx_sha256=blob.sha256
        )
        return
    storage.delete([report.onnx_key])
    from django.core.files.storage import default_storage

    assert default_storage.save(report.onnx_key, ContentFile(content)) == report.onnx_key


def _stored_copy(report: ValidationReport) -> bytes:
    with storage.open_blob(report.onnx_key) as handle:
        return handle.read()


def test_a_tampered_onnx_copy_is_refused_and_the_version_serves_on_scikit_learn(
    client, key, models, v1, caplog
):
    report = _report(v1)
    content = bytearray(_stored_copy(report))
    content[-1] ^= 0xFF
    _replace_copy(report, bytes(content), record_digest=False)
    with caplog.at_level(logging.WARNING, logger="apps.deployments.serving"):
        answer = _call(client, key, _holdout(models).head(5))
        serving.MODELS.scorer(v1, signature_of(v1) or {})  # asked again: no second warning
    assert _path_held() == "scikit-learn"
    assert answer["classes"] == [0, 1]
    warnings = [r.getMessage() for r in caplog.records if "ONNX copy" in r.getMessage()]
    assert len(warnings) == 1
    assert "does not match its recorded SHA-256" in warnings[0]


def _with_foreign_domain(content: bytes) -> bytes:
    """The same graph with one of its nodes moved into onnxruntime's contrib operator domain."""
    import onnx

    model = onnx.load_model_from_string(content)
    model.opset_import.append(onnx.helper.make_opsetid("com.microsoft", 1))
    scaler = model.graph.node[0]
    identity = onnx.helper.make_node(
        "Gelu", [scaler.input[0]], ["through_contrib"], domain="com.microsoft"
    )
    scaler.input[0] = "through_contrib"
    model.graph.node.insert(0, identity)
    return model.SerializeToString()


def test_an_onnx_copy_with_a_foreign_operator_domain_is_refused(client, key, models, v1, caplog):
    report = _report(v1)
    hostile = _with_foreign_domain(_stored_copy(report))
    with pytest.raises(serving.RefusedOnnx, match=r"operator domains com\.microsoft"):
        serving.checked_onnx(hostile)
    _replace_copy(report, hostile, record_digest=True)
    with caplog.at_level(logging.WARNING, logger="apps.deployments.serving"):
        _call(client, key, _holdout(models).head(5))
    assert _path_held() == "scikit-learn"
    assert any("com.microsoft" in r.getMessage() for r in caplog.records)


def test_an_onnx_copy_with_external_data_or_its_own_functions_is_refused(key, v1):
    import onnx

    content = _stored_copy(_report(v1))
    model = onnx.load_model_from_string(content)
    tensor = model.graph.initializer[0]
    tensor.data_location = onnx.TensorProto.EXTERNAL
    entry = tensor.external_data.add()
    entry.key, entry.value = "location", "../../../etc/passwd"
    with pytest.raises(serving.RefusedOnnx):
        serving.checked_onnx(model.SerializeToString())

    model = onnx.load_model_from_string(content)
    model.functions.append(onnx.helper.make_function("ai.onnx.ml", "Mine", ["x"], ["y"], [], []))
    with pytest.raises(serving.RefusedOnnx, match="functions of its own"):
        serving.checked_onnx(model.SerializeToString())
    serving.checked_onnx(content)  # the copy as validation stored it passes


def test_with_the_setting_off_every_version_serves_on_scikit_learn(client, key, models, settings):
    settings.PORTAL_SERVING_ONNX = False
    _call(client, key, _holdout(models).head(3))
    assert _path_held() == "scikit-learn"
