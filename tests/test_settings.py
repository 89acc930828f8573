"""The typed environment readers fail loudly on bad values."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from mlops_portal.env import (
    ConfigurationError,
    cache_from_url,
    env_bool,
    env_int,
    env_list,
    env_networks,
    env_secret,
    storage_from_url,
    url_with_password,
)

BASE_DIR = Path(__file__).resolve().parent.parent


def test_env_bool_accepts_the_usual_spellings_and_refuses_others(monkeypatch):
    for raw, expected in [("1", True), ("yes", True), ("On", True), ("0", False), ("false", False)]:
        monkeypatch.setenv("FLAG", raw)
        assert env_bool("FLAG", not expected) is expected
    monkeypatch.setenv("FLAG", "maybe")
    with pytest.raises(ConfigurationError, match="FLAG must be one of"):
        env_bool("FLAG", False)


def test_env_int_checks_type_and_minimum(monkeypatch):
    monkeypatch.setenv("N", "12")
    assert env_int("N", 1) == 12
    monkeypatch.setenv("N", "twelve")
    with pytest.raises(ConfigurationError, match="N must be an integer"):
        env_int("N", 1)
    monkeypatch.setenv("N", "0")
    with pytest.raises(ConfigurationError, match="at least 1"):
        env_int("N", 5, minimum=1)


def test_env_list_and_secret_files(monkeypatch, tmp_path):
    monkeypatch.setenv("HOSTS", "a.example, b.example,,")
    assert env_list("HOSTS", []) == ["a.example", "b.example"]
    secret = tmp_path / "key"
    secret.write_text("s3cret\n")
    monkeypatch.setenv("TOKEN_FILE", str(secret))
    assert env_secret("TOKEN") == "s3cret"
    monkeypatch.setenv("TOKEN_FILE", str(tmp_path / "missing"))
    with pytest.raises(ConfigurationError, match="cannot be read"):
        env_secret("TOKEN")


def test_env_networks_reads_addresses_and_networks_and_refuses_typos(monkeypatch):
    monkeypatch.setenv("PROXIES", "10.0.0.2, 172.16.0.0/12, 2001:db8::/32")
    assert env_networks("PROXIES") == ["10.0.0.2/32", "172.16.0.0/12", "2001:db8::/32"]
    monkeypatch.delenv("PROXIES")
    assert env_networks("PROXIES") == []
    for typo in ("10.0.0.300", "proxy.internal", "10.0.0.5/8"):
        monkeypatch.setenv("PROXIES", typo)
        with pytest.raises(ConfigurationError, match=f"PROXIES must list IP addresses.*{typo}"):
            env_networks("PROXIES")


def test_storage_url_names_the_store_and_refuses_typos(monkeypatch, tmp_path):
    assert storage_from_url("") == {"BACKEND": "django.core.files.storage.FileSystemStorage"}
    key_file = tmp_path / "secret"
    key_file.write_text("s3-secret\n")
    monkeypatch.setenv("PORTAL_S3_ACCESS_KEY_ID", "portal")
    monkeypatch.setenv("PORTAL_S3_SECRET_ACCESS_KEY_FILE", str(key_file))
    s3 = storage_from_url("s3://models/prod?endpoint=https://s3.bank.example&region=eu-west-1")
    assert s3["BACKEND"] == "storages.backends.s3.S3Storage"
    options = s3["OPTIONS"]
    assert isinstance(options, dict)
    assert options["bucket_name"] == "models" and options["location"] == "prod"
    assert options["endpoint_url"] == "https://s3.bank.example"
    assert options["secret_key"] == "s3-secret" and options["file_overwrite"] is False
    azure = storage_from_url("azure://artifacts?account=bankstore")
    assert azure["BACKEND"] == "storages.backends.azure_storage.AzureStorage"
    for wrong in (
        "gcs://bucket",
        "s3://",
        "s3://b?endpont=http://x",
        "azure://artifacts",
        "/var/lib/portal",
    ):
        with pytest.raises(ConfigurationError):
            storage_from_url(wrong)


def test_a_password_from_a_file_goes_into_the_url_escaped(monkeypatch):
    url = url_with_password("DATABASE_URL", "postgresql://portal@db:5432/portal", "p@ss:w/rd%")
    assert url == "postgresql://portal:p%40ss%3Aw%2Frd%25@db:5432/portal"
    assert (
        url_with_password("B", "redis://redis:6379/0", "s3cret") == "redis://:s3cret@redis:6379/0"
    )
    assert url_with_password("B", "redis://redis:6379/0", None) == "redis://redis:6379/0"
    # A child process reads the merged URL again, with the same file: nothing changes.
    assert url_with_password("DATABASE_URL", url, "p@ss:w/rd%") == url


def test_a_url_with_another_password_than_the_file_is_refused():
    with pytest.raises(ConfigurationError, match="DATABASE_URL carries a password") as refused:
        url_with_password("DATABASE_URL", "postgresql://portal:old@db/portal", "new")
    assert "old" not in str(refused.value) and "new" not in str(refused.value)
    with pytest.raises(ConfigurationError, match="CELERY_BROKER_URL names no host"):
        url_with_password("CELERY_BROKER_URL", "redis:///0", "s3cret")


def test_the_cache_url_names_redis_or_keeps_each_process_its_own_memory():
    assert cache_from_url("") == {"BACKEND": "django.core.cache.backends.locmem.LocMemCache"}
    assert cache_from_url("redis://:pw@redis:6379/1") == {
        "BACKEND": "django.core.cache.backends.redis.RedisCache",
        "LOCATION": "redis://:pw@redis:6379/1",
    }
    for wrong in ("memcached://cache:11211", "redis", "/var/cache"):
        with pytest.raises(ConfigurationError, match="PORTAL_CACHE_URL must start with redis://"):
            cache_from_url(wrong)


_SHOW_SETTINGS = """
import json, os
import django
django.setup()
from django.conf import settings
from mlops_portal.celery import app
print(json.dumps({
    "database": settings.DATABASES["default"],
    "broker": settings.CELERY_BROKER_URL,
    "broker_celery_uses": app.conf.broker_url,
    "broker_environment": os.environ.get("CELERY_BROKER_URL"),
    "cache": settings.CACHES["default"],
}, default=str))
"""


def _settings_under(env: dict[str, str], tmp_path: Path) -> dict[str, object]:
    """The settings a process started with ``env`` (and nothing of this one's) reads."""
    inherited = {
        name: value
        for name, value in os.environ.items()
        if not name.startswith(("PORTAL_", "DATABASE_", "CELERY_", "REDIS_"))
    }
    result = subprocess.run(
        [sys.executable, "-c", _SHOW_SETTINGS],
        cwd=BASE_DIR,
        env={
            **inherited,
            "DJANGO_SETTINGS_MODULE": "mlops_portal.settings",
            "PORTAL_VAR_DIR": str(tmp_path / "var"),
            **env,
        },
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert result.returncode == 0, result.stderr[-3000:]
    return json.loads(result.stdout.strip().splitlines()[-1])


def test_compose_style_settings_read_the_database_and_redis_passwords_from_files(tmp_path):
    (tmp_path / "postgres_password").write_text("pg p@ss\n")
    (tmp_path / "redis_password").write_text("redis/secret\n")
    seen = _settings_under(
        {
            "DATABASE_URL": "postgresql://portal@postgres:5432/portal",
            "DATABASE_PASSWORD_FILE": str(tmp_path / "postgres_password"),
            "CELERY_BROKER_URL": "redis://redis:6379/0",
            "PORTAL_CACHE_URL": "redis://redis:6379/1",
            "REDIS_PASSWORD_FILE": str(tmp_path / "redis_password"),
        },
        tmp_path,
    )
    database = seen["database"]
    assert isinstance(database, dict)
    assert (database["HOST"], database["USER"], database["PASSWORD"]) == (
        "postgres",
        "portal",
        "pg p@ss",
    )
    with_password = "redis://:redis%2Fsecret@redis:6379/0"
    # Celery prefers the environment variable to its configuration: both carry the password.
    assert seen["broker"] == seen["broker_celery_uses"] == seen["broker_environment"]
    assert seen["broker"] == with_password
    assert seen["cache"] == {
        "BACKEND": "django.core.cache.backends.redis.RedisCache",
        "LOCATION": "redis://:redis%2Fsecret@redis:6379/1",
    }


def test_without_those_settings_the_embedded_defaults_stay(tmp_path):
    seen = _settings_under({}, tmp_path)
    database = seen["database"]
    assert isinstance(database, dict)
    assert database["ENGINE"] == "django.db.backends.sqlite3"
    assert seen["broker"] == seen["broker_celery_uses"] == "filesystem://"
    assert seen["broker_environment"] is None
    assert seen["cache"] == {"BACKEND": "django.core.cache.backends.locmem.LocMemCache"}


def test_a_password_file_and_a_different_password_in_the_url_stop_the_start(tmp_path):
    (tmp_path / "redis_password").write_text("from-the-file\n")
    inherited = {k: v for k, v in os.environ.items() if not k.startswith(("PORTAL_", "CELERY_"))}
    result = subprocess.run(
        [sys.executable, "manage.py", "check"],
        cwd=BASE_DIR,
        env={
            **inherited,
            "PORTAL_VAR_DIR": str(tmp_path / "var"),
            "CELERY_BROKER_URL": "redis://:in-the-url@redis:6379/0",
            "REDIS_PASSWORD_FILE": str(tmp_path / "redis_password"),
        },
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert result.returncode != 0
    assert "CELERY_BROKER_URL carries a password and a password file" in result.stderr
