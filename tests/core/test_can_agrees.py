"""``can`` and the endpoints agree, for every registered rule and every role.

A page offers a button when ``can(user, rule, obj)`` says yes; the endpoint behind it runs the
same rule. If the two ever disagreed, people would see buttons that answer 403, or miss ones they
may use. Every rule in ``registry.rules`` must appear below: a new rule without its endpoint here
fails ``test_every_rule_is_checked``.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import pytest
from django.test import Client

from apps.core.permissions import can
from apps.core.registry import registry
from apps.registry.models import ModelVersion, RegisteredModel
from apps.reviews import changes
from apps.reviews import services as reviews
from tests.reviews.conftest import new_version

pytestmark = pytest.mark.django_db
M = "/api/v1/models/loan-default"
ROLES = ["alice", "bob", "ivan", "rita", "carl", "admin"]


@dataclass(frozen=True)
class Case:
    """How a rule's object is made, and the request that acts on it."""

    subject: Callable[[Any, Any], Any]  # (people, files) -> the object the rule is asked about
    request: Callable[[Client, Any], Any]  # (client, object) -> the response


def _submitted(people: Any, files: Any) -> ModelVersion:
    version = new_version(RegisteredModel.objects.get(slug="loan-default"), people.alice, files)
    reviews.request_review(version.pk, actor=people.alice, summary="Ready")
    return version


def _validated(people: Any, files: Any) -> ModelVersion:
    return new_version(RegisteredModel.objects.get(slug="loan-default"), people.alice, files)


def _model(people: Any, files: Any) -> RegisteredModel:
    return RegisteredModel.objects.get(slug="loan-default")


def _pending_change(people: Any, files: Any) -> RegisteredModel:
    changes.propose_change(
        _model(people, files).pk,
        actor=people.alice,
        field="risk_tier",
        value="medium",
        reason="Smaller book",
    )
    return _model(people, files)


def _alert(people: Any, files: Any) -> Any:
    """A drift alert of the loan model live in production (as an evaluation raises it)."""
    from django.utils import timezone

    from apps.deployments.models import Deployment, Environment
    from apps.monitoring.models import Alert
    from apps.registry import services as registry

    model = _model(people, files)
    version = new_version(model, people.alice, files, status=ModelVersion.Status.APPROVED)
    ModelVersion.objects.filter(pk=version.pk).update(submitted_at=timezone.now())
    registry.grant_model_operations(model)
    deployment = Deployment.objects.create(
        model=model,
        version=version,
        environment=Environment.objects.get(slug="production"),
        status=Deployment.Status.LIVE,
        requested_by=people.ivan,
    )
    return Alert.objects.create(
        deployment=deployment,
        check_name="drift:income",
        level=Alert.Level.ALERT,
        message="Drift in income: PSI 0.40 over 24 hours",
        levels="PSI warning 0.1, alert 0.25 (default levels)",
    )


def _review(people: Any, files: Any) -> Any:
    from apps.monitoring.models import MonitoringReview

    alert = _alert(people, files)
    return MonitoringReview.objects.create(deployment=alert.deployment, alert=alert)


def _finding(people: Any, files: Any) -> Any:
    """A high finding rita raised on a submitted version, owned by alice."""
    from datetime import timedelta

    from django.utils import timezone

    from apps.findings import services as findings

    return findings.raise_finding(
        _submitted(people, files).pk,
        actor=people.rita,
        title="Holdout overlaps training",
        severity="high",
        category="data",
        description="March is in both.",
        owner=people.alice,
        due_date=timezone.localdate() + timedelta(days=7),
    )


def _remediated(people: Any, files: Any) -> Any:
    from apps.findings import services as findings

    finding = _finding(people, files)
    return findings.remediate(finding.pk, actor=people.alice, remediation="Split by month")


def _json(method: str, path: str, body: dict[str, Any] | None = None) -> Callable[..., Any]:
    def send(client: Client, obj: Any) -> Any:
        return getattr(client, method)(
            path.format(obj=obj), body or {}, content_type="application/json"
        )

    return send


