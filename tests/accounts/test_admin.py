"""The accounts admin: every grant of a role, team or right is in the audit trail."""

from __future__ import annotations

import json

import pytest
from django.contrib.auth.models import Group, Permission, User
from django.test import Client

from apps.accounts import services
from apps.accounts.models import ApiToken, Team
from apps.accounts.roles import Role
from apps.audit.models import AuditEvent
from tests.factories import TeamFactory, UserFactory

pytestmark = pytest.mark.django_db

USERS = "/admin/auth/user/"
GROUPS = "/admin/auth/group/"
PASSWORD = "correct-horse-battery-staple-42"


@pytest.fixture
def admin_client(people) -> Client:
    client = Client()
    client.force_login(people.admin)
    return client


def _user_form(user: User, **changes: object) -> dict[str, object]:
    """What the admin's change form for ``user`` posts, with ``changes`` applied."""
    data: dict[str, object] = {
        "username": user.username,
        "first_name": user.first_name,
        "last_name": user.last_name,
        "email": user.email,
        "groups": list(user.groups.values_list("pk", flat=True)),
        "user_permissions": [],
        "date_joined_0": user.date_joined.strftime("%Y-%m-%d"),
        "date_joined_1": user.date_joined.strftime("%H:%M:%S"),
        "is_active": "on",
    }
    for flag in ("is_active", "is_staff", "is_superuser"):
        value = changes.pop(flag, getattr(user, flag))
        data[flag] = "on" if value else ""
    data.update(changes)
    return {k: v for k, v in data.items() if v != ""}


def _only(action: str) -> AuditEvent:
    return AuditEvent.objects.get(action=action)


def _no_password_hashes() -> None:
    trail = json.dumps(list(AuditEvent.objects.values("before", "after")))
    assert '"password"' not in trail
    assert not any(user.password in trail for user in User.objects.all())


def test_granting_a_role_staff_and_superuser_in_the_admin_is_audited(people, admin_client):
    ivan = people.ivan
    risk_owner = Group.objects.get(name=Role.RISK_OWNER)
    groups = [*ivan.groups.values_list("pk", flat=True), risk_owner.pk]
    response = admin_client.post(
        f"{USERS}{ivan.pk}/change/",
        _user_form(ivan, groups=groups, is_staff=True, is_superuser=True),
    )
    assert response.status_code == 302
    event = _only("user.changed")
    assert (event.actor, event.object_type, event.object_id) == (
        people.admin,
        "auth.user",
        str(ivan.pk),
    )
    assert event.before == {
        "groups": ["model_ops"],
        "is_staff": False,
        "is_superuser": False,
    }
    assert event.after == {
        "groups": ["model_ops", "risk_owner"],
        "is_staff": True,
        "is_superuser": True,
    }
    _no_password_hashes()


def test_deactivating_someone_and_removing_a_team_in_the_admin_is_audited(people, admin_client):
    alice = people.alice
    roles_only = list(alice.groups.filter(team__isnull=True).values_list("pk", flat=True))
    admin_client.post(
        f"{USERS}{alice.pk}/change/", _user_form(alice, groups=roles_only, is_active=False)
    )
    event = _only("user.changed")
    assert event.before == {
        "groups": ["data_scientist", "team:retail-credit"],
        "is_active": True,
    }
    assert event.after == {"groups": ["data_scientist"], "is_active": False}


def test_saving_a_user_without_changing_a_right_records_nothing(people, admin_client):
    response = admin_client.post(f"{USERS}{people.rita.pk}/change/", _user_form(people.rita))
    assert response.status_code == 302
    assert not AuditEvent.objects.filter(action="user.changed").exists()


def test_a_direct_permission_given_in_the_admin_is_audited(people, admin_client):
    perm = Permission.objects.get(codename="view_auditevent")
    admin_client.post(
        f"{USERS}{people.bob.pk}/change/", _user_form(people.bob, user_permissions=[perm.pk])
    )
    event = _only("user.changed")
    assert event.before == {"user_permissions": []}
    assert event.after == {"user_permissions": ["audit.view_auditevent"]}


def test_creating_a_user_in_the_admin_is_audited_without_the_password(people, admin_client):
    response = admin_client.post(
        f"{USERS}add/",
        {
            "username": "dora",
            "password1": PASSWORD,
            "password2": PASSWORD,
            "usable_password": "true",
        },
    )
    assert response.status_code == 302
    dora = User.objects.get(username="dora")
    event = _only("user.created")
    assert (event.actor, event.object_id) == (people.admin, str(dora.pk))
    assert event.before is None
    assert event.after == {
        "username": "dora",
        "email": "",
        "is_active": True,
        "is_staff": False,
        "is_superuser": False,
        "groups": [],
        "user_permissions": [],
    }
    _no_password_hashes()


