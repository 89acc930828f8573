from __future__ import annotations

import csv
from typing import Any

from django import forms
from django.contrib.auth.models import User
from django.core.exceptions import ValidationError
from django.core.paginator import Paginator
from django.db.models import QuerySet
from django.http import HttpRequest, HttpResponse
from django.shortcuts import render
from django.utils import timezone

from apps.audit import services as audit
from apps.core.exports import csv_cell
from apps.core.markdown import render_markdown
from apps.core.permissions import can
from apps.core.views import ActionView, PortalView
from apps.findings import services
from apps.findings.filters import filtered
from apps.findings.forms import RaiseForm, ReasonForm, RegisterFilter, RemediationForm
from apps.findings.models import Finding
from apps.registry.models import ModelVersion

PAGE_SIZE = 50
CSV_COLUMNS = [
    "id",
    "model",
    "version",
    "title",
    "severity",
    "category",
    "state",
    "owner",
    "raised_by",
    "raised_at",
    "due_date",
    "overdue",
    "age_days",
]


class Register(PortalView):
    """Every finding the person may see, filtered; CSV with ``?format=csv``."""

    queryset = Finding.objects.select_related("model__team", "version", "owner", "raised_by")

    def get(self, request: HttpRequest) -> HttpResponse:
        assert self.queryset is not None
        chosen = RegisterFilter(request.GET)
        rows: QuerySet[Finding] = (
            filtered(self.queryset, chosen.cleaned_data)
            if chosen.is_valid()
            else self.queryset.none()
        )
        today = timezone.localdate()
        if request.GET.get("format") == "csv":
            return _csv(rows, today)
        page = Paginator(rows, PAGE_SIZE).get_page(request.GET.get("page"))
        query = request.GET.copy()
        query.pop("page", None)
        return render(
            request,
            "findings/register.html",
            {"page": page, "filter": chosen, "query": query.urlencode(), "today": today},
        )


def _csv(rows: Any, today: Any) -> HttpResponse:
    response = HttpResponse(content_type="text/csv; charset=utf-8")
    response["Content-Disposition"] = f'attachment; filename="findings-{today}.csv"'
    writer = csv.writer(response)
    writer.writerow(CSV_COLUMNS)
    for f in rows.iterator(chunk_size=500):
        cells = [
            f.pk,
            f.model.slug,
            f.version.number,
            f.title,
            f.severity,
            f.category,
            f.state,
            f.owner.username,
            f.raised_by.username,
            f.raised_at,
            f.due_date,
            "yes" if f.is_overdue else "no",
            (today - timezone.localdate(f.raised_at)).days,
        ]
        writer.writerow([csv_cell(cell) for cell in cells])
    return response


class Detail(PortalView):
    queryset = Finding.objects.select_related("model", "version", "owner", "raised_by")

    def get(self, request: HttpRequest, pk: int) -> HttpResponse:
        finding: Finding = self.get_object(pk=pk)
        return render(
            request,
            "findings/detail.html",
            {
                "finding": finding,
                "may_remediate": finding.state == Finding.State.OPEN
                and can(self.person, "findings.remediate", finding),
                "may_verify": finding.state == Finding.State.REMEDIATED
                and can(self.person, "findings.verify", finding),
                "history": audit.events_for(finding).order_by("occurred_at", "id"),
                "description_html": render_markdown(finding.description),
                "remediation_html": render_markdown(finding.remediation),
                "today": timezone.localdate(),
            },
        )


class RaiseFinding(ActionView):
    """Raise a finding from the version page."""

    queryset = ModelVersion.objects.select_related("model")
    form_class = RaiseForm
    anchor = "#findings"
    invalid_message = "Give a title, severity, category, description, owner and due date."

    def target(self) -> ModelVersion:
        found: ModelVersion = self.get_object(
            model__slug=self.kwargs["slug"], number=self.kwargs["number"]
        )
        return found

    def perform(self, version: ModelVersion, form: forms.Form | None) -> str:
        assert form is not None
        data = form.cleaned_data
        owner = User.objects.filter(username=data["owner"]).first()
        if owner is None:
            raise ValidationError(f"There is no user named “{data['owner']}”.")
        services.raise_finding(
            version.pk,
            actor=self.person,
            title=data["title"],
            severity=data["severity"],
            category=data["category"],
            description=data["description"],
            owner=owner,
            due_date=data["due_date"],
        )
        return f"Finding raised; {owner.username} is told and answers it."


class FindingAction(ActionView):
    queryset = Finding.objects.select_related("model", "version", "owner", "raised_by")
    form_class: type[forms.Form] = ReasonForm
    invalid_message = "Say why, in a few words."

    def next_url(self, finding: Finding) -> str:
        return finding.get_absolute_url()


class Remediate(FindingAction):
    form_class = RemediationForm
    invalid_message = "Say what was done to remediate it."

    def perform(self, finding: Finding, form: forms.Form | None) -> str:
        assert form is not None
        services.remediate(
            finding.pk, actor=self.person, remediation=form.cleaned_data["remediation"]
        )
        return f"Remediation sent; {finding.raised_by.username} verifies it."


class Close(FindingAction):
    def perform(self, finding: Finding, form: forms.Form | None) -> str:
        assert form is not None
        services.close(finding.pk, actor=self.person, reason=form.cleaned_data["reason"])
        return "Finding closed."


class Reopen(FindingAction):
    def perform(self, finding: Finding, form: forms.Form | None) -> str:
        assert form is not None
        services.reopen(finding.pk, actor=self.person, reason=form.cleaned_data["reason"])
        return f"Finding reopened; {finding.owner.username} is told."
