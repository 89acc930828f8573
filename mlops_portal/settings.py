"""The portal's one settings module, driven by environment variables.

Without any environment the portal runs embedded: SQLite in WAL mode, Celery on kombu's filesystem
transport, files under ``var/``. Production sets ``DATABASE_URL``, ``CELERY_BROKER_URL``,
``SECRET_KEY`` and ``PORTAL_HTTPS`` (see docs/operations.md).
"""

from __future__ import annotations

import contextlib
import os
import re
import secrets
from datetime import timedelta
from pathlib import Path

import dj_database_url

from mlops_portal.env import (
    ConfigurationError,
    cache_from_url,
    env_bool,
    env_int,
    env_list,
    env_networks,
    env_secret,
    env_str,
    split_for_parallel_tests,
    storage_from_url,
    url_with_password,
)

BASE_DIR = Path(__file__).resolve().parent.parent

# pytest sets PYTEST_VERSION; worker processes started by the tests inherit it, so both sides of a
# test agree on the folders below.
TESTING = "PYTEST_VERSION" in os.environ
if TESTING:
    split_for_parallel_tests(BASE_DIR / "var/test")

VAR_DIR = Path(
    env_str("PORTAL_VAR_DIR", str(BASE_DIR / ("var/test" if TESTING else "var")))
).resolve()
VAR_DIR.mkdir(parents=True, exist_ok=True)


def _secret_key() -> str:
    configured = env_secret("SECRET_KEY")
    if configured:
        if len(configured) < 50:
            raise ConfigurationError("SECRET_KEY must be at least 50 characters long")
        return configured
    # Embedded default: one random key per installation, kept beside the SQLite database.
    key_file = VAR_DIR / "secret_key"
    if not key_file.exists():
        key_file.write_text(secrets.token_urlsafe(64))
        key_file.chmod(0o600)
    return key_file.read_text().strip()


SECRET_KEY = _secret_key()


def _audit_keys() -> dict[str, str]:
    """The audit keyring, ``id:secret`` entries one per line (or comma); the last signs new events.

    Kept out of the database so that its administrator cannot re-sign the audit chain. Embedded
    default: a generated file beside the database, created atomically (web, worker and beat may
    start together and must not each invent a key).
    """
    text = env_secret("PORTAL_AUDIT_KEYS")
    if not text:
        key_file = VAR_DIR / "audit_keys"
        if not key_file.exists():
            draft = VAR_DIR / f".audit_keys.{os.getpid()}"
            draft.write_text(f"k1:{secrets.token_urlsafe(48)}\n")
            draft.chmod(0o600)
            with contextlib.suppress(FileExistsError):
                os.link(draft, key_file)
            draft.unlink()
        text = key_file.read_text()
    keys: dict[str, str] = {}
    for entry in text.replace(",", "\n").split():
        key_id, _, secret = entry.partition(":")
        if not re.fullmatch(r"[A-Za-z0-9_.-]{1,16}", key_id) or len(secret) < 32 or key_id in keys:
            raise ConfigurationError(
                "PORTAL_AUDIT_KEYS must hold distinct id:secret entries (id: 1-16 letters, digits, "
                f"_.-; secret: at least 32 characters); entry {key_id!r} is not one"
            )
        keys[key_id] = secret
    if not keys:
        raise ConfigurationError("PORTAL_AUDIT_KEYS holds no key")
    return keys


PORTAL_AUDIT_KEYS = _audit_keys()
# Signed checkpoints of the audit chain (docs/operations.md): outside the database, like the key.
PORTAL_AUDIT_CHECKPOINT_FILE = Path(
    env_str("PORTAL_AUDIT_CHECKPOINT_FILE", str(VAR_DIR / "audit-checkpoints.jsonl"))
)
DEBUG = env_bool("DEBUG", False)
ALLOWED_HOSTS = env_list("ALLOWED_HOSTS", ["127.0.0.1", "localhost"])
CSRF_TRUSTED_ORIGINS = env_list("CSRF_TRUSTED_ORIGINS", [])

INSTALLED_APPS = [
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "whitenoise.runserver_nostatic",
    "django.contrib.staticfiles",
    "rest_framework",
    "drf_spectacular",
    "drf_spectacular_sidecar",
    "guardian",
    "axes",
    "apps.core",
    "apps.audit",
    "apps.jobs",
    "apps.accounts",
    "apps.notifications",
    "apps.registry",
    "apps.validation",
    "apps.reviews",
    "apps.deployments",
    "apps.monitoring",
    "apps.findings",
    "apps.documentation",
    "apps.analytics",
    "apps.recertification",
    "apps.integrations",
]

