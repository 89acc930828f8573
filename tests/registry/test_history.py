"""A model's audit events in one place (issue 16, "Audit by model"): the trail filtered by model,
and the model's History tab with the same filters and a CSV export, scoped to what the person
may see."""

from __future__ import annotations

import csv
import io
from datetime import timedelta

import pytest
from django.db import connection
from django.test import Client
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from django.utils import timezone

from apps.audit import services as audit
from apps.audit.models import AuditEvent
from apps.audit.views import _CSV_COLUMNS
from apps.deployments import services as deployments
from apps.findings import services as findings
from apps.registry.models import ModelVersion
from tests.deployments.conftest import approve
from tests.recertification.conftest import put_in_production
from tests.reviews.conftest import new_version

pytestmark = pytest.mark.django_db


def _client(user) -> Client:  # type: ignore[no-untyped-def]
    client = Client()
    client.force_login(user)
    return client


@pytest.fixture
def governed(people, alices_model, bobs_model, files):  # type: ignore[no-untyped-def]
    """Alice's model: v1 approved, live in production then undeployed, a finding raised on it;
    v2 a draft that model operations (ivan) may not see. Bob's model beside it."""
    v1 = approve(people, new_version(alices_model, people.alice, files))
    put_in_production(alices_model, v1, people.ivan)
    deployment = deployments.undeploy(alices_model.pk, "production", actor=people.ivan)
    finding = findings.raise_finding(
        v1.pk,
        actor=people.carl,
        title="No latency test",
        severity="low",
        category="implementation",
        description="Peak volume was not tried.",
        owner=people.alice,
        due_date=timezone.localdate() + timedelta(days=30),
    )
    v2 = new_version(alices_model, people.alice, files, status=ModelVersion.Status.DRAFT)
    return {"v1": v1, "v2": v2, "deployment": deployment, "finding": finding}


def _objects(events) -> set[tuple[str, str]]:  # type: ignore[no-untyped-def]
    return {(e.object_type, e.object_id) for e in events}


def _csv(response) -> list[dict[str, str]]:  # type: ignore[no-untyped-def]
    assert response.status_code == 200, response.content
    body = b"".join(response.streaming_content).decode()
    return list(csv.DictReader(io.StringIO(body)))


def test_the_trail_filtered_by_model_holds_its_model_versions_deployment_and_finding_only(
    people, alices_model, bobs_model, governed
):
    response = _client(people.carl).get(reverse("audit:list"), {"model": alices_model.slug})
    assert response.context["form"].errors == {}
    shown = _objects(response.context["page"])
    assert shown == {
        ("registry.registeredmodel", str(alices_model.pk)),
        ("registry.modelversion", str(governed["v1"].pk)),
        ("registry.modelversion", str(governed["v2"].pk)),
        ("deployments.deployment", str(governed["deployment"].pk)),
        ("findings.finding", str(governed["finding"].pk)),
    }
    assert ("registry.registeredmodel", str(bobs_model.pk)) not in shown
    by_bob = _client(people.carl).get(reverse("audit:list"), {"model": bobs_model.slug})
    assert _objects(by_bob.context["page"]) == {("registry.registeredmodel", str(bobs_model.pk))}


def test_the_trail_offers_models_by_name_and_refuses_an_unknown_one_clearly(
    people, alices_model, bobs_model
):
    client = _client(people.carl)
    form = client.get(reverse("audit:list")).context["form"]
    assert form.fields["model"].choices == [
        ("", "Any model"),
        ("card-fraud", "Card fraud"),
        ("loan-default", "Loan default"),
    ]
    response = client.get(reverse("audit:list"), {"model": "no-such-model"})
    assert "No model “no-such-model”." in response.content.decode()
    assert list(response.context["page"]) == []


def test_the_trail_by_model_combines_with_person_and_action(
    people, alices_model, bobs_model, governed
):
    # The same person and action on another model: left out by the model filter alone.
    audit.record(people.ivan, "review.approve", bobs_model)
    response = _client(people.carl).get(
        reverse("audit:list"), {"model": alices_model.slug, "actor": "ivan", "action": "review."}
    )
    assert [(e.actor_username, e.action) for e in response.context["page"]] == [
        ("ivan", "review.approve")
    ]


