from __future__ import annotations

from drf_spectacular.utils import extend_schema, extend_schema_view
from rest_framework import mixins

from apps.core.api import ErrorSerializer, ScopedViewSet
from apps.jobs.api.serializers import JobSerializer
from apps.jobs.models import Job

ERRORS = {401: ErrorSerializer, 404: ErrorSerializer}


@extend_schema_view(
    list=extend_schema(responses={200: JobSerializer(many=True), **ERRORS}),
    retrieve=extend_schema(responses={200: JobSerializer, **ERRORS}),
)
class JobViewSet(mixins.ListModelMixin, mixins.RetrieveModelMixin, ScopedViewSet):
    """Background jobs you may see: those you started, those about a model you may see, and for
    operators the diagnostic jobs."""

    queryset = Job.objects.select_related("target_type")
    serializer_class = JobSerializer
    lookup_field = "uuid"
