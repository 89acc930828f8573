"""Signing in through the bank's OpenID Connect provider (Entra ID, Okta, ADFS, Keycloak…).

Authlib does the protocol: the authorization code flow with PKCE (S256), the state kept in the
server-side session and removed when the provider answers (so a replayed answer finds nothing),
the token request, and the ID token checked against the provider's JWKS with its issuer,
audience, expiry and nonce. This module configures it from settings (read on every use, so a
test or an operator's change applies at once), turns the provider's answer into a
``ProviderPerson`` for ``apps.accounts.identity``, and says in words why a sign-in was refused.

The provider's tokens stay in the server-side session (``SESSION_KEY``): the ID token for the
sign-out redirect, the refresh (or access) token for ``recheck``, which asks the provider at most
every PORTAL_OIDC_RECHECK_SECONDS whether the person may still be signed in. They never reach a
page, a log line or the audit trail.
"""

from __future__ import annotations

import ipaddress
import logging
import re
import time
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit

import requests
from authlib.integrations.base_client import OAuthError  # type: ignore[import-untyped]
from authlib.integrations.django_client import (  # type: ignore[import-untyped]
    DjangoOAuth2App,
    OAuth,
)
from django.conf import settings
from django.contrib.auth.models import User
from django.core.checks import CheckMessage, Error
from django.http import HttpRequest, HttpResponseRedirect
from django.urls import reverse
from django.utils.http import url_has_allowed_host_and_scheme
from joserfc.errors import (
    BadSignatureError,
    ClaimError,
    DecodeError,
    ExpiredTokenError,
    InvalidKeyIdError,
    JoseError,
    MissingAlgorithmError,
    UnsupportedAlgorithmError,
)

from apps.accounts.identity import (
    NoAccess,
    ProviderPerson,
    groups_from_claim,
    revoke_access,
    sign_in_from_provider,
)

PROVIDER = "oidc"  # the kind; the link's key is "oidc:<issuer>" (provider_key)
SESSION_KEY = "portal_sso"
_CLIENT_NAME = "portal_oidc"
# ID tokens are signed with the provider's private key; a symmetric or "none" algorithm from the
# discovery document is never accepted, whatever the provider advertises.
ASYMMETRIC_ALGORITHMS = (
    "RS256",
    "RS384",
    "RS512",
    "PS256",
    "PS384",
    "PS512",
    "ES256",
    "ES384",
    "ES512",
    "EdDSA",
)
# Clock difference tolerated between the provider and the portal when checking exp and iat.
LEEWAY_SECONDS = 60
# When the provider cannot be reached for a re-check, the session continues and the check is
# tried again this much later (the provider's outage must not sign the whole bank out).
RETRY_SECONDS = 60

logger = logging.getLogger(__name__)


def enabled() -> bool:
    """OpenID Connect is on when a discovery URL (or issuer) and a client id are configured."""
    return bool(settings.PORTAL_OIDC_DISCOVERY_URL and settings.PORTAL_OIDC_CLIENT_ID)


def provider_name() -> str:
    return str(settings.PORTAL_OIDC_PROVIDER_NAME)


def provider_key(issuer: object) -> str:
    """What links an account to a person at this provider: ``"oidc:<issuer>"``, so that the
    same ``sub`` at two issuers never names one account. The issuer is the discovery
    document's (which the ID token's ``iss`` must equal); without one, the discovery URL."""
    if not isinstance(issuer, str) or not issuer:
        issuer = str(settings.PORTAL_OIDC_DISCOVERY_URL)
    return f"{PROVIDER}:{issuer}"


class Refused(Exception):
    """A sign-in through the provider was refused.

    ``reason`` goes to the audit trail (never a token); ``message`` is the sentence shown to
    the person; ``status`` is the HTTP answer.
    """

    def __init__(self, reason: str, message: str, status: int = 401) -> None:
        super().__init__(reason)
        self.reason = reason
        self.message = message
        self.status = status


class Unreachable(Refused):
    """The provider did not answer (or answered with a server error)."""

    def __init__(self, reason: str) -> None:
        super().__init__(
            reason,
            f"{provider_name()} could not be reached, so you cannot sign in through it right "
            "now. Try again in a few minutes. Administrators can still use the break-glass "
            "sign-in with a password.",
            status=502,
        )


