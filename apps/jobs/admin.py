from django.contrib import admin

from apps.audit.admin import ReadOnlyAdmin
from apps.jobs.models import Job, WorkerHeartbeat


@admin.register(Job)
class JobAdmin(ReadOnlyAdmin):
    """Jobs change state only through apps.jobs.services, and they are history: the admin is
    for looking, and nothing here deletes a job."""

    list_display = ["uuid", "kind", "status", "progress", "attempts", "worker", "created_at"]
    list_filter = ["status", "kind"]


@admin.register(WorkerHeartbeat)
class WorkerHeartbeatAdmin(ReadOnlyAdmin):
    """Written by the workers themselves; the reaper trusts these rows, so nobody edits them."""

    list_display = ["hostname", "pid", "last_seen"]
