"""The registry's REST API: every endpoint for every role, scoping, and hostile uploads."""

from __future__ import annotations

import io
import json
import uuid
import zipfile

import pytest
from django.db import connection
from django.test import Client
from django.test.utils import CaptureQueriesContext

from apps.registry import services
from apps.registry.models import ModelVersion, StoredFile
from tests.registry.conftest import Body, files_in, multipart, stored_files

pytestmark = pytest.mark.django_db

M = "/api/v1/models/loan-default"


def upload_request(client, files, artifact_name="model.skops", **extra_fields):
    body, content_type = multipart(
        {"target_column": "default", **extra_fields},
        {"artifact": (artifact_name, files.skops), "holdout": ("holdout.csv", files.holdout_csv)},
    )
    return client.post(f"{M}/versions/", data=body, content_type=content_type)


# Expected answer per user: alice owns the model (her team), rita is its risk owner, carl is
# compliance, bob and ivan have no access to it yet, admin may do anything.
MATRIX = [
    (
        "GET",
        "/",
        None,
        {"alice": 200, "rita": 200, "carl": 200, "bob": 404, "ivan": 404, "admin": 200},
    ),
    (
        "PATCH",
        "/",
        {"description": "Probability of default"},
        {"alice": 200, "rita": 403, "carl": 403, "bob": 404, "ivan": 404, "admin": 200},
    ),
    (  # governed: proposed through /changes/ instead, decided by the risk owner or compliance
        "PATCH",
        "/",
        {"risk_tier": "low"},
        {"alice": 403, "rita": 403, "carl": 403, "bob": 404, "ivan": 404, "admin": 403},
    ),
    (
        "GET",
        "/shares/",
        None,
        {"alice": 200, "rita": 200, "carl": 200, "bob": 404, "ivan": 404, "admin": 200},
    ),
    (
        "POST",
        "/shares/",
        {"grantee": "group:team:fraud", "level": "view"},
        {"alice": 201, "rita": 403, "carl": 403, "bob": 404, "ivan": 404, "admin": 201},
    ),
    (
        "GET",
        "/versions/",
        None,
        {"alice": 200, "rita": 200, "carl": 200, "bob": 404, "ivan": 404, "admin": 200},
    ),
    (
        "GET",
        "/versions/1/",
        None,
        {"alice": 200, "rita": 200, "carl": 200, "bob": 404, "ivan": 404, "admin": 200},
    ),
    (
        "GET",
        "/versions/1/files/artifact/",
        None,
        {"alice": 200, "rita": 200, "carl": 200, "bob": 404, "ivan": 404, "admin": 200},
    ),
    (
        "GET",
        "/versions/9/",
        None,
        {"alice": 404, "rita": 404, "carl": 404, "bob": 404, "ivan": 404, "admin": 404},
    ),
]


@pytest.mark.parametrize("who", ["alice", "rita", "carl", "bob", "ivan", "admin"])
@pytest.mark.parametrize(
    ("method", "path", "body", "expected"), MATRIX, ids=[f"{m} {p}" for m, p, _, _ in MATRIX]
)
def test_every_endpoint_answers_each_role_as_expected(
    people, api, alices_version, who, method, path, body, expected
):
    client = api(getattr(people, who))
    response = client.generic(
        method, f"{M}{path}", data=json.dumps(body) if body else "", content_type="application/json"
    )
    assert response.status_code == expected[who], response.content[:300]


@pytest.mark.parametrize(
    ("who", "status"),
    [("alice", 201), ("rita", 403), ("carl", 403), ("bob", 404), ("ivan", 404), ("admin", 201)],
)
def test_uploading_a_version(people, api, alices_model, files, who, status):
    response = upload_request(api(getattr(people, who)), files)
    assert response.status_code == status, response.content[:300]


@pytest.mark.parametrize(
    ("who", "status"),
    [("alice", 201), ("bob", 403), ("ivan", 403), ("rita", 403), ("carl", 403), ("admin", 201)],
)
def test_registering_a_model_for_the_retail_team(people, api, who, status):
    response = api(getattr(people, who)).post(
        "/api/v1/models/",
        {
            "name": "Mortgage PD",
            "team": "retail-credit",
            "risk_tier": "high",
            "risk_owner": "rita",
            "use_case": "Price mortgages",
            "tags": ["credit"],
        },
        format="json",
    )
    assert response.status_code == status, response.content[:300]
    if status == 201:
        assert response.json()["slug"] == "mortgage-pd"


