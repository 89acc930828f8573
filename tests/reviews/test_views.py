"""Review pages: the version page's section per role, the queue, exceptions and lead times."""

from __future__ import annotations

import re

import pytest
from django.contrib.auth.models import User
from django.db import connection
from django.template.loader import render_to_string
from django.test import Client
from django.test.utils import CaptureQueriesContext

from apps.jobs.models import Job
from apps.registry import services as registry
from apps.registry.models import ModelVersion
from apps.reviews import services, version_page
from apps.validation.models import ValidationReport
from tests.reviews.conftest import new_version

pytestmark = pytest.mark.django_db

V = "/models/loan-default/versions/1"
# The review with its decisions and reviewers, the rights of the one looking, the timeline, the
# stage durations (computed once), the comments, the teams of the one looking (sign-offs come
# from outside the owning team), and the page's unread-notifications count.
REVIEW_SECTION_QUERIES = 20


def client_for(user) -> Client:
    client = Client()
    client.force_login(user)
    return client


def test_the_author_requests_review_from_the_version_page(people, validated):
    page = client_for(people.alice).get(f"{V}/").content.decode()
    assert "Request review" in page and "Record decision" not in page
    response = client_for(people.alice).post(
        f"{V}/review/", {"summary": "Ready for IT"}, follow=True
    )
    assert "Review requested; the reviewers have been notified." in response.content.decode()
    validated.refresh_from_db()
    assert validated.status == ModelVersion.Status.IN_REVIEW


def test_reviewers_see_the_decision_form_and_the_author_does_not(people, validated):
    services.request_review(validated.pk, actor=people.alice, summary="Ready for IT")
    assert "Record decision" in client_for(people.ivan).get(f"{V}/").content.decode()
    assert "Record decision" in client_for(people.rita).get(f"{V}/").content.decode()
    alice_page = client_for(people.alice).get(f"{V}/").content.decode()
    assert "Record decision" not in alice_page and "waiting for" in alice_page
    response = client_for(people.ivan).post(
        f"{V}/decide/", {"decision": "approve", "reason": "Infra ok"}, follow=True
    )
    assert "Recorded: approved." in response.content.decode()
    page = client_for(people.alice).get(f"{V}/").content.decode()
    assert "“Infra ok”" in page and "Approved (model operations)" in page  # timeline
    late = client_for(people.ivan).post(
        f"{V}/decide/", {"decision": "approve", "reason": "x"}, follow=True
    )
    assert "one person gives one sign-off" in late.content.decode()


def test_the_discussion_renders_markdown_without_scripts(people, validated):
    client_for(people.rita).post(
        f"{V}/comments/", {"body": "Looks **good** <img src=x onerror=alert(1)>"}
    )
    page = client_for(people.alice).get(f"{V}/").content.decode()
    assert "<strong>good</strong>" in page and "onerror" not in page


def test_queue_exceptions_and_lead_times(people, alices_model, bobs_model, files):
    version = new_version(alices_model, people.alice, files)
    services.request_review(version.pk, actor=people.alice, summary="Ready")
    failed = new_version(
        bobs_model, people.bob, files, status=ModelVersion.Status.VALIDATION_FAILED
    )
    services.request_review(
        failed.pk, actor=people.bob, summary="Needed", justification="Seasonal shift"
    )
    queue = client_for(people.ivan).get("/reviews/").content.decode()
    assert "Loan default v1" in queue and "Card fraud v1" in queue and "exception" in queue
    assert "Loan default v1" in client_for(people.rita).get("/reviews/").content.decode()
    assert (
        "Nothing waits for your sign-off"
        in client_for(people.alice).get("/reviews/").content.decode()
    )
    exceptions = client_for(people.carl).get("/reviews/exceptions/").content.decode()
    assert "Seasonal shift" in exceptions and "Card fraud v1" in exceptions
    assert client_for(people.alice).get("/reviews/exceptions/").status_code == 403
    services.decide(version.pk, actor=people.ivan, verdict="approve", reason="ok")
    times = client_for(people.carl).get("/reviews/lead-times/").context["rows"]
    assert {r["stage"]: r["count"] for r in times}["waiting_for_it"] == 1


def test_dashboards_show_each_role_its_review_work(people, validated):
    services.request_review(validated.pk, actor=people.alice, summary="Ready")
    ivan = client_for(people.ivan).get("/").content.decode()
    assert "Reviews waiting for your sign-off" in ivan and "Loan default v1" in ivan
    alice = client_for(people.alice).get("/").content.decode()
    assert "Your versions needing action" in alice


