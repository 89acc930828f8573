"""A small client of MLflow's REST API (3.x), made for the portal's outbound rules.

No ``mlflow`` import: the web and worker processes only speak HTTP to the tracking server. Every
request goes through ``apps.core.outbound`` (the SSRF guard, with the webhooks' host allowlist):
the host is resolved and checked once and the request goes to a checked address, TLS is verified
against the name with ``PORTAL_CA_BUNDLE``, redirects are never followed. Answers are read up to a
bound; an artifact is streamed to a file with a size limit and hashed while it arrives.

Artifact paths come from MLflow, which is not trusted for them: they are checked segment by
segment (``safe_artifact_path``) and sent percent-encoded as opaque strings, never joined to a
local path.
"""

from __future__ import annotations

import base64
import contextlib
import hashlib
import json
import re
import time
from dataclasses import dataclass
from typing import IO, Any
from urllib.parse import quote, urlencode, urlsplit

import urllib3
from django.conf import settings
from urllib3.exceptions import (
    ConnectTimeoutError,
    HTTPError,
    NewConnectionError,
    ProtocolError,
    ReadTimeoutError,
    SSLError,
)

from apps.core import outbound
from apps.core.outbound import Target, TargetRefused

USER_AGENT = "MLOps-Portal-MLflow/1.0"
API = "/api/2.0/mlflow"
ARTIFACTS = "/api/2.0/mlflow-artifacts/artifacts"
# A JSON answer of MLflow's (a version, a run with its params and metrics) is small; a server
# answering more than this is refused rather than read into memory.
MAX_JSON_BYTES = 8 * 2**20
CHUNK = 256 * 2**10
TIMEOUT_SECONDS = 30.0

_NAME_VERSION = re.compile(r"^models:/(?P<name>[^/@]+)/(?P<version>[0-9]+)$")
_NAME_ALIAS = re.compile(r"^models:/(?P<name>[^/@]+)@(?P<alias>[A-Za-z0-9_.-]+)$")
_ALIAS = re.compile(r"^@?(?P<alias>[A-Za-z][A-Za-z0-9_.-]{0,255})$")
_SEGMENT = re.compile(r"^[A-Za-z0-9_.=+-]+$")


class MlflowError(Exception):
    """MLflow could not give what the import needs; the message says which and what to do."""


class Unreachable(MlflowError):
    """The server did not answer (connection refused, timeout, 5xx): worth another attempt."""


class Refused(MlflowError):
    """The server refused the connection's credentials (401/403)."""


class NotFound(MlflowError):
    """The server has no such model, version, alias, run or file."""


class TooLarge(MlflowError):
    """An artifact over the portal's upload limit."""


class UnsafePath(MlflowError):
    """An artifact path that could mean something else than a file under the model's folder."""


# --- References and paths (pure) --------------------------------------------------------------


@dataclass(frozen=True)
class Reference:
    """What to import: a version number or an alias of an MLflow registered model."""

    name: str
    version: str = ""
    alias: str = ""

    def __str__(self) -> str:
        return (
            f"models:/{self.name}/{self.version}"
            if self.version
            else f"models:/{self.name}@{self.alias}"
        )


def parse_reference(text: str, *, linked_name: str) -> Reference:
    """``models:/<name>/<n>``, ``models:/<name>@<alias>``, or for the linked model ``7``,
    ``@candidate`` or ``candidate``. A reference naming another model than the linked one is
    refused: the link says which MLflow model feeds this portal model."""
    text = text.strip()
    if not text:
        raise ValueError("Say which MLflow version to import: a number, an alias or models:/…")
    if match := _NAME_VERSION.match(text):
        reference = Reference(match["name"], version=str(int(match["version"])))
    elif match := _NAME_ALIAS.match(text):
        reference = Reference(match["name"], alias=match["alias"])
    elif text.isdigit():
        reference = Reference(linked_name, version=str(int(text)))
    elif match := _ALIAS.match(text):
        reference = Reference(linked_name, alias=match["alias"])
    else:
        raise ValueError(
            f"“{text[:100]}” is not a version reference: write a version number (7), an alias "
            "(@candidate), models:/<name>/<version> or models:/<name>@<alias>."
        )
    if reference.name != linked_name:
        raise ValueError(
            f"This model is linked to the MLflow model “{linked_name}”, not “{reference.name}”."
        )
    if reference.version and int(reference.version) < 1:
        raise ValueError("MLflow versions are numbered from 1.")
    return reference


