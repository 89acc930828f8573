from __future__ import annotations

from rest_framework import serializers

from apps.notifications.models import Notification

_IDS_HINT = "ids must be a list of notification ids (whole numbers from 1), e.g. [12, 15]."
MAX_IDS = 1000
# The largest id the database holds (a 64-bit key): the database driver fails on a larger one
# rather than finding nothing.
MAX_ID = 2**63 - 1


class NotificationSerializer(serializers.ModelSerializer):
    class Meta:
        model = Notification
        fields = ["id", "event", "title", "body", "url", "created_at", "read_at"]
        read_only_fields = fields


class MarkReadSerializer(serializers.Serializer):
    ids = serializers.ListField(
        child=serializers.IntegerField(
            min_value=1,
            max_value=MAX_ID,
            error_messages={
                "invalid": _IDS_HINT,
                "min_value": _IDS_HINT,
                "max_value": _IDS_HINT,
                "max_string_length": _IDS_HINT,
            },
        ),
        required=False,
        max_length=MAX_IDS,
        error_messages={
            "not_a_list": _IDS_HINT,
            "null": _IDS_HINT + " Leave ids out to mark every notification read.",
            "max_length": f"Mark at most {MAX_IDS} notifications read at a time.",
        },
        help_text="The notifications to mark read. Leave out to mark every notification read.",
    )


class MarkedReadSerializer(serializers.Serializer):
    marked_read = serializers.IntegerField(help_text="How many unread notifications were marked.")