def test_removing_a_share(people, api, alices_model):
    services.share_model(alices_model.pk, actor=people.alice, grantee=people.ivan, level="view")
    assert api(people.rita).delete(f"{M}/shares/user:ivan/").status_code == 403
    assert api(people.ivan).get(f"{M}/").status_code == 200
    assert api(people.alice).delete(f"{M}/shares/user:ivan/").status_code == 204
    assert api(people.ivan).get(f"{M}/").status_code == 404
    response = api(people.alice).delete(f"{M}/shares/user:rita/")
    assert response.status_code == 400 and "follows from ownership" in response.json()["detail"]


def test_a_refused_share_says_nothing_about_who_exists(people, api, alices_model):
    # bob may change the model but not share it: a refusal, whether or not the user exists.
    services.share_model(alices_model.pk, actor=people.alice, grantee=people.bob, level="change")
    for grantee in ("user:ivan", "user:nobody-at-all"):
        response = api(people.bob).post(
            f"{M}/shares/", {"grantee": grantee, "level": "view"}, format="json"
        )
        assert response.status_code == 403, (grantee, response.content)
        assert api(people.bob).delete(f"{M}/shares/{grantee}/").status_code == 403


def test_compliance_is_shared_with_for_view_only(people, api, alices_model):
    for grantee in ("user:carl", "group:compliance"):
        response = api(people.alice).post(
            f"{M}/shares/", {"grantee": grantee, "level": "change"}, format="json"
        )
        assert response.status_code == 400 and "read-only" in response.json()["detail"]
    assert api(people.carl).patch(f"{M}/", {"use_case": "x"}, format="json").status_code == 403


def test_inventory_filters_narrow_the_list_not_one_model(people, api, alices_model):
    alice = api(people.alice)
    assert alice.get(f"{M}/", {"team": "fraud"}).status_code == 200
    assert alice.get("/api/v1/models/", {"team": "fraud"}).json()["results"] == []


def test_bob_never_sees_alices_models_in_any_listing(people, api, alices_version, bobs_model):
    services.register_model(
        actor=people.alice,
        name="Loan default 2",
        use_case="loans",
        team=people.retail,
        risk_tier="low",
        risk_owner=people.rita,
        tags=["fraud"],
    )
    bob = api(people.bob)
    queries = [
        {},
        {"q": "loan"},
        {"q": "fraud"},
        {"risk_tier": "high"},
        {"team": "retail-credit"},
        {"owner": "alice"},
        {"risk_owner": "rita"},
        {"status": "validating"},
        {"sort": "risk"},
        {"sort": "-versions"},
        {"sort": "-updated"},
        {"page": 1},
        {"page": 2},
    ]
    for query in queries:
        response = bob.get("/api/v1/models/", query)
        slugs = {m["slug"] for m in response.json().get("results", [])}
        assert slugs <= {"card-fraud"}, (query, slugs)
    assert bob.get(f"{M}/versions/").status_code == 404
    everything = api(people.admin).get("/api/v1/models/", {"q": "fraud"}).json()
    assert {m["slug"] for m in everything["results"]} == {"card-fraud", "loan-default-2"}


def test_the_list_filters_searches_sorts_and_pages(people, api, alices_version, bobs_model):
    admin = api(people.admin)

    def slugs(**query):
        return [m["slug"] for m in admin.get("/api/v1/models/", query).json()["results"]]

    assert slugs() == ["card-fraud", "loan-default"]
    assert slugs(q="decline") == ["loan-default"]  # use case
    assert slugs(q="credit") == ["loan-default"]  # tag
    assert slugs(sort="risk") == ["loan-default", "card-fraud"]
    assert slugs(status="none") == ["card-fraud"]
    assert slugs(status="validating", risk_owner="rita") == ["loan-default"]
    body = admin.get("/api/v1/models/", {"q": "loan"}).json()
    assert body["count"] == 1 and body["results"][0]["latest_version"] == {
        "number": 1,
        "status": "validating",
    }


@pytest.mark.parametrize(
    ("query", "detail"),
    [
        (
            {"risk_tier": "high", "sort": "bogus"},
            "sort: “bogus” is not one of: name, -updated, risk, -versions.",
        ),
        ({"risk_tier": "extreme"}, "risk_tier: “extreme” is not one of: high, medium, low."),
        ({"status": "live", "q": "loan"}, "status: “live” is not one of: none, draft, "),
    ],
    ids=["sort", "risk_tier", "status"],
)
def test_an_invalid_filter_value_is_refused_naming_the_parameter_and_what_it_accepts(
    people, api, alices_version, bobs_model, query, detail
):
    """Dropping the bad filter (or, as before, every filter) would list models not asked for."""
    response = api(people.admin).get("/api/v1/models/", query)
    assert response.status_code == 400
    body = response.json()
    assert body["detail"].startswith(detail)
    assert list(body["errors"]) == [detail.split(":")[0]]


