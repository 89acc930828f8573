"""The REST API answers as its OpenAPI schema says, on real data, as several roles.

Schemathesis reads the portal's own schema (``/api/v1/schema/``), generates requests for every
operation, valid and invalid, and sends each of them through Django's WSGI handler in this
process, as alice (data scientist, her team owns the model), ivan (model operations) and carl
(compliance). Every answer must be below 500, carry a documented status code, content type and
headers, and have a body matching the documented schema. No operation is left out: the token
exchange's rate limit answers a documented 429, and file downloads are documented as
``application/octet-stream``.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import pytest
import schemathesis
from django.core.handlers.wsgi import WSGIHandler
from django.core.signals import request_finished, request_started
from django.db import close_old_connections, transaction
from django.test import Client
from hypothesis import HealthCheck, note, settings
from hypothesis import strategies as st
from schemathesis.checks import not_a_server_error
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    response_headers_conformance,
    response_schema_conformance,
    status_code_conformance,
)

from apps.accounts import services as accounts
from apps.deployments import services as deployments
from apps.reviews import services as reviews
from tests.deployments.conftest import approve, deploy_now
from tests.reviews.conftest import new_version
from tests.validation.conftest import models, upload, validate_now

__all__ = ["models"]  # a fixture: importing it makes it available here

pytestmark = pytest.mark.django_db

CHECKS = [
    not_a_server_error,
    status_code_conformance,
    content_type_conformance,
    response_headers_conformance,
    response_schema_conformance,
]
ROLES = ("alice", "ivan", "carl")


@dataclass(frozen=True)
class Portal:
    """What the generated requests run against, and who sends them."""

    tokens: dict[str, str]  # username -> raw bearer token
    bearer_ids: set[int]  # those tokens' ids
    real: dict[str, list[Any]]  # path parameter or body field -> values naming real objects


@pytest.fixture
def portal(people, alices_model, bobs_model, models, files, settings, tmp_path) -> Portal:
    """Alice's model with v1 approved and live in staging, v2 validated and under review, with a
    comment; a serving key; Bob's model with a version still validating; the notifications and
    jobs all that made."""
    settings.MEDIA_ROOT = tmp_path / "media"
    v1 = upload(alices_model, people.alice, models.logistic, holdout=models.holdout)
    validate_now(v1)  # for real: deploying needs the validated .skops copy it makes
    approve(people, v1)
    deploy_now(deployments.request_deployment(v1.pk, "staging", actor=people.ivan))
    v2 = new_version(alices_model, people.alice, files)
    reviews.request_review(v2.pk, actor=people.alice, summary="Same model, new holdout")
    reviews.add_comment(v2.pk, actor=people.carl, body="@alice where is the **fairness** check?")
    key, _ = deployments.create_serving_key(
        alices_model.pk, "staging", actor=people.ivan, name="loan system"
    )
    bobs = upload(bobs_model, people.bob, models.logistic, holdout=models.holdout)
    spare, _ = accounts.create_token(actor=people.alice, name="laptop")
    bearers = {
        username: accounts.create_token(actor=getattr(people, username), name="schemathesis")
        for username in ROLES
    }
    deployment = v1.deployments.get()
    return Portal(
        tokens={username: raw for username, (_, raw) in bearers.items()},
        bearer_ids={token.pk for token, _ in bearers.values()},
        real={
            "slug": [alices_model.slug, bobs_model.slug],
            "model": [alices_model.slug, bobs_model.slug],
            "number": [v1.number, v2.number, bobs.number],
            "version": [v1.number, v2.number],
            "role": ["artifact", "holdout", "reference", "canonical"],
            "grantee": ["user:bob", "user:rita", f"group:{people.fraud.group.name}"],
            "id": [deployment.pk, key.pk, spare.pk],
            "uuid": [str(deployment.job.uuid)],
            "environment": ["staging", "production"],
            "team": [people.retail.slug, people.fraud.slug],
            "risk_owner": ["rita"],
        },
    )


def _sometimes_real(generated: Any, real: dict[str, list[Any]]) -> st.SearchStrategy[Any]:
    """The generated values, or (as often) the same with those naming objects replaced by real
    ones: generated slugs and ids almost never name anything, so alone they test only 404s."""
    if not isinstance(generated, dict):
        return st.just(generated)
    known = {name: st.sampled_from(real[name]) for name in generated if name in real}
    if not known:
        return st.just(generated)
    return st.one_of(
        st.just(generated),
        st.fixed_dictionaries(known).map(lambda chosen: {**generated, **chosen}),
    )


@pytest.fixture
def api_schema(portal: Portal):  # type: ignore[no-untyped-def]
    """The schema as the API serves it (it needs a login), run against the app in-process."""
    response = Client().get(
        "/api/v1/schema/",
        HTTP_ACCEPT="application/vnd.oai.openapi+json",
        HTTP_AUTHORIZATION=f"Bearer {portal.tokens['alice']}",
    )
    assert response.status_code == 200, response.content[:500]
    schema = schemathesis.openapi.from_dict(response.json())
    schema.app = WSGIHandler()

    @schema.hook
    def flatmap_path_parameters(context, path_parameters):  # type: ignore[no-untyped-def]
        return _sometimes_real(path_parameters, portal.real)

    @schema.hook
    def flatmap_body(context, body):  # type: ignore[no-untyped-def]
        return _sometimes_real(body, portal.real)

    @schema.hook
    def filter_path_parameters(context, path_parameters):  # type: ignore[no-untyped-def]
        # Revoking the token a role sends would leave that role nothing but 401s afterwards.
        revokes = context.operation.path == "/api/v1/auth/tokens/{id}/"
        return not (revokes and path_parameters.get("id") in portal.bearer_ids)

    # Django closes the database connection when a request ends, and with it the test's
    # transaction. Keep it open while the generated requests run, as Django's test client does
    # around each of its own requests (so this must come after the client's request above).
    for signal in (request_started, request_finished):
        signal.disconnect(close_old_connections)
    yield schema
    for signal in (request_started, request_finished):
        signal.connect(close_old_connections)


schema = schemathesis.pytest.from_fixture("api_schema")


@pytest.fixture(autouse=True)
def _node_id_for_schemathesis(request: pytest.FixtureRequest) -> None:
    """Schemathesis 4.32 reads and renames the running test through ``Node._nodeid``, an
    attribute pytest 9.2 no longer has (each operation is still reported as its own subtest)."""
    request.node._nodeid = request.node.nodeid


@schema.parametrize()
@settings(
    max_examples=5,  # per operation, besides schemathesis' own boundary and example cases
    deadline=None,
    database=None,
    derandomize=True,  # the same requests on every run, so that CI's verdict is reproducible
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
def test_every_operation_answers_as_documented_for_every_role(case, portal: Portal) -> None:
    for username in ROLES:
        note(f"as {username}")
        # Each request in its own savepoint, as each has its own transaction in production: a
        # failed one must not leave the test's transaction unusable for the requests after it.
        with transaction.atomic():
            case.call_and_validate(
                headers={"Authorization": f"Bearer {portal.tokens[username]}"}, checks=CHECKS
            )


# What the run above found, pinned one by one.


def test_invalid_input_is_a_400_whose_detail_names_each_field(people, api):
    response = api(people.alice).post("/api/v1/models/", {"name": "Mortgage PD"}, format="json")
    assert response.status_code == 400
    body = response.json()
    assert body["detail"].startswith("use_case: This field is required. team: ")
    assert set(body["errors"]) == {"use_case", "team", "risk_tier", "risk_owner"}


def test_an_api_address_that_matches_no_route_answers_json_and_a_page_html(people, api):
    response = api(people.alice).get("/api/v1/models/not a slug/")
    assert response.status_code == 404 and response["Content-Type"] == "application/json"
    assert "/api/v1/docs/" in response.json()["detail"]
    page = Client().get("/models/not a slug/")
    assert page.status_code == 404 and page["Content-Type"].startswith("text/html")


def test_a_body_django_will_not_read_is_refused_in_json(people, api):
    fields = "&".join(f"ids={n}" for n in range(1, 1100))
    response = api(people.rita).post(
        "/api/v1/inbox/read/", fields, content_type="application/x-www-form-urlencoded"
    )
    assert response.status_code == 400
    assert response.json() == {"detail": "The request has more than 1000 fields; send fewer."}


def test_the_access_list_is_documented_as_the_plain_list_it_is(people, api, alices_model):
    schema = api(people.alice).get("/api/v1/schema/", HTTP_ACCEPT="application/json").json()
    listed = schema["paths"]["/api/v1/models/{slug}/shares/"]["get"]
    assert "page" not in [p["name"] for p in listed.get("parameters", [])]
    assert listed["responses"]["200"]["content"]["application/json"]["schema"]["type"] == "array"
    grants = api(people.alice).get("/api/v1/models/loan-default/shares/").json()
    assert isinstance(grants, list) and grants
