"""Versions validated before baselines existed get one by a re-run that leaves what was
approved as it was."""

from __future__ import annotations

import io

import pytest
from django.core.management import call_command

from apps.audit.models import AuditEvent
from apps.registry.models import ModelVersion, StoredFile
from apps.validation import evidence
from apps.validation.models import ValidationReport
from tests.validation.conftest import upload, validate_now

pytestmark = pytest.mark.django_db


def test_an_approved_version_without_a_baseline_gets_one_and_keeps_its_status_and_copy(
    people, alices_model, models
):
    version = upload(alices_model, people.alice, models.logistic, holdout=models.holdout)
    validate_now(version)
    old = ValidationReport.objects.get(version=version)
    # As a report written before baselines existed, on a version that went on to approval.
    old.data = {k: v for k, v in old.data.items() if k != "baseline"}
    old.save(update_fields=["data"])
    ModelVersion.objects.filter(pk=version.pk).update(status=ModelVersion.Status.APPROVED)
    canonical = version.files.get(role=StoredFile.Role.CANONICAL)
    assert evidence.baseline_of(version) is None

    listed = io.StringIO()
    call_command("fix_baselines", "--dry-run", stdout=listed)
    assert "1 version would be re-validated." in listed.getvalue()

    out = io.StringIO()
    call_command("fix_baselines", stdout=out)
    assert f"queued: {version}" in out.getvalue()
    call_command("fix_baselines", stdout=io.StringIO())  # queued already: not twice
    validate_now(version)

    version.refresh_from_db()
    assert version.status == ModelVersion.Status.APPROVED
    assert version.files.get(role=StoredFile.Role.CANONICAL) == canonical  # what is served
    fixed = evidence.baseline_of(version)
    assert fixed is not None and {f["feature"] for f in fixed["features"]} == {
        "income",
        "debt",
        "tenure",
    }
    event = AuditEvent.objects.get(action="validation.rerun_requested")
    assert event.actor is None and event.after["why"] == "monitoring baseline"
    again = io.StringIO()
    call_command("fix_baselines", stdout=again)
    assert "0 versions queued" in again.getvalue()
