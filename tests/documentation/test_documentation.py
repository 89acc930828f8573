"""Documentation of a version: filled from the portal's records, written by its data scientists,
required before review by its tier's policy, frozen at approval, exported with audited hashes."""

from __future__ import annotations

import hashlib
import io

import pytest
from django.core.exceptions import PermissionDenied, ValidationError
from django.urls import reverse

from apps.audit.models import AuditEvent
from apps.deployments import services as deployments
from apps.documentation import services
from apps.documentation.models import Export, Revision, Template
from apps.jobs import services as jobs
from apps.registry.models import ModelVersion, StoredFile
from apps.reviews import services as reviews
from tests.deployments.conftest import approve, approved_version, deploy_now
from tests.reviews.conftest import new_version

pytestmark = pytest.mark.django_db

HIGH = ["intended_use", "methodology"]


def write(version, actor, **sections):  # type: ignore[no-untyped-def]
    return services.save_narrative(version.pk, actor=actor, sections=sections)


def part(document, key):  # type: ignore[no-untyped-def]
    return next(p for p in document.parts if p.key == key)


def export_now(revision, actor, format):  # type: ignore[no-untyped-def]
    """Request an export and run its job here, as the worker would."""
    export = services.request_export(revision.pk, actor=actor, format=format)
    jobs.run(
        str(export.job.uuid),
        worker="in-process",
        execute=services.write_export,
        commit=services.store_export,
    )
    export.refresh_from_db()
    return export


@pytest.fixture
def high_policy(people):  # type: ignore[no-untyped-def]
    return services.update_policy(
        actor=people.admin, risk_tier="high", required=HIGH, note="What supervisors ask"
    )


def test_a_review_request_is_refused_naming_the_empty_required_sections(
    people, alices_model, files, high_policy
):
    version = new_version(alices_model, people.alice, files)
    with pytest.raises(ValidationError) as refused:
        reviews.request_review(version.pk, actor=people.alice, summary="Ready")
    said = " ".join(refused.value.messages)
    assert "Intended use and users" in said and "Methodology and alternatives considered" in said
    assert "Training data" not in said  # not required by this policy
    write(version, people.alice, intended_use="Scores loan applications.")
    with pytest.raises(ValidationError, match="Methodology and alternatives considered"):
        reviews.request_review(version.pk, actor=people.alice, summary="Ready")
    write(version, people.alice, methodology="Logistic regression.")
    review = reviews.request_review(version.pk, actor=people.alice, summary="Ready")
    assert not review.is_exception


def test_empty_required_sections_go_to_review_only_as_a_justified_exception(
    people, alices_model, files, high_policy
):
    version = new_version(alices_model, people.alice, files)
    with pytest.raises(ValidationError, match="does not allow policy exceptions"):
        reviews.request_review(version.pk, actor=people.alice, summary="Ready", justification="x")
    current = reviews.current_policy("high")
    reviews.update_policy(
        actor=people.admin,
        risk_tier="high",
        required=current.required,
        allow_exceptions=True,
        note="Exceptions with a justification",
    )
    with pytest.raises(ValidationError, match="only as a policy exception"):
        reviews.request_review(version.pk, actor=people.alice, summary="Ready")
    review = reviews.request_review(
        version.pk, actor=people.alice, summary="Ready", justification="Regulator deadline"
    )
    assert review.is_exception
    assert review.exception_reasons == [
        "the documentation's required sections are empty: Intended use and users, "
        "Methodology and alternatives considered"
    ]
    event = AuditEvent.objects.get(action="review.exception_requested")
    assert event.after["exception_reasons"] == review.exception_reasons


def test_only_the_models_data_scientists_write_its_documentation(
    people, alices_model, bobs_model, files
):
    version = new_version(alices_model, people.alice, files)
    for outsider in (people.ivan, people.rita, people.carl):
        with pytest.raises(PermissionDenied):
            write(version, outsider, intended_use="x")
    with pytest.raises(PermissionDenied):
        write(version, people.bob, intended_use="x")  # another team's data scientist
    with pytest.raises(ValidationError, match="no narrative section identity"):
        write(version, people.alice, identity="forged facts")
    revision = write(version, people.alice, intended_use="Scores loans.")
    assert revision.number == 1 and revision.narrative == {"intended_use": "Scores loans."}
    event = AuditEvent.objects.get(action="documentation.edited")
    assert event.after == {"revision": 1, "intended_use": "Scores loans."}
    assert event.before == {"intended_use": ""}


