from __future__ import annotations

from django.db.models import QuerySet
from drf_spectacular.utils import extend_schema, extend_schema_view
from rest_framework import viewsets

from apps.core.api import ErrorSerializer
from apps.jobs.api.serializers import JobSerializer
from apps.jobs.models import Job

ERRORS = {401: ErrorSerializer, 404: ErrorSerializer}


@extend_schema_view(
    list=extend_schema(responses={200: JobSerializer(many=True), **ERRORS}),
    retrieve=extend_schema(responses={200: JobSerializer, **ERRORS}),
)
class JobViewSet(viewsets.ReadOnlyModelViewSet):
    """Background jobs you may see: those you started, those about a model you may see, and for
    operators the diagnostic jobs."""

    serializer_class = JobSerializer
    lookup_field = "uuid"

    def get_queryset(self) -> QuerySet[Job]:
        return Job.objects.visible_to(self.request.user).select_related("target_type")
