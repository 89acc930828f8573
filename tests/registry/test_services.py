"""Registering, editing, sharing and uploading, through the services that own those changes."""

from __future__ import annotations

import hashlib

import pytest
from django.contrib.auth.models import Group
from django.core.exceptions import PermissionDenied, ValidationError

from apps.audit.models import AuditEvent
from apps.core.permissions import can, visible_to
from apps.jobs.models import Job
from apps.registry import services
from apps.registry.models import ModelVersion, RegisteredModel, StoredFile
from apps.registry.uploads import UploadRefused
from tests.registry.conftest import stored_files, upload

pytestmark = pytest.mark.django_db


def test_registering_grants_the_team_the_risk_owner_and_compliance(people, alices_model):
    model = alices_model
    assert model.slug == "loan-default" and model.owner == people.alice
    assert sorted(model.tags.values_list("name", flat=True)) == ["credit", "retail"]
    for user, visible, changeable in [
        (people.alice, True, True),
        (people.rita, True, False),
        (people.carl, True, False),
        (people.bob, False, False),
        (people.ivan, False, False),
    ]:
        assert (
            visible_to(user, RegisteredModel.objects.all()).filter(pk=model.pk).exists() is visible
        )
        assert can(user, services.CHANGE, model) is changeable
    event = AuditEvent.objects.get(action="model.registered")
    assert event.actor == people.alice and event.after["risk_owner"] == "rita"


def test_only_data_scientists_register_and_only_for_their_teams(people):
    details = {"name": "X", "use_case": "u", "risk_tier": "low", "risk_owner": people.rita}
    with pytest.raises(PermissionDenied, match="Only data scientists"):
        services.register_model(actor=people.ivan, team=people.retail, **details)
    with pytest.raises(PermissionDenied, match="only for your own teams"):
        services.register_model(actor=people.bob, team=people.retail, **details)
    with pytest.raises(ValidationError, match="does not hold the risk owner role"):
        services.register_model(
            actor=people.alice, team=people.retail, **{**details, "risk_owner": people.carl}
        )


def test_names_are_unique_whatever_the_case_and_slugs_stay(people, alices_model):
    with pytest.raises(ValidationError, match="already exists"):
        services.register_model(
            actor=people.alice,
            name="LOAN DEFAULT",
            use_case="u",
            team=people.retail,
            risk_tier="low",
            risk_owner=people.rita,
        )
    services.update_model(alices_model.pk, actor=people.alice, changes={"name": "Loan default v2"})
    alices_model.refresh_from_db()
    assert (alices_model.name, alices_model.slug) == ("Loan default v2", "loan-default")


def test_an_edit_records_only_what_changed(people, alices_model):
    services.update_model(
        alices_model.pk,
        actor=people.alice,
        changes={
            "description": "Probability of default",
            "use_case": "Decline risky loans",
            "tags": ["credit"],
            "risk_tier": "high",  # the same value again is no change
        },
    )
    event = AuditEvent.objects.get(action="model.updated")
    assert event.before == {"description": "", "tags": ["credit", "retail"]}
    assert event.after == {"description": "Probability of default", "tags": ["credit"]}


def test_who_may_edit_what(people, alices_model):
    with pytest.raises(PermissionDenied):
        services.update_model(alices_model.pk, actor=people.rita, changes={"use_case": "x"})
    for governed in ({"risk_tier": "low"}, {"risk_owner": people.admin}, {"team": people.fraud}):
        for who in (people.alice, people.admin):  # governed changes have their own path
            with pytest.raises(PermissionDenied, match="governed change"):
                services.update_model(alices_model.pk, actor=who, changes=governed)
    with pytest.raises(PermissionDenied, match="Only administrators"):
        services.update_model(alices_model.pk, actor=people.alice, changes={"pickle_allowed": True})
    services.update_model(alices_model.pk, actor=people.admin, changes={"pickle_allowed": True})
    with pytest.raises(ValidationError, match="cannot be changed"):
        services.update_model(alices_model.pk, actor=people.alice, changes={"slug": "x"})