MIDDLEWARE = [
    "django.middleware.security.SecurityMiddleware",
    "apps.accounts.middleware.ContentSecurityPolicyMiddleware",
    "whitenoise.middleware.WhiteNoiseMiddleware",
    "apps.accounts.middleware.NoStoreMiddleware",  # below WhiteNoise: static files stay cached
    "apps.audit.middleware.RequestContextMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "apps.core.timezones.ReaderTimeZoneMiddleware",  # times in the reader's zone
    "apps.accounts.middleware.IdleSessionTimeoutMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
    "axes.middleware.AxesMiddleware",
]

ROOT_URLCONF = "mlops_portal.urls"
WSGI_APPLICATION = "mlops_portal.wsgi.application"

TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        "DIRS": [BASE_DIR / "templates"],
        "APP_DIRS": True,
        "OPTIONS": {
            "context_processors": [
                "django.template.context_processors.request",
                "django.contrib.auth.context_processors.auth",
                "django.contrib.messages.context_processors.messages",
                "apps.accounts.context_processors.navigation",
                "apps.notifications.context_processors.inbox",
            ],
        },
    },
]

# --- Database -------------------------------------------------------------------------------
DATABASE_URL = env_str("DATABASE_URL", f"sqlite:///{VAR_DIR / 'portal.sqlite3'}")
# The password may come from a file (DATABASE_PASSWORD_FILE, a Docker secret) instead of the URL,
# so that it is not in the environment `docker inspect` shows.
DATABASES = {
    "default": dj_database_url.parse(
        url_with_password("DATABASE_URL", DATABASE_URL, env_secret("DATABASE_PASSWORD")),
        conn_max_age=60,
        conn_health_checks=True,
    )
}
if DATABASES["default"]["ENGINE"] == "django.db.backends.sqlite3":
    DATABASES["default"]["OPTIONS"] = {
        # WAL lets the web server read while the worker writes; IMMEDIATE takes the write lock at
        # BEGIN so two writers queue up instead of failing with "database is locked" on upgrade
        # (the audit hash chain reads the chain's tip and appends in one transaction).
        "init_command": "PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL;",
        "transaction_mode": "IMMEDIATE",
        "timeout": 30,
    }
    # The tests' worker process must open the same database file as the test process.
    DATABASES["default"]["TEST"] = {"NAME": str(VAR_DIR / "test.sqlite3")}
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

# --- Authentication and sessions --------------------------------------------------------------
AUTHENTICATION_BACKENDS = [
    "axes.backends.AxesStandaloneBackend",  # first: refuses locked-out credentials early
    # Django's ModelBackend, refusing local passwords of all but superusers when
    # PORTAL_LOCAL_LOGIN=0. Sign-ins through the identity provider are attached to it too.
    "apps.accounts.backends.PortalModelBackend",
    # LDAP / Active Directory (docs/ldap.md); inert while PORTAL_LDAP_URL is empty. After the
    # local backend, so a break-glass administrator's password is never sent to the directory.
    "apps.accounts.ldap.LdapBackend",
    "guardian.backends.ObjectPermissionBackend",
]
AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.UserAttributeSimilarityValidator"},
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator"},
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
    {"NAME": "django.contrib.auth.password_validation.NumericPasswordValidator"},
]
if TESTING:
    # Hashing with PBKDF2 dominates a test that logs in; the algorithm itself is Django's concern.
    PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]

LOGIN_URL = "login"
LOGIN_REDIRECT_URL = "dashboard"
LOGOUT_REDIRECT_URL = "login"

# The session lives at most SESSION_COOKIE_AGE from the sign-in (IdleSessionTimeoutMiddleware
# ends it then, whatever Django's sliding expiry says); PORTAL_SESSION_IDLE_SECONDS of inactivity
# ends it sooner (live-updating pages do not count as activity).
SESSION_COOKIE_AGE = env_int("PORTAL_SESSION_MAX_SECONDS", 12 * 3600, minimum=60)
PORTAL_SESSION_IDLE_SECONDS = env_int("PORTAL_SESSION_IDLE_SECONDS", 30 * 60, minimum=60)
SESSION_COOKIE_HTTPONLY = True
SESSION_COOKIE_SAMESITE = "Lax"
CSRF_COOKIE_HTTPONLY = True
CSRF_FAILURE_VIEW = "apps.audit.views.csrf_failure"