def test_a_new_version_starts_from_the_previous_versions_text(people, alices_model, files):
    first = new_version(alices_model, people.alice, files)
    write(first, people.alice, intended_use="Scores loans.", methodology="Logistic regression.")
    second = new_version(alices_model, people.alice, files)
    assert services.working_narrative(second) == {
        "intended_use": "Scores loans.",
        "methodology": "Logistic regression.",
    }
    assert services.latest_revision(second) is None
    revision = write(second, people.alice, methodology="Gradient boosting.")
    assert revision.narrative == {
        "intended_use": "Scores loans.",
        "methodology": "Gradient boosting.",
    }
    first_revision = services.latest_revision(first)
    assert first_revision is not None
    assert first_revision.narrative["methodology"] == "Logistic regression."


def test_markdown_is_sanitised_and_loads_nothing(people, alices_model, files):
    version = new_version(alices_model, people.alice, files)
    write(
        version,
        people.alice,
        intended_use="# Purpose\n\n<script>alert(1)</script>**bold** "
        '![x](https://evil.example/x.png) <img src="https://evil.example/y.png">'
        '<a href="javascript:alert(1)">link</a> <span style="background:url(https://e.x/z)">s</span>',
    )
    html = part(services.document_of(version), "intended_use").html
    assert "<h3>Purpose</h3>" in html and "<strong>bold</strong>" in html
    for forbidden in ("<script", "<img", "evil.example", "javascript:", "style=", "e.x/z"):
        assert forbidden not in html


def test_every_auto_filled_part_equals_the_portals_records(people, alices_model, models):
    version = approved_version(people, alices_model, models.logistic, models.holdout)
    deploy_now(deployments.request_deployment(version.pk, "staging", actor=people.ivan))
    frozen = services.document_of(version)  # as approved: before the deployment
    assert part(frozen, "deployments").empty == "Never deployed."
    assert write(version, people.alice).number == 2  # the next revision reads today's records
    document = services.document_of(version)
    identity = dict(part(document, "identity").facts)
    assert identity["Model"] == "Loan default (loan-default)"
    assert identity["Owner team"] == "Retail credit"
    assert identity["Risk tier"] == "High"
    assert "rita" in identity["Risk owner"]
    assert identity["Use case"] == "Decline risky loans"

    artifact = part(document, "artifact")
    digests = {row[3] for row in artifact.tables[0].rows}
    assert digests == set(
        StoredFile.objects.filter(version=version).values_list("sha256", flat=True)
    )
    signature = version.validation_reports.get().data["signature"]["features"]
    assert [row[0] for row in artifact.tables[1].rows] == [f["name"] for f in signature]

    report = version.validation_reports.get()
    validation = part(document, "validation")
    assert dict(validation.facts)["Policy"] == str(report.policy)
    assert [row[0] for row in validation.tables[0].rows] == [c["label"] for c in report.checks]
    assert validation.charts  # the report's ROC and other curves
    fairness = part(document, "fairness")
    assert [row[0] for row in fairness.tables[0].rows] == [
        str(g["group"]) for g in report.data["fairness"]["groups"]
    ]

    sign_offs = part(document, "sign_offs").tables[0].rows
    assert [(row[0], row[1].split(" (")[-1].rstrip(")"), row[2], row[3]) for row in sign_offs] == [
        ("model operations", "ivan", "Approved", "Infra ok"),
        ("risk owner", "rita", "Approved", "Risk ok"),
    ]
    deployed = part(document, "deployments").tables[0].rows
    assert [(row[0], row[3]) for row in deployed] == [("Staging", "Live")]
    monitoring = part(document, "monitoring")
    assert "Staging" in monitoring.tables[0].rows[0][0]
    assert dict(monitoring.facts)["Monitoring policy"]

    changes = part(document, "changes").tables[0].rows
    version_events = AuditEvent.objects.filter(
        object_type="registry.modelversion", object_id=str(version.pk)
    ).order_by("id")
    registered = AuditEvent.objects.get(action="model.registered")
    assert [row[3] for row in changes] == [registered.hash[:16]] + [
        e.hash[:16] for e in version_events
    ]
    assert changes[0][2] == "Registered a model (Loan default)"
    assert part(document, "exceptions").is_empty
    assert part(document, "findings").is_empty


