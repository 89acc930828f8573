"""What periodic reviews tell people and webhooks about."""

from __future__ import annotations

from apps.core.registry import EventType

DUE = EventType("review.periodic_due", "A model you answer for is due for periodic review")
OVERDUE = EventType("review.periodic_overdue", "A model's periodic review is overdue")
TRIGGERED = EventType(
    "review.periodic_triggered", "Something brought a model's periodic review forward"
)
OPENED = EventType("review.periodic_opened", "A periodic review waits for your attestation")
CLOSED = EventType("review.periodic_closed", "A periodic review was decided")

EVENTS = [DUE, OVERDUE, TRIGGERED, OPENED, CLOSED]
