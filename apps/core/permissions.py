"""The one place that decides what a user may see and do.

- ``Model.objects.restrict(user, action)`` (``RestrictedQuerySet``, the manager of every governed
  model) scopes every list and every detail lookup, HTML and API; the base views
  (``apps.core.views``, ``apps.core.api``) apply it before any handler runs. It consults object
  permissions only (django-guardian, ``accept_global_perms=False``): holding a role's model-level
  ``view_*`` permission never makes every object visible.
- ``can(user, action, obj)`` answers "may this person do this": for a rule registered in
  ``registry.rules`` (``reviews.decide``, ...) the rule itself, the same function the service
  calls; otherwise one Django permission, held on the object (or as a role, without one). It
  raises nothing. ``require`` raises PermissionDenied (403) where ``can`` says no.
Objects outside ``restrict`` answer 404; a visible object without the right answers 403.

A model whose permissions follow another object's declares ``permission_parent`` (the name of the
foreign key): a model version is visible to whoever may view its registered model.
"""

from __future__ import annotations

import functools
from typing import Any, Self, TypeVar

from django.contrib.auth.models import AnonymousUser, User
from django.core.exceptions import ObjectDoesNotExist, PermissionDenied
from django.db import models
from django.http import Http404, HttpRequest
from guardian.shortcuts import get_objects_for_user

from apps.core.registry import registry

M = TypeVar("M", bound=models.Model)
Person = User | AnonymousUser


def permission_target(obj: models.Model) -> models.Model:
    """The object whose permissions govern ``obj`` (itself, or its ``permission_parent`` chain)."""
    while (parent := getattr(type(obj), "permission_parent", None)) is not None:
        obj = getattr(obj, parent)
    return obj


class RestrictedQuerySet(models.QuerySet[M]):
    """The queryset of every governed model: ``restrict(user, action)`` narrows it to the rows
    ``user`` may ``action``. A model whose rows belong to people rather than to permissions (a
    person's tokens, inbox, jobs) overrides ``restrict`` in its own subclass."""

    def restrict(self, user: Person, action: str = "view") -> Self:
        if not user.is_authenticated or not user.is_active:
            return self.none()
        if user.is_superuser:
            return self
        return self.filter(_scope(user, self.model, action))


def visible_to(
    user: Person, queryset: models.QuerySet[M], action: str = "view"
) -> models.QuerySet[M]:
    """``queryset.restrict(user, action)``, for a queryset whose manager is not restricted."""
    restrict = getattr(queryset, "restrict", None)
    if restrict is not None:
        return restrict(user, action)
    return RestrictedQuerySet(queryset.model, query=queryset.query.chain()).restrict(user, action)


def _scope(user: User, model: type[models.Model], action: str) -> models.Q:
    """The condition on ``model``'s rows that ``user`` may ``action``.

    A model with a ``permission_parent`` follows its parent. A parent permission may show only
    some children: ``limited_parent_grant = (codename, condition)`` on the child says that holding
    ``codename`` on the parent shows the children matching ``condition`` (model operations see the
    versions submitted for review). ``view_also_granted_by`` on a model names further codenames
    that let a person view it.
    """
    parent = getattr(model, "permission_parent", None)
    if parent is None:
        codenames = [f"{action}_{model._meta.model_name}"]
        if action == "view":
            codenames += list(getattr(model, "view_also_granted_by", ()))
        return _granted(user, model, codenames)
    parent_model = model._meta.get_field(parent).related_model
    assert isinstance(parent_model, type) and issubclass(parent_model, models.Model)
    limited = getattr(model, "limited_parent_grant", None) if action == "view" else None
    if limited is None:
        allowed = visible_to(user, parent_model._default_manager.all(), action)
        return models.Q(**{f"{parent}__in": allowed.values("pk")})
    codename, condition = limited
    assert getattr(parent_model, "permission_parent", None) is None, "limited grants: roots only"
    full = _granted(user, parent_model, [f"view_{parent_model._meta.model_name}"], parent)
    return full | (_granted(user, parent_model, [codename], parent) & condition)


def holding(user: Person, model: type[models.Model], codenames: list[str]) -> models.Q:
    """A condition on ``model``'s rows: ``user`` holds one of ``codenames`` on the row itself
    (superusers hold everything). For annotations, such as which inventory rows a person sees
    every version of."""
    if not user.is_authenticated or not user.is_active:
        return models.Q(pk__in=[])
    if user.is_superuser:
        return models.Q(pk__isnull=False)
    return _granted(user, model, codenames)


