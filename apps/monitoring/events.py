"""What monitoring tells people and webhooks about."""

from __future__ import annotations

from apps.core.registry import EventType

ALERT_RAISED = EventType("monitoring.alert_raised", "A monitoring alert was raised")
ALERT_RESOLVED = EventType("monitoring.alert_resolved", "A monitoring alert was resolved")

EVENTS = [ALERT_RAISED, ALERT_RESOLVED]