def test_approval_freezes_the_documentation_and_later_edits_start_a_new_revision(
    people, alices_model, files
):
    version = new_version(alices_model, people.alice, files)
    write(version, people.alice, intended_use="Scores loans.")
    approve(people, version)
    frozen = Revision.objects.get(version=version)
    assert frozen.is_frozen and frozen.snapshot is not None
    before = services.document_of(version, frozen)
    assert "approved" in before.subtitle
    assert [p.title for p in before.parts] == [s["title"] for s in Template.objects.get().sections]
    decision = AuditEvent.objects.filter(action="review.approve").order_by("-id").first()
    assert decision.after["documentation"] == "revision 1 frozen as approved"

    # The records move on; the frozen document does not.
    alices_model.use_case = "Something else entirely"
    alices_model.save()
    write(version, people.alice, intended_use="Scores loans and limit increases.")
    frozen.refresh_from_db()
    assert services.document_of(version, frozen) == before
    assert frozen.narrative == {"intended_use": "Scores loans."}
    latest = services.latest_revision(version)
    assert latest is not None and (latest.number, latest.status) == (2, "draft")

    changed = {d.title: d for d in services.diff(before, services.document_of(version, latest))}
    assert ("+", "Scores loans and limit increases.") in changed["Intended use and users"].lines
    assert ("-", "Scores loans.") in changed["Intended use and users"].lines
    assert changed["Identity"].changed  # the use case, read today
    assert not changed["Out-of-scope uses"].changed


def test_exports_audit_the_sha256_of_the_bytes_downloaded(people, alices_model, files, client):
    from docx import Document as Word
    from pypdf import PdfReader

    version = new_version(alices_model, people.alice, files)
    write(version, people.alice, intended_use="Scores **loan** applications.")
    approve(people, version)
    revision = Revision.objects.get(version=version)
    client.force_login(people.carl)
    for format in ("html", "pdf", "docx"):
        export = export_now(revision, people.carl, format)
        response = client.get(reverse("documentation:export-download", args=[export.pk]))
        assert response.status_code == 200
        body = b"".join(response.streaming_content)
        digest = hashlib.sha256(body).hexdigest()
        event = AuditEvent.objects.filter(action="documentation.exported").order_by("-id").first()
        assert event.actor_username == "carl"
        assert (event.after["sha256"], event.after["format"]) == (digest, format)
        assert export.sha256 == digest == response["X-Checksum-SHA256"]
        if format == "pdf":
            text = "".join(page.extract_text() for page in PdfReader(io.BytesIO(body)).pages)
            flat = "".join(text.split())
            assert "Intendeduseandusers" in flat and "Scoresloanapplications" in flat
            assert "Infraok" in flat and "Riskok" in flat  # the sign-offs' reasons
        elif format == "docx":
            word = Word(io.BytesIO(body))
            headings = [p.text for p in word.paragraphs if p.style.name.startswith("Heading")]
            assert "Intended use and users" in headings and "Review and sign-offs" in headings
            cells = {c.text for t in word.tables for row in t.rows for c in row.cells}
            assert "Infra ok" in cells and "Risk ok" in cells
        else:
            assert b"Scores <strong>loan</strong> applications." in body
            assert b"Plotly" in body  # plotly.js travels inside the file


def test_documentation_is_seen_by_those_who_see_the_version_and_nobody_else(
    people, alices_model, files, client
):
    version = new_version(alices_model, people.alice, files)
    revision = write(version, people.alice, intended_use="Scores loans.")
    page = reverse("documentation:document", args=[alices_model.slug, version.number])
    edit = reverse("documentation:edit", args=[alices_model.slug, version.number])
    export = export_now(revision, people.alice, "html")
    download = reverse("documentation:export-download", args=[export.pk])
    for who, status in ((people.alice, 200), (people.carl, 200), (people.bob, 404)):
        client.force_login(who)
        assert client.get(page).status_code == status
        assert client.get(download).status_code == status
    client.force_login(people.ivan)  # model ops see versions once submitted
    assert client.get(page).status_code == 404
    with pytest.raises(PermissionDenied):
        services.request_export(revision.pk, actor=people.bob, format="pdf")
    client.force_login(people.carl)
    assert client.get(edit).status_code == 403
    client.force_login(people.alice)
    response = client.post(edit, {"intended_use": "Scores loans and cards."})
    assert response.status_code == 302
    assert services.working_narrative(version)["intended_use"] == "Scores loans and cards."


