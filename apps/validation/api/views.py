from __future__ import annotations

from drf_spectacular.utils import extend_schema
from rest_framework import status
from rest_framework.request import Request
from rest_framework.response import Response

from apps.core.api import ErrorSerializer, ScopedAPIView
from apps.core.permissions import user_of
from apps.core.views import scoped_get
from apps.jobs.api.serializers import JobSerializer
from apps.registry.models import ModelVersion
from apps.validation import services
from apps.validation.api.serializers import (
    ValidationSerializer,
)

ERRORS = {401: ErrorSerializer, 403: ErrorSerializer, 404: ErrorSerializer}


class ValidationView(ScopedAPIView):
    """The version's latest validation: its job and its report. POST re-runs it."""

    serializer_class = ValidationSerializer

    queryset = ModelVersion.objects.select_related("model")

    def version(self, request: Request, slug: str, number: int) -> ModelVersion:
        return scoped_get(self.get_queryset(), model__slug=slug, number=number)

    def body(self, version: ModelVersion) -> dict[str, object]:
        report = services.latest_report(version)
        job = services.jobs_of(version).select_related("target_type").first()
        return {
            "status": version.status,
            "job": JobSerializer(job).data if job else None,
            "report": services.report_document(report) if report else None,
        }

    @extend_schema(responses={200: ValidationSerializer, **ERRORS})
    def get(self, request: Request, slug: str, number: int) -> Response:
        return Response(self.body(self.version(request, slug, number)))

    @extend_schema(
        request=None, responses={202: ValidationSerializer, 400: ErrorSerializer, **ERRORS}
    )
    def post(self, request: Request, slug: str, number: int) -> Response:
        version = self.version(request, slug, number)
        services.rerun_validation(version.pk, actor=user_of(request))
        version.refresh_from_db()
        return Response(self.body(version), status=status.HTTP_202_ACCEPTED)
