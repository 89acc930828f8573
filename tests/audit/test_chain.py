"""The signed chain as pure functions: what a signature covers, how the first bad row is named."""

from __future__ import annotations

import math
from datetime import UTC, datetime, timedelta

from apps.audit import chain

KEYS = chain.Keyring({"k1": "a" * 32, "k2": "b" * 32})


def _events(n: int, *, legacy: int = 0, keyring: chain.Keyring = KEYS) -> list[dict]:
    """n events; the first ``legacy`` plain-hashed, as they were before the chain was keyed."""
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
            "seq": None if i <= legacy else i,
            "key_id": "" if i <= legacy else keyring.current,
        }
        row["hash"] = chain.compute_hash(row) if i <= legacy else chain.sign(row, keyring)
        prev = row["hash"]
        rows.append(row)
    return rows


def _mark(row: dict, *, legacy: int = 0) -> chain.Mark:
    """What a checkpoint written when ``row`` was the tip says."""
    return chain.Mark(row["id"], row["id"], row["hash"], legacy, "2026-01-01T10:00:00+00:00")


def _resign(rows: list[dict], start: int) -> None:
    """Re-link and re-hash rows from index ``start`` on, as a forger without the key can."""
    for i in range(start, len(rows)):
        rows[i]["prev_hash"] = rows[i - 1]["hash"] if i else chain.GENESIS
        rows[i]["hash"] = chain.compute_hash(rows[i])


def test_an_untouched_chain_verifies():
    result = chain.verify(_events(5), KEYS)
    assert result.intact and result.checked == 5
    assert result.describe() == "chain intact: 5 events verified"


def test_an_edited_row_is_named():
    rows = _events(5)
    rows[2]["after"] = {"risk_tier": "low"}
    result = chain.verify(rows, KEYS)
    assert (result.intact, result.first_bad_id) == (False, 3)
    assert "does not match its signature" in result.problem


def test_a_row_rewritten_and_rehashed_forward_is_named():
    """The old attack: edit a row and recompute plain SHA-256 hashes for it and every later row."""
    rows = _events(5)
    rows[2]["after"] = {"risk_tier": "low"}
    _resign(rows, 2)
    result = chain.verify(rows, KEYS)
    assert result.first_bad_id == 3 and "does not match its signature" in result.problem


def test_rows_downgraded_to_unsigned_ones_are_named():
    rows = _events(5)
    for row in rows[2:]:
        row["key_id"], row["seq"] = "", None
    _resign(rows, 2)
    result = chain.verify(rows, KEYS)
    assert result.first_bad_id == 3 and "not signed with the audit key" in result.problem


def test_a_whole_chain_rewritten_unsigned_is_named_at_its_first_row():
    rows = _events(4)
    for row in rows:
        row["key_id"], row["seq"] = "", None
    _resign(rows, 0)
    result = chain.verify(rows, KEYS)
    assert result.first_bad_id == 1 and "not signed" in result.problem


def test_legacy_rows_verify_only_as_far_as_a_checkpoint_vouches():
    rows = _events(6, legacy=3)
    assert chain.verify(rows, KEYS, [_mark(rows[2], legacy=3)]).intact
    # Without the checkpoint written when the chain was keyed, nothing vouches for them.
    assert chain.verify(rows, KEYS).first_bad_id == 1
    # A signed row turned into a fourth legacy one is beyond what the checkpoint vouched for.
    rows[3]["key_id"], rows[3]["seq"] = "", None
    _resign(rows, 3)
    result = chain.verify(rows[:4], KEYS, [_mark(rows[2], legacy=3)])
    assert result.first_bad_id == 4 and "not signed" in result.problem


def test_an_edited_legacy_row_breaks_its_hash():
    rows = _events(4, legacy=3)
    rows[1]["actor_username"] = "mallory"
    result = chain.verify(rows, KEYS, [_mark(rows[2], legacy=3)])
    assert result.first_bad_id == 2 and "does not match its hash" in result.problem


def test_a_removed_row_is_named_with_the_numbers_missing():
    rows = _events(6)
    del rows[2:4]
    result = chain.verify(rows, KEYS)
    assert (result.intact, result.first_bad_id) == (False, 5)
    assert result.describe() == (
        "chain broken after event #2: events no. 3 to 4 are missing (deleted from the database): "
        "the next event present, #5, is no. 5"
    )


