"""Alice registers a model and uploads a version in Chromium; Bob cannot find it."""

from __future__ import annotations

import re

import pytest
from playwright.sync_api import expect

from apps.registry.models import ModelVersion
from tests.conftest import open_nav, sign_in

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def test_alice_registers_and_uploads_and_bob_cannot_find_it(people, new_page, files):
    alice = new_page()
    sign_in(alice, "alice")
    open_nav(alice, "Models")
    alice.get_by_role("link", name="Register a model").click()
    alice.get_by_label("Name").fill("Small business credit")
    alice.get_by_label("Team").select_option(label="Retail credit")
    alice.get_by_label("Business use case").fill("Limit offers to small businesses")
    alice.get_by_label("Risk tier").select_option("high")
    alice.get_by_label("Risk owner").select_option(label="Rita (rita)")
    alice.get_by_label("Tags").fill("credit, sme")
    alice.get_by_role("button", name="Register").click()

    expect(alice.get_by_text("“Small business credit” registered")).to_be_visible()
    expect(alice.get_by_role("heading", name="Upload a version")).to_be_visible()
    alice.get_by_label("Artifact").set_input_files(
        files=[{"name": "model.skops", "mimeType": "application/zip", "buffer": files.skops}]
    )
    alice.get_by_label("Holdout data").set_input_files(
        files=[{"name": "holdout.csv", "mimeType": "text/csv", "buffer": files.holdout_csv}]
    )
    alice.get_by_label("Target column").fill("nonexistent")
    alice.get_by_role("button", name="Upload").click()
    # The API's message appears without losing the chosen files.
    expect(alice.get_by_role("alert")).to_contain_text("no column named “nonexistent”")
    alice.get_by_label("Target column").fill("default")
    alice.get_by_role("button", name="Upload").click()

    expect(alice).to_have_url(re.compile(r"/models/small-business-credit/versions/1/$"))
    expect(alice.get_by_role("heading", name=re.compile("Version 1"))).to_be_visible()
    expect(alice.get_by_text("model.skops")).to_be_visible()
    assert ModelVersion.objects.get(model__slug="small-business-credit").uploaded_by == people.alice

    bob = new_page()
    sign_in(bob, "bob")
    open_nav(bob, "Models")
    bob.get_by_role("textbox", name="Search").fill("Small business")
    bob.get_by_role("button", name="Apply").click()
    expect(bob.get_by_text("No model you may see matches these filters")).to_be_visible()
    response = bob.goto("/models/small-business-credit/")
    assert response is not None and response.status == 404
