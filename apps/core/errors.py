"""Exceptions every app's services raise, and the base views and API turn into answers."""

from __future__ import annotations


class Conflict(Exception):
    """The request came too late or twice: the state it relied on has moved on (HTTP 409)."""


def required_reason(text: str, field: str = "reason") -> str:
    """The reason a person gave for a governed step, stripped; refused when there is none."""
    text = text.strip()
    if not text:
        from django.core.exceptions import ValidationError

        raise ValidationError({field: "Say why: it is part of the record."})
    return text
