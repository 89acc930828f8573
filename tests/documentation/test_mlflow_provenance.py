"""An imported version's documentation says where it came from in MLflow, in the page, the API
and every exported file; an uploaded version's has no such part. What MLflow logged is text from
outside the portal: escaped everywhere, never markup, and the connection's secrets never appear."""

from __future__ import annotations

import io

import pytest
from django.urls import reverse
from django.utils import timezone
from docx import Document as Word
from docx.opc.constants import RELATIONSHIP_TYPE
from pypdf import PdfReader

from apps.documentation import services
from apps.documentation.models import Revision
from apps.integrations.models import MlflowConnection, MlflowImport
from apps.registry import storage
from apps.registry.models import StoredFile
from tests.deployments.conftest import approve
from tests.documentation.test_documentation import export_now, write
from tests.reviews.conftest import new_version

pytestmark = pytest.mark.django_db

SECRETS = ("s3cr3t-basic-password", "whsec-0123456789abcdef", "svc-mlflow-user")
ADDRESS = "mlflow.internal.bank.example"
HOSTILE_TAG = "<script>alert('tag')</script>"
HOSTILE_LINK = '<a href="https://evil.example/x">click me</a>'
HOSTILE_PARAM = '=HYPERLINK("https://evil.example")<font size=40>big</font>'
COMMIT = "8f2c1e9d4b7a6350c1d2e3f405162738495a6b7c"


@pytest.fixture
def imported(people, alices_model, files):  # type: ignore[no-untyped-def]
    """A version as an MLflow import leaves it, its provenance written through the models."""
    version = new_version(alices_model, people.alice, files)
    write(version, people.alice, intended_use="Scores loan applications.")
    artifact = StoredFile.objects.get(version=version, role=StoredFile.Role.ARTIFACT)
    connection = MlflowConnection.objects.create(
        name="Lab MLflow",
        tracking_url=f"https://{ADDRESS}",
        auth=MlflowConnection.Auth.BASIC,
        username=SECRETS[2],
        secret=SECRETS[0],
        webhook_secret=SECRETS[1],
    )
    MlflowImport.objects.create(
        model=alices_model,
        version=version,
        connection=connection,
        state=MlflowImport.State.IMPORTED,
        reference="models:/credit-pd@candidate",
        mlflow_name="credit-pd",
        mlflow_version="7",
        aliases=["candidate", "challenger"],
        run_id="4c1f7e2a9b8d4e6f",
        experiment_id="12",
        experiment_name="credit/probability-of-default",
        params={"C": "0.25", "solver": "liblinear", "note": HOSTILE_PARAM},
        metrics={"auc": 0.8731, "log_loss": 0.3312},
        tags={
            "mlflow.source.git.commit": COMMIT,
            "reviewer": HOSTILE_TAG,
            "ticket": HOSTILE_LINK,
            "controls": "bell\x07tab\x0bescape\x1bend",
        },
        git_commit=COMMIT,
        original_format="skops",
        original_sha256=artifact.sha256,
        original_size=artifact.size,
        target_column="default",
        requested_by=people.alice,
        finished_at=timezone.now(),
    )
    return version


def provenance(document):  # type: ignore[no-untyped-def]
    return next((p for p in document.parts if p.key == "mlflow_provenance"), None)


def test_the_document_of_an_imported_version_has_its_provenance_after_the_artifact(
    people, imported
):
    document = services.document_of(imported)
    keys = [p.key for p in document.parts]
    assert keys[keys.index("artifact") + 1] == "mlflow_provenance"
    part = provenance(document)
    facts = dict(part.facts)
    artifact = StoredFile.objects.get(version=imported, role=StoredFile.Role.ARTIFACT)
    assert part.title == "Provenance"
    assert facts["MLflow server"] == "Lab MLflow"
    assert (facts["MLflow model"], facts["MLflow version"]) == ("credit-pd", "7")
    assert facts["Aliases when imported"] == "@candidate, @challenger"
    assert facts["Run"] == "4c1f7e2a9b8d4e6f"
    assert facts["Experiment"] == "credit/probability-of-default (id 12)"
    assert facts["Source git commit"] == COMMIT
    assert facts["Original format"] == "skops"
    assert facts["Original SHA-256"] == artifact.sha256
    assert facts["Original size (bytes)"] == f"{artifact.size:,}"
    assert facts["Imported by"].startswith("Alice (alice) on ")
    tables = {t.caption: t for t in part.tables}
    metrics = next(t for caption, t in tables.items() if "Metrics" in caption)
    assert "MLflow" in metrics.caption and "not the portal's validation" in metrics.caption
    assert metrics.columns == ["MLflow metric", "Value logged in MLflow"]
    assert metrics.rows == [["auc", "0.8731"], ["log_loss", "0.3312"]]
    params = tables["Parameters of the MLflow run"].rows
    assert ["note", HOSTILE_PARAM] in params and ["solver", "liblinear"] in params
    assert ["reviewer", HOSTILE_TAG] in tables["Tags of the MLflow run"].rows