# Origins of the provider's browser-facing endpoints seen in discovery documents by this process
# (besides the discovery URL's own): the Content-Security-Policy lets forms lead there.
_seen_origins: set[str] = set()


def _origin(url: object) -> str | None:
    if not isinstance(url, str):
        return None
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.netloc or "@" in parts.netloc:
        return None
    return f"{parts.scheme}://{parts.netloc}"


def provider_origins() -> list[str]:
    """Where the browser goes for the provider: the discovery URL's origin, and those of the
    authorization and end-session endpoints this process has read."""
    found = {_origin(settings.PORTAL_OIDC_DISCOVERY_URL), *_seen_origins}
    return sorted(o for o in found if o)


class _PortalApp(DjangoOAuth2App):
    """Authlib's Django client, accepting only asymmetric ID token signatures."""

    def load_server_metadata(self) -> dict[str, Any]:
        metadata: dict[str, Any] = super().load_server_metadata()
        offered = metadata.get("id_token_signing_alg_values_supported") or ["RS256"]
        allowed = [alg for alg in offered if alg in ASYMMETRIC_ALGORITHMS] or ["RS256"]
        metadata["id_token_signing_alg_values_supported"] = allowed
        for key in ("authorization_endpoint", "end_session_endpoint"):
            origin = _origin(metadata.get(key))
            if origin and len(_seen_origins) < 10:
                _seen_origins.add(origin)
        return metadata


class _PortalOAuth(OAuth):
    oauth2_client_cls = _PortalApp


def client() -> _PortalApp:
    """A client configured from the current settings.

    Made per use: the discovery document and the JWKS are fetched again for each sign-in (two
    small requests at a rare event), so a rotated key or a provider that is down is seen at
    once, and nothing about the provider is cached across processes or tests.
    """
    client_kwargs: dict[str, Any] = {
        "scope": settings.PORTAL_OIDC_SCOPES,
        "code_challenge_method": "S256",
        "default_timeout": settings.PORTAL_OIDC_TIMEOUT_SECONDS,
    }
    if settings.PORTAL_CA_BUNDLE:
        client_kwargs["verify"] = settings.PORTAL_CA_BUNDLE
    registry = _PortalOAuth()
    app: _PortalApp = registry.register(
        name=_CLIENT_NAME,
        client_id=settings.PORTAL_OIDC_CLIENT_ID,
        client_secret=settings.PORTAL_OIDC_CLIENT_SECRET or None,
        server_metadata_url=settings.PORTAL_OIDC_DISCOVERY_URL,
        client_kwargs=client_kwargs,
    )
    return app


def safe_next(request: HttpRequest, candidate: str | None) -> str:
    """``candidate`` if it is a path on this site, else the dashboard."""
    if (
        candidate
        and candidate.startswith("/")
        and not candidate.startswith(("//", "/\\"))
        and url_has_allowed_host_and_scheme(
            candidate, allowed_hosts={request.get_host()}, require_https=request.is_secure()
        )
    ):
        return candidate
    return reverse(settings.LOGIN_REDIRECT_URL)


def authorization_redirect(request: HttpRequest, next_url: str) -> HttpResponseRedirect:
    """Send the browser to the provider's sign-in; the state, nonce, PKCE verifier and where
    to go afterwards wait in the session for the provider's answer."""
    app = client()
    redirect_uri = request.build_absolute_uri(reverse("sso-callback"))
    try:
        found = app.create_authorization_url(redirect_uri)
    except (requests.RequestException, ValueError, RuntimeError) as exc:
        raise Unreachable(f"discovery failed: {_describe(exc)}") from exc
    app.save_authorize_data(request, redirect_uri=redirect_uri, next=next_url, **found)
    return HttpResponseRedirect(found["url"])


@dataclass(frozen=True)
class Completed:
    person: ProviderPerson
    tokens: dict[str, Any]
    next_url: str