AXES_FAILURE_LIMIT = env_int("PORTAL_LOGIN_FAILURE_LIMIT", 5, minimum=1)
AXES_COOLOFF_TIME = timedelta(minutes=env_int("PORTAL_LOGIN_COOLOFF_MINUTES", 15, minimum=1))
AXES_LOCKOUT_PARAMETERS = [["username", "ip_address"]]
# The address the audit trail and the API's rate limits use: X-Forwarded-For counts only when
# it comes from one of PORTAL_TRUSTED_PROXIES (a client reaching the port directly cannot forge
# it), so behind the proxy it is the proxy's client, not the proxy.
AXES_CLIENT_IP_CALLABLE = "apps.core.client.client_ip"
AXES_RESET_ON_SUCCESS = True
AXES_DISABLE_ACCESS_LOG = True  # the audit log records logins and failures
AXES_VERBOSE = False
AXES_LOCKOUT_CALLABLE = "apps.accounts.views.locked_out"
# Failures count per username NFKC-normalised and case-folded: "Alice", "ALICE" and a
# full-width "Alice" are one name to the lock-out (the directory ignores case, too).
AXES_USERNAME_CALLABLE = "apps.accounts.backends.lockout_username"

# API tokens of a person who signs in through the identity provider or the directory work only
# while they signed in (or their session was re-checked) there within this many days; a leaver's
# tokens stop at the latest then (docs/sso.md).
PORTAL_SSO_TOKEN_MAX_DAYS_SINCE_SIGN_IN = env_int(
    "PORTAL_SSO_TOKEN_MAX_DAYS_SINCE_SIGN_IN", 7, minimum=1
)

GUARDIAN_ANONYMOUS_USER_NAME = None  # nothing is public: no anonymous object permissions

# --- Single sign-on (OpenID Connect; docs/sso.md) -----------------------------------------------
# Local passwords: off (0) leaves password sign-in to superusers only, the break-glass accounts.
PORTAL_LOCAL_LOGIN = env_bool("PORTAL_LOCAL_LOGIN", True)
# OpenID Connect is on when a discovery URL (or an issuer) and a client id are set.
PORTAL_OIDC_ISSUER = env_str("PORTAL_OIDC_ISSUER", "").strip()
PORTAL_OIDC_DISCOVERY_URL = env_str("PORTAL_OIDC_DISCOVERY_URL", "").strip() or (
    f"{PORTAL_OIDC_ISSUER.rstrip('/')}/.well-known/openid-configuration"
    if PORTAL_OIDC_ISSUER
    else ""
)
PORTAL_OIDC_CLIENT_ID = env_str("PORTAL_OIDC_CLIENT_ID", "").strip()
PORTAL_OIDC_CLIENT_SECRET = env_secret("PORTAL_OIDC_CLIENT_SECRET") or ""
PORTAL_OIDC_SCOPES = env_str("PORTAL_OIDC_SCOPES", "openid profile email")
if "openid" not in PORTAL_OIDC_SCOPES.split():
    raise ConfigurationError(
        f"PORTAL_OIDC_SCOPES must include openid (it is what asks for an ID token); "
        f"got {PORTAL_OIDC_SCOPES!r}"
    )
PORTAL_OIDC_GROUPS_CLAIM = env_str("PORTAL_OIDC_GROUPS_CLAIM", "groups")
PORTAL_OIDC_USERNAME_CLAIM = env_str("PORTAL_OIDC_USERNAME_CLAIM", "preferred_username")
PORTAL_OIDC_PROVIDER_NAME = env_str("PORTAL_OIDC_PROVIDER_NAME", "single sign-on")
PORTAL_OIDC_TIMEOUT_SECONDS = env_int("PORTAL_OIDC_TIMEOUT_SECONDS", 10, minimum=1)
# How often an open session is re-checked with the provider (a disabled person's session ends
# at the next check): at most the idle timeout, so "within the idle timeout" holds.
PORTAL_OIDC_RECHECK_SECONDS = min(
    env_int("PORTAL_OIDC_RECHECK_SECONDS", PORTAL_SESSION_IDLE_SECONDS, minimum=10),
    PORTAL_SESSION_IDLE_SECONDS,
)
# Whom a person without access should ask, on the "no access" page.
PORTAL_ACCESS_CONTACT = env_str("PORTAL_ACCESS_CONTACT", "your administrator")
# Group mapping rows to add at deployment (`manage.py sso_group_map`), as JSON:
# {"provider group": "role" | "team:<slug>" | [...]}. Administrators edit the rows in the admin.
PORTAL_SSO_GROUP_MAP = env_str("PORTAL_SSO_GROUP_MAP", "")

