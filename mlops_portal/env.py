"""Typed readers for settings that come from the environment.

Each helper fails loudly on a malformed value: a typo in production configuration must stop the
process at start-up, not surface as odd behaviour later.
"""

from __future__ import annotations

import ipaddress
import os
import sys
from pathlib import Path


class ConfigurationError(ValueError):
    """An environment variable holds a value the portal cannot use."""


_TRUE = {"1", "true", "yes", "on"}
_FALSE = {"0", "false", "no", "off", ""}


def env_str(name: str, default: str) -> str:
    return os.environ.get(name, default)


def env_bool(name: str, default: bool) -> bool:
    raw = os.environ.get(name)
    if raw is None:
        return default
    value = raw.strip().lower()
    if value in _TRUE:
        return True
    if value in _FALSE:
        return False
    raise ConfigurationError(f"{name} must be one of 1/0, true/false, yes/no, on/off; got {raw!r}")


def env_int(name: str, default: int, *, minimum: int | None = None) -> int:
    raw = os.environ.get(name)
    if raw is None or raw.strip() == "":
        return default
    try:
        value = int(raw)
    except ValueError:
        raise ConfigurationError(f"{name} must be an integer; got {raw!r}") from None
    if minimum is not None and value < minimum:
        raise ConfigurationError(f"{name} must be at least {minimum}; got {value}")
    return value


def env_list(name: str, default: list[str]) -> list[str]:
    raw = os.environ.get(name)
    if raw is None:
        return default
    return [item.strip() for item in raw.split(",") if item.strip()]


def env_networks(name: str) -> list[str]:
    """Comma-separated addresses or CIDR networks (``10.0.0.5, 10.1.0.0/16``), each normalised to
    a network. A network with host bits set (``10.0.0.5/8``) is refused: it is a typo, and guessing
    which was meant would trust more or fewer hosts than intended."""
    networks = []
    for item in env_list(name, []):
        try:
            networks.append(str(ipaddress.ip_network(item)))
        except ValueError as exc:
            raise ConfigurationError(
                f"{name} must list IP addresses or networks such as 10.0.0.0/24; "
                f"{item!r} is not one ({exc})"
            ) from None
    return networks


def env_secret(name: str) -> str | None:
    """Read a secret from ``NAME`` or from the file named by ``NAME_FILE`` (Docker secrets)."""
    path = os.environ.get(f"{name}_FILE")
    if path:
        try:
            return Path(path).read_text().strip()
        except OSError as exc:
            raise ConfigurationError(
                f"{name}_FILE points at {path!r}, which cannot be read: {exc}"
            ) from None
    return os.environ.get(name) or None


def storage_from_url(url: str) -> dict[str, object]:
    """The STORAGES["default"] entry for ``PORTAL_STORAGE_URL``.

    - empty (the embedded default): files under MEDIA_ROOT on this machine;
    - ``s3://bucket/prefix?endpoint=https://s3.bank.example&region=eu-west-1&addressing=path``:
      an S3-compatible store (AWS, MinIO, Ceph); keys from ``PORTAL_S3_ACCESS_KEY_ID`` and
      ``PORTAL_S3_SECRET_ACCESS_KEY`` (or their ``_FILE``), else boto3's own chain (instance roles);
    - ``azure://container/prefix?account=name``: Azure Blob storage; the key from
      ``PORTAL_AZURE_ACCOUNT_KEY`` (or ``_FILE``), or a whole ``PORTAL_AZURE_CONNECTION_STRING``.
    Several web, worker and serving hosts pointed at one store share every artifact.
    """
    from urllib.parse import parse_qs, urlsplit

    if not url:
        return {"BACKEND": "django.core.files.storage.FileSystemStorage"}
    parts = urlsplit(url)
    query = {k: v[-1] for k, v in parse_qs(parts.query).items()}
    container, prefix = parts.netloc, parts.path.strip("/")
    if not container:
        raise ConfigurationError(f"PORTAL_STORAGE_URL names no bucket or container: {url!r}")
    if parts.scheme == "s3":
        known = {"endpoint", "region", "addressing"}
        if unknown := set(query) - known:
            raise ConfigurationError(
                f"PORTAL_STORAGE_URL: unknown option(s) {', '.join(sorted(unknown))} "
                f"(s3 takes {', '.join(sorted(known))})"
            )
        options: dict[str, object] = {
            "bucket_name": container,
            "location": prefix,
            "endpoint_url": query.get("endpoint") or None,
            "region_name": query.get("region") or None,
            "addressing_style": query.get("addressing") or None,
            "access_key": env_secret("PORTAL_S3_ACCESS_KEY_ID"),
            "secret_key": env_secret("PORTAL_S3_SECRET_ACCESS_KEY"),
            # Keys are generated and never reused: refuse to overwrite rather than rename.
            "file_overwrite": False,
            "default_acl": None,
            "querystring_auth": True,
        }
        return {"BACKEND": "storages.backends.s3.S3Storage", "OPTIONS": options}
    if parts.scheme == "azure":
        known = {"account"}
        if unknown := set(query) - known:
            raise ConfigurationError(
                f"PORTAL_STORAGE_URL: unknown option(s) {', '.join(sorted(unknown))} "
                "(azure takes account)"
            )
        connection = env_secret("PORTAL_AZURE_CONNECTION_STRING")
        if not connection and not query.get("account"):
            raise ConfigurationError(
                "PORTAL_STORAGE_URL=azure://… needs ?account=<storage account> or "
                "PORTAL_AZURE_CONNECTION_STRING"
            )
        options = {
            "azure_container": container,
            "location": prefix,
            "account_name": query.get("account") or None,
            "account_key": env_secret("PORTAL_AZURE_ACCOUNT_KEY"),
            "connection_string": connection,
            "overwrite_files": False,
        }
        return {"BACKEND": "storages.backends.azure_storage.AzureStorage", "OPTIONS": options}
    raise ConfigurationError(
        f"PORTAL_STORAGE_URL must start with s3:// or azure:// (or be empty); got {url!r}"
    )


