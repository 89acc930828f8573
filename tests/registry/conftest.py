"""Real files for registry tests: a trained skops model, CSV and Parquet holdouts."""

from __future__ import annotations

import uuid
from pathlib import Path

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile

from apps.registry import services


def upload(name: str, content: bytes) -> SimpleUploadedFile:
    return SimpleUploadedFile(name, content)


@pytest.fixture
def alices_version(people, alices_model, files):
    return services.upload_version(
        alices_model.pk,
        actor=people.alice,
        artifact=upload("model.skops", files.skops),
        holdout=upload("holdout.csv", files.holdout_csv),
        target_column="default",
        reference=upload("train.csv", files.reference_csv),
        notes="first",
    )


@pytest.fixture(autouse=True)
def media(settings, tmp_path):
    """Each test stores files in its own folder, so "nothing stored" can be checked by looking."""
    settings.MEDIA_ROOT = tmp_path / "media"
    return settings.MEDIA_ROOT


def stored_files(media) -> list[str]:
    return sorted(str(p.relative_to(media)) for p in media.rglob("*") if p.is_file())


def multipart(fields: dict[str, str], files: dict[str, tuple[str, bytes]]) -> tuple[bytes, str]:
    """A multipart body exactly as given: file names are sent verbatim, unlike most clients."""
    boundary = uuid.uuid4().hex
    chunks: list[bytes] = []
    for name, value in fields.items():
        chunks.append(
            f'--{boundary}\r\nContent-Disposition: form-data; name="{name}"\r\n\r\n'
            f"{value}\r\n".encode()
        )
    for name, (filename, content) in files.items():
        chunks.append(
            f'--{boundary}\r\nContent-Disposition: form-data; name="{name}"; '
            f'filename="{filename}"\r\nContent-Type: application/octet-stream\r\n\r\n'.encode(
                "utf-8", "surrogateescape"
            )
            + content
            + b"\r\n"
        )
    chunks.append(f"--{boundary}--\r\n".encode())
    return b"".join(chunks), f"multipart/form-data; boundary={boundary}"


class Body:
    """A multipart request body made only as the server reads it, so that one of 50 GB costs
    nothing. It notes how much the server read and the most bytes the upload temp folder held
    meanwhile, and fails the test if the server reads more than ``cap`` bytes."""

    def __init__(
        self,
        fields: dict[str, str],
        name: str,
        filename: str,
        size: int,
        *,
        temp_dir: Path,
        after: dict[str, tuple[str, bytes]] | None = None,
        declared_part_length: int | None = None,
        cap: int = 64 * 2**20,
    ) -> None:
        head, self.content_type = multipart(fields, {})
        boundary = self.content_type.split("boundary=")[1]
        head = head[: -len(f"--{boundary}--\r\n")]
        part_length = f"Content-Length: {declared_part_length}\r\n" if declared_part_length else ""
        head += (
            f'--{boundary}\r\nContent-Disposition: form-data; name="{name}"; '
            f'filename="{filename}"\r\nContent-Type: application/octet-stream\r\n'
            f"{part_length}\r\n"
        ).encode() + b"PK\x03\x04"  # a zip's first bytes, then zeros
        tail = b"\r\n"
        for field, (file_name, content) in (after or {}).items():
            tail += (
                (
                    f'--{boundary}\r\nContent-Disposition: form-data; name="{field}"; '
                    f'filename="{file_name}"\r\nContent-Type: application/octet-stream\r\n\r\n'
                ).encode()
                + content
                + b"\r\n"
            )
        tail += f"--{boundary}--\r\n".encode()
        self.head, self.zeros, self.tail = head, size - 4, tail
        self.length = len(head) + self.zeros + len(tail)
        self.temp_dir, self.cap = temp_dir, cap
        self.read_bytes = 0
        self.peak_on_disk = 0

    def _slice(self, start: int, size: int) -> bytes:
        end = min(start + size, self.length)
        out = b""
        zeros_end = len(self.head) + self.zeros
        if start < len(self.head):
            out += self.head[start:end]
        if end > len(self.head) and start < zeros_end:
            out += b"\0" * (min(end, zeros_end) - max(start, len(self.head)))
        if end > zeros_end:
            out += self.tail[max(start - zeros_end, 0) : end - zeros_end]
        return out

    def read(self, size: int = -1) -> bytes:
        size = self.length - self.read_bytes if size is None or size < 0 else size
        data = self._slice(self.read_bytes, size)
        self.read_bytes += len(data)
        on_disk = sum(p.stat().st_size for p in self.temp_dir.rglob("*") if p.is_file())
        self.peak_on_disk = max(self.peak_on_disk, on_disk)
        if self.read_bytes > self.cap:
            raise AssertionError(f"the server read {self.read_bytes} bytes of the body")
        return data

    def readline(self, size: int = -1) -> bytes:
        data = self._slice(self.read_bytes, 2**16 if size is None or size < 0 else size)
        return self.read(data.index(b"\n") + 1 if b"\n" in data else len(data))

    def environ(self, *, declared_length: int | None = -1) -> dict[str, str | Body]:
        """What the WSGI server hands Django; ``declared_length`` None sends no Content-Length."""
        environ: dict[str, str | Body] = {"CONTENT_TYPE": self.content_type, "wsgi.input": self}
        if declared_length is not None:
            environ["CONTENT_LENGTH"] = str(self.length if declared_length < 0 else declared_length)
        return environ


@pytest.fixture
def upload_temp(settings, tmp_path):
    """Where Django spools uploads, with every upload spooled to disk (none kept in memory)."""
    settings.FILE_UPLOAD_TEMP_DIR = str(tmp_path / "upload-temp")
    settings.FILE_UPLOAD_MAX_MEMORY_SIZE = 0
    (tmp_path / "upload-temp").mkdir()
    return tmp_path / "upload-temp"


def files_in(folder: Path) -> list[str]:
    return sorted(p.name for p in folder.rglob("*") if p.is_file())


@pytest.fixture
def one_mb_limits(settings):
    """Files of up to 1 MB per role: an upload may then carry 3 MB plus its text fields."""
    settings.PORTAL_MAX_ARTIFACT_BYTES = settings.PORTAL_MAX_DATASET_BYTES = 2**20
