"""Real files for registry tests: a trained skops model, CSV and Parquet holdouts."""

from __future__ import annotations

import io
from dataclasses import dataclass

import numpy as np
import pandas as pd
import pytest
from django.core.files.uploadedfile import SimpleUploadedFile

from apps.registry import services


@dataclass(frozen=True)
class Files:
    skops: bytes
    pickle: bytes
    holdout_csv: bytes
    holdout_parquet: bytes
    reference_csv: bytes


@pytest.fixture(scope="session")
def files() -> Files:
    import pickle

    import skops.io
    from sklearn.linear_model import LogisticRegression

    rng = np.random.default_rng(0)
    frame = pd.DataFrame({"income": rng.normal(50, 10, 200), "debt": rng.normal(10, 3, 200)})
    frame["default"] = (frame["debt"] * 3 > frame["income"] * 0.6).astype(int)
    estimator = LogisticRegression().fit(frame[["income", "debt"]], frame["default"])
    parquet = io.BytesIO()
    frame.to_parquet(parquet)
    return Files(
        skops=skops.io.dumps(estimator),
        pickle=pickle.dumps(estimator, protocol=4),
        holdout_csv=frame.iloc[:100].to_csv(index=False).encode(),
        holdout_parquet=parquet.getvalue(),
        reference_csv=frame.iloc[100:].to_csv(index=False).encode(),
    )


def upload(name: str, content: bytes) -> SimpleUploadedFile:
    return SimpleUploadedFile(name, content)


@pytest.fixture
def alices_version(people, alices_model, files):
    return services.upload_version(
        alices_model.pk,
        actor=people.alice,
        artifact=upload("model.skops", files.skops),
        holdout=upload("holdout.csv", files.holdout_csv),
        target_column="default",
        reference=upload("train.csv", files.reference_csv),
        notes="first",
    )


@pytest.fixture(autouse=True)
def media(settings, tmp_path):
    """Each test stores files in its own folder, so "nothing stored" can be checked by looking."""
    settings.MEDIA_ROOT = tmp_path / "media"
    return settings.MEDIA_ROOT


def stored_files(media) -> list[str]:
    return sorted(str(p.relative_to(media)) for p in media.rglob("*") if p.is_file())
