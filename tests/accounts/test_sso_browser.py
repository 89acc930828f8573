"""Alice signs in through the identity provider's own login page, in Chromium."""

from __future__ import annotations

import re

import pytest
from playwright.sync_api import expect

from apps.audit.models import AuditEvent

# The provider and the portal's settings and mapping, as in the requests-driven tests.
from tests.accounts.test_sso_oidc import PASSWORD, portal, provider  # noqa: F401

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def test_alice_signs_in_through_the_provider_and_sees_her_role_and_team(portal, new_page):  # noqa: F811
    page = new_page()
    page.goto("/models/")
    expect(page).to_have_url(re.compile(r"/login/\?next="))
    page.get_by_role("link", name="Sign in with Test IdP").click()

    # The provider's page, on the provider's address.
    expect(page.get_by_role("heading", name="Test identity provider")).to_be_visible()
    page.get_by_label("Username").fill("alice")
    page.get_by_label("Password").fill(PASSWORD)
    page.get_by_role("button", name="Sign in to Test IdP").click()

    # Back at the portal, where she was going.
    expect(page).to_have_url(f"{portal}/models/")
    page.get_by_role("link", name="MLOps Portal").click()
    expect(page.get_by_role("heading", name="My work")).to_be_visible()
    expect(page.get_by_text("Your workspace as Data scientist, in Retail credit.")).to_be_visible()
    expect(page.locator(".topbar .who")).to_contain_text("Alice Martin")
    assert AuditEvent.objects.filter(action="auth.login", actor__username="alice").count() == 1

    page.get_by_role("button", name="Sign out").click()
    # The provider signed her out too, and sent her back to the portal's sign-in page.
    expect(page).to_have_url(re.compile(r"/login/(\?state=[\w-]+)?$"))
    expect(page.get_by_role("link", name="Sign in with Test IdP")).to_be_visible()