def test_the_history_tab_filters_by_person_action_and_dates(people, alices_model, governed):
    client = _client(people.alice)
    url = reverse("registry:model-history", args=[alices_model.slug])
    everything = client.get(url).context["page"]
    assert {e.action for e in everything} >= {
        "model.registered",
        "version.uploaded",
        "review.approve",
        "deployment.undeployed",
        "finding.raised",
    }
    by_rita = client.get(url, {"actor": "rita"}).context["page"]
    assert [(e.actor_username, e.action) for e in by_rita] == [("rita", "review.approve")]
    form = client.get(url).context["form"]
    assert [v for v, _ in form.fields["actor"].choices] == [
        "",
        "(system)",
        "alice",
        "carl",
        "ivan",
        "rita",
    ]
    findings_only = client.get(url, {"action": "finding."}).context["page"]
    assert [e.action for e in findings_only] == ["finding.raised"]
    today = timezone.localdate()
    assert list(client.get(url, {"until": str(today - timedelta(days=1))}).context["page"]) == []
    wrong = client.get(url, {"since": str(today), "until": str(today - timedelta(days=1))})
    assert wrong.status_code == 400
    assert "“From” must be on or before “To”." in wrong.content.decode()


def test_the_history_csv_holds_the_filtered_events_with_the_trails_columns_and_is_audited(
    people, alices_model, governed
):
    response = _client(people.alice).get(
        reverse("registry:model-history-export", args=[alices_model.slug]), {"action": "review."}
    )
    assert response["Content-Disposition"].startswith('attachment; filename="history-loan-default-')
    rows = _csv(response)
    assert list(rows[0]) == _CSV_COLUMNS
    assert sorted(r["action"] for r in rows) == [
        "review.approve",
        "review.approve",
        "review.requested",
    ]
    exported = AuditEvent.objects.filter(action="audit.exported").get()
    assert (exported.actor, exported.object_type, exported.object_id) == (
        people.alice,
        "registry.registeredmodel",
        str(alices_model.pk),
    )
    assert exported.after == {"filters": {"action": "review."}}


def test_the_history_csv_leaves_out_the_versions_the_person_may_not_see(
    people, alices_model, governed
):
    url = reverse("registry:model-history-export", args=[alices_model.slug])
    v2 = ("registry.modelversion", str(governed["v2"].pk))
    by_ivan = {(r["object_type"], r["object_id"]) for r in _csv(_client(people.ivan).get(url))}
    assert ("registry.modelversion", str(governed["v1"].pk)) in by_ivan
    assert ("deployments.deployment", str(governed["deployment"].pk)) in by_ivan
    assert ("findings.finding", str(governed["finding"].pk)) in by_ivan
    assert v2 not in by_ivan
    by_alice = {(r["object_type"], r["object_id"]) for r in _csv(_client(people.alice).get(url))}
    assert v2 in by_alice
    page = _client(people.ivan).get(reverse("registry:model-history", args=[alices_model.slug]))
    assert v2 not in _objects(page.context["page"])


def test_a_model_someone_may_not_see_has_no_history_or_export_for_them(people, alices_model):
    client = _client(people.bob)
    for name in ("registry:model-history", "registry:model-history-export"):
        assert client.get(reverse(name, args=[alices_model.slug])).status_code == 404
    assert not AuditEvent.objects.filter(action="audit.exported").exists()


def test_a_history_export_with_a_wrong_filter_is_refused_not_empty(people, alices_model):
    response = _client(people.alice).get(
        reverse("registry:model-history-export", args=[alices_model.slug]),
        {"since": "2026-13-01"},
    )
    assert response.status_code == 400
    assert response.content.decode() == (
        "Nothing exported; correct the filters. From: Enter a valid date."
    )
    assert not AuditEvent.objects.filter(action="audit.exported").exists()


def test_the_history_tab_pages_with_a_constant_number_of_queries(people, alices_model):
    client = _client(people.alice)
    url = reverse("registry:model-history", args=[alices_model.slug])
    client.get(url)  # the first request of a session also writes the session

    def edit(times: int) -> None:
        for i in range(times):
            audit.record(people.alice, "model.updated", alices_model, after={"note": str(i)})

    edit(5)
    with CaptureQueriesContext(connection) as few:
        client.get(url)
    edit(120)
    with CaptureQueriesContext(connection) as many:
        response = client.get(url, {"page": 2})
    assert len(many) == len(few)
    assert len(response.context["page"].object_list) == 50
