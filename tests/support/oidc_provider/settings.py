"""Settings of the test OpenID Connect provider (django-oauth-toolkit).

Everything that differs between two running providers comes from the environment, set by
``tests.support.oidc.OidcProvider``:

- ``OIDC_IDP_DIR``: the provider's own folder: its SQLite database (``db.sqlite3``), its RSA
  signing key (``signing-key.pem``, made by the fixture at start and published in the JWKS) and
  the fault file (see ``faults.py``);
- ``OIDC_IDP_ISSUER``: ``http://127.0.0.1:<port>/o``;
- ``OIDC_IDP_SECRET_KEY`` and ``OIDC_IDP_CONTROL_TOKEN``: random per provider.
"""

from __future__ import annotations

import os
from pathlib import Path

STATE_DIR = Path(os.environ["OIDC_IDP_DIR"])
ISSUER = os.environ["OIDC_IDP_ISSUER"]
CONTROL_TOKEN = os.environ["OIDC_IDP_CONTROL_TOKEN"]
SECRET_KEY = os.environ["OIDC_IDP_SECRET_KEY"]

DEBUG = False
ALLOWED_HOSTS = ["127.0.0.1", "localhost"]
ROOT_URLCONF = "tests.support.oidc_provider.urls"
WSGI_APPLICATION = "tests.support.oidc_provider.wsgi.application"

INSTALLED_APPS = [
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "oauth2_provider",
]
MIDDLEWARE = [
    "django.middleware.security.SecurityMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
]
TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        "DIRS": [Path(__file__).resolve().parent / "templates"],
        "APP_DIRS": True,
        "OPTIONS": {
            "context_processors": [
                "django.template.context_processors.request",
                "django.contrib.auth.context_processors.auth",
            ]
        },
    }
]

DATABASES = {
    "default": {
        "ENGINE": "django.db.backends.sqlite3",
        "NAME": STATE_DIR / "db.sqlite3",
        # The test process changes users while the provider serves: wait for the lock, and take
        # it at the start of a write transaction rather than failing to upgrade it half way.
        "OPTIONS": {"timeout": 30, "transaction_mode": "IMMEDIATE"},
    }
}
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"
USE_TZ = True
TIME_ZONE = "UTC"

# The portal runs on 127.0.0.1 too, and browsers keep cookies per host, not per port: with the
# default names, signing in here would overwrite the portal's session and CSRF cookies.
SESSION_COOKIE_NAME = "test_idp_sessionid"
CSRF_COOKIE_NAME = "test_idp_csrftoken"

LOGIN_URL = "/accounts/login/"
LOGIN_REDIRECT_URL = "/accounts/login/"

# Throwaway users on a loopback test server: a real hash, with few rounds, so that a sign-in and
# the client-secret check at every token request cost milliseconds, not a second.
PASSWORD_HASHERS = ["tests.support.oidc_provider.hashers.QuickPBKDF2PasswordHasher"]

OAUTH2_PROVIDER = {
    "OIDC_ENABLED": True,
    "OIDC_ISS_ENDPOINT": ISSUER,
    "OIDC_RSA_PRIVATE_KEY": (STATE_DIR / "signing-key.pem").read_text(),
    "OIDC_RP_INITIATED_LOGOUT_ENABLED": True,
    # With an id_token_hint of the signed-in person, sign out and go back to the portal without
    # a confirmation page, as Keycloak and Entra ID do.
    "OIDC_RP_INITIATED_LOGOUT_ALWAYS_PROMPT": False,
    "PKCE_REQUIRED": True,
    "COMPLIANT_BCP_RFC9700_PKCE_METHOD": True,  # S256 only
    "COMPLIANT_BCP_RFC9700_IMPLICIT_GRANT": True,
    "COMPLIANT_BCP_RFC9700_PASSWORD_GRANT": True,
    "OAUTH2_VALIDATOR_CLASS": "tests.support.oidc_provider.validator.ProviderValidator",
    "SCOPES": {
        "openid": "OpenID Connect sign-in (includes the groups claim)",
        "profile": "Name and username",
        "email": "E-mail address",
    },
    "DEFAULT_SCOPES": ["openid"],
    "ACCESS_TOKEN_EXPIRE_SECONDS": 3600,
    "ID_TOKEN_EXPIRE_SECONDS": 3600,
}

LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "handlers": {"console": {"class": "logging.StreamHandler"}},
    # Server errors and refused requests go to the log the fixture shows when something fails.
    "loggers": {"django.request": {"handlers": ["console"], "level": "WARNING"}},
}
