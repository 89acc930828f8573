"""The jobs admin is for looking: jobs are history, heartbeats belong to the workers."""

from __future__ import annotations

import pytest
from django.test import Client
from django.utils import timezone

from apps.jobs.models import Job, WorkerHeartbeat

pytestmark = pytest.mark.django_db


@pytest.fixture
def admin_client(people) -> Client:
    client = Client()
    client.force_login(people.admin)
    return client


def test_a_job_cannot_be_deleted_in_the_admin_one_or_selected(people, admin_client):
    job = Job.objects.create(kind="validation", task_name="x", time_limit=60)
    path = f"/admin/jobs/job/{job.pk}/delete/"
    assert admin_client.post(path, {"post": "yes"}).status_code == 403
    admin_client.post(
        "/admin/jobs/job/",
        {"action": "delete_selected", "_selected_action": [job.pk], "post": "yes"},
    )
    assert Job.objects.filter(pk=job.pk).exists()
    listed = admin_client.get("/admin/jobs/job/")
    assert listed.status_code == 200 and "Delete selected" not in listed.content.decode()


def test_a_worker_heartbeat_cannot_be_edited_or_deleted_in_the_admin(people, admin_client):
    now = timezone.now()
    beat = WorkerHeartbeat.objects.create(hostname="w1", pid=1, started_at=now, last_seen=now)
    path = f"/admin/jobs/workerheartbeat/{beat.pk}/"
    assert admin_client.post(f"{path}delete/", {"post": "yes"}).status_code == 403
    change = admin_client.post(f"{path}change/", {"hostname": "w1", "pid": 2, "queues": "[]"})
    assert change.status_code == 403
    beat.refresh_from_db()
    assert beat.pid == 1
