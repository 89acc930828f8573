"""Findings' panel of the "my work" dashboard: the findings a person owns or must verify."""

from __future__ import annotations

from django.contrib.auth.models import User
from django.db.models import Q
from django.utils import timezone

from apps.core.registry import Panel
from apps.findings.models import Finding


def panels(user: User) -> list[Panel]:
    mine = (
        Finding.objects.restrict(user)
        .filter(
            Q(owner=user, state=Finding.State.OPEN)
            | Q(raised_by=user, state=Finding.State.REMEDIATED)
        )
        .select_related("model", "version", "owner", "raised_by")
        .order_by("due_date", "id")
    )
    if not mine.exists():
        return []
    return [
        Panel(
            "Findings",
            "findings/panels/mine.html",
            {"findings": mine[:10], "count": mine.count(), "today": timezone.localdate()},
            order=5,
        )
    ]
