"""What every CSV download of the portal does to its cells."""

from __future__ import annotations

import json
from datetime import date, datetime


def csv_cell(value: object) -> object:
    """One CSV cell; text that a spreadsheet would run as a formula is defused (CSV injection)."""
    if value is None:
        return ""
    if isinstance(value, int):
        return value
    if isinstance(value, dict | list):
        value = json.dumps(value, sort_keys=True)
    text = value.isoformat() if isinstance(value, datetime | date) else str(value)
    return "'" + text if text[:1] in ("=", "+", "-", "@", "\t", "\r") else text
