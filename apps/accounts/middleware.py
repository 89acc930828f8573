from __future__ import annotations

import time
from collections.abc import Callable

from django.conf import settings
from django.contrib import messages
from django.contrib.auth import logout
from django.http import HttpRequest, HttpResponse
from django.utils.cache import patch_cache_control

from apps.accounts import ldap, oidc
from apps.accounts.services import SIGNED_IN_KEY

# Pages that refresh themselves send this header; their requests do not count as activity.
POLL_HEADER = "X-Portal-Poll"
_ACTIVITY_KEY = "portal_last_activity"
_WRITE_EVERY_SECONDS = 60


def _duration() -> str:
    seconds = int(settings.SESSION_COOKIE_AGE)
    if seconds % 3600 == 0:
        hours = seconds // 3600
        return f"{hours} hour{'s' if hours != 1 else ''}"
    minutes = max(1, seconds // 60)
    return f"{minutes} minute{'s' if minutes != 1 else ''}"


class IdleSessionTimeoutMiddleware:
    """Signs a user out SESSION_COOKIE_AGE after they signed in (``SIGNED_IN_KEY``; a session
    without it, from before this rule, counts from its first request here), after
    PORTAL_SESSION_IDLE_SECONDS without a request of their own, and,
    for a session opened through the identity provider or the directory, when that no longer
    accepts it (asked at most every PORTAL_OIDC_RECHECK_SECONDS / PORTAL_LDAP_RECHECK_SECONDS:
    ``oidc.recheck``, ``ldap.recheck``), so that the open session of a person disabled there
    ends within the idle timeout."""

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        if request.user.is_authenticated:
            now = int(time.time())
            last = request.session.get(_ACTIVITY_KEY, now)
            signed_in = request.session.get(SIGNED_IN_KEY)
            if not isinstance(signed_in, int):
                request.session[SIGNED_IN_KEY] = signed_in = now
            if now - signed_in > settings.SESSION_COOKIE_AGE:
                request.logout_reason = "maximum session length"  # type: ignore[attr-defined]
                logout(request)
                messages.info(
                    request,
                    f"You were signed out: a session lasts at most {_duration()}. Sign in again.",
                )
            elif now - last > settings.PORTAL_SESSION_IDLE_SECONDS:
                request.logout_reason = "idle timeout"  # type: ignore[attr-defined]
                logout(request)
                minutes = settings.PORTAL_SESSION_IDLE_SECONDS // 60
                messages.info(
                    request, f"You were signed out after {minutes} minutes of inactivity."
                )
            elif oidc.is_sso_session(request) and not oidc.recheck(request):
                request.logout_reason = "the identity provider ended the session"  # type: ignore[attr-defined]
                logout(request)
                messages.info(
                    request,
                    f"You were signed out: {oidc.provider_name()} no longer accepts your "
                    "session. Sign in again.",
                )
            elif ldap.is_ldap_session(request) and not ldap.recheck(request):
                request.logout_reason = "the directory ended the session"  # type: ignore[attr-defined]
                logout(request)
                messages.info(
                    request,
                    "You were signed out: the bank's directory no longer gives you access to "
                    "the portal. Sign in again.",
                )
            elif POLL_HEADER not in request.headers and (
                _ACTIVITY_KEY not in request.session or now - last >= _WRITE_EVERY_SECONDS
            ):
                request.session[_ACTIVITY_KEY] = now
        return self.get_response(request)


# Scripts only from our own static files (Plotly figures are drawn by static/js/portal.js from
# JSON in the page); Plotly and Swagger UI set inline styles, hence 'unsafe-inline' for styles only.
CONTENT_SECURITY_POLICY = "; ".join(
    [
        "default-src 'self'",
        "script-src 'self'",
        "style-src 'self' 'unsafe-inline'",
        "img-src 'self' data:",
        "font-src 'self' data:",
        "connect-src 'self'",
        "object-src 'none'",
        "base-uri 'self'",
        "form-action 'self'",
        "frame-ancestors 'none'",
    ]
)


class ContentSecurityPolicyMiddleware:
    """``CONTENT_SECURITY_POLICY`` on every answer. With single sign-on on, ``form-action`` also
    names the identity provider's origins: the browser applies it to where a form's answer
    redirects, and signing out (a form) ends at the provider's end-session address."""

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        response = self.get_response(request)
        policy = CONTENT_SECURITY_POLICY
        origins = oidc.provider_origins() if oidc.enabled() else []
        if origins:
            policy = policy.replace(
                "form-action 'self'", " ".join(["form-action 'self'", *origins])
            )
        response.headers.setdefault("Content-Security-Policy", policy)
        return response


class NoStoreMiddleware:
    """``Cache-Control: no-store`` on every answer Django computes.

    Pages, API answers and downloads show what one person may see (and tokens or keys, once), so
    no browser history, shared disk cache or proxy may keep them. That holds for the few answers
    without a signed-in user too: the sign-in page carries a CSRF token, ``/healthz`` is a live
    state, and an error page is no use stored. Static files are answered by WhiteNoise, above
    this middleware, and keep their long caching: they are the same for everyone.
    """

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        response = self.get_response(request)
        patch_cache_control(response, no_store=True)
        return response
