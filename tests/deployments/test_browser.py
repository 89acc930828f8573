"""Ivan, in a browser, deploys Alice's approved version to staging, then production, and rolls
production back; a real worker runs the deployments."""

from __future__ import annotations

import re

import pytest
from playwright.sync_api import expect

from apps.deployments import services
from tests.conftest import confirm, sign_in
from tests.deployments.conftest import deploy_now
from tests.support.worker import wait_for

pytestmark = [pytest.mark.browser, pytest.mark.worker, pytest.mark.django_db(transaction=True)]

# The worker loads and smoke-tests each version; on a loaded machine that takes more than the
# 5 s Playwright's assertions wait by default (set_default_timeout does not apply to them).
WORKER_MS = 60_000


def row(page, environment: str):  # type: ignore[no-untyped-def]
    header = page.get_by_role("rowheader", name=re.compile(rf"^{environment}"))
    return page.locator("#deployments").get_by_role("row").filter(has=header)


def click_and_confirm(page, button, **click) -> None:  # type: ignore[no-untyped-def]
    """Click a governed action's button, then confirm in the dialog (which submits the form)."""
    button.click()
    confirm(page, **click)


def test_ivan_deploys_to_staging_then_production_and_rolls_back(
    people, alices_model, v1, v2, worker, new_page
):
    for environment in ("staging", "production"):  # version 1 has been serving for a while
        deploy_now(services.request_deployment(v1.pk, environment, actor=people.ivan))
    ivan = new_page()
    sign_in(ivan, "ivan")
    ivan.goto("/models/loan-default/versions/2/")
    expect(row(ivan, "Production")).to_contain_text("version 1")

    click_and_confirm(ivan, row(ivan, "Staging").get_by_role("button", name="Deploy to Staging"))
    expect(ivan.get_by_text("Deployment to staging queued")).to_be_visible()
    # The page reloads itself when the deployment is live.
    expect(row(ivan, "Staging")).to_contain_text("this version", timeout=WORKER_MS)
    # The section shows the new state before its page reloads itself; a click in between is
    # the next test's case. Here Ivan opens the page afresh before deploying again.
    ivan.goto("/models/loan-default/versions/2/")
    expect(row(ivan, "Staging")).to_contain_text("this version")

    production = row(ivan, "Production").get_by_role("button", name="Deploy to Production")
    click_and_confirm(ivan, production)
    expect(ivan.get_by_text("Deployment to production queued")).to_be_visible()
    # If the job never ends, say what became of it (this step failed in 2 of about 8 CI runs,
    # the page waiting on a job that did not finish).
    deployment = v2.deployments.filter(environment__slug="production").latest("pk")
    try:
        wait_for(
            lambda: deployment.refresh_from_db() or deployment.status not in ("queued", "running"),
            timeout=WORKER_MS / 1000,
            message="the production deployment to end",
        )
    except AssertionError as exc:
        job = deployment.job
        state = f"job {job.status}, log {job.log!r}" if job else "no job"
        raise AssertionError(f"{exc}: {state}\n{worker.output()}") from None
    assert deployment.status == "live", f"{deployment.status}: {deployment.message}"
    # The staging step above checks that the page reloads itself; here Ivan opens it afresh
    # (twice in CI the self-reload did not come here within 60 s though the job had ended:
    # under investigation, see the closing note of stop 26).
    ivan.goto("/models/loan-default/versions/2/")
    expect(row(ivan, "Production")).to_contain_text("this version", timeout=WORKER_MS)
    history = ivan.get_by_role("listitem").filter(has_text="Deploy to Production by ivan")
    expect(history).to_contain_text("Live")

    rollback = row(ivan, "Production").get_by_role("button", name="Roll back to version 1")
    click_and_confirm(ivan, rollback)
    expect(ivan.get_by_text("Rolled back in production")).to_be_visible()
    expect(ivan).to_have_url(re.compile(r"/models/loan-default/versions/1/#deployments$"))
    expect(row(ivan, "Production")).to_contain_text("this version")
    expect(row(ivan, "Staging")).to_contain_text("version 2")

    ivan.get_by_role("navigation", name="Main").get_by_role("link", name="Deployments").click()
    live_now = ivan.get_by_role("table").filter(has_text="Live now")
    expect(live_now.get_by_role("row").filter(has_text="Production")).to_contain_text("version 1")
    expect(ivan.get_by_role("cell", name="Rolled back by ivan")).to_be_visible()