# --- LDAP / Active Directory sign-in (docs/ldap.md); on when PORTAL_LDAP_URL is set ---------------
PORTAL_LDAP_URL = env_str("PORTAL_LDAP_URL", "").strip()  # several, space-separated: tried in order
PORTAL_LDAP_START_TLS = env_bool("PORTAL_LDAP_START_TLS", False)
PORTAL_LDAP_CA_FILE = env_str("PORTAL_LDAP_CA_FILE", "").strip()
PORTAL_LDAP_TIMEOUT_SECONDS = env_int("PORTAL_LDAP_TIMEOUT_SECONDS", 5, minimum=1)
# Either a DN template (bind as the person directly) ...
PORTAL_LDAP_USER_DN_TEMPLATE = env_str("PORTAL_LDAP_USER_DN_TEMPLATE", "").strip()
# ... or a search with a read-only service account (Active Directory).
PORTAL_LDAP_BIND_DN = env_str("PORTAL_LDAP_BIND_DN", "").strip()
PORTAL_LDAP_BIND_PASSWORD_FILE = env_str("PORTAL_LDAP_BIND_PASSWORD_FILE", "").strip()
PORTAL_LDAP_USER_SEARCH_BASE = env_str("PORTAL_LDAP_USER_SEARCH_BASE", "").strip()
PORTAL_LDAP_USER_FILTER = env_str("PORTAL_LDAP_USER_FILTER", "(uid={username})")
PORTAL_LDAP_USERNAME_ATTRIBUTE = env_str("PORTAL_LDAP_USERNAME_ATTRIBUTE", "uid")
PORTAL_LDAP_FIRST_NAME_ATTRIBUTE = env_str("PORTAL_LDAP_FIRST_NAME_ATTRIBUTE", "givenName")
PORTAL_LDAP_LAST_NAME_ATTRIBUTE = env_str("PORTAL_LDAP_LAST_NAME_ATTRIBUTE", "sn")
PORTAL_LDAP_EMAIL_ATTRIBUTE = env_str("PORTAL_LDAP_EMAIL_ATTRIBUTE", "mail")
# Groups: an attribute of the person (memberOf), or a search.
PORTAL_LDAP_GROUP_ATTRIBUTE = env_str("PORTAL_LDAP_GROUP_ATTRIBUTE", "").strip()
PORTAL_LDAP_GROUP_SEARCH_BASE = env_str("PORTAL_LDAP_GROUP_SEARCH_BASE", "").strip()
PORTAL_LDAP_GROUP_FILTER = env_str(
    "PORTAL_LDAP_GROUP_FILTER", "(&(objectClass=groupOfNames)(member={dn}))"
)
PORTAL_LDAP_GROUP_NAME_ATTRIBUTE = env_str("PORTAL_LDAP_GROUP_NAME_ATTRIBUTE", "cn")
# How often an open session is checked against the directory: at most the idle timeout.
PORTAL_LDAP_RECHECK_SECONDS = min(
    env_int("PORTAL_LDAP_RECHECK_SECONDS", PORTAL_SESSION_IDLE_SECONDS, minimum=10),
    PORTAL_SESSION_IDLE_SECONDS,
)

# --- Security headers and HTTPS ---------------------------------------------------------------
PORTAL_HTTPS = env_bool("PORTAL_HTTPS", False)
SECURE_SSL_REDIRECT = PORTAL_HTTPS
SECURE_REDIRECT_EXEMPT = [r"^healthz$"]  # container health checks speak plain HTTP
SESSION_COOKIE_SECURE = PORTAL_HTTPS
CSRF_COOKIE_SECURE = PORTAL_HTTPS
SECURE_HSTS_SECONDS = 31_536_000 if PORTAL_HTTPS else 0
SECURE_HSTS_INCLUDE_SUBDOMAINS = PORTAL_HTTPS
SECURE_HSTS_PRELOAD = PORTAL_HTTPS
# The proxies in front of the portal, as the web server sees them: only their X-Forwarded-For
# is read (apps.core.client.client_ip).
PORTAL_TRUSTED_PROXIES = env_networks("PORTAL_TRUSTED_PROXIES")
if env_bool("PORTAL_BEHIND_PROXY", False):
    if not PORTAL_TRUSTED_PROXIES:
        # Every client would have the proxy's address: five wrong passwords for a username from
        # anywhere would lock it out for everyone, and the audit trail would name the proxy.
        raise ConfigurationError(
            "PORTAL_BEHIND_PROXY=1 needs PORTAL_TRUSTED_PROXIES: the address (or network) of "
            "the proxy as the portal sees it, e.g. PORTAL_TRUSTED_PROXIES=10.0.0.2"
        )
    SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")
SECURE_REFERRER_POLICY = "same-origin"
X_FRAME_OPTIONS = "DENY"
DATA_UPLOAD_MAX_MEMORY_SIZE = 5 * 1024 * 1024