def test_each_listed_model_reads_as_its_own_detail(people, api, alices_version, bobs_model):
    """The list builds its rows without the serializer (for speed); it must say the same."""
    services.update_model(
        bobs_model.pk, actor=people.bob, changes={"tags": ["zeta", "alpha", "card"]}
    )
    admin = api(people.admin)
    listed = admin.get("/api/v1/models/", {"sort": "name"}).json()["results"]
    assert {m["slug"] for m in listed} == {"loan-default", "card-fraud"}
    for row in listed:
        assert row == admin.get(f"/api/v1/models/{row['slug']}/").json()
    assert next(m for m in listed if m["slug"] == "card-fraud")["tags"] == [
        "alpha",
        "card",
        "zeta",
    ]


def test_the_list_costs_the_same_queries_for_2_or_40_models(people, api, files):
    client = api(people.alice)

    def register(n):
        for i in range(n):
            model = services.register_model(
                actor=people.alice,
                name=f"m{uuid.uuid4().hex[:8]}",
                use_case="u",
                team=people.retail,
                risk_tier="low",
                risk_owner=people.rita,
                tags=[f"t{i}", "x"],
            )
            ModelVersion.objects.create(
                model=model,
                number=1,
                artifact_format="skops",
                target_column="y",
                uploaded_by=people.alice,
            )

    register(2)
    client.get("/api/v1/models/")
    with CaptureQueriesContext(connection) as few:
        client.get("/api/v1/models/")
    register(38)
    with CaptureQueriesContext(connection) as many:
        assert len(client.get("/api/v1/models/").json()["results"]) == 40
    assert len(many) == len(few)


@pytest.mark.parametrize(
    "name",
    [
        "../model.skops",
        "../../etc/model.skops",
        "%2e%2e%2fmodel.skops",
        "%252e%252e%252fmodel.skops",
        "..\\model.skops",
        "/tmp/model.skops",
        "model\x00.skops",
        "model\x1b.skops",
    ],
)
def test_traversal_file_names_get_a_clear_400_and_nothing_is_stored(
    people, api, alices_model, files, media, name
):
    response = upload_request(api(people.alice), files, artifact_name=name)
    assert response.status_code == 400
    assert "send the plain file name" in response.json()["detail"]
    assert stored_files(media) == [] and not StoredFile.objects.exists()


@pytest.mark.parametrize("name", ["model;x.skops", "model#1.skops"])
def test_odd_but_plain_names_are_kept_as_metadata_only(
    people, api, alices_model, files, media, name
):
    response = upload_request(api(people.alice), files, artifact_name=name)
    assert response.status_code == 201
    artifact = StoredFile.objects.get(role="artifact")
    assert artifact.original_name == name
    assert name not in artifact.key and stored_files(media)[0].startswith("registry/")


def test_refused_uploads_answer_with_a_message_and_store_nothing(
    people, api, alices_model, files, media, settings
):
    client = api(people.alice)
    body, content_type = multipart(
        {"target_column": "default"},
        {"artifact": ("model.skops", files.pickle), "holdout": ("holdout.csv", files.holdout_csv)},
    )
    response = client.post(f"{M}/versions/", data=body, content_type=content_type)
    assert response.status_code == 400
    assert response.json() == {
        "detail": "“model.skops” does not contain what its extension says "
        "(a .skops file is a zip archive).",
        "field": "artifact",
    }
    body, content_type = multipart(
        {"target_column": "default"},
        {"artifact": ("model.skops", b""), "holdout": ("holdout.csv", files.holdout_csv)},
    )
    assert (
        client.post(f"{M}/versions/", data=body, content_type=content_type).json()["detail"]
        == "The file is empty."
    )
    response = upload_request(client, files, target_column="label")
    assert response.status_code == 400 and "no column named “label”" in response.json()["detail"]
    settings.PORTAL_MAX_DATASET_BYTES = 100
    response = upload_request(client, files)
    assert response.status_code == 413 and response.json()["field"] == "holdout"
    assert stored_files(media) == []


