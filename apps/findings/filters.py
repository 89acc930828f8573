"""The findings register's filters, one place for the page, its CSV and the API."""

from __future__ import annotations

from typing import Any

from django.db.models import QuerySet
from django.utils import timezone

from apps.findings.models import Finding


def filtered(rows: QuerySet[Finding], given: dict[str, Any]) -> QuerySet[Finding]:
    """``rows`` narrowed by the cleaned filters (``forms.RegisterFilter``)."""
    if given.get("severity"):
        rows = rows.filter(severity=given["severity"])
    state = given.get("state")
    if state == "unclosed":
        rows = rows.exclude(state=Finding.State.CLOSED)
    elif state:
        rows = rows.filter(state=state)
    if given.get("category"):
        rows = rows.filter(category=given["category"])
    if given.get("overdue"):
        rows = rows.exclude(state=Finding.State.CLOSED).filter(due_date__lt=timezone.localdate())
    if given.get("model"):
        rows = rows.filter(model__slug=given["model"])
    if given.get("team"):
        rows = rows.filter(model__team__slug=given["team"])
    if given.get("owner"):
        rows = rows.filter(owner__username=given["owner"])
    return rows