# --- Static and uploaded files ----------------------------------------------------------------
STATIC_URL = "/static/"
STATIC_ROOT = Path(env_str("PORTAL_STATIC_ROOT", str(VAR_DIR / "static")))
STATIC_ROOT.mkdir(
    parents=True, exist_ok=True
)  # whitenoise warns about a missing folder before collectstatic
STATICFILES_DIRS = [BASE_DIR / "static"]
STATICFILES_FINDERS = [
    "django.contrib.staticfiles.finders.FileSystemFinder",
    "django.contrib.staticfiles.finders.AppDirectoriesFinder",
    "apps.validation.staticfinders.PlotlyFinder",  # plotly.js from the installed package
]
MEDIA_ROOT = VAR_DIR / "media"
# Artifacts, data sets, canonical copies and exports: a local folder by default, an S3-compatible
# or Azure Blob store for several hosts (mlops_portal/env.py storage_from_url says how).
PORTAL_STORAGE_URL = env_str("PORTAL_STORAGE_URL", "")
STORAGES = {
    "default": storage_from_url(PORTAL_STORAGE_URL),
    "staticfiles": {
        "BACKEND": (
            "django.contrib.staticfiles.storage.StaticFilesStorage"
            if TESTING
            else "whitenoise.storage.CompressedManifestStaticFilesStorage"
        )
    },
}

LANGUAGE_CODE = "en-gb"
TIME_ZONE = env_str("TIME_ZONE", "UTC")
USE_I18N = True
USE_TZ = True

# --- REST API ---------------------------------------------------------------------------------
REST_FRAMEWORK = {
    "DEFAULT_AUTHENTICATION_CLASSES": [
        "apps.accounts.authentication.BearerTokenAuthentication",
        "rest_framework.authentication.SessionAuthentication",
    ],
    "DEFAULT_PERMISSION_CLASSES": ["rest_framework.permissions.IsAuthenticated"],
    "DEFAULT_RENDERER_CLASSES": ["rest_framework.renderers.JSONRenderer"],
    "DEFAULT_PAGINATION_CLASS": "rest_framework.pagination.PageNumberPagination",
    "PAGE_SIZE": 50,
    "DEFAULT_SCHEMA_CLASS": "drf_spectacular.openapi.AutoSchema",
    "DEFAULT_THROTTLE_RATES": {"token": "10/min"},
    "EXCEPTION_HANDLER": "apps.core.api.exception_handler",
}
SPECTACULAR_SETTINGS = {
    "TITLE": "MLOps Portal API",
    "DESCRIPTION": "Authenticate with `Authorization: Bearer <token>`; "
    "create a token with POST /api/v1/auth/token/.",
    "VERSION": "1",
    "SERVE_INCLUDE_SCHEMA": False,
    "SERVE_PERMISSIONS": ["rest_framework.permissions.IsAuthenticated"],
    "SWAGGER_UI_DIST": "SIDECAR",
    "SWAGGER_UI_FAVICON_HREF": "SIDECAR",
    # No validator badge: Swagger UI would send the schema's address to validator.swagger.io.
    "SWAGGER_UI_SETTINGS": {"deepLinking": True, "validatorUrl": None},
    "REDOC_DIST": "SIDECAR",
    "COMPONENT_SPLIT_REQUEST": True,
}
PORTAL_TOKEN_DEFAULT_DAYS = env_int("PORTAL_TOKEN_DEFAULT_DAYS", 90, minimum=1)
PORTAL_TOKEN_MAX_DAYS = env_int("PORTAL_TOKEN_MAX_DAYS", 365, minimum=1)