def safe_artifact_path(path: str) -> str:
    """``path`` (relative, from MLflow) if every segment is a plain name; otherwise UnsafePath.

    Refused: empty, absolute (``/x``, ``C:x``), ``.`` or ``..`` segments, backslashes, percent
    signs (an encoded ``%2e%2e`` or ``%2f`` would be decoded by someone later), query or fragment
    characters, control characters and anything outside a conservative set of characters.
    """
    if not path or len(path) > 1000:
        raise UnsafePath("MLflow named an empty or overlong artifact path.")
    if path.startswith(("/", "\\")) or (len(path) > 1 and path[1] == ":"):
        raise UnsafePath(f"MLflow named an absolute artifact path ({path[:100]!r}); refused.")
    for segment in path.split("/"):
        if segment in ("", ".", ".."):
            raise UnsafePath(
                f"MLflow named an artifact path leading out of its folder ({path[:100]!r}); "
                "refused."
            )
        if not _SEGMENT.match(segment):
            raise UnsafePath(
                f"MLflow named an artifact path with characters the portal does not accept "
                f"({path[:100]!r}); refused."
            )
    return path


def proxied_location(artifact_uri: str) -> str:
    """The path under the server's artifact proxy for an ``mlflow-artifacts:`` URI
    (``mlflow-artifacts:/1/models/m-…/artifacts`` → ``1/models/m-…/artifacts``)."""
    parts = urlsplit(artifact_uri)
    if parts.scheme != "mlflow-artifacts":
        raise MlflowError(
            f"The model's artifacts are at {parts.scheme or 'a local path'}:… , which the portal "
            "does not read directly. Run the MLflow server with its artifact proxy "
            "(mlflow server --serve-artifacts, the default) so artifacts are mlflow-artifacts:/ "
            "URIs."
        )
    if parts.query or parts.fragment:
        raise UnsafePath("MLflow named an artifact location with a query or fragment; refused.")
    return safe_artifact_path(parts.path.lstrip("/"))


def model_path(source: str) -> tuple[str, str]:
    """What a model version's ``source`` points at: ("logged", model id) for MLflow 3's
    ``models:/m-<id>``, ("run", "<run id>/<path>") for ``runs:/<run id>/<path>``, or
    ("proxied", path) for an ``mlflow-artifacts:`` URI."""
    if source.startswith("models:/"):
        model_id = source.removeprefix("models:/")
        if not re.fullmatch(r"m-[0-9a-f]{8,64}", model_id):
            raise MlflowError(f"The version's source {source[:200]!r} is not a logged model.")
        return "logged", model_id
    if source.startswith("runs:/"):
        rest = source.removeprefix("runs:/")
        run_id, _, inner = rest.partition("/")
        if not re.fullmatch(r"[0-9a-f]{8,64}", run_id):
            raise MlflowError(f"The version's source {source[:200]!r} names no run.")
        return "run", f"{run_id}/{safe_artifact_path(inner)}" if inner else run_id
    if source.startswith("mlflow-artifacts:"):
        return "proxied", proxied_location(source)
    raise MlflowError(
        f"The version's source {source[:200]!r} is not one the portal can read through the "
        "MLflow server (models:/m-…, runs:/… or mlflow-artifacts:/…)."
    )


def _quoted(path: str) -> str:
    return "/".join(quote(segment, safe="") for segment in safe_artifact_path(path).split("/"))


# --- The client -------------------------------------------------------------------------------


def _allowlisted(candidates: set[str]) -> bool:
    # The same list of internal hosts as webhooks: one place where an administrator opens the
    # SSRF guard, not a second one to forget.
    from apps.notifications.models import AllowedWebhookHost

    return AllowedWebhookHost.objects.filter(host__in=candidates).exists()


