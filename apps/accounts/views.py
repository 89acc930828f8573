from __future__ import annotations

import logging
from typing import Any

from django import forms
from django.conf import settings
from django.contrib.auth import login, logout
from django.contrib.auth.forms import AuthenticationForm
from django.contrib.auth.views import LoginView
from django.core.exceptions import (
    RequestDataTooBig,
    TooManyFieldsSent,
    TooManyFilesSent,
    ValidationError,
)
from django.http import Http404, HttpRequest, HttpResponse, JsonResponse
from django.shortcuts import redirect, render, resolve_url
from django.urls import reverse
from django.utils.decorators import method_decorator
from django.views import View, defaults
from django.views.decorators.cache import never_cache

from apps.accounts import ldap, oidc, services
from apps.accounts.backends import BACKEND_PATH
from apps.accounts.dashboard import panels_for
from apps.accounts.forms import TokenCreateForm
from apps.accounts.identity import (
    UNEXPECTED_SIGN_IN_ERRORS,
    NoAccess,
    record_failure,
    sign_in_from_provider,
)
from apps.accounts.models import ApiToken, Team
from apps.accounts.roles import ROLE_LABELS, roles_of
from apps.core.views import ActionView, PortalView

logger = logging.getLogger(__name__)


class PortalLoginView(LoginView):
    """The sign-in page: "Sign in with <provider>" first when OpenID Connect is on, and the
    password form (only for break-glass administrators when PORTAL_LOCAL_LOGIN=0)."""

    template_name = "registration/login.html"
    redirect_authenticated_user = True

    def get_context_data(self, **kwargs: Any) -> dict[str, Any]:
        context: dict[str, Any] = super().get_context_data(**kwargs)
        context.update(sign_in_options())
        # Set by the LDAP backend when the directory could not be reached.
        context["sso_unavailable"] = getattr(self.request, "sso_unavailable", "")
        return context

    def form_invalid(self, form: AuthenticationForm) -> HttpResponse:
        # A directory backend (LDAP) that recognised the person but found no mapped group says
        # so here, and raised PermissionDenied inside authenticate(): show why, not "wrong
        # password".
        sentence = getattr(self.request, "sso_no_access", None)
        if sentence:
            return no_access_page(self.request, str(sentence))
        return super().form_invalid(form)


def sign_in_options() -> dict[str, Any]:
    return {
        "oidc_enabled": oidc.enabled(),
        "oidc_provider_name": oidc.provider_name(),
        "local_login": settings.PORTAL_LOCAL_LOGIN,
        "ldap_enabled": ldap.enabled(),
    }


def no_access_page(request: HttpRequest, message: str) -> HttpResponse:
    """The person is known to the bank's directory but may not use the portal (403)."""
    return render(
        request,
        "accounts/sso_no_access.html",
        {"message": message, "contact": settings.PORTAL_ACCESS_CONTACT},
        status=403,
    )


def _sso_refused(request: HttpRequest, refused: oidc.Refused) -> HttpResponse:
    if isinstance(refused, oidc.UnknownAnswer):
        # Anyone can send this address anything: a log line, not an audit event.
        logger.warning("Single sign-on callback without a state of this session: refused")
    else:
        _audit_sso_failure(refused.reason)
    return render(
        request,
        "accounts/sso_failed.html",
        {
            "message": refused.message,
            "unreachable": isinstance(refused, oidc.Unreachable),
            **sign_in_options(),
        },
        status=refused.status,
    )


def _audit_sso_failure(reason: str) -> None:
    record_failure(oidc.PROVIDER, oidc.provider_name(), reason)


@method_decorator(never_cache, name="dispatch")
class SsoStart(View):
    """``/login/sso/``: off to the identity provider's sign-in, back to ``next`` afterwards."""

    http_method_names = ["get", "head", "options"]

    def get(self, request: HttpRequest) -> HttpResponse:
        if not oidc.enabled():
            raise Http404("Single sign-on is not set up on this portal.")
        next_url = oidc.safe_next(request, request.GET.get("next"))
        if request.user.is_authenticated:
            return redirect(next_url)
        try:
            return oidc.authorization_redirect(request, next_url)
        except oidc.Refused as refused:
            return _sso_refused(request, refused)


@method_decorator(never_cache, name="dispatch")
class SsoCallback(View):
    """``/login/sso/callback/``: the provider's answer. Checked, turned into an account with
    the roles and teams its groups map to, signed in; or refused, audited and explained."""

    http_method_names = ["get", "options"]

    def get(self, request: HttpRequest) -> HttpResponse:
        if not oidc.enabled():
            raise Http404("Single sign-on is not set up on this portal.")
        try:
            return self._complete(request)
        except UNEXPECTED_SIGN_IN_ERRORS as exc:
            # A provider answering in a shape nobody foresaw (or a claim the database refuses)
            # is a refused sign-in, audited and explained, not a server error page.
            logger.exception("Single sign-on callback failed unexpectedly")
            refused = oidc.Refused(
                f"unexpected error: {type(exc).__name__}",
                f"The sign-in through {oidc.provider_name()} could not be completed because of "
                "an unexpected answer. It has been recorded; try again, and tell "
                f"{settings.PORTAL_ACCESS_CONTACT} if it happens again.",
                status=502,
            )
            return _sso_refused(request, refused)

    def _complete(self, request: HttpRequest) -> HttpResponse:
        try:
            completed = oidc.complete(request)
        except oidc.Refused as refused:
            return _sso_refused(request, refused)
        try:
            user = sign_in_from_provider(completed.person)
        except NoAccess as exc:
            if request.user.is_authenticated:
                logout(request)
            return no_access_page(request, str(exc))
        # django.contrib.auth's login: the session key rotates, the LOGIN audit event and
        # django-axes see it like any other sign-in.
        login(request, user, backend=BACKEND_PATH)
        oidc.remember(request, completed.tokens)
        return redirect(completed.next_url)


class PortalLogoutView(View):
    """Sign-out (POST): ends the portal session and, for a session that signed in through the
    identity provider, the provider's too (RP-initiated logout), back to the sign-in page."""

    http_method_names = ["post", "options"]

    def post(self, request: HttpRequest) -> HttpResponse:
        stored = request.session.get(oidc.SESSION_KEY)
        id_token = stored.get("id_token") if isinstance(stored, dict) else None
        provider_logout = oidc.logout_url(request, id_token) if id_token else None
        logout(request)
        return redirect(provider_logout or resolve_url(settings.LOGOUT_REDIRECT_URL))


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
                "team_names": list(
                    Team.objects.filter(group__user=self.person).values_list("name", flat=True)
                ),
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