def test_a_deploy_clicked_as_the_page_reloads_itself_still_reaches_the_server(
    people, alices_model, v2, new_page
):
    """The section polls a running deployment and reloads the page when it ends. A form Ivan
    submits just before that moment must still arrive: the reload must not cancel it."""
    staging = services.request_deployment(v2.pk, "staging", actor=people.ivan)
    ivan = new_page()
    sign_in(ivan, "ivan")
    ivan.goto("/models/loan-default/versions/2/")
    history = ivan.get_by_role("listitem")
    expect(history.filter(has_text="Deploy to Staging by ivan")).to_contain_text("Queued")

    held = []  # the submission, kept on its way to the server while the staging deployment ends
    ivan.route("**/versions/2/deploy/", lambda route: held.append(route))
    deploy = row(ivan, "Production").get_by_role("button", name="Deploy to Production")
    click_and_confirm(ivan, deploy, no_wait_after=True)  # the navigation is held, on purpose
    for _ in range(100):
        if held:
            break
        ivan.wait_for_timeout(50)
    assert held, "the Deploy to Production form was not submitted"
    deploy_now(staging)
    ivan.wait_for_timeout(3_000)  # three poll intervals: time for the poll to see the end
    held[0].continue_()

    expect(ivan.get_by_text("Deployment to production queued")).to_be_visible()
    expect(history.filter(has_text="Deploy to Production by ivan")).to_be_visible()


def test_ivan_starts_a_shadow_compares_it_on_live_traffic_and_promotes_it(
    people, alices_model, models, v1, v2, worker, new_page, live_server
):
    import io
    import json

    import pandas as pd
    import requests

    from apps.deployments import serving
    from apps.deployments.models import Deployment
    from apps.monitoring import rollup

    deploy_now(services.request_deployment(v1.pk, "staging", actor=people.ivan))
    _, key = services.create_serving_key(alices_model.pk, "staging", actor=people.ivan, name="t")
    ivan = new_page()
    errors: list[str] = []
    ivan.on("console", lambda msg: errors.append(msg.text) if msg.type == "error" else None)
    sign_in(ivan, "ivan")
    ivan.goto("/models/loan-default/versions/2/")
    staging = row(ivan, "Staging")
    staging.get_by_label("Try beside it as").select_option("shadow")
    click_and_confirm(ivan, staging.get_by_role("button", name="Start challenger"))
    expect(ivan.get_by_text("as a shadow challenger; this page shows it starting")).to_be_visible()
    expect(row(ivan, "Staging")).to_contain_text("Shadow challenger, since", timeout=WORKER_MS)

    # The loan origination system calls staging; version 1 answers, the shadow scores too.
    rows = pd.read_csv(io.BytesIO(models.holdout))[["income", "debt", "tenure"]].head(40)
    serving.MODELS.forget()
    for start in range(0, 40, 4):
        answer = requests.post(
            f"{live_server.url}/serve/loan-default/staging/predict",
            data=json.dumps(rows.iloc[start : start + 4].to_dict(orient="records")),
            headers={"Authorization": f"Bearer {key}", "Content-Type": "application/json"},
            timeout=30,
        )
        assert answer.status_code == 200 and answer.json()["version"] == 1
    serving.LOG.flush()
    rollup.fold()

    shadow = Deployment.objects.get(mode="shadow")
    ivan.goto(f"/monitoring/deployments/{shadow.pk}/")
    comparison = ivan.locator("#comparison")
    expect(comparison).to_contain_text("Live version and challenger")
    expect(comparison.get_by_role("row", name=re.compile("^Requests answered"))).to_contain_text(
        "10 (40)"
    )
    expect(comparison).to_contain_text("of 40 rows got the same prediction")
    expect(comparison.locator("[data-plotly] svg.main-svg").first).to_be_attached()

    ivan.goto("/models/loan-default/versions/2/")
    row(ivan, "Staging").get_by_label("Reason").fill("Agrees with v1 and scores faster")
    promote = row(ivan, "Staging").get_by_role("button", name="Promote version 2")
    click_and_confirm(ivan, promote)
    expect(ivan.get_by_text("Version 2 is the live version in staging")).to_be_visible()
    expect(row(ivan, "Staging")).to_contain_text("this version")
    assert errors == []
