"""The typed environment readers fail loudly on bad values."""

from __future__ import annotations

import pytest

from mlops_portal.env import (
    ConfigurationError,
    env_bool,
    env_int,
    env_list,
    env_networks,
    env_secret,
    storage_from_url,
)


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
