"""Segregation of duties as an attacker tried it (security issue, items 1-4), through the API.

1. the owning team picks its own approver by changing the risk owner during a review;
2. the team lowers the risk tier to skip the risk owner, then raises it again;
3. a team-mate who holds the IT or risk-owner role signs off, or deploys, the team's work;
4. model operations see a model's drafts and failed versions before anything is submitted.
"""

from __future__ import annotations

import pytest
from django.core.exceptions import PermissionDenied, ValidationError

from apps.audit.models import AuditEvent
from apps.core.permissions import can
from apps.deployments import services as deployments
from apps.jobs.models import Job
from apps.notifications.models import Notification
from apps.registry import services as registry
from apps.registry.models import ModelVersion, RegisteredModel
from apps.reviews import changes, services
from apps.reviews.models import ModelChange, Review
from tests.deployments.conftest import deploy_now
from tests.factories import UserFactory
from tests.reviews.conftest import new_version

# ``models`` is a fixture: versions that must deploy are validated for real, in the sandbox.
from tests.validation.conftest import models, upload, validate_now

__all__ = ["models"]

pytestmark = pytest.mark.django_db

M = "/api/v1/models/loan-default"
V = f"{M}/versions"


@pytest.fixture
def rob(people):
    """A risk owner who sits in alice's team: the friendly approver of the attack."""
    return UserFactory(username="rob", role="risk_owner", team=people.retail)


@pytest.fixture
def rose(people):
    """A risk owner outside every team."""
    return UserFactory(username="rose", role="risk_owner")


def approve(version, *people_in_order):
    for person in people_in_order:
        services.decide(version.pk, actor=person, verdict="approve", reason="checked")


# --- 1. The owning team does not pick its approver ------------------------------------------


def test_the_team_cannot_swap_the_risk_owner_while_its_version_is_in_review(
    people, api, validated, rob
):
    services.request_review(validated.pk, actor=people.alice, summary="Ready")
    alice = api(people.alice)
    patched = alice.patch(f"{M}/", {"risk_owner": "rob"}, format="json")
    assert patched.status_code == 403 and "governed change" in patched.json()["detail"]
    assert RegisteredModel.objects.get(slug="loan-default").risk_owner == people.rita
    assert api(people.rita).get(f"{M}/").status_code == 200
    # rob, a risk owner in alice's team, sees the model as a team member but signs nothing off.
    decided = api(rob).post(
        f"{V}/1/decisions/", {"decision": "approve", "reason": "fine"}, format="json"
    )
    assert decided.status_code == 403 and "outside the team" in decided.json()["detail"]
    assert Review.objects.get(version=validated).decisions.count() == 0


def test_a_proposed_risk_owner_takes_over_only_when_the_risk_owner_approves(
    people, api, alices_model, rose
):
    alice, rita = api(people.alice), api(people.rita)
    proposed = alice.post(
        f"{M}/changes/",
        {"field": "risk_owner", "value": "rose", "reason": "Rita moves to treasury"},
        format="json",
    )
    assert proposed.status_code == 201, proposed.content
    change = proposed.json()
    assert change["status"] == "pending" and change["old_value"] == "rita"
    assert RegisteredModel.objects.get(pk=alices_model.pk).risk_owner == people.rita
    assert Notification.objects.filter(recipient=people.rita, event="model.change_proposed")
    # The proposer, a team-mate, IT and bob cannot decide it.
    for who, status in ((people.alice, 403), (people.ivan, 404), (people.bob, 404)):
        refused = api(who).post(
            f"{M}/changes/{change['id']}/", {"decision": "approve", "reason": "ok"}, format="json"
        )
        assert refused.status_code == status, (who, refused.content)
    decided = rita.post(
        f"{M}/changes/{change['id']}/", {"decision": "approve", "reason": "Agreed"}, format="json"
    )
    assert decided.status_code == 200 and decided.json()["status"] == "approved"
    model = RegisteredModel.objects.get(pk=alices_model.pk)
    assert model.risk_owner == rose
    assert api(rose).get(f"{M}/").status_code == 200
    assert api(people.rita).get(f"{M}/").status_code == 404  # no open review of hers
    event = AuditEvent.objects.get(action="model.governance_changed")
    assert event.actor == people.rita
    assert event.before == {"risk_owner": "rita"}
    assert event.after["risk_owner"] == "rose" and event.after["proposed_by"] == "alice"
    told = set(
        Notification.objects.filter(event="model.change_decided").values_list(
            "recipient__username", flat=True
        )
    )
    assert told == {"alice", "rose"}  # the proposer and the new risk owner; rita decided it


def test_an_open_review_keeps_the_sign_off_holders_it_started_with(people, validated, rose):
    services.request_review(validated.pk, actor=people.alice, summary="Ready")
    changes.propose_change(
        validated.model_id, actor=people.carl, field="risk_owner", value="rose", reason="Handover"
    )
    # rose is the model's risk owner now, but this review waits for rita, who still sees it.
    with pytest.raises(PermissionDenied, match="is for its risk owner, rita"):
        services.decide(validated.pk, actor=rose, verdict="approve", reason="mine now")
    approve(validated, people.ivan, people.rita)
    validated.refresh_from_db()
    assert validated.status == ModelVersion.Status.APPROVED


