"""The jobs page and API: live, scoped, and the diagnostic button for operators."""

from __future__ import annotations

import pytest
from django.db import connection
from django.test import Client
from django.test.utils import CaptureQueriesContext
from django.urls import reverse

from apps.accounts.dashboard import panels_for
from apps.deployments import services as deployments
from apps.deployments.models import Deployment, Environment
from apps.jobs import services
from apps.jobs.models import Job
from apps.reviews import services as reviews
from apps.validation import services as validation
from tests.factories import UserFactory
from tests.reviews.conftest import new_version

pytestmark = pytest.mark.django_db


def _client(user) -> Client:
    client = Client()
    client.force_login(user)
    return client


def _validation_job(version) -> Job:
    return Job.objects.get(kind=validation.VALIDATION.name, target_id=str(version.pk))


@pytest.fixture
def alices_version(people, alices_model, files):
    """A validated version of alice's model, not yet submitted for review."""
    return new_version(alices_model, people.alice, files)


@pytest.fixture
def two_jobs(people, alices_version):
    ivans = services.start_diagnostic(actor=people.ivan, steps=1)
    alices = _validation_job(alices_version)
    Job.objects.filter(pk=alices.pk).update(status=Job.Status.QUEUED)
    return ivans, alices


def _listed(user) -> set[int]:
    return {j.pk for j in _client(user).get(reverse("jobs:list")).context["page"].object_list}


def _listed_by_api(user, api) -> set[str]:
    return {j["uuid"] for j in api(user).get("/api/v1/jobs/").json()["results"]}


def _status_codes(user, api, job: Job) -> list[int]:
    """The answers of the job's page, its polling fragment and the API, as ``user``."""
    client, page = _client(user), reverse("jobs:detail", args=[job.uuid])
    return [
        client.get(page).status_code,
        client.get(page + "?fragment=1").status_code,
        api(user).get(f"/api/v1/jobs/{job.uuid}/").status_code,
    ]


def test_people_see_their_own_jobs_and_operators_those_they_may_see(people, two_jobs):
    ivans, alices = two_jobs
    assert _listed(people.alice) == {alices.pk}
    assert _listed(people.bob) == set()
    assert _listed(people.carl) == {ivans.pk, alices.pk}
    assert _listed(people.ivan) == {ivans.pk}  # alice's model is not in review yet


def test_a_foreign_job_is_404_in_the_page_and_the_api(people, two_jobs, api):
    _, alices = two_jobs
    assert _status_codes(people.bob, api, alices) == [404, 404, 404]
    assert _status_codes(people.alice, api, alices) == [200, 200, 200]
    body = api(people.alice).get(f"/api/v1/jobs/{alices.uuid}/").json()
    assert body["status"] == "queued" and body["kind"] == "validation"
    assert _listed_by_api(people.bob, api) == set()


def test_model_ops_see_a_validation_job_only_once_its_model_is_in_review(
    people, alices_version, api
):
    job = _validation_job(alices_version)
    assert job.pk not in _listed(people.ivan)
    assert str(job.uuid) not in _listed_by_api(people.ivan, api)
    assert _status_codes(people.ivan, api, job) == [404, 404, 404]

    reviews.request_review(alices_version.pk, actor=people.alice, summary="Ready")

    assert job.pk in _listed(people.ivan)
    assert str(job.uuid) in _listed_by_api(people.ivan, api)
    assert _status_codes(people.ivan, api, job) == [200, 200, 200]


def test_compliance_sees_every_validation_job_and_another_team_none(people, alices_version, api):
    job = _validation_job(alices_version)
    for reviewed in (False, True):
        if reviewed:
            reviews.request_review(alices_version.pk, actor=people.alice, summary="Ready")
        assert job.pk in _listed(people.carl)
        assert str(job.uuid) in _listed_by_api(people.carl, api)
        assert _status_codes(people.carl, api, job) == [200, 200, 200]
        assert job.pk not in _listed(people.bob)
        assert _listed_by_api(people.bob, api) == set()
        assert _status_codes(people.bob, api, job) == [404, 404, 404]


def test_the_models_risk_owner_follows_its_jobs_as_the_version_page_does(
    people, alices_version, api
):
    """rita holds no jobs permission, but sees the model: its version page polls the job."""
    job = _validation_job(alices_version)
    assert _status_codes(people.rita, api, job) == [200, 200, 200]
    assert job.pk in _listed(people.rita)


