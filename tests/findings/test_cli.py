"""`mlops-portal findings` against a live portal."""

from __future__ import annotations

import json
from datetime import timedelta

import pytest
from django.utils import timezone

from apps.findings import services
from apps.reviews import services as reviews
from tests.reviews.conftest import new_version
from tests.support.cli import cli_for

pytestmark = pytest.mark.django_db(transaction=True)


def test_listing_a_models_findings_from_the_cli(people, alices_model, files, live_server, tmp_path):
    version = new_version(alices_model, people.alice, files)
    reviews.request_review(version.pk, actor=people.alice, summary="Ready")
    for title, severity in (("Holdout overlaps training", "high"), ("Typo", "low")):
        services.raise_finding(
            version.pk,
            actor=people.rita,
            title=title,
            severity=severity,
            category="data",
            description="Seen in the report.",
            owner=people.alice,
            due_date=timezone.localdate() + timedelta(days=10),
        )
    alice = cli_for(live_server.url, tmp_path / "alice.json")
    alice("login", "--username", "alice", "--password-stdin", stdin="pw-alice\n")
    listed = alice("findings", "loan-default")
    assert listed.returncode == 0, listed.stderr
    assert "Holdout overlaps training" in listed.stdout and "high" in listed.stdout
    high = json.loads(alice("findings", "loan-default", "--severity", "high", "--json").stdout)
    assert [f["title"] for f in high["results"]] == ["Holdout overlaps training"]
    bob = cli_for(live_server.url, tmp_path / "bob.json")
    bob("login", "--username", "bob", "--password-stdin", stdin="pw-bob\n")
    assert bob("findings", "loan-default").stdout.strip() == "No findings."
