from __future__ import annotations

from collections.abc import Callable
from typing import Any

from django.db.models import QuerySet
from drf_spectacular.utils import OpenApiParameter, extend_schema
from rest_framework import mixins, status
from rest_framework.decorators import action
from rest_framework.request import Request
from rest_framework.response import Response

from apps.core.api import ErrorSerializer, ScopedAPIView, ScopedViewSet
from apps.core.permissions import user_of, visible_to
from apps.core.views import scoped_get
from apps.deployments import services
from apps.deployments.api.serializers import (
    ChallengerRequestSerializer,
    DeploymentRequestSerializer,
    DeploymentSerializer,
    EnvironmentSerializer,
    NewServingKeySerializer,
    ServingKeyRequestSerializer,
    ServingKeySerializer,
    SwitchRequestSerializer,
    TrafficRequestSerializer,
)
from apps.deployments.models import Deployment, Environment, ServingKey
from apps.registry.models import ModelVersion, RegisteredModel

ERRORS = {400: ErrorSerializer, 401: ErrorSerializer, 403: ErrorSerializer, 404: ErrorSerializer}


def _model(request: Request, slug: str) -> RegisteredModel:
    found: RegisteredModel = scoped_get(
        visible_to(request.user, RegisteredModel.objects.all()), slug=slug
    )
    return found


class DeploymentViewSet(mixins.ListModelMixin, mixins.RetrieveModelMixin, ScopedViewSet):
    """Deployments of the models you can see. POST deploys an approved version (model_ops)."""

    queryset = Deployment.objects.select_related(
        "model", "version", "environment", "requested_by", "job"
    )
    serializer_class = DeploymentSerializer

    def filter_scoped(self, queryset: QuerySet[Deployment]) -> QuerySet[Deployment]:
        params = self.request.query_params
        if model := params.get("model"):
            queryset = queryset.filter(model__slug=model)
        if environment := params.get("environment"):
            queryset = queryset.filter(environment__slug=environment)
        return queryset

    @extend_schema(
        parameters=[OpenApiParameter("model", str), OpenApiParameter("environment", str)],
        responses={200: DeploymentSerializer(many=True), **ERRORS},
    )
    def list(self, request: Request, *args: Any, **kwargs: Any) -> Response:
        return super().list(request, *args, **kwargs)

    @extend_schema(
        responses={200: DeploymentSerializer, 401: ErrorSerializer, 404: ErrorSerializer}
    )
    def retrieve(self, request: Request, *args: Any, **kwargs: Any) -> Response:
        return super().retrieve(request, *args, **kwargs)

    @extend_schema(
        request=DeploymentRequestSerializer, responses={202: DeploymentSerializer, **ERRORS}
    )
    def create(self, request: Request) -> Response:
        body = DeploymentRequestSerializer(data=request.data)
        body.is_valid(raise_exception=True)
        data = body.validated_data
        version = scoped_get(
            visible_to(request.user, ModelVersion.objects.all()),
            model__slug=data["model"],
            number=data["version"],
        )
        deployment = services.request_deployment(
            version.pk,
            data["environment"],
            actor=user_of(request),
            mode=data["mode"],
            traffic=data["traffic"],
        )
        return Response(
            DeploymentSerializer(self.queryset.get(pk=deployment.pk)).data,
            status=status.HTTP_202_ACCEPTED,
        )

    def _switched(self, request: Request, switch: Callable[..., Deployment]) -> Response:
        body = SwitchRequestSerializer(data=request.data)
        body.is_valid(raise_exception=True)
        model = _model(request, body.validated_data["model"])
        deployment = switch(model.pk, body.validated_data["environment"], actor=user_of(request))
        return Response(DeploymentSerializer(self.queryset.get(pk=deployment.pk)).data)

    @extend_schema(request=SwitchRequestSerializer, responses={200: DeploymentSerializer, **ERRORS})
    @action(detail=False, methods=["post"])
    def rollback(self, request: Request) -> Response:
        """Put back the version live before the current one, at once."""
        return self._switched(request, services.rollback)

    @extend_schema(request=SwitchRequestSerializer, responses={200: DeploymentSerializer, **ERRORS})
    @action(detail=False, methods=["post"])
    def undeploy(self, request: Request) -> Response:
        """Stop serving the model in the environment."""
        return self._switched(request, services.undeploy)

    def _challenged(
        self, request: Request, serializer: type[ChallengerRequestSerializer], change: Any
    ) -> Response:
        body = serializer(data=request.data)
        body.is_valid(raise_exception=True)
        data = dict(body.validated_data)
        model = _model(request, data.pop("model"))
        deployment = change(model.pk, data.pop("environment"), actor=user_of(request), **data)
        return Response(DeploymentSerializer(self.queryset.get(pk=deployment.pk)).data)

    @extend_schema(
        request=TrafficRequestSerializer, responses={200: DeploymentSerializer, **ERRORS}
    )
    @action(detail=False, methods=["post"], url_path="challenger/traffic")
    def challenger_traffic(self, request: Request) -> Response:
        """Change the canary's share of the requests (1 to 50 percent)."""
        return self._challenged(request, TrafficRequestSerializer, services.set_traffic)

    @extend_schema(
        request=ChallengerRequestSerializer, responses={200: DeploymentSerializer, **ERRORS}
    )
    @action(detail=False, methods=["post"], url_path="challenger/promote")
    def challenger_promote(self, request: Request) -> Response:
        """Make the challenger the live version (answers the new live deployment)."""
        return self._challenged(request, ChallengerRequestSerializer, services.promote_challenger)

    @extend_schema(
        request=ChallengerRequestSerializer, responses={200: DeploymentSerializer, **ERRORS}
    )
    @action(detail=False, methods=["post"], url_path="challenger/stop")
    def challenger_stop(self, request: Request) -> Response:
        """Stop the challenger; the live version answers everything."""
        return self._challenged(request, ChallengerRequestSerializer, services.stop_challenger)


