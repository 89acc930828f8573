"""Times on pages in the reader's own time zone.

The browser names its zone (``Intl.DateTimeFormat().resolvedOptions().timeZone``) in the
``portal_tz`` cookie, set by static/js/portal.js; until it has (the very first page, or a client
without JavaScript) pages use ``TIME_ZONE``. An unknown or malformed name is ignored, never an
error: the cookie is the client's to write.
"""

from __future__ import annotations

from collections.abc import Callable
from functools import lru_cache
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from django.http import HttpRequest, HttpResponse
from django.utils import timezone

COOKIE = "portal_tz"


@lru_cache(maxsize=64)
def _zone(name: str) -> ZoneInfo | None:
    if not name or len(name) > 64 or ".." in name or name.startswith("/"):
        return None
    try:
        return ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError):
        return None


class ReaderTimeZoneMiddleware:
    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        zone = _zone(request.COOKIES.get(COOKIE, ""))
        if zone is None:
            timezone.deactivate()
        else:
            timezone.activate(zone)
        try:
            return self.get_response(request)
        finally:
            timezone.deactivate()
