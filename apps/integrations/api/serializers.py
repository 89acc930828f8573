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
            "holdout_name",
            "holdout_artifact",
            "holdout_sha256",
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
    holdout = serializers.FileField(
        required=False, help_text="CSV or Parquet; or, instead, holdout_artifact"
    )
    holdout_artifact = serializers.CharField(
        required=False,
        allow_blank=True,
        max_length=1000,
        help_text="Instead of a file: the path of a CSV or Parquet data set the version's run "
        "logged, under the run's artifacts (e.g. data/holdout.csv).",
    )
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


class HoldoutSourceSerializer(serializers.Serializer):
    """Where automatic imports take their holdout: a kept file (name, SHA-256), or each run's
    artifact at a path."""

    name = serializers.CharField(required=False)
    sha256 = serializers.CharField(required=False)
    run_artifact = serializers.CharField(required=False)


class AutomaticSerializer(serializers.Serializer):
    """A link's automatic-import settings. Writing them turns automatic import on (on the
    writer's behalf) when an event is chosen, off when none is."""

    enabled = serializers.BooleanField(read_only=True)
    on_version_created = serializers.BooleanField(
        required=False, default=False, help_text="Import each new version registered in MLflow."
    )
    on_alias = serializers.CharField(
        required=False,
        allow_blank=True,
        default="",
        max_length=256,
        help_text="Import the version this alias is set to (e.g. candidate); empty for none.",
    )
    holdout = serializers.FileField(
        required=False,
        write_only=True,
        help_text="A CSV or Parquet holdout kept with the link (multipart); leave out to keep "
        "the holdout kept before.",
    )
    holdout_artifact = serializers.CharField(
        required=False,
        allow_blank=True,
        default="",
        max_length=1000,
        help_text="Instead of a kept file: the path of the data set each imported version's run "
        "logged (e.g. data/holdout.csv).",
    )
    target_column = serializers.CharField(required=False, allow_blank=True, default="")
    sensitive_column = serializers.CharField(required=False, allow_blank=True, default="")
    holdout_source = HoldoutSourceSerializer(read_only=True, allow_null=True, source="holdout")
    on_behalf_of = serializers.CharField(read_only=True, allow_null=True)
    since = serializers.DateTimeField(read_only=True, allow_null=True)