def test_admins_edit_review_policies(people):
    assert client_for(people.ivan).get("/reviews/policies/high/").status_code == 403
    admin = client_for(people.admin)
    response = admin.post(
        "/reviews/policies/low/",
        {"model_ops": 2, "risk_owner": 0, "allow_exceptions": "on", "note": "two IT"},
    )
    assert response.status_code == 302
    assert "two IT" in admin.get("/reviews/policies/").content.decode()
    bad = admin.post("/reviews/policies/low/", {"model_ops": 0, "risk_owner": 0, "note": "none"})
    assert bad.status_code == 400 and "at least one sign-off" in bad.content.decode()


def _cells(page: str) -> list[list[str]]:
    """The rows of the page's tables as a reader sees them: cell texts, tags dropped."""
    rows = re.findall(r"<tr>(.*?)</tr>", page, flags=re.S)
    return [
        [
            " ".join(re.sub(r"<[^>]+>", " ", c).split())
            for c in re.findall(r"<t[dh][^>]*>(.*?)</t[dh]>", r, flags=re.S)
        ]
        for r in rows
    ]


def test_review_policies_name_roles_in_words(people):
    page = client_for(people.alice).get("/reviews/policies/").content.decode()
    header, *rows = _cells(page)
    assert header[1:3] == ["Sign-offs from model operations", "Sign-offs from risk owners"]
    by_tier = {row[0]: row for row in rows}
    # High risk refuses failed validation outright: the column says "no", not a fragment.
    assert by_tier["High"][1:4] == ["1", "1", "no"]
    assert by_tier["Low"][3] == "yes, with a justification"
    assert "High risk v1 (1 model operations sign-off, 1 risk owner sign-off)" in page
    assert "model_ops" not in page and "risk_owner" not in page
    form = client_for(people.admin).get("/reviews/policies/high/").content.decode()
    assert "Sign-offs from model operations" in form and "Sign-offs from risk owners" in form


def test_the_lead_times_team_filter_lists_each_visible_team_once(people, alices_model, files):
    for name in ("Mortgage PD", "Card limits"):  # three models of one team
        registry.register_model(
            actor=people.alice,
            name=name,
            use_case="x",
            team=people.retail,
            risk_tier="low",
            risk_owner=people.rita,
        )
    registry.register_model(
        actor=people.bob,
        name="Card fraud",
        use_case="x",
        team=people.fraud,
        risk_tier="low",
        risk_owner=people.rita,
    )
    new_version(alices_model, people.alice, files)

    def teams(user, **query: str) -> tuple[list[str], str]:
        page = client_for(user).get("/reviews/lead-times/", query).content.decode()
        select = page.split('<select id="team"', 1)[1].split("</select>", 1)[0]
        return re.findall(r">([^<]+)</option>", select), page

    assert teams(people.carl)[0] == ["All", "Fraud detection", "Retail credit"]
    options, page = teams(people.alice, team="retail-credit")
    assert options == ["All", "Retail credit"]  # bob's team's model is not hers to see
    assert "Versions uploaded in the last 90 days by team Retail credit" in page


def _reviewed(people, version, comments: int) -> None:
    """A validation report, a requested review with IT's sign-off, and a discussion."""
    job = Job.objects.get(kind="validation", target_id=str(version.pk))
    ValidationReport.objects.create(version=version, job=job, outcome="passed", isolated=True)
    services.request_review(version.pk, actor=people.alice, summary="Ready")
    services.decide(version.pk, actor=people.ivan, verdict="approve", reason="Infra ok")
    for i in range(comments):
        services.add_comment(version.pk, actor=people.rita, body=f"Question {i}")


def test_the_review_section_of_the_version_page_costs_a_fixed_number_of_queries(
    people, validated, rf, django_assert_num_queries
):
    _reviewed(people, validated, comments=2)
    request = rf.get(f"{V}/")
    request.user = User.objects.get(pk=people.rita.pk)  # as a request has it: no cached rights
    version = ModelVersion.objects.select_related("uploaded_by").get(pk=validated.pk)
    with django_assert_num_queries(REVIEW_SECTION_QUERIES):
        [section] = version_page.sections(request, version)
        html = render_to_string(section.template, {"ctx": section.context}, request=request)
    assert "Waiting for the risk owner" in html and "Question 1" in html


def test_the_version_page_costs_the_same_queries_with_a_long_history(people, validated):
    _reviewed(people, validated, comments=1)
    rita = client_for(people.rita)
    rita.get(f"{V}/")  # the first request of a session also writes the session
    with CaptureQueriesContext(connection) as short:
        rita.get(f"{V}/")
    for _ in range(5):  # re-runs: one job and one report each
        job = Job.objects.create(kind="validation", task_name="x", time_limit=60)
        ValidationReport.objects.create(version=validated, job=job, outcome="passed", isolated=True)
    for i in range(20):
        services.add_comment(validated.pk, actor=people.carl, body=f"More {i}")
    with CaptureQueriesContext(connection) as long:
        page = rita.get(f"{V}/").content.decode()
    assert "More 19" in page
    assert len(long) == len(short), [q["sql"][:120] for q in long.captured_queries]
