"""The `mlops-portal` command, installed with the package, against a live portal."""

from __future__ import annotations

import json
import stat
import subprocess

import pytest

from apps.accounts import services as accounts
from tests.support.cli import cli_for

pytestmark = pytest.mark.django_db(transaction=True)


@pytest.fixture
def cli(live_server, tmp_path):
    config = tmp_path / "credentials.json"
    command = cli_for(live_server.url, config)

    def run(*args: str, stdin: str = "", check: bool = True) -> subprocess.CompletedProcess[str]:
        result = command(*args, stdin=stdin)
        if check:
            assert result.returncode == 0, result.stderr
        return result

    run.config = config  # type: ignore[attr-defined]
    return run


def test_login_register_push_and_status(people, cli, files, tmp_path):
    login = cli("login", "--username", "alice", "--password-stdin", stdin="pw-alice\n")
    assert "Logged in to" in login.stdout and "as alice" in login.stdout
    assert stat.S_IMODE(cli.config.stat().st_mode) == 0o600
    assert json.loads(cli.config.read_text())["token"].startswith("mlp_")

    registered = cli(
        "register",
        "Mortgage PD",
        "--team",
        "retail-credit",
        "--risk-tier",
        "high",
        "--risk-owner",
        "rita",
        "--use-case",
        "Price mortgages",
        "--tag",
        "credit",
        "--json",
    )
    assert json.loads(registered.stdout)["slug"] == "mortgage-pd"

    artifact, holdout = tmp_path / "model.skops", tmp_path / "holdout.csv"
    artifact.write_bytes(files.skops)
    holdout.write_bytes(files.holdout_csv)
    pushed = cli(
        "push",
        "mortgage-pd",
        str(artifact),
        "--holdout",
        str(holdout),
        "--target",
        "default",
        "--notes",
        "first cut",
    )
    assert "Uploaded mortgage-pd version 1" in pushed.stdout

    status = json.loads(cli("status", "mortgage-pd", "1", "--json").stdout)
    assert status["number"] == 1 and status["notes"] == "first cut"
    assert {f["role"] for f in status["files"]} == {"artifact", "holdout"}
    overview = cli("status", "mortgage-pd").stdout
    assert "Mortgage PD (mortgage-pd), team retail-credit, high risk" in overview
    assert "v1" in overview
    listing = cli("models").stdout
    assert "mortgage-pd" in listing and "v1 validating" in listing


def test_errors_carry_the_portals_message_and_a_non_zero_exit(people, cli, files, tmp_path):
    refused = cli("login", "--username", "alice", "--password-stdin", stdin="wrong\n", check=False)
    assert refused.returncode == 1
    assert "Invalid username or password." in refused.stderr

    not_logged_in = cli("models", check=False)
    assert not_logged_in.returncode == 2 and "Not logged in" in not_logged_in.stderr

    cli("login", "--username", "bob", "--password-stdin", stdin="pw-bob\n")
    missing = cli("status", "no-such-model", check=False)
    assert (
        missing.returncode == 1 and "No model “no-such-model” is visible to you." in missing.stderr
    )

    bad = tmp_path / "model.skops"
    bad.write_bytes(b"not a zip")
    holdout = tmp_path / "h.csv"
    holdout.write_bytes(files.holdout_csv)
    cli(
        "register",
        "Fraud v2",
        "--team",
        "fraud",
        "--risk-tier",
        "low",
        "--risk-owner",
        "rita",
        "--use-case",
        "x",
    )
    pushed = cli(
        "push", "fraud-v2", str(bad), "--holdout", str(holdout), "--target", "default", check=False
    )
    assert pushed.returncode == 1
    assert "does not contain what its extension says" in pushed.stderr

    # The stored token is for the portal it came from: another URL does not get it.
    elsewhere = cli("models", "--url", "http://127.0.0.1:9", check=False)
    assert elsewhere.returncode == 2 and "Not logged in to http://127.0.0.1:9" in elsewhere.stderr
    unreachable = cli("models", "--url", "http://127.0.0.1:9", "--token", "mlp_x", check=False)
    assert unreachable.returncode == 3 and "Cannot reach the portal" in unreachable.stderr


def test_login_with_a_token_from_the_tokens_page_for_single_sign_on(people, cli):
    """People who sign in through the identity provider have no portal password: they make a
    token on the API tokens page and hand it to the CLI."""
    _, raw = accounts.create_token(actor=people.alice, name="laptop")

    wrong = cli("login", "--token-stdin", stdin="mlp_not-a-token\n", check=False)
    assert wrong.returncode == 1 and "Invalid token." in wrong.stderr
    assert not cli.config.exists()

    stored = cli("login", "--token-stdin", stdin=raw + "\n")
    assert "as alice" in stored.stdout
    saved = json.loads(cli.config.read_text())
    assert (saved["token"], saved["username"]) == (raw, "alice")
    assert stat.S_IMODE(cli.config.stat().st_mode) == 0o600
    cli("models")  # the stored token is used: no "Not logged in", exit 0
