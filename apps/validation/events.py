"""What the validation app tells people and webhooks about (registered when the app is ready)."""

from __future__ import annotations

from apps.core.registry import EventType

VALIDATION_FINISHED = EventType("validation.finished", "Validation finished")
VALIDATION_FAILED = EventType("validation.failed", "Validation failed")

EVENTS = [VALIDATION_FINISHED, VALIDATION_FAILED]
