"""`mlops-portal review` against a live portal."""

from __future__ import annotations

import json

import pytest

from tests.reviews.conftest import new_version
from tests.support.cli import cli_for

pytestmark = pytest.mark.django_db(transaction=True)


def test_requesting_and_showing_a_review_from_the_cli(
    people, alices_model, files, live_server, tmp_path
):
    new_version(alices_model, people.alice, files)
    run = cli_for(live_server.url, tmp_path / "login.json")
    assert (
        run("login", "--username", "alice", "--password-stdin", stdin="pw-alice\n").returncode == 0
    )
    missing = run("review", "loan-default", "1")
    assert missing.returncode == 2 and "--summary" in missing.stderr
    requested = run("review", "loan-default", "1", "--summary", "Ready for IT")
    assert requested.returncode == 0, requested.stderr
    assert "loan-default version 1: review open" in requested.stdout
    assert "needs 1 model_ops, 1 risk_owner" in requested.stdout
    again = run("review", "loan-default", "1", "--summary", "Again")
    assert again.returncode == 1 and "already been submitted" in again.stderr
    shown = json.loads(run("review", "loan-default", "1", "--show", "--json").stdout)
    assert shown["status"] == "open" and shown["requested_by"] == "alice"
