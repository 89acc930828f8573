"""Before/after values of an audit event in words: "Tags: credit → credit, mortgage".

The trail stores JSON (``AuditEvent.before`` / ``after``); printing it as Python shows readers
``['credit']``, ``True`` and ``None``. ``readable`` and ``field_label`` are pure functions, so
what people read is pinned by unit tests; the template only lays the lines out.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import date, datetime
from typing import Any

from django import template

from apps.core import formats

register = template.Library()

EMPTY = "—"

# JSON has no dates: services store them as ISO text ("2026-12-26", "2026-12-05T14:05:00+00:00").
_ISO_DAY = re.compile(r"\d{4}-\d{2}-\d{2}")
_ISO_MOMENT = re.compile(r"\d{4}-\d{2}-\d{2}[T ]\d{2}:\d{2}(:\d{2}(\.\d+)?)?(Z|[+-]\d{2}:?\d{2})?")


def field_label(name: object) -> str:
    """``risk_tier`` → ``Risk tier``; the rest of the name keeps its case (``SHA256``)."""
    text = str(name).replace("_", " ").strip()
    return text[:1].upper() + text[1:] if text else EMPTY


def readable(value: Any, *, nested: bool = False) -> str:
    """One stored value as a person reads it: never a Python repr.

    Lists are joined with ", "; a dictionary becomes "key: value" pairs joined with "; ";
    booleans are "yes"/"no"; nothing (None, "", [], {}) is "—"; ISO dates and moments are
    written as everywhere in the portal ("26 Dec 2026"). A list or dictionary inside a
    list is put in brackets, so its items do not read as items of the outer list.
    """
    if value is None or value == "" or value == [] or value == {}:
        return EMPTY
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, list | tuple):
        text = ", ".join(readable(item, nested=True) for item in value)
    elif isinstance(value, dict):
        text = "; ".join(
            f"{field_label(key).lower() if nested else field_label(key)}: "
            f"{readable(item, nested=True)}"
            for key, item in value.items()
        )
    else:
        return _text(value)
    return f"({text})" if nested and len(value) > 1 else text


def _text(value: Any) -> str:
    """A scalar; a date or moment stored as ISO text is written the portal's one way."""
    text = str(value)
    try:
        if _ISO_DAY.fullmatch(text):
            return formats.day(date.fromisoformat(text))
        if _ISO_MOMENT.fullmatch(text):
            return formats.when(datetime.fromisoformat(text))
    except ValueError:  # looks like a date but is none ("2026-13-40"): show it as it is
        pass
    return text


@dataclass(frozen=True)
class Change:
    """One line of a change: the field in words, and its values before and after in words."""

    field: str
    before: str
    after: str
    # An event that creates something has no "before": the line shows the new value alone.
    has_before: bool


def changes_of(before: Any, after: Any) -> list[Change]:
    """The lines of an event's change: every key whose value reads differently, in key order.

    A ``before`` or ``after`` that is not a dictionary (old events) is shown as one "Value" line.
    """
    if not isinstance(before, dict) and not isinstance(after, dict):
        if before == after:
            return []
        return [Change("Value", readable(before), readable(after), before is not None)]
    old = before if isinstance(before, dict) else {}
    new = after if isinstance(after, dict) else {}
    lines = []
    for key in sorted(set(old) | set(new), key=str):
        was, now = readable(old.get(key)), readable(new.get(key))
        # None that became "" is a change to the database, not to a reader: "— → —" is noise.
        if old.get(key) != new.get(key) and (key not in old or was != now):
            lines.append(Change(field_label(key), was, now, key in old))
    return lines


@register.filter
def readable_changes(event: Any) -> list[Change]:
    """``{% for change in event|readable_changes %}``: the event's change, line by line."""
    return changes_of(getattr(event, "before", None), getattr(event, "after", None))


@register.filter(name="readable")
def readable_filter(value: Any) -> str:
    return readable(value)
