"""Production configuration: the deploy checklist is clean, and the API documents itself."""

from __future__ import annotations

import os
import secrets
import subprocess
import sys

import pytest
from django.conf import settings
from django.test import Client

pytestmark = pytest.mark.django_db


def test_check_deploy_reports_nothing_with_production_settings(tmp_path):
    env = {
        **os.environ,
        "DEBUG": "0",
        "SECRET_KEY": secrets.token_urlsafe(64),
        "PORTAL_HTTPS": "1",
        "ALLOWED_HOSTS": "portal.bank.example",
        "PORTAL_VAR_DIR": str(tmp_path),
    }
    for test_only in ("PYTEST_VERSION", "DJANGO_ALLOW_ASYNC_UNSAFE"):
        env.pop(test_only, None)
    result = subprocess.run(
        [sys.executable, "manage.py", "check", "--deploy", "--fail-level", "WARNING"],
        cwd=settings.BASE_DIR,
        env=env,
        capture_output=True,
        text=True,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    assert "System check identified no issues" in result.stdout


def test_a_short_secret_key_stops_the_portal_at_start_up(tmp_path):
    env = {**os.environ, "SECRET_KEY": "too-short", "PORTAL_VAR_DIR": str(tmp_path)}
    result = subprocess.run(
        [sys.executable, "manage.py", "check"],
        cwd=settings.BASE_DIR,
        env=env,
        capture_output=True,
        text=True,
    )
    assert result.returncode != 0
    assert "SECRET_KEY must be at least 50 characters long" in result.stderr


def test_the_openapi_schema_needs_a_login_and_documents_bearer_tokens(people, api):
    assert Client().get("/api/v1/schema/").status_code == 401
    response = api(people.alice).get(
        "/api/v1/schema/", HTTP_ACCEPT="application/vnd.oai.openapi+json"
    )
    assert response.status_code == 200
    schema = response.json()
    assert schema["components"]["securitySchemes"]["bearerAuth"]["scheme"] == "bearer"
    assert {"/api/v1/auth/token/", "/api/v1/me/", "/api/v1/jobs/"} <= set(schema["paths"])


def test_the_api_docs_are_served_from_our_own_static_files(people):
    client = Client()
    client.force_login(people.alice)
    page = client.get("/api/v1/docs/").content.decode()
    assert "/static/drf_spectacular_sidecar/swagger-ui-dist/swagger-ui-bundle.js" in page
    assert "cdn" not in page.lower() and "unpkg" not in page.lower()
