from __future__ import annotations

import csv
from collections.abc import Iterator

from django.contrib import messages
from django.core.paginator import Paginator
from django.db import transaction
from django.db.models import Model, QuerySet
from django.http import HttpRequest, HttpResponse, HttpResponseBase, StreamingHttpResponse
from django.shortcuts import redirect, render
from django.utils import timezone

from apps.audit import chain, services
from apps.audit.forms import AuditFilterForm, EventFilterForm
from apps.audit.models import AuditEvent
from apps.core.audit_actions import AuditAction
from apps.core.exports import csv_cell
from apps.core.views import PortalView

PAGE_SIZE = 50


class ComplianceView(PortalView):
    """A page of the audit trail: for those who read it (compliance, administrators)."""

    queryset = AuditEvent.objects.order_by("-id")
    permission_required = "audit.view_auditevent"
    permission_message = "Reading the audit trail needs the compliance role."

    def filtered(self) -> tuple[AuditFilterForm, QuerySet[AuditEvent]]:
        assert self.queryset is not None
        events: QuerySet[AuditEvent] = self.queryset
        form = AuditFilterForm(self.request.GET or None, events=events)
        if form.is_bound and form.is_valid():
            events = form.apply(events)
        elif form.is_bound:
            events = events.none()
        return form, events


class EventList(ComplianceView):
    def get(self, request: HttpRequest) -> HttpResponse:
        form, events = self.filtered()
        page = Paginator(events, PAGE_SIZE).get_page(request.GET.get("page"))
        query = request.GET.copy()
        query.pop("page", None)
        return render(
            request,
            "audit/auditevent_list.html",
            {
                "form": form,
                "page": page,
                "query": query.urlencode(),
                "verification": services.latest_verification(),
            },
        )


class _Echo:
    def write(self, value: str) -> str:
        return value


# Every stored field, so that an auditor holding the audit key can re-verify the chain from the
# export alone.
_CSV_COLUMNS = ["id", "seq", "key_id", *chain.HASHED_FIELDS, "hash"]


class ExportCsv(ComplianceView):
    def get(self, request: HttpRequest) -> HttpResponseBase:
        return export_csv(request, *self.filtered())


def export_csv(
    request: HttpRequest,
    form: EventFilterForm,
    events: QuerySet[AuditEvent],
    *,
    subject: Model | None = None,
    name: str = "audit",
) -> HttpResponseBase:
    """The filtered events as CSV, streamed; the export itself is audited.

    ``subject`` is the object whose events these are (a model, from its history tab): the export
    is then recorded against it, so it shows in that object's history too. ``name`` starts the
    file's name.
    """
    if form.errors:
        # An empty file would read as "no such events": say which filter is wrong instead.
        problems = [
            str(message) if field == "__all__" else f"{form[field].label}: {message}"
            for field, messages in form.errors.items()
            for message in messages
        ]
        return HttpResponse(
            "Nothing exported; correct the filters. " + " ".join(problems),
            status=400,
            content_type="text/plain; charset=utf-8",
        )
    with transaction.atomic():
        filters = {k: v for k, v in request.GET.items() if v}
        if subject is None:
            services.record(
                request.user,
                AuditAction.AUDIT_EXPORTED,
                object_type="audit.chain",
                object_repr="audit trail",
                after={"filters": filters},
            )
        else:
            services.record(
                request.user, AuditAction.AUDIT_EXPORTED, subject, after={"filters": filters}
            )
    writer = csv.writer(_Echo())

    def rows() -> Iterator[str]:
        yield writer.writerow(_CSV_COLUMNS)
        for event in events.values_list(*_CSV_COLUMNS).iterator(chunk_size=2000):
            yield writer.writerow([csv_cell(v) for v in event])

    stamp = timezone.now().strftime("%Y%m%d-%H%M%S")
    response = StreamingHttpResponse(rows(), content_type="text/csv; charset=utf-8")
    response["Content-Disposition"] = f'attachment; filename="{name}-{stamp}.csv"'
    return response


class Verify(ComplianceView):
    http_method_names = ["post"]

    def post(self, request: HttpRequest) -> HttpResponse:
        result = services.verify_and_record(request.user)
        if result.intact:
            messages.success(
                request, f"Integrity check passed: {result.checked} events, chain intact."
            )
        else:
            messages.error(request, f"Integrity check FAILED: {result.describe()}.")
        return redirect("audit:list")


def csrf_failure(request: HttpRequest, reason: str = "") -> HttpResponse:
    """Refused form posts (missing token, foreign origin) are denials too: say so, and record it."""
    request.denial_reason = f"CSRF check failed: {reason}"  # type: ignore[attr-defined]
    return render(
        request,
        "403.html",
        {"message": "This form expired or came from another site. Reload the page and try again."},
        status=403,
    )
