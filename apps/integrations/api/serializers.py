from __future__ import annotations

from typing import Any

from django.urls import reverse
from rest_framework import serializers

from apps.integrations.models import MlflowImport


class ImportJobSerializer(serializers.Serializer):
    uuid = serializers.UUIDField()
    status = serializers.CharField()
    progress = serializers.IntegerField()
    message = serializers.CharField()


class MlflowImportSerializer(serializers.ModelSerializer):
    """An import's state and, once MLflow was read, its provenance. Never a credential."""

    model = serializers.SlugRelatedField(slug_field="slug", read_only=True)  # type: ignore[var-annotated]
    connection = serializers.SlugRelatedField(slug_field="name", read_only=True)  # type: ignore[var-annotated]
    requested_by = serializers.SlugRelatedField(slug_field="username", read_only=True)  # type: ignore[var-annotated]
    version = serializers.SerializerMethodField()
    version_url = serializers.SerializerMethodField()
    job = ImportJobSerializer(read_only=True, allow_null=True)
    url = serializers.SerializerMethodField()

    class Meta:
        model = MlflowImport
        fields = [
            "id",
            "url",
            "model",
            "state",
            "reference",
            "connection",
            "mlflow_name",
            "mlflow_version",
            "aliases",
            "run_id",
            "experiment_id",
            "experiment_name",
            "params",
            "metrics",
            "tags",
            "git_commit",
            "original_format",
            "original_sha256",
            "original_size",
            "target_column",
            "requested_by",
            "requested_at",
            "finished_at",
            "failure",
            "version",
            "version_url",
            "job",
        ]
        read_only_fields = fields

    def get_version(self, record: MlflowImport) -> int | None:
        return record.version.number if record.version is not None else None

    def get_version_url(self, record: MlflowImport) -> str | None:
        if record.version is None:
            return None
        return reverse("api-version-detail", args=[record.model.slug, record.version.number])

    def get_url(self, record: MlflowImport) -> str:
        return reverse("api-mlflow-import", args=[record.pk])


class ImportRequestSerializer(serializers.Serializer):
    reference = serializers.CharField(
        max_length=600,
        help_text="models:/<name>/<version>, models:/<name>@<alias>, or for the linked MLflow "
        "model a version number or @alias.",
    )
    holdout = serializers.FileField(help_text="CSV or Parquet")
    target_column = serializers.CharField(max_length=200)
    sensitive_column = serializers.CharField(required=False, allow_blank=True, default="")
    notes = serializers.CharField(required=False, allow_blank=True, default="")


class LinkSerializer(serializers.Serializer):
    connection = serializers.CharField(help_text="The MLflow connection's name.")
    mlflow_name = serializers.CharField(max_length=256)
    created_by = serializers.CharField(read_only=True, source="created_by.username")
    created_at = serializers.DateTimeField(read_only=True)

    def to_representation(self, instance: Any) -> dict[str, Any]:
        return {
            "connection": instance.connection.name,
            "mlflow_name": instance.mlflow_name,
            "created_by": instance.created_by.username,
            "created_at": serializers.DateTimeField().to_representation(instance.created_at),
        }
