"""Ivan, in a browser, deploys Alice's approved version to staging, then production, and rolls
production back; a real worker runs the deployments."""

from __future__ import annotations

import re

import pytest
from playwright.sync_api import expect

from apps.deployments import services
from tests.conftest import sign_in
from tests.deployments.conftest import deploy_now

pytestmark = [pytest.mark.browser, pytest.mark.worker, pytest.mark.django_db(transaction=True)]

# The worker loads and smoke-tests each version; on a loaded machine that takes more than the
# 5 s Playwright's assertions wait by default (set_default_timeout does not apply to them).
WORKER_MS = 60_000


def row(page, environment: str):  # type: ignore[no-untyped-def]
    header = page.get_by_role("rowheader", name=re.compile(rf"^{environment}"))
    return page.locator("#deployments").get_by_role("row").filter(has=header)


def confirm_and_click(page, button) -> None:  # type: ignore[no-untyped-def]
    page.once("dialog", lambda dialog: dialog.accept())
    button.click()


def test_ivan_deploys_to_staging_then_production_and_rolls_back(
    people, alices_model, v1, v2, worker, new_page
):
    for environment in ("staging", "production"):  # version 1 has been serving for a while
        deploy_now(services.request_deployment(v1.pk, environment, actor=people.ivan))
    ivan = new_page()
    sign_in(ivan, "ivan")
    ivan.goto("/models/loan-default/versions/2/")
    expect(row(ivan, "Production")).to_contain_text("version 1")

    confirm_and_click(ivan, row(ivan, "Staging").get_by_role("button", name="Deploy to Staging"))
    expect(ivan.get_by_text("Deployment to staging queued")).to_be_visible()
    # The page reloads itself when the deployment is live.
    expect(row(ivan, "Staging")).to_contain_text("this version", timeout=WORKER_MS)

    production = row(ivan, "Production").get_by_role("button", name="Deploy to Production")
    confirm_and_click(ivan, production)
    expect(row(ivan, "Production")).to_contain_text("this version", timeout=WORKER_MS)
    history = ivan.get_by_role("listitem").filter(has_text="Deploy to Production by ivan")
    expect(history).to_contain_text("Live")

    rollback = row(ivan, "Production").get_by_role("button", name="Roll back to version 1")
    confirm_and_click(ivan, rollback)
    expect(ivan.get_by_text("Rolled back in production")).to_be_visible()
    expect(ivan).to_have_url(re.compile(r"/models/loan-default/versions/1/#deployments$"))
    expect(row(ivan, "Production")).to_contain_text("this version")
    expect(row(ivan, "Staging")).to_contain_text("version 2")

    ivan.get_by_role("navigation", name="Main").get_by_role("link", name="Deployments").click()
    live_now = ivan.get_by_role("table").filter(has_text="Live now")
    expect(live_now.get_by_role("row").filter(has_text="Production")).to_contain_text("version 1")
    expect(ivan.get_by_role("cell", name="Rolled back by ivan")).to_be_visible()
