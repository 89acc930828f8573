"""The demo seed that `make run` runs on every start."""

from __future__ import annotations

import io
import json
import stat
import zipfile
from dataclasses import dataclass
from pathlib import Path

import pytest
from django.contrib.auth.models import User
from django.core.management import call_command
from guardian.conf import settings as guardian_settings

from apps.accounts.models import Team
from apps.audit.models import AuditEvent
from apps.deployments import demo as story
from apps.deployments import serving
from apps.deployments.models import Deployment, Feedback, Placement, PredictionLog, ServingKey
from apps.jobs.models import Job
from apps.monitoring.models import Bucket, Health
from apps.registry import storage
from apps.registry.models import ModelVersion, RegisteredModel, StoredFile
from apps.reviews.models import Decision, Review
from apps.reviews.services import waiting_for
from apps.validation.models import ValidationReport

pytestmark = pytest.mark.django_db

# What the README promises: three models trained on the spot, owned by the two demo teams, with
# two or three versions each (the estimator class of each version, in order).
MODELS = {
    "Retail loan default": (
        "retail-credit",
        ["Pipeline", "GradientBoostingClassifier", "RandomForestClassifier"],
    ),
    "Card fraud detection": ("fraud", ["Pipeline", "GradientBoostingClassifier"]),
    "Breast cancer benchmark": ("fraud", ["Pipeline", "RandomForestClassifier"]),
}
USERS = {"alice", "bob", "ivan", "rita", "carl", "admin"}


def artifact_schema(stored: StoredFile) -> dict:
    """The skops archive's schema: what it holds, read without loading it."""
    with storage.open_blob(stored.key) as handle, zipfile.ZipFile(handle) as archive:
        return json.loads(archive.read("schema.json"))


# What each run may create; the second run must create none of it.
COUNTED = (
    AuditEvent,
    Job,
    ValidationReport,
    Review,
    Decision,
    Deployment,
    Placement,
    ServingKey,
    PredictionLog,
    Feedback,
    Bucket,
)


@dataclass(frozen=True)
class Seeded:
    var: Path
    first: str
    second: str
    password: str
    blobs: list[Path]
    counts: dict[str, int]


def counts() -> dict[str, int]:
    return {model.__name__: model.objects.count() for model in COUNTED}


@pytest.fixture
def seeded(settings, tmp_path, monkeypatch) -> Seeded:
    """seed_demo run twice on an empty database, as two `make run`s would."""
    settings.VAR_DIR = tmp_path
    settings.MEDIA_ROOT = tmp_path / "media"
    monkeypatch.delenv("PORTAL_DEMO_PASSWORD", raising=False)
    monkeypatch.delenv("PORTAL_DEMO_PASSWORD_FILE", raising=False)
    monkeypatch.delenv("PORT", raising=False)
    first, second = io.StringIO(), io.StringIO()
    call_command("seed_demo", stdout=first)
    password = (tmp_path / "demo_password").read_text().strip()
    blobs = sorted(p for p in (tmp_path / "media").rglob("*") if p.is_file())
    after_first = counts()
    call_command("seed_demo", stdout=second)
    return Seeded(tmp_path, first.getvalue(), second.getvalue(), password, blobs, after_first)


def demo_version(model: str, number: int) -> ModelVersion:
    return ModelVersion.objects.get(model__name=model, number=number)


def test_seeding_twice_creates_everything_once_and_keeps_the_password(seeded):
    tmp_path, password = seeded.var, seeded.password
    people = User.objects.exclude(username=guardian_settings.ANONYMOUS_USER_NAME)
    assert set(people.values_list("username", flat=True)) == USERS
    assert people.count() == len(USERS)
    assert AuditEvent.objects.filter(action="user.created").count() == len(USERS)
    assert set(Team.objects.values_list("slug", flat=True)) == {"retail-credit", "fraud"}
    assert Team.objects.count() == 2
    assert (tmp_path / "demo_password").read_text().strip() == password
    assert all(User.objects.get(username=u).check_password(password) for u in USERS)
    assert "DEMO DATA" in seeded.second and password in seeded.second

    assert RegisteredModel.objects.count() == len(MODELS)
    for name, (team, estimators) in MODELS.items():
        model = RegisteredModel.objects.get(name=name)
        assert model.team.slug == team
        assert model.owner.groups.filter(pk=model.team.group_id).exists()
        versions = list(model.versions.order_by("number"))
        assert [v.number for v in versions] == list(range(1, len(estimators) + 1))
        assert model.version_count == len(versions) and model.latest_version == versions[-1]
        for version, estimator in zip(versions, estimators, strict=True):
            roles = {f.role: f for f in version.files.exclude(role=StoredFile.Role.CANONICAL)}
            assert set(roles) == {"artifact", "holdout", "reference"}
            schema = artifact_schema(roles["artifact"])
            assert schema["__class__"] == estimator
            assert "n_features_in_" in json.dumps(schema)  # fitted, not a bare estimator
            assert roles["holdout"].details["rows"] > 100
            assert version.target_column in roles["holdout"].details["columns"]
    # The validations stored a canonical copy of each validated version; nothing more the 2nd time.
    validated = StoredFile.objects.filter(role=StoredFile.Role.CANONICAL).count()
    assert validated == 3
    assert StoredFile.objects.count() == 3 * sum(len(e) for _, e in MODELS.values()) + validated
    assert sorted(p for p in (tmp_path / "media").rglob("*") if p.is_file()) == seeded.blobs