def _granted(
    user: User, model: type[models.Model], codenames: list[str], path: str = "pk"
) -> models.Q:
    """``path`` points to a ``model`` row on which ``user`` (or a group of theirs) holds one of
    ``codenames`` as an object permission."""
    app_label = model._meta.app_label
    granting = models.Q(
        permission__codename__in=codenames, permission__content_type__app_label=app_label
    )
    tables = _direct_tables(model)
    if tables is not None:
        user_table, group_table = tables
        by_user = user_table._default_manager.filter(granting, user=user)
        by_group = group_table._default_manager.filter(granting, group__user=user)
        return models.Q(**{f"{path}__in": by_user.values("content_object_id")}) | models.Q(
            **{f"{path}__in": by_group.values("content_object_id")}
        )
    found: models.QuerySet[Any] = model._default_manager.none()
    for codename in codenames:
        found = found | get_objects_for_user(
            user,
            f"{app_label}.{codename}",
            klass=model._default_manager.all(),
            accept_global_perms=False,
            with_superuser=False,
        )
    return models.Q(**{f"{path}__in": found.values("pk")})


@functools.cache
def _direct_tables(
    model: type[models.Model],
) -> tuple[type[models.Model], type[models.Model]] | None:
    """The model's own user and group permission tables, if it has them (guardian's direct
    foreign-key tables). Scoping and checks then read those two small tables directly, which is
    several times cheaper than guardian's generic queries (bench/registry.py measured it)."""
    from guardian.utils import get_group_obj_perms_model, get_user_obj_perms_model

    tables = (get_user_obj_perms_model(model()), get_group_obj_perms_model(model()))
    for table in tables:
        field = table._meta.get_field("content_object")
        if not (isinstance(field, models.ForeignKey) and field.related_model is model):
            return None
    return tables


def _granting(perm: str) -> models.Q:
    app_label, codename = perm.split(".", 1)
    return models.Q(permission__codename=codename, permission__content_type__app_label=app_label)


def not_found_message(name: object, value: object = "") -> str:
    """Said alike of what does not exist and of what the user may not see: nothing leaks."""
    what = f"{name} “{value}”" if value else str(name)
    return f"No {what} is visible to you."


def get_visible_or_404(
    user: Person, queryset: models.QuerySet[M], action: str = "view", **lookup: object
) -> M:
    try:
        return visible_to(user, queryset, action).get(**lookup)
    except ObjectDoesNotExist:
        value = lookup.get("slug") or lookup.get("number") or ""
        raise Http404(not_found_message(queryset.model._meta.verbose_name, value)) from None


def can(user: Person, action: str, obj: models.Model | None = None) -> bool:
    """May ``user`` do ``action`` (to ``obj``)? Raises nothing, swallows nothing but a refusal.

    ``action`` names a rule registered in ``registry.rules`` (the check its service runs), or a
    Django permission ``app.codename``: a role capability when ``obj`` is None, else held on the
    object. A ``view_*`` permission asks whether the object (or its ancestor of that model in the
    ``permission_parent`` chain) is in ``restrict``: the same answer as every list and page.
    """
    if not user.is_authenticated or not user.is_active:
        return False
    rule = registry.rules.get(action)
    if rule is not None:
        try:
            rule(user, obj)
        except PermissionDenied:
            return False
        return True
    if user.is_superuser:
        return True
    if obj is None:
        return user.has_perm(action)
    app_label, codename = action.split(".", 1)
    if codename.startswith("view_"):
        seen: models.Model | None = obj
        while seen is not None:
            meta = seen._meta
            if meta.app_label == app_label and codename == f"view_{meta.model_name}":
                rows = type(seen)._default_manager.filter(pk=seen.pk)
                return visible_to(user, rows).exists()
            parent = getattr(type(seen), "permission_parent", None)
            seen = getattr(seen, parent) if parent else None
    target = permission_target(obj)
    tables = _direct_tables(type(target))
    if tables is not None:
        user_table, group_table = tables
        return (
            user_table._default_manager.filter(
                _granting(action), user=user, content_object_id=target.pk
            )
            .union(
                group_table._default_manager.filter(
                    _granting(action), group__user=user, content_object_id=target.pk
                )
            )
            .exists()
        )
    # ModelBackend answers False for any object; only guardian's object permissions count here.
    return user.has_perm(action, target)


def require(user: Person, action: str, obj: models.Model | None = None, message: str = "") -> None:
    """Raise PermissionDenied (403, audited by the middleware) unless ``can``. A rule raises its
    own message, which says why."""
    rule = registry.rules.get(action)
    if rule is not None and user.is_authenticated and user.is_active:
        rule(user, obj)
        return
    if not can(user, action, obj):
        raise PermissionDenied(message or f"You do not have the permission {action!r} here.")


def is_administrator(user: Person) -> bool:
    """A superuser: the break-glass account that holds every permission. Everyone else, the
    people of the admin role included, acts through permissions (``can``), never through this:
    it names the role on pages and in the demo seed."""
    return bool(user.is_authenticated and user.is_active and user.is_superuser)


def make_administrator(user: User, administrator: bool = True) -> None:
    """Set (or clear) the superuser and staff flags; the caller saves and audits."""
    user.is_staff = user.is_superuser = administrator


def user_of(request: HttpRequest) -> User:
    """The signed-in user, in a view that requires a login (login_required or IsAuthenticated)."""
    user = request.user
    if not isinstance(user, User):
        raise PermissionDenied("Sign in first.")
    return user
