"""Password sign-in against the portal's own accounts, which PORTAL_LOCAL_LOGIN can close."""

from __future__ import annotations

from typing import Any

from django.conf import settings
from django.contrib.auth.backends import ModelBackend
from django.contrib.auth.models import User
from django.http import HttpRequest

from apps.core.permissions import is_administrator

# Sign-ins through the identity provider (apps.accounts.oidc) are attached to this backend: the
# session names it, and it loads the person on each request like any other.
BACKEND_PATH = "apps.accounts.backends.PortalModelBackend"


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
