"""The deployments page, the version page's deployment controls and the serving-key page."""

from __future__ import annotations

import re
from datetime import datetime

import pytest
from django.utils import timezone

from apps.deployments import services
from apps.deployments.models import Deployment, ServingKey
from apps.registry import services as registry
from tests.deployments.conftest import deploy_now

pytestmark = pytest.mark.django_db

V1 = "/models/loan-default/versions/1/"


def at(day: str) -> datetime:
    return timezone.make_aware(datetime.fromisoformat(day))


def test_which_version_was_live_in_production_on_a_given_date(client, people, v1, v2):
    for version in (v1, v2):
        for environment in ("staging", "production"):
            deploy_now(services.request_deployment(version.pk, environment, actor=people.ivan))
    # Give the production history dates in the past, as months of service would have.
    first, second = Deployment.objects.filter(environment__slug="production").order_by("id")
    Deployment.objects.filter(pk=first.pk).update(
        live_from=at("2026-03-01 09:00"), live_until=at("2026-06-01 09:00")
    )
    Deployment.objects.filter(pk=second.pk).update(live_from=at("2026-06-01 09:00"))

    client.force_login(people.carl)
    march = client.get("/deployments/", {"on": "2026-03-03", "environment": "production"})
    assert march.status_code == 200
    rows = march.context["live_then"]
    assert [(d.model.slug, d.version.number) for d in rows] == [("loan-default", 1)]
    page = march.content.decode()
    assert "Live at 3 Mar 2026, 12:00" in page
    # Who allowed it, in words: the role a person held and what they decided.
    assert "ivan (model operations, approved); rita (risk owner, approved)" in page
    assert "model_ops" not in page and "risk_owner" not in page
    july = client.get("/deployments/", {"on": "2026-07-01", "environment": "production"})
    assert [d.version.number for d in july.context["live_then"]] == [2]
    before = client.get("/deployments/", {"on": "2026-06-01", "at": "08:59"})
    assert [d.version.number for d in before.context["live_then"]] == [1]
    now = client.get("/deployments/")
    assert sorted((d.environment.slug, d.version.number) for d in now.context["live_then"]) == [
        ("production", 2),
        ("staging", 2),
    ]
    assert len(now.context["page"].object_list) == 4  # every switch, newest first
    bad = client.get("/deployments/", {"on": "3 March"})
    assert "Give the date as YYYY-MM-DD" in bad.content.decode()

    client.force_login(people.bob)  # not his model
    assert client.get("/deployments/").context["live_then"] == []
    assert "No version has gone live yet" in client.get("/deployments/").content.decode()


def _options(page: str, select_id: str) -> list[tuple[str, str]]:
    """(value, label) of each option of the select with ``select_id``, as a reader picks them."""
    select = page.split(f'<select id="{select_id}"', 1)[1].split("</select>", 1)[0]
    return re.findall(r'<option value="([^"]*)"[^>]*>([^<]*)</option>', select)


def test_the_deployments_model_filter_offers_the_models_the_person_may_see_by_name(
    client, people, alices_model, bobs_model
):
    client.force_login(people.alice)  # sees her team's model, not bob's team's
    page = client.get("/deployments/").content.decode()
    assert _options(page, "model") == [("", "All"), ("loan-default", "Loan default")]
    assert 'id="start-model"' not in page  # starting a challenger is for model operations
    chosen = client.get("/deployments/", {"model": "loan-default"}).content.decode()
    assert '<option value="loan-default" selected>Loan default</option>' in chosen

    client.force_login(people.bob)
    page = client.get("/deployments/").content.decode()
    assert _options(page, "model") == [("", "All"), ("card-fraud", "Card fraud")]
    assert "loan-default" not in page and "Loan default" not in page

    client.force_login(people.carl)  # compliance reads every model, in name order
    names = [label for _, label in _options(client.get("/deployments/").content.decode(), "model")]
    assert names == ["All", "Card fraud", "Loan default"]