class UnknownAnswer(Refused):
    """An answer at the callback with no state this session started (replayed, forged, sent by
    anyone to the address, or an expired attempt): refused with 400 and a log line, not audited,
    so that unauthenticated requests cannot fill the audit trail."""

    def __init__(self) -> None:
        super().__init__(
            "unknown or already used state (a replayed or forged answer, or an expired attempt)",
            _try_again("This sign-in attempt is unknown, expired or was already used."),
            400,
        )


# What the person reads for the provider's error codes (RFC 6749 4.1.2.1, OpenID Connect Core
# 3.1.2.6); the provider's error_description is never shown nor stored (anyone can write it).
_ERROR_SENTENCES = {
    "access_denied": "The sign-in was cancelled or not allowed at {provider}.",
    "login_required": "{provider} asked you to sign in first.",
    "interaction_required": "{provider} needs you to finish signing in there first.",
    "consent_required": "{provider} needs your consent before signing you in.",
    "account_selection_required": "{provider} needs you to choose an account.",
    "temporarily_unavailable": "{provider} is busy or under maintenance.",
    "server_error": "{provider} had an internal error.",
}
_ERROR_CODE = re.compile(r"[A-Za-z0-9_.-]{1,64}")


def error_code(value: str) -> str:
    """The provider's ``error`` cut to RFC 6749 error-code characters (at most 64)."""
    found = _ERROR_CODE.match(value)
    return found.group(0) if found else "unreadable"


def complete(request: HttpRequest) -> Completed:
    """Check the provider's answer and return who signed in. Raises ``Refused`` (and
    ``UnknownAnswer`` when the answer's state is not one this session started)."""
    app = client()
    state = request.GET.get("state") or ""
    state_data = app.framework.get_state_data(request.session, state) if state else None
    if not state_data:
        raise UnknownAnswer()
    error = request.GET.get("error")
    if error:
        app.framework.clear_state_data(request.session, state)
        code = error_code(error)
        sentence = _ERROR_SENTENCES.get(code, "{provider} did not sign you in.")
        raise Refused(
            f"the provider answered with an error: {code}",
            _try_again(sentence.format(provider=provider_name())),
        )
    next_url = safe_next(request, state_data.get("next"))
    try:
        tokens: dict[str, Any] = app.authorize_access_token(
            request, claims_options=_claims_options(app), leeway=LEEWAY_SECONDS
        )
    except OAuthError as exc:
        raise Refused(
            f"the token request was refused: {exc.error}",
            _try_again(f"{provider_name()} refused to complete the sign-in."),
        ) from exc
    except requests.HTTPError as exc:
        status = exc.response.status_code if exc.response is not None else 0
        if status >= 500 or status == 0:
            raise Unreachable(f"the provider answered {status}") from exc
        raise Refused(
            f"the provider answered {status}",
            _try_again(f"{provider_name()} refused to complete the sign-in."),
        ) from exc
    except (requests.RequestException, ValueError) as exc:
        raise Unreachable(f"the token request failed: {_describe(exc)}") from exc
    except JoseError as exc:
        raise Refused(
            _token_fault(exc),
            _try_again(
                f"The identity token from {provider_name()} could not be trusted, so you were "
                "not signed in. This has been recorded."
            ),
        ) from exc
    claims = tokens.get("userinfo")
    if not claims or "id_token" not in tokens:
        raise Refused(
            "the provider sent no ID token",
            _try_again(f"{provider_name()} did not send an identity token."),
        )
    issuer = app.load_server_metadata().get("issuer")
    return Completed(person_from_claims(claims, issuer), tokens, next_url)


def person_from_claims(claims: dict[str, Any], issuer: object) -> ProviderPerson:
    """The ID token's claims as a ``ProviderPerson``; a missing or malformed groups claim
    gives ``groups=None`` (no roles), never an error."""
    username = claims.get(settings.PORTAL_OIDC_USERNAME_CLAIM)
    if not isinstance(username, str) or not username.strip():
        email = claims.get("email")
        username = email.split("@")[0] if isinstance(email, str) and email else ""
    return ProviderPerson(
        provider=provider_key(issuer),
        subject=str(claims["sub"]),
        username=str(username).strip() or str(claims["sub"]),
        first_name=_text(claims.get("given_name")),
        last_name=_text(claims.get("family_name")),
        email=_text(claims.get("email")),
        groups=groups_from_claim(claims.get(settings.PORTAL_OIDC_GROUPS_CLAIM)),
    )


