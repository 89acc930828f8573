from __future__ import annotations

from rest_framework import serializers

from apps.jobs.models import Job


class JobSerializer(serializers.ModelSerializer):
    target = serializers.SerializerMethodField()

    class Meta:
        model = Job
        fields = [
            "uuid",
            "kind",
            "status",
            "progress",
            "message",
            "attempts",
            "max_attempts",
            "worker",
            "result",
            "target",
            "created_at",
            "started_at",
            "finished_at",
        ]
        read_only_fields = fields

    def get_target(self, job: Job) -> str | None:
        if job.target_type is None:
            return None
        return f"{job.target_type.app_label}.{job.target_type.model}:{job.target_id}"