def test_a_copied_row_is_named():
    rows = _events(4)
    rows.append({**rows[1], "id": 5})
    result = chain.verify(rows, KEYS)
    assert result.first_bad_id == 5 and "inserted or copied" in result.problem


def test_rows_cut_from_the_end_are_named_from_the_checkpoint():
    rows = _events(6)
    result = chain.verify(rows[:4], KEYS, [_mark(rows[1]), _mark(rows[5])])
    assert not result.intact and result.first_bad_id is None
    assert result.describe().startswith(
        "chain broken after event #4, the last present: events no. 5 to 6 are missing: "
        "the checkpoint of 2026-01-01T10:00:00+00:00 vouched for 6 events ending at #6"
    )


def test_an_event_written_in_place_of_cut_ones_is_named():
    """Cut the end, then the portal goes on writing: numbers 5 and 6 come back, with newer ids."""
    rows = _events(6)
    mark = _mark(rows[5])
    kept = rows[:4]
    for n in (5, 6):
        row = {**rows[n - 1], "id": n + 10, "action": "later.event", "prev_hash": kept[-1]["hash"]}
        row["hash"] = chain.sign(row, KEYS)
        kept.append(row)
    result = chain.verify(kept, KEYS, [mark])
    assert result.first_bad_id == 15
    assert "events no. 5 to 6 are missing (cut from the chain)" in result.problem


def test_a_row_the_checkpoint_recorded_otherwise_is_named():
    rows = _events(3, legacy=3)
    mark = _mark(rows[2], legacy=3)
    rows[2]["action"] = "forged"
    _resign(rows, 2)
    result = chain.verify(rows, KEYS, [mark])
    assert result.first_bad_id == 3 and "is not the event no. 3" in result.problem


def test_rotated_keys_verify_and_a_removed_key_is_named():
    old = chain.Keyring({"k1": "a" * 32})
    rows = _events(3, keyring=old)
    newer = _events(5)[3:]  # signed with k2, the last key of KEYS
    newer[0]["prev_hash"] = rows[-1]["hash"]
    newer[0]["hash"] = chain.sign(newer[0], KEYS)
    newer[1]["prev_hash"] = newer[0]["hash"]
    newer[1]["hash"] = chain.sign(newer[1], KEYS)
    assert [r["key_id"] for r in rows + newer] == ["k1", "k1", "k1", "k2", "k2"]
    assert chain.verify(rows + newer, KEYS).intact
    result = chain.verify(rows + newer, chain.Keyring({"k2": "b" * 32}))
    assert result.first_bad_id == 1 and "'k1', which is not in PORTAL_AUDIT_KEYS" in result.problem


def test_a_signature_made_with_another_key_is_named():
    rows = _events(3)
    rows[1]["hash"] = chain.sign(rows[1], chain.Keyring({"k2": "c" * 32}))
    assert chain.verify(rows, KEYS).first_bad_id == 2


def test_a_reordered_timestamp_changes_the_signature():
    rows = _events(3)
    rows[0]["occurred_at"] = rows[0]["occurred_at"] + timedelta(microseconds=1)
    assert chain.verify(rows, KEYS).first_bad_id == 1


def test_the_same_moment_in_another_timezone_signs_the_same():
    row = _events(1)[0]
    shifted = {
        **row,
        "occurred_at": row["occurred_at"].astimezone(datetime.now().astimezone().tzinfo),
    }
    assert chain.sign(shifted, KEYS) == row["hash"]


def test_json_safe_makes_payloads_storable_in_postgresql():
    value = {"name": "a\x00b", "score": math.nan, "inf": math.inf, "tags": {"b", "a"}, 1: True}
    assert chain.json_safe(value) == {
        "name": "a\\x00b",
        "score": "nan",
        "inf": "inf",
        "tags": ["a", "b"],
        "1": True,
    }


def test_a_hash_that_is_not_hex_is_named_not_a_crash():
    rows = _events(3)
    rows[1]["hash"] = "é" * 64
    assert chain.verify(rows, KEYS).first_bad_id == 2
