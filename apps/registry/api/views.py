from __future__ import annotations

from typing import Any

from django.db.models import QuerySet
from django.http import FileResponse, Http404
from drf_spectacular.utils import OpenApiParameter, extend_schema
from rest_framework import exceptions, mixins, status
from rest_framework.parsers import FormParser, JSONParser
from rest_framework.request import Request
from rest_framework.response import Response

from apps.core.api import ErrorSerializer, ScopedViewSet
from apps.core.permissions import get_visible_or_404, not_found_message, user_of
from apps.registry import services, storage
from apps.registry.api.parsers import StrictMultiPartParser
from apps.registry.api.serializers import (
    GrantSerializer,
    ModelVersionSerializer,
    ModelWriteSerializer,
    RegisteredModelSerializer,
    ShareRequestSerializer,
    UploadErrorSerializer,
    VersionUploadSerializer,
    inventory_rows,
    inventory_values,
)
from apps.registry.filters import (
    RISK_TIERS,
    SORTS,
    STATUSES,
    InventoryFilterForm,
    inventory,
)
from apps.registry.models import ModelVersion, RegisteredModel
from apps.registry.uploads import UploadRefused

ERRORS = {400: ErrorSerializer, 401: ErrorSerializer, 403: ErrorSerializer, 404: ErrorSerializer}
FILTERS = [
    OpenApiParameter("q", str, description="Search name, tag or use case"),
    OpenApiParameter("risk_tier", str, enum=[value for value, _ in RISK_TIERS if value]),
    OpenApiParameter(
        "status",
        str,
        enum=[value for value, _ in STATUSES if value],
        description="Status of the latest version, or “none”",
    ),
    OpenApiParameter("team", str, description="Team slug"),
    OpenApiParameter("owner", str, description="Username"),
    OpenApiParameter("risk_owner", str, description="Username"),
    OpenApiParameter("sort", str, enum=list(SORTS)),
]


class RegisteredModelViewSet(mixins.ListModelMixin, mixins.RetrieveModelMixin, ScopedViewSet):
    """The inventory: models you may see."""

    queryset = RegisteredModel.objects.all()
    serializer_class = RegisteredModelSerializer
    lookup_field = "slug"
    change_permission = services.CHANGE

    def filter_scoped(self, queryset: QuerySet[RegisteredModel]) -> QuerySet[RegisteredModel]:
        queryset = inventory(queryset, self.request.user)
        if self.action != "list":  # the inventory's filters narrow the list, not one model
            return queryset
        form = InventoryFilterForm(self.request.query_params)
        if not form.is_valid():
            # Dropping one filter would answer with models the caller did not ask for.
            raise exceptions.ValidationError(
                {field: [str(m) for m in messages] for field, messages in form.errors.items()}
            )
        return form.apply(queryset)

    @extend_schema(
        parameters=FILTERS, responses={200: RegisteredModelSerializer(many=True), **ERRORS}
    )
    def list(self, request: Request, *args: Any, **kwargs: Any) -> Response:
        page = self.paginate_queryset(inventory_values(self.get_queryset()))
        assert page is not None  # the API always pages
        return self.get_paginated_response(inventory_rows(page))

    @extend_schema(responses={200: RegisteredModelSerializer, **ERRORS})
    def retrieve(self, request: Request, *args: Any, **kwargs: Any) -> Response:
        return super().retrieve(request, *args, **kwargs)

    @extend_schema(
        request=ModelWriteSerializer, responses={201: RegisteredModelSerializer, **ERRORS}
    )
    def create(self, request: Request) -> Response:
        body = ModelWriteSerializer(data=request.data)
        body.is_valid(raise_exception=True)
        data = body.validated_data
        data.pop("pickle_allowed", None)
        model = services.register_model(actor=user_of(request), **data)
        return Response(self._read(model), status=status.HTTP_201_CREATED)

    @extend_schema(
        request=ModelWriteSerializer(partial=True),
        responses={200: RegisteredModelSerializer, **ERRORS},
    )
    def partial_update(self, request: Request, slug: str) -> Response:
        model = self.get_object()
        body = ModelWriteSerializer(data=request.data, partial=True)
        body.is_valid(raise_exception=True)
        services.update_model(model.pk, actor=user_of(request), changes=dict(body.validated_data))
        return Response(self._read(model))

    def _read(self, model: RegisteredModel) -> dict[str, Any]:
        return dict(
            RegisteredModelSerializer(
                inventory(RegisteredModel.objects.all(), self.request.user).get(pk=model.pk)
            ).data
        )

    @extend_schema(responses={200: GrantSerializer(many=True), **ERRORS})
    def shares(self, request: Request, slug: str) -> Response:
        model = self.get_object()
        return Response(GrantSerializer(services.access_list(model), many=True).data)

    @extend_schema(request=ShareRequestSerializer, responses={201: GrantSerializer, **ERRORS})
    def share(self, request: Request, slug: str) -> Response:
        model = self.get_object()
        body = ShareRequestSerializer(data=request.data)
        body.is_valid(raise_exception=True)
        grant = services.share_model(
            model.pk,
            actor=user_of(request),
            grantee=body.validated_data["grantee"],
            level=body.validated_data["level"],
        )
        return Response(GrantSerializer(grant).data, status=status.HTTP_201_CREATED)

    @extend_schema(responses={204: None, **ERRORS})
    def unshare(self, request: Request, slug: str, grantee: str) -> Response:
        model = self.get_object()
        services.unshare_model(model.pk, actor=user_of(request), grantee=grantee)
        return Response(status=status.HTTP_204_NO_CONTENT)


