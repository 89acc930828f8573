"""The sign-in settings' system checks, registered at start-up without loading the OpenID
Connect and LDAP clients (Authlib, ldap3): workers, beat and the serving tier sign nobody in."""

from __future__ import annotations

from typing import Any

from django.core.checks import CheckMessage, register


@register("security")
def sign_in_settings(app_configs: Any = None, **kwargs: Any) -> list[CheckMessage]:
    from apps.accounts import ldap, oidc

    return [*oidc.check_settings(app_configs), *ldap.check_settings(app_configs)]
