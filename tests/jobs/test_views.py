"""The jobs page and API: live, scoped, and the diagnostic button for operators."""

from __future__ import annotations

import pytest
from django.test import Client
from django.urls import reverse

from apps.jobs import services
from apps.jobs.models import Job

pytestmark = pytest.mark.django_db


def _client(user) -> Client:
    client = Client()
    client.force_login(user)
    return client


@pytest.fixture
def two_jobs(people):
    ivans = services.start_diagnostic(actor=people.ivan, steps=1)
    alices = Job.objects.create(
        kind="validation", task_name="x", time_limit=60, created_by=people.alice
    )
    return ivans, alices


def test_people_see_their_own_jobs_and_operators_all(people, two_jobs):
    ivans, alices = two_jobs

    def listed(user) -> set:
        return {j.pk for j in _client(user).get(reverse("jobs:list")).context["page"].object_list}

    assert listed(people.alice) == {alices.pk}
    assert listed(people.bob) == set()
    assert listed(people.ivan) == listed(people.carl) == {ivans.pk, alices.pk}


def test_a_foreign_job_is_404_in_the_page_and_the_api(people, two_jobs, api):
    _, alices = two_jobs
    assert _client(people.bob).get(reverse("jobs:detail", args=[alices.uuid])).status_code == 404
    assert _client(people.alice).get(reverse("jobs:detail", args=[alices.uuid])).status_code == 200
    assert api(people.bob).get(f"/api/v1/jobs/{alices.uuid}/").status_code == 404
    body = api(people.alice).get(f"/api/v1/jobs/{alices.uuid}/").json()
    assert body["status"] == "queued" and body["kind"] == "validation"
    assert [j["uuid"] for j in api(people.bob).get("/api/v1/jobs/").json()["results"]] == []


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
