"""What monitoring tells people and webhooks about."""

from __future__ import annotations

from apps.core.registry import EventType

ALERT_RAISED = EventType("monitoring.alert_raised", "A monitoring alert was raised")
ALERT_RESOLVED = EventType("monitoring.alert_resolved", "A monitoring alert was resolved")

REVIEW_OPENED = EventType("monitoring.review_opened", "A production model's alert needs a decision")
NEW_VERSION_REQUESTED = EventType(
    "monitoring.new_version_requested", "A new version was requested after an alert"
)

CHALLENGER_STOPPED = EventType(
    "monitoring.challenger_stopped", "A challenger was stopped by a monitoring alert"
)

EVENTS = [ALERT_RAISED, ALERT_RESOLVED, REVIEW_OPENED, NEW_VERSION_REQUESTED, CHALLENGER_STOPPED]
