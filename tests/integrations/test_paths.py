"""Artifact paths and references from MLflow: pure functions, no server."""

from __future__ import annotations

import pytest

from apps.integrations.mlflow_client import (
    MlflowError,
    UnsafePath,
    model_path,
    parse_reference,
    proxied_location,
    safe_artifact_path,
)


@pytest.mark.parametrize(
    "path",
    [
        "../etc/passwd",
        "model/../../mlflow.db",
        "/etc/passwd",
        "\\windows\\system32",
        "C:evil",
        "model/./x",
        "model//x",
        "%2e%2e/%2e%2e/etc/passwd",
        "%252e%252e/x",
        "model.pkl?x=1",
        "model.pkl#frag",
        "model.pkl;rm",
        "model\x00.pkl",
        "model\\..\\x",
        "",
    ],
)
def test_unsafe_artifact_paths_are_refused(path: str) -> None:
    with pytest.raises(UnsafePath):
        safe_artifact_path(path)


@pytest.mark.parametrize(
    "path", ["model.pkl", "model.skops", "1/models/m-0123abcd/artifacts/MLmodel", "a_b-c.d=e+f"]
)
def test_plain_artifact_paths_pass(path: str) -> None:
    assert safe_artifact_path(path) == path


def test_a_proxied_location_is_checked_too() -> None:
    assert proxied_location("mlflow-artifacts:/1/models/m-ab12cd34/artifacts") == (
        "1/models/m-ab12cd34/artifacts"
    )
    with pytest.raises(UnsafePath):
        proxied_location("mlflow-artifacts:/1/../../../etc")
    with pytest.raises(MlflowError, match="artifact proxy"):
        proxied_location("file:///srv/mlruns/1/abc/artifacts")
    with pytest.raises(MlflowError, match="artifact proxy"):
        proxied_location("s3://bucket/1/abc")


def test_model_sources() -> None:
    assert model_path("models:/m-0123456789abcdef") == ("logged", "m-0123456789abcdef")
    assert model_path("runs:/0123456789abcdef/model") == ("run", "0123456789abcdef/model")
    with pytest.raises(UnsafePath):
        model_path("runs:/0123456789abcdef/../../x")
    with pytest.raises(MlflowError):
        model_path("models:/../../x")
    with pytest.raises(MlflowError):
        model_path("/tmp/model")


@pytest.mark.parametrize(
    ("text", "version", "alias"),
    [
        ("models:/credit-pd/7", "7", ""),
        ("models:/credit-pd@candidate", "", "candidate"),
        ("7", "7", ""),
        ("@candidate", "", "candidate"),
        ("champion", "", "champion"),
    ],
)
def test_references(text: str, version: str, alias: str) -> None:
    reference = parse_reference(text, linked_name="credit-pd")
    assert (reference.name, reference.version, reference.alias) == ("credit-pd", version, alias)


@pytest.mark.parametrize(
    "text", ["", "models:/other/1", "models:/credit-pd/../1", "models:/credit-pd/0", "@a b", "1.5"]
)
def test_bad_references_are_refused(text: str) -> None:
    with pytest.raises(ValueError, match=r"\S"):
        parse_reference(text, linked_name="credit-pd")
