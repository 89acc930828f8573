"""A real OpenID Connect provider in its own process, for the portal's single sign-on tests.

``OidcProvider`` runs ``tests/support/oidc_provider`` (a small Django project on
django-oauth-toolkit, not part of the portal) under gunicorn on a free loopback port, with its
own SQLite database in a temporary folder. It is what the portal signs in against: discovery,
JWKS (RS256, a key made at start), a login page ("Sign in to Test IdP"), the authorization
endpoint with PKCE required, the token endpoint (authorization code and refresh token), userinfo
and RP-initiated logout (``end_session_endpoint``), all django-oauth-toolkit's own code.

One confidential client is registered at start: ``client_id``/``client_secret`` (random unless
given), ``redirect_uri`` and optionally ``post_logout_redirect_uri``, consent skipped, RS256.

ID token claims (and userinfo): ``sub`` (the provider's user id, a string), ``preferred_username``,
``given_name``, ``family_name`` (scope ``profile``), ``email`` (scope ``email``) and ``groups``,
the person's group names sorted, which comes with scope ``openid``: a client asking for
"openid profile email" gets every claim.

How the test changes the running provider:

- people and groups (``add_user``, ``set_groups``, ``disable_user``) through a control endpoint
  of the provider, ``POST /control/<action>``, guarded by a random bearer token that only this
  object and the provider process know (it is passed in the process's environment); each call
  is one transaction in the provider's database and acts at once;
- forged tokens (``set_fault``) through a file in the provider's folder, read at every token
  request: the token endpoint then returns an ID token with that one defect (see
  ``tests/support/oidc_provider/faults.py``); ``set_fault(None)`` returns to correct tokens.

Use it as a context manager (or ``start_oidc_provider(...)`` and ``stop()``); the provider
process is stopped by its PID and the folder removed on exit, also when start-up fails.
"""

from __future__ import annotations

import contextlib
import os
import secrets
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import Any

import requests
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa

from tests.support.oidc_provider.faults import FAULTS, Fault, write_fault
from tests.support.services import free_port

__all__ = ["FAULTS", "Fault", "OidcProvider", "start_oidc_provider"]

BASE_DIR = Path(__file__).resolve().parents[2]
SETTINGS_MODULE = "tests.support.oidc_provider.settings"

# The test process's own configuration must not leak into the provider's.
_NOT_PASSED_ON = ("PORTAL_", "DJANGO_", "CELERY_", "DATABASE_URL", "GUNICORN_")


