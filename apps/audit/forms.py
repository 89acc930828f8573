"""The filters of lists of audit events: the trail (/audit/) and a model's history tab.

People pick from lists (a person who appears in the events, an action by its words, a model by its
name) instead of typing codes and ids. The URL parameters stay those links and bookmarks already
use (``?actor=alice``, ``?action=auth.``, ``?since=``, ``?until=``): a value the lists do not
offer (someone who has no event yet, an action code of older events) is kept and filtered by, not
refused.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from datetime import datetime, time
from typing import Any, Protocol, cast

from django import forms
from django.db.models import Q, QuerySet
from django.utils import timezone

from apps.audit.models import AuditEvent
from apps.core.audit_actions import AuditAction
from apps.core.registry import registry

# The value that picks events without a signed-in person (background work, failed sign-ins). Not
# a possible username (Django's allow letters, digits and @.+-_ only), so no one is mistaken for it.
SYSTEM = "(system)"

# Each action's area is the part of its code before the dot; these are the words for the areas,
# and for the choice that picks all of an area's events (``auth.`` is "All sign-in events").
AREAS: dict[str, tuple[str, str]] = {
    "auth": ("Signing in", "All sign-in events"),
    "permission": ("Refused access", "All refusals"),
    "token": ("API tokens", "All API token events"),
    "notifications": ("Notifications", "All notification settings events"),
    "user": ("User accounts", "All user account events"),
    "group": ("Groups", "All group events"),
    "team": ("Teams", "All team events"),
    "audit": ("Audit trail", "All audit trail events"),
    "job": ("Background jobs", "All job events"),
    "model": ("Models", "All model events"),
    "version": ("Versions", "All version events"),
    "tag": ("Tags", "All tag events"),
    "validation": ("Validation", "All validation events"),
    "policy": ("Validation policies", "All validation policy events"),
    "review": ("Reviews and sign-offs", "All review events"),
    "review_policy": ("Review policies", "All review policy events"),
    "comment": ("Comments", "All comments"),
    "deployment": ("Deployments", "All deployment events"),
    "challenger": ("Challengers", "All challenger events"),
    "serving_key": ("Serving keys", "All serving key events"),
    "monitoring": ("Monitoring", "All monitoring events"),
    "finding": ("Findings", "All finding events"),
    "documentation": ("Documentation", "All documentation events"),
    "environment": ("Environments", "All environment events"),
    "webhook": ("Webhooks", "All webhook events"),
    "sso": ("Single sign-on", "All single sign-on mapping events"),
    "mlflow": ("MLflow", "All MLflow events"),
}

Choices = list[tuple[str, Any]]


class Subject(Protocol):
    """Something the trail can be filtered by that spans many audited objects (a model: itself,
    its versions, its deployments, findings, ...). Offered by the app that owns it through
    ``registry.audit_subjects``, so that this app imports no app above it."""

    @property
    def label(self) -> str: ...

    @property
    def choices(self) -> Callable[[], list[tuple[str, str]]]: ...

    @property
    def events(self) -> Callable[[str], Q]: ...


def audit_subjects() -> Mapping[str, Subject]:
    """The registered subjects by URL parameter (``model``): ``registry.audit_subjects``, filled
    by the registry app, which the audit app may not import."""
    return {name: registry.audit_subjects[name] for name in registry.audit_subjects.names()}


def action_choices() -> Choices:
    """Every action by its words, grouped by area, each area led by the choice of all its events."""
    groups: dict[str, Choices] = {}
    for action in AuditAction:
        area = action.value.split(".", 1)[0]
        title, everything = AREAS.get(area, (area.replace("_", " ").capitalize(), ""))
        if title not in groups:
            groups[title] = [(f"{area}.", everything or f"All “{area}” events")]
        elif f"{area}." not in dict(groups[title]):
            # Two codes' areas share a title: each keeps its own "all" choice.
            groups[title].append((f"{area}.", everything or f"All “{area}” events"))
        groups[title].append((action.value, str(action.label)))
    return [("", "Any action"), *groups.items()]


def _offered(choices: Choices) -> set[str]:
    values: set[str] = set()
    for value, label in choices:
        if isinstance(label, list | tuple):
            values |= {str(v) for v, _ in label}
        else:
            values.add(str(value))
    return values


class EventFilterForm(forms.Form):
    """Person, action and dates: the filters of any list of audit events.

    ``events`` are the events being filtered: the people offered are those who appear in them.
    """

    actor = forms.ChoiceField(required=False, label="Person")
    action = forms.ChoiceField(required=False, label="Action")
    since = forms.DateField(required=False, label="From", widget=forms.DateInput({"type": "date"}))
    until = forms.DateField(required=False, label="To", widget=forms.DateInput({"type": "date"}))

    def __init__(
        self, data: Mapping[str, Any] | None = None, *, events: QuerySet[AuditEvent], **kwargs: Any
    ) -> None:
        super().__init__(data, **kwargs)
        names = (
            events.exclude(actor_username="")
            .order_by()
            .values_list("actor_username", flat=True)
            .distinct()
        )
        people: Choices = [("", "Anyone"), (SYSTEM, "system (no signed-in person)")]
        people += [(name, name) for name in sorted(names, key=str.lower)]
        cast(forms.ChoiceField, self.fields["actor"]).choices = self._keeping("actor", people, 150)
        cast(forms.ChoiceField, self.fields["action"]).choices = self._keeping(
            "action", action_choices(), 100
        )

    def _keeping(self, field: str, choices: Choices, longest: int) -> Choices:
        """``choices``, plus the value the URL holds if they do not offer it (a link to someone
        without events yet, an action code no longer in use), so that the link still filters."""
        value = str(self.data.get(field, "") or "").strip() if self.is_bound else ""
        if value and value not in _offered(choices) and len(value) <= longest:
            choices.append((value, value))
        return choices

    def clean(self) -> dict[str, Any]:
        data = super().clean() or {}
        if data.get("since") and data.get("until") and data["since"] > data["until"]:
            raise forms.ValidationError("“From” must be on or before “To”.")
        return data

    def apply(self, events: QuerySet[AuditEvent]) -> QuerySet[AuditEvent]:
        """Filter by whatever the form holds; call only after is_valid()."""
        data = self.cleaned_data
        if actor := data.get("actor", "").strip():
            events = events.filter(actor_username="" if actor == SYSTEM else actor)
        if action := data.get("action", "").strip():
            events = (
                events.filter(action__startswith=action)
                if action.endswith(".")
                else events.filter(action=action)
            )
        tz = timezone.get_current_timezone()
        if data.get("since"):
            events = events.filter(occurred_at__gte=datetime.combine(data["since"], time.min, tz))
        if data.get("until"):
            events = events.filter(occurred_at__lte=datetime.combine(data["until"], time.max, tz))
        return events


class AuditFilterForm(EventFilterForm):
    """The trail's filters: a model (with all its objects) picked by name, person, action, dates;
    an object type and id for the rare search by a single object."""

    object_type = forms.CharField(
        required=False, max_length=100, label="Object type", help_text="As in the CSV."
    )
    object_id = forms.CharField(required=False, max_length=64, label="Object id")

    def __init__(self, data: Mapping[str, Any] | None = None, **kwargs: Any) -> None:
        super().__init__(data, **kwargs)
        self.subjects = audit_subjects()
        for name, subject in reversed(list(self.subjects.items())):
            field = forms.ChoiceField(
                required=False,
                label=subject.label,
                choices=[("", f"Any {subject.label.lower()}"), *subject.choices()],
                error_messages={"invalid_choice": f"No {subject.label.lower()} “%(value)s”."},
            )
            # The subjects come first: they are what compliance asks about most.
            self.fields = {name: field, **self.fields}

    def apply(self, events: QuerySet[AuditEvent]) -> QuerySet[AuditEvent]:
        events = super().apply(events)
        data = self.cleaned_data
        for name, subject in self.subjects.items():
            if value := data.get(name):
                events = events.filter(subject.events(value))
        if data.get("object_type"):
            events = events.filter(object_type=data["object_type"].strip())
        if data.get("object_id"):
            events = events.filter(object_id=data["object_id"].strip())
        return events