# --- Registry uploads -------------------------------------------------------------------------
PORTAL_MAX_ARTIFACT_BYTES = env_int("PORTAL_MAX_ARTIFACT_MB", 500, minimum=1) * 2**20
PORTAL_MAX_DATASET_BYTES = env_int("PORTAL_MAX_DATASET_MB", 500, minimum=1) * 2**20
# A data set's width and longest line: what a web process holds while it reads one is bounded by
# these, not by the file's size.
PORTAL_MAX_COLUMNS = env_int("PORTAL_MAX_COLUMNS", 10_000, minimum=2)
PORTAL_MAX_LINE_BYTES = env_int("PORTAL_MAX_LINE_KB", 1024, minimum=64) * 2**10
# --- Validation sandbox -----------------------------------------------------------------------
PORTAL_SANDBOX_ISOLATION = env_bool("PORTAL_SANDBOX_ISOLATION", True)
PORTAL_SANDBOX_DIR = VAR_DIR / "sandbox"
PORTAL_SANDBOX_LIMITS = {
    "memory_mb": env_int("PORTAL_SANDBOX_MEMORY_MB", 4096, minimum=256),
    "cpu_seconds": env_int("PORTAL_SANDBOX_CPU_SECONDS", 600, minimum=5),
    "wall_seconds": env_int("PORTAL_SANDBOX_WALL_SECONDS", 900, minimum=10),
    "file_mb": env_int("PORTAL_SANDBOX_FILE_MB", 2048, minimum=16),
    "processes": env_int("PORTAL_SANDBOX_PROCESSES", 64, minimum=8),
    "open_files": 256,
}
PORTAL_SKOPS_TRUSTED_TYPES = env_list("PORTAL_SKOPS_TRUSTED_TYPES", [])
# A validation attempt runs the sandbox at most twice (pickle conversion, then validation).
PORTAL_VALIDATION_TIME_LIMIT = 2 * PORTAL_SANDBOX_LIMITS["wall_seconds"] + 120
PORTAL_SKOPS_MAX_MEMBERS = env_int("PORTAL_SKOPS_MAX_MEMBERS", 50_000, minimum=10)
PORTAL_SKOPS_MAX_BYTES = env_int("PORTAL_SKOPS_MAX_MB", 4096, minimum=1) * 2**20

# --- Serving ----------------------------------------------------------------------------------
# Each serving process looks for a switched version, new or revoked keys this often.
PORTAL_SERVING_REFRESH_SECONDS = env_int("PORTAL_SERVING_REFRESH_MS", 1000, minimum=50) / 1000
PORTAL_SERVING_MAX_ROWS = env_int("PORTAL_SERVING_MAX_ROWS", 10_000, minimum=1)
PORTAL_SERVING_MAX_BODY_BYTES = env_int("PORTAL_SERVING_MAX_BODY_MB", 20, minimum=1) * 2**20
PORTAL_PREDICTION_LOG_FLUSH_SECONDS = (
    env_int("PORTAL_PREDICTION_LOG_FLUSH_MS", 1000, minimum=50) / 1000
)
# Off only to measure what logging costs (bench/serving.py): nothing is logged or counted, so
# monitoring sees no traffic. Every serving process says so in its log at start.
PORTAL_PREDICTION_LOGGING = env_bool("PORTAL_PREDICTION_LOGGING", True)
# Records a serving process holds while the database cannot take them; past this the oldest are
# dropped, and counted as lost on the deployment's page.
PORTAL_PREDICTION_LOG_BUFFER = env_int("PORTAL_PREDICTION_LOG_BUFFER", 100_000, minimum=100)
# Raw prediction logs are deleted after this many days (the EU AI Act's six months for the logs
# of high-risk systems); monitoring's rollups are kept.
PORTAL_PREDICTION_LOG_DAYS = env_int("PORTAL_PREDICTION_LOG_DAYS", 180, minimum=1)
# Unknown model and environment names a serving process remembers as "not live here" (so that
# probing them costs no query each), the oldest forgotten first.
PORTAL_SERVING_MISSES_KEPT = 1024
# Estimators one serving process keeps loaded (a live version and its challenger count as two);
# past this the least recently used is dropped and loaded again when it is next asked for.
PORTAL_SERVING_MAX_MODELS = env_int("PORTAL_SERVING_MAX_MODELS", 20, minimum=1)
# Serve a version on onnxruntime when validation converted it to ONNX and checked it answers like
# the model on the whole holdout (docs/serving-fast-path.md); off: always scikit-learn.
PORTAL_SERVING_ONNX = env_bool("PORTAL_SERVING_ONNX", True)
# Bearer token for GET /serve/_status (what a serving process holds). Unset: it answers 404, since
# the list says which models are live.
PORTAL_SERVING_STATUS_TOKEN = env_secret("PORTAL_SERVING_STATUS_TOKEN")
if PORTAL_SERVING_STATUS_TOKEN is not None and len(PORTAL_SERVING_STATUS_TOKEN) < 32:
    raise ConfigurationError("PORTAL_SERVING_STATUS_TOKEN must be at least 32 characters long")

# Uploads above this size are spooled to a temporary file instead of memory. The first handler
# stops a file passing its role's limit (PORTAL_MAX_*) before the others keep its bytes, and a
# body longer than any upload may be before a file is read.
FILE_UPLOAD_MAX_MEMORY_SIZE = 5 * 2**20
FILE_UPLOAD_HANDLERS = [
    "apps.registry.uploads.UploadLimitHandler",
    "django.core.files.uploadhandler.MemoryFileUploadHandler",
    "django.core.files.uploadhandler.TemporaryFileUploadHandler",
]

