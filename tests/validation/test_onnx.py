"""The serving fast path at validation: the sandbox converts a numeric model to ONNX, checks it on
the whole holdout, and the worker stores the copy; a model that does not convert keeps
scikit-learn, with the reason in the report, on its page and in the API."""

from __future__ import annotations

import io
import json

import numpy as np
import pandas as pd
import pytest
import skops.io

from apps.registry import storage
from apps.validation.engine import fastpath
from apps.validation.models import ValidationReport
from tests.validation.conftest import frame, require_isolation, upload, validate_now

pytestmark = pytest.mark.django_db
FEATURES = ["income", "debt", "tenure"]


def _report(version) -> ValidationReport:  # type: ignore[no-untyped-def]
    return ValidationReport.objects.filter(version=version).latest()


def _onnx_answers(content: bytes, rows: pd.DataFrame) -> list[np.ndarray]:
    import onnxruntime

    session = onnxruntime.InferenceSession(content, providers=["CPUExecutionProvider"])
    return session.run(None, {session.get_inputs()[0].name: rows.to_numpy(dtype=np.float64)})


def test_a_numeric_pipeline_is_converted_in_the_sandbox_and_stored_with_its_digest(
    people, alices_model, models, media_root
):
    require_isolation()
    version = upload(alices_model, people.alice, models.logistic, holdout=models.holdout)
    validate_now(version)
    report = _report(version)
    assert report.outcome == ValidationReport.Outcome.PASSED, report.reasons
    assert report.isolated
    path = report.data["serving_path"]
    assert path["path"] == "onnx", path
    assert path["reason"].startswith("converted to ONNX; answers identical on all 600 holdout")
    assert path["rows_checked"] == 600 and path["input_type"] == "double"
    assert path["largest_probability_difference"] <= 1e-6
    assert path["classes"] == [0, 1]
    assert set(path["timings"]) == {"import", "convert", "check"}
    # Stored under a generated key, with the digest the sandbox reported, read back the same.
    assert report.onnx_key.startswith("registry/") and report.onnx_sha256 == path["sha256"]
    assert storage.sha256_of(report.onnx_key) == report.onnx_sha256
    with storage.open_blob(report.onnx_key) as handle:
        content = handle.read()
    holdout = pd.read_csv(io.BytesIO(models.holdout))
    estimator = skops.io.loads(models.logistic, trusted=[])
    labels, proba = _onnx_answers(content, holdout[FEATURES])
    assert labels.tolist() == estimator.predict(holdout[FEATURES]).tolist()
    assert np.abs(proba - estimator.predict_proba(holdout[FEATURES])).max() <= 1e-6
    assert report.serving_path == {
        "path": "onnx",
        "reason": path["reason"],
        "takes_arrays": True,
        "arrays_reason": "answers identical to its DataFrame on all 600 holdout rows",
    }


def _nearest_centroid() -> bytes:
    from sklearn.neighbors import NearestCentroid
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import StandardScaler

    train = frame(800, 5)
    model = make_pipeline(StandardScaler(), NearestCentroid()).fit(
        train[FEATURES], train["default"]
    )
    return skops.io.dumps(model)


def _with_a_categorical_feature() -> tuple[bytes, bytes]:
    from sklearn.compose import make_column_transformer
    from sklearn.linear_model import LogisticRegression
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import OneHotEncoder, StandardScaler

    train, holdout = frame(800, 6), frame(300, 7)
    columns = [*FEATURES, "age_band"]
    model = make_pipeline(
        make_column_transformer(
            (StandardScaler(), FEATURES), (OneHotEncoder(handle_unknown="ignore"), ["age_band"])
        ),
        LogisticRegression(),
    ).fit(train[columns], train["default"])
    return skops.io.dumps(model), holdout.to_csv(index=False).encode()


def test_a_model_skl2onnx_cannot_convert_serves_on_scikit_learn_and_says_why(
    people, alices_model, models, media_root, client
):
    version = upload(alices_model, people.alice, _nearest_centroid(), holdout=models.holdout)
    validate_now(version)
    report = _report(version)
    assert report.outcome == ValidationReport.Outcome.PASSED, report.reasons
    assert report.serving_path == {
        "path": "scikit-learn",
        "reason": "skl2onnx cannot convert NearestCentroid",
        "takes_arrays": True,
        "arrays_reason": "answers identical to its DataFrame on all 600 holdout rows",
    }
    assert report.onnx_key == "" and report.onnx_sha256 == ""

    client.force_login(people.alice)
    page = client.get(version.get_absolute_url())
    assert page.status_code == 200
    assert (
        "Serving path:</strong> scikit-learn — skl2onnx cannot convert NearestCentroid"
        in page.content.decode()
    )
    api = client.get(
        f"/api/v1/models/{alices_model.slug}/versions/{version.number}/validation/"
    ).json()
    assert api["report"]["serving_path"] == report.serving_path


def test_a_categorical_feature_keeps_scikit_learn(people, alices_model, media_root):
    artifact, holdout = _with_a_categorical_feature()
    version = upload(alices_model, people.alice, artifact, holdout=holdout, sensitive="")
    validate_now(version)
    report = _report(version)
    assert report.outcome != ValidationReport.Outcome.ERROR, report.reasons
    assert report.serving_path == {
        "path": "scikit-learn",
        "reason": "a feature is not numeric (age_band)",
        "takes_arrays": False,
        "arrays_reason": "a feature is not numeric (age_band)",
    }
    assert report.onnx_key == ""


def test_answers_that_differ_are_named_with_their_size(tmp_path):
    """The check itself: a converted model whose probabilities are off is not kept."""
    from sklearn.linear_model import LogisticRegression

    data = frame(400, 8)
    model = LogisticRegression().fit(data[FEATURES], data["default"])
    signature = {"features": [{"name": n, "kind": "numeric"} for n in FEATURES]}
    kept = fastpath.check(
        model, task="binary", signature=signature, holdout=data, out=tmp_path / "a"
    )
    assert kept["path"] == "onnx" and (tmp_path / "a" / "model.onnx").is_file()

    # The model changed after conversion: what the ONNX copy answers is no longer its own.
    rows = data[FEATURES].to_numpy(dtype=float)
    converted, kind = fastpath._convert(model, rows)
    assert kind == "double"
    session = fastpath._session(converted)
    answers = session.run(None, {session.get_inputs()[0].name: rows})
    model.coef_ = model.coef_ * 1.01
    same, reason, figures = fastpath._compare(model, "binary", data[FEATURES], answers)
    assert not same
    assert reason.startswith(("probabilities differ by up to", "the predicted class differs"))
    assert figures == {} or figures["largest_probability_difference"] > 1e-6
    json.dumps(figures)


@pytest.mark.worker
@pytest.mark.django_db(transaction=True)
def test_a_real_worker_stores_the_onnx_copy_of_an_upload(people, alices_model, models, worker):
    from apps.registry.models import ModelVersion
    from tests.support.worker import wait_for

    version = upload(alices_model, people.alice, models.logistic, holdout=models.holdout)

    def validated() -> bool:
        version.refresh_from_db()
        return version.status == ModelVersion.Status.VALIDATED

    wait_for(validated, timeout=120, message=f"the worker to validate\n{worker.output()}")
    report = _report(version)
    assert report.serving_path is not None and report.serving_path["path"] == "onnx"
    assert (
        storage.sha256_of(report.onnx_key)
        == report.onnx_sha256
        == (report.data["serving_path"]["sha256"])
    )
