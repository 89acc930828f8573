"""A model's audit events: the model's own, its versions', and those of what other apps keep about
it (``registry.model_history``: deployments, serving keys, findings, alerts, ...).

One place for the model's History tab (scoped to what the person may see) and for the audit
trail's "Model" filter (``model_choices`` and ``events_of_slug``, for those who read the whole
trail). The registry imports ``audit``, so the trail reaches these through
``registry.audit_subjects`` (registered in ``RegistryConfig.ready``) rather than by importing them.
"""

from __future__ import annotations

from django.apps import apps
from django.contrib.auth.models import AnonymousUser, User
from django.db.models import Q, QuerySet

from apps.audit.models import AuditEvent
from apps.core.permissions import visible_to
from apps.core.registry import registry
from apps.registry.models import ModelVersion, RegisteredModel

Person = User | AnonymousUser


def _visible_ids(person: Person, object_type: str, ids: list[str]) -> list[str]:
    """Those of ``ids`` (of audit's ``object_type``, "app_label.model_name") that ``person`` may
    see. A type that names no model cannot be scoped, so its events are not shown (fail closed)."""
    try:
        model = apps.get_model(object_type)
    except (LookupError, ValueError):
        return []
    rows = model._default_manager.filter(pk__in=ids)
    return [str(pk) for pk in visible_to(person, rows).values_list("pk", flat=True)]


def model_event_filter(model: RegisteredModel, person: Person | None = None) -> Q:
    """The condition on AuditEvent rows that picks the events of ``model`` and all its objects.

    ``person``: only the objects they may see (model operations see the versions submitted for
    review, not the drafts). None: every object, for those who read the whole trail.
    """
    versions = model.versions.all() if person is None else model.versions.restrict(person)
    found = Q(object_type=RegisteredModel._meta.label_lower, object_id=str(model.pk)) | Q(
        object_type=ModelVersion._meta.label_lower,
        object_id__in=[str(pk) for pk in versions.values_list("pk", flat=True)],
    )
    for source in registry.model_history:
        for object_type, ids in source(model).items():
            shown = list(ids) if person is None else _visible_ids(person, object_type, list(ids))
            if shown:
                found |= Q(object_type=object_type, object_id__in=shown)
    return found


def model_events(model: RegisteredModel, person: Person | None = None) -> QuerySet[AuditEvent]:
    """The events of ``model`` and its objects (see ``model_event_filter``), newest first."""
    return AuditEvent.objects.filter(model_event_filter(model, person)).order_by("-id")


def model_choices() -> list[tuple[str, str]]:
    """Every model, by name, for the trail's pick list (value: the slug)."""
    return list(RegisteredModel.objects.order_by("name", "pk").values_list("slug", "name"))


def events_of_slug(slug: str) -> Q:
    """The trail's "Model" filter: every event of the model named by ``slug`` (none if there is
    no such model: a model is never deleted, so that means a wrong link)."""
    model = RegisteredModel.objects.filter(slug=slug).first()
    return Q(pk__in=[]) if model is None else model_event_filter(model)
