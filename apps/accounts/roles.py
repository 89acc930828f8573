"""The four roles of the portal, as Django groups, and what each may do.

Roles give capabilities (may register models, may approve, may read the audit trail); which
objects a person may act on is decided per object by django-guardian (see permissions.py).
Superusers hold every permission; the admin role holds the administrators' ones.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from django.contrib.auth.models import AnonymousUser, User
from django.db import models
from django.utils.text import capfirst

from apps.core.permissions import is_administrator
from apps.core.templatetags.words import ROLE_TITLES


def _title(code: str) -> str:
    # The words live in one place (apps/core/templatetags/words.py); a label starts a phrase.
    return capfirst(ROLE_TITLES[code])


class Role(models.TextChoices):
    DATA_SCIENTIST = "data_scientist", _title("data_scientist")
    MODEL_OPS = "model_ops", _title("model_ops")
    RISK_OWNER = "risk_owner", _title("risk_owner")
    COMPLIANCE = "compliance", _title("compliance")
    # Policies, webhooks, other teams' models and tokens: the administrators' permissions, each
    # granted to this group by the migration of the app that owns it. Superusers hold them all.
    ADMIN = "admin", _title("admin")


ADMIN = Role.ADMIN.value
ROLE_LABELS = dict(Role.choices)


def roles_of(user: User | AnonymousUser) -> list[str]:
    """The user's roles, in a stable order; cached on the user object for the request."""
    if not user.is_authenticated:
        return []
    cached: list[str] | None = getattr(user, "_portal_roles", None)
    if cached is None:
        names = set(user.groups.values_list("name", flat=True))
        cached = [role.value for role in Role if role.value in names]
        if is_administrator(user) and ADMIN not in cached:
            cached.append(ADMIN)
        setattr(user, "_portal_roles", cached)  # noqa: B010 - a per-request cache
    return cached


def has_role(user: User | AnonymousUser, role: str) -> bool:
    return role in roles_of(user)


def grant_role_permissions(apps: Any, role_permissions: Mapping[str, Sequence[str]]) -> None:
    """For data migrations: give each role group the listed ``app_label.codename`` permissions.

    Permissions are normally created after all migrations run; this creates the ones it needs
    first, so an app's migration can grant the permissions of the models it just created.
    """
    from django.contrib.auth.management import create_permissions

    for app_config in apps.get_app_configs():
        app_config.models_module = True
        create_permissions(app_config, verbosity=0, apps=apps)
        app_config.models_module = None
    group_model = apps.get_model("auth", "Group")
    permission_model = apps.get_model("auth", "Permission")
    for role, perms in role_permissions.items():
        group, _ = group_model.objects.get_or_create(name=role)
        for perm in perms:
            app_label, codename = perm.split(".", 1)
            group.permissions.add(
                permission_model.objects.get(content_type__app_label=app_label, codename=codename)
            )
