from __future__ import annotations

from django.db.models import QuerySet
from drf_spectacular.utils import extend_schema, extend_schema_view
from rest_framework import mixins, status
from rest_framework.decorators import action
from rest_framework.request import Request
from rest_framework.response import Response

from apps.core.api import ErrorSerializer, ScopedViewSet, valid_data
from apps.core.permissions import user_of
from apps.notifications import services
from apps.notifications.api.serializers import (
    MarkedReadSerializer,
    MarkReadSerializer,
    NotificationSerializer,
)
from apps.notifications.models import Notification


@extend_schema_view(
    list=extend_schema(
        responses={
            200: NotificationSerializer(many=True),
            401: ErrorSerializer,
            404: ErrorSerializer,  # a page past the last
        }
    )
)
class InboxViewSet(mixins.ListModelMixin, ScopedViewSet):
    """Your notifications, newest first. ``?unread=1`` lists the unread ones only."""

    serializer_class = NotificationSerializer
    queryset = Notification.objects.all()

    def filter_scoped(self, queryset: QuerySet[Notification]) -> QuerySet[Notification]:
        if self.request.query_params.get("unread"):
            return queryset.filter(read_at__isnull=True)
        return queryset

    @extend_schema(
        request=MarkReadSerializer,
        responses={200: MarkedReadSerializer, 400: ErrorSerializer, 401: ErrorSerializer},
    )
    @action(detail=False, methods=["post"], url_path="read")
    def read_all(self, request: Request) -> Response:
        """Mark every notification (or the ``ids`` given in the body) read."""
        body = valid_data(MarkReadSerializer(data=request.data))
        count = services.mark_read(user_of(request), body.get("ids"))
        return Response({"marked_read": count}, status=status.HTTP_200_OK)