def remember(request: HttpRequest, tokens: dict[str, Any]) -> None:
    """Keep the provider's tokens in the server-side session (after ``login``, which rotates
    the session key)."""
    request.session[SESSION_KEY] = {
        "provider": PROVIDER,
        "subject": tokens.get("userinfo", {}).get("sub"),
        "id_token": tokens.get("id_token"),
        "access_token": tokens.get("access_token"),
        "refresh_token": tokens.get("refresh_token"),
        "token_type": tokens.get("token_type", "Bearer"),
        "expires_at": tokens.get("expires_at"),
        "checked_at": int(time.time()),
    }


def is_sso_session(request: HttpRequest) -> bool:
    return isinstance(request.session.get(SESSION_KEY), dict)


def logout_url(request: HttpRequest, id_token: str | None) -> str | None:
    """The provider's end-session address (RP-initiated logout) for a session that signed in
    through it, or None when the provider has none or cannot be reached."""
    if not enabled() or not id_token:
        return None
    app = client()
    try:
        metadata = app.load_server_metadata()
    except (requests.RequestException, ValueError) as exc:
        logger.warning("Sign-out: the identity provider could not be reached (%s)", _describe(exc))
        return None
    if not metadata.get("end_session_endpoint"):
        return None
    found: dict[str, Any] = app.create_logout_url(
        post_logout_redirect_uri=request.build_absolute_uri(reverse("login")),
        id_token_hint=id_token,
        client_id=settings.PORTAL_OIDC_CLIENT_ID,
    )
    return str(found["url"])


def recheck(request: HttpRequest) -> bool:
    """Ask the provider whether this SSO session may go on, and what the person may do now; at
    most every PORTAL_OIDC_RECHECK_SECONDS. False: the caller signs the person out.

    The session's refresh token is exchanged (or, without one, userinfo is asked with the access
    token); the person's current claims (the refreshed ID token, checked like a sign-in's, or
    userinfo's answer) are applied through ``identity.sign_in_from_provider``: a mover's roles
    and teams change, someone whose groups give nothing is signed out (their rights removed,
    audited), and ``ExternalIdentity.last_sign_in_at`` moves on (which keeps their API tokens
    working). When the provider refuses (invalid_grant, or 400/401 from userinfo), the person is
    a leaver: ``identity.revoke_access`` removes their roles and teams and revokes their API
    tokens before they are signed out. An unreachable provider does not end the session; it is
    asked again RETRY_SECONDS later."""
    stored = request.session.get(SESSION_KEY)
    if not isinstance(stored, dict) or not enabled():
        return True
    now = int(time.time())
    if now - int(stored.get("checked_at") or 0) < settings.PORTAL_OIDC_RECHECK_SECONDS:
        return True
    app = client()
    try:
        if stored.get("refresh_token"):
            fresh: dict[str, Any] = app.fetch_access_token(
                grant_type="refresh_token", refresh_token=stored["refresh_token"]
            )
            for key in ("access_token", "refresh_token", "id_token", "expires_at"):
                if fresh.get(key):
                    stored[key] = fresh[key]
        elif not stored.get("access_token"):
            return False
        else:
            fresh = {}
        if fresh.get("id_token") and fresh.get("access_token"):
            claims: dict[str, Any] | None = app.parse_id_token(
                fresh, nonce=None, claims_options=_claims_options(app), leeway=LEEWAY_SECONDS
            )
        else:
            claims = app.userinfo(
                token={"access_token": stored["access_token"], "token_type": "Bearer"}
            )
        issuer = app.load_server_metadata().get("issuer")
    except OAuthError as exc:
        if exc.error in ("invalid_grant", "invalid_token", "access_denied"):
            logger.info("The identity provider ended a session: %s", exc.error)
            return _leaver(request)
        logger.warning("Session re-check: the identity provider answered %s", exc.error)
        return False
    except requests.HTTPError as exc:
        status = exc.response.status_code if exc.response is not None else 0
        if status in (400, 401):
            logger.info("The identity provider ended a session: it answered %s", status)
            return _leaver(request)
        if status == 403:
            logger.warning("Session re-check: the identity provider answered 403")
            return False
        _retry_later(request, stored, now, f"it answered {status}")
        return True
    except (requests.RequestException, ValueError) as exc:
        _retry_later(request, stored, now, _describe(exc))
        return True
    except JoseError as exc:
        logger.warning("Session re-check: %s; signing out", _token_fault(exc))
        return False
    if not isinstance(claims, dict) or "sub" not in claims:
        logger.warning("Session re-check: the identity provider sent no claims; signing out")
        return False
    if stored.get("subject") and str(claims["sub"]) != stored["subject"]:
        logger.warning("Session re-check: the identity provider named another person")
        return False
    try:
        user = sign_in_from_provider(person_from_claims(dict(claims), issuer))
    except NoAccess:
        return False
    if user.pk != request.user.pk:
        return False
    stored["checked_at"] = now
    request.session[SESSION_KEY] = stored
    return True


