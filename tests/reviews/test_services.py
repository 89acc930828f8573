"""The review state machine, segregation of duties, and every forbidden path."""

from __future__ import annotations

import pytest
from django.core.exceptions import PermissionDenied, ValidationError

from apps.audit.models import AuditEvent
from apps.core.markdown import render_markdown
from apps.core.permissions import can
from apps.notifications.models import Notification
from apps.registry import services as registry
from apps.registry.models import ModelVersion
from apps.reviews import changes, services
from apps.reviews.models import Decision, Review
from tests.factories import UserFactory
from tests.reviews.conftest import new_version

pytestmark = pytest.mark.django_db


def request(version, actor, **extra):
    return services.request_review(version.pk, actor=actor, summary="Ready: AUC 0.81", **extra)


def inbox(user) -> list[str]:
    return list(
        Notification.objects.filter(recipient=user).order_by("id").values_list("event", flat=True)
    )


def test_requesting_review_opens_it_and_asks_it_and_the_risk_owner(people, validated):
    assert not can(people.ivan, registry.VIEW, validated.model)
    review = request(validated, people.alice)
    validated.refresh_from_db()
    assert validated.status == ModelVersion.Status.IN_REVIEW and review.status == "open"
    assert review.policy.required == {"model_ops": 1, "risk_owner": 1}
    # From now on model operations may see the model (IT runs production bank-wide).
    assert can(people.ivan, registry.VIEW, validated.model)
    assert inbox(people.ivan) == ["review.requested"] and inbox(people.rita) == ["review.requested"]
    assert inbox(people.carl) == [] and inbox(people.alice) == []
    event = AuditEvent.objects.get(action="review.requested")
    assert event.before == {"status": "validated"} and event.after["status"] == "in_review"


def test_two_sign_offs_approve_a_high_risk_version(people, validated):
    request(validated, people.alice)
    services.decide(validated.pk, actor=people.ivan, verdict="approve", reason="Infra fit")
    validated.refresh_from_db()
    assert validated.status == ModelVersion.Status.IN_REVIEW  # the risk owner has not signed
    services.decide(validated.pk, actor=people.rita, verdict="approve", reason="Risk accepted")
    validated.refresh_from_db()
    review = Review.objects.get(version=validated)
    assert validated.status == ModelVersion.Status.APPROVED
    assert review.status == "approved" and review.closed_at is not None
    assert [(d.role, d.reviewer.username) for d in review.decisions.all()] == [
        ("model_ops", "ivan"),
        ("risk_owner", "rita"),
    ]
    assert inbox(people.alice) == ["review.decided", "review.decided"]
    assert AuditEvent.objects.filter(action="review.approve").count() == 2


def test_a_rejection_ends_the_review(people, validated):
    request(validated, people.alice)
    services.decide(validated.pk, actor=people.rita, verdict="reject", reason="Too risky")
    validated.refresh_from_db()
    assert validated.status == ModelVersion.Status.REJECTED
    with pytest.raises(services.Conflict, match="already closed"):
        services.decide(validated.pk, actor=people.ivan, verdict="approve", reason="ok")


def test_a_change_request_sends_the_version_back(people, validated):
    request(validated, people.alice)
    services.decide(
        validated.pk, actor=people.ivan, verdict="request_changes", reason="Add a reference sample"
    )
    validated.refresh_from_db()
    assert validated.status == ModelVersion.Status.CHANGES_REQUESTED
    assert inbox(people.alice) == ["review.changes_requested"]
    with pytest.raises(services.Conflict, match="already been submitted"):
        request(validated, people.alice)


def test_nobody_decides_on_a_version_they_uploaded_or_submitted(people, alices_model, files):
    # A data scientist who is also in model operations and in the owning team.
    both = UserFactory(username="dual", role="model_ops", team=people.retail)
    both.groups.add(people.alice.groups.get(name="data_scientist"))
    version = new_version(alices_model, both, files)
    request(version, people.alice)
    with pytest.raises(PermissionDenied, match="You uploaded or submitted"):
        services.decide(version.pk, actor=both, verdict="approve", reason="looks fine")
    other = new_version(alices_model, people.alice, files)
    request(other, both)
    with pytest.raises(PermissionDenied, match="You uploaded or submitted"):
        services.decide(other.pk, actor=both, verdict="approve", reason="looks fine")


def test_one_person_never_gives_two_sign_offs(people, alices_model, files, second_it):
    # Two IT sign-offs required; ivan cannot give both.
    services.update_policy(
        actor=people.admin,
        risk_tier="high",
        required={"model_ops": 2, "risk_owner": 1},
        allow_exceptions=False,
        note="Two IT reviewers for high risk",
    )
    version = new_version(alices_model, people.alice, files)
    request(version, people.alice)
    services.decide(version.pk, actor=people.ivan, verdict="approve", reason="ok")
    with pytest.raises(services.Conflict, match="one person gives one sign-off"):
        services.decide(version.pk, actor=people.ivan, verdict="approve", reason="again")
    services.decide(version.pk, actor=second_it, verdict="approve", reason="ok too")
    services.decide(version.pk, actor=people.rita, verdict="approve", reason="risk ok")
    assert Review.objects.get(version=version).status == "approved"
    # A person holding both roles (here the model's risk owner too) still signs once.
    both = UserFactory(username="both", role="model_ops")
    both.groups.add(people.rita.groups.get(name="risk_owner"))
    changes.propose_change(
        alices_model.pk, actor=people.rita, field="risk_owner", value="both", reason="Handover"
    )
    services.update_policy(
        actor=people.admin,
        risk_tier="high",
        required={"model_ops": 1, "risk_owner": 1},
        allow_exceptions=False,
        note="Back to one",
    )
    second = new_version(alices_model, people.alice, files)
    request(second, people.alice)
    services.decide(second.pk, actor=both, verdict="approve", reason="risk ok")
    with pytest.raises(services.Conflict, match="one person gives one sign-off"):
        services.decide(second.pk, actor=both, verdict="approve", reason="and IT")
    assert Decision.objects.filter(reviewer=both).count() == 1


