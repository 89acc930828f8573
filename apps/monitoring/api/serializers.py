from __future__ import annotations

from rest_framework import serializers


class SeriesSerializer(serializers.Serializer):
    """A deployment's figures per bucket, oldest first (``docs/metrics.md`` defines them)."""

    deployment = serializers.IntegerField()
    model = serializers.CharField()
    environment = serializers.CharField()
    version = serializers.IntegerField()
    metric = serializers.CharField(help_text="The metric asked for, or empty for all.")
    span_seconds = serializers.IntegerField(help_text="The length of each bucket.")
    t = serializers.ListField(child=serializers.DateTimeField(), help_text="Bucket starts.")
    values = serializers.DictField(
        child=serializers.ListField(child=serializers.FloatField(allow_null=True)),
        help_text="Per metric, one value per bucket (null where a bucket has too few rows).",
    )
