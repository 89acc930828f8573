from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from django.contrib.auth.models import User
from django.db.models import QuerySet
from django.urls import reverse
from rest_framework import serializers

from apps.accounts.models import Team
from apps.registry.models import ModelVersion, RegisteredModel, StoredFile, Tag


class LatestVersionSerializer(serializers.Serializer):
    number = serializers.IntegerField()
    status = serializers.CharField()


class RegisteredModelSerializer(serializers.ModelSerializer):
    team: serializers.SlugRelatedField[Team] = serializers.SlugRelatedField(
        slug_field="slug", read_only=True
    )
    owner: serializers.SlugRelatedField[User] = serializers.SlugRelatedField(
        slug_field="username", read_only=True
    )
    risk_owner: serializers.SlugRelatedField[User] = serializers.SlugRelatedField(
        slug_field="username", read_only=True
    )
    tags: serializers.SlugRelatedField[Tag] = serializers.SlugRelatedField(
        slug_field="name", many=True, read_only=True
    )
    latest_version = LatestVersionSerializer(
        source="shown_version",
        read_only=True,
        allow_null=True,
        help_text="The latest version you may see (model operations: the latest submitted).",
    )
    version_count = serializers.IntegerField(read_only=True)

    class Meta:
        model = RegisteredModel
        fields = [
            "slug",
            "name",
            "description",
            "use_case",
            "team",
            "owner",
            "risk_tier",
            "risk_owner",
            "tags",
            "pickle_allowed",
            "latest_version",
            "version_count",
            "created_at",
            "updated_at",
        ]
        read_only_fields = fields


# The inventory list as plain rows: ``.values()`` for the page and one query for its tags.
# Model instances with their related rows (team, owner, risk owner, latest version, tags) made
# up three quarters of a list request at 50 rows (bench/registry.py). The fields and formats are
# RegisteredModelSerializer's, which documents the list and serves single models; a test holds
# the two equal.
_ROW_VALUES = [
    "pk",
    "slug",
    "name",
    "description",
    "use_case",
    "team__slug",
    "owner__username",
    "risk_tier",
    "risk_owner__username",
    "pickle_allowed",
    "shown_version_number",
    "shown_version_status",
    "version_count",
    "created_at",
    "updated_at",
]
_DATETIME = serializers.DateTimeField()


def inventory_values(models: QuerySet[RegisteredModel]) -> QuerySet[Any]:
    """The (filtered, ordered) inventory as the values ``inventory_rows`` turns into rows."""
    return models.select_related(None).prefetch_related(None).values(*_ROW_VALUES)


def inventory_rows(page: Iterable[dict[str, Any]]) -> list[dict[str, Any]]:
    """One page of ``inventory_values`` exactly as RegisteredModelSerializer shows each model."""
    rows = list(page)
    tags: dict[int, list[str]] = {row["pk"]: [] for row in rows}
    tagged = RegisteredModel.tags.through.objects.filter(registeredmodel_id__in=tags)
    for model_id, tag in tagged.order_by("tag__name").values_list(
        "registeredmodel_id", "tag__name"
    ):
        tags[model_id].append(tag)
    return [
        {
            "slug": row["slug"],
            "name": row["name"],
            "description": row["description"],
            "use_case": row["use_case"],
            "team": row["team__slug"],
            "owner": row["owner__username"],
            "risk_tier": row["risk_tier"],
            "risk_owner": row["risk_owner__username"],
            "tags": tags[row["pk"]],
            "pickle_allowed": row["pickle_allowed"],
            "latest_version": None
            if row["shown_version_number"] is None
            else {"number": row["shown_version_number"], "status": row["shown_version_status"]},
            "version_count": row["version_count"],
            "created_at": _DATETIME.to_representation(row["created_at"]),
            "updated_at": _DATETIME.to_representation(row["updated_at"]),
        }
        for row in rows
    ]


class ModelWriteSerializer(serializers.Serializer):
    """Fields a data scientist sends to register (all but description and tags required) or edit."""

    name = serializers.CharField(max_length=120)
    use_case = serializers.CharField(max_length=200)
    description = serializers.CharField(required=False, allow_blank=True, default="")
    team = serializers.SlugRelatedField(slug_field="slug", queryset=Team.objects.all())
    risk_tier = serializers.ChoiceField(choices=RegisteredModel.RiskTier.choices)
    risk_owner = serializers.SlugRelatedField(
        slug_field="username", queryset=User.objects.filter(is_active=True)
    )
    tags = serializers.ListField(
        child=serializers.CharField(max_length=50), required=False, default=list
    )
    pickle_allowed = serializers.BooleanField(required=False, help_text="Administrators only.")


class StoredFileSerializer(serializers.ModelSerializer):
    download_url = serializers.SerializerMethodField()

    class Meta:
        model = StoredFile
        fields = [
            "role",
            "original_name",
            "file_format",
            "size",
            "sha256",
            "details",
            "download_url",
        ]
        read_only_fields = fields

    def get_download_url(self, stored: StoredFile) -> str:
        version = stored.version
        return reverse("api-version-file", args=[version.model.slug, version.number, stored.role])


class ModelVersionSerializer(serializers.ModelSerializer):
    model: serializers.SlugRelatedField[RegisteredModel] = serializers.SlugRelatedField(
        slug_field="slug", read_only=True
    )
    uploaded_by: serializers.SlugRelatedField[User] = serializers.SlugRelatedField(
        slug_field="username", read_only=True
    )
    files = StoredFileSerializer(many=True, read_only=True)
    web_url = serializers.CharField(source="get_absolute_url", read_only=True)

    class Meta:
        model = ModelVersion
        fields = [
            "model",
            "number",
            "status",
            "artifact_format",
            "target_column",
            "sensitive_column",
            "notes",
            "uploaded_by",
            "created_at",
            "files",
            "web_url",
        ]
        read_only_fields = fields


class VersionUploadSerializer(serializers.Serializer):
    artifact = serializers.FileField(help_text=".skops (or .joblib/.pkl where allowed)")
    holdout = serializers.FileField(help_text="CSV or Parquet")
    target_column = serializers.CharField(max_length=200)
    reference = serializers.FileField(required=False)
    sensitive_column = serializers.CharField(required=False, allow_blank=True, default="")
    notes = serializers.CharField(required=False, allow_blank=True, default="")


class GrantSerializer(serializers.Serializer):
    grantee = serializers.CharField(source="grantee_id")
    kind = serializers.CharField()
    name = serializers.CharField()
    level = serializers.CharField()
    reason = serializers.CharField()
    revocable = serializers.BooleanField()


class ShareRequestSerializer(serializers.Serializer):
    grantee = serializers.CharField(
        help_text="user:<username> or group:<name>, e.g. group:team:fraud"
    )
    level = serializers.ChoiceField(choices=["view", "change"])


class UploadErrorSerializer(serializers.Serializer):
    detail = serializers.CharField()
    field = serializers.CharField()
