"""Blob storage for uploaded files: keys generated here, SHA-256 recorded, nothing else trusted."""

from __future__ import annotations

import hashlib
import uuid
from dataclasses import dataclass
from typing import IO, TYPE_CHECKING

from django.core.files import File
from django.core.files.storage import default_storage
from django.http import FileResponse

if TYPE_CHECKING:
    from apps.registry.models import StoredFile

CHUNK = 1024 * 1024


@dataclass(frozen=True)
class Blob:
    key: str
    size: int
    sha256: str


def new_key() -> str:
    token = uuid.uuid4().hex
    return f"registry/{token[:2]}/{token}"


def save(stream: IO[bytes]) -> Blob:
    """Store the stream under a fresh key; the key, never the uploader's name, is the path."""
    digest = hashlib.sha256()
    size = 0
    stream.seek(0)
    while chunk := stream.read(CHUNK):
        digest.update(chunk)
        size += len(chunk)
    stream.seek(0)
    key = new_key()
    stored = default_storage.save(key, File(stream))
    if stored != key:  # the storage renamed it: never expected with random keys
        default_storage.delete(stored)
        raise RuntimeError(f"storage refused the generated key {key!r}")
    return Blob(key, size, digest.hexdigest())


def delete(keys: list[str]) -> None:
    for key in keys:
        default_storage.delete(key)


def open_blob(key: str) -> File:
    return default_storage.open(key, "rb")


def copy_to(key: str, target: IO[bytes]) -> str:
    """Copy the blob into ``target``; return the SHA-256 of the very bytes written, taken in the
    same pass (hashing first and copying after would read twice and let the file change between)."""
    digest = hashlib.sha256()
    with open_blob(key) as source:
        while chunk := source.read(CHUNK):
            digest.update(chunk)
            target.write(chunk)
    return digest.hexdigest()


def sha256_of(key: str) -> str:
    digest = hashlib.sha256()
    with open_blob(key) as handle:
        while chunk := handle.read(CHUNK):
            digest.update(chunk)
    return digest.hexdigest()


def file_response(stored: StoredFile) -> FileResponse:
    """A stored file as an attachment the browser will not try to render (HTML page and API)."""
    return attachment(stored.key, stored.download_name, stored.sha256)


def attachment(key: str, filename: str, sha256: str) -> FileResponse:
    """The blob at ``key`` as a download named ``filename``, never rendered by the browser, with
    the digest recorded for it so the receiver can check what arrived."""
    response = FileResponse(
        open_blob(key),
        as_attachment=True,
        filename=filename,
        content_type="application/octet-stream",
    )
    response["X-Content-Type-Options"] = "nosniff"
    response["X-Checksum-SHA256"] = sha256
    return response
