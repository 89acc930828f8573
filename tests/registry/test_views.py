"""The registry's pages: every page for every role, the inventory at scale, sharing by form."""

from __future__ import annotations

import re

import pytest
from django.db import connection
from django.test import Client
from django.test.utils import CaptureQueriesContext
from guardian.shortcuts import assign_perm

from apps.audit.models import AuditEvent
from apps.registry import services
from apps.registry.models import (
    ModelVersion,
    RegisteredModel,
    RegisteredModelGroupObjectPermission,
    StoredFile,
)
from tests.registry.conftest import Body, files_in, multipart, stored_files, upload

pytestmark = pytest.mark.django_db

M = "/models/loan-default"


def client_for(user) -> Client:
    client = Client()
    client.force_login(user)
    return client


PAGES = [
    ("GET", "/models/", {"alice": 200, "rita": 200, "carl": 200, "bob": 200, "ivan": 200}),
    ("GET", "/models/new/", {"alice": 200, "rita": 302, "carl": 302, "bob": 200, "ivan": 302}),
    ("GET", f"{M}/", {"alice": 200, "rita": 200, "carl": 200, "bob": 404, "ivan": 404}),
    ("GET", f"{M}/history/", {"alice": 200, "rita": 200, "carl": 200, "bob": 404, "ivan": 404}),
    ("GET", f"{M}/edit/", {"alice": 200, "rita": 403, "carl": 403, "bob": 404, "ivan": 404}),
    (
        "GET",
        f"{M}/versions/new/",
        {"alice": 200, "rita": 403, "carl": 403, "bob": 404, "ivan": 404},
    ),
    ("GET", f"{M}/versions/1/", {"alice": 200, "rita": 200, "carl": 200, "bob": 404, "ivan": 404}),
    (
        "GET",
        f"{M}/versions/1/files/holdout/",
        {"alice": 200, "rita": 200, "carl": 200, "bob": 404, "ivan": 404},
    ),
    ("POST", f"{M}/share/", {"alice": 302, "rita": 403, "carl": 403, "bob": 404, "ivan": 404}),
    ("POST", f"{M}/unshare/", {"alice": 302, "rita": 403, "carl": 403, "bob": 404, "ivan": 404}),
]


@pytest.mark.parametrize("who", ["alice", "rita", "carl", "bob", "ivan"])
@pytest.mark.parametrize(
    ("method", "path", "expected"), PAGES, ids=[f"{m} {p}" for m, p, _ in PAGES]
)
def test_every_page_answers_each_role_as_expected(
    people, alices_version, who, method, path, expected
):
    client = client_for(getattr(people, who))
    data = {"grantee": "user:ivan", "level": "view"} if method == "POST" else None
    response = client.generic(
        method,
        path,
        data=data and "grantee=user:ivan&level=view",
        content_type="application/x-www-form-urlencoded",
    )
    assert response.status_code == expected[who]


def test_the_model_page_shows_versions_files_and_access(people, alices_version, files):
    page = client_for(people.rita).get(f"{M}/").content.decode()
    assert "Loan default" in page and "High risk" in page
    assert "Version 1" in page and "uploaded by Alice" in page
    holdout = alices_version.files.get(role="holdout")
    assert holdout.sha256[:16] in page and "100 rows \N{MULTIPLICATION SIGN} 3 columns" in page
    assert "team Retail credit" in page and "risk owner" in page
    assert "Upload a version" not in page and "Edit details" not in page  # rita may only view
    owner_page = client_for(people.alice).get(f"{M}/").content.decode()
    assert "Upload a version" in owner_page and "Share with" in owner_page


def _access_card(page: str) -> list[str]:
    """The "Who has access" card's lines as a reader sees them: tags dropped, spaces folded."""
    card = page.split('id="sharing-h"', 1)[1].split("</ul>", 1)[0]
    items = card.split("<li>")[1:]
    return [" ".join(re.sub(r"<[^>]+>", " ", item).split()) for item in items]


