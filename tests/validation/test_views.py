"""The report on the version page, its downloads, the API, and the policies pages."""

from __future__ import annotations

import json

import pytest
from django.test import Client

from apps.validation.models import ValidationReport
from tests.validation.conftest import upload, validate_now

pytestmark = pytest.mark.django_db

V = "/models/loan-default/versions/1"


def client_for(user) -> Client:
    client = Client()
    client.force_login(user)
    return client


@pytest.fixture
def validated(people, alices_model, models):
    version = upload(
        alices_model,
        people.alice,
        models.boosting,
        holdout=models.holdout,
        reference=models.reference,
    )
    validate_now(version)
    return version


def test_the_version_page_shows_the_report_and_its_charts(people, validated):
    page = client_for(people.rita).get(f"{V}/").content.decode()
    assert "Passed" in page and "Policy checks" in page and "high risk policy v1" in page
    for chart in (
        "chart-roc",
        "chart-precision-recall",
        "chart-calibration",
        "chart-confusion",
        "chart-lift",
        "chart-importance",
        "chart-stability",
    ):
        assert f'id="{chart}"' in page and f'data-plotly="{chart}"' in page
    assert "/static/vendor/plotly.min.js" in page
    assert "Fairness across “age_band”" in page and "Input signature" in page
    assert "Re-run validation" not in page  # rita may not re-run
    assert "Re-run validation" in client_for(people.alice).get(f"{V}/").content.decode()


def test_a_version_being_validated_shows_its_live_progress(people, alices_model, models):
    upload(alices_model, people.alice, models.boosting, holdout=models.holdout)
    page = client_for(people.alice).get(f"{V}/").content.decode()
    assert "Waiting for a validation worker" in page and "data-poll-reload" in page
    fragment = client_for(people.alice).get(f"{V}/validation/status/").content.decode()
    assert "Queued" in fragment and "data-poll-done" not in fragment


def test_the_report_downloads_as_json_and_as_an_offline_html_file(people, validated):
    client = client_for(people.carl)
    response = client.get(f"{V}/validation/report.json")
    assert (
        response["Content-Disposition"] == 'attachment; filename="loan-default-v1-validation.json"'
    )
    document = json.loads(response.content)
    assert document["outcome"] == "passed" and document["policy"]["number"] == 1
    assert document["report"]["metrics"]["roc_auc"] > 0.6

    response = client.get(f"{V}/validation/report.html")
    html = response.content.decode()
    assert (
        response["Content-Disposition"] == 'attachment; filename="loan-default-v1-validation.html"'
    )
    assert "<script src=" not in html  # nothing fetched: plotly.js is inlined
    assert "Plotly.newPlot" in html and len(html) > 3_000_000
    assert 'id="chart-roc"' in html


@pytest.mark.parametrize(
    ("who", "status"), [("alice", 200), ("rita", 200), ("carl", 200), ("bob", 404), ("ivan", 404)]
)
def test_every_role_reads_the_report_only_where_it_may_see_the_model(
    people, validated, who, status
):
    client = client_for(getattr(people, who))
    for path in ("validation/report.json", "validation/report.html", "validation/status/"):
        assert client.get(f"{V}/{path}").status_code == status


def test_the_api_serves_the_report_and_re_runs_it(people, validated, api):
    body = api(people.rita).get(f"/api/v1{V}/validation/").json()
    assert body["status"] == "validated" and body["job"]["status"] == "succeeded"
    assert body["report"]["outcome"] == "passed" and body["report"]["version"] == 1
    assert api(people.bob).get(f"/api/v1{V}/validation/").status_code == 404
    assert api(people.rita).post(f"/api/v1{V}/validation/").status_code == 403
    response = api(people.alice).post(f"/api/v1{V}/validation/")
    assert response.status_code == 202
    assert (
        response.json()["status"] == "validating" and response.json()["job"]["status"] == "queued"
    )
    again = api(people.alice).post(f"/api/v1{V}/validation/")
    assert again.status_code == 400 and "already queued or running" in again.json()["detail"]


def test_re_running_from_the_page(people, validated):
    response = client_for(people.alice).post(f"{V}/validation/rerun/", follow=True)
    assert "Validation queued again" in response.content.decode()
    assert client_for(people.rita).post(f"{V}/validation/rerun/").status_code == 403


def test_policies_are_public_to_staff_and_edited_by_admins(people, alices_model):
    page = client_for(people.carl).get("/validation/policies/").content.decode()
    assert "high risk" in page and "v1" in page and "Edit" not in page
    assert client_for(people.carl).get("/validation/policies/high/").status_code == 403
    admin = client_for(people.admin)
    form = admin.get("/validation/policies/high/")
    assert form.status_code == 200 and 'value="0.75"' in form.content.decode()
    response = admin.post("/validation/policies/high/", {"min_roc_auc": "0.8", "note": "tighter"})
    assert response.status_code == 302
    response = admin.post(
        "/validation/policies/model-loan-default/",
        {"min_roc_auc": "0.9", "max_psi": "0.1", "note": "its own"},
    )
    assert response.status_code == 302
    page = admin.get("/validation/policies/").content.decode()
    assert "model Loan default" in page and "tighter" in page and "its own" in page
    assert admin.post("/validation/policies/high/", {"min_roc_auc": "x"}).status_code == 400
    # A model's own policy names the model: bob, who may not see it, sees only the tiers'.
    page = client_for(people.bob).get("/validation/policies/").content.decode()
    assert "tighter" in page and "Loan default" not in page and "its own" not in page


def test_a_failed_validation_is_explained_on_the_page(people, alices_model, models):
    from apps.validation import services

    services.update_policy(
        actor=people.admin, thresholds={"min_roc_auc": 0.999}, note="strict", model=alices_model
    )
    version = upload(alices_model, people.alice, models.logistic, holdout=models.holdout)
    validate_now(version)
    page = client_for(people.alice).get(f"{V}/").content.decode()
    assert "Failed the policy" in page and "the policy requires at least 0.999" in page
    report = ValidationReport.objects.get(version=version)
    assert report.summary["outcome"] == "failed"


def test_a_multiclass_report_says_fairness_is_for_binary_classifiers_only(
    people, alices_model, models
):
    import io

    import pandas as pd
    import skops.io
    from sklearn.linear_model import LogisticRegression

    from tests.validation.conftest import frame

    def three_classes(data: pd.DataFrame) -> pd.DataFrame:
        return data.assign(default=data["tenure"] // 10)  # 0, 1 or 2

    features = list(models.features)
    train = three_classes(frame(900, 1))
    estimator = LogisticRegression(max_iter=1000).fit(train[features], train["default"])
    holdout = three_classes(pd.read_csv(io.BytesIO(models.holdout)))
    version = upload(
        alices_model,
        people.alice,
        skops.io.dumps(estimator),
        holdout=holdout.to_csv(index=False).encode(),
        sensitive="age_band",
    )
    report = ValidationReport.objects.get(job=validate_now(version))
    assert report.data["task"] == "multiclass" and report.data["fairness"] is None
    page = client_for(people.alice).get(f"{V}/").content.decode()
    assert "n/a: fairness is measured for binary classifiers only" in page
    assert "no sensitive column was named" not in page