def test_compliance_or_an_administrator_decide_and_nobody_decides_their_own_proposal(
    people, alices_model, rose
):
    change = changes.propose_change(
        alices_model.pk, actor=people.alice, field="risk_owner", value="rose", reason="Move"
    )
    with pytest.raises(PermissionDenied):
        changes.decide_change(change.pk, actor=people.ivan, approve=True, reason="x")
    with pytest.raises(services.Conflict, match="already waiting"):
        changes.propose_change(
            alices_model.pk, actor=people.alice, field="risk_owner", value="rose", reason="again"
        )
    changes.decide_change(change.pk, actor=people.carl, approve=False, reason="Not this one")
    assert RegisteredModel.objects.get(pk=alices_model.pk).risk_owner == people.rita
    # The risk owner's own change takes effect at once, recorded as decided by her.
    made = changes.propose_change(
        alices_model.pk, actor=people.rita, field="risk_owner", value="rose", reason="Handover"
    )
    assert made.status == "approved" and made.decided_by == people.rita
    later = changes.propose_change(
        alices_model.pk, actor=people.alice, field="team", value="fraud", reason="Reorg"
    )
    with pytest.raises(PermissionDenied, match="Only rose"):
        changes.decide_change(later.pk, actor=people.alice, approve=True, reason="x")
    changes.decide_change(later.pk, actor=people.admin, approve=True, reason="Reorg agreed")
    assert can(people.bob, registry.CHANGE, alices_model)
    assert not can(people.alice, registry.CHANGE, alices_model)


def test_a_risk_owner_from_the_owning_team_is_refused(people, alices_model, rob):
    with pytest.raises(ValidationError, match="from outside the team"):
        changes.propose_change(
            alices_model.pk, actor=people.rita, field="risk_owner", value="rob", reason="x"
        )
    assert RegisteredModel.objects.get(pk=alices_model.pk).risk_owner == people.rita
    assert not ModelChange.objects.filter(status="approved").exists()


# --- 2. The risk tier ------------------------------------------------------------------------


def test_the_team_cannot_lower_the_tier_to_skip_the_risk_owner(people, api, validated):
    alice = api(people.alice)
    assert alice.patch(f"{M}/", {"risk_tier": "low"}, format="json").status_code == 403
    proposed = alice.post(
        f"{M}/changes/", {"field": "risk_tier", "value": "low", "reason": "x"}, format="json"
    )
    assert proposed.status_code == 201 and proposed.json()["status"] == "pending"
    services.request_review(validated.pk, actor=people.alice, summary="Ready")
    approve(validated, people.ivan)
    validated.refresh_from_db()
    assert validated.status == ModelVersion.Status.IN_REVIEW  # still waits for rita


def validated_for_real(model, user, models) -> ModelVersion:
    version = upload(model, user, models.logistic, holdout=models.holdout)
    validate_now(version)
    assert version.status == ModelVersion.Status.VALIDATED
    return version


def test_a_version_approved_under_a_lower_tier_needs_the_new_tiers_sign_offs(
    people, bobs_model, models
):
    changes.propose_change(
        bobs_model.pk, actor=people.rita, field="risk_tier", value="low", reason="Small book"
    )
    version = validated_for_real(bobs_model, people.bob, models)
    services.request_review(version.pk, actor=people.bob, summary="Ready")
    approve(version, people.ivan)
    version.refresh_from_db()
    assert version.status == ModelVersion.Status.APPROVED  # low risk: IT alone
    proposed = changes.propose_change(
        bobs_model.pk, actor=people.bob, field="risk_tier", value="high", reason="Bigger book"
    )
    changes.decide_change(proposed.pk, actor=people.carl, approve=True, reason="Agreed")
    version.refresh_from_db()
    assert version.status == ModelVersion.Status.IN_REVIEW
    assert AuditEvent.objects.filter(action="review.reopened", object_id=str(version.pk))
    with pytest.raises(ValidationError, match="Only approved versions deploy"):
        deployments.request_deployment(version.pk, "staging", actor=people.ivan)
    assert services.waiting_for(people.rita).filter(version=version).exists()
    approve(version, people.rita)
    version.refresh_from_db()
    assert version.status == ModelVersion.Status.APPROVED
    deployment = deployments.request_deployment(version.pk, "staging", actor=people.ivan)
    assert deployment.status == "queued"


# --- 3. Independence -------------------------------------------------------------------------


def test_a_team_mate_with_the_it_role_gives_no_sign_off(people, api, validated):
    insider = UserFactory(username="ian", role="model_ops", team=people.retail)
    services.request_review(validated.pk, actor=people.alice, summary="Ready")
    refused = api(insider).post(
        f"{V}/1/decisions/", {"decision": "approve", "reason": "fine"}, format="json"
    )
    assert refused.status_code == 403 and "outside the team" in refused.json()["detail"]
    assert not services.can_decide(insider, validated)
    assert not services.waiting_for(insider).exists()
    assert insider not in services.reviewers_for(Review.objects.get(version=validated))


