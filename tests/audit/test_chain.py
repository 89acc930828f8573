"""The hash chain as pure functions: what it covers and how it names the first bad row."""

from __future__ import annotations

import math
from datetime import UTC, datetime, timedelta

from apps.audit import chain


def _events(n: int) -> list[dict]:
    rows, prev = [], chain.GENESIS
    start = datetime(2026, 1, 1, tzinfo=UTC)
    for i in range(1, n + 1):
        row = {
            "id": i,
            "occurred_at": start + timedelta(seconds=i),
            "actor_id": 7,
            "actor_username": "alice",
            "action": "model.updated",
            "object_type": "registry.registeredmodel",
            "object_id": str(i),
            "object_repr": f"model {i}",
            "before": {"risk_tier": "low"},
            "after": {"risk_tier": "high"},
            "request_id": f"req{i}",
            "ip": "10.0.0.1",
            "user_agent": "pytest",
            "prev_hash": prev,
        }
        row["hash"] = chain.compute_hash(row)
        prev = row["hash"]
        rows.append(row)
    return rows


def test_an_untouched_chain_verifies():
    result = chain.verify(_events(5))
    assert result.intact and result.checked == 5
    assert result.describe() == "chain intact: 5 events verified"


def test_an_edited_row_is_named():
    rows = _events(5)
    rows[2]["after"] = {"risk_tier": "low"}
    result = chain.verify(rows)
    assert not result.intact
    assert result.first_bad_id == 3
    assert "edited" in result.problem


def test_a_removed_row_breaks_the_link_of_the_next():
    rows = _events(5)
    del rows[1]
    result = chain.verify(rows)
    assert (result.intact, result.first_bad_id) == (False, 3)
    assert "removed or inserted" in result.problem


def test_a_reordered_timestamp_changes_the_hash():
    rows = _events(3)
    rows[0]["occurred_at"] = rows[0]["occurred_at"] + timedelta(microseconds=1)
    assert chain.verify(rows).first_bad_id == 1


def test_the_same_moment_in_another_timezone_hashes_the_same():
    row = _events(1)[0]
    shifted = {
        **row,
        "occurred_at": row["occurred_at"].astimezone(datetime.now().astimezone().tzinfo),
    }
    assert chain.compute_hash(shifted) == row["hash"]


def test_json_safe_makes_payloads_storable_in_postgresql():
    value = {"name": "a\x00b", "score": math.nan, "inf": math.inf, "tags": {"b", "a"}, 1: True}
    assert chain.json_safe(value) == {
        "name": "a\\x00b",
        "score": "nan",
        "inf": "inf",
        "tags": ["a", "b"],
        "1": True,
    }
