from __future__ import annotations

from django.contrib import admin

from apps.audit.admin import ReadOnlyAdmin
from apps.reviews.models import Comment, Decision, ModelChange, Review, ReviewPolicy


@admin.register(ReviewPolicy)
class ReviewPolicyAdmin(ReadOnlyAdmin):
    """Edited on /reviews/policies/, which versions and audits each change."""

    list_display = [
        "__str__",
        "required",
        "allow_exceptions",
        "independent",
        "is_current",
        "created_at",
    ]


@admin.register(Review)
class ReviewAdmin(ReadOnlyAdmin):
    list_display = ["version", "status", "is_exception", "requested_by", "requested_at"]
    list_filter = ["status", "is_exception"]


@admin.register(Decision)
class DecisionAdmin(ReadOnlyAdmin):
    list_display = ["review", "role", "reviewer", "verdict", "created_at"]


@admin.register(Comment)
class CommentAdmin(ReadOnlyAdmin):
    list_display = ["version", "author", "created_at"]


@admin.register(ModelChange)
class ModelChangeAdmin(ReadOnlyAdmin):
    """Proposed and decided on the model page (or the API), which audits each step."""

    list_display = ["model", "field", "old_value", "new_value", "status", "proposed_by"]
    list_filter = ["field", "status"]
