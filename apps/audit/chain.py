"""The audit chain, as pure functions.

Each event is signed with HMAC-SHA256 under a key kept outside the database, over its content, its
number in the chain (``seq``, gapless) and the previous event's signature. Without the key nobody
can write an event that verifies, so a row edited, inserted or re-numbered anywhere is named.
Rows cut from the end break no link; checkpoints kept outside the database (``checkpoints.py``)
vouch for the chain's length and tip, and ``verify`` compares the rows against them.

Events written before the chain was keyed carry a plain SHA-256 hash and no key id ("legacy"). They
verify as before, but only as the start of the chain and only as many as the checkpoint written
when the chain was keyed vouches for: a plain row anywhere else is a forgery.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import math
from bisect import bisect_left
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

GENESIS = "0" * 64

# The fields a legacy hash covers, in the form the database hands them back.
HASHED_FIELDS = (
    "occurred_at",
    "actor_id",
    "actor_username",
    "action",
    "object_type",
    "object_id",
    "object_repr",
    "before",
    "after",
    "request_id",
    "ip",
    "user_agent",
    "prev_hash",
)
# A signature also covers the event's place in the chain and the key that signed it.
SIGNED_FIELDS = (*HASHED_FIELDS, "seq", "key_id")

# Kept apart so that an event's signature can never pass for a checkpoint's, or the reverse.
EVENT_PURPOSE = b"mlops-portal audit event\n"
CHECKPOINT_PURPOSE = b"mlops-portal audit checkpoint\n"


def json_safe(value: Any) -> Any:
    """Normalise a before/after payload so that it survives the database unchanged.

    PostgreSQL refuses NUL characters and NaN in JSON; floats that are not finite become strings and
    NULs are spelled out, so what we hash is exactly what we read back. PostgreSQL also stores JSON
    numbers as decimals: ``1e+20`` comes back as the integer ``100000000000000000000`` and ``-0.0``
    as ``0.0``, so those are stored in that form from the start.
    """
    if isinstance(value, str):
        return value.replace("\x00", "\\x00")
    if isinstance(value, bool) or value is None or isinstance(value, int):
        return value
    if isinstance(value, float):
        if not math.isfinite(value):
            return repr(value)
        if abs(value) >= 1e16:  # written with an exponent, and a whole number at that size
            return int(Decimal(repr(value)))
        return value + 0.0  # -0.0 becomes 0.0
    if isinstance(value, Mapping):
        return {str(json_safe(k)): json_safe(v) for k, v in value.items()}
    if isinstance(value, list | tuple | set | frozenset):
        items = [json_safe(v) for v in value]
        return sorted(items, key=repr) if isinstance(value, set | frozenset) else items
    if isinstance(value, datetime):
        return value.isoformat()
    return json_safe(str(value))


def canonical_time(moment: datetime) -> str:
    return moment.astimezone(UTC).isoformat(timespec="microseconds")


def canonical(content: Mapping[str, Any]) -> bytes:
    return json.dumps(content, sort_keys=True, separators=(",", ":"), ensure_ascii=True).encode()


def _content(fields: Mapping[str, Any], names: Sequence[str]) -> bytes:
    content = {name: fields[name] for name in names}
    content["occurred_at"] = canonical_time(content["occurred_at"])
    return canonical(content)


def compute_hash(fields: Mapping[str, Any]) -> str:
    """The plain SHA-256 of a legacy event (written before the chain was keyed)."""
    return hashlib.sha256(_content(fields, HASHED_FIELDS)).hexdigest()


@dataclass(frozen=True)
class Keyring:
    """Audit keys by id, in the order configured: the last one signs what is written now.

    Older keys stay to verify what they signed; rotating is adding a key at the end.
    """

    keys: Mapping[str, str]

    @property
    def current(self) -> str:
        return list(self.keys)[-1]

    def mac(self, key_id: str, purpose: bytes, message: bytes) -> str | None:
        """HMAC-SHA256 of ``message`` under key ``key_id``; None if there is no such key."""
        secret = self.keys.get(key_id)
        if secret is None:
            return None
        return hmac.new(secret.encode(), purpose + message, hashlib.sha256).hexdigest()


def sign(fields: Mapping[str, Any], keyring: Keyring) -> str | None:
    """The signature of an event under the key its ``key_id`` names (None: unknown key)."""
    return keyring.mac(fields["key_id"], EVENT_PURPOSE, _content(fields, SIGNED_FIELDS))


@dataclass(frozen=True)
class Mark:
    """What one checkpoint vouches for: the chain then held ``count`` events, the last being
    ``last_id`` with ``last_hash``, and its first ``legacy`` events were unsigned."""

    count: int
    last_id: int | None
    last_hash: str
    legacy: int
    time: str


@dataclass(frozen=True)
class Verification:
    intact: bool
    checked: int
    first_bad_id: int | None = None  # the row named, when there is one to name
    where: str = ""  # "at event #12", "after event #8", ...
    problem: str = ""
    last_id: int | None = None
    last_hash: str = GENESIS
    legacy: int = 0  # how many unsigned events the checkpoints vouch for
    checkpoints: int = 0  # how many checkpoints the rows were compared with

    def describe(self) -> str:
        if self.intact:
            if not self.checkpoints:
                return f"chain intact: {self.checked} events verified"
            plural = "s" if self.checkpoints > 1 else ""
            return (
                f"chain intact: {self.checked} events verified, "
                f"consistent with {self.checkpoints} checkpoint{plural}"
            )
        return f"chain broken {self.where}: {self.problem}"


def _numbers(first: int, last: int) -> str:
    if first == last:
        return f"event no. {first} is"
    return f"events no. {first} to {last} are"


def verify(
    rows: Iterable[Mapping[str, Any]], keyring: Keyring, marks: Sequence[Mark] = ()
) -> Verification:
    """Walk the rows in id order and name the first one that is forged, edited or out of place.

    Each row maps ``id``, ``hash``, ``seq``, ``key_id`` and the HASHED_FIELDS. ``marks`` are the
    checkpoints' claims, each compared with the row at its position; rows cut from the end are
    named from the longest one.
    """
    marks = sorted(marks, key=lambda m: m.count)
    counts = [m.count for m in marks]
    legacy = min((m.legacy for m in marks), default=0)
    # For each checkpoint, the one at or after it whose tip has the lowest id: a genuine event at
    # a position a checkpoint already held must be older than that checkpoint's tip.
    earliest: list[Mark] = []
    for mark in reversed(marks):
        if not earliest or (mark.last_id or 0) < (earliest[-1].last_id or 0):
            earliest.append(mark)
        else:
            earliest.append(earliest[-1])
    earliest.reverse()
    by_count: dict[int, list[Mark]] = {}
    for mark in marks:
        by_count.setdefault(mark.count, []).append(mark)

    expected_prev, position, keyed, prev_id = GENESIS, 0, False, None

    def broken(row_id: int | None, problem: str, where: str = "") -> Verification:
        return Verification(
            False,
            position - 1,
            row_id,
            where or f"at event #{row_id}",
            problem,
            prev_id,
            expected_prev,
            legacy,
            len(marks),
        )

    for row in rows:
        position += 1
        row_id, key_id, seq = row["id"], row["key_id"], row["seq"]
        k = bisect_left(counts, position)
        if k < len(marks) and row_id > (earliest[k].last_id or 0):
            mark = earliest[k]
            return broken(
                row_id,
                f"it was written after the checkpoint of {mark.time}, which already held "
                f"{mark.count} events ending at #{mark.last_id}: "
                f"{_numbers(position, mark.count)} missing (cut from the chain), and this event "
                "was written in their place",
            )
        if not key_id:
            if keyed or position > legacy:
                return broken(
                    row_id,
                    "it is not signed with the audit key (a plain SHA-256 hash) where the chain "
                    "is signed: it was forged, or rewritten by someone without the key",
                )
            expected_hash = compute_hash(row)
        else:
            signature = sign(row, keyring)
            if signature is None:
                return broken(
                    row_id,
                    f"it names audit key {key_id!r}, which is not in PORTAL_AUDIT_KEYS: it was "
                    "forged, or the key that signed it was removed from the keyring",
                )
            if seq != position:
                if isinstance(seq, int) and seq > position:
                    return broken(
                        row_id,
                        f"{_numbers(position, seq - 1)} missing (deleted from the database): "
                        f"the next event present, #{row_id}, is no. {seq}",
                        where=f"after event #{prev_id}" if prev_id else "at the start of the chain",
                    )
                return broken(
                    row_id,
                    f"its number ({seq}) is not its place in the chain ({position}): it was "
                    "inserted or copied",
                )
            keyed, expected_hash = True, signature
        if row["prev_hash"] != expected_prev:
            return broken(
                row_id,
                "its previous-hash link does not match the event before it "
                "(an event was removed or inserted before this one)",
            )
        # As bytes: compare_digest refuses str that is not ASCII, which a forger may write.
        if not hmac.compare_digest(expected_hash.encode(), str(row["hash"]).encode()):
            return broken(
                row_id,
                "its content does not match its signature (the row was edited, or written "
                "without the audit key)"
                if key_id
                else "its content does not match its hash (the row was edited)",
            )
        for mark in by_count.get(position, ()):
            if mark.last_id != row_id or mark.last_hash != row["hash"]:
                return broken(
                    row_id,
                    f"it is not the event no. {position} that the checkpoint of {mark.time} "
                    f"recorded (#{mark.last_id}): the chain was rewritten from here or before",
                )
        expected_prev, prev_id = row["hash"], row_id

    if marks and marks[-1].count > position:
        mark = marks[-1]
        return Verification(
            False,
            position,
            None,
            f"after event #{prev_id}, the last present" if prev_id else "in an empty chain",
            f"{_numbers(position + 1, mark.count)} missing: the checkpoint of {mark.time} "
            f"vouched for {mark.count} events ending at #{mark.last_id}; they were cut from "
            "the end",
            prev_id,
            expected_prev,
            legacy,
            len(marks),
        )
    return Verification(True, position, None, "", "", prev_id, expected_prev, legacy, len(marks))
