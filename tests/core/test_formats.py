"""How the portal writes times, dates and durations (apps/core/formats.py), and whose time zone."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta

import pytest
from django.http import HttpResponse
from django.utils import timezone

from apps.core import formats
from apps.core.timezones import COOKIE, ReaderTimeZoneMiddleware


@pytest.mark.parametrize(
    ("seconds", "written"),
    [
        (0, "0 s"),
        (0.4, "0.4 s"),
        (3.482646, "3.5 s"),
        (42, "42 s"),
        (59.6, "1 min"),
        (240, "4 min"),
        (3599, "1 h"),
        (3 * 3600 + 12 * 60, "3 h 12 min"),
        (86399, "1 d"),
        (2 * 86400 + 3 * 3600 + 100, "2 d 3 h"),
    ],
)
def test_durations_read_as_people_say_them(seconds, written):
    assert formats.duration(seconds) == written
    assert formats.duration(timedelta(seconds=seconds)) == written


def test_hours_are_durations_too_never_zero_point_zero_h():
    assert formats.hours(0.001) == "3.6 s"
    assert formats.hours(51) == "2 d 3 h"
    assert formats.hours(None) == ""


def test_a_moment_under_a_minute_ago_is_just_now():
    now = datetime(2026, 12, 5, 12, 0, tzinfo=UTC)
    assert formats.ago(now - timedelta(seconds=20), now) == "just now"
    assert formats.ago(now - timedelta(minutes=4), now) == "4 min ago"


def test_one_date_format_in_the_current_time_zone():
    moment = datetime(2026, 12, 5, 23, 30, tzinfo=UTC)
    with timezone.override("Europe/Berlin"):
        assert formats.when(moment) == "6 Dec 2026, 00:30"
        assert formats.day(moment) == "6 Dec 2026"
    assert formats.day(date(2026, 3, 1)) == "1 Mar 2026"
    assert formats.day("2026-12-06") == "6 Dec 2026"  # as JSON records hold dates
    assert formats.day("not a date") == "not a date"


def test_phrases_are_listed_as_a_sentence():
    assert formats.listing(["a"]) == "a"
    assert formats.listing(["a", "b"]) == "a and b"
    assert formats.listing(["a", "b", "c"]) == "a, b and c"


@pytest.mark.parametrize(
    ("cookie", "written"),
    [
        ("Asia/Tokyo", "6 Dec 2026, 08:30"),
        ("America/New_York", "5 Dec 2026, 18:30"),
        # Forged or unknown names are ignored (TIME_ZONE, UTC here), never an error.
        ("../../etc/passwd", "5 Dec 2026, 23:30"),
        ("Not/AZone", "5 Dec 2026, 23:30"),
        ("", "5 Dec 2026, 23:30"),
    ],
)
def test_pages_use_the_time_zone_the_browser_names(rf, cookie, written):
    moment = datetime(2026, 12, 5, 23, 30, tzinfo=UTC)
    middleware = ReaderTimeZoneMiddleware(lambda request: HttpResponse(formats.when(moment)))
    request = rf.get("/")
    request.COOKIES[COOKIE] = cookie
    assert middleware(request).content.decode() == written
    assert formats.when(moment) == "5 Dec 2026, 23:30"  # and the zone does not leak on
