"""What periodic review adds to other apps' pages: the model page's section, the marks on models
in lists, and the "my work" panels."""

from __future__ import annotations

from collections.abc import Mapping

from django.contrib.auth.models import User
from django.http import HttpRequest
from django.urls import reverse

from apps.accounts.roles import Role, has_role
from apps.core.permissions import can, user_of
from apps.core.registry import Flag, Panel, Section
from apps.recertification import services
from apps.recertification.models import PeriodicReview, Schedule
from apps.registry.models import ModelVersion, RegisteredModel


def flags(model_ids: list[int]) -> Mapping[int, list[Flag]]:
    """ "Review overdue" on a listed model whose periodic review date has passed."""
    today = services.today()
    overdue = Schedule.objects.filter(model_id__in=model_ids, due_on__lt=today).values_list(
        "model_id", "due_on"
    )
    url = reverse("recertification:calendar") + "?state=overdue"
    return {
        model_id: [Flag(f"Review overdue since {due:%-d %b %Y}", "alert", url)]
        for model_id, due in overdue
    }


def model_section(request: HttpRequest, model: RegisteredModel) -> list[Section]:
    schedule = Schedule.objects.filter(model=model).select_related("version").first()
    reviews = list(PeriodicReview.objects.filter(model=model).select_related("version")[:5])
    if schedule is None and not reviews:
        return []
    is_open = any(r.status == PeriodicReview.Status.OPEN for r in reviews)
    return [
        Section(
            "recertification/_model_section.html",
            {
                "model": model,
                "schedule": schedule,
                "state": services.state_of(schedule, is_open) if schedule else "",
                "reviews": reviews,
                "may_request": not is_open
                and can(user_of(request), services.REQUEST)
                and schedule is not None,
            },
            order=15,
        )
    ]


def panels(user: User) -> list[Panel]:
    visible = Schedule.objects.restrict(user)
    soon = services.today().toordinal() + services.REMINDERS[0]
    due = [
        s
        for s in visible.select_related("model").order_by("due_on")[:50]
        if s.due_on.toordinal() <= soon
    ]
    waiting = (
        [
            r
            for r in PeriodicReview.objects.restrict(user)
            .filter(status=PeriodicReview.Status.OPEN)
            .select_related("model__risk_owner", "model__team", "version")
            .prefetch_related("attestations")
            if services._role_for(user, r)
        ]
        if has_role(user, Role.RISK_OWNER) or has_role(user, Role.MODEL_OPS)
        else []
    )
    if not due and not waiting:
        return []
    return [
        Panel(
            "Periodic reviews",
            "recertification/panels/mine.html",
            {"due": due[:10], "waiting": waiting[:10], "today": services.today()},
            order=8,
        )
    ]


def review_history(version: ModelVersion) -> list[tuple[str, list[str], list[list[str]]]]:
    """The version's periodic reviews, for its documentation's sign-off section."""
    reviews = list(
        PeriodicReview.objects.filter(version=version).prefetch_related("attestations__person")
    )
    if not reviews:
        return []
    rows = [
        [
            f"Periodic review {r.number}",
            r.get_status_display(),
            a.get_role_display(),
            a.person.get_full_name() or a.person.username,
            a.statement,
            f"{a.created_at:%-d %B %Y}",
        ]
        for r in reviews
        for a in r.attestations.all()
    ] + [
        [
            f"Periodic review {r.number}",
            "Open",
            "",
            "",
            f"Opened because {r.reason}",
            f"{r.opened_at:%-d %B %Y}",
        ]
        for r in reviews
        if r.status == PeriodicReview.Status.OPEN and not r.attestations.all()
    ]
    return [
        (
            "Periodic reviews and their attestations",
            ["Review", "Outcome", "Attested as", "By", "Statement", "Date"],
            rows,
        )
    ]
