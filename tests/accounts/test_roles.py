"""Roles are groups made by a migration; each role's dashboard shows that role's work."""

from __future__ import annotations

import pytest
from django.contrib.auth.models import Group
from django.test import Client
from django.urls import reverse

from apps.accounts.roles import Role, roles_of
from apps.audit import services as audit
from apps.jobs import services as jobs

pytestmark = pytest.mark.django_db


def test_the_roles_migration_creates_every_role_with_its_capabilities():
    perms = {
        g.name: {f"{p.content_type.app_label}.{p.codename}" for p in g.permissions.all()}
        for g in Group.objects.filter(name__in=Role.values)
    }
    assert set(perms) == set(Role.values)
    assert {"jobs.view_job", "jobs.add_job"} <= perms["model_ops"]
    assert "audit.view_auditevent" in perms["compliance"]
    assert "audit.view_auditevent" not in perms["data_scientist"] | perms["model_ops"]


def test_roles_of_lists_roles_and_admin(people):
    assert roles_of(people.alice) == ["data_scientist"]
    assert roles_of(people.admin) == ["admin"]


def _dashboard(user) -> str:
    client = Client()
    client.force_login(user)
    response = client.get(reverse("dashboard"))
    assert response.status_code == 200
    return response.content.decode()


def test_each_role_sees_its_own_dashboard(people):
    jobs.start_diagnostic(actor=people.ivan, steps=1)
    audit.record(people.alice, "model.updated", people.alice)

    alice = _dashboard(people.alice)
    assert "Data scientist" in alice and "Your recent activity" in alice
    assert "model.updated" in alice
    assert "Background work" not in alice and "Audit trail integrity" not in alice

    ivan = _dashboard(people.ivan)
    assert "Background work" in ivan and "No worker is alive" in ivan
    assert "diagnostic" in ivan  # his own job
    assert "Audit trail integrity" not in ivan

    carl = _dashboard(people.carl)
    assert "Audit trail integrity" in carl and "Security events" in carl
    assert "has not been verified yet" in carl

    rita = _dashboard(people.rita)
    assert "Risk owner" in rita and "Audit" not in rita.split("<main")[0].split("API tokens")[0]

    admin = _dashboard(people.admin)
    assert "Administrator" in admin and "Background work" in admin and "Audit trail" in admin


def test_navigation_follows_the_role(people):
    assert 'href="/audit/"' in _dashboard(people.carl)
    assert 'href="/audit/"' not in _dashboard(people.alice)
    assert 'href="/admin/"' in _dashboard(people.admin)
    assert 'href="/admin/"' not in _dashboard(people.ivan)


def test_every_role_is_named_in_words_as_people_say_them(people):
    from apps.core.templatetags.words import ROLE_GROUPS, ROLE_TITLES

    # One place holds the words: a role added without them would show its code.
    assert set(ROLE_GROUPS) == set(ROLE_TITLES) == set(Role.values)
    ivan = _dashboard(people.ivan)
    assert "Your workspace as Model operations." in ivan
    assert "model_ops" not in ivan and "(IT)" not in ivan
