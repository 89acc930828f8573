"""The shapes of the analytics API's answers (drf-spectacular documents them from these)."""

from __future__ import annotations

from rest_framework import serializers


class PeriodSerializer(serializers.Serializer):
    first = serializers.DateField(help_text="First day, included.")
    last = serializers.DateField(help_text="Last day, included.")
    days = serializers.IntegerField()


class BucketCountSerializer(serializers.Serializer):
    bucket = serializers.DateField(help_text="The day, or the Monday of the week.")
    kind = serializers.CharField(help_text="The kind of action: its prefix, such as `version.`.")
    count = serializers.IntegerField()


class ModelChangesSerializer(serializers.Serializer):
    model = serializers.CharField(
        allow_null=True, help_text="The model's slug; null for events about no single model."
    )
    name = serializers.CharField()
    team = serializers.CharField(allow_null=True)
    changes = serializers.IntegerField()
    versions_uploaded = serializers.IntegerField()
    deployments = serializers.IntegerField()
    rollbacks = serializers.IntegerField()
    policy_changes = serializers.IntegerField()
    permission_changes = serializers.IntegerField()
    policy_exceptions = serializers.IntegerField()


class TeamCountSerializer(serializers.Serializer):
    team = serializers.CharField()
    name = serializers.CharField()
    changes = serializers.IntegerField()


class ActorCountSerializer(serializers.Serializer):
    actor = serializers.CharField(help_text="A username, or `system` for the portal itself.")
    changes = serializers.IntegerField()


class UnusualSerializer(serializers.Serializer):
    actor = serializers.CharField()
    changes = serializers.IntegerField()
    usual = serializers.FloatField(
        help_text="Their average per period of this length over the year before it."
    )
    ratio = serializers.FloatField(allow_null=True, help_text="Null when `usual` is 0.")


class UnusualRuleSerializer(serializers.Serializer):
    factor = serializers.IntegerField()
    min_changes = serializers.IntegerField()
    baseline_days = serializers.IntegerField()


class ChangeAnalyticsSerializer(serializers.Serializer):
    """Changes (audited events other than sign-ins, refusals, job steps and exports) in the
    period, among the events the caller may see."""

    period = PeriodSerializer()
    bucket = serializers.ChoiceField(choices=["day", "week"])
    total = serializers.IntegerField()
    by_bucket = BucketCountSerializer(many=True)
    by_model = ModelChangesSerializer(many=True)
    by_team = TeamCountSerializer(many=True)
    by_actor = ActorCountSerializer(many=True)
    unusual = UnusualSerializer(many=True)
    unusual_rule = UnusualRuleSerializer()


class MetricsSerializer(serializers.Serializer):
    deployments = serializers.IntegerField(help_text="Production deployments that went live.")
    weeks = serializers.FloatField(help_text="The period's days / 7.")
    deployment_frequency = serializers.FloatField(help_text="Deployments per week.")
    lead_time_count = serializers.IntegerField(
        help_text="Versions whose first time live in production is in the period."
    )
    lead_time_median_hours = serializers.FloatField(allow_null=True)
    lead_time_p90_hours = serializers.FloatField(allow_null=True)
    changes = serializers.IntegerField(help_text="Production deployments that went live or failed.")
    failed_changes = serializers.IntegerField()
    change_failure_rate = serializers.FloatField(allow_null=True, help_text="0 to 1.")
    restore_count = serializers.IntegerField()
    restore_median_hours = serializers.FloatField(allow_null=True)
    restore_p90_hours = serializers.FloatField(allow_null=True)
    unrestored = serializers.IntegerField(help_text="Failed changes whose alert is still open.")


class TeamMetricsSerializer(serializers.Serializer):
    team = serializers.CharField()
    name = serializers.CharField()
    metrics = MetricsSerializer()


class ModelMetricsSerializer(serializers.Serializer):
    model = serializers.CharField()
    name = serializers.CharField()
    team = serializers.CharField()
    metrics = MetricsSerializer()


class StageSerializer(serializers.Serializer):
    stage = serializers.CharField()
    # "label" is a Field attribute too; DRF's metaclass takes declared fields off the class.
    label = serializers.CharField()  # type: ignore[assignment]
    count = serializers.IntegerField()
    median_hours = serializers.FloatField(allow_null=True)
    p90_hours = serializers.FloatField(allow_null=True)


class DeliverySerializer(serializers.Serializer):
    """Delivery metrics of the models the caller may see (docs/analytics.md defines them)."""

    period = PeriodSerializer()
    bank = MetricsSerializer()
    by_team = TeamMetricsSerializer(many=True)
    by_model = ModelMetricsSerializer(many=True)
    lead_time_stages = StageSerializer(many=True)