def test_who_has_access_names_roles_teams_and_levels_in_words(people, alices_version):
    model = alices_version.model
    services.share_model(model.pk, actor=people.alice, grantee="group:team:fraud", level="view")
    services.grant_model_operations(model)  # what a first review request does
    page = client_for(people.alice).get(f"{M}/").content.decode()
    lines = _access_card(page)
    assert lines[:4] == [
        "team Retail credit can change · owning team",
        "rita can view · risk owner",
        "compliance can view",
        "model operations can view submitted versions",
    ], lines
    assert lines[4].startswith("team Fraud detection can view · shared"), lines
    for code in ("model_ops", "team:", "can submitted", "group "):
        assert not any(code in line for line in lines), (code, lines)


def test_registering_and_editing_through_the_forms(people):
    alice = client_for(people.alice)
    response = alice.post(
        "/models/new/",
        {
            "name": "Mortgage PD",
            "team": people.retail.pk,
            "use_case": "Price mortgages",
            "risk_tier": "high",
            "risk_owner": people.rita.pk,
            "tags": "credit, mortgages",
        },
    )
    assert response.status_code == 302 and response.url == "/models/mortgage-pd/versions/new/"
    response = alice.post(
        "/models/new/",
        {
            "name": "mortgage pd",
            "team": people.retail.pk,
            "use_case": "x",
            "risk_tier": "low",
            "risk_owner": people.rita.pk,
        },
    )
    assert response.status_code == 400 and "already exists" in response.content.decode()
    # Those who do not register models are refused, not shown a form error.
    for who in (people.ivan, people.rita, people.carl):
        refused = client_for(who).post("/models/new/", {"name": "Mine", "use_case": "x"})
        assert refused.status_code == 403, who

    response = alice.post(
        "/models/mortgage-pd/edit/",
        {"name": "Mortgage PD", "use_case": "Price all mortgages", "tags": "credit"},
    )
    assert response.status_code == 302
    history = alice.get("/models/mortgage-pd/history/").content.decode()
    assert "model.updated" in history and "model.registered" in history
    # The change reads as words ("Field: before → after"), whatever the markup around them.
    changes = re.sub(r"\s+", " ", re.sub(r"<[^>]+>", "", history))
    assert "Use case: Price mortgages → Price all mortgages" in changes
    # The edit form offers no governed field: a tier sent anyway is ignored, not applied.
    form = alice.get("/models/mortgage-pd/edit/").content.decode()
    assert 'name="risk_tier"' not in form and 'name="risk_owner"' not in form
    alice.post(
        "/models/mortgage-pd/edit/",
        {"name": "Mortgage PD", "use_case": "Price all mortgages", "risk_tier": "low"},
    )
    assert RegisteredModel.objects.get(slug="mortgage-pd").risk_tier == "high"


def test_uploading_through_the_form_without_javascript(people, alices_model, files, media):
    response = client_for(people.alice).post(
        f"{M}/versions/new/",
        {
            "artifact": upload("model.skops", files.skops),
            "holdout": upload("holdout.csv", files.holdout_csv),
            "target_column": "default",
            "notes": "from the form",
        },
    )
    assert response.status_code == 302 and response.url == f"{M}/versions/1/"
    response = client_for(people.alice).post(
        f"{M}/versions/new/",
        {
            "artifact": upload("model.skops", files.pickle),
            "holdout": upload("holdout.csv", files.holdout_csv),
            "target_column": "default",
        },
    )
    assert response.status_code == 400
    assert "does not contain what its extension says" in response.content.decode()
    assert len(stored_files(media)) == 2  # the first upload's two files only


