from __future__ import annotations

from typing import Any

from rest_framework import serializers

from apps.deployments.models import Deployment, Environment, ServingKey


class EnvironmentSerializer(serializers.ModelSerializer):
    requires_live_in: serializers.SlugRelatedField[Any] = serializers.SlugRelatedField(
        slug_field="slug", read_only=True, allow_null=True
    )

    class Meta:
        model = Environment
        fields = ["slug", "name", "requires_live_in", "is_production"]
        read_only_fields = fields


class DeploymentSerializer(serializers.ModelSerializer):
    model = serializers.CharField(source="model.slug")
    version = serializers.IntegerField(source="version.number")
    environment = serializers.CharField(source="environment.slug")
    requested_by: serializers.SlugRelatedField[Any] = serializers.SlugRelatedField(
        slug_field="username", read_only=True
    )
    job = serializers.UUIDField(source="job.uuid", allow_null=True, default=None)

    class Meta:
        model = Deployment
        fields = [
            "id",
            "model",
            "version",
            "environment",
            "kind",
            "mode",
            "traffic",
            "status",
            "requested_by",
            "message",
            "approvals",
            "created_at",
            "live_from",
            "live_until",
            "job",
        ]
        read_only_fields = fields


class DeploymentRequestSerializer(serializers.Serializer):
    model = serializers.SlugField()
    version = serializers.IntegerField(min_value=1)
    environment = serializers.SlugField()
    mode = serializers.ChoiceField(
        choices=Deployment.Mode.choices,
        default=Deployment.Mode.CHAMPION,
        help_text="champion replaces the live version; shadow and canary run beside it.",
    )
    traffic = serializers.IntegerField(
        required=False,
        allow_null=True,
        default=None,
        help_text="A canary's share of the requests, 1 to 50 percent.",
    )


class SwitchRequestSerializer(serializers.Serializer):
    model = serializers.SlugField()
    environment = serializers.SlugField()


class ChallengerRequestSerializer(SwitchRequestSerializer):
    reason = serializers.CharField(max_length=500, help_text="Kept in the audit trail.")


class TrafficRequestSerializer(ChallengerRequestSerializer):
    traffic = serializers.IntegerField(help_text="The canary's new share, 1 to 50 percent.")


class ServingKeySerializer(serializers.ModelSerializer):
    model = serializers.CharField(source="model.slug")
    environment = serializers.CharField(source="environment.slug")
    state = serializers.SerializerMethodField()

    class Meta:
        model = ServingKey
        fields = ["id", "model", "environment", "name", "hint", "created_at", "revoked_at", "state"]
        read_only_fields = fields

    def get_state(self, key: ServingKey) -> str:
        return "revoked" if key.revoked_at else "active"


class NewServingKeySerializer(ServingKeySerializer):
    key = serializers.CharField(read_only=True, help_text="Shown only in this response.")

    class Meta(ServingKeySerializer.Meta):
        fields = [*ServingKeySerializer.Meta.fields, "key"]
        read_only_fields = fields


class ServingKeyRequestSerializer(serializers.Serializer):
    model = serializers.SlugField()
    environment = serializers.SlugField()
    name = serializers.CharField(max_length=100)
