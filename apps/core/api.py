"""What every REST endpoint of the portal shares: scoping, object checks and error bodies."""

from __future__ import annotations

from typing import Any

from django.core.exceptions import ValidationError as DjangoValidationError
from django.db.models import Model, QuerySet
from django.http import Http404
from rest_framework import exceptions, serializers, status
from rest_framework.generics import GenericAPIView
from rest_framework.permissions import SAFE_METHODS
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.settings import api_settings
from rest_framework.throttling import ScopedRateThrottle
from rest_framework.views import exception_handler as drf_exception_handler
from rest_framework.viewsets import ViewSetMixin

from apps.core.client import client_ip
from apps.core.errors import Conflict
from apps.core.permissions import not_found_message, require, visible_to
from apps.core.views import refuse_unscoped_overrides


def validation_error_body(exc: DjangoValidationError) -> dict[str, Any]:
    """``{"detail": <first message>, "errors": {field: [messages]}}``: one line for people and
    the field-by-field list for programs."""
    if hasattr(exc, "error_dict"):
        errors = {field: [str(m) for m in messages] for field, messages in exc.message_dict.items()}
    else:
        errors = {"non_field_errors": [str(m) for m in exc.messages]}
    first = next(iter(errors.values()))[0]
    return {"detail": first, "errors": errors}


def _messages(errors: Any) -> list[str]:
    """DRF's nested errors (a list field's are keyed by item index) as a flat list, once each."""
    if isinstance(errors, dict):
        found = [m for value in errors.values() for m in _messages(value)]
    elif isinstance(errors, list):
        found = [m for value in errors for m in _messages(value)]
    else:
        found = [str(errors)]
    return list(dict.fromkeys(found))


def valid_data(serializer: serializers.Serializer) -> dict[str, Any]:
    """The serializer's validated data; otherwise a 400 in the portal's error shape (see
    ``validation_error_body``) rather than DRF's, which has no ``detail``."""
    if not serializer.is_valid():
        errors = serializer.errors
        raise DjangoValidationError({field: _messages(value) for field, value in errors.items()})
    return dict(serializer.validated_data)


def serializer_error_body(errors: Any) -> dict[str, Any]:
    """A serializer's errors in the portal's shape: ``detail`` says every message after the field
    it is about (DRF's own, such as "This field is required.", do not name it), and ``errors``
    lists them field by field."""
    if not isinstance(errors, dict):
        errors = {api_settings.NON_FIELD_ERRORS_KEY: errors}
    by_field = {str(field): _messages(value) for field, value in errors.items()}
    detail = " ".join(
        message if field == api_settings.NON_FIELD_ERRORS_KEY else f"{field}: {message}"
        for field, messages in by_field.items()
        for message in messages
    )
    return {"detail": detail, "errors": by_field}


def exception_handler(exc: Exception, context: dict[str, Any]) -> Response | None:
    """DRF's handler, with the portal's error shape for invalid input: Django's ValidationError
    (raised by services) and DRF's (raised by serializers) as a 400 with ``detail``."""
    if isinstance(exc, DjangoValidationError):
        return Response(validation_error_body(exc), status=status.HTTP_400_BAD_REQUEST)
    if isinstance(exc, exceptions.ValidationError):
        return Response(serializer_error_body(exc.detail), status=exc.status_code)
    if isinstance(exc, Conflict):
        return Response({"detail": str(exc)}, status=status.HTTP_409_CONFLICT)
    return drf_exception_handler(exc, context)


class ScopedAPIView(GenericAPIView):
    """The base of every REST endpoint that reads governed rows.

    ``initial()`` restricts ``self.queryset`` to what the person may view before any handler runs
    (NetBox's ``BaseViewSet.initial``); ``get_queryset`` hands out only that, narrowed by the
    subclass's ``filter_scoped``. An object outside answers 404; an unsafe method also needs
    ``change_permission`` on the object (403 when visible but not changeable). Services repeat
    their own checks. Endpoints that read no governed rows (a person's own tokens) set
    ``queryset = None`` and say why.
    """

    change_permission: str = ""
    _restricted = False

    def __init_subclass__(cls, **kwargs: Any) -> None:
        super().__init_subclass__(**kwargs)
        refuse_unscoped_overrides(cls, ("get_queryset", "initial"))

    def initial(self, request: Request, *args: Any, **kwargs: Any) -> None:
        super().initial(request, *args, **kwargs)
        if self.queryset is not None:
            self.queryset = visible_to(request.user, self.queryset.all(), "view")
        self._restricted = True

    def get_queryset(self) -> QuerySet[Any]:
        if getattr(self, "swagger_fake_view", False):  # schema generation has no user
            assert self.queryset is not None
            return self.queryset.none()
        if not self._restricted or self.queryset is None:
            raise RuntimeError(f"{type(self).__name__} read its queryset before it was scoped")
        return self.filter_scoped(self.queryset.all())

    def filter_scoped(self, queryset: QuerySet[Any]) -> QuerySet[Any]:
        """Narrow the already scoped rows (filters, the object named in the URL's parent)."""
        return queryset

    def get_object(self) -> Any:
        try:
            return super().get_object()
        except Http404:
            value = self.kwargs.get(self.lookup_url_kwarg or self.lookup_field, "")
            name = self.get_queryset().model._meta.verbose_name
            raise Http404(not_found_message(name, value)) from None

    def check_object_permissions(self, request: Request, obj: Model) -> None:
        super().check_object_permissions(request, obj)
        if request.method not in SAFE_METHODS and self.change_permission:
            require(request.user, self.change_permission, obj)


class ScopedViewSet(ViewSetMixin, ScopedAPIView):
    """``ScopedAPIView`` as a viewset: one class, several routes."""


class ClientThrottle(ScopedRateThrottle):
    """DRF's rate limit per ``throttle_scope``, counted per client as ``client_ip`` names it.

    DRF's own ``get_ident`` believes any X-Forwarded-For (or a count of proxy hops), so a client
    sending a new made-up address with each request was never limited.
    """

    def get_ident(self, request: Request) -> str:
        # No address at all (a peer that is not IP) shares one allowance: it fails closed.
        return client_ip(request._request) or ""


class ErrorSerializer(serializers.Serializer):
    detail = serializers.CharField()
    # DRF's metaclass takes declared fields off the class: this hides no Serializer.errors.
    errors = serializers.DictField(  # type: ignore[assignment]
        child=serializers.ListField(child=serializers.CharField()),
        required=False,
        help_text="For invalid input: the messages, field by field.",
    )
