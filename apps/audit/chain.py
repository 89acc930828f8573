"""The audit hash chain, as pure functions.

Each event's hash covers its own content and the previous event's hash, so changing, inserting or
removing a row anywhere breaks every later link. ``verify`` walks the chain and names the first row
that does not fit.
"""

from __future__ import annotations

import hashlib
import json
import math
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

GENESIS = "0" * 64

# The fields a hash covers, in the form the database hands them back.
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


def compute_hash(fields: Mapping[str, Any]) -> str:
    content = {name: fields[name] for name in HASHED_FIELDS}
    content["occurred_at"] = canonical_time(content["occurred_at"])
    encoded = json.dumps(content, sort_keys=True, separators=(",", ":"), ensure_ascii=True)
    return hashlib.sha256(encoded.encode("ascii")).hexdigest()


@dataclass(frozen=True)
class Verification:
    intact: bool
    checked: int
    first_bad_id: int | None = None
    problem: str = ""
    last_hash: str = GENESIS  # the tip of the verified chain: kept outside, it shows a cut end

    def describe(self) -> str:
        if self.intact:
            return f"chain intact: {self.checked} events verified"
        return f"chain broken at event #{self.first_bad_id}: {self.problem}"


def verify(rows: Iterable[Mapping[str, Any]]) -> Verification:
    """Check rows in insertion order; each maps ``id``, ``hash`` and the HASHED_FIELDS."""
    expected_prev = GENESIS
    checked = 0
    for row in rows:
        if row["prev_hash"] != expected_prev:
            return Verification(
                False,
                checked,
                row["id"],
                "its previous-hash link does not match the event before it "
                "(an event was removed or inserted before this one)",
            )
        if compute_hash(row) != row["hash"]:
            return Verification(
                False,
                checked,
                row["id"],
                "its content does not match its hash (the row was edited)",
            )
        expected_prev = row["hash"]
        checked += 1
    return Verification(True, checked, last_hash=expected_prev)