def test_a_new_risk_owner_replaces_the_old_ones_access(people, alices_model):
    from apps.reviews import changes

    new_owner = people.rita.__class__.objects.create(username="rob")
    new_owner.groups.add(Group.objects.get(name="risk_owner"))
    changes.propose_change(
        alices_model.pk, actor=people.rita, field="risk_owner", value="rob", reason="Handover"
    )
    assert visible_to(new_owner, RegisteredModel.objects.all()).exists()
    assert not visible_to(people.rita, RegisteredModel.objects.all()).exists()


def test_sharing_and_revoking_is_audited(people, alices_model):
    services.share_model(alices_model.pk, actor=people.alice, grantee=people.bob, level="view")
    assert can(people.bob, services.VIEW, alices_model)
    assert not can(people.bob, services.CHANGE, alices_model)
    services.share_model(
        alices_model.pk, actor=people.alice, grantee=people.fraud.group, level="change"
    )
    assert can(people.bob, services.CHANGE, alices_model)  # through his team now
    grants = {g.grantee_id: (g.level, g.reason) for g in services.access_list(alices_model)}
    assert grants == {
        "group:team:retail-credit": ("change", "owning team"),
        "user:rita": ("view", "risk owner"),
        "group:compliance": ("view", "compliance"),
        "group:team:fraud": ("change", "shared"),
        "user:bob": ("view", "shared"),
    }
    services.unshare_model(alices_model.pk, actor=people.alice, grantee=people.fraud.group)
    services.unshare_model(alices_model.pk, actor=people.alice, grantee=people.bob)
    assert not can(people.bob, services.VIEW, alices_model)
    actions = list(
        AuditEvent.objects.filter(action__startswith="model.")
        .order_by("id")
        .values_list("action", "after")
    )
    assert actions[-4:] == [
        ("model.shared", {"grantee": "user:bob", "level": "view"}),
        ("model.shared", {"grantee": "group:team:fraud", "level": "change"}),
        ("model.unshared", None),
        ("model.unshared", None),
    ]


def test_sharing_is_for_owners_and_ownership_is_not_revocable(people, alices_model):
    services.share_model(alices_model.pk, actor=people.alice, grantee=people.bob, level="change")
    with pytest.raises(PermissionDenied, match="Only the owning team"):
        services.share_model(alices_model.pk, actor=people.bob, grantee=people.ivan, level="view")
    with pytest.raises(PermissionDenied):
        services.share_model(alices_model.pk, actor=people.carl, grantee=people.ivan, level="view")
    with pytest.raises(ValidationError, match="follows from ownership"):
        services.unshare_model(alices_model.pk, actor=people.alice, grantee=people.rita)
    with pytest.raises(ValidationError, match="follows from ownership"):
        services.unshare_model(
            alices_model.pk, actor=people.admin, grantee=Group.objects.get(name="compliance")
        )
    services.share_model(alices_model.pk, actor=people.admin, grantee=people.ivan, level="view")


