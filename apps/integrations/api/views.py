from __future__ import annotations

from typing import Any

from django.db.models import QuerySet
from django.http import Http404
from drf_spectacular.utils import extend_schema
from rest_framework import status
from rest_framework.parsers import FormParser, JSONParser
from rest_framework.request import Request
from rest_framework.response import Response

from apps.core.api import ErrorSerializer, ScopedAPIView, valid_data
from apps.core.permissions import not_found_message, user_of
from apps.integrations import automatic, services
from apps.integrations.api.serializers import (
    AutomaticSerializer,
    ImportRequestSerializer,
    LinkSerializer,
    MlflowImportSerializer,
)
from apps.integrations.models import MlflowConnection, MlflowImport, MlflowLink
from apps.registry.api.parsers import StrictMultiPartParser
from apps.registry.models import ModelVersion, RegisteredModel
from apps.registry.uploads import UploadRefused

ERRORS = {400: ErrorSerializer, 401: ErrorSerializer, 403: ErrorSerializer, 404: ErrorSerializer}
IMPORTS = MlflowImport.objects.select_related(
    "model", "connection", "requested_by", "version", "job"
)


class ImportVersion(ScopedAPIView):
    """Import a version of the linked MLflow model as a new version of this model."""

    queryset = RegisteredModel.objects.all()
    serializer_class = ImportRequestSerializer
    lookup_field = "slug"
    parser_classes = [StrictMultiPartParser, FormParser]

    @extend_schema(
        request={"multipart/form-data": ImportRequestSerializer},
        responses={202: MlflowImportSerializer, 413: ErrorSerializer, **ERRORS},
    )
    def post(self, request: Request, slug: str) -> Response:
        model = self.get_object()
        services.check_can_import(user_of(request), model)
        try:
            record = services.request_import(
                model.pk,
                actor=user_of(request),
                reference=str(request.data.get("reference", "")),
                holdout=request.FILES.get("holdout"),
                holdout_artifact=str(request.data.get("holdout_artifact", "")),
                target_column=str(request.data.get("target_column", "")),
                sensitive_column=str(request.data.get("sensitive_column", "")),
                notes=str(request.data.get("notes", "")),
            )
        except UploadRefused as refused:
            return Response(
                {"detail": refused.message, "errors": {refused.field: [refused.message]}},
                status=refused.status,
            )
        return Response(
            MlflowImportSerializer(IMPORTS.get(pk=record.pk)).data,
            status=status.HTTP_202_ACCEPTED,
        )


class ImportDetail(ScopedAPIView):
    """An import: its state, its job, and the provenance MLflow gave."""

    queryset = IMPORTS
    serializer_class = MlflowImportSerializer

    @extend_schema(responses={200: MlflowImportSerializer, **ERRORS})
    def get(self, request: Request, pk: int) -> Response:
        return Response(MlflowImportSerializer(self.get_object()).data)


class VersionProvenance(ScopedAPIView):
    """Where a version came from, if it was imported from MLflow (404 otherwise)."""

    queryset = ModelVersion.objects.select_related("model")
    serializer_class = MlflowImportSerializer
    lookup_field = "number"

    def filter_scoped(self, queryset: QuerySet[ModelVersion]) -> QuerySet[ModelVersion]:
        return queryset.filter(model__slug=self.kwargs["slug"])

    @extend_schema(responses={200: MlflowImportSerializer, **ERRORS})
    def get(self, request: Request, slug: str, number: int) -> Response:
        version = self.get_object()
        record = services.provenance_of(version)
        if record is None:
            raise Http404(f"Version {number} was not imported from MLflow.")
        return Response(MlflowImportSerializer(IMPORTS.get(pk=record.pk)).data)


class ModelLink(ScopedAPIView):
    """The model's link to an MLflow registered model: read, make, remove."""

    queryset = RegisteredModel.objects.all()
    serializer_class = LinkSerializer
    lookup_field = "slug"
    parser_classes = [JSONParser, FormParser]

    @extend_schema(responses={200: LinkSerializer, **ERRORS})
    def get(self, request: Request, slug: str) -> Response:
        link = services.link_of(self.get_object())
        if link is None:
            raise Http404("This model is not linked to MLflow.")
        return Response(LinkSerializer(link).data)

    @extend_schema(request=LinkSerializer, responses={201: LinkSerializer, **ERRORS})
    def post(self, request: Request, slug: str) -> Response:
        model = self.get_object()
        services.check_can_link(user_of(request), model)
        data: dict[str, Any] = valid_data(LinkSerializer(data=request.data))
        connection = MlflowConnection.objects.filter(name=data["connection"]).first()
        if connection is None or connection not in services.connections_for(user_of(request)):
            raise Http404(not_found_message("MLflow connection", data["connection"]))
        link = services.link_model(
            model.pk, actor=user_of(request), connection=connection, mlflow_name=data["mlflow_name"]
        )
        return Response(LinkSerializer(link).data, status=status.HTTP_201_CREATED)

    @extend_schema(responses={204: None, **ERRORS})
    def delete(self, request: Request, slug: str) -> Response:
        model = self.get_object()
        services.unlink_model(model.pk, actor=user_of(request))
        return Response(status=status.HTTP_204_NO_CONTENT)


class AutomaticImport(ScopedAPIView):
    """The link's automatic-import settings (webhooks and polling): read by whoever sees the
    model, written by whoever may import into it, through the same service as the page."""

    queryset = RegisteredModel.objects.all()
    serializer_class = AutomaticSerializer
    lookup_field = "slug"
    parser_classes = [StrictMultiPartParser, FormParser, JSONParser]

    def _link(self, model: RegisteredModel) -> MlflowLink:
        link = services.link_of(model)
        if link is None:
            raise Http404("This model is not linked to MLflow.")
        return link

    @extend_schema(responses={200: AutomaticSerializer, **ERRORS})
    def get(self, request: Request, slug: str) -> Response:
        link = self._link(self.get_object())
        return Response(AutomaticSerializer(automatic.settings_of(link)).data)

    @extend_schema(
        request={
            "application/json": AutomaticSerializer,
            "multipart/form-data": AutomaticSerializer,
        },
        responses={200: AutomaticSerializer, 413: ErrorSerializer, **ERRORS},
    )
    def put(self, request: Request, slug: str) -> Response:
        model = self.get_object()
        services.check_can_import(user_of(request), model)
        self._link(model)
        data: dict[str, Any] = valid_data(AutomaticSerializer(data=request.data))
        try:
            link = automatic.set_automatic(
                model.pk,
                actor=user_of(request),
                wanted=automatic.Automatic(
                    on_version_created=data["on_version_created"],
                    on_alias=data["on_alias"],
                    target_column=data["target_column"],
                    sensitive_column=data["sensitive_column"],
                    holdout_artifact=data["holdout_artifact"],
                ),
                holdout=request.FILES.get("holdout"),
            )
        except UploadRefused as refused:
            return Response(
                {"detail": refused.message, "errors": {refused.field: [refused.message]}},
                status=refused.status,
            )
        return Response(AutomaticSerializer(automatic.settings_of(link)).data)
