"""Real files for registry tests: a trained skops model, CSV and Parquet holdouts."""

from __future__ import annotations

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile

from apps.registry import services


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