# --- Redis: broker and cache ------------------------------------------------------------------
# The Redis password may come from a file (REDIS_PASSWORD_FILE, a Docker secret); it is put into
# the redis:// URLs of the broker and the cache, which then name only host and database.
REDIS_PASSWORD = env_secret("REDIS_PASSWORD")


def _with_redis_password(name: str, url: str) -> str:
    if url.startswith(("redis://", "rediss://")):
        return url_with_password(name, url, REDIS_PASSWORD)
    return url


# Throttles (the API's rate limits) count in the cache: PORTAL_CACHE_URL=redis://… shares the
# count between every process on every host. Empty: each process's memory, as before.
PORTAL_CACHE_URL = _with_redis_password("PORTAL_CACHE_URL", env_str("PORTAL_CACHE_URL", ""))
CACHES = {"default": cache_from_url(PORTAL_CACHE_URL)}

# --- Celery -----------------------------------------------------------------------------------
BROKER_DIR = VAR_DIR / "broker"
CELERY_BROKER_URL = _with_redis_password(
    "CELERY_BROKER_URL", env_str("CELERY_BROKER_URL", "filesystem://")
)
if REDIS_PASSWORD and "CELERY_BROKER_URL" in os.environ:
    # Celery reads the CELERY_BROKER_URL environment variable before its configuration, so the
    # variable must carry the password too. The merged URL stays in this process's environment
    # (and its children's; the validation sandbox gets an empty one), never in the container's.
    os.environ["CELERY_BROKER_URL"] = CELERY_BROKER_URL
if CELERY_BROKER_URL.startswith("filesystem://"):
    for folder in ("queue", "processed", "control"):
        (BROKER_DIR / folder).mkdir(parents=True, exist_ok=True)
    CELERY_BROKER_TRANSPORT_OPTIONS = {
        "data_folder_in": str(BROKER_DIR / "queue"),
        "data_folder_out": str(BROKER_DIR / "queue"),
        "processed_folder": str(BROKER_DIR / "processed"),
        # Broadcast (remote control) messages; by default kombu writes them to ./control.
        "control_folder": str(BROKER_DIR / "control"),
        # kombu polls the folder once a second by default: up to a second's wait per job
        # (bench/validation.py measured it); listing a folder four times a second costs nothing.
        "polling_interval": 0.25,
        "store_processed": False,
    }
if CELERY_BROKER_URL.startswith(("redis://", "rediss://")):
    # Redis redelivers an unacknowledged task after this long. It must exceed the longest
    # countdown (webhook retries wait up to an hour) and the longest task; a task lost by a killed
    # worker is re-queued sooner by the jobs reaper.
    CELERY_BROKER_TRANSPORT_OPTIONS = {"visibility_timeout": 2 * 3600}
CELERY_TASK_SERIALIZER = "json"
CELERY_ACCEPT_CONTENT = ["json"]
CELERY_RESULT_SERIALIZER = "json"
CELERY_TASK_IGNORE_RESULT = True  # the UI reads our Job rows, never Celery's result backend
CELERY_TASK_ACKS_LATE = True
CELERY_TASK_REJECT_ON_WORKER_LOST = True
CELERY_WORKER_PREFETCH_MULTIPLIER = 1
# A broker outage must not cancel running tasks (Celery 6's planned default): a job goes on
# reporting to the database and finishes once (tests/jobs/test_resilience.py).
CELERY_WORKER_CANCEL_LONG_RUNNING_TASKS_ON_CONNECTION_LOSS = False
CELERY_TASK_DEFAULT_QUEUE = "default"
CELERY_TASK_SOFT_TIME_LIMIT = env_int("PORTAL_TASK_SOFT_TIME_LIMIT", 30 * 60, minimum=1)
CELERY_TASK_TIME_LIMIT = CELERY_TASK_SOFT_TIME_LIMIT + 60
CELERY_BROKER_CONNECTION_RETRY_ON_STARTUP = True
CELERY_WORKER_HIJACK_ROOT_LOGGER = False
CELERY_TIMEZONE = TIME_ZONE
PORTAL_WORKER_QUEUES = ["default", "validation", "deployment", "monitoring"]

# Jobs: the reaper re-enqueues work a dead worker or a lost message left behind.
PORTAL_WORKER_HEARTBEAT_SECONDS = env_int("PORTAL_WORKER_HEARTBEAT_SECONDS", 10, minimum=1)
PORTAL_JOB_STALE_SECONDS = env_int("PORTAL_JOB_STALE_SECONDS", 60, minimum=1)
PORTAL_JOB_REQUEUE_SECONDS = env_int("PORTAL_JOB_REQUEUE_SECONDS", 120, minimum=1)
PORTAL_REAPER_INTERVAL_SECONDS = env_int("PORTAL_REAPER_INTERVAL_SECONDS", 30, minimum=1)