def _rezipped(skops: bytes, extra: dict[str, bytes]) -> bytes:
    """The skops archive with members added, as an attacker would edit one."""
    out = io.BytesIO()
    with zipfile.ZipFile(io.BytesIO(skops)) as source, zipfile.ZipFile(out, "w") as target:
        for member in source.infolist():
            target.writestr(member, source.read(member))
        for name, content in extra.items():
            target.writestr(name, content)
    return out.getvalue()


@pytest.mark.parametrize(
    ("members", "message"),
    [
        ({"../../x.npy": b"1"}, "holds a file named '../../x.npy', a path leading out"),
        ({"/etc/cron.d/x": b"1"}, "holds a file named '/etc/cron.d/x', an absolute path"),
        ({"C:\\x.npy": b"1"}, "an absolute path"),
        ({"a\\..\\x.npy": b"1"}, "with a backslash"),
        ({f"junk{i}.npy": b"" for i in range(3000)}, "holds files its schema.json does not use"),
        ({"schema.json": b"{}"}, "holds two files of the same name"),
    ],
)
def test_archives_with_unsafe_or_junk_members_are_refused_at_upload(
    people, api, alices_model, files, media, members, message
):
    crafted = _rezipped(files.skops, members)
    body, content_type = multipart(
        {"target_column": "default"},
        {"artifact": ("model.skops", crafted), "holdout": ("holdout.csv", files.holdout_csv)},
    )
    response = api(people.alice).post(f"{M}/versions/", data=body, content_type=content_type)
    assert response.status_code == 400, response.content
    assert message in response.json()["detail"] and response.json()["field"] == "artifact"
    assert stored_files(media) == [] and not StoredFile.objects.exists()


def test_an_archive_with_more_members_than_allowed_is_refused(
    people, api, alices_model, files, media, settings
):
    settings.PORTAL_SKOPS_MAX_MEMBERS = 3
    response = upload_request(api(people.alice), files)
    assert response.status_code == 400
    assert "at most 3 are accepted" in response.json()["detail"]
    assert stored_files(media) == []


TOO_LONG = (
    "The upload is 51,200.0 MB; an upload may carry at most 4 MB (the artifact up to 1 MB, the "
    "holdout and the reference sample up to 1 MB each). Nothing was stored."
)


def browser_session(user) -> Client:
    """A logged-in browser as the upload page's script is: session cookie, CSRF checked."""
    client = Client(enforce_csrf_checks=True)
    client.force_login(user)
    return client


@pytest.mark.parametrize("via", ["token", "upload page"])
def test_a_50_gb_upload_is_refused_before_a_byte_of_it_is_read(
    people, api, alices_model, media, upload_temp, one_mb_limits, via
):
    if via == "token":
        client, headers = api(people.alice), {}
    else:  # the page's script posts here with the session cookie and the CSRF token
        client = browser_session(people.alice)
        token = client.get("/models/loan-default/versions/new/").cookies["csrftoken"].value
        headers = {"X-CSRFToken": token}
    body = Body(
        {"target_column": "default"}, "artifact", "model.skops", 50 * 2**30, temp_dir=upload_temp
    )
    response = client.generic(
        "POST",
        f"{M}/versions/",
        content_type=body.content_type,
        headers=headers,
        **body.environ(),
    )
    assert response.status_code == 413
    assert response.json() == {"detail": TOO_LONG, "field": "non_field_errors"}
    assert body.read_bytes == 0
    assert files_in(upload_temp) == [] and stored_files(media) == []
    assert not ModelVersion.objects.exists()


@pytest.mark.parametrize(
    ("field", "name", "before"),
    [
        ("artifact", "model.skops", []),
        ("holdout", "holdout.csv", ["artifact"]),
        ("reference", "train.csv", ["artifact", "holdout"]),
    ],
)
def test_a_file_over_its_limit_is_stopped_as_it_arrives_whatever_length_it_declares(
    people, api, alices_model, files, media, upload_temp, one_mb_limits, field, name, before
):
    small = {
        "artifact": ("model.skops", files.skops),
        "holdout": ("holdout.csv", files.holdout_csv),
    }
    body = Body(
        {"target_column": "default"},
        field,
        name,
        3 * 2**20,  # the whole body is within the 4 MB an upload may carry
        temp_dir=upload_temp,
        after={f: small[f] for f in before},
        declared_part_length=100,  # the part's own header lies
    )
    response = api(people.alice).generic(
        "POST", f"{M}/versions/", content_type=body.content_type, **body.environ()
    )
    assert response.status_code == 413
    assert response.json() == {
        "detail": f"“{name}” is larger than the {field} limit of 1 MB; nothing was stored.",
        "field": field,
    }
    assert body.peak_on_disk <= 2**20  # stopped at the limit, not spooled to the end
    assert files_in(upload_temp) == [] and stored_files(media) == []
    assert not ModelVersion.objects.exists()


