from __future__ import annotations

from django import forms
from django.conf import settings
from django.contrib.auth.views import LoginView
from django.core.exceptions import (
    RequestDataTooBig,
    TooManyFieldsSent,
    TooManyFilesSent,
    ValidationError,
)
from django.http import HttpRequest, HttpResponse, JsonResponse
from django.shortcuts import render
from django.urls import reverse
from django.views import defaults

from apps.accounts import services
from apps.accounts.dashboard import panels_for
from apps.accounts.forms import TokenCreateForm
from apps.accounts.models import ApiToken
from apps.accounts.roles import ROLE_LABELS, roles_of
from apps.core.views import ActionView, PortalView


class PortalLoginView(LoginView):
    template_name = "registration/login.html"
    redirect_authenticated_user = True


class Dashboard(PortalView):
    """The "my work" dashboard: each app's panels (``registry.dashboard_panels``) scope themselves
    to the person."""

    def get(self, request: HttpRequest) -> HttpResponse:
        roles = roles_of(self.person)
        return render(
            request,
            "accounts/dashboard.html",
            {
                "panels": panels_for(self.person),
                "role_titles": [ROLE_LABELS[r] for r in roles],
                "has_role": bool(roles),
            },
        )


class Tokens(PortalView):
    """List your tokens and create one. A new token is shown on this response only."""

    queryset = ApiToken.objects.all()

    def get(self, request: HttpRequest) -> HttpResponse:
        return self._page(TokenCreateForm(), None, 200)

    def post(self, request: HttpRequest) -> HttpResponse:
        form = TokenCreateForm(request.POST)
        if not form.is_valid():
            return self._page(form, None, 400)
        try:
            token, raw = services.create_token(
                actor=self.person, name=form.cleaned_data["name"], days=form.cleaned_data["days"]
            )
        except ValidationError as exc:
            form.add_error(None, exc)
            return self._page(form, None, 400)
        return self._page(TokenCreateForm(), {"token": token, "raw": raw}, 200)

    def _page(
        self, form: TokenCreateForm, created: dict[str, object] | None, status: int
    ) -> HttpResponse:
        return render(
            self.request,
            "accounts/apitoken_list.html",
            {"tokens": self.queryset, "form": form, "created": created},
            status=status,
        )


class RevokeToken(ActionView):
    queryset = ApiToken.objects.all()

    def target(self) -> ApiToken:
        found: ApiToken = self.get_object(pk=self.kwargs["token_id"])
        return found

    def perform(self, token: ApiToken, form: forms.Form | None) -> str:
        services.revoke_token(token.pk, actor=self.person)
        return f"Token “{token.name}” revoked. Programs using it are now refused."

    def next_url(self, token: ApiToken) -> str:
        return reverse("accounts:tokens")


def locked_out(
    request: HttpRequest, original_response: HttpResponse | None, credentials: dict | None
) -> HttpResponse:
    """What django-axes answers while sign-ins for a username and address are throttled."""
    minutes = int(settings.AXES_COOLOFF_TIME.total_seconds() // 60)
    message = (
        f"Too many failed sign-in attempts. Try again in {minutes} minutes, "
        "or ask an administrator to unlock the account."
    )
    if request.path.startswith("/api/"):
        return JsonResponse({"detail": message}, status=429)
    return render(request, "registration/locked_out.html", {"message": message}, status=429)


# The REST API answers JSON (``{"detail": …}``) even where Django, not DRF, answers: an address
# that matches no route (a slug with a space, a version number that is not a number) and a body
# Django refuses to read. Pages keep Django's HTML answers.
_REFUSED_BODY: dict[type[Exception], str] = {
    RequestDataTooBig: "The request body is larger than the {mb} MB the portal reads; send less.",
    TooManyFieldsSent: "The request has more than {fields} fields; send fewer.",
    TooManyFilesSent: "The request has more than {files} files; send fewer.",
}


def page_not_found(request: HttpRequest, exception: Exception) -> HttpResponse:
    if request.path.startswith("/api/"):
        return JsonResponse(
            {"detail": "Nothing answers at this address; the API is described at /api/v1/docs/."},
            status=404,
        )
    return defaults.page_not_found(request, exception)


def bad_request(request: HttpRequest, exception: Exception) -> HttpResponse:
    if request.path.startswith("/api/"):
        message = _REFUSED_BODY.get(type(exception), "The request could not be read.")
        detail = message.format(
            mb=settings.DATA_UPLOAD_MAX_MEMORY_SIZE // 2**20,
            fields=settings.DATA_UPLOAD_MAX_NUMBER_FIELDS,
            files=settings.DATA_UPLOAD_MAX_NUMBER_FILES,
        )
        return JsonResponse({"detail": detail}, status=400)
    return defaults.bad_request(request, exception)