def test_versions_are_numbered_and_their_files_hashed(people, alices_model, files, media):
    first = services.upload_version(
        alices_model.pk,
        actor=people.alice,
        artifact=upload("m.skops", files.skops),
        holdout=upload("holdout.csv", files.holdout_csv),
        target_column=" default ",
    )
    second = services.upload_version(
        alices_model.pk,
        actor=people.alice,
        artifact=upload("m.skops", files.skops),
        holdout=upload("holdout.parquet", files.holdout_parquet),
        target_column="default",
        reference=upload("ref.csv", files.reference_csv),
        notes="adds a reference sample",
    )
    assert (first.number, second.number) == (1, 2)
    assert first.target_column == "default" and first.status == ModelVersion.Status.VALIDATING
    alices_model.refresh_from_db()
    assert alices_model.latest_version == second
    artifact = second.files.get(role=StoredFile.Role.ARTIFACT)
    assert artifact.sha256 == hashlib.sha256(files.skops).hexdigest()
    assert artifact.size == len(files.skops) and artifact.original_name == "m.skops"
    assert (media / artifact.key).read_bytes() == files.skops
    assert artifact.key.startswith("registry/") and "m.skops" not in artifact.key
    holdout = second.files.get(role=StoredFile.Role.HOLDOUT)
    assert holdout.details["rows"] == 200 and holdout.file_format == "parquet"
    assert len(stored_files(media)) == 5
    event = AuditEvent.objects.get(action="version.uploaded", object_id=str(second.pk))
    assert event.after["files"]["artifact"]["sha256"] == artifact.sha256
    # Each upload queues its validation job (run by a worker once the transaction commits).
    job = Job.objects.get(uuid=event.after["validation_job"])
    assert (job.kind, job.queue, job.target) == ("validation", "validation", second)


def test_only_people_who_may_change_the_model_upload(people, alices_model, files, media):
    def attempt(user):
        services.upload_version(
            alices_model.pk,
            actor=user,
            artifact=upload("m.skops", files.skops),
            holdout=upload("h.csv", files.holdout_csv),
            target_column="default",
        )

    for user in (people.rita, people.carl, people.ivan, people.bob):
        with pytest.raises(PermissionDenied):
            attempt(user)
    services.share_model(alices_model.pk, actor=people.alice, grantee=people.bob, level="change")
    attempt(people.bob)  # a data scientist the model is shared with for change


@pytest.mark.parametrize(
    ("changes", "message"),
    [
        ({"artifact": ("m.skops", b"")}, "The file is empty"),
        ({"artifact": ("m.skops", b"\x80\x04pickle")}, "does not contain what its extension says"),
        ({"artifact": ("m.pkl", b"\x80\x04pickle")}, "refused for this model"),
        ({"holdout": ("h.csv", b"x,y\n1,2\n")}, "no column named “default”"),
        ({"holdout": ("h.parquet", b"not parquet")}, "is not Parquet"),
        ({"reference": ("r.csv", b"")}, "The file is empty"),
        ({"reference": ("r.csv", b"income\n1\n")}, "lacks feature columns"),
    ],
)
def test_a_refused_upload_stores_nothing(people, alices_model, files, media, changes, message):
    parts = {
        "artifact": ("m.skops", files.skops),
        "holdout": ("h.csv", files.holdout_csv),
        "reference": ("r.csv", files.reference_csv),
        **changes,
    }
    with pytest.raises(UploadRefused, match=message):
        services.upload_version(
            alices_model.pk,
            actor=people.alice,
            target_column="default",
            **{role: upload(name, content) for role, (name, content) in parts.items()},
        )
    assert stored_files(media) == []
    assert not ModelVersion.objects.exists() and not StoredFile.objects.exists()


def test_an_oversized_file_is_refused_with_413(people, alices_model, files, media, settings):
    settings.PORTAL_MAX_ARTIFACT_BYTES = len(files.skops) - 1
    with pytest.raises(UploadRefused, match="the limit is") as refused:
        services.upload_version(
            alices_model.pk,
            actor=people.alice,
            artifact=upload("m.skops", files.skops),
            holdout=upload("h.csv", files.holdout_csv),
            target_column="default",
        )
    assert refused.value.status == 413 and stored_files(media) == []


def test_a_failure_after_storing_removes_the_stored_files(
    people, alices_model, files, media, monkeypatch
):
    def broken(*args, **kwargs):
        raise RuntimeError("database went away")

    monkeypatch.setattr(services, "_create_version", broken)
    with pytest.raises(RuntimeError):
        services.upload_version(
            alices_model.pk,
            actor=people.alice,
            artifact=upload("m.skops", files.skops),
            holdout=upload("h.csv", files.holdout_csv),
            target_column="default",
        )
    assert stored_files(media) == []
