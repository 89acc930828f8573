"""How the portal writes times, dates and durations: one format each, in the reader's time zone.

Pages use these through the ``portal`` template filters (``when``, ``day``, ``ago``,
``duration``); Python that writes a sentence with a date in it (a flash message, a refusal) calls
them directly, so a page and a message never disagree.
"""

from __future__ import annotations

import math
from datetime import date, datetime, timedelta

from django.utils import timezone
from django.utils.dateformat import format as date_format

# "5 Dec 2026, 14:05": day first as the bank's staff write it, a month name so that 05/12 cannot be
# misread, 24-hour clock.
WHEN = "j M Y, H:i"
DAY = "j M Y"


def when(value: datetime | None) -> str:
    """A moment, in the current time zone (the reader's, see ``ReaderTimeZoneMiddleware``)."""
    if value is None:
        return ""
    if timezone.is_aware(value):
        value = timezone.localtime(value)
    return date_format(value, WHEN)


def day(value: date | datetime | str | None) -> str:
    """A date; also one held as ISO text in a JSON record ("2026-12-06")."""
    if value is None or value == "":
        return ""
    if isinstance(value, str):
        try:
            return date_format(date.fromisoformat(value), DAY)
        except ValueError:
            return value
    if isinstance(value, datetime) and timezone.is_aware(value):
        value = timezone.localtime(value)
    return date_format(value, DAY)


def duration(value: timedelta | float | int | None) -> str:
    """A length of time as people say it: "0.4 s", "3.5 s", "42 s", "4 min", "3 h 12 min",
    "2 d 3 h". Seconds are exact to a tenth below ten seconds; longer spans round to the unit
    below the largest, which is what a reader compares."""
    if value is None:
        return ""
    seconds = value.total_seconds() if isinstance(value, timedelta) else float(value)
    if math.isnan(seconds):
        return ""
    sign = "-" if seconds < 0 else ""
    seconds = abs(seconds)
    minutes = round(seconds / 60)
    if seconds < 9.95:
        text = f"{seconds:.1f} s".replace(".0 s", " s")
    elif round(seconds) < 60:
        text = f"{round(seconds)} s"
    elif minutes < 60:
        text = f"{minutes} min"
    elif minutes < 24 * 60:
        hours, minutes = divmod(minutes, 60)
        text = f"{hours} h {minutes} min" if minutes else f"{hours} h"
    else:
        days, hours = divmod(round(seconds / 3600), 24)
        text = f"{days} d {hours} h" if hours else f"{days} d"
    return sign + text


def ago(value: datetime | None, now: datetime | None = None) -> str:
    """How long ago, for "waiting since" and "last seen": "just now" under a minute."""
    if value is None:
        return ""
    elapsed = ((now or timezone.now()) - value).total_seconds()
    if elapsed < 60:
        return "just now"
    return f"{duration(elapsed)} ago"


def listing(phrases: list[str]) -> str:
    """ "a", "a and b", "a, b and c"."""
    if len(phrases) <= 2:
        return " and ".join(phrases)
    return f"{', '.join(phrases[:-1])} and {phrases[-1]}"


def hours(value: float | None) -> str:
    """A duration held in hours (lead times), written like any other: "3 h 12 min", "2 d 3 h"."""
    return "" if value is None else duration(value * 3600)


def when_with_zone(value: datetime | None) -> str:
    """``when`` with the zone named ("5 Dec 2026, 14:05 CET"): for what is read away from the
    portal, such as an exported document."""
    if value is None:
        return ""
    return f"{when(value)} {timezone.localtime(value).strftime('%Z')}"