def test_the_team_does_not_deploy_its_own_versions(people, alices_model, models):
    validated = validated_for_real(alices_model, people.alice, models)
    insider = UserFactory(username="ian", role="model_ops", team=people.retail)
    services.request_review(validated.pk, actor=people.alice, summary="Ready")
    approve(validated, people.ivan, people.rita)
    with pytest.raises(PermissionDenied, match="deployed from outside the team"):
        deployments.request_deployment(validated.pk, "staging", actor=insider)
    # Nor does the author, whatever roles they hold and whatever the policy says.
    people.alice.groups.add(people.ivan.groups.get(name="model_ops"))
    alice = type(people.alice).objects.get(pk=people.alice.pk)
    with pytest.raises(PermissionDenied, match="someone else deploys it"):
        deployments.request_deployment(validated.pk, "staging", actor=alice)
    deploy_now(deployments.request_deployment(validated.pk, "staging", actor=people.ivan))


def test_independence_is_a_setting_of_the_review_policy(people, bobs_model, files):
    insider = UserFactory(username="fred", role="model_ops", team=people.fraud)
    changes.propose_change(
        bobs_model.pk, actor=people.rita, field="risk_tier", value="low", reason="Small book"
    )
    version = new_version(bobs_model, people.bob, files)
    services.request_review(version.pk, actor=people.bob, summary="Ready")
    assert not Review.objects.get(version=version).policy.independent  # off for low risk
    approve(version, insider)
    version.refresh_from_db()
    assert version.status == ModelVersion.Status.APPROVED
    services.update_policy(
        actor=people.admin,
        risk_tier="low",
        required={"model_ops": 1},
        allow_exceptions=True,
        independent=True,
        note="Independent everywhere",
    )
    second = new_version(bobs_model, people.bob, files)
    services.request_review(second.pk, actor=people.bob, summary="Ready")
    with pytest.raises(PermissionDenied, match="outside the team"):
        approve(second, insider)


# --- 4. What model operations see ------------------------------------------------------------


def test_model_operations_see_submitted_versions_only(people, api, alices_model, files):
    draft = new_version(alices_model, people.alice, files, status=ModelVersion.Status.DRAFT)
    failed = new_version(
        alices_model, people.alice, files, status=ModelVersion.Status.VALIDATION_FAILED
    )
    services.add_comment(failed.pk, actor=people.alice, body="Oops, leakage in the features")
    submitted = new_version(alices_model, people.alice, files)
    services.request_review(submitted.pk, actor=people.alice, summary="Ready")
    later = new_version(alices_model, people.alice, files, status=ModelVersion.Status.DRAFT)
    ivan = api(people.ivan)

    model = ivan.get(f"{M}/").json()
    assert model["latest_version"] == {"number": 3, "status": "in_review"}
    listed = ivan.get("/api/v1/models/").json()["results"]
    assert [m["latest_version"] for m in listed] == [{"number": 3, "status": "in_review"}]
    assert [v["number"] for v in ivan.get(f"{V}/").json()["results"]] == [3]
    for version in (draft, failed, later):
        for path in ("", "files/artifact/", "validation/", "comments/", "review/"):
            answer = ivan.get(f"{V}/{version.number}/{path}")
            assert answer.status_code == 404, (version.number, path, answer.status_code)
        rerun = ivan.post(f"{V}/{version.number}/validation/")
        assert rerun.status_code == 404
    assert ivan.get(f"{V}/3/files/artifact/").status_code == 200
    targets = {j["target"] for j in ivan.get("/api/v1/jobs/").json()["results"]}
    hidden = {f"registry.modelversion:{v.pk}" for v in (draft, failed, later)}
    assert f"registry.modelversion:{submitted.pk}" in targets and not targets & hidden
    # The team still sees everything, the page's filters included.
    alice = api(people.alice)
    assert [v["number"] for v in alice.get(f"{V}/").json()["results"]] == [4, 3, 2, 1]
    assert alice.get(f"{M}/").json()["latest_version"] == {"number": 4, "status": "draft"}
    by_status = ivan.get("/api/v1/models/", {"status": "draft"}).json()["results"]
    assert by_status == []


def test_model_operations_pages_show_submitted_versions_only(people, alices_model, files):
    from django.test import Client

    new_version(alices_model, people.alice, files, status=ModelVersion.Status.VALIDATION_FAILED)
    submitted = new_version(alices_model, people.alice, files)
    services.request_review(submitted.pk, actor=people.alice, summary="Ready")
    ivan = Client()
    ivan.force_login(people.ivan)
    page = ivan.get("/models/loan-default/").content.decode()
    assert "Version 2" in page and "Version 1" not in page
    assert ivan.get("/models/loan-default/versions/1/").status_code == 404
    history = ivan.get("/models/loan-default/history/").content.decode()
    assert "version.uploaded" in history  # of version 2
    assert "Loan default v1" not in history
    inventory = ivan.get("/models/").content.decode()
    assert "badge-in_review" in inventory and "badge-validation_failed" not in inventory
    assert not Job.objects.visible_to(people.ivan).filter(target_id=str(submitted.pk - 1))
