"""Links the portal sends out of itself (emails, webhook payloads): absolute, on its base URL."""

from __future__ import annotations

from django.conf import settings


def absolute(url: str) -> str:
    """``/models/x/`` as ``https://portal.bank.example/models/x/`` (``PORTAL_BASE_URL``)."""
    return settings.PORTAL_BASE_URL.rstrip("/") + url if url.startswith("/") else url
