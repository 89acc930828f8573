"""Answers the portal computes are never kept by a browser or proxy cache; static files are."""

from __future__ import annotations

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.test import Client

from apps.registry import services

pytestmark = pytest.mark.django_db


def no_store(response) -> bool:  # type: ignore[no-untyped-def]
    directives = {d.strip() for d in response.get("Cache-Control", "").split(",")}
    return "no-store" in directives


@pytest.fixture
def version(people, alices_model, files, settings, tmp_path):  # type: ignore[no-untyped-def]
    settings.MEDIA_ROOT = tmp_path
    return services.upload_version(
        alices_model.pk,
        actor=people.alice,
        artifact=SimpleUploadedFile("model.skops", files.skops),
        holdout=SimpleUploadedFile("holdout.csv", files.holdout_csv),
        target_column="default",
    )


def test_pages_api_answers_and_downloads_are_not_stored(people, api, version):
    page = Client()
    page.force_login(people.alice)
    token = api(people.alice)
    answers = {
        "dashboard": page.get("/"),
        "inventory page": page.get("/models/"),
        "version page": page.get("/models/loan-default/versions/1/"),
        "download from the page": page.get("/models/loan-default/versions/1/files/artifact/"),
        "inventory API": token.get("/api/v1/models/"),
        "download from the API": token.get("/api/v1/models/loan-default/versions/1/files/holdout/"),
        "someone else's model": api(people.bob).get("/api/v1/models/loan-default/"),
    }
    assert {name: r.status_code for name, r in answers.items()} == {
        **dict.fromkeys(answers, 200),
        "someone else's model": 404,
    }
    assert [name for name, response in answers.items() if not no_store(response)] == []


def test_the_sign_in_page_and_the_health_check_are_not_stored_either():
    assert no_store(Client().get("/login/"))
    assert no_store(Client().get("/healthz"))


def test_static_files_keep_their_caching(settings):
    settings.WHITENOISE_USE_FINDERS = True  # serve from the source folders, as in development
    settings.WHITENOISE_AUTOREFRESH = True
    response = Client().get("/static/js/portal.js")
    assert response.status_code == 200 and not no_store(response)
    assert "public" in response["Cache-Control"]
