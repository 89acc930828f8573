from __future__ import annotations

from collections.abc import Callable

from django.core.exceptions import PermissionDenied
from django.db import transaction
from django.http import HttpRequest, HttpResponse

from apps.audit import context, services


class RequestContextMiddleware:
    """Binds the request context for audit events and records every permission denial.

    A 403 from anywhere (a view's permission check, DRF, the CSRF check) is recorded here, after the
    view's own transaction has rolled back, so the denial survives the failed action.
    """

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        ctx = context.from_request(request)
        with context.bound(ctx):
            response = self.get_response(request)
            if response.status_code == 403:
                self._record_denial(request, response)
        response["X-Request-ID"] = ctx.request_id
        return response

    def process_exception(self, request: HttpRequest, exception: Exception) -> None:
        if isinstance(exception, PermissionDenied):
            request.denial_reason = str(exception)  # type: ignore[attr-defined]

    @staticmethod
    def _record_denial(request: HttpRequest, response: HttpResponse) -> None:
        reason = getattr(request, "denial_reason", "")
        data = getattr(response, "data", None)
        if not reason and isinstance(data, dict):
            reason = str(data.get("detail", ""))
        reason = reason or response.reason_phrase
        user = getattr(request, "user", None)
        with transaction.atomic():
            services.record(
                user,
                services.DENIED,
                object_type="http",
                object_id=request.path[:64],
                object_repr=f"{request.method} {request.path}"[:200],
                after={"method": request.method, "path": request.path, "reason": reason[:500]},
            )
