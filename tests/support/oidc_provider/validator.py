"""The provider's claims (with the person's groups) and its forged ID tokens.

Everything but the last step of an ID token is django-oauth-toolkit's own code: the
authorization request, the login, the code, PKCE, client authentication and the token endpoint.
Only ``finalize_id_token`` is overridden, and only while a fault is chosen (``faults.py``).
"""

from __future__ import annotations

import base64
import json
import secrets
import time
from functools import cache
from typing import Any

from django.db import router, transaction
from jwcrypto import jwk, jwt  # type: ignore[import-untyped]
from oauth2_provider.models import get_id_token_model  # type: ignore[import-untyped]
from oauth2_provider.oauth2_validators import OAuth2Validator  # type: ignore[import-untyped]

from . import settings as provider_settings
from .faults import Fault, read_fault

IDToken = get_id_token_model()


@cache
def unknown_key() -> jwk.JWK:
    """An RSA key of this process that the JWKS never publishes."""
    return jwk.JWK.generate(kty="RSA", size=2048)


def _b64(data: dict[str, Any]) -> str:
    raw = json.dumps(data, separators=(",", ":"), default=str).encode()
    return base64.urlsafe_b64encode(raw).rstrip(b"=").decode()


def _groups(request: Any) -> list[str]:
    return sorted(request.user.groups.values_list("name", flat=True))


class ProviderValidator(OAuth2Validator):
    # "groups" comes with the "openid" scope, so a client asking for the usual
    # "openid profile email" gets it without asking for a scope of its own.
    oidc_claim_scope = {**OAuth2Validator.oidc_claim_scope, "groups": "openid"}

    def get_additional_claims(self) -> dict[str, Any]:
        """Request-agnostic form (callables), so discovery lists them in claims_supported."""
        return {
            "preferred_username": lambda request: request.user.get_username(),
            "given_name": lambda request: request.user.first_name,
            "family_name": lambda request: request.user.last_name,
            "email": lambda request: request.user.email,
            "groups": _groups,
        }

    def finalize_id_token(
        self, id_token: dict[str, Any], token: Any, token_handler: Any, request: Any
    ) -> str:
        fault = read_fault(provider_settings.STATE_DIR)
        if fault is None:
            return str(super().finalize_id_token(id_token, token, token_handler, request))
        # The same steps as django-oauth-toolkit's finalize_id_token, with the fault applied
        # to the claims and the signature.
        claims, expiration_time = self.get_id_token_dictionary(token, token_handler, request)
        id_token.update(**claims)
        if "nonce" not in id_token and request.nonce:
            id_token["nonce"] = request.nonce
        serialized = _forge(fault, id_token, request.client.jwk_key)
        with transaction.atomic(using=router.db_for_write(IDToken)):
            saved = self._save_id_token(id_token["jti"], request, expiration_time)
        request.access_token = saved
        request.id_token = saved
        return serialized


def _forge(fault: Fault, claims: dict[str, Any], key: jwk.JWK) -> str:
    now = int(time.time())
    header: dict[str, Any] = {"typ": "JWT", "alg": "RS256", "kid": key.thumbprint()}
    if fault == "signed_by_unknown_key":
        key = unknown_key()
        header["kid"] = key.thumbprint()
    elif fault == "alg_none":
        return f"{_b64({'typ': 'JWT', 'alg': 'none'})}.{_b64(claims)}."
    elif fault == "expired":
        claims.update(iat=now - 7200, auth_time=now - 7200, exp=now - 3600)
    elif fault == "wrong_audience":
        claims["aud"] = "another-application"
    elif fault == "wrong_issuer":
        claims["iss"] = "https://idp.attacker.example/o"
    elif fault == "wrong_nonce":
        claims["nonce"] = f"forged-{secrets.token_urlsafe(12)}"
    elif fault == "groups_malformed":
        claims["groups"] = ",".join(claims.get("groups", []))
    elif fault == "groups_number":
        claims["groups"] = 42
    elif fault == "groups_missing":
        claims.pop("groups", None)
    token = jwt.JWT(header=json.dumps(header), claims=json.dumps(claims, default=str))
    token.make_signed_token(key)
    return str(token.serialize())
