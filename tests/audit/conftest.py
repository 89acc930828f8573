"""Each audit test is a fresh installation: a fresh database, and a fresh checkpoint file."""

from __future__ import annotations

from pathlib import Path

import pytest


@pytest.fixture(autouse=True)
def checkpoint_file(settings, tmp_path: Path) -> Path:  # type: ignore[no-untyped-def]
    path = tmp_path / "audit-checkpoints.jsonl"
    settings.PORTAL_AUDIT_CHECKPOINT_FILE = path
    return path
