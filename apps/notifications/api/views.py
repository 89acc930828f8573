from __future__ import annotations

from django.db.models import QuerySet
from drf_spectacular.utils import extend_schema, inline_serializer
from rest_framework import mixins, serializers, status, viewsets
from rest_framework.decorators import action
from rest_framework.request import Request
from rest_framework.response import Response

from apps.accounts.permissions import user_of
from apps.notifications import services
from apps.notifications.models import Notification


class NotificationSerializer(serializers.ModelSerializer):
    class Meta:
        model = Notification
        fields = ["id", "event", "title", "body", "url", "created_at", "read_at"]
        read_only_fields = fields


class InboxViewSet(mixins.ListModelMixin, viewsets.GenericViewSet):
    """Your notifications, newest first. ``?unread=1`` lists the unread ones only."""

    serializer_class = NotificationSerializer

    def get_queryset(self) -> QuerySet[Notification]:
        if getattr(self, "swagger_fake_view", False):
            return Notification.objects.none()
        found = Notification.objects.filter(recipient=user_of(self.request))
        if self.request.query_params.get("unread"):
            found = found.filter(read_at__isnull=True)
        return found

    @extend_schema(
        request=None,
        responses={
            200: inline_serializer("MarkedRead", {"marked_read": serializers.IntegerField()})
        },
    )
    @action(detail=False, methods=["post"], url_path="read")
    def read_all(self, request: Request) -> Response:
        """Mark every notification (or the ``ids`` given in the body) read."""
        ids = request.data.get("ids") if isinstance(request.data, dict) else None
        count = services.mark_read(user_of(request), ids)
        return Response({"marked_read": count}, status=status.HTTP_200_OK)