LOAN, FRAUD = "Retail loan default", "Card fraud detection"


def actors(action: str) -> list[str]:
    return sorted(AuditEvent.objects.filter(action=action).values_list("actor_username", flat=True))


def test_the_demo_story_is_played_through_the_services_once(seeded, client):
    loan_v1, loan_v2, fraud_v1 = (
        demo_version(LOAN, 1),
        demo_version(LOAN, 2),
        demo_version(FRAUD, 1),
    )
    ivan, rita = User.objects.get(username="ivan"), User.objects.get(username="rita")

    # Loan v1: validated, signed off by IT and the risk owner, live in staging and production.
    assert loan_v1.status == ModelVersion.Status.APPROVED
    assert loan_v1.review.requested_by.username == "alice" and loan_v1.review.summary
    decisions = {d.reviewer.username: d for d in loan_v1.review.decisions.all()}
    assert {n: (d.role, d.verdict) for n, d in decisions.items()} == {
        "ivan": ("model_ops", "approve"),
        "rita": ("risk_owner", "approve"),
    }
    assert all(d.reason for d in decisions.values())
    model = loan_v1.model
    live = {p.environment.slug: p.deployment for p in Placement.objects.filter(model=model)}
    assert {env: d.version for env, d in live.items()} == {
        "staging": loan_v1,
        "production": loan_v1,
    }
    assert all(
        d.requested_by == ivan and d.job.status == Job.Status.SUCCEEDED for d in live.values()
    )
    assert sorted(a["reviewer"] for a in live["production"].approvals) == ["ivan", "rita"]
    model.refresh_from_db()
    assert model.champion == loan_v1
    assert Placement.objects.count() == 2  # nothing else is live

    # Loan v2: signed off by both to be tried, running beside v1 in staging as a shadow.
    assert loan_v2.status == ModelVersion.Status.APPROVED
    assert loan_v2.review.requested_by.username == "alice"
    assert sorted(loan_v2.review.decisions.values_list("reviewer__username", "verdict")) == [
        ("ivan", "approve"),
        ("rita", "approve"),
    ]
    shadow = Placement.objects.get(environment__slug="staging").challenger
    assert shadow is not None and (shadow.version, shadow.mode) == (loan_v2, "shadow")
    assert shadow.challenged == live["staging"] and shadow.requested_by == ivan
    assert "deployed Retail loan default v2 to staging as a shadow challenger: live" in (
        seeded.first
    )

    # Fraud v1: validated, in review, waiting for ivan and rita (medium risk needs the risk
    # owner too); nobody else's queue holds anything.
    assert fraud_v1.status == ModelVersion.Status.IN_REVIEW
    assert fraud_v1.validation_reports.get().outcome == "passed"
    assert not fraud_v1.review.decisions.exists()
    assert fraud_v1.review.requested_by.username == "bob"
    for reviewer in (ivan, rita):
        assert [r.version for r in waiting_for(reviewer)] == [fraud_v1]
    for other in User.objects.exclude(pk__in=[ivan.pk, rita.pk]):
        assert not waiting_for(other).exists()

    # Every other version's validation job is left queued for the real worker.
    others = ModelVersion.objects.exclude(pk__in=[loan_v1.pk, loan_v2.pk, fraud_v1.pk])
    assert others.count() == 4
    for untouched in others:
        assert untouched.status == ModelVersion.Status.VALIDATING
        assert list(untouched.validation_reports.all()) == []
    queued = Job.objects.filter(kind="validation", status=Job.Status.QUEUED)
    assert sorted(int(j.target_id) for j in queued) == sorted(v.pk for v in others)

    # Done by the demo people, and audited as theirs.
    assert actors("review.requested") == ["alice", "alice", "bob"]
    assert actors("review.approve") == ["ivan", "ivan", "rita", "rita"]
    assert actors("deployment.requested") == ["ivan", "ivan", "ivan"]
    assert actors("challenger.started") == ["ivan"]
    # Findings in each state; the open high one stands in fraud v1's way.
    from apps.findings import services as findings
    from apps.findings.models import Finding

    assert {f.title: (f.state, f.version) for f in Finding.objects.all()} == {
        "Recall measured on too few fraud cases": ("open", fraud_v1),
        "No latency test at peak volume": ("remediated", loan_v1),
        "Release notes do not name the training period": ("closed", loan_v2),
    }
    assert actors("finding.raised") == ["carl", "ivan", "rita"]
    [blocker] = findings.approval_blockers(fraud_v1)
    assert "Recall measured on too few fraud cases" in blocker
    assert actors("serving_key.created") == ["ivan"]

    # The serving key: one, in production, its raw value in var/ for the owner only, printed with
    # a curl example on every run, and it predicts.
    key = ServingKey.objects.get()
    assert (key.model, key.environment.slug, key.name, key.created_by) == (
        model,
        "production",
        "loan origination system",
        ivan,
    )
    stored = seeded.var / "demo_serving_key"
    raw = stored.read_text().strip()
    assert stat.S_IMODE(stored.stat().st_mode) == 0o600
    assert ServingKey.hash(raw) == key.key_hash and key.revoked_at is None
    url = f"/serve/{model.slug}/production/predict"
    for output in (seeded.first, seeded.second):
        assert raw in output and f"http://127.0.0.1:8000{url}" in output
    assert seeded.first.count(raw) == seeded.second.count(raw) == 2  # the key, and the curl
    rows = story.holdout_rows(loan_v1, 3)
    assert set(rows[0]) == {
        f["name"] for f in loan_v1.validation_reports.get().data["signature"]["features"]
    }
    assert json.dumps(rows[:1]) in seeded.second
    serving.MODELS.forget()
    try:
        answer = client.post(
            url,
            data=json.dumps(rows),
            content_type="application/json",
            HTTP_AUTHORIZATION=f"Bearer {raw}",
        )
    finally:
        serving.MODELS.forget()
        serving.LOG.discard()
    assert answer.status_code == 200, answer.content
    body = answer.json()
    assert (body["model"], body["environment"], body["version"]) == (model.slug, "production", 1)
    assert len(body["predictions"]) == len(body["probabilities"]) == 3

    # The second run changed nothing and created nothing.
    assert counts() == seeded.counts
    for step in ("validated", "requested review", "approved", "deployed", "created", "note:"):
        assert step not in seeded.second


