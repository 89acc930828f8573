"""Exceptions every app's services raise, and the base views and API turn into answers."""

from __future__ import annotations


class Conflict(Exception):
    """The request came too late or twice: the state it relied on has moved on (HTTP 409)."""
