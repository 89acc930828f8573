"""Signed checkpoints of the audit chain, kept outside the database.

Every verification appends one line to ``PORTAL_AUDIT_CHECKPOINT_FILE`` and to the log: the chain's
length and tip (count, last id, last hash), how many unsigned legacy events it starts with, the
outcome, who asked and when, signed with the audit key and linked to the line before. A database
administrator can cut events from the end of the chain without breaking a link, but not from
these lines: every verification compares the rows with all of them. A line edited, removed or
forged in the file breaks its own signature or the next line's link; lines cut from its end leave
a signed ``audit.verified`` event in the database that no checkpoint covers. The log holds every
line too, so a lost file can be rebuilt from it.
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


def _signature(ring: chain.Keyring, line: dict[str, Any]) -> str | None:
    body = {name: value for name, value in line.items() if name != "mac"}
    return ring.mac(str(line.get("key_id", "")), chain.CHECKPOINT_PURPOSE, chain.canonical(body))


@dataclass(frozen=True)
class Reading:
    """The checkpoints whose signature holds, and the file's first bad line, if any."""

    marks: list[chain.Mark]
    problem: str = ""


class Book:
    """The checkpoint file, open and locked (see ``opened``)."""

    def __init__(self, file: IO[bytes] | None) -> None:
        self._file = file

    def _lines(self) -> list[bytes]:
        """The file split at newlines: the last item is "" unless a line is incomplete."""
        if self._file is None:
            return [b""]
        self._file.seek(0)
        return self._file.read().split(b"\n")

    def read(self) -> Reading:
        """Every line, checked: its signature, its number and its link to the line before."""
        ring = keyring()
        lines = self._lines()
        marks: list[chain.Mark] = []
        problem = ""
        prev = chain.GENESIS
        for number, raw in enumerate(lines[:-1], start=1):
            try:
                line = json.loads(raw)
                genuine = _signature(ring, line) == line["mac"]
                mark = chain.Mark(
                    line["count"], line["last_id"], line["last_hash"], line["legacy"], line["time"]
                )
            except (ValueError, TypeError, KeyError, AttributeError):
                genuine = False
            if genuine:
                marks.append(mark)  # genuine wherever it stands
            if problem:
                continue
            if not genuine:
                problem = (
                    f"line {number} is not signed with the audit key (it was edited or forged, "
                    "or its key was removed from PORTAL_AUDIT_KEYS)"
                )
            elif line["n"] != number or line["prev"] != prev:
                problem = f"line {number} does not follow the line before it: lines were removed"
            prev = line["mac"] if genuine else ""
        if lines[-1] and not problem:
            problem = f"line {len(lines)} is incomplete (a write was interrupted, or it was cut)"
        return Reading(marks, problem)

    def append(
        self,
        *,
        count: int,
        last_id: int,
        last_hash: str,
        legacy: int,
        by: str,
        outcome: dict[str, Any] | None,
    ) -> dict[str, Any]:
        """Sign and append one checkpoint, linked to the last line; log it too."""
        if self._file is None or not self._file.writable():
            raise ValueError("the checkpoint file is open for reading only")
        ring = keyring()
        lines = self._lines()
        previous: Any = {}
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
        # One write of a whole line: readers without the lock take newline-ended lines only.
        self._file.write(("\n" if lines[-1] else "").encode() + text.encode() + b"\n")
        self._file.flush()
        os.fsync(self._file.fileno())
        logger.info("audit checkpoint %s", text)
        return line


@contextlib.contextmanager
def opened(*, write: bool) -> Iterator[Book]:
    """The checkpoint file, locked for the whole block: exclusively to write, shared to read.

    A verification holds it from reading the checkpoints to appending its own, so the next one
    finds every ``audit.verified`` event of an intact chain covered by a checkpoint.
    """
    file: IO[bytes]
    if write:
        path().parent.mkdir(parents=True, exist_ok=True)
        file = path().open("a+b")
    else:
        try:
            file = path().open("rb")
        except FileNotFoundError:
            yield Book(None)
            return
    with file:
        fcntl.flock(file, fcntl.LOCK_EX if write else fcntl.LOCK_SH)
        try:
            yield Book(file)
        finally:
            fcntl.flock(file, fcntl.LOCK_UN)


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
    from the database must not bring back an older, better verdict. No lock: a page must not wait
    for a verification, and a line being written has no newline yet.
    """
    try:
        with path().open("rb") as file:
            file.seek(max(0, file.seek(0, os.SEEK_END) - _TAIL_BYTES))
            tail = file.read()
    except FileNotFoundError:
        return None
    complete = tail[: tail.rfind(b"\n")]
    if not complete:
        return None
    try:
        line = json.loads(complete.rsplit(b"\n", 1)[-1])
        genuine = _signature(keyring(), line) == line["mac"]
        outcome = line["outcome"]
        time = datetime.fromisoformat(line["time"])
    except (ValueError, TypeError, KeyError, AttributeError):
        genuine = False
    if not genuine:
        problem = "its last line is not signed with the audit key"
        return LastCheck(timezone.now(), "", False, 0, "in the checkpoint file", problem)
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