CELERY_BEAT_SCHEDULE = {
    "reap-stale-jobs": {
        "task": "jobs.reap_stale_jobs",
        "schedule": float(PORTAL_REAPER_INTERVAL_SECONDS),
    },
    "fold-predictions": {
        "task": "monitoring.fold_predictions",
        "schedule": 60.0,
        "options": {"queue": "monitoring"},
    },
    # Change analytics reads the audit trail folded into day tables; pages fold the last
    # minute's events themselves, so this keeps that tail short.
    "fold-changes": {
        "task": "analytics.fold_changes",
        "schedule": 60.0,
        "options": {"queue": "default"},
    },
    "prediction-log-retention": {
        "task": "monitoring.apply_retention",
        "schedule": 86400.0,
        "options": {"queue": "monitoring"},
    },
    "periodic-review-sweep": {
        "task": "recertification.sweep",
        "schedule": float(env_int("PORTAL_PERIODIC_SWEEP_SECONDS", 3600, minimum=60)),
    },
    "verify-audit-chain": {
        "task": "audit.verify_chain",
        "schedule": float(env_int("PORTAL_AUDIT_VERIFY_SECONDS", 3600, minimum=60)),
    },
    # MLflow servers that cannot send webhooks (and deliveries that were lost).
    "mlflow-poll": {
        "task": "integrations.poll_mlflow",
        "schedule": float(env_int("PORTAL_MLFLOW_POLL_SECONDS", 300, minimum=30)),
        "options": {"queue": "default"},
    },
}

# --- Email, notifications and logging ---------------------------------------------------------
# Links in emails and webhook payloads point here. `make run` sets it from its PORT for every
# process (honcho gives each its own PORT); a process started alone falls back to its PORT.
PORTAL_BASE_URL = env_str("PORTAL_BASE_URL", f"http://127.0.0.1:{env_int('PORT', 8000, minimum=1)}")
EMAIL_HOST = env_str("EMAIL_HOST", "")
# Console email unless an SMTP host is configured (or EMAIL_BACKEND names another backend).
EMAIL_BACKEND = env_str(
    "EMAIL_BACKEND",
    "django.core.mail.backends.smtp.EmailBackend"
    if EMAIL_HOST
    else "django.core.mail.backends.console.EmailBackend",
)
EMAIL_PORT = env_int("EMAIL_PORT", 587, minimum=1)
EMAIL_HOST_USER = env_str("EMAIL_HOST_USER", "")
EMAIL_HOST_PASSWORD = env_secret("EMAIL_HOST_PASSWORD") or ""
EMAIL_USE_TLS = env_bool("EMAIL_USE_TLS", True)
EMAIL_TIMEOUT = 15
DEFAULT_FROM_EMAIL = env_str("DEFAULT_FROM_EMAIL", "mlops-portal@localhost")
PORTAL_WEBHOOK_TIMEOUT_SECONDS = env_int("PORTAL_WEBHOOK_TIMEOUT_SECONDS", 10, minimum=1)
# The certificate authorities the portal trusts for its own outbound HTTPS (webhooks, MLflow): a
# bank's internal CA bundle, so internal receivers verify. Empty: the public CAs (certifi).
PORTAL_CA_BUNDLE = env_str("PORTAL_CA_BUNDLE", "")
PORTAL_WEBHOOK_MAX_ATTEMPTS = env_int("PORTAL_WEBHOOK_MAX_ATTEMPTS", 6, minimum=1)
# Retry n waits about BACKOFF * 3**(n-1) seconds (with jitter), at most an hour.
PORTAL_WEBHOOK_BACKOFF_SECONDS = env_int("PORTAL_WEBHOOK_BACKOFF_SECONDS", 10, minimum=1)

LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "filters": {"request_id": {"()": "apps.audit.context.RequestIdLogFilter"}},
    "formatters": {
        "plain": {"format": "%(asctime)s %(levelname)s %(name)s [%(request_id)s] %(message)s"}
    },
    "handlers": {
        "console": {
            "class": "logging.StreamHandler",
            "formatter": "plain",
            "filters": ["request_id"],
        }
    },
    "root": {"handlers": ["console"], "level": env_str("LOG_LEVEL", "INFO")},
    # Authlib logs the PKCE code verifier at DEBUG.
    "loggers": {"axes": {"level": "WARNING"}, "authlib": {"level": "WARNING"}},
}
