"""Signed checkpoints of the audit chain, kept outside the database.

Every verification appends one line to ``PORTAL_AUDIT_CHECKPOINT_FILE`` and to the log: the chain's
length and tip (count, last id, last hash), how many unsigned legacy events it starts with, the
outcome, who asked and when, signed with the audit key and linked to the line before. A database
administrator can cut events from the end of the chain without breaking a link, but not from
these lines: every verification compares the rows with all of them. A line edited, removed or
forged in the file breaks its own signature or the next line's link, and is reported too.
"""

from __future__ import annotations

import contextlib
import fcntl
import json
import logging
import os
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import IO, Any

from django.conf import settings
from django.utils import timezone

from apps.audit import chain

logger = logging.getLogger(__name__)

_TAIL_BYTES = 16384  # far more than one line


def keyring() -> chain.Keyring:
    return chain.Keyring(settings.PORTAL_AUDIT_KEYS)


def path() -> Path:
    return Path(settings.PORTAL_AUDIT_CHECKPOINT_FILE)


@contextlib.contextmanager
def _opened(mode: str, lock: int) -> Iterator[IO[bytes]]:
    """The file under a shared or exclusive lock: a line is written whole before anyone reads."""
    with path().open(mode) as file:
        fcntl.flock(file, lock)
        try:
            yield file
        finally:
            fcntl.flock(file, fcntl.LOCK_UN)


def _signature(ring: chain.Keyring, line: dict[str, Any]) -> str | None:
    body = {name: value for name, value in line.items() if name != "mac"}
    return ring.mac(str(line.get("key_id", "")), chain.CHECKPOINT_PURPOSE, chain.canonical(body))


def _mark(line: dict[str, Any]) -> chain.Mark:
    return chain.Mark(
        count=line["count"],
        last_id=line["last_id"],
        last_hash=line["last_hash"],
        legacy=line["legacy"],
        time=line["time"],
    )


@dataclass(frozen=True)
class Reading:
    """The checkpoints whose signature holds, and the file's first bad line, if any."""

    marks: list[chain.Mark]
    problem: str = ""


def read() -> Reading:
    """Every line of the file, checked: signature, number and link to the line before."""
    ring = keyring()
    try:
        with _opened("rb", fcntl.LOCK_SH) as file:
            data = file.read()
    except FileNotFoundError:
        return Reading([])
    marks: list[chain.Mark] = []
    problem = ""
    prev = chain.GENESIS
    lines = data.split(b"\n")
    for number, raw in enumerate(lines[:-1], start=1):
        try:
            line = json.loads(raw)
            genuine = _signature(ring, line) == line["mac"]
            mark = _mark(line)
        except (ValueError, TypeError, KeyError, AttributeError):
            genuine = False
        if genuine:
            marks.append(mark)
        if problem:
            continue
        if not genuine:
            problem = (
                f"line {number} is not signed with the audit key (it was edited or forged, or "
                "its key was removed from PORTAL_AUDIT_KEYS)"
            )
        elif line["n"] != number or line["prev"] != prev:
            problem = f"line {number} does not follow line {number - 1}: lines were removed"
        prev = line.get("mac", "") if genuine else ""
    if lines[-1] and not problem:
        problem = f"line {len(lines)} is incomplete (a write was interrupted, or it was cut)"
    return Reading(marks, problem)


def append(
    *,
    count: int,
    last_id: int,
    last_hash: str,
    legacy: int,
    by: str,
    outcome: dict[str, Any] | None,
) -> dict[str, Any]:
    """Sign and append one checkpoint, linked to the last line; log it too."""
    ring = keyring()
    path().parent.mkdir(parents=True, exist_ok=True)
    with _opened("a+b", fcntl.LOCK_EX) as file:
        file.seek(0)
        lines = file.read().split(b"\n")
        previous: dict[str, Any] = {}
        with contextlib.suppress(ValueError):
            previous = json.loads(lines[-2]) if len(lines) > 1 else {}
        line: dict[str, Any] = {
            "n": len(lines) if lines[-1] == b"" else len(lines) + 1,
            "time": timezone.now().isoformat(timespec="seconds"),
            "by": by,
            "count": count,
            "last_id": last_id,
            "last_hash": last_hash,
            "legacy": legacy,
            "outcome": outcome,
            "key_id": ring.current,
            "prev": previous.get("mac", chain.GENESIS) if isinstance(previous, dict) else "",
        }
        line["mac"] = _signature(ring, line)
        text = json.dumps(line, sort_keys=True, separators=(",", ":"))
        file.write(("\n" if lines[-1] else "").encode() + text.encode() + b"\n")
        file.flush()
        os.fsync(file.fileno())
    logger.info("audit checkpoint %s", text)
    return line


@dataclass(frozen=True)
class LastCheck:
    """The latest verification as the checkpoint file tells it, for the compliance pages."""

    time: datetime
    by: str
    intact: bool
    checked: int
    where: str
    problem: str


def last_check() -> LastCheck | None:
    """The outcome in the file's last line (its signature checked), None before any verification.

    Read from the file rather than from the trail: cutting the last ``audit.verified`` events
    from the database must not bring back an older, better verdict.
    """
    try:
        with _opened("rb", fcntl.LOCK_SH) as file:
            file.seek(max(0, file.seek(0, os.SEEK_END) - _TAIL_BYTES))
            tail = file.read().rstrip(b"\n").rsplit(b"\n", 1)[-1]
    except FileNotFoundError:
        return None
    if not tail:
        return None
    try:
        line = json.loads(tail)
        genuine = _signature(keyring(), line) == line["mac"]
        outcome = line["outcome"]
        time = datetime.fromisoformat(line["time"])
    except (ValueError, TypeError, KeyError, AttributeError):
        genuine = False
    if not genuine:
        return LastCheck(
            timezone.now(),
            "",
            False,
            0,
            "in the checkpoint file",
            "its last line is not signed with the audit key",
        )
    if outcome is None:
        return None
    return LastCheck(
        time,
        line["by"],
        outcome["intact"],
        outcome["checked"],
        outcome["where"],
        outcome["problem"],
    )
