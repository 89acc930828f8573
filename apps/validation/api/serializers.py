from __future__ import annotations

from rest_framework import serializers

from apps.jobs.api.serializers import JobSerializer


class ValidationSerializer(serializers.Serializer):
    status = serializers.CharField(help_text="The version's status")
    job = JobSerializer(allow_null=True)
    report = serializers.JSONField(allow_null=True, help_text="The latest report, if any")
