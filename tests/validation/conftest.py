"""Real models, data and hostile payloads for validation tests, and running a job in-process."""

from __future__ import annotations

import io
import pickle
import zipfile
from dataclasses import dataclass

import numpy as np
import pandas as pd
import pytest
from django.core.files.uploadedfile import SimpleUploadedFile

from apps.jobs import services as jobs
from apps.jobs.models import Job
from apps.registry import services as registry
from apps.registry.models import ModelVersion, RegisteredModel
from apps.validation import sandbox
from apps.validation import services as validation
from tests.support.services import unavailable


def frame(n: int, seed: int) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    data = pd.DataFrame(
        {
            "income": rng.normal(50, 12, n),
            "debt": rng.normal(12, 4, n),
            "tenure": rng.integers(0, 30, n),
        }
    )
    logit = 0.15 * (data["debt"] - 12) - 0.08 * (data["income"] - 50) - 0.03 * data["tenure"]
    data["default"] = (rng.uniform(size=n) < 1 / (1 + np.exp(-logit))).astype(int)
    data["age_band"] = np.where(rng.uniform(size=n) < 0.5, "under 40", "40 and over")
    return data


@dataclass(frozen=True)
class Models:
    logistic: bytes
    boosting: bytes
    untrusted: bytes
    holdout: bytes
    reference: bytes
    features: tuple[str, ...] = ("income", "debt", "tenure")


class CustomScaler:
    """A class skops does not know: it must not be loaded."""

    def fit(self, X, y=None):
        return self


@pytest.fixture(scope="session")
def models() -> Models:
    import skops.io
    from sklearn.ensemble import GradientBoostingClassifier
    from sklearn.linear_model import LogisticRegression
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import StandardScaler

    train, holdout = frame(1500, 1), frame(600, 2)
    features = ["income", "debt", "tenure"]
    logistic = make_pipeline(StandardScaler(), LogisticRegression()).fit(
        train[features], train["default"]
    )
    boosting = GradientBoostingClassifier(n_estimators=30, max_depth=2, random_state=0)
    boosting.fit(train[features], train["default"])
    untrusted = make_pipeline(StandardScaler(), LogisticRegression()).fit(
        train[features], train["default"]
    )
    untrusted.custom = CustomScaler()
    return Models(
        logistic=skops.io.dumps(logistic),
        boosting=skops.io.dumps(boosting),
        untrusted=skops.io.dumps(untrusted),
        holdout=holdout.to_csv(index=False).encode(),
        reference=train.sample(500, random_state=0).to_csv(index=False).encode(),
    )


class Payload:
    """Unpickling this runs ``code``: what a malicious .pkl upload does."""

    def __init__(self, code: str) -> None:
        self.code = code

    def __reduce__(self):
        return (exec, (self.code,))


def pickled(code: str) -> bytes:
    return pickle.dumps(Payload(code), protocol=4)


def zip_bomb() -> bytes:
    """A .skops-looking archive whose one member, named by its schema, inflates 1000-fold."""
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
        archive.writestr("schema.json", '{"content": {"file": "data.npy"}}')
        archive.writestr("data.npy", b"\0" * (64 * 2**20))
    return buffer.getvalue()


def require_isolation() -> None:
    if not sandbox.isolation().isolated:
        unavailable(f"this test needs the bubblewrap sandbox: {sandbox.isolation().reason}")


@pytest.fixture(autouse=True)
def _fresh_isolation_probe():
    sandbox.isolation.cache_clear()
    yield
    sandbox.isolation.cache_clear()


def upload(
    model: RegisteredModel,
    user,
    artifact: bytes,
    *,
    name: str = "model.skops",
    holdout: bytes,
    reference: bytes | None = None,
    sensitive: str = "age_band",
) -> ModelVersion:
    return registry.upload_version(
        model.pk,
        actor=user,
        artifact=SimpleUploadedFile(name, artifact),
        holdout=SimpleUploadedFile("holdout.csv", holdout),
        target_column="default",
        reference=SimpleUploadedFile("train.csv", reference) if reference else None,
        sensitive_column=sensitive,
    )


def validate_now(version: ModelVersion) -> Job:
    """Run the version's queued validation job in this process, exactly as a worker would."""
    job = validation.jobs_of(version).get(status=Job.Status.QUEUED)
    jobs.run(
        str(job.uuid),
        worker="in-process",
        execute=validation.run_validation,
        commit=validation.store_validation,
    )
    job.refresh_from_db()
    version.refresh_from_db()
    return job


@pytest.fixture
def media_root(settings, tmp_path):
    settings.MEDIA_ROOT = tmp_path / "media"
    return settings.MEDIA_ROOT
