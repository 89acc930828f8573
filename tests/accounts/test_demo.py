"""The demo seed that `make run` runs on every start."""

from __future__ import annotations

import io
import json
import zipfile

import pytest
from django.contrib.auth.models import User
from django.core.management import call_command
from guardian.conf import settings as guardian_settings

from apps.accounts.models import Team
from apps.audit.models import AuditEvent
from apps.registry import storage
from apps.registry.models import RegisteredModel, StoredFile

pytestmark = pytest.mark.django_db

# What the README promises: three models trained on the spot, owned by the two demo teams, with
# two or three versions each (the estimator class of each version, in order).
MODELS = {
    "Retail loan default": (
        "retail-credit",
        ["Pipeline", "GradientBoostingClassifier", "RandomForestClassifier"],
    ),
    "Card fraud detection": ("fraud", ["Pipeline", "GradientBoostingClassifier"]),
    "Breast cancer benchmark": ("fraud", ["Pipeline", "RandomForestClassifier"]),
}
USERS = {"alice", "bob", "ivan", "rita", "carl", "admin"}


def artifact_schema(stored: StoredFile) -> dict:
    """The skops archive's schema: what it holds, read without loading it."""
    with storage.open_blob(stored.key) as handle, zipfile.ZipFile(handle) as archive:
        return json.loads(archive.read("schema.json"))


def test_seeding_twice_creates_everything_once_and_keeps_the_password(
    settings, tmp_path, monkeypatch
):
    settings.VAR_DIR = tmp_path
    settings.MEDIA_ROOT = tmp_path / "media"
    monkeypatch.delenv("PORTAL_DEMO_PASSWORD", raising=False)
    monkeypatch.delenv("PORTAL_DEMO_PASSWORD_FILE", raising=False)

    first, second = io.StringIO(), io.StringIO()
    call_command("seed_demo", stdout=first)
    password = (tmp_path / "demo_password").read_text().strip()
    blobs = sorted(p for p in (tmp_path / "media").rglob("*") if p.is_file())
    call_command("seed_demo", stdout=second)

    people = User.objects.exclude(username=guardian_settings.ANONYMOUS_USER_NAME)
    assert set(people.values_list("username", flat=True)) == USERS
    assert people.count() == len(USERS)
    assert AuditEvent.objects.filter(action="user.created").count() == len(USERS)
    assert set(Team.objects.values_list("slug", flat=True)) == {"retail-credit", "fraud"}
    assert Team.objects.count() == 2
    assert (tmp_path / "demo_password").read_text().strip() == password
    assert all(User.objects.get(username=u).check_password(password) for u in USERS)
    assert "DEMO DATA" in second.getvalue() and password in second.getvalue()

    assert RegisteredModel.objects.count() == len(MODELS)
    for name, (team, estimators) in MODELS.items():
        model = RegisteredModel.objects.get(name=name)
        assert model.team.slug == team
        assert model.owner.groups.filter(pk=model.team.group_id).exists()
        versions = list(model.versions.order_by("number"))
        assert [v.number for v in versions] == list(range(1, len(estimators) + 1))
        assert model.version_count == len(versions) and model.latest_version == versions[-1]
        for version, estimator in zip(versions, estimators, strict=True):
            roles = {f.role: f for f in version.files.all()}
            assert set(roles) == {"artifact", "holdout", "reference"}
            schema = artifact_schema(roles["artifact"])
            assert schema["__class__"] == estimator
            assert "n_features_in_" in json.dumps(schema)  # fitted, not a bare estimator
            assert roles["holdout"].details["rows"] > 100
            assert version.target_column in roles["holdout"].details["columns"]
    assert StoredFile.objects.count() == 3 * sum(len(e) for _, e in MODELS.values())
    assert sorted(p for p in (tmp_path / "media").rglob("*") if p.is_file()) == blobs
