"""The deployment, rollback, undeploy, serving-key and environment endpoints, for every role."""

from __future__ import annotations

import pytest

from apps.audit.models import AuditEvent
from apps.deployments import services
from tests.deployments.conftest import deploy_now

pytestmark = pytest.mark.django_db

STAGING = {"model": "loan-default", "environment": "staging"}


def test_only_model_ops_deploy_and_the_rules_answer_400(people, api, v1):
    request = {**STAGING, "version": 1}
    # Those who may see the model but not deploy get a 403; bob may not see it at all.
    for who, status in [("alice", 403), ("rita", 403), ("carl", 403), ("bob", 404)]:
        response = api(getattr(people, who)).post("/api/v1/deployments/", request, format="json")
        assert response.status_code == status, (who, response.content)
    ivan = api(people.ivan)
    queued = ivan.post("/api/v1/deployments/", request, format="json")
    assert queued.status_code == 202, queued.content
    body = queued.json()
    assert body["status"] == "queued" and body["requested_by"] == "ivan" and body["job"]
    assert [a["role"] for a in body["approvals"]] == ["model_ops", "risk_owner"]
    again = ivan.post("/api/v1/deployments/", request, format="json")
    assert again.status_code == 400 and "already under way" in str(again.json())
    production = ivan.post(
        "/api/v1/deployments/", {**request, "environment": "production"}, format="json"
    )
    assert production.status_code == 400 and "has not been live in Staging" in str(
        production.json()
    )
    nowhere = ivan.post("/api/v1/deployments/", {**request, "environment": "moon"}, format="json")
    assert nowhere.status_code == 400 and "no environment" in str(nowhere.json())
    missing = ivan.post("/api/v1/deployments/", {**request, "version": 9}, format="json")
    assert missing.status_code == 404


def test_listing_rolling_back_and_undeploying(people, api, alices_model, v1, v2):
    deploy_now(services.request_deployment(v1.pk, "staging", actor=people.ivan))
    deploy_now(services.request_deployment(v2.pk, "staging", actor=people.ivan))
    ivan = api(people.ivan)
    listed = ivan.get("/api/v1/deployments/", {"model": "loan-default"}).json()
    assert [(d["version"], d["status"]) for d in listed["results"]] == [
        (2, "live"),
        (1, "superseded"),
    ]
    assert api(people.bob).get("/api/v1/deployments/").json()["results"] == []
    assert api(people.carl).get("/api/v1/deployments/").json()["count"] == 2

    assert (
        api(people.alice).post("/api/v1/deployments/rollback/", STAGING, format="json").status_code
        == 403
    )
    rolled = ivan.post("/api/v1/deployments/rollback/", STAGING, format="json")
    assert rolled.status_code == 200, rolled.content
    assert rolled.json()["version"] == 1 and rolled.json()["kind"] == "rollback"
    undeployed = ivan.post("/api/v1/deployments/undeploy/", STAGING, format="json")
    assert undeployed.status_code == 200 and undeployed.json()["status"] == "undeployed"
    again = ivan.post("/api/v1/deployments/undeploy/", STAGING, format="json")
    assert again.status_code == 400 and "Nothing of Loan default is live" in str(again.json())
    hidden = api(people.bob).post("/api/v1/deployments/rollback/", STAGING, format="json")
    assert hidden.status_code == 404
    nowhere = ivan.post(
        "/api/v1/deployments/rollback/", {**STAGING, "environment": "moon"}, format="json"
    )
    assert nowhere.status_code == 400 and "no environment" in str(nowhere.json())


def test_serving_keys_are_shown_once_listed_without_the_key_and_revoked(people, api, v1):
    ivan = api(people.ivan)
    request = {**STAGING, "name": "loan origination"}
    created = ivan.post("/api/v1/serving-keys/", request, format="json")
    assert created.status_code == 201, created.content
    assert created["Cache-Control"] == "no-store"
    key = created.json()["key"]
    assert key.startswith("mls_") and created.json()["state"] == "active"
    listed = ivan.get("/api/v1/serving-keys/").json()["results"]
    assert [k["name"] for k in listed] == ["loan origination"] and key not in str(listed)
    assert api(people.alice).post("/api/v1/serving-keys/", request, format="json").status_code == (
        403
    )
    assert api(people.bob).post("/api/v1/serving-keys/", request, format="json").status_code == 404
    assert api(people.bob).get("/api/v1/serving-keys/").json()["results"] == []
    key_id = created.json()["id"]
    assert api(people.alice).delete(f"/api/v1/serving-keys/{key_id}/").status_code == 403
    assert ivan.delete(f"/api/v1/serving-keys/{key_id}/").status_code == 204
    assert ivan.get("/api/v1/serving-keys/").json()["results"][0]["state"] == "revoked"
    assert AuditEvent.objects.filter(action="serving_key.revoked").count() == 1


def test_environments_and_their_promotion_rule(people, api):
    environments = api(people.alice).get("/api/v1/environments/").json()
    assert environments == [
        {"slug": "staging", "name": "Staging", "requires_live_in": None, "is_production": False},
        {
            "slug": "production",
            "name": "Production",
            "requires_live_in": "staging",
            "is_production": True,
        },
    ]
