"""The Content-Security-Policy header on real pages, and templates that keep to it (a browser
finds nothing refused: test_csp_browser.py)."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from django.conf import settings
from django.test import Client

from tests.validation.conftest import models, upload, validate_now  # noqa: F401 - fixture

TEMPLATES = Path(settings.BASE_DIR) / "templates"
VERSION_PAGE = "/models/loan-default/versions/1/"

# Rendered into files people download and open offline (plotly.js inlined): never served as a
# page under the header, so their inline scripts are not the policy's business.
OFFLINE_FILES = {"validation/report_standalone.html", "documentation/offline.html"}


def _policy(header: str) -> dict[str, list[str]]:
    directives = (d.split() for d in header.split(";") if d.strip())
    return {name: values for name, *values in directives}


def _assert_strict(header: str) -> None:
    """What a security reviewer requires of the policy."""
    policy = _policy(header)
    assert policy["default-src"] == ["'self'"]
    assert "script-src" in policy, "without script-src, scripts fall back to default-src"
    assert policy["script-src"] == ["'self'"]
    assert "'unsafe-inline'" not in policy["script-src"]
    assert not any("'unsafe-eval'" in values for values in policy.values())
    assert policy["object-src"] == ["'none'"]
    assert policy["frame-ancestors"] == ["'none'"]
    assert policy["base-uri"] == ["'self'"]


@pytest.fixture
def validated(people, alices_model, models):  # noqa: F811 - the fixture imported above
    version = upload(
        alices_model,
        people.alice,
        models.boosting,
        holdout=models.holdout,
        reference=models.reference,
    )
    validate_now(version)
    return version


@pytest.mark.django_db
def test_every_kind_of_page_carries_the_strict_policy(people, validated):
    client = Client()
    login = client.get("/login/")
    assert login.status_code == 200
    _assert_strict(login["Content-Security-Policy"])

    client.force_login(people.rita)
    for url in ("/", VERSION_PAGE, "/api/v1/docs/"):
        response = client.get(url)
        assert response.status_code == 200, url
        _assert_strict(response["Content-Security-Policy"])
    charts = client.get(VERSION_PAGE).content.decode()
    assert 'data-plotly="chart-roc"' in charts  # the page with charts really has them


def _templates() -> list[tuple[str, str]]:
    return [
        (str(path.relative_to(TEMPLATES)), path.read_text())
        for path in sorted(TEMPLATES.rglob("*.html"))
    ]


def test_no_served_template_has_inline_script_or_event_handlers():
    inline: set[str] = set()
    for name, text in _templates():
        for attributes in re.findall(r"<script\b([^>]*)>", text, flags=re.IGNORECASE):
            if re.search(r"\bsrc\s*=", attributes):
                continue
            if re.search(r"""\btype\s*=\s*["']application/json["']""", attributes):
                continue  # data, which the browser never runs
            inline.add(name)
        # Handlers in attributes and javascript: URLs are inline script as well.
        handlers = re.findall(r"<[a-z][^>]*\son[a-z]+\s*=", text, flags=re.IGNORECASE)
        assert not handlers, (name, handlers)
        assert "javascript:" not in text.lower(), name
    # Every exemption is still needed, and nothing else has inline script.
    assert inline == OFFLINE_FILES


@pytest.mark.django_db
def test_the_offline_report_is_a_download_not_a_page(people, validated):
    client = Client()
    client.force_login(people.rita)
    response = client.get(f"{VERSION_PAGE}validation/report.html")
    assert response.status_code == 200
    assert response["Content-Disposition"].startswith("attachment")
