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
from apps.accounts.models import ApiToken, ExternalIdentity, GroupMapping, Team
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


@admin.register(GroupMapping)
class GroupMappingAdmin(AuditedAdmin):
    """Which identity provider group gives which role or team. A change here changes people's
    rights at their next sign-in through the provider, so every save and delete is audited with
    the mapping before and after (GROUP_MAPPING_SAVED / GROUP_MAPPING_DELETED)."""

    audit_name = "sso"  # unused: this admin names its own audit actions below
    list_display = ["provider_group", "role", "team", "note", "updated_at"]
    list_filter = ["role", "team"]
    search_fields = ["provider_group", "note"]

    def audit_snapshot(self, obj: GroupMapping) -> dict[str, Any]:
        return {
            "provider_group": obj.provider_group,
            "role": obj.role or None,
            "team": obj.team.slug if obj.team_id and obj.team else None,
            "note": obj.note,
        }

    def save_related(self, request: HttpRequest, form: Any, formsets: Any, change: bool) -> None:
        admin.ModelAdmin.save_related(self, request, form, formsets, change)
        before: dict[str, Any] | None = getattr(form, "_audit_before", None)
        after = self.audit_snapshot(form.instance)
        if before is not None:
            before, after = audit.changed(before, after)
            if not after:
                return
        audit.record(
            user_of(request),
            AuditAction.GROUP_MAPPING_SAVED,
            form.instance,
            before=before,
            after=after,
        )

    def delete_model(self, request: HttpRequest, obj: GroupMapping) -> None:
        with transaction.atomic(using=router.db_for_write(self.model)):
            audit.record(
                user_of(request),
                AuditAction.GROUP_MAPPING_DELETED,
                obj,
                before=self._stored_snapshot(obj),
            )
            admin.ModelAdmin.delete_model(self, request, obj)


@admin.register(ExternalIdentity)
class ExternalIdentityAdmin(ReadOnlyAdmin):
    """Which portal account a person at the identity provider signs in as. Made at their first
    sign-in; read-only here (deleting the account removes its links)."""

    list_display = ["user", "provider", "subject", "created_at", "last_sign_in_at"]
    list_filter = ["provider"]
    search_fields = ["user__username", "subject"]