class ServingKeyViewSet(mixins.ListModelMixin, mixins.DestroyModelMixin, ScopedViewSet):
    """Serving keys of the models you can see. POST creates one (returned once); DELETE revokes."""

    queryset = ServingKey.objects.select_related("model", "environment")
    serializer_class = ServingKeySerializer

    @extend_schema(
        responses={
            200: ServingKeySerializer(many=True),
            401: ErrorSerializer,
            404: ErrorSerializer,  # a page past the last
        }
    )
    def list(self, request: Request, *args: Any, **kwargs: Any) -> Response:
        return super().list(request, *args, **kwargs)

    @extend_schema(
        request=ServingKeyRequestSerializer, responses={201: NewServingKeySerializer, **ERRORS}
    )
    def create(self, request: Request) -> Response:
        body = ServingKeyRequestSerializer(data=request.data)
        body.is_valid(raise_exception=True)
        model = _model(request, body.validated_data["model"])
        key, raw = services.create_serving_key(
            model.pk,
            body.validated_data["environment"],
            actor=user_of(request),
            name=body.validated_data["name"],
        )
        data = dict(NewServingKeySerializer(self.queryset.get(pk=key.pk)).data)
        data["key"] = raw
        return Response(data, status=status.HTTP_201_CREATED)

    @extend_schema(responses={204: None, **ERRORS})
    def destroy(self, request: Request, *args: Any, **kwargs: Any) -> Response:
        key = self.get_object()
        services.revoke_serving_key(key.pk, actor=user_of(request))
        return Response(status=status.HTTP_204_NO_CONTENT)


class EnvironmentView(ScopedAPIView):
    """The environments models deploy to, and their promotion rules."""

    queryset = None  # the same for everyone signed in: no governed rows
    pagination_class = None  # a handful, answered whole

    @extend_schema(responses={200: EnvironmentSerializer(many=True), 401: ErrorSerializer})
    def get(self, request: Request) -> Response:
        return Response(EnvironmentSerializer(Environment.objects.all(), many=True).data)
