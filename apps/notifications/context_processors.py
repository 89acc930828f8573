from __future__ import annotations

from typing import Any

from django.http import HttpRequest

from apps.notifications.services import unread_count


def inbox(request: HttpRequest) -> dict[str, Any]:
    """The unread count shown next to "Inbox" on every page."""
    if not request.user.is_authenticated:
        return {}
    return {"inbox_unread": unread_count(request.user)}
