"""What the reviews app tells people and webhooks about (registered when the app is ready)."""

from __future__ import annotations

from apps.core.registry import EventType

REVIEW_REQUESTED = EventType("review.requested", "Review requested")
REVIEW_DECIDED = EventType("review.decided", "Review decided")
CHANGES_REQUESTED = EventType("review.changes_requested", "Changes requested")
MENTIONED = EventType("comment.mentioned", "Mentioned in a comment")
MODEL_CHANGE_PROPOSED = EventType(
    "model.change_proposed", "Change of risk owner, team or tier proposed"
)
MODEL_CHANGE_DECIDED = EventType(
    "model.change_decided", "Change of risk owner, team or tier decided"
)

EVENTS = [
    REVIEW_REQUESTED,
    REVIEW_DECIDED,
    CHANGES_REQUESTED,
    MENTIONED,
    MODEL_CHANGE_PROPOSED,
    MODEL_CHANGE_DECIDED,
]
