from __future__ import annotations

from django.db.models import QuerySet
from rest_framework import viewsets

from apps.jobs.api.serializers import JobSerializer
from apps.jobs.models import Job


class JobViewSet(viewsets.ReadOnlyModelViewSet):
    """Background jobs you may see: your own, and for operators those whose subject they may see."""

    serializer_class = JobSerializer
    lookup_field = "uuid"

    def get_queryset(self) -> QuerySet[Job]:
        return Job.objects.visible_to(self.request.user).select_related("target_type")
