"""Before/after values in words (issue 16, "Words, not code"): what the audit pages show of a
change, never a Python repr."""

from __future__ import annotations

import re

import pytest
from django.test import Client
from django.urls import reverse
from django.utils import timezone

from apps.audit import services
from apps.audit.templatetags.audit_changes import Change, changes_of, field_label, readable

REPRS = ("{'", "['", "[]", "{}", "True", "False", "None")


def test_field_names_read_as_words():
    assert field_label("risk_tier") == "Risk tier"
    assert field_label("status") == "Status"
    assert field_label("SHA256_of_artifact") == "SHA256 of artifact"


@pytest.mark.parametrize(
    ("value", "shown"),
    [
        (["credit", "mortgage"], "credit, mortgage"),
        ([], "—"),
        (True, "yes"),
        (False, "no"),
        (None, "—"),
        ("", "—"),
        ({}, "—"),
        (0, "0"),
        (0.7, "0.7"),
        ("high", "high"),
        ({"model_ops": 1, "risk_owner": 2}, "Model ops: 1; Risk owner: 2"),
        ({"auc": {"min": 0.7, "drop": None}}, "Auc: (min: 0.7; drop: —)"),
        (
            [{"role": "model_ops", "by": "ivan"}, {"role": "risk_owner", "by": "rita"}],
            "(role: model_ops; by: ivan), (role: risk_owner; by: rita)",
        ),
        ([["a", "b"], "c"], "(a, b), c"),
        ({"exception": False, "reasons": ["too slow"]}, "Exception: no; Reasons: too slow"),
    ],
)
def test_values_read_without_python_reprs(value, shown):
    assert readable(value) == shown
    assert not any(r in readable(value) for r in REPRS)


def test_dates_stored_as_iso_text_read_as_the_portal_writes_dates():
    with timezone.override("UTC"):
        assert readable("2026-12-26") == "26 Dec 2026"
        assert readable("2026-12-05T14:05:00+00:00") == "5 Dec 2026, 14:05"
    assert readable("2026-13-40") == "2026-13-40"
    assert readable("v2026-12-26") == "v2026-12-26"


def test_a_change_lists_each_differing_field_once_in_words():
    before = {"tags": ["credit"], "risk_tier": "high", "active": True, "same": 1}
    after = {"tags": ["credit", "mortgage"], "risk_tier": "low", "active": False, "same": 1}
    assert changes_of(before, after) == [
        Change("Active", "yes", "no", True),
        Change("Risk tier", "high", "low", True),
        Change("Tags", "credit", "credit, mortgage", True),
    ]


def test_a_new_value_has_no_before_and_a_removed_one_reads_as_nothing():
    assert changes_of(None, {"owner": "alice"}) == [Change("Owner", "—", "alice", False)]
    assert changes_of({"note": "x"}, {}) == [Change("Note", "x", "—", True)]
    assert changes_of(None, None) == []


@pytest.mark.django_db
def test_the_trail_shows_field_changes_in_words_not_as_links(people):
    services.record(
        people.alice,
        "model.updated",
        object_type="registry.registeredmodel",
        object_id="1",
        object_repr="Loan default",
        before={"tags": ["credit"], "risk_tier": "high", "shared": False, "note": None},
        after={
            "tags": ["credit", "mortgage"],
            "risk_tier": "low",
            "shared": True,
            "note": "",
            "thresholds": {"auc": 0.7},
        },
    )
    client = Client()
    client.force_login(people.carl)
    page = client.get(reverse("audit:list")).content.decode()
    changes = re.search(r'<dl class="changes">(.*?)</dl>', page, re.S)
    assert changes is not None
    text = re.sub(r"\s+", " ", re.sub(r"<[^>]+>", "", changes.group(1))).strip()
    assert "Tags: credit → credit, mortgage" in text
    assert "Risk tier: high → low" in text
    assert "Shared: no → yes" in text
    assert "Thresholds: Auc: 0.7" in text
    assert "Note" not in text  # None and "" both read "—": nothing changed for a person
    assert not any(r in changes.group(1) for r in REPRS)
    # Underlined text reads as a link: the values are neither links nor <ins>/<u>.
    assert not re.search(r"<(a|ins|u)\b", changes.group(1))
