"""The trail's filters are pick lists (issue 16, "Audit by model"): people who appear in the
trail, actions by their words grouped by area; the links that already use ``actor``, ``action``,
``since`` and ``until`` keep working."""

from __future__ import annotations

import pytest
from django.test import Client
from django.urls import reverse

from apps.audit import services
from apps.audit.forms import SYSTEM, AuditFilterForm
from apps.audit.models import AuditEvent

pytestmark = pytest.mark.django_db


@pytest.fixture
def trail(people):
    services.record(people.alice, "model.updated", object_type="m", object_id="1")
    services.record(people.bob, "auth.login", people.bob)
    services.record(people.bob, "auth.logout", people.bob)
    services.record(None, "job.failed", object_type="jobs.job", object_id="7")
    client = Client()
    client.force_login(people.carl)
    return client


def _shown(client: Client, **query: str) -> list[str]:
    response = client.get(reverse("audit:list"), query)
    return [f"{e.actor_username or SYSTEM}:{e.action}" for e in response.context["page"]]


def test_the_person_list_offers_who_appears_in_the_trail_and_system(trail):
    form = trail.get(reverse("audit:list")).context["form"]
    offered = [value for value, _ in form.fields["actor"].choices]
    # carl is there because signing in is an event too.
    assert offered == ["", SYSTEM, "alice", "bob", "carl"]


def test_picking_system_shows_the_events_without_a_person(trail):
    assert _shown(trail, actor=SYSTEM) == [f"{SYSTEM}:job.failed"]


def test_old_links_by_username_still_filter_even_for_someone_without_events(trail):
    assert _shown(trail, actor="alice") == ["alice:model.updated"]
    response = trail.get(reverse("audit:list"), {"actor": "zoe"})
    assert response.context["form"].errors == {}
    assert list(response.context["page"]) == []
    assert '<option value="zoe" selected>zoe</option>' in response.content.decode()


def test_actions_are_grouped_by_area_with_a_choice_for_all_of_an_area(trail):
    page = trail.get(reverse("audit:list")).content.decode()
    sign_in = page.split('<optgroup label="Signing in">', 1)[1].split("</optgroup>", 1)[0]
    assert '<option value="auth.">All sign-in events</option>' in sign_in
    assert '<option value="auth.login">Signed in</option>' in sign_in
    assert '<optgroup label="Findings">' in page


def test_the_prefix_choice_of_the_sign_in_panel_link_picks_all_sign_in_events(trail):
    shown = _shown(trail, action="auth.")
    assert {"bob:auth.logout", "bob:auth.login", "carl:auth.login"} == set(shown)
    assert _shown(trail, action="auth.login", actor="bob") == ["bob:auth.login"]


def test_an_action_code_no_longer_offered_still_filters(trail):
    assert _shown(trail, action="model.updated") == ["alice:model.updated"]
    assert _shown(trail, action="legacy.thing") == []


def test_from_after_to_is_an_error_said_on_the_page(trail):
    response = trail.get(reverse("audit:list"), {"since": "2026-02-02", "until": "2026-01-01"})
    assert "“From” must be on or before “To”." in response.content.decode()
    assert list(response.context["page"]) == []


def test_the_person_list_reads_each_username_once():
    form = AuditFilterForm(None, events=AuditEvent.objects.all())
    values = [value for value, _ in form.fields["actor"].choices]
    assert len(values) == len(set(values))
