from __future__ import annotations

from django.contrib.auth import authenticate
from drf_spectacular.utils import extend_schema
from rest_framework import mixins, status
from rest_framework.permissions import AllowAny
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from apps.accounts import services
from apps.accounts.api.serializers import (
    ApiTokenSerializer,
    MeSerializer,
    NewTokenSerializer,
    TokenRequestSerializer,
)
from apps.accounts.models import ApiToken, Team
from apps.accounts.roles import roles_of
from apps.core.api import ClientThrottle, ErrorSerializer, ScopedAPIView, ScopedViewSet
from apps.core.permissions import user_of


class ObtainTokenView(APIView):
    """Exchange a username and password for a personal API token."""

    authentication_classes: list[type] = []
    permission_classes = [AllowAny]
    throttle_classes = [ClientThrottle]
    throttle_scope = "token"

    @extend_schema(
        request=TokenRequestSerializer,
        responses={
            201: NewTokenSerializer,
            400: ErrorSerializer,
            401: ErrorSerializer,
            429: ErrorSerializer,
        },
        auth=[],
    )
    def post(self, request: Request) -> Response:
        body = TokenRequestSerializer(data=request.data)
        body.is_valid(raise_exception=True)
        user = authenticate(
            request._request,
            username=body.validated_data["username"],
            password=body.validated_data["password"],
        )
        if getattr(request._request, "axes_locked_out", False):
            return Response(
                {"detail": "Too many failed sign-in attempts; try again later."},
                status=status.HTTP_429_TOO_MANY_REQUESTS,
            )
        if user is None or not user.is_active:
            return Response(
                {"detail": "Invalid username or password."}, status=status.HTTP_401_UNAUTHORIZED
            )
        token, raw = services.create_token(
            actor=user,
            name=body.validated_data["name"],
            days=body.validated_data.get("expires_in_days"),
        )
        data = NewTokenSerializer(token).data
        data["token"] = raw
        return Response(data, status=status.HTTP_201_CREATED)


@extend_schema(responses={200: ApiTokenSerializer, 401: ErrorSerializer, 404: ErrorSerializer})
class TokenViewSet(mixins.ListModelMixin, mixins.DestroyModelMixin, ScopedViewSet):
    """Your own API tokens. DELETE revokes a token (it stays listed, as revoked)."""

    serializer_class = ApiTokenSerializer
    queryset = ApiToken.objects.all()

    @extend_schema(responses={204: None, 401: ErrorSerializer, 404: ErrorSerializer})
    def destroy(self, request: Request, *args: object, **kwargs: object) -> Response:
        token = self.get_object()
        services.revoke_token(token.pk, actor=user_of(request))
        return Response(status=status.HTTP_204_NO_CONTENT)


class MeView(ScopedAPIView):
    """Who the token belongs to: username, roles and teams (the person's own, no governed rows)."""

    serializer_class = MeSerializer

    queryset = None

    @extend_schema(responses={200: MeSerializer, 401: ErrorSerializer})
    def get(self, request: Request) -> Response:
        user = user_of(request)
        teams = Team.objects.filter(group__user=user).values_list("slug", flat=True)
        return Response(
            MeSerializer(
                {
                    "username": user.get_username(),
                    "full_name": user.get_full_name(),
                    "roles": roles_of(user),
                    "teams": list(teams),
                }
            ).data
        )