def test_a_filled_sign_off_is_not_taken_twice(people, validated, second_it):
    request(validated, people.alice)
    services.decide(validated.pk, actor=people.ivan, verdict="approve", reason="ok")
    with pytest.raises(services.Conflict, match="model ops sign-off of this version has already"):
        services.decide(validated.pk, actor=second_it, verdict="reject", reason="late")


def test_deciding_needs_the_role_the_object_permission_and_a_review(people, validated):
    with pytest.raises(services.Conflict, match="not in review"):  # rita can already see it
        services.decide(validated.pk, actor=people.rita, verdict="approve", reason="early")
    with pytest.raises(PermissionDenied):  # IT sees the model from the review request on
        services.decide(validated.pk, actor=people.ivan, verdict="approve", reason="early")
    request(validated, people.alice)
    for outsider in (people.alice, people.bob, people.carl):  # no decide capability
        with pytest.raises(PermissionDenied):
            services.decide(validated.pk, actor=outsider, verdict="approve", reason="x")
    other_risk_owner = UserFactory(username="rob", role="risk_owner")  # cannot see the model
    with pytest.raises(PermissionDenied):
        services.decide(validated.pk, actor=other_risk_owner, verdict="approve", reason="x")
    # Shared with him by the model's team, he still cannot give the model's risk sign-off.
    registry.share_model(
        validated.model_id, actor=people.alice, grantee=other_risk_owner, level="view"
    )
    with pytest.raises(PermissionDenied, match="is for its risk owner, rita"):
        services.decide(validated.pk, actor=other_risk_owner, verdict="approve", reason="x")
    assert not services.can_decide(other_risk_owner, validated)
    assert not services.waiting_for(other_risk_owner).exists()
    with pytest.raises(ValidationError, match="Give a reason"):
        services.decide(validated.pk, actor=people.ivan, verdict="approve", reason="  ")
    with pytest.raises(ValidationError, match="Decide"):
        services.decide(validated.pk, actor=people.ivan, verdict="maybe", reason="hmm")
    assert not Decision.objects.exists()


def test_who_may_request_review_and_from_which_state(people, alices_model, files):
    validating = new_version(
        alices_model, people.alice, files, status=ModelVersion.Status.VALIDATING
    )
    with pytest.raises(ValidationError, match="only validated versions go to review"):
        request(validating, people.alice)
    version = new_version(alices_model, people.alice, files)
    for outsider in (people.ivan, people.rita, people.carl, people.bob):
        with pytest.raises(PermissionDenied):
            request(version, outsider)
    with pytest.raises(ValidationError, match="summary"):
        services.request_review(version.pk, actor=people.alice, summary=" ")


def test_a_failed_version_goes_to_review_only_as_a_justified_exception(
    people, alices_model, bobs_model, files
):
    failed = new_version(
        alices_model, people.alice, files, status=ModelVersion.Status.VALIDATION_FAILED
    )
    with pytest.raises(ValidationError, match=r"failed validation\. .* does not allow"):
        request(failed, people.alice, justification="Regulator deadline")  # high risk: never
    medium = new_version(
        bobs_model, people.bob, files, status=ModelVersion.Status.VALIDATION_FAILED
    )
    with pytest.raises(ValidationError, match="written justification"):
        request(medium, people.bob)
    review = request(
        medium,
        people.bob,
        justification="PSI is high because of a known seasonal shift; accepted for Q4.",
    )
    assert review.is_exception
    assert inbox(people.ivan)[-1] == "review.requested"
    assert (
        Notification.objects.filter(recipient=people.ivan)
        .order_by("id")
        .last()
        .title.endswith("(policy exception)")
    )
    assert AuditEvent.objects.filter(action="review.exception_requested").exists()


def test_comments_render_markdown_safely_and_notify_mentions(people, validated):
    request(validated, people.alice)
    comment = services.add_comment(
        validated.pk,
        actor=people.ivan,
        body="**Latency** is fine. @rita please check <script>alert(1)</script> "
        "[this](javascript:alert(2)) and @bob. Thanks @carl.",
    )
    html = render_markdown(comment.body)
    assert "<strong>Latency</strong>" in html
    assert "<script" not in html and "javascript:" not in html
    # rita and carl see the model and are told; bob cannot see it and is not.
    assert sorted(comment.mentions.values_list("username", flat=True)) == ["carl", "rita"]
    assert inbox(people.rita)[-1] == "comment.mentioned" and inbox(people.bob) == []
    with pytest.raises(PermissionDenied):
        services.add_comment(validated.pk, actor=people.bob, body="hello")


def test_a_review_keeps_the_policy_it_started_under(people, validated):
    review = request(validated, people.alice)
    services.update_policy(
        actor=people.admin,
        risk_tier="high",
        required={"model_ops": 2, "risk_owner": 1},
        allow_exceptions=False,
        note="tighter",
    )
    services.decide(validated.pk, actor=people.ivan, verdict="approve", reason="ok")
    services.decide(validated.pk, actor=people.rita, verdict="approve", reason="ok")
    review.refresh_from_db()
    assert review.status == "approved" and review.policy.number == 1
    event = AuditEvent.objects.get(action="review_policy.changed")
    assert event.before["required"] == {"model_ops": 1, "risk_owner": 1}
    with pytest.raises(PermissionDenied):
        services.update_policy(
            actor=people.ivan,
            risk_tier="low",
            required={"model_ops": 1},
            allow_exceptions=True,
            note="x",
        )