def test_setting_a_password_in_the_admin_is_audited_without_the_hash(people, admin_client):
    response = admin_client.post(
        f"{USERS}{people.bob.pk}/password/",
        {"password1": PASSWORD, "password2": PASSWORD, "usable_password": "true"},
    )
    assert response.status_code == 302
    event = _only("user.password_set")
    assert (event.actor, event.object_id) == (people.admin, str(people.bob.pk))
    assert event.after == {"usable_password": True}
    _no_password_hashes()


def test_deleting_users_in_the_admin_one_or_selected_is_audited(people, admin_client):
    dora, eve, finn = (UserFactory(username=name, role=Role.COMPLIANCE) for name in "def")
    assert admin_client.post(f"{USERS}{dora.pk}/delete/", {"post": "yes"}).status_code == 302
    admin_client.post(
        USERS, {"action": "delete_selected", "_selected_action": [eve.pk, finn.pk], "post": "yes"}
    )
    assert not User.objects.filter(pk__in=[dora.pk, eve.pk, finn.pk]).exists()
    deleted = AuditEvent.objects.filter(action="user.deleted").order_by("id")
    assert [e.before["username"] for e in deleted] == ["d", "e", "f"]
    assert deleted[0].before["groups"] == ["compliance"]
    assert all(e.actor == people.admin for e in deleted)


def test_a_role_groups_permissions_changed_in_the_admin_are_audited(people, admin_client):
    compliance = Group.objects.get(name=Role.COMPLIANCE)
    before = sorted(
        f"{p.content_type.app_label}.{p.codename}" for p in compliance.permissions.all()
    )
    extra = Permission.objects.get(codename="delete_webhook")
    response = admin_client.post(
        f"{GROUPS}{compliance.pk}/change/",
        {
            "name": compliance.name,
            "permissions": [*compliance.permissions.values_list("pk", flat=True), extra.pk],
        },
    )
    assert response.status_code == 302
    event = _only("group.changed")
    assert event.before == {"permissions": before}
    assert event.after == {"permissions": sorted([*before, "notifications.delete_webhook"])}


def test_creating_and_deleting_a_group_in_the_admin_is_audited(people, admin_client):
    assert admin_client.post(f"{GROUPS}add/", {"name": "auditors"}).status_code == 302
    group = Group.objects.get(name="auditors")
    assert _only("group.created").after == {"name": "auditors", "permissions": []}
    admin_client.post(f"{GROUPS}{group.pk}/delete/", {"post": "yes"})
    assert not Group.objects.filter(name="auditors").exists()
    assert _only("group.deleted").before == {"name": "auditors", "permissions": []}


def test_moving_a_team_to_another_group_in_the_admin_is_audited(people, admin_client):
    other = Group.objects.create(name="team:retail-credit-2")
    response = admin_client.post(
        f"/admin/accounts/team/{people.retail.pk}/change/",
        {"slug": people.retail.slug, "name": people.retail.name, "group": other.pk},
    )
    assert response.status_code == 302
    event = _only("team.changed")
    assert (event.before, event.after) == (
        {"group": "team:retail-credit"},
        {"group": "team:retail-credit-2"},
    )


def test_creating_a_team_in_the_admin_is_audited(people, admin_client):
    group = Group.objects.create(name="team:payments")
    admin_client.post(
        "/admin/accounts/team/add/", {"slug": "payments", "name": "Payments", "group": group.pk}
    )
    team = Team.objects.get(slug="payments")
    assert _only("team.created").object_id == str(team.pk)


def test_an_api_token_cannot_be_deleted_in_the_admin(people, admin_client):
    token, _ = services.create_token(actor=people.alice, name="laptop")
    path = f"/admin/accounts/apitoken/{token.pk}/delete/"
    assert admin_client.post(path, {"post": "yes"}).status_code == 403
    admin_client.post(
        "/admin/accounts/apitoken/",
        {"action": "delete_selected", "_selected_action": [token.pk], "post": "yes"},
    )
    assert ApiToken.objects.filter(pk=token.pk).exists()
    assert "Delete selected" not in admin_client.get("/admin/accounts/apitoken/").content.decode()


def test_admins_revoke_selected_tokens_through_the_audited_service(people, admin_client):
    token, _ = services.create_token(actor=people.alice, name="laptop")
    response = admin_client.post(
        "/admin/accounts/apitoken/", {"action": "revoke", "_selected_action": [token.pk]}
    )
    assert response.status_code == 302
    token.refresh_from_db()
    assert token.state == "revoked"
    assert _only("token.revoked").actor == people.admin


def test_a_team_whose_models_exist_is_not_deleted_and_nothing_is_recorded(
    people, admin_client, alices_model
):
    team = TeamFactory(slug="retail-credit")
    response = admin_client.post(f"/admin/accounts/team/{team.pk}/delete/", {"post": "yes"})
    assert response.status_code == 200  # Django's "cannot delete: protected objects" page
    assert Team.objects.filter(pk=team.pk).exists()
    assert not AuditEvent.objects.filter(action="team.deleted").exists()