def _periodic(people: Any, files: Any) -> Any:
    """The open periodic review of the loan model, approved and live in production."""
    from apps.recertification import services as recertification
    from tests.deployments.conftest import approve
    from tests.recertification.conftest import put_in_production

    model = _model(people, files)
    version = approve(people, new_version(model, people.alice, files))
    put_in_production(model, version, people.ivan)
    return recertification.open_review(model.pk, actor=people.carl, reason="Annual")


CASES: dict[str, Case] = {
    "registry.edit": Case(_model, _json("patch", f"{M}/", {"description": "Updated"})),
    "registry.upload": Case(
        _model, lambda client, obj: client.post("/models/loan-default/versions/new/", {})
    ),
    "registry.share": Case(
        _model, _json("post", f"{M}/shares/", {"grantee": "user:bob", "level": "view"})
    ),
    "reviews.request": Case(
        _validated, _json("post", f"{M}/versions/{{obj.number}}/review/", {"summary": "Ready"})
    ),
    "reviews.propose_change": Case(
        _model,
        _json("post", f"{M}/changes/", {"field": "risk_tier", "value": "low", "reason": "x"}),
    ),
    "reviews.decide_change": Case(
        _pending_change,
        lambda client, model: client.post(
            f"{M}/changes/{model.changes.get().pk}/",
            {"decision": "reject", "reason": "No"},
            content_type="application/json",
        ),
    ),
    "validation.rerun": Case(_validated, _json("post", f"{M}/versions/{{obj.number}}/validation/")),
    "monitoring.decide_review": Case(
        _review,
        lambda client, review: client.post(
            f"/monitoring/reviews/{review.pk}/decide/",
            {"decision": "new_version", "reason": "Retrain"},
        ),
    ),
    "documentation.write": Case(
        _validated,
        lambda client, version: client.post(
            f"/models/loan-default/versions/{version.number}/documentation/edit/",
            {"intended_use": "Scores loans."},
        ),
    ),
    "recertification.attest": Case(
        _periodic,
        lambda client, review: client.post(
            f"/reviews/periodic/{review.pk}/",
            {"outcome": "recertify", "statement": "Still fit"},
        ),
    ),
    "findings.remediate": Case(
        _finding,
        _json("post", "/api/v1/findings/{obj.pk}/remediate/", {"remediation": "Fixed"}),
    ),
    "findings.verify": Case(
        _remediated, _json("post", "/api/v1/findings/{obj.pk}/close/", {"reason": "Checked"})
    ),
    "integrations.link": Case(
        _model, lambda client, obj: client.post("/models/loan-default/mlflow/unlink/", {})
    ),
    "integrations.import": Case(
        _model, lambda client, obj: client.post("/models/loan-default/mlflow/import/", {})
    ),
    "monitoring.handle_alert": Case(
        _alert,
        lambda client, alert: client.post(
            f"/monitoring/alerts/{alert.pk}/resolve/", {"reason": "Retrained"}
        ),
    ),
}


def test_every_rule_is_checked():
    assert set(registry.rules.names()) <= set(CASES), "add the new rule's endpoint to CASES"


@pytest.mark.parametrize("who", ROLES)
@pytest.mark.parametrize("rule", sorted(CASES))
def test_can_says_yes_exactly_when_the_endpoint_does_not_answer_403(
    people, alices_model, files, rule, who
):
    case = CASES[rule]
    subject = case.subject(people, files)
    user = getattr(people, who)
    expected = can(user, rule, subject)
    client = Client()
    client.force_login(user)
    answer = case.request(client, subject).status_code
    if answer == 404:  # the object is not there for this person: no button either
        assert not expected, f"{who} may {rule} but the endpoint answers 404"
    else:
        assert (answer != 403) == expected, f"{who}: can={expected}, the endpoint answered {answer}"