def test_the_version_page_offers_deploying_to_model_ops_only(client, people, v1):
    client.force_login(people.alice)
    page = client.get(V1).content.decode()
    assert 'id="deployments"' in page and "Deploy to Staging" not in page
    assert client.post(f"{V1}deploy/", {"environment": "staging"}).status_code == 403
    assert not Deployment.objects.exists()

    client.force_login(people.ivan)
    page = client.get(V1).content.decode()
    assert "Deploy to Staging" in page and "Deploy to Production" in page
    response = client.post(f"{V1}deploy/", {"environment": "production"}, follow=True)
    assert "has not been live in Staging" in response.content.decode()
    response = client.post(f"{V1}deploy/", {"environment": "staging"}, follow=True)
    assert "Deployment to staging queued" in response.content.decode()
    assert response.redirect_chain[-1][0] == f"{V1}#deployments"
    deploy_now(Deployment.objects.get())
    page = client.get(V1).content.decode()
    assert "this version" in page and "Undeploy" in page

    client.force_login(people.alice)
    assert client.post("/models/loan-default/environments/staging/undeploy/").status_code == 403
    client.force_login(people.ivan)
    response = client.post("/models/loan-default/environments/staging/undeploy/", follow=True)
    assert "nothing of Loan default serves there now" in response.content.decode()
    response = client.post(f"{V1}retire/", follow=True)
    assert "Version 1 retired" in response.content.decode()


def test_model_history_includes_its_deployments_and_keys(client, people, v1):
    deploy_now(services.request_deployment(v1.pk, "staging", actor=people.ivan))
    services.create_serving_key(v1.model.pk, "staging", actor=people.ivan, name="origination")
    client.force_login(people.carl)
    history = client.get("/models/loan-default/history/").content.decode()
    for action in ("deployment.requested", "deployment.live", "serving_key.created"):
        assert action in history


def test_serving_keys_page_shows_a_new_key_once_and_revokes(client, people, v1):
    url = "/models/loan-default/serving-keys/"
    client.force_login(people.alice)
    assert client.get(url).status_code == 403
    client.force_login(people.ivan)
    empty = client.get(url)
    assert "No keys yet" in empty.content.decode() and empty["Cache-Control"] == "no-store"
    # The way back, as on the model's other pages: Inventory / <model> / Serving keys.
    assert (
        '<a href="/models/">Inventory</a> / <a href="/models/loan-default/">Loan default</a> /'
        in empty.content.decode()
    )
    created = client.post(url, {"name": "loan origination", "environment": "staging"})
    raw = created.context["created"]["raw"]
    assert raw in created.content.decode() and "shown only once" in created.content.decode()
    assert raw not in client.get(url).content.decode()
    unnamed = client.post(url, {"name": " ", "environment": "staging"}).content.decode()
    assert "Name the key after the system" in unnamed
    key = ServingKey.objects.get()
    revoked = client.post(url, {"revoke": key.pk}, follow=True).content.decode()
    assert "revoked: it is refused within a second" in revoked
    key.refresh_from_db()
    assert key.revoked_at is not None
    # A model's page revokes that model's keys only.
    other = registry.register_model(
        actor=people.alice,
        name="Other model",
        use_case="x",
        team=people.retail,
        risk_tier="low",
        risk_owner=people.rita,
    )
    foreign, _ = services.create_serving_key(
        other.pk, "staging", actor=people.admin, name="other system"
    )
    client.force_login(people.admin)
    assert client.post(url, {"revoke": foreign.pk}).status_code == 404
    foreign.refresh_from_db()
    assert foreign.revoked_at is None


def test_admins_define_environments_and_each_change_is_audited(client, people):
    from apps.audit.models import AuditEvent
    from apps.deployments.models import Environment

    client.force_login(people.admin)
    added = client.post(
        "/admin/deployments/environment/add/",
        {
            "slug": "uat",
            "name": "User acceptance",
            "order": 1,
            "requires_live_in": "",
            "is_production": "",
        },
    )
    assert added.status_code == 302, added.content
    production = Environment.objects.get(slug="production")
    uat = Environment.objects.get(slug="uat")
    changed = client.post(
        f"/admin/deployments/environment/{production.pk}/change/",
        {
            "slug": "production",
            "name": "Production",
            "order": production.order,
            "requires_live_in": uat.pk,
            "is_production": "on",
        },
    )
    assert changed.status_code == 302, changed.content
    event = AuditEvent.objects.filter(action="environment.changed").order_by("id").last()
    assert event is not None and event.actor == people.admin
    assert event.before["requires_live_in"] == "Staging"
    assert event.after["requires_live_in"] == "User acceptance"
    assert client.get(f"/admin/deployments/environment/{uat.pk}/delete/").status_code == 403


def test_model_ops_dashboard_lists_versions_to_deploy_and_latest_deployments(client, people, v1):
    client.force_login(people.ivan)
    page = client.get("/").content.decode()
    assert "Approved, live nowhere yet" in page and "Loan default v1" in page
    assert "Nothing has been deployed yet" in page
    deploy_now(services.request_deployment(v1.pk, "staging", actor=people.ivan))
    page = client.get("/").content.decode()
    assert "No approved version waits for deploying" in page and "deploy by ivan" in page
    client.force_login(people.alice)
    assert "Latest deployments" not in client.get("/").content.decode()