def test_the_template_and_policies_change_only_by_administrators_and_are_versioned(people, client):
    sections = Template.objects.get().sections
    with pytest.raises(PermissionDenied):
        services.update_template(actor=people.alice, sections=sections, note="x")
    client.force_login(people.admin)
    url = reverse("documentation:template")
    response = client.post(url, {"sections": "[{", "note": "typo"})
    assert "not valid JSON" in response.content.decode()
    added = [*sections, {"key": "ethics", "title": "Ethics review", "kind": "narrative"}]
    response = client.post(url, {"sections": __import__("json").dumps(added), "note": "Ethics"})
    assert response.status_code == 302
    assert Template.objects.order_by("-number").first().number == 2
    event = AuditEvent.objects.get(action="documentation.template_changed")
    assert event.after["number"] == 2 and event.before["number"] == 1
    with pytest.raises(ValidationError, match="kind must be one of"):
        services.update_template(
            actor=people.admin,
            sections=[{"key": "x", "title": "X", "kind": "made_up"}],
            note="bad",
        )
    policy = services.update_policy(
        actor=people.admin, risk_tier="low", required=["ethics"], note="Ethics for all"
    )
    assert policy.number == 2 and policy.required == ["ethics"]
    with pytest.raises(ValidationError, match="no narrative section"):
        services.update_policy(actor=people.admin, risk_tier="low", required=["nope"], note="x")
    with pytest.raises(PermissionDenied):
        services.update_policy(actor=people.carl, risk_tier="low", required=[], note="x")


def test_the_documentation_tab_shows_what_is_missing_and_the_mapping(
    people, alices_model, files, client, high_policy
):
    version = new_version(alices_model, people.alice, files)
    client.force_login(people.alice)
    page = client.get(reverse("documentation:document", args=[alices_model.slug, version.number]))
    text = page.content.decode()
    assert "Required before review" in text and "Intended use and users" in text
    assert "EU AI Act Annex IV" in text and "PRA SS1/23" in text
    overview = client.get(version.get_absolute_url()).content.decode()
    assert 'href="/models/loan-default/versions/1/documentation/"' in overview


def test_an_unknown_format_or_revision_is_refused(people, alices_model, files, client):
    version = new_version(alices_model, people.alice, files)
    revision = write(version, people.alice, intended_use="x")
    with pytest.raises(ValidationError, match="Choose one of"):
        services.request_export(revision.pk, actor=people.alice, format="exe")
    client.force_login(people.alice)
    url = reverse("documentation:document", args=[alices_model.slug, version.number])
    assert client.get(url + "?revision=9").status_code == 404
    assert ModelVersion.objects.get(pk=version.pk).status == "validated"
    assert not Export.objects.exists()


def test_the_api_reads_writes_and_exports_the_documentation(people, alices_model, files, api):
    version = new_version(alices_model, people.alice, files)
    url = f"/api/v1/models/{alices_model.slug}/versions/{version.number}/documentation/"
    alice, carl = api(people.alice), api(people.carl)
    body = {"sections": {"intended_use": "Scores *loans*.", "methodology": "Logistic."}}
    assert carl.patch(url, body, format="json").status_code == 403
    assert api(people.bob).get(url).status_code == 404
    written = alice.patch(url, body, format="json")
    assert written.status_code == 200, written.json()
    assert (written.json()["revision"], written.json()["status"]) == (1, "draft")
    read = carl.get(url).json()
    intended = next(p for p in read["parts"] if p["key"] == "intended_use")
    assert intended["markdown"] == "Scores *loans*." and "<em>loans</em>" in intended["html"]
    refused = alice.patch(url, {"sections": {"identity": "x"}}, format="json")
    assert refused.status_code == 400 and "no narrative section" in str(refused.json())

    queued = carl.post(url + "exports/", {"format": "docx"}, format="json")
    assert queued.status_code == 202 and queued.json()["sha256"] == ""
    export = Export.objects.get(pk=queued.json()["id"])
    jobs.run(
        str(export.job.uuid),
        worker="in-process",
        execute=services.write_export,
        commit=services.store_export,
    )
    done = carl.get(f"/api/v1/documentation/exports/{export.pk}/").json()
    assert done["job_status"] == "succeeded" and done["download"]
    downloaded = carl.get(f"/api/v1/documentation/exports/{export.pk}/download/")
    body_bytes = b"".join(downloaded.streaming_content)
    assert hashlib.sha256(body_bytes).hexdigest() == done["sha256"]
    assert api(people.bob).get(f"/api/v1/documentation/exports/{export.pk}/").status_code == 404


def test_the_dashboard_lists_versions_waiting_for_required_documentation(
    people, alices_model, files, client, high_policy
):
    version = new_version(alices_model, people.alice, files)
    client.force_login(people.alice)
    panel = client.get("/").content.decode()
    assert "Documentation to write before review" in panel
    assert "Intended use and users, Methodology and alternatives considered" in panel
    write(version, people.alice, intended_use="x", methodology="y")
    assert "Documentation to write before review" not in client.get("/").content.decode()
    client.force_login(people.bob)
    assert "Documentation to write before review" not in client.get("/").content.decode()
