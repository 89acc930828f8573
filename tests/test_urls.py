"""Every URL the portal routes, walked from the URLconf: nothing answers a stranger.

A list of pages kept by hand misses the endpoint added next month (the way peers' unguarded
endpoints happened); the URLconf does not. Each route is requested with sample values for its
parameters, anonymously, with every method: only the login page, the health check, the API's
token exchange and the serving endpoint (which has its own keys) may answer at all, and none of
them with another person's data.
"""

from __future__ import annotations

import re
import uuid
from collections.abc import Iterator

import pytest
from django.test import Client
from django.urls import URLPattern, URLResolver, get_resolver
from django.urls.resolvers import RoutePattern

pytestmark = pytest.mark.django_db

SAMPLES = {"int": "1", "slug": "loan-default", "str": "x", "uuid": str(uuid.uuid4()), "path": "x"}
_PARAMETER = re.compile(r"<(?:(?P<converter>\w+):)?(?P<name>\w+)>")
# DRF's routers write regular expressions: a named group becomes a sample value.
_GROUP = re.compile(r"\(\?P<(?P<name>\w+)>[^)]*\)")
_BY_NAME = {"pk": "1", "number": "1", "id": "1", "uuid": SAMPLES["uuid"]}

# Routes a stranger may use, and what they may answer.
OPEN = {
    "login/": {200, 302, 400, 403, 405},  # the sign-in form itself
    "healthz": {200, 403, 405, 503},  # states only, for load balancers
    "api/v1/auth/token/": {400, 401, 405, 415, 429},  # exchanges a password, gives nothing away
    "serve/<slug:model>/<slug:environment>/<str:action>": {401, 404, 405},  # its own keys
    "favicon.ico": {301, 403, 405},  # to the static icon; other methods refused (CSRF: 403)
    "login/sso/": {302, 403, 404, 405},  # to the identity provider (404: SSO off; CSRF: 403)
    "login/sso/callback/": {400, 401, 403, 404, 405, 502},  # the provider's answer, checked
}
# Django's admin is behind its own login (staff only), tested by Django; the static files are
# public by design.
OWN_LOGIN = ("admin/", "static/")


def routes(patterns=None, prefix: str = "") -> Iterator[str]:  # type: ignore[no-untyped-def]
    """Each route as a path template: ``<slug:slug>`` from path(), ``(?P<pk>...)`` from DRF."""
    for entry in patterns if patterns is not None else get_resolver().url_patterns:
        if isinstance(entry.pattern, RoutePattern):
            route = prefix + str(entry.pattern)
        else:
            regex = str(entry.pattern.regex.pattern).removeprefix("^").removesuffix("$")
            if "(?P<format>" in regex:
                continue  # DRF's ".json" variant of a route that is walked anyway
            route = prefix + regex.replace("\\.", ".").replace("/?", "/")
        if isinstance(entry, URLResolver):
            yield from routes(entry.url_patterns, route)
        elif isinstance(entry, URLPattern):
            yield route


def sample_path(route: str) -> str:
    path = _GROUP.sub(lambda m: _BY_NAME.get(m["name"], "x"), route)
    path = _PARAMETER.sub(lambda m: SAMPLES[m["converter"] or "str"], path)
    assert not set(path) & set("()[]^$?*+\\"), f"cannot make a path of {route!r}"
    return "/" + path


def every_route() -> list[str]:
    return sorted({r for r in routes() if not r.startswith(OWN_LOGIN)})


def test_the_walk_finds_the_portals_routes():
    found = every_route()
    assert len(found) > 60
    for known in ("models/<slug:slug>/", "api/v1/deployments/", "audit/export.csv"):
        assert any(route.startswith(known) for route in found), known


@pytest.mark.parametrize("route", every_route())
@pytest.mark.parametrize("method", ["get", "post", "put", "patch", "delete"])
def test_no_route_answers_a_stranger(route, method):
    client = Client(enforce_csrf_checks=True)
    response = getattr(client, method)(sample_path(route))
    allowed = OPEN.get(route)
    if allowed is not None:
        assert response.status_code in allowed, (route, method, response.status_code)
        return
    if response.status_code == 302:  # a page: to the login form, and nowhere else
        assert response.url.startswith("/login/"), (route, method, response.url)
        return
    # The API says 401; a refused method or an unknown object says nothing more.
    assert response.status_code in {401, 403, 404, 405}, (route, method, response.status_code)


def test_nothing_answered_to_a_signed_in_user_may_be_stored(people, alices_model):
    """Every route, read by the one who may see everything: no answer may stay in a cache."""
    client = Client()
    client.force_login(people.admin)
    stored = {}
    for route in every_route():
        response = client.get(sample_path(route))
        if "no-store" not in response.get("Cache-Control", ""):
            stored[route] = response.status_code
    assert stored == {}


def test_favicon_ico_sends_anyone_to_the_portals_icon():
    response = Client().get("/favicon.ico")
    assert response.status_code == 301
    assert response["Location"] == "/static/favicon.svg"
    assert "max-age=86400" in response["Cache-Control"]
    assert Client().post("/favicon.ico").status_code == 405


def test_the_api_docs_keep_the_portals_header_and_load_nothing_from_elsewhere(people):
    assert Client().get("/api/v1/docs/").url.startswith("/login/")
    client = Client()
    client.force_login(people.alice)
    response = client.get("/api/v1/docs/")
    page = response.content.decode()
    assert response.status_code == 200
    # The portal's header, its navigation with "API docs" as the current page, and a way back.
    assert '<a class="brand" href="/">MLOps Portal</a>' in page
    assert '<a href="/api/v1/docs/" aria-current="page">API docs</a>' in page
    assert '<p class="muted"><a href="/">Dashboard</a> /</p>' in page
    assert '<div id="swagger-ui"></div>' in page
    # Swagger UI from the installed sidecar package and its start-up script from this address:
    # the Content-Security-Policy (script-src 'self') runs them, and nothing comes from a CDN.
    scripts = re.findall(r"<script([^>]*)>", page)
    sources = [re.search(r'src="([^"]+)"', attributes) for attributes in scripts]
    assert all(sources), scripts  # no inline script, which the policy would refuse
    paths = [found[1] for found in sources if found]
    assert any(
        "/static/drf_spectacular_sidecar/swagger-ui-dist/swagger-ui-bundle" in p for p in paths
    )
    assert "/api/v1/docs/?script=" in paths
    assert all(p.startswith("/") and not p.startswith("//") for p in paths), paths
    assert "script-src 'self'" in response["Content-Security-Policy"]
    start = client.get("/api/v1/docs/?script=")
    assert start.status_code == 200 and start["Content-Type"].startswith("application/javascript")
    assert "SwaggerUIBundle" in start.content.decode()