def test_the_demo_production_model_has_two_weeks_of_traffic_and_is_in_alert(seeded, client):
    production = Deployment.objects.get(
        model__name="Retail loan default", environment__slug="production", status="live"
    )
    logs = PredictionLog.objects.filter(deployment=production)
    assert 14 * 85 <= logs.count() <= 14 * 115
    assert "loan sizes drift from day 10" in seeded.first
    # Outcomes three days after each decision, folded by the time of the decision.
    outcomes = Feedback.objects.filter(deployment=production)
    assert 0.7 * logs.count() < outcomes.count() < logs.count()
    daily = Bucket.objects.filter(deployment=production, span=86400)
    assert sum(b.performance.get("labelled", 0) for b in daily) == 4 * outcomes.count()
    judged = Health.objects.get(deployment=production)
    assert judged.state == Health.State.ALERT
    assert judged.drifted_feature in {"loan_amount", "debt_to_income"}
    assert 80 <= judged.requests <= 130 and judged.rows == 4 * judged.requests
    # Staging has test traffic, answered by v1 and scored by its shadow v2, whose comparison
    # shows on both pages; nothing else live has traffic; ivan sees the alert first.
    staging = Placement.objects.get(environment__slug="staging")
    for deployment in (staging.deployment, staging.challenger):
        assert PredictionLog.objects.filter(deployment=deployment).count() == 120
        assert Health.objects.get(deployment=deployment).state != Health.State.ALERT
    others = Health.objects.exclude(
        deployment__in=[production, staging.deployment, staging.challenger]
    )
    assert {h.state for h in others} <= {Health.State.NO_TRAFFIC}
    client.force_login(User.objects.get(username="ivan"))
    page = client.get("/monitoring/").content.decode()
    table = page[page.index("<tbody>") :]
    first_row = table[: table.index("</tr>")]
    assert "Retail loan default" in first_row and "Production" in first_row
    assert "badge-alert" in first_row
    assert "Drift in" in page
    compared = client.get(f"/monitoring/deployments/{staging.challenger.pk}/").content.decode()
    assert "Live version and challenger" in compared and "of 480 rows got the same" in compared
    # An alert on a high-risk production model: a decision waits for ivan or rita.
    from apps.monitoring.models import MonitoringReview

    reviews = MonitoringReview.objects.filter(deployment=production)
    assert reviews.exists() and all(review.is_open for review in reviews)
    assert "Monitoring decisions" in client.get("/").content.decode()