def check_url(url: str) -> Target:
    return outbound.check_target(
        url,
        allowlisted=_allowlisted,
        what="The MLflow tracking URL",
        allow_advice=" under Allowed webhook hosts",
    )


@dataclass(frozen=True)
class Download:
    size: int
    sha256: str


class MlflowClient:
    """Reads from one connection's server. ``credentials`` are used for the Authorization
    header only; nothing here logs or repeats them in a message."""

    def __init__(self, *, name: str, url: str, auth: str, username: str, secret: str) -> None:
        self.name = name
        self.base = url.rstrip("/")
        self._authorization = ""
        if auth == "token" and secret:
            self._authorization = f"Bearer {secret}"
        elif auth == "basic":
            pair = f"{username}:{secret}".encode()
            self._authorization = "Basic " + base64.b64encode(pair).decode("ascii")

    @classmethod
    def for_connection(cls, connection: Any) -> MlflowClient:
        return cls(
            name=connection.name,
            url=connection.tracking_url,
            auth=connection.auth,
            username=connection.username,
            secret=connection.secret,
        )

    def _request(
        self, path: str, *, method: str = "GET", body: bytes | None = None
    ) -> urllib3.BaseHTTPResponse:
        try:
            target = check_url(self.base + path)
        except TargetRefused as refused:
            raise MlflowError(str(refused)) from None
        headers = {
            "Host": target.host_header,
            "User-Agent": USER_AGENT,
            "Accept": "application/json, application/octet-stream",
            "Connection": "close",
        }
        if self._authorization:
            headers["Authorization"] = self._authorization
        if body is not None:
            headers["Content-Type"] = "application/json"
        deadline = time.monotonic() + TIMEOUT_SECONDS
        failure = f"could not connect to {target.host} port {target.port}"
        for address in target.addresses:
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                break
            pool = outbound.connection_pool(
                target, address, urllib3.Timeout(connect=remaining, read=TIMEOUT_SECONDS)
            )
            try:
                response = pool.urlopen(
                    method,
                    target.path,
                    body=body,
                    headers=headers,
                    retries=False,
                    redirect=False,
                    preload_content=False,
                    assert_same_host=False,
                )
            except NewConnectionError as exc:
                cause = exc.__cause__
                failure = f"could not connect ({getattr(cause, 'strerror', None) or cause or exc})"
                continue
            except ConnectTimeoutError:
                failure = "timed out connecting"
                continue
            except ReadTimeoutError:
                raise Unreachable(
                    self._said(f"did not answer within {TIMEOUT_SECONDS:g} s")
                ) from None
            except SSLError as exc:
                raise MlflowError(self._said(f"TLS failed: {exc.__cause__ or exc}")) from None
            except (ProtocolError, HTTPError, OSError) as exc:
                raise Unreachable(self._said(f"the connection broke: {exc}")) from None
            self._check_status(response)
            return response
        raise Unreachable(self._said(failure))

    def _said(self, what: str) -> str:
        return f"The MLflow server “{self.name}” is unreachable: {what}."

    def _check_status(self, response: urllib3.BaseHTTPResponse) -> None:
        status = response.status
        if 200 <= status < 300:
            return
        body = b""
        try:
            body = response.read(4096, decode_content=False)
        except (HTTPError, OSError):
            pass
        finally:
            response.release_conn()
        message = ""
        with contextlib.suppress(ValueError, AttributeError):
            message = str(json.loads(body).get("message", ""))[:300]
        if status in (401, 403):
            raise Refused(
                f"The MLflow server “{self.name}” refused the connection's credentials (HTTP "
                f"{status}). An administrator must check the token or user name and password of "
                "the connection."
            )
        if status == 404:
            raise NotFound(message or "MLflow answered 404 Not Found.")
        if 300 <= status < 400:
            raise MlflowError(
                f"The MLflow server “{self.name}” answered with a redirect (HTTP {status}), which "
                "the portal does not follow: set the connection's URL to the final address."
            )
        if status >= 500 or status == 429:
            raise Unreachable(self._said(f"HTTP {status}" + (f" ({message})" if message else "")))
        raise MlflowError(
            f"The MLflow server “{self.name}” answered HTTP {status}"
            + (f": {message}" if message else ".")
        )

    def get_json(self, endpoint: str, **params: str) -> dict[str, Any]:
        """GET ``/api/2.0/mlflow/<endpoint>`` with query ``params``, as a JSON object."""
        query = f"?{urlencode(params)}" if params else ""
        response = self._request(f"{API}/{endpoint}{query}")
        try:
            body = response.read(MAX_JSON_BYTES + 1)
        except (HTTPError, OSError) as exc:
            raise Unreachable(self._said(f"the answer broke off: {exc}")) from None
        finally:
            response.release_conn()
        if len(body) > MAX_JSON_BYTES:
            raise MlflowError(f"The MLflow server “{self.name}” sent an oversized answer.")
        try:
            document = json.loads(body)
        except ValueError:
            raise MlflowError(
                f"The MLflow server “{self.name}” did not answer with JSON (is the URL the "
                "tracking server's?)."
            ) from None
        if not isinstance(document, dict):
            raise MlflowError(f"The MLflow server “{self.name}” sent an unexpected answer.")
        return document

    def post_json(self, endpoint: str, document: dict[str, Any]) -> None:
        """POST ``document`` to ``/api/2.0/mlflow/<endpoint>`` (a write, such as set-tag); the
        answer is read and dropped."""
        response = self._request(
            f"{API}/{endpoint}", method="POST", body=json.dumps(document).encode()
        )
        try:
            response.read(MAX_JSON_BYTES)
        except (HTTPError, OSError) as exc:
            raise Unreachable(self._said(f"the answer broke off: {exc}")) from None
        finally:
            response.release_conn()

    def read_artifact(self, path: str, *, limit: int) -> bytes:
        """A small artifact (``MLmodel``) read whole, up to ``limit`` bytes."""
        response = self._request(f"{ARTIFACTS}/{_quoted(path)}")
        try:
            body = response.read(limit + 1)
        except (HTTPError, OSError) as exc:
            raise Unreachable(self._said(f"the download broke off: {exc}")) from None
        finally:
            response.release_conn()
        if len(body) > limit:
            raise TooLarge(f"MLflow's {path.rsplit('/', 1)[-1]} is larger than {limit} bytes.")
        return bytes(body)

    def download(
        self, path: str, target: IO[bytes], *, limit: int, what: Limit | None = None
    ) -> Download:
        """Stream an artifact into ``target``, hashing it; TooLarge once past ``limit`` bytes
        (the caller discards ``target``), saying ``what`` was too large (the model's artifact
        unless told). The path is checked before any request is made."""
        what = what or MODEL_ARTIFACT
        response = self._request(f"{ARTIFACTS}/{_quoted(path)}")
        digest = hashlib.sha256()
        size = 0
        try:
            declared = response.headers.get("Content-Length")
            if declared and declared.isdigit() and int(declared) > limit:
                raise TooLarge(what.refusal(int(declared), limit))
            for chunk in response.stream(CHUNK, decode_content=False):
                size += len(chunk)
                if size > limit:
                    raise TooLarge(what.refusal(size, limit, at_least=True))
                digest.update(chunk)
                target.write(chunk)
        except (HTTPError, OSError) as exc:
            raise Unreachable(self._said(f"the download broke off: {exc}")) from None
        finally:
            response.release_conn()
        return Download(size, digest.hexdigest())


@dataclass(frozen=True)
class Limit:
    """What a download is, for the sentence that refuses it when it is too large."""

    subject: str  # "The model's artifact"
    plural: str  # "artifacts"
    setting: str  # "PORTAL_MAX_ARTIFACT_MB"

    def refusal(self, size: int, limit: int, *, at_least: bool = False) -> str:
        more = "more than " if at_least else ""
        return (
            f"{self.subject} is {more}{size / 2**20:,.1f} MB; the portal accepts {self.plural} "
            f"of at most {limit / 2**20:,.0f} MB ({self.setting}). Nothing was stored."
        )


MODEL_ARTIFACT = Limit("The model's artifact", "artifacts", "PORTAL_MAX_ARTIFACT_MB")


def artifact_limit() -> int:
    return int(settings.PORTAL_MAX_ARTIFACT_BYTES)
