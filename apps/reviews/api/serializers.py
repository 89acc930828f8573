from __future__ import annotations

from typing import Any

from rest_framework import serializers

from apps.core.markdown import render_markdown
from apps.reviews.models import Comment, Decision, ModelChange, Review


class DecisionSerializer(serializers.ModelSerializer):
    reviewer: serializers.SlugRelatedField[Any] = serializers.SlugRelatedField(
        slug_field="username", read_only=True
    )
    decision = serializers.CharField(source="verdict")

    class Meta:
        model = Decision
        fields = ["decision", "role", "slot", "reviewer", "reason", "created_at"]
        read_only_fields = fields


class ReviewSerializer(serializers.ModelSerializer):
    model = serializers.CharField(source="version.model.slug")
    version = serializers.IntegerField(source="version.number")
    requested_by: serializers.SlugRelatedField[Any] = serializers.SlugRelatedField(
        slug_field="username", read_only=True
    )
    policy = serializers.CharField(source="policy.__str__")
    # Not "required": that name belongs to every DRF field.
    sign_offs_required = serializers.JSONField(source="policy.required")
    sign_offs_independent = serializers.BooleanField(source="policy.independent")
    risk_owner: serializers.SlugRelatedField[Any] = serializers.SlugRelatedField(
        slug_field="username",
        read_only=True,
        help_text="Whose risk-owner sign-off the review waits for (fixed when it was requested).",
    )
    decisions = DecisionSerializer(many=True, read_only=True)

    class Meta:
        model = Review
        fields = [
            "model",
            "version",
            "status",
            "summary",
            "is_exception",
            "exception_reasons",
            "justification",
            "requested_by",
            "requested_at",
            "closed_at",
            "policy",
            "sign_offs_required",
            "sign_offs_independent",
            "risk_owner",
            "decisions",
        ]
        read_only_fields = fields


class ReviewRequestSerializer(serializers.Serializer):
    summary = serializers.CharField()
    justification = serializers.CharField(required=False, allow_blank=True, default="")


class DecisionRequestSerializer(serializers.Serializer):
    decision = serializers.ChoiceField(choices=Decision.Verdict.values)
    reason = serializers.CharField()


class CommentSerializer(serializers.ModelSerializer):
    author: serializers.SlugRelatedField[Any] = serializers.SlugRelatedField(
        slug_field="username", read_only=True
    )
    html = serializers.SerializerMethodField()

    class Meta:
        model = Comment
        fields = ["id", "author", "body", "html", "created_at"]
        read_only_fields = ["id", "author", "html", "created_at"]

    def get_html(self, comment: Comment) -> str:
        return render_markdown(comment.body)


class ModelChangeSerializer(serializers.ModelSerializer):
    proposed_by: serializers.SlugRelatedField[Any] = serializers.SlugRelatedField(
        slug_field="username", read_only=True
    )
    decided_by: serializers.SlugRelatedField[Any] = serializers.SlugRelatedField(
        slug_field="username", read_only=True, allow_null=True
    )

    class Meta:
        model = ModelChange
        fields = [
            "id",
            "field",
            "old_value",
            "new_value",
            "reason",
            "status",
            "proposed_by",
            "proposed_at",
            "decided_by",
            "decision_reason",
            "decided_at",
        ]
        read_only_fields = fields


class ChangeProposalSerializer(serializers.Serializer):
    field = serializers.ChoiceField(choices=ModelChange.Field.values)
    value = serializers.CharField(help_text="A username, a team slug, or high/medium/low.")
    reason = serializers.CharField()


class ChangeDecisionSerializer(serializers.Serializer):
    decision = serializers.ChoiceField(choices=["approve", "reject"])
    reason = serializers.CharField()
