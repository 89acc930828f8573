from __future__ import annotations

import time

from celery import current_app
from django.contrib import messages
from django.core.paginator import Paginator
from django.db import connection
from django.http import HttpRequest, HttpResponse, JsonResponse
from django.shortcuts import redirect, render
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_GET

from apps.core.permissions import can
from apps.core.views import PortalView
from apps.jobs import services
from apps.jobs.models import Job

PAGE_SIZE = 25


class JobList(PortalView):
    """Jobs the person may see, filtered by state and kind; the page polls its table fragment
    while any job on it is still running."""

    queryset = Job.objects.select_related("created_by", "target_type")

    def get(self, request: HttpRequest) -> HttpResponse:
        assert self.queryset is not None
        jobs = self.queryset
        status = request.GET.get("status", "")
        if status in Job.Status.values:
            jobs = jobs.filter(status=status)
        kind = request.GET.get("kind", "").strip()
        if kind:
            jobs = jobs.filter(kind=kind)
        page = Paginator(jobs, PAGE_SIZE).get_page(request.GET.get("page"))
        context = {
            "page": page,
            "status": status,
            "kind": kind,
            "statuses": Job.Status.choices,
            "any_active": any(not job.is_finished for job in page),
            "can_start_diagnostic": can(self.person, "jobs.add_job"),
            "workers": services.live_workers() if can(self.person, "jobs.view_job") else None,
        }
        template = "jobs/_job_table.html" if request.GET.get("fragment") else "jobs/job_list.html"
        return render(request, template, context)


class JobDetail(PortalView):
    queryset = Job.objects.select_related("created_by", "target_type")

    def get(self, request: HttpRequest, job_uuid: str) -> HttpResponse:
        job = self.get_object(uuid=job_uuid)
        template = (
            "jobs/_job_status.html" if request.GET.get("fragment") else "jobs/job_detail.html"
        )
        return render(request, template, {"job": job})


class StartDiagnostic(PortalView):
    """Queue a diagnostic job (operators): proves the broker and a worker answer."""

    http_method_names = ["post"]

    def post(self, request: HttpRequest) -> HttpResponse:
        try:
            steps = max(1, min(int(request.POST.get("steps", 5)), 60))
        except ValueError:
            steps = 5
        job = services.start_diagnostic(actor=self.person, steps=steps)
        messages.success(request, "Diagnostic job queued; this page follows it live.")
        return redirect("jobs:detail", job_uuid=job.uuid)


def _database_ok() -> tuple[bool, str]:
    try:
        with connection.cursor() as cursor:
            cursor.execute("SELECT 1")
        return True, "reachable"
    except Exception as exc:
        return False, f"unreachable: {type(exc).__name__}"


def _broker_ok() -> tuple[bool, str]:
    try:
        with current_app.connection_for_write() as conn:
            conn.ensure_connection(max_retries=1, interval_start=0, timeout=2)
        return True, "reachable"
    except Exception as exc:
        return False, f"unreachable: {type(exc).__name__}"


def _workers_ok() -> tuple[bool, str, list[dict[str, object]]]:
    try:
        workers = [
            {"hostname": w.hostname, "queues": w.queues, "last_seen": w.last_seen.isoformat()}
            for w in services.live_workers()
        ]
    except Exception as exc:
        return False, f"unknown: {type(exc).__name__}", []
    if not workers:
        return False, "no worker heartbeat", []
    return True, f"{len(workers)} alive", workers


@require_GET
@never_cache
def healthz(request: HttpRequest) -> JsonResponse:
    """Liveness of the portal's parts, for load balancers and operators. No login required."""
    started = time.monotonic()
    db_ok, db_detail = _database_ok()
    broker_ok, broker_detail = _broker_ok()
    workers_ok, workers_detail, workers = _workers_ok() if db_ok else (False, "unknown", [])
    checks = {
        "database": {"ok": db_ok, "detail": db_detail},
        "broker": {"ok": broker_ok, "detail": broker_detail},
        "workers": {"ok": workers_ok, "detail": workers_detail, "workers": workers},
    }
    down = [name for name, check in checks.items() if not check["ok"]]
    body = {
        "status": "ok" if not down else "unavailable",
        "down": down,
        "checks": checks,
        "elapsed_ms": round((time.monotonic() - started) * 1000, 1),
    }
    return JsonResponse(body, status=200 if not down else 503)
