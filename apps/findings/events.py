"""What findings tell people and webhooks about."""

from __future__ import annotations

from apps.core.registry import EventType

RAISED = EventType("findings.raised", "A finding was raised on a model you own or answer for")
REMEDIATED = EventType("findings.remediated", "A finding's owner answered with a remediation")
CLOSED = EventType("findings.closed", "A finding was verified and closed")
REOPENED = EventType("findings.reopened", "A finding was reopened")

EVENTS = [RAISED, REMEDIATED, CLOSED, REOPENED]
