"""State changes of accounts: API tokens, and the audit of sign-ins."""

from __future__ import annotations

import time
from datetime import timedelta
from typing import Any

from django.conf import settings
from django.contrib.auth.models import AnonymousUser, User
from django.core.exceptions import PermissionDenied, ValidationError
from django.db import transaction
from django.http import HttpRequest
from django.utils import timezone

from apps.accounts.models import ApiToken
from apps.audit import services as audit
from apps.core.audit_actions import AuditAction
from apps.core.permissions import can


@transaction.atomic
def create_token(*, actor: User, name: str, days: int | None = None) -> tuple[ApiToken, str]:
    """Create a personal token for ``actor``; returns the row and the raw token (shown once)."""
    name = name.strip()
    if not name:
        raise ValidationError("Give the token a name, so you can tell it apart later.")
    days = days or settings.PORTAL_TOKEN_DEFAULT_DAYS
    if not 1 <= days <= settings.PORTAL_TOKEN_MAX_DAYS:
        raise ValidationError(
            f"A token can live between 1 and {settings.PORTAL_TOKEN_MAX_DAYS} days."
        )
    raw = ApiToken.generate()
    token = ApiToken.objects.create(
        user=actor,
        name=name[:100],
        key_hash=ApiToken.hash(raw),
        hint=raw[:10],
        expires_at=timezone.now() + timedelta(days=days),
    )
    audit.record(
        actor,
        AuditAction.TOKEN_CREATED,
        token,
        after={"name": token.name, "expires_at": token.expires_at.isoformat()},
    )
    return token, raw


@transaction.atomic
def revoke_token(token_id: int, *, actor: User) -> ApiToken:
    """Revoke a token. People revoke their own; admins anyone's."""
    token = ApiToken.objects.select_for_update().get(pk=token_id)
    if token.user_id != actor.pk and not can(actor, "accounts.delete_apitoken"):
        raise PermissionDenied("You can only revoke your own tokens.")
    if token.revoked_at is None:
        token.revoked_at = timezone.now()
        token.save(update_fields=["revoked_at"])
        audit.record(
            actor,
            AuditAction.TOKEN_REVOKED,
            token,
            before={"state": "active"},
            after={"state": "revoked", "owner": token.user.get_username()},
        )
    return token


# --- Receivers of django.contrib.auth and django-axes signals (connected in apps.py) ------------

# When the person signed in (epoch seconds): the session ends SESSION_COOKIE_AGE after it
# (IdleSessionTimeoutMiddleware).
SIGNED_IN_KEY = "portal_signed_in_at"


def mark_sign_in(sender: Any, request: HttpRequest | None, user: Any, **kwargs: Any) -> None:
    """The sign-in time, from which the session's maximum length counts (Django's own expiry
    slides with every write of the session)."""
    session = getattr(request, "session", None)
    if session is not None:
        session[SIGNED_IN_KEY] = int(time.time())


def record_login(sender: Any, request: HttpRequest, user: User, **kwargs: Any) -> None:
    with transaction.atomic():
        audit.record(user, AuditAction.LOGIN, user)


def record_logout(
    sender: Any, request: HttpRequest, user: User | AnonymousUser | None, **kwargs: Any
) -> None:
    if user is not None and user.is_authenticated:
        reason = getattr(request, "logout_reason", "signed out")
        with transaction.atomic():
            audit.record(user, AuditAction.LOGOUT, user, after={"reason": reason})


def record_login_failure(
    sender: Any, credentials: dict[str, Any], request: HttpRequest | None = None, **kwargs: Any
) -> None:
    username = str(credentials.get("username", ""))[:150]
    with transaction.atomic():
        audit.record(
            None,
            AuditAction.LOGIN_FAILED,
            object_type="auth.user",
            object_id=username[:64],
            object_repr=username,
            after={"username": username},
        )


def record_lockout(
    sender: Any, request: HttpRequest, username: str, ip_address: str, **kwargs: Any
) -> None:
    with transaction.atomic():
        audit.record(
            None,
            AuditAction.LOCKED_OUT,
            object_type="auth.user",
            object_id=str(username)[:64],
            object_repr=str(username),
            after={"username": username, "ip": ip_address},
        )
