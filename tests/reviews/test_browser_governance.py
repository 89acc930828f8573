"""Governed changes and what model operations see, in three browsers (security issue 1-4)."""

from __future__ import annotations

import re

import pytest
from playwright.sync_api import expect

from apps.registry.models import ModelVersion, RegisteredModel
from apps.reviews import services
from tests.conftest import confirm, sign_in
from tests.reviews.conftest import new_version

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def test_alice_proposes_a_lower_tier_rita_refuses_and_ivan_sees_only_the_submitted_version(
    people, alices_model, files, new_page
):
    new_version(alices_model, people.alice, files, status=ModelVersion.Status.VALIDATION_FAILED)
    submitted = new_version(alices_model, people.alice, files)
    services.request_review(submitted.pk, actor=people.alice, summary="Ready")
    alice, rita, ivan = new_page(), new_page(), new_page()
    for page, name in ((alice, "alice"), (rita, "rita"), (ivan, "ivan")):
        sign_in(page, name)

    # The edit form has no risk fields; the model page proposes instead.
    alice.goto("/models/loan-default/edit/")
    expect(alice.get_by_label("Risk tier")).to_have_count(0)
    alice.goto("/models/loan-default/")
    alice.get_by_text("Propose a new risk tier, risk owner or team").click()
    alice.get_by_label("What to change").select_option("risk_tier")
    alice.get_by_label("New risk tier").select_option("low")
    alice.get_by_label("Reason").fill("The book is small now.")
    alice.get_by_role("button", name="Propose").click()
    expect(alice.get_by_text("Change proposed; rita (risk owner) or compliance")).to_be_visible()
    expect(alice.get_by_text("Waiting for approval: Risk tier high → low")).to_be_visible()

    rita.goto("/models/loan-default/#governance")
    governance = rita.locator("#governance")
    expect(governance.get_by_text("Waiting for approval: Risk tier high → low")).to_be_visible()
    governance.get_by_label("Reject").check()
    governance.get_by_label("Reason").fill("Still a high-risk lending decision.")
    governance.get_by_role("button", name="Record decision").click()
    confirm(rita)
    expect(rita.get_by_text("Change rejected.")).to_be_visible()
    assert RegisteredModel.objects.get(pk=alices_model.pk).risk_tier == "high"

    # Model operations see the submitted version only, in the inventory and on the model page.
    ivan.goto("/models/")
    row = ivan.get_by_role("row", name=re.compile("Loan default"))
    expect(row).to_contain_text("v2")
    expect(row).not_to_contain_text("Validation failed")
    ivan.get_by_role("link", name="Loan default").click()
    expect(ivan.get_by_role("link", name="Version 2")).to_be_visible()
    expect(ivan.get_by_role("link", name="Version 1")).to_have_count(0)
    response = ivan.goto("/models/loan-default/versions/1/")
    assert response is not None and response.status == 404