def test_the_page_and_the_api_show_the_provenance_escaped_and_without_secrets(
    people, imported, client, api
):
    client.force_login(people.carl)
    page = client.get(
        reverse("documentation:document", args=[imported.model.slug, imported.number])
    )
    assert page.status_code == 200
    html = page.content.decode()
    assert 'id="part-mlflow_provenance"' in html and "<h2>Provenance</h2>" in html
    assert "credit/probability-of-default" in html and COMMIT in html
    assert "&lt;script&gt;alert(&#x27;tag&#x27;)&lt;/script&gt;" in html
    assert HOSTILE_TAG not in html and 'href="https://evil.example' not in html
    for secret in (*SECRETS, ADDRESS):
        assert secret not in html

    url = f"/api/v1/models/{imported.model.slug}/versions/{imported.number}/documentation/"
    body = api(people.carl).get(url).json()
    part = next(p for p in body["parts"] if p["key"] == "mlflow_provenance")
    assert ["MLflow server", "Lab MLflow"] in part["facts"]
    assert any(["reviewer", HOSTILE_TAG] in t["rows"] for t in part["tables"])
    for secret in (*SECRETS, ADDRESS):
        assert secret not in str(body)


def test_every_export_of_the_frozen_documentation_carries_the_provenance_as_text(people, imported):
    approve(people, imported)
    revision = Revision.objects.get(version=imported)
    assert provenance(services.document_of(imported, revision)) is not None  # in the snapshot

    html = export_now(revision, people.carl, "html")
    body = _bytes(html).decode()
    assert "<h2>Provenance</h2>" in body and COMMIT in body
    assert "&lt;script&gt;alert(&#x27;tag&#x27;)&lt;/script&gt;" in body
    assert HOSTILE_TAG not in body and 'href="https://evil.example' not in body

    pdf = PdfReader(io.BytesIO(_bytes(export_now(revision, people.carl, "pdf"))))
    text = "".join(page.extract_text() for page in pdf.pages)
    flat = "".join(text.split())
    assert [o.title for o in pdf.outline if not isinstance(o, list)].count("Provenance") == 1
    for value in ("LabMLflow", "credit/probability-of-default", COMMIT, "0.8731", "@candidate"):
        assert value in flat
    assert "MetricsMLflowloggedfortherun(MLflow'sfigures,nottheportal'svalidation)" in flat
    # Markup in MLflow's text is printed as text, not obeyed: no link, no font change.
    assert "<script>alert('tag')</script>" in flat
    assert "".join(HOSTILE_LINK.split()) in flat and "<fontsize=40>big</font>" in flat
    links = [
        str(annotation.get_object().get("/A", {}).get("/URI", ""))
        for page in pdf.pages
        for annotation in page.get("/Annots") or []
    ]
    assert not [uri for uri in links if "evil.example" in uri]

    word = Word(io.BytesIO(_bytes(export_now(revision, people.carl, "docx"))))
    headings = [p.text for p in word.paragraphs if p.style.name.startswith("Heading")]
    assert headings.count("Provenance") == 1
    assert headings.index("Provenance") == headings.index("Artifact and input signature") + 1
    cells = [c.text for t in word.tables for row in t.rows for c in row.cells]
    assert "Lab MLflow" in cells and COMMIT in cells and "0.8731" in cells
    assert HOSTILE_TAG in cells and HOSTILE_LINK in cells and HOSTILE_PARAM in cells
    assert "belltabescapeend" in cells  # control characters a Word file cannot hold: dropped
    hyperlinks = [
        rel.target_ref
        for rel in word.part.rels.values()
        if rel.reltype == RELATIONSHIP_TYPE.HYPERLINK
    ]
    assert not [target for target in hyperlinks if "evil.example" in target]

    word_text = "\n".join([p.text for p in word.paragraphs] + cells)
    for secret in (*SECRETS, ADDRESS):
        assert secret not in body and secret not in text and secret not in word_text


def test_an_uploaded_versions_documentation_has_no_provenance_part(people, alices_model, files):
    version = new_version(alices_model, people.alice, files)
    revision = write(version, people.alice, intended_use="Scores loan applications.")
    document = services.document_of(version)
    assert provenance(document) is None
    assert "Provenance" not in [p.title for p in document.parts]
    body = _bytes(export_now(revision, people.alice, "html")).decode()
    assert "Provenance" not in body and "MLflow" not in body
    pdf = PdfReader(io.BytesIO(_bytes(export_now(revision, people.alice, "pdf"))))
    assert "Provenance" not in [o.title for o in pdf.outline if not isinstance(o, list)]
    assert "MLflow" not in "".join(page.extract_text() for page in pdf.pages)
    word = Word(io.BytesIO(_bytes(export_now(revision, people.alice, "docx"))))
    assert "Provenance" not in [p.text for p in word.paragraphs]


def test_a_parameter_longer_than_a_page_does_not_stop_the_pdf(people, imported):
    record = MlflowImport.objects.get(version=imported)
    record.params = {"features": " ".join(f"feature_{i}" for i in range(3000)) + " LAST"}
    record.tags = {"mlflow.log-model.history": "\n".join(f"line {i}" for i in range(400))}
    record.save()
    revision = write(imported, people.alice, methodology="Logistic regression.")
    export = export_now(revision, people.alice, "pdf")
    assert export.sha256, export.job.log
    text = "".join(p.extract_text() for p in PdfReader(io.BytesIO(_bytes(export))).pages)
    flat = "".join(text.split())
    assert "feature_0feature_1" in flat and "feature_2999LAST" in flat
    assert "line399" in flat


def _bytes(export) -> bytes:  # type: ignore[no-untyped-def]
    with storage.open_blob(export.key) as handle:
        return handle.read()
