"""The fixture's way to change the running provider: a JSON endpoint behind a random token.

``POST /control/<action>`` with ``Authorization: Bearer <OIDC_IDP_CONTROL_TOKEN>`` and a JSON
body. The token is made by the fixture for this provider only and given to it in its
environment; the server listens on loopback only. Each action runs in one transaction.
"""

from __future__ import annotations

import hmac
import json
from collections.abc import Callable
from typing import Any

from django.contrib.auth.models import Group, User
from django.core.exceptions import ValidationError
from django.db import transaction
from django.http import HttpRequest, JsonResponse
from django.views.decorators.csrf import csrf_exempt
from django.views.decorators.http import require_POST
from oauth2_provider.models import (  # type: ignore[import-untyped]
    get_access_token_model,
    get_application_model,
    get_grant_model,
    get_id_token_model,
    get_refresh_token_model,
    revoke_access_token,
)

from . import settings as provider_settings

Application = get_application_model()
AccessToken = get_access_token_model()
RefreshToken = get_refresh_token_model()
Grant = get_grant_model()
IDToken = get_id_token_model()


class ControlError(Exception):
    def __init__(self, status: int, message: str) -> None:
        super().__init__(message)
        self.status = status


def _user(username: str) -> User:
    try:
        return User.objects.select_for_update().get(username=username)
    except User.DoesNotExist:
        raise ControlError(404, f"no user {username!r} at the provider") from None


def _set_groups(user: User, names: list[str]) -> None:
    groups = [Group.objects.get_or_create(name=name)[0] for name in names]
    user.groups.set(groups)


def save_client(data: dict[str, Any]) -> dict[str, Any]:
    """Create or replace the one confidential client (authorization code, RS256, no consent)."""
    client = Application.objects.filter(client_id=data["client_id"]).first() or Application(
        client_id=data["client_id"]
    )
    client.name = data.get("name") or "MLOps Portal"
    client.client_secret = data["client_secret"]  # hashed on save
    client.client_type = Application.CLIENT_CONFIDENTIAL
    client.authorization_grant_type = Application.GRANT_AUTHORIZATION_CODE
    client.redirect_uris = " ".join(data["redirect_uris"])
    client.post_logout_redirect_uris = " ".join(data.get("post_logout_redirect_uris", []))
    client.algorithm = Application.RS256_ALGORITHM
    client.skip_authorization = True
    client.full_clean(exclude=["user"])
    client.save()
    return {"client_id": client.client_id}


def save_user(data: dict[str, Any]) -> dict[str, Any]:
    """Create or replace a person: password, names, e-mail, groups; active."""
    user = User.objects.filter(username=data["username"]).first() or User(username=data["username"])
    user.set_password(data["password"])
    user.first_name = data.get("first_name", "")
    user.last_name = data.get("last_name", "")
    user.email = data.get("email", "")
    user.is_active = True
    user.save()
    _set_groups(user, data.get("groups", []))
    return {"sub": str(user.pk)}


def set_groups(data: dict[str, Any]) -> dict[str, Any]:
    user = _user(data["username"])
    _set_groups(user, data["groups"])
    return {"groups": sorted(user.groups.values_list("name", flat=True))}


def disable_user(data: dict[str, Any]) -> dict[str, Any]:
    """A leaver: inactive (no new sign-in, provider session ignored), and every token and
    grant of theirs revoked, so refresh-token grants and userinfo calls are refused."""
    user = _user(data["username"])
    user.is_active = False
    user.save(update_fields=["is_active"])
    refresh_tokens = list(RefreshToken.objects.filter(user=user, revoked__isnull=True))
    for refresh_token in refresh_tokens:
        refresh_token.revoke()  # and its access token
    for access_token in AccessToken.objects.filter(user=user):
        revoke_access_token(access_token)
    id_tokens = IDToken.objects.filter(user=user).delete()[0]
    grants = Grant.objects.filter(user=user).delete()[0]
    return {
        "refresh_tokens_revoked": len(refresh_tokens),
        "id_tokens_revoked": id_tokens,
        "grants_revoked": grants,
    }


ACTIONS: dict[str, Callable[[dict[str, Any]], dict[str, Any]]] = {
    "client": save_client,
    "user": save_user,
    "groups": set_groups,
    "disable": disable_user,
}


@csrf_exempt
@require_POST
def control(request: HttpRequest, action: str) -> JsonResponse:
    expected = f"Bearer {provider_settings.CONTROL_TOKEN}"
    given = request.headers.get("Authorization", "")
    if not hmac.compare_digest(given.encode(), expected.encode()):
        return JsonResponse({"error": "not the fixture's control token"}, status=403)
    handler = ACTIONS.get(action)
    if handler is None:
        return JsonResponse({"error": f"no action {action!r}"}, status=404)
    try:
        data = json.loads(request.body)
        with transaction.atomic():
            return JsonResponse(handler(data))
    except ControlError as error:
        return JsonResponse({"error": str(error)}, status=error.status)
    except ValidationError as error:
        return JsonResponse({"error": error.messages}, status=400)
    except (ValueError, KeyError, TypeError) as error:
        return JsonResponse({"error": f"bad request: {error!r}"}, status=400)
