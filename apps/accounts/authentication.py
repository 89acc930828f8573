from __future__ import annotations

from datetime import datetime, timedelta

from django.conf import settings
from django.contrib.auth.models import User
from django.db.models import F, OuterRef, Subquery
from django.utils import timezone
from drf_spectacular.extensions import OpenApiAuthenticationExtension
from rest_framework import authentication, exceptions
from rest_framework.request import Request

from apps.accounts.models import ApiToken, ExternalIdentity

# Writing last_used_at on every request would make each API call a database write.
_LAST_USED_RESOLUTION = timedelta(minutes=1)

# The token owner's links to identity providers, the most recent sign-in first.
_newest_link = ExternalIdentity.objects.filter(user_id=OuterRef("user_id")).order_by(
    F("last_sign_in_at").desc(nulls_last=True)
)


def _provider_label(provider: str) -> str:
    """How the 401 names the provider: its display name for OpenID Connect, the directory for
    LDAP."""
    if provider.startswith("oidc"):
        return str(settings.PORTAL_OIDC_PROVIDER_NAME)
    return "the bank's directory"


class BearerTokenAuthentication(authentication.BaseAuthentication):
    """``Authorization: Bearer <personal token>`` for the REST API."""

    keyword = "Bearer"

    def authenticate(self, request: Request) -> tuple[User, ApiToken] | None:
        header = authentication.get_authorization_header(request).split()
        if not header or header[0].lower() != self.keyword.lower().encode():
            return None
        if len(header) != 2:
            raise exceptions.AuthenticationFailed(
                "Send the header as 'Authorization: Bearer <token>'."
            )
        try:
            raw = header[1].decode("ascii")
        except UnicodeDecodeError:
            raise exceptions.AuthenticationFailed(
                "The token contains invalid characters."
            ) from None
        token = (
            ApiToken.objects.select_related("user")
            .annotate(
                # One query: the newest sign-in through a provider, and which provider (an
                # account without an ExternalIdentity has None in both: a local account).
                sso_provider=Subquery(_newest_link.values("provider")[:1]),
                sso_last_sign_in=Subquery(_newest_link.values("last_sign_in_at")[:1]),
            )
            .filter(key_hash=ApiToken.hash(raw))
            .first()
        )
        if token is None or not token.user.is_active:
            raise exceptions.AuthenticationFailed("Invalid token.")
        if not token.is_active:
            raise exceptions.AuthenticationFailed(f"This token is {token.state}; create a new one.")
        now = timezone.now()
        provider: str | None = getattr(token, "sso_provider", None)
        if provider is not None:
            last: datetime | None = getattr(token, "sso_last_sign_in", None)
            allowed = timedelta(days=settings.PORTAL_SSO_TOKEN_MAX_DAYS_SINCE_SIGN_IN)
            if last is None or now - last > allowed:
                raise exceptions.AuthenticationFailed(
                    f"Sign in to the portal through {_provider_label(provider)} again to keep "
                    "using this token."
                )
        if token.last_used_at is None or now - token.last_used_at > _LAST_USED_RESOLUTION:
            ApiToken.objects.filter(pk=token.pk).update(last_used_at=now)
        return token.user, token

    def authenticate_header(self, request: Request) -> str:
        return self.keyword


class BearerTokenScheme(OpenApiAuthenticationExtension):
    """Describes BearerTokenAuthentication in the OpenAPI schema."""

    target_class = BearerTokenAuthentication
    name = "bearerAuth"

    def get_security_definition(self, auto_schema: object) -> dict[str, str]:
        return {"type": "http", "scheme": "bearer", "description": "A personal API token."}
