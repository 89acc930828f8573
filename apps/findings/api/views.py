from __future__ import annotations

from typing import Any

from django.contrib.auth.models import User
from django.core.exceptions import ValidationError
from django.db.models import QuerySet
from drf_spectacular.utils import OpenApiParameter, extend_schema
from rest_framework import mixins, status
from rest_framework.decorators import action
from rest_framework.request import Request
from rest_framework.response import Response

from apps.core.api import ErrorSerializer, ScopedViewSet
from apps.core.permissions import user_of, visible_to
from apps.core.views import scoped_get
from apps.findings import services
from apps.findings.api.serializers import (
    FindingSerializer,
    RaiseSerializer,
    ReasonSerializer,
    RemediationSerializer,
)
from apps.findings.filters import filtered
from apps.findings.forms import RegisterFilter
from apps.findings.models import Finding
from apps.registry.models import ModelVersion

ERRORS = {
    400: ErrorSerializer,
    401: ErrorSerializer,
    403: ErrorSerializer,
    404: ErrorSerializer,
    409: ErrorSerializer,
}
FILTERS = [
    OpenApiParameter(name, str)
    for name in ("severity", "state", "category", "overdue", "model", "team", "owner")
]


class FindingViewSet(mixins.ListModelMixin, mixins.RetrieveModelMixin, ScopedViewSet):
    """Findings on the models you can see. POST raises one (model operations, risk owners,
    compliance); its owner remediates, its raiser closes or reopens it."""

    queryset = Finding.objects.select_related("model", "version", "owner", "raised_by")
    serializer_class = FindingSerializer

    def filter_scoped(self, queryset: QuerySet[Finding]) -> QuerySet[Finding]:
        if self.action != "list":
            return queryset
        chosen = RegisterFilter(self.request.query_params)
        if not chosen.is_valid():
            raise ValidationError({name: list(errors) for name, errors in chosen.errors.items()})
        return filtered(queryset, chosen.cleaned_data)

    @extend_schema(parameters=FILTERS, responses={200: FindingSerializer(many=True), **ERRORS})
    def list(self, request: Request, *args: Any, **kwargs: Any) -> Response:
        return super().list(request, *args, **kwargs)

    @extend_schema(responses={200: FindingSerializer, **ERRORS})
    def retrieve(self, request: Request, *args: Any, **kwargs: Any) -> Response:
        return super().retrieve(request, *args, **kwargs)

    @extend_schema(request=RaiseSerializer, responses={201: FindingSerializer, **ERRORS})
    def create(self, request: Request) -> Response:
        body = RaiseSerializer(data=request.data)
        body.is_valid(raise_exception=True)
        data = dict(body.validated_data)
        version = scoped_get(
            visible_to(request.user, ModelVersion.objects.all()),
            model__slug=data.pop("model"),
            number=data.pop("version"),
        )
        owner = User.objects.filter(username=data["owner"]).first()
        if owner is None:
            raise ValidationError({"owner": f"There is no user named “{data['owner']}”."})
        data["owner"] = owner
        finding = services.raise_finding(version.pk, actor=user_of(request), **data)
        return Response(
            FindingSerializer(self.queryset.get(pk=finding.pk)).data,
            status=status.HTTP_201_CREATED,
        )

    def _step(self, request: Request, serializer: Any, step: Any) -> Response:
        finding = self.get_object()
        body = serializer(data=request.data)
        body.is_valid(raise_exception=True)
        step(finding.pk, actor=user_of(request), **body.validated_data)
        return Response(FindingSerializer(self.queryset.get(pk=finding.pk)).data)

    @extend_schema(request=RemediationSerializer, responses={200: FindingSerializer, **ERRORS})
    @action(detail=True, methods=["post"])
    def remediate(self, request: Request, pk: str) -> Response:
        """The owner answers with the remediation."""
        return self._step(request, RemediationSerializer, services.remediate)

    @extend_schema(request=ReasonSerializer, responses={200: FindingSerializer, **ERRORS})
    @action(detail=True, methods=["post"])
    def close(self, request: Request, pk: str) -> Response:
        """The raiser verified the remediation."""
        return self._step(request, ReasonSerializer, services.close)

    @extend_schema(request=ReasonSerializer, responses={200: FindingSerializer, **ERRORS})
    @action(detail=True, methods=["post"])
    def reopen(self, request: Request, pk: str) -> Response:
        """The raiser found the remediation wanting."""
        return self._step(request, ReasonSerializer, services.reopen)
