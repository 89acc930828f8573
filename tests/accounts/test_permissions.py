"""The scoping helper and the permission check every view and endpoint goes through.

Guardian-enabled models of the portal arrive with the registry; here the plumbing is pinned on
``auth.Group`` objects, which guardian can grant on like any other model.
"""

from __future__ import annotations

import pytest
from django.contrib.auth.models import Group, Permission
from django.core.exceptions import PermissionDenied
from django.http import Http404
from guardian.shortcuts import assign_perm

from apps.core.permissions import can, get_visible_or_404, require, visible_to

pytestmark = pytest.mark.django_db


@pytest.fixture
def groups(people):
    red, blue, green = (Group.objects.create(name=n) for n in ("red", "blue", "green"))
    assign_perm("auth.view_group", people.alice, red)
    assign_perm("auth.view_group", people.retail.group, blue)  # through her team
    assign_perm("auth.change_group", people.alice, red)
    return red, blue, green


def test_objects_are_visible_through_user_and_team_grants_only(people, groups):
    red, blue, _ = groups
    everything = Group.objects.filter(name__in=["red", "blue", "green"])
    assert set(visible_to(people.alice, everything)) == {red, blue}
    assert set(visible_to(people.alice, everything, "change")) == {red}
    assert list(visible_to(people.bob, everything)) == []


def test_a_role_wide_model_permission_does_not_reveal_every_object(people, groups):
    """The classic leak: guardian's accept_global_perms would show all groups to this user."""
    people.bob.user_permissions.add(Permission.objects.get(codename="view_group"))
    assert list(visible_to(people.bob, Group.objects.filter(name__in=["red", "blue"]))) == []


def test_admins_see_everything_and_inactive_users_nothing(people, groups):
    everything = Group.objects.filter(name__in=["red", "blue", "green"])
    assert visible_to(people.admin, everything).count() == 3
    people.alice.is_active = False
    people.alice.save()
    assert list(visible_to(people.alice, everything)) == []


def test_invisible_objects_are_404_and_missing_rights_403(people, groups):
    red, _, _ = groups
    with pytest.raises(Http404):
        get_visible_or_404(people.alice, Group.objects.all(), name="green")
    found = get_visible_or_404(people.alice, Group.objects.all(), name="blue")
    assert not can(people.alice, "auth.change_group", found)
    with pytest.raises(PermissionDenied):
        require(people.alice, "auth.change_group", found)
    require(people.alice, "auth.change_group", red)


def test_without_an_object_the_check_is_the_role_capability(people):
    assert can(people.ivan, "jobs.add_job") and not can(people.alice, "jobs.add_job")
    assert can(people.carl, "audit.view_auditevent") and not can(
        people.rita, "audit.view_auditevent"
    )
