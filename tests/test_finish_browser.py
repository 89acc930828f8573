"""The finish, checked as people see it: every main page at a desk width (1366 px) and a phone
width (390 px), as the roles that use them, in Chromium.

On every page: nothing scrolls sideways, the header takes at most a fifth of the screen, no
Python value leaks into the text (``{'``, ``[]``, ``False``, ``0:00:``), every date is written
one way ("5 Dec 2026", "5 Dec 2026, 14:05"), and axe-core finds no serious or critical
accessibility violation. The model and version pages say what is live where and who is next.
Screenshots of every page at both widths go to ``PORTAL_SCREENSHOT_DIR`` (default
``var/screenshots/``), so a reviewer can look without running the portal.
"""

from __future__ import annotations

import os
import re
from pathlib import Path

import pytest
from axe_playwright_python.sync_playwright import Axe
from django.conf import settings
from playwright.sync_api import expect

from apps.deployments import services as deployments
from apps.reviews import services as reviews
from apps.reviews.models import Review
from tests.conftest import api_client_for, sign_in
from tests.deployments.conftest import approved_version, deploy_now
from tests.validation.conftest import models, upload, validate_now

__all__ = ["models"]

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

WIDTHS = {"desk": (1366, 900), "phone": (390, 844)}

# What a Python value looks like when a template prints it raw.
# (True, False and None alone as a value, not "True positive rate".)
REPR = re.compile(r"\{'|\[\]|\b0:00:\d|(?:^|[\t:=(,] ?)(?:True|False|None)(?= *(?:$|[\t,)]))", re.M)
MONTH = r"(?:Jan|Feb|Mar|Apr|May|Jun|Jul|Aug|Sep|Oct|Nov|Dec)"
# Dates written any other way than "5 Dec 2026" or "5 Dec 2026, 14:05".
OTHER_DATES = re.compile(
    r"\b\d{4}-\d{2}-\d{2}\b"  # 2026-12-05
    rf"|\b0\d {MONTH}\b"  # 05 Dec
    rf"|\b{MONTH} \d{{1,2}},? \d{{4}}"  # Dec 5, 2026
    rf"|\b\d{{1,2}} {MONTH} \d{{2}}:\d{{2}}"  # 5 Dec 14:05 (no year)
    rf"|\b\d{{1,2}} {MONTH} \d{{4}} \d{{2}}:\d{{2}}"  # 5 Dec 2026 14:05 (no comma)
    r"|\b\d{1,2} (?:January|February|March|April|June|July|August|September|October|November"
    r"|December) \d{4}"  # 5 December 2026
)

# The pages people work in all day, checked for accessibility too (the API docs page is Swagger
# UI's; its own styles are not ours to fix).
MAIN_PAGES = {
    "/",
    "/models/",
    "/models/loan-default/",
    "/models/loan-default/versions/1/",
    "/models/loan-default/versions/2/",
    "/models/loan-default/history/",
    "/deployments/",
    "/reviews/",
    "/monitoring/",
    "/audit/",
}

# Who looks at which pages, beyond every link of their main navigation.
PAGES = {
    "alice": ["/models/loan-default/", "/models/loan-default/versions/2/"],
    "ivan": ["/models/loan-default/", "/models/loan-default/versions/1/", "/deployments/"],
    "rita": ["/models/loan-default/versions/2/"],
    "carl": ["/audit/", "/models/loan-default/history/"],
    "admin": [],
}


def shots() -> Path:
    folder = Path(os.environ.get("PORTAL_SCREENSHOT_DIR") or settings.VAR_DIR / "screenshots")
    folder.mkdir(parents=True, exist_ok=True)
    return folder


@pytest.fixture
def live_and_in_review(people, alices_model, models):  # type: ignore[no-untyped-def]
    """Version 1 live in staging and production; version 2 signed off by IT, waiting for rita."""
    v1 = approved_version(people, alices_model, models.logistic, models.holdout)
    deploy_now(deployments.request_deployment(v1.pk, "staging", actor=people.ivan))
    deploy_now(deployments.request_deployment(v1.pk, "production", actor=people.ivan))
    v2 = upload(alices_model, people.alice, models.boosting, holdout=models.holdout)
    validate_now(v2)
    reviews.request_review(v2.pk, actor=people.alice, summary="Boosting beats v1 on AUC.")
    reviews.decide(v2.pk, actor=people.ivan, verdict="approve", reason="Runs within limits.")
    return v1, v2


def _nav_links(page) -> list[str]:  # type: ignore[no-untyped-def]
    # A CSS locator: on a phone the menu is closed, and role locators skip hidden elements.
    links = page.locator("nav#main-nav a").evaluate_all("as => as.map(a => a.pathname)")
    assert links, "no main navigation"
    return list(links)