def test_the_form_keeps_only_the_last_part_of_a_file_name_with_a_path(people, alices_model, files):
    body, content_type = multipart(  # the API refuses these names; browsers never send them
        {"target_column": "default"},
        {
            "artifact": ("../../model.skops", files.skops),
            "holdout": ("..\\data\\holdout.csv", files.holdout_csv),
        },
    )
    response = client_for(people.alice).post(
        f"{M}/versions/new/", data=body, content_type=content_type
    )
    assert response.status_code == 302
    names = StoredFile.objects.order_by("role").values_list("role", "original_name")
    assert list(names) == [("artifact", "model.skops"), ("holdout", "holdout.csv")]


def test_the_form_refuses_a_50_gb_upload_before_reading_its_files(
    people, alices_model, media, upload_temp, one_mb_limits
):
    browser = Client(enforce_csrf_checks=True)
    browser.force_login(people.alice)
    token = browser.get(f"{M}/versions/new/").cookies["csrftoken"].value
    body = Body(
        {"csrfmiddlewaretoken": token, "target_column": "default"},
        "artifact",
        "model.skops",
        50 * 2**30,
        temp_dir=upload_temp,
    )
    response = browser.generic(
        "POST", f"{M}/versions/new/", content_type=body.content_type, **body.environ()
    )
    assert response.status_code == 413  # not a CSRF failure: the token came before the files
    assert (
        "The upload is 51,200.0 MB; an upload may carry at most 4 MB (the artifact up to 1 MB, "
        "the holdout and the reference sample up to 1 MB each). Nothing was stored."
    ) in response.content.decode()
    assert body.read_bytes <= 2**16 and body.peak_on_disk == 0
    assert files_in(upload_temp) == [] and stored_files(media) == []
    assert not ModelVersion.objects.exists()


def test_the_form_stops_a_file_over_its_limit_as_it_arrives(
    people, alices_model, files, media, upload_temp, one_mb_limits
):
    body = Body(
        {"target_column": "default"},
        "holdout",
        "holdout.csv",
        3 * 2**20,
        temp_dir=upload_temp,
        after={"artifact": ("model.skops", files.skops)},
    )
    response = client_for(people.alice).generic(
        "POST", f"{M}/versions/new/", content_type=body.content_type, **body.environ()
    )
    assert response.status_code == 413
    page = response.content.decode()
    assert "“holdout.csv” is larger than the holdout limit of 1 MB; nothing was stored." in page
    assert "This field is required" not in page
    assert body.peak_on_disk <= 2**20
    assert files_in(upload_temp) == [] and stored_files(media) == []
    assert not ModelVersion.objects.exists()


def test_sharing_through_the_page(people, alices_model):
    alice = client_for(people.alice)
    response = alice.post(f"{M}/share/", {"grantee": "team:fraud", "level": "view"}, follow=True)
    assert "Shared with team:fraud (view)" in response.content.decode()
    assert client_for(people.bob).get(f"{M}/").status_code == 200
    response = alice.post(f"{M}/unshare/", {"grantee": "group:team:fraud"}, follow=True)
    assert "revoked" in response.content.decode()
    assert client_for(people.bob).get(f"{M}/").status_code == 404
    response = alice.post(f"{M}/share/", {"grantee": "nobody", "level": "view"}, follow=True)
    assert "There is no user named “nobody”" in response.content.decode()


def test_denied_pages_are_audited(people, alices_model):
    client_for(people.rita).get(f"{M}/edit/")
    event = AuditEvent.objects.get(action="permission.denied")
    assert event.actor == people.rita and "not change it" in event.after["reason"]


