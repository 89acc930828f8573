"""A real browser finds nothing refused by the Content-Security-Policy on pages with charts."""

from __future__ import annotations

import pytest

from tests.accounts.test_csp import VERSION_PAGE, validated  # noqa: F401 - fixture
from tests.conftest import sign_in
from tests.validation.conftest import models  # noqa: F401 - fixture


@pytest.mark.browser
@pytest.mark.django_db(transaction=True)
def test_the_browser_refuses_nothing_on_the_dashboard_and_a_page_with_charts(
    people,
    validated,  # noqa: F811 - the fixture imported above
    new_page,
):
    page = new_page()
    messages: list[str] = []
    page.on("console", lambda message: messages.append(message.text))
    page.on("pageerror", lambda error: messages.append(str(error)))
    sign_in(page, "rita")
    page.wait_for_url("**/")
    page.goto(VERSION_PAGE)
    # Plotly drew the charts: its script ran, under the policy.
    page.locator(".chart .main-svg").first.wait_for()
    assert page.locator(".chart .main-svg").count() >= 7
    page.goto("/api/v1/docs/")
    page.locator(".swagger-ui .info").first.wait_for()
    refused = [m for m in messages if "Content Security Policy" in m or "Content-Security" in m]
    assert refused == [], refused