@pytest.mark.parametrize("declared", [None, 1000], ids=["no Content-Length", "a short one"])
def test_a_body_is_read_no_further_than_its_declared_length(
    people, api, alices_model, media, upload_temp, one_mb_limits, declared
):
    body = Body(
        {"target_column": "default"}, "artifact", "m.skops", 50 * 2**30, temp_dir=upload_temp
    )
    response = api(people.alice).generic(
        "POST",
        f"{M}/versions/",
        content_type=body.content_type,
        **body.environ(declared_length=declared),
    )
    assert response.status_code == 400
    assert body.read_bytes <= (declared or 0)
    assert files_in(upload_temp) == [] and stored_files(media) == []


def test_a_session_upload_to_the_api_without_a_csrf_token_is_refused(
    people, alices_model, files, media
):
    body, content_type = multipart(
        {"target_column": "default"},
        {"artifact": ("model.skops", files.skops), "holdout": ("holdout.csv", files.holdout_csv)},
    )
    client = browser_session(people.alice)
    client.get("/models/loan-default/versions/new/")  # the page set the CSRF cookie
    response = client.post(f"{M}/versions/", data=body, content_type=content_type)
    assert response.status_code == 403
    assert response.json()["detail"] == "CSRF Failed: CSRF token missing."
    assert stored_files(media) == [] and not ModelVersion.objects.exists()


def test_a_session_upload_to_the_api_from_a_foreign_origin_is_refused(
    people, alices_model, files, media
):
    client = browser_session(people.alice)
    token = client.get("/models/loan-default/versions/new/").cookies["csrftoken"].value
    body, content_type = multipart(
        {"target_column": "default"},
        {"artifact": ("model.skops", files.skops), "holdout": ("holdout.csv", files.holdout_csv)},
    )
    foreign = client.post(
        f"{M}/versions/",
        data=body,
        content_type=content_type,
        headers={"X-CSRFToken": token, "Origin": "https://evil.example"},
    )
    assert foreign.status_code == 403
    assert foreign.json()["detail"].startswith("CSRF Failed: Origin checking failed")
    assert stored_files(media) == [] and not ModelVersion.objects.exists()
    own = client.post(  # the same upload from the portal's own page goes through
        f"{M}/versions/",
        data=body,
        content_type=content_type,
        headers={"X-CSRFToken": token, "Origin": "http://testserver"},
    )
    assert own.status_code == 201


def test_downloads_are_attachments_that_browsers_do_not_sniff(people, api, alices_version, files):
    response = api(people.carl).get(f"{M}/versions/1/files/artifact/")
    assert response.status_code == 200
    assert response["Content-Type"] == "application/octet-stream"
    assert response["X-Content-Type-Options"] == "nosniff"
    assert (
        response["Content-Disposition"] == 'attachment; filename="loan-default-v1-artifact.skops"'
    )
    assert b"".join(response.streaming_content) == files.skops


def test_a_version_answers_with_its_files(people, api, alices_version, files):
    body = api(people.rita).get(f"{M}/versions/1/").json()
    assert body["number"] == 1 and body["uploaded_by"] == "alice" and body["status"] == "validating"
    assert {f["role"] for f in body["files"]} == {"artifact", "holdout", "reference"}
    assert body["web_url"] == "/models/loan-default/versions/1/"


def test_the_schema_documents_the_registry_and_its_errors(people, api):
    schema = api(people.alice).get("/api/v1/schema/", HTTP_ACCEPT="application/json").json()
    paths = schema["paths"]
    assert {
        "/api/v1/models/",
        "/api/v1/models/{slug}/",
        "/api/v1/models/{slug}/versions/",
        "/api/v1/models/{slug}/versions/{number}/",
        "/api/v1/models/{slug}/shares/",
    } <= set(paths)
    upload_op = paths["/api/v1/models/{slug}/versions/"]["post"]
    assert {"201", "400", "403", "404", "413"} <= set(upload_op["responses"])
    assert "multipart/form-data" in upload_op["requestBody"]["content"]