def _bulk_inventory(people, models: int, versions_per_model: int) -> None:
    """Rows as the services would leave them, written in bulk to reach inventory scale."""
    existing = RegisteredModel.objects.count()
    created = RegisteredModel.objects.bulk_create(
        RegisteredModel(
            slug=f"bulk-{existing + i}",
            name=f"Bulk {existing + i}",
            use_case="u",
            team=people.retail,
            owner=people.alice,
            risk_tier="low",
            risk_owner=people.rita,
            version_count=versions_per_model,
        )
        for i in range(models)
    )
    RegisteredModelGroupObjectPermission.objects.bulk_create(
        RegisteredModelGroupObjectPermission(
            content_object=model,
            group=people.retail.group,
            permission=RegisteredModelGroupObjectPermission._meta.get_field(
                "permission"
            ).related_model.objects.get(codename="view_registeredmodel"),
        )
        for model in created
    )
    ModelVersion.objects.bulk_create(
        ModelVersion(
            model=model,
            number=n,
            artifact_format="skops",
            target_column="y",
            uploaded_by=people.alice,
        )
        for model in created
        for n in range(1, versions_per_model + 1)
    )


def test_the_inventory_page_costs_the_same_queries_at_1000_models_and_10000_versions(people):
    alice = client_for(people.alice)
    _bulk_inventory(people, models=3, versions_per_model=2)
    alice.get("/models/")
    with CaptureQueriesContext(connection) as small:
        alice.get("/models/", {"q": "bulk", "sort": "-versions"})
    _bulk_inventory(people, models=997, versions_per_model=10)
    assert ModelVersion.objects.count() >= 9_970
    with CaptureQueriesContext(connection) as large:
        response = alice.get("/models/", {"q": "bulk", "sort": "-versions"})
    assert response.context["page"].paginator.count == 1000
    assert len(large) == len(small), [q["sql"][:120] for q in large.captured_queries]
    bob = client_for(people.bob)
    assert bob.get("/models/", {"q": "bulk"}).context["page"].paginator.count == 0


def test_the_inventory_filters_and_keeps_them_across_pages(people, alices_version, bobs_model):
    assign_perm(services.VIEW, people.carl, bobs_model)
    carl = client_for(people.carl)
    page = carl.get("/models/", {"risk_tier": "medium"}).context["page"]
    assert [m.slug for m in page.object_list] == ["card-fraud"]
    _bulk_inventory(people, models=30, versions_per_model=1)
    response = client_for(people.alice).get("/models/", {"q": "bulk"})
    assert 'href="?q=bulk&amp;page=2"' in response.content.decode()
    empty = client_for(people.alice).get("/models/", {"q": "nothing-matches"}).content.decode()
    assert "No model you may see matches these filters" in empty


def test_an_invalid_filter_is_shown_at_its_field_and_the_other_filters_still_apply(
    people, alices_model, bobs_model
):
    """A sort order edited into the address used to drop every filter and list all models."""
    response = client_for(people.admin).get("/models/", {"risk_tier": "high", "sort": "bogus"})

    assert response.status_code == 400
    assert [m.slug for m in response.context["page"].object_list] == ["loan-default"]
    html = response.content.decode()
    select = re.search(r"<select name=\"sort\"[^>]*>", html)
    assert select and 'aria-invalid="true"' in select[0]
    assert 'aria-describedby="id_sort_error"' in select[0]
    error = re.search(r'<ul class="errorlist" id="id_sort_error">(.*?)</ul>', html, re.S)
    assert error and "“bogus” is not one of: name, -updated, risk, -versions." in error[1]


def test_renaming_and_deleting_a_tag_in_the_admin_is_audited(people, alices_model):
    from apps.registry.models import Tag

    admin = Client()
    admin.force_login(people.admin)
    tag = Tag.objects.get(name="credit")
    response = admin.post(f"/admin/registry/tag/{tag.pk}/change/", {"name": "lending"})
    assert response.status_code == 302
    changed = AuditEvent.objects.get(action="tag.changed")
    assert changed.actor == people.admin
    assert changed.before == {"name": "credit"} and changed.after == {"name": "lending"}
    response = admin.post(f"/admin/registry/tag/{tag.pk}/delete/", {"post": "yes"})
    assert response.status_code == 302
    deleted = AuditEvent.objects.get(action="tag.deleted")
    assert deleted.before == {"name": "lending", "models": ["loan-default"]}
