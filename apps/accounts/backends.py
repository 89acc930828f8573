"""Password sign-in against the portal's own accounts, which PORTAL_LOCAL_LOGIN can close."""

from __future__ import annotations

import unicodedata
from typing import Any

from django.conf import settings
from django.contrib.auth.backends import ModelBackend
from django.contrib.auth.models import User
from django.http import HttpRequest

from apps.core.permissions import is_administrator

# Sign-ins through the identity provider (apps.accounts.oidc) are attached to this backend: the
# session names it, and it loads the person on each request like any other.
BACKEND_PATH = "apps.accounts.backends.PortalModelBackend"
# The field of the sign-in form (and of the credentials) that holds the username.
_USERNAME_FIELD = "username"


class PortalModelBackend(ModelBackend):
    """Django's ModelBackend; with ``PORTAL_LOCAL_LOGIN=0`` a password is accepted from
    superusers only (the break-glass administrators), everyone else signs in through the
    identity provider. Enforced here, so the sign-in form, the admin's login and the API's
    token exchange all refuse alike; the refusal looks like a wrong password (and is audited and
    throttled as one), which tells a guesser nothing."""

    def authenticate(
        self,
        request: HttpRequest | None,
        username: str | None = None,
        password: str | None = None,
        **kwargs: Any,
    ) -> User | None:
        user = super().authenticate(request, username=username, password=password, **kwargs)
        if user is None or settings.PORTAL_LOCAL_LOGIN:
            return user
        return user if is_administrator(user) else None


def lockout_username(request: HttpRequest | None, credentials: dict[str, Any] | None) -> str | None:
    """The username django-axes counts failures against (``AXES_USERNAME_CALLABLE``; axes
    calls it with the request and the credentials, either may be missing): NFKC-normalised
    and case-folded, so that "Alice", "ALICE" or a full-width "Alice" cannot each get their own
    five tries against a directory that treats them as one person."""
    value: object = None
    if credentials:
        value = credentials.get(_USERNAME_FIELD)
    elif request is not None:
        data = getattr(request, "data", None) or request.POST
        value = data.get(_USERNAME_FIELD)
    if not isinstance(value, str):
        return None
    return unicodedata.normalize("NFKC", value).casefold().strip()
