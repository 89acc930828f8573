from typing import Any

from django.contrib import admin
from django.http import HttpRequest

from apps.jobs.models import Job, WorkerHeartbeat


@admin.register(Job)
class JobAdmin(admin.ModelAdmin):
    list_display = ["uuid", "kind", "status", "progress", "attempts", "worker", "created_at"]
    list_filter = ["status", "kind"]

    # Jobs change state only through apps.jobs.services; the admin is for looking.
    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False


@admin.register(WorkerHeartbeat)
class WorkerHeartbeatAdmin(admin.ModelAdmin):
    list_display = ["hostname", "pid", "last_seen"]