def url_with_password(name: str, url: str, password: str | None) -> str:
    """``url`` with ``password`` (read from a secret file) in its user-info part.

    Compose keeps passwords out of the environment that ``docker inspect`` shows: the URL names
    the host and user, the password comes from ``*_PASSWORD_FILE``. A URL that already carries a
    different password is refused: which of the two is meant cannot be guessed. The same one is
    accepted, so a process that hands the merged URL on to its children reads it again unchanged.
    """
    from urllib.parse import quote, unquote, urlsplit, urlunsplit

    if not password:
        return url
    parts = urlsplit(url)
    if parts.password is not None:
        if unquote(parts.password) == password:
            return url
        raise ConfigurationError(
            f"{name} carries a password and a password file is configured too: give one"
        )
    if not parts.hostname:
        raise ConfigurationError(f"{name} names no host to send the password to: {url!r}")
    user, _, host = parts.netloc.rpartition("@")  # the user as written, already URL-escaped
    netloc = f"{user}:{quote(password, safe='')}@{host}"
    return urlunsplit(parts._replace(netloc=netloc))


def cache_from_url(url: str) -> dict[str, object]:
    """The CACHES["default"] entry for ``PORTAL_CACHE_URL``.

    - empty (the embedded default): each process's own memory, as Django does when CACHES is not
      set; rate limits are then counted per process;
    - ``redis://[:password@]host:6379/1`` (or ``rediss://``): one Redis shared by every web
      process on every host, so the API's rate limits hold however many processes answer.
    """
    if not url:
        return {"BACKEND": "django.core.cache.backends.locmem.LocMemCache"}
    if not url.startswith(("redis://", "rediss://")):
        raise ConfigurationError(
            f"PORTAL_CACHE_URL must start with redis:// or rediss:// (or be empty); got {url!r}"
        )
    return {"BACKEND": "django.core.cache.backends.redis.RedisCache", "LOCATION": url}


def split_for_parallel_tests(default_var_dir: Path) -> None:
    """Give each pytest-xdist process (gw0, gw1, …) its own data folder and broker database.

    Under ``pytest -n``, several processes run the suite at once; their real workers must not
    take each other's tasks, nor their sandboxes, brokers' folders and logs meet. The settings
    import in such a process puts its own ``PORTAL_VAR_DIR`` (a sub-folder named after it) and,
    for a Redis broker, database (the base one plus its number) into the environment. The worker,
    gunicorn and other processes a test starts inherit both (or are given their own); they are
    not xdist processes, so they do not split again.
    """
    name = os.environ.get("PYTEST_XDIST_WORKER", "")
    if not name or "xdist" not in sys.modules:
        return
    number = int(name.removeprefix("gw"))
    base = Path(env_str("PORTAL_VAR_DIR", str(default_var_dir)))
    os.environ["PORTAL_VAR_DIR"] = str(base / name)
    broker = os.environ.get("CELERY_BROKER_URL", "")
    if broker.startswith(("redis://", "rediss://")):
        server, _, database = broker.rstrip("/").rpartition("/")
        if not database.isdigit():  # no database in the URL: Redis's 0
            server, database = broker.rstrip("/"), "0"
        os.environ["CELERY_BROKER_URL"] = f"{server}/{int(database) + number}"