class OidcProvider:
    """A django-oauth-toolkit OpenID Connect provider under gunicorn, for one test module."""

    def __init__(
        self,
        redirect_uri: str,
        *,
        client_id: str = "mlops-portal",
        client_secret: str | None = None,
        post_logout_redirect_uri: str | None = None,
        threads: int = 4,
        start_timeout: float = 60,
    ) -> None:
        self.redirect_uri = redirect_uri
        self.client_id = client_id
        self.client_secret = client_secret or secrets.token_urlsafe(32)
        self.post_logout_redirect_uri = post_logout_redirect_uri
        self.threads = threads
        self.start_timeout = start_timeout
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.issuer = f"{self.url}/o"
        self.discovery_url = f"{self.issuer}/.well-known/openid-configuration"
        self.authorization_endpoint = f"{self.issuer}/authorize/"
        self.token_endpoint = f"{self.issuer}/token/"
        self.userinfo_endpoint = f"{self.issuer}/userinfo/"
        self.jwks_uri = f"{self.issuer}/.well-known/jwks.json"
        self.end_session_endpoint = f"{self.issuer}/logout/"
        self.login_url = f"{self.url}/accounts/login/"
        self._control_token = secrets.token_urlsafe(32)
        self.folder: Path | None = None
        self.process: subprocess.Popen[bytes] | None = None

    # -- life cycle -------------------------------------------------------------------------

    def start(self) -> OidcProvider:
        """Start the provider and wait until discovery answers and the client is registered."""
        if self.process is not None:
            return self
        try:
            self._start()
        except Exception as error:
            log = self.output()
            self.stop()
            if isinstance(error, RuntimeError):
                raise  # its message has the log already
            raise RuntimeError(f"the OIDC provider did not start: {error!r}\n{log}") from error
        except BaseException:
            self.stop()
            raise
        return self

    def _start(self) -> None:
        self.folder = Path(tempfile.mkdtemp(prefix="oidc-provider-"))
        key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
        pem = key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
        key_path = self.folder / "signing-key.pem"
        key_path.touch(mode=0o600)
        key_path.write_bytes(pem)
        write_fault(self.folder, None)
        env = {k: v for k, v in os.environ.items() if not k.startswith(_NOT_PASSED_ON)}
        env.update(
            DJANGO_SETTINGS_MODULE=SETTINGS_MODULE,
            OIDC_IDP_DIR=str(self.folder),
            OIDC_IDP_ISSUER=self.issuer,
            OIDC_IDP_SECRET_KEY=secrets.token_urlsafe(50),
            OIDC_IDP_CONTROL_TOKEN=self._control_token,
        )
        with self.log_path.open("wb") as log:
            self.process = subprocess.Popen(
                [
                    sys.executable,
                    "-m",
                    "gunicorn",
                    "tests.support.oidc_provider.wsgi:application",
                    "--bind",
                    f"127.0.0.1:{self.port}",
                    "--workers",
                    "1",  # one process: it migrates the database once, before serving
                    "--threads",
                    str(self.threads),
                    "--timeout",
                    "120",
                    "--graceful-timeout",
                    "5",
                    # gunicorn's default control socket is one path per user, shared with every
                    # other gunicorn the tests start: this one does without.
                    "--no-control-socket",
                    "--access-logfile",
                    "-",
                ],
                cwd=BASE_DIR,
                env=env,
                stdout=log,
                stderr=subprocess.STDOUT,
                start_new_session=True,
            )
        self._wait_for_discovery()
        self._control(
            "client",
            {
                "client_id": self.client_id,
                "client_secret": self.client_secret,
                "redirect_uris": [self.redirect_uri],
                "post_logout_redirect_uris": (
                    [self.post_logout_redirect_uri] if self.post_logout_redirect_uri else []
                ),
            },
        )

    def _wait_for_discovery(self) -> None:
        assert self.process is not None
        deadline = time.monotonic() + self.start_timeout
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError(f"the OIDC provider exited at start-up:\n{self.output()}")
            with contextlib.suppress(requests.ConnectionError, requests.Timeout):
                if requests.get(self.discovery_url, timeout=5).status_code == 200:
                    return
            time.sleep(0.1)
        raise RuntimeError(
            f"the OIDC provider did not answer {self.discovery_url} in {self.start_timeout} s:\n"
            f"{self.output()}"
        )

    def stop(self) -> None:
        """SIGTERM to the gunicorn master we started (SIGKILL to its group if it lingers);
        then remove the provider's folder."""
        process = self.process
        if process is not None and process.poll() is None:
            os.kill(process.pid, signal.SIGTERM)
            try:
                process.wait(timeout=20)
            except subprocess.TimeoutExpired:
                with contextlib.suppress(ProcessLookupError):
                    os.killpg(process.pid, signal.SIGKILL)
                process.wait(timeout=10)
        self.process = None
        if self.folder is not None:
            shutil.rmtree(self.folder, ignore_errors=True)
            self.folder = None

    def __enter__(self) -> OidcProvider:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    @property
    def log_path(self) -> Path:
        assert self.folder is not None, "the provider is not started"
        return self.folder / "provider.log"

    def output(self) -> str:
        """The end of the provider's log (gunicorn, access log, server errors)."""
        if self.folder is None or not self.log_path.exists():
            return ""
        return self.log_path.read_text(errors="replace")[-5000:]

    # -- changing the running provider -----------------------------------------------------------

    def add_user(
        self,
        username: str,
        password: str,
        *,
        groups: Iterable[str] = (),
        email: str = "",
        first_name: str = "",
        last_name: str = "",
    ) -> str:
        """Create (or replace, and make active again) a person; returns their ``sub``."""
        answer = self._control(
            "user",
            {
                "username": username,
                "password": password,
                "groups": list(groups),
                "email": email,
                "first_name": first_name,
                "last_name": last_name,
            },
        )
        return str(answer["sub"])

    def set_groups(self, username: str, groups: Iterable[str]) -> None:
        """Make the person's groups exactly these (missing groups are created)."""
        self._control("groups", {"username": username, "groups": list(groups)})

    def disable_user(self, username: str) -> None:
        """The leaver process: the person becomes inactive (cannot sign in; an open provider
        session no longer counts) and all their access and refresh tokens, ID tokens and
        authorization codes are revoked, so refresh-token grants and userinfo are refused."""
        self._control("disable", {"username": username})

    def set_fault(self, kind: Fault | None) -> None:
        """From the next token request on, ID tokens carry this defect (None: correct again)."""
        assert self.folder is not None, "the provider is not started"
        write_fault(self.folder, kind)

    @contextlib.contextmanager
    def fault(self, kind: Fault) -> Iterator[None]:
        """``with provider.fault("expired"): ...`` and correct tokens again afterwards."""
        self.set_fault(kind)
        try:
            yield
        finally:
            self.set_fault(None)

    def _control(self, action: str, data: dict[str, Any]) -> dict[str, Any]:
        response = requests.post(
            f"{self.url}/control/{action}",
            json=data,
            headers={"Authorization": f"Bearer {self._control_token}"},
            timeout=30,
        )
        if response.status_code == 404 and action != "client":
            raise LookupError(response.json().get("error", response.text))
        if response.status_code != 200:
            raise RuntimeError(
                f"the OIDC provider refused {action}: {response.status_code} {response.text}\n"
                f"{self.output()}"
            )
        result: dict[str, Any] = response.json()
        return result


def start_oidc_provider(redirect_uri: str, **options: Any) -> OidcProvider:
    """A started provider (see ``OidcProvider`` for the options); call ``stop()`` when done,
    or use it in a ``with`` block, which stops it on exit."""
    return OidcProvider(redirect_uri, **options).start()