class ModelVersionViewSet(mixins.ListModelMixin, mixins.RetrieveModelMixin, ScopedViewSet):
    """Versions of one model. The model must be visible to you, or every answer is a 404."""

    queryset = ModelVersion.objects.select_related("model", "uploaded_by").prefetch_related(
        "files__version__model"
    )
    serializer_class = ModelVersionSerializer
    lookup_field = "number"
    change_permission = services.CHANGE
    parser_classes = [StrictMultiPartParser, FormParser, JSONParser]

    def registered_model(self) -> RegisteredModel:
        if not hasattr(self, "_model"):
            self._model = get_visible_or_404(
                self.request.user, RegisteredModel.objects.all(), slug=self.kwargs["slug"]
            )
        return self._model

    def filter_scoped(self, queryset: QuerySet[ModelVersion]) -> QuerySet[ModelVersion]:
        """The visible versions of the model named in the URL (a model you may not see is a
        404 before anything else; model operations see only its submitted versions)."""
        return queryset.filter(model=self.registered_model())

    @extend_schema(responses={200: ModelVersionSerializer(many=True), **ERRORS})
    def list(self, request: Request, *args: Any, **kwargs: Any) -> Response:
        return super().list(request, *args, **kwargs)

    @extend_schema(responses={200: ModelVersionSerializer, **ERRORS})
    def retrieve(self, request: Request, *args: Any, **kwargs: Any) -> Response:
        return super().retrieve(request, *args, **kwargs)

    @extend_schema(
        request={"multipart/form-data": VersionUploadSerializer},
        responses={
            201: ModelVersionSerializer,
            400: UploadErrorSerializer,
            401: ErrorSerializer,
            403: ErrorSerializer,
            404: ErrorSerializer,
            413: UploadErrorSerializer,
        },
    )
    def create(self, request: Request, slug: str) -> Response:
        model = self.registered_model()
        files = request.FILES
        try:
            version = services.upload_version(
                model.pk,
                actor=user_of(request),
                artifact=files.get("artifact"),
                holdout=files.get("holdout"),
                target_column=str(request.data.get("target_column", "")),
                reference=files.get("reference"),
                sensitive_column=str(request.data.get("sensitive_column", "")),
                notes=str(request.data.get("notes", "")),
            )
        except UploadRefused as refused:
            return Response(
                {"detail": refused.message, "field": refused.field}, status=refused.status
            )
        version = self.queryset.get(pk=version.pk)  # just created by this permitted user
        return Response(ModelVersionSerializer(version).data, status=status.HTTP_201_CREATED)

    @extend_schema(responses={(200, "application/octet-stream"): bytes, **ERRORS})
    def download(self, request: Request, slug: str, number: int, role: str) -> FileResponse:
        version = self.get_object()
        stored = version.files.restrict(request.user).filter(role=role).first()
        if stored is None:
            raise Http404(not_found_message("file", role))
        return storage.file_response(stored)
