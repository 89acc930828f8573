from __future__ import annotations

from typing import Any

from rest_framework import serializers

from apps.findings.models import Finding


class FindingSerializer(serializers.ModelSerializer):
    model = serializers.CharField(source="model.slug")
    version = serializers.IntegerField(source="version.number")
    owner: serializers.SlugRelatedField[Any] = serializers.SlugRelatedField(
        slug_field="username", read_only=True
    )
    raised_by: serializers.SlugRelatedField[Any] = serializers.SlugRelatedField(
        slug_field="username", read_only=True
    )
    overdue = serializers.BooleanField(source="is_overdue")

    class Meta:
        model = Finding
        fields = [
            "id",
            "model",
            "version",
            "title",
            "severity",
            "category",
            "description",
            "owner",
            "due_date",
            "overdue",
            "state",
            "raised_by",
            "raised_at",
            "remediation",
            "remediated_at",
            "closed_at",
            "last_reason",
        ]
        read_only_fields = fields


class RaiseSerializer(serializers.Serializer):
    model = serializers.SlugField()
    version = serializers.IntegerField(min_value=1)
    title = serializers.CharField(max_length=200)
    severity = serializers.ChoiceField(choices=Finding.Severity.choices)
    category = serializers.ChoiceField(choices=Finding.Category.choices)
    description = serializers.CharField()
    owner = serializers.CharField(max_length=150, help_text="A member of the model's team.")
    due_date = serializers.DateField()


class RemediationSerializer(serializers.Serializer):
    remediation = serializers.CharField()


class ReasonSerializer(serializers.Serializer):
    reason = serializers.CharField()
