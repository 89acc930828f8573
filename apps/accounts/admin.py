"""People, roles and teams in the admin. Roles and teams are Django groups, so every grant made
here (a group, a direct permission, staff, superuser, active) is audited with its before and
after; password hashes never are."""

from __future__ import annotations

from typing import Any

from django.contrib import admin, messages
from django.contrib.admin.utils import unquote
from django.contrib.auth.admin import GroupAdmin, UserAdmin
from django.contrib.auth.models import Group, User
from django.db import router, transaction
from django.db.models import QuerySet
from django.http import HttpRequest, HttpResponse

from apps.accounts import services
from apps.accounts.models import ApiToken, Team
from apps.audit import services as audit
from apps.audit.admin import AuditedAdmin, ReadOnlyAdmin
from apps.core.audit_actions import AuditAction
from apps.core.permissions import can, is_administrator, user_of


def _permission_names(permissions: QuerySet[Any]) -> list[str]:
    return sorted(
        f"{app_label}.{codename}"
        for app_label, codename in permissions.values_list("content_type__app_label", "codename")
    )


admin.site.unregister(User)
admin.site.unregister(Group)


@admin.register(User)
class PortalUserAdmin(AuditedAdmin, UserAdmin):
    """Django's user admin, audited: who was given which role, team or right, and by whom."""

    audit_name = "user"

    def audit_snapshot(self, obj: User) -> dict[str, Any]:
        return {
            "username": obj.get_username(),
            "email": obj.email,
            "is_active": obj.is_active,
            "is_staff": obj.is_staff,
            "is_superuser": is_administrator(obj),
            "groups": sorted(obj.groups.values_list("name", flat=True)),
            "user_permissions": _permission_names(obj.user_permissions.all()),
        }

    def user_change_password(
        self, request: HttpRequest, id: str, form_url: str = ""
    ) -> HttpResponse:
        """Record that an administrator set or removed someone's password (never the hash)."""
        with transaction.atomic(using=router.db_for_write(self.model)):
            user = self.get_object(request, unquote(id))
            before = user.password if user is not None else None
            response = super().user_change_password(request, id, form_url)
            if user is not None:
                user.refresh_from_db(fields=["password"])
                if user.password != before:
                    audit.record(
                        user_of(request),
                        AuditAction.USER_PASSWORD_SET,
                        user,
                        after={"usable_password": user.has_usable_password()},
                    )
        return response


@admin.register(Group)
class PortalGroupAdmin(AuditedAdmin, GroupAdmin):
    """Roles and team groups; what a group may do is audited like who belongs to it."""

    audit_name = "group"

    def audit_snapshot(self, obj: Group) -> dict[str, Any]:
        return {"name": obj.name, "permissions": _permission_names(obj.permissions.all())}


@admin.register(Team)
class TeamAdmin(AuditedAdmin):
    """A team's group is what its models' permissions are granted to: changing it is audited."""

    audit_name = "team"
    list_display = ["name", "slug", "group"]
    prepopulated_fields = {"slug": ["name"]}

    def audit_snapshot(self, obj: Team) -> dict[str, Any]:
        return {"slug": obj.slug, "name": obj.name, "group": obj.group.name}


@admin.register(ApiToken)
class ApiTokenAdmin(ReadOnlyAdmin):
    """Tokens are created by their owners and revoked through the service (audited); a token is
    never deleted, so the trail's events about it keep pointing at a row."""

    list_display = ["name", "user", "hint", "created_at", "expires_at", "revoked_at"]
    list_filter = ["revoked_at"]
    search_fields = ["name", "user__username", "hint"]
    actions = ["revoke"]

    def has_revoke_permission(self, request: HttpRequest) -> bool:
        return can(request.user, "accounts.delete_apitoken")

    @admin.action(description="Revoke selected tokens", permissions=["revoke"])
    def revoke(self, request: HttpRequest, queryset: QuerySet[ApiToken]) -> None:
        with transaction.atomic():
            for token in queryset:
                services.revoke_token(token.pk, actor=user_of(request))
        messages.success(request, f"{len(queryset)} token(s) revoked.")
