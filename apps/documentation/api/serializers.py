from __future__ import annotations

from rest_framework import serializers

from apps.documentation.models import Export


class PartSerializer(serializers.Serializer):
    key = serializers.CharField()
    title = serializers.CharField()
    kind = serializers.ChoiceField(choices=["narrative", "facts"])
    mapping = serializers.DictField(child=serializers.CharField())
    markdown = serializers.CharField(help_text="Narrative parts: the text as written.")
    html = serializers.CharField(help_text="Narrative parts: the sanitised HTML.")
    facts = serializers.ListField(child=serializers.ListField(child=serializers.CharField()))
    tables = serializers.ListField(child=serializers.DictField())
    empty = serializers.CharField()


class DocumentationSerializer(serializers.Serializer):
    revision = serializers.IntegerField(allow_null=True)
    status = serializers.CharField(allow_null=True, help_text="draft or approved (frozen)")
    title = serializers.CharField()
    subtitle = serializers.CharField()
    missing_for_review = serializers.ListField(child=serializers.CharField())
    revisions = serializers.ListField(child=serializers.DictField())
    parts = PartSerializer(many=True)


class NarrativeSerializer(serializers.Serializer):
    sections = serializers.DictField(
        child=serializers.CharField(allow_blank=True),
        help_text="Markdown per narrative section key; sections not named keep their text.",
    )


class ExportRequestSerializer(serializers.Serializer):
    format = serializers.ChoiceField(choices=Export.Format.choices)
    revision = serializers.IntegerField(
        required=False, help_text="The revision to export; the latest by default."
    )


class ExportSerializer(serializers.ModelSerializer):
    revision = serializers.IntegerField(source="revision.number")
    requested_by = serializers.CharField(source="requested_by.username")
    job = serializers.UUIDField(source="job.uuid")
    job_status = serializers.CharField(source="job.status")
    download = serializers.SerializerMethodField()

    class Meta:
        model = Export
        fields = [
            "id",
            "revision",
            "format",
            "job",
            "job_status",
            "size",
            "sha256",
            "requested_by",
            "requested_at",
            "download",
        ]

    def get_download(self, export: Export) -> str | None:
        if not export.is_ready:
            return None
        request = self.context.get("request")
        path = f"/api/v1/documentation/exports/{export.pk}/download/"
        return request.build_absolute_uri(path) if request else path
