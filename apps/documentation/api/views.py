from __future__ import annotations

from typing import Any

from django.http import FileResponse, Http404
from drf_spectacular.utils import OpenApiTypes, extend_schema
from rest_framework import status
from rest_framework.request import Request
from rest_framework.response import Response

from apps.core.api import ErrorSerializer, ScopedAPIView, valid_data
from apps.core.permissions import not_found_message, user_of
from apps.core.views import scoped_get
from apps.documentation import services
from apps.documentation.api.serializers import (
    DocumentationSerializer,
    ExportRequestSerializer,
    ExportSerializer,
    NarrativeSerializer,
)
from apps.documentation.models import Export, Revision
from apps.registry.models import ModelVersion

ERRORS = {
    400: ErrorSerializer,
    401: ErrorSerializer,
    403: ErrorSerializer,
    404: ErrorSerializer,
    409: ErrorSerializer,
}


class DocumentationView(ScopedAPIView):
    """A version's documentation (its latest revision, or ``?revision=N``). PATCH writes
    narrative sections: the model's data scientists only."""

    queryset = ModelVersion.objects.select_related("model")
    serializer_class = DocumentationSerializer

    def version(self, slug: str, number: int) -> ModelVersion:
        return scoped_get(self.get_queryset(), model__slug=slug, number=number)

    def body(self, version: ModelVersion, revision: Revision | None) -> dict[str, Any]:
        document = services.document_of(version, revision)
        narrative = revision.narrative if revision else services.working_narrative(version)
        return {
            "revision": revision.number if revision else None,
            "status": revision.status if revision else None,
            "title": document.title,
            "subtitle": document.subtitle,
            "missing_for_review": services.missing_sections(version),
            "revisions": [
                {"number": r.number, "status": r.status, "frozen_at": r.frozen_at}
                for r in services.revisions_of(version)
            ],
            "parts": [
                {
                    "key": p.key,
                    "title": p.title,
                    "kind": p.kind,
                    "mapping": p.mapping,
                    "markdown": narrative.get(p.key, "") if p.kind == "narrative" else "",
                    "html": p.html,
                    "facts": [list(f) for f in p.facts],
                    "tables": [
                        {"caption": t.caption, "columns": t.columns, "rows": t.rows}
                        for t in p.tables
                    ],
                    "empty": p.empty if p.is_empty else "",
                }
                for p in document.parts
            ],
        }

    @extend_schema(responses={200: DocumentationSerializer, **ERRORS})
    def get(self, request: Request, slug: str, number: int) -> Response:
        version = self.version(slug, number)
        chosen = request.query_params.get("revision")
        revision = (
            Revision.objects.filter(version=version, number=chosen).first()
            if chosen and chosen.isdigit()
            else services.latest_revision(version)
        )
        if chosen and revision is None:
            raise Http404(not_found_message("documentation revision", chosen))
        return Response(self.body(version, revision))

    @extend_schema(request=NarrativeSerializer, responses={200: DocumentationSerializer, **ERRORS})
    def patch(self, request: Request, slug: str, number: int) -> Response:
        version = self.version(slug, number)
        data = valid_data(NarrativeSerializer(data=request.data))
        revision = services.save_narrative(
            version.pk, actor=user_of(request), sections=data["sections"]
        )
        return Response(self.body(version, revision))


class ExportsView(ScopedAPIView):
    """Exports of a version's documentation. POST queues one; its SHA-256 is audited once the
    worker has written it (poll the export)."""

    queryset = ModelVersion.objects.select_related("model")
    serializer_class = ExportSerializer
    pagination_class = None  # the latest 100, newest first

    @extend_schema(responses={200: ExportSerializer(many=True), **ERRORS})
    def get(self, request: Request, slug: str, number: int) -> Response:
        version = scoped_get(self.get_queryset(), model__slug=slug, number=number)
        exports = Export.objects.filter(revision__version=version).select_related(
            "revision", "requested_by", "job"
        )[:100]
        return Response(ExportSerializer(exports, many=True, context={"request": request}).data)

    @extend_schema(request=ExportRequestSerializer, responses={202: ExportSerializer, **ERRORS})
    def post(self, request: Request, slug: str, number: int) -> Response:
        version = scoped_get(self.get_queryset(), model__slug=slug, number=number)
        data = valid_data(ExportRequestSerializer(data=request.data))
        revision = (
            Revision.objects.filter(version=version, number=data["revision"]).first()
            if "revision" in data
            else services.latest_revision(version)
        )
        if revision is None:
            raise Http404(
                not_found_message("documentation revision", str(data.get("revision", "")))
            )
        export = services.request_export(revision.pk, actor=user_of(request), format=data["format"])
        export = Export.objects.select_related("revision", "requested_by", "job").get(pk=export.pk)
        return Response(
            ExportSerializer(export, context={"request": request}).data,
            status=status.HTTP_202_ACCEPTED,
        )


class ExportView(ScopedAPIView):
    queryset = Export.objects.select_related("revision", "requested_by", "job")
    serializer_class = ExportSerializer

    @extend_schema(responses={200: ExportSerializer, **ERRORS})
    def get(self, request: Request, pk: int) -> Response:
        export = scoped_get(self.get_queryset(), pk=pk)
        return Response(ExportSerializer(export, context={"request": request}).data)


class ExportDownloadView(ScopedAPIView):
    queryset = Export.objects.select_related("revision__version__model")
    serializer_class = ExportSerializer

    @extend_schema(responses={(200, "application/octet-stream"): OpenApiTypes.BINARY, **ERRORS})
    def get(self, request: Request, pk: int) -> FileResponse:
        export = scoped_get(self.get_queryset(), pk=pk)
        if not export.is_ready:
            raise Http404(not_found_message("export file", str(pk)))
        return services.file_response(export)