def test_an_operator_sees_a_validation_job_they_started_on_a_model_hidden_from_them(
    people, alices_version
):
    job = _validation_job(alices_version)
    Job.objects.filter(pk=job.pk).update(created_by=people.ivan)
    assert job.pk in _listed(people.ivan)


def test_the_diagnostic_job_is_visible_to_every_operator_and_its_starter(people, api):
    other_operator = UserFactory(username="olga", role="model_ops")
    job = services.start_diagnostic(actor=other_operator, steps=1)
    for user in (people.ivan, people.carl, other_operator, people.admin):
        assert job.pk in _listed(user)
        assert _status_codes(user, api, job) == [200, 200, 200]
    assert _status_codes(people.alice, api, job) == [404, 404, 404]


def test_deployment_jobs_follow_the_visibility_of_the_deployed_model(people, alices_version, api):
    deployment = Deployment.objects.create(
        model=alices_version.model,
        version=alices_version,
        environment=Environment.objects.get(slug="staging"),
        requested_by=people.admin,
    )
    job = services.create_job(kind=deployments.DEPLOYMENT, target=deployment, actor=people.admin)
    assert job.pk not in _listed(people.ivan)
    assert _status_codes(people.ivan, api, job) == [404, 404, 404]
    assert _status_codes(people.bob, api, job) == [404, 404, 404]
    assert job.pk in _listed(people.carl)

    reviews.request_review(alices_version.pk, actor=people.alice, summary="Ready")
    assert job.pk in _listed(people.ivan)
    assert _status_codes(people.ivan, api, job) == [200, 200, 200]


def test_the_dashboard_counts_only_jobs_the_operator_may_see(people, two_jobs, alices_version):
    def queued(user) -> int:
        panel = next(p for p in panels_for(user) if p.template == "jobs/panels/operations.html")
        return panel.context["queued"]

    assert queued(people.ivan) == 1  # the diagnostic job, not alice's validation
    assert queued(people.carl) == 2
    reviews.request_review(alices_version.pk, actor=people.alice, summary="Ready")
    assert queued(people.ivan) == 2
    assert _client(people.ivan).get(reverse("dashboard")).status_code == 200


def test_the_job_list_and_api_make_as_many_queries_for_many_jobs_as_for_few(
    people, two_jobs, alices_version, api
):
    reviews.request_review(alices_version.pk, actor=people.alice, summary="Ready")
    client, token_client = _client(people.ivan), api(people.ivan)

    def queries() -> tuple[int, int]:
        with CaptureQueriesContext(connection) as page:
            assert client.get(reverse("jobs:list")).status_code == 200
        with CaptureQueriesContext(connection) as listing:
            assert token_client.get("/api/v1/jobs/").status_code == 200
        return len(page), len(listing)

    queries()  # the first request fills per-process caches (content types, permissions)
    few = queries()
    for _ in range(5):
        services.start_diagnostic(actor=people.ivan, steps=1)
        validation.start_validation(alices_version, actor=people.alice)
    assert len(_listed(people.ivan)) == 12
    assert queries() == few


def test_the_detail_fragment_stops_polling_once_the_job_ends(people, two_jobs):
    ivans, _ = two_jobs
    url = reverse("jobs:detail", args=[ivans.uuid]) + "?fragment=1"
    assert "data-poll-done" not in _client(people.ivan).get(url).content.decode()
    Job.objects.filter(pk=ivans.pk).update(status=Job.Status.SUCCEEDED)
    assert "data-poll-done" in _client(people.ivan).get(url).content.decode()


def test_only_operators_may_start_a_diagnostic_job(people):
    assert _client(people.alice).post(reverse("jobs:start-diagnostic")).status_code == 403
    response = _client(people.ivan).post(reverse("jobs:start-diagnostic"), {"steps": "2"})
    job = Job.objects.get()
    assert response.status_code == 302 and response.url == reverse("jobs:detail", args=[job.uuid])
    assert job.payload["steps"] == 2 and job.created_by == people.ivan


def test_the_job_list_filters_by_status(people, two_jobs):
    ivans, _ = two_jobs
    Job.objects.filter(pk=ivans.pk).update(status=Job.Status.FAILED)
    page = _client(people.ivan).get(reverse("jobs:list"), {"status": "failed"}).context["page"]
    assert [j.pk for j in page.object_list] == [ivans.pk]