def _leaver(request: HttpRequest) -> bool:
    """The provider refused the session: the person's rights and API tokens go before they are
    signed out (the caller does that on False)."""
    user = request.user
    if isinstance(user, User) and user.pk is not None:
        revoke_access(user, by=f"the identity provider ({provider_name()})")
    return False


def _retry_later(request: HttpRequest, stored: dict[str, Any], now: int, why: str) -> None:
    logger.warning("Session re-check: the identity provider could not be reached (%s)", why)
    stored["checked_at"] = now - settings.PORTAL_OIDC_RECHECK_SECONDS + RETRY_SECONDS
    request.session[SESSION_KEY] = stored


def _claims_options(app: _PortalApp) -> dict[str, Any]:
    """iss must be the discovered issuer and aud must name this client: Authlib checks the
    issuer only when given one, and the audience only through azp, so both are required here."""
    metadata = app.load_server_metadata()
    options: dict[str, Any] = {"aud": {"essential": True, "value": app.client_id}}
    if metadata.get("issuer"):
        options["iss"] = {"essential": True, "value": metadata["issuer"]}
    return options


def _token_fault(exc: JoseError) -> str:
    """What was wrong with the ID token, for the audit trail."""
    if isinstance(exc, InvalidKeyIdError):
        return "ID token signed with a key not in the provider's key set"
    if isinstance(exc, BadSignatureError):
        return "ID token signature does not verify"
    if isinstance(exc, UnsupportedAlgorithmError | MissingAlgorithmError):
        return f"ID token signature algorithm not accepted ({exc.description})"
    if isinstance(exc, ExpiredTokenError):
        return "ID token expired"
    if isinstance(exc, ClaimError):
        verb = "missing" if exc.error == "missing_claim" else "wrong"
        return f"ID token claim {exc.claim!r} {verb}"
    if isinstance(exc, DecodeError):
        return "ID token malformed"
    return f"ID token refused: {exc.error}"


def _try_again(first: str) -> str:
    return f"{first} Go back to the sign-in page and try again."


def _describe(exc: Exception) -> str:
    return f"{type(exc).__name__}: {str(exc)[:200]}"


def _text(value: object) -> str:
    return value.strip() if isinstance(value, str) else ""


# --- System checks (manage.py check) -------------------------------------------------------------


def _is_loopback(host: str) -> bool:
    if host.lower() == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def check_settings(app_configs: Any = None, **kwargs: Any) -> list[CheckMessage]:
    """A discovery URL over plain http:// is refused unless it is on this machine (loopback):
    whoever sits on the network path could hand the portal their own keys and endpoints."""
    url = str(settings.PORTAL_OIDC_DISCOVERY_URL or "")
    if not url:
        return []
    parts = urlsplit(url)
    if parts.scheme == "https":
        return []
    if parts.scheme == "http" and _is_loopback(parts.hostname or ""):
        return []
    return [
        Error(
            f"PORTAL_OIDC_DISCOVERY_URL must be an https:// address (got {url!r}): over plain "
            "http anyone on the network path could forge the provider's keys and sign-ins.",
            hint="Use the provider's https:// discovery URL (or PORTAL_OIDC_ISSUER).",
            id="accounts.E111",
        )
    ]
