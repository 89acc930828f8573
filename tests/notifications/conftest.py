"""A real webhook receiver on 127.0.0.1 and the webhook and allowlist entry that point at it."""

from __future__ import annotations

import shutil
import ssl
import subprocess
import threading
import time
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest

from apps.notifications import services, webhooks
from apps.notifications.models import AllowedWebhookHost, Webhook
from tests.support.worker import WorkerProcess


@dataclass(frozen=True)
class Answer:
    """What the receiver answers to one request."""

    status: int = 200
    headers: dict[str, str] = field(default_factory=dict)
    body: bytes = b"ok"
    delay: float = 0.0


@dataclass(frozen=True)
class Received:
    """One request as the receiver saw it."""

    path: str
    headers: dict[str, str]  # lower-case names
    body: bytes
    signature_ok: bool  # checked with the receiver's secret, as a real receiver would


class _Server(ThreadingHTTPServer):
    daemon_threads = True
    block_on_close = False

    def handle_error(self, request, client_address) -> None:  # type: ignore[no-untyped-def]
        """A client that gave up (a timeout test) is expected; keep the test output clean."""


class Receiver:
    """An HTTP(S) server in a thread that records each request and answers from a script.

    ``answers`` are used in order; the last one repeats. ``secret`` is the webhook's secret,
    with which each request's signature is verified.
    """

    def __init__(self, tls: ssl.SSLContext | None = None) -> None:
        self.requests: list[Received] = []
        self.answers: list[Answer] = [Answer()]
        self.secret = ""
        self._lock = threading.Lock()
        self.server = _Server(("127.0.0.1", 0), self._handler())
        if tls is not None:
            self.server.socket = tls.wrap_socket(self.server.socket, server_side=True)
        self.port = self.server.server_address[1]
        self.scheme = "https" if tls is not None else "http"
        self._thread = threading.Thread(target=self.server.serve_forever, daemon=True)

    def url(self, path: str = "/hook") -> str:
        return f"{self.scheme}://127.0.0.1:{self.port}{path}"

    def answer(self, *answers: Answer | int) -> None:
        self.answers = [a if isinstance(a, Answer) else Answer(status=a) for a in answers]

    def _next_answer(self) -> Answer:
        with self._lock:
            return self.answers.pop(0) if len(self.answers) > 1 else self.answers[0]

    def _record(self, received: Received) -> None:
        with self._lock:
            self.requests.append(received)

    def _handler(self) -> type[BaseHTTPRequestHandler]:
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
                headers = {name.lower(): value for name, value in self.headers.items()}
                signature_ok = webhooks.verify(
                    receiver.secret,
                    headers.get("x-portal-timestamp", ""),
                    body,
                    headers.get("x-portal-signature", ""),
                    max_age_seconds=300,
                )
                receiver._record(Received(self.path, headers, body, signature_ok))
                answer = receiver._next_answer()
                time.sleep(answer.delay)
                self.send_response(answer.status)
                for name, value in answer.headers.items():
                    self.send_header(name, value)
                self.send_header("Content-Length", str(len(answer.body)))
                self.end_headers()
                self.wfile.write(answer.body)

            def log_message(self, format: str, *args: object) -> None:
                pass

        return Handler

    def start(self) -> Receiver:
        self._thread.start()
        return self

    def stop(self) -> None:
        self.server.shutdown()
        self.server.server_close()
        self._thread.join(timeout=5)


@pytest.fixture
def receiver():  # type: ignore[no-untyped-def]
    server = Receiver().start()
    yield server
    server.stop()


@pytest.fixture
def tls_receiver(tmp_path: Path):  # type: ignore[no-untyped-def]
    """An HTTPS receiver whose certificate (self-signed, for 127.0.0.1) nobody trusts."""
    openssl = shutil.which("openssl")
    if openssl is None:
        pytest.skip("needs the openssl command to make a certificate")
    cert, key = tmp_path / "cert.pem", tmp_path / "key.pem"
    subprocess.run(
        [openssl, "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "1",
         "-keyout", str(key), "-out", str(cert), "-subj", "/CN=127.0.0.1",
         "-addext", "subjectAltName=IP:127.0.0.1"],
        check=True, capture_output=True,
    )  # fmt: skip
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.load_cert_chain(cert, key)
    server = Receiver(tls=context).start()
    yield server
    server.stop()


@pytest.fixture
def hook(people, receiver: Receiver) -> Webhook:  # type: ignore[no-untyped-def]
    """A webhook at the receiver, saved by the admin through the service.

    Saving checks the target, so the receiver's loopback address is allowed while the webhook is
    saved, and the allowance withdrawn again unless the test asked for ``loopback_allowed``: an
    administrator taking an internal host off the list later is exactly when deliveries must be
    refused.
    """
    existing = AllowedWebhookHost.objects.filter(host="127.0.0.1").first()
    entry = existing or services.allow_host(people.admin, "127.0.0.1", "while saving")
    saved = services.save_webhook(
        people.admin,
        Webhook(name="CI hook", url=receiver.url(), events=["review.requested"]),
    )
    if existing is None:
        services.disallow_host(people.admin, entry)
    receiver.secret = saved.secret
    return saved


@pytest.fixture
def loopback_allowed(people) -> AllowedWebhookHost:  # type: ignore[no-untyped-def]
    return services.allow_host(people.admin, "127.0.0.1", "the test receiver")


@pytest.fixture
def fast_retry_worker(transactional_db: None, monkeypatch: pytest.MonkeyPatch):  # type: ignore[no-untyped-def]
    """A real worker whose webhook retries wait about a second instead of ten."""
    monkeypatch.setenv("PORTAL_WEBHOOK_BACKOFF_SECONDS", "1")
    process = WorkerProcess().start()
    yield process
    process.stop()