def _problems(page, width: int, height: int) -> list[str]:  # type: ignore[no-untyped-def]
    found = []
    scroll = page.evaluate("document.documentElement.scrollWidth")
    if scroll > width:
        found.append(f"scrolls sideways: {scroll} px wide in a {width} px window")
    header = page.locator("header.topbar").bounding_box()
    if header and header["height"] > height / 5:
        found.append(f"header {header['height']:.0f} px high, more than a fifth of {height}")
    text = page.locator("#main").inner_text()
    found += [f"Python value {m.group()!r} in the text" for m in REPR.finditer(text)]
    found += [f"date written as {m.group()!r}" for m in OTHER_DATES.finditer(text)]
    return found


@pytest.mark.parametrize("username", list(PAGES))
def test_every_page_reads_well_at_desk_and_phone_width(
    people, live_and_in_review, browser, live_server, username
):
    axe = Axe()
    problems: dict[str, list[str]] = {}
    for label, (width, height) in WIDTHS.items():
        context = browser.new_context(
            base_url=live_server.url, viewport={"width": width, "height": height}
        )
        context.set_default_timeout(15_000)
        page = context.new_page()
        errors: list[str] = []
        page.on("pageerror", lambda error, errors=errors: errors.append(str(error)))
        sign_in(page, username)
        # Django's own admin site keeps its own look; every portal page is checked.
        links = [path for path in _nav_links(page) if not path.startswith("/admin/")]
        paths = list(dict.fromkeys(["/", *links, *PAGES[username]]))
        for path in paths:
            response = page.goto(path)
            assert response is not None and response.ok, f"{username} {path}: {response}"
            page.wait_for_load_state("networkidle")
            name = f"{username}-{label}-{path.strip('/').replace('/', '_') or 'dashboard'}.png"
            page.screenshot(path=str(shots() / name), full_page=True)
            where = f"{username} at {width} px {path}"
            problems[where] = _problems(page, width, height)
            if label == "desk" and path in MAIN_PAGES:
                results = axe.run(page)
                problems[where] += [
                    f"axe {v['impact']}: {v['id']} ({v['help']}) at {v['nodes'][0]['target']}"
                    for v in results.response["violations"]
                    if v["impact"] in ("serious", "critical")
                ]
        assert errors == [], f"{username} at {width} px: script errors {errors}"
        context.close()
    report = [f"{where}: {problem}" for where, found in problems.items() for problem in found]
    assert report == [], "\n".join(report)


def test_the_model_and_version_pages_say_what_is_live_where_and_who_is_next(
    people, live_and_in_review, new_page
):
    page = new_page()
    sign_in(page, "ivan")
    page.goto("/models/loan-default/")
    live = page.locator("#live")
    expect(live.get_by_role("row", name=re.compile(r"^Production Version 1"))).to_contain_text(
        "champion"
    )
    expect(live.get_by_role("row", name=re.compile(r"^Staging Version 1"))).to_be_visible()
    page.goto("/models/loan-default/versions/1/")
    expect(page.get_by_role("heading", level=1)).to_contain_text("Live in Production since")
    page.goto("/models/loan-default/versions/2/")
    expect(page.get_by_role("note").filter(has_text="Waiting for")).to_have_text(
        "Waiting for the risk owner's sign-off (Rita)."
    )
    expect(page.locator("#review")).to_contain_text("waiting for the risk owner's sign-off (Rita)")
    page.goto("/models/")
    expect(page.get_by_role("row", name=re.compile("Loan default"))).to_contain_text(
        "v1 live in Production"
    )
    # The API's refusal names the missing sign-off and its holder too.
    refused = api_client_for(people.ivan).post(
        "/api/v1/deployments/",
        {"model": "loan-default", "environment": "staging", "version": 2},
        format="json",
    )
    assert refused.status_code == 400
    assert "waiting for the risk owner's sign-off (Rita)" in str(refused.json())


def test_a_governed_action_is_confirmed_in_the_portals_own_dialog(
    people, live_and_in_review, new_page
):
    page = new_page()
    sign_in(page, "rita")
    page.goto("/models/loan-default/versions/2/")
    page.get_by_label("Approve").check()
    page.get_by_label("Reason").fill("Within appetite.")
    page.get_by_role("button", name="Record decision").click()
    dialog = page.get_by_role("dialog", name="Please confirm")
    expect(dialog).to_contain_text("Record this decision? It cannot be undone.")
    expect(dialog).to_contain_text("Within appetite.")  # what will be recorded
    # Escape, or Cancel, leaves everything as it was.
    page.keyboard.press("Escape")
    expect(dialog).to_be_hidden()
    assert Review.objects.get(version=live_and_in_review[1]).status == "open"
    page.get_by_role("button", name="Record decision").click()
    dialog.get_by_role("button", name="Record decision").click()
    expect(page.get_by_role("heading", level=1)).to_contain_text("Approved")
