"""Alice links a model to MLflow, picks version 2 in the picker, imports it, and reads its
provenance on the version page (Chromium, a real MLflow server)."""

from __future__ import annotations

import re

import pytest
from playwright.sync_api import expect

from apps.integrations.models import MlflowImport
from tests.conftest import sign_in
from tests.integrations.conftest import finish_import, make_connection

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def test_alice_links_picks_version_2_and_imports_it(people, alices_model, logged, new_page):
    make_connection(people, logged.server.url, password=logged.server.password)
    alice = new_page()
    sign_in(alice, "alice")
    alice.goto(alices_model.get_absolute_url())
    section = alice.locator("#mlflow")
    section.get_by_label("MLflow server").select_option(label="Lab MLflow")
    section.get_by_label("MLflow registered model name").fill("credit-pd")
    section.get_by_role("button", name="Link to MLflow").click()
    expect(alice.get_by_text("Linked to “credit-pd” in MLflow.")).to_be_visible()

    section = alice.locator("#mlflow")
    expect(section.get_by_text("@candidate")).to_be_visible()  # the picker asked MLflow
    section.get_by_label("Version 2").check()
    section.get_by_label("Holdout data (CSV or Parquet)").set_input_files(
        files=[{"name": "holdout.csv", "mimeType": "text/csv", "buffer": logged.holdout}]
    )
    section.get_by_label("Target column").fill("default")
    section.get_by_role("button", name="Import", exact=True).click()
    expect(alice.get_by_text("Importing models:/credit-pd/2 from MLflow")).to_be_visible()

    record = finish_import(MlflowImport.objects.get())  # as a worker would
    assert record.state == MlflowImport.State.IMPORTED, record.failure
    alice.reload()
    section = alice.locator("#mlflow")
    section.get_by_role("link", name="version 1").click()
    expect(alice).to_have_url(re.compile(r"/models/loan-default/versions/1/$"))
    provenance = alice.locator("#provenance")
    expect(provenance.get_by_role("heading", name="Provenance")).to_be_visible()
    expect(provenance).to_contain_text(logged.versions["2"]["run_id"])
    expect(provenance).to_contain_text("credit-pd-experiments")
    expect(provenance).to_contain_text("c0ffee2")
    expect(provenance).to_contain_text("@candidate")
