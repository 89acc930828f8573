"""Checks of uploaded files, before anything is stored.

Artifacts are recognised by their first bytes only: nothing inside an artifact is read or
deserialised outside the validation sandbox. Data sets (CSV or Parquet) are data, not code, so they
are parsed here to refuse what validation could not use: a missing target column, an unreadable
file, no rows.

Sizes are enforced while the body arrives, by ``UploadLimitHandler`` (first in
``FILE_UPLOAD_HANDLERS``): a body longer than any upload may be is refused before a file is read,
and a file is cut off once it passes its role's limit, before Django spools the rest to disk.
"""

from __future__ import annotations

import csv
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import PurePosixPath
from typing import IO, Any

from django.conf import settings
from django.core.files.uploadhandler import FileUploadHandler, StopUpload

ARTIFACT_EXTENSIONS = {".skops": "skops", ".joblib": "joblib", ".pkl": "pickle"}
DATASET_EXTENSIONS = {".csv": "csv", ".parquet": "parquet", ".pq": "parquet"}

_SAMPLE = 64 * 1024
# Room in a request for the text fields (release notes included) and the multipart headers.
FORM_ALLOWANCE = 2**20
# CSV text parsed at a time: the web process holds a small multiple of it, whatever the file.
_CSV_CHUNK_BYTES = 8 * 2**20
_ZIP = b"PK\x03\x04"
_PARQUET = b"PAR1"
# joblib writes a raw pickle, or one wrapped by a compressor.
_COMPRESSED = (
    b"\x1f\x8b",
    b"BZh",
    b"\xfd7zXZ\x00",
    b"\x78\x01",
    b"\x78\x5e",
    b"\x78\x9c",
    b"\x78\xda",
    b"\x04\x22\x4d\x18",
)


class UploadRefused(ValueError):
    """An upload the portal will not store; ``message`` tells the uploader what to do."""

    def __init__(self, field: str, message: str, *, status: int = 400) -> None:
        super().__init__(message)
        self.field = field
        self.message = message
        self.status = status


def _extension(name: str) -> str:
    return PurePosixPath(name.lower()).suffix


def _looks_like_pickle(head: bytes) -> bool:
    # Protocol 2 and later start with PROTO (0x80) and the protocol number.
    return len(head) >= 2 and head[0] == 0x80 and 2 <= head[1] <= 5


def _mb(size: int, decimals: int = 0) -> str:
    return f"{size / 2**20:,.{decimals}f} MB"


def file_limit(field_name: str) -> int:
    """The largest file accepted in a field: the artifact's limit, or that of the data sets."""
    if field_name == "artifact":
        return int(settings.PORTAL_MAX_ARTIFACT_BYTES)
    return int(settings.PORTAL_MAX_DATASET_BYTES)


def max_request_bytes() -> int:
    """The longest body an upload may have: every file at its role's limit, and the fields."""
    return file_limit("artifact") + 2 * file_limit("holdout") + FORM_ALLOWANCE


def check_request_size(content_length: int) -> None:
    """Refuse, from its declared length alone, a body longer than any upload may be."""
    if content_length > max_request_bytes():
        raise UploadRefused(
            "non_field_errors",
            f"The upload is {_mb(content_length, 1)}; an upload may carry at most "
            f"{_mb(max_request_bytes())} (the artifact up to {_mb(file_limit('artifact'))}, "
            f"the holdout and the reference sample up to {_mb(file_limit('holdout'))} each). "
            "Nothing was stored.",
            status=413,
        )


def check_size(field_name: str, size: int, limit: int) -> None:
    if size == 0:
        raise UploadRefused(field_name, "The file is empty.")
    if size > limit:
        raise UploadRefused(
            field_name, f"The file is {_mb(size, 1)}; the limit is {_mb(limit)}.", status=413
        )


class UploadLimitHandler(FileUploadHandler):
    """Counts each file's bytes as they arrive and stops the upload when one passes its role's
    limit, before the handlers after this one (memory, then a temporary file) receive them.

    Neither the body's Content-Length nor a part's own is trusted for the count. A declared
    body longer than ``max_request_bytes`` is refused at the first file: the text fields before
    it (the CSRF token first) are still read, so that the form answers with its message rather
    than a CSRF failure, and nothing after it is. The view asks ``refusal()`` what happened.
    """

    refused: UploadRefused | None = None

    def handle_raw_input(
        self,
        input_data: IO[bytes],
        META: dict[str, str],
        content_length: int,
        boundary: str,
        encoding: str | None = None,
    ) -> None:
        try:
            check_request_size(content_length)
        except UploadRefused as refused:
            self.refused = refused

    def new_file(self, field_name: str, file_name: str, *args: Any, **kwargs: Any) -> None:
        super().new_file(field_name, file_name, *args, **kwargs)
        if self.refused is not None:
            raise StopUpload(connection_reset=True)  # read none of a 50 GB body
        self.limit = file_limit(field_name)

    def receive_data_chunk(self, raw_data: bytes, start: int) -> bytes | None:
        if start + len(raw_data) > self.limit:
            self.refused = UploadRefused(
                self.field_name,
                f"“{self.file_name}” is larger than the {self.field_name} limit of "
                f"{_mb(self.limit)}; nothing was stored.",
                status=413,
            )
            # The rest of the body is read and dropped so that the client hears the answer;
            # it is no longer than max_request_bytes, or handle_raw_input refused it.
            raise StopUpload(connection_reset=False)
        return raw_data

    def file_complete(self, file_size: int) -> None:
        return None  # the handlers after this one keep the file


def refusal(upload_handlers: Iterable[object]) -> UploadRefused | None:
    """Why ``UploadLimitHandler`` stopped this request's upload, if it did."""
    for handler in upload_handlers:
        if isinstance(handler, UploadLimitHandler) and handler.refused is not None:
            return handler.refused
    return None


def artifact_format(name: str, head: bytes, *, pickle_allowed: bool) -> str:
    """The artifact's format from its extension, confirmed by its first bytes."""
    extension = _extension(name)
    fmt = ARTIFACT_EXTENSIONS.get(extension)
    allowed = ".skops, .joblib or .pkl" if pickle_allowed else ".skops"
    if fmt is None:
        raise UploadRefused("artifact", f"The artifact must be a {allowed} file, not “{name}”.")
    if fmt != "skops" and not pickle_allowed:
        raise UploadRefused(
            "artifact",
            f"{extension} artifacts are refused for this model: opening a pickle can run any code "
            "it contains. Save the model with skops.io.dump() as .skops, or ask an administrator "
            "to allow pickle formats for this model.",
        )
    matches = {
        "skops": head.startswith(_ZIP),
        "pickle": _looks_like_pickle(head),
        "joblib": _looks_like_pickle(head) or head.startswith(_COMPRESSED),
    }[fmt]
    if not matches:
        expected = {
            "skops": "a .skops file is a zip archive",
            "pickle": "a .pkl file starts with a pickle header",
            "joblib": "a .joblib file is a pickle, possibly compressed",
        }[fmt]
        raise UploadRefused(
            "artifact", f"“{name}” does not contain what its extension says ({expected})."
        )
    return fmt


# schema.json is read whole to list the members it refers to; real ones are a few hundred KB.
_SKOPS_SCHEMA_BYTES = 32 * 2**20


def check_skops_archive(name: str, stream: IO[bytes]) -> None:
    """Refuse a .skops archive whose directory could harm whoever unpacks it, or that carries
    more than the model: a member named outside the archive (``../x``, ``/etc/x``, ``C:\\x``),
    a name twice, more members than ``PORTAL_SKOPS_MAX_MEMBERS``, or a member that the archive's
    own ``schema.json`` does not refer to. Only the directory and schema.json, which are data,
    are read; nothing is deserialised here."""
    import json
    import zipfile

    stream.seek(0)
    try:
        with zipfile.ZipFile(stream) as archive:
            members = archive.infolist()
            limit = settings.PORTAL_SKOPS_MAX_MEMBERS
            if len(members) > limit:
                raise UploadRefused(
                    "artifact",
                    f"“{name}” holds {len(members)} files; at most {limit} are accepted.",
                )
            names = [member.filename for member in members]
            for member_name in names:
                if reason := _unsafe_member_name(member_name):
                    raise UploadRefused(
                        "artifact", f"“{name}” holds a file named {member_name!r}, {reason}."
                    )
            if len(set(names)) != len(names):
                raise UploadRefused("artifact", f"“{name}” holds two files of the same name.")
            if "schema.json" not in names:
                raise UploadRefused(
                    "artifact", f"“{name}” has no schema.json: it was not written by skops.io.dump."
                )
            schema = archive.getinfo("schema.json")
            if schema.file_size > _SKOPS_SCHEMA_BYTES:
                raise UploadRefused("artifact", f"The schema.json of “{name}” is too large.")
            schema_text = archive.read(schema)
    except (zipfile.BadZipFile, zipfile.LargeZipFile, OSError, EOFError) as exc:
        raise UploadRefused("artifact", f"“{name}” is not a readable zip archive: {exc}") from None
    finally:
        stream.seek(0)
    try:
        referred = _files_named(json.loads(schema_text))
    except (json.JSONDecodeError, UnicodeDecodeError, RecursionError):
        raise UploadRefused("artifact", f"The schema.json of “{name}” is not valid JSON.") from None
    extra = sorted(set(names) - referred - {"schema.json"})
    if extra:
        shown = ", ".join(extra[:5]) + (f" and {len(extra) - 5} more" if len(extra) > 5 else "")
        raise UploadRefused(
            "artifact",
            f"“{name}” holds files its schema.json does not use ({shown}); upload the file "
            "skops.io.dump wrote, unchanged.",
        )


def _unsafe_member_name(name: str) -> str:
    """Why a member name could land outside the folder it is unpacked in ("" if it cannot)."""
    if not name or name.startswith(("/", "\\")) or (len(name) > 1 and name[1] == ":"):
        return "an absolute path"
    if "\\" in name:
        return "with a backslash"
    if any(part in ("", ".", "..") for part in name.split("/")):
        return "a path leading out of the archive"
    if any(ord(c) < 32 for c in name):
        return "with a control character"
    return ""


def _files_named(schema: Any) -> set[str]:
    """Every ``"file"`` a skops schema refers to, at any depth."""
    found: set[str] = set()
    pending = [schema]
    while pending:
        node = pending.pop()
        if isinstance(node, dict):
            for key, value in node.items():
                if key == "file" and isinstance(value, str):
                    found.add(value)
                else:
                    pending.append(value)
        elif isinstance(node, list):
            pending.extend(node)
    return found


@dataclass(frozen=True)
class DatasetInfo:
    file_format: str
    columns: list[str]
    rows: int
    dtypes: dict[str, str] = field(default_factory=dict)

    def as_details(self) -> dict[str, object]:
        return {"columns": self.columns, "rows": self.rows, "dtypes": self.dtypes}


def inspect_dataset(field_name: str, name: str, stream: IO[bytes]) -> DatasetInfo:
    """Read a CSV or Parquet upload far enough to know its columns and rows."""
    extension = _extension(name)
    fmt = DATASET_EXTENSIONS.get(extension)
    if fmt is None:
        raise UploadRefused(field_name, f"Upload a .csv or .parquet file, not “{name}”.")
    stream.seek(0)
    head = stream.read(4)
    stream.seek(0)
    is_parquet = head == _PARQUET
    if (fmt == "parquet") != is_parquet:
        kind = "Parquet" if is_parquet else "not Parquet"
        raise UploadRefused(
            field_name, f"“{name}” is {kind}: its content does not match {extension}."
        )
    info = _read_parquet(field_name, stream) if is_parquet else _read_csv(field_name, name, stream)
    if info.rows == 0:
        raise UploadRefused(field_name, f"“{name}” has a header but no rows.")
    if len(set(info.columns)) != len(info.columns):
        raise UploadRefused(field_name, f"“{name}” has repeated column names.")
    return info


def _read_parquet(field_name: str, stream: IO[bytes]) -> DatasetInfo:
    import pyarrow as pa
    import pyarrow.parquet as pq

    size = stream.seek(0, 2)
    stream.seek(max(size - 8, 0))
    footer = int.from_bytes(stream.read(4), "little")
    stream.seek(0)
    # The footer (the schema and statistics of every column) is read whole: bound it first.
    if footer > _CSV_CHUNK_BYTES * 4:
        raise UploadRefused(field_name, "The Parquet file's schema is too large to read.")
    try:
        parquet = pq.ParquetFile(stream)
        _check_width(field_name, "the Parquet file", parquet.metadata.num_columns)
        schema = parquet.schema_arrow
        return DatasetInfo(
            "parquet",
            [str(n) for n in schema.names],
            parquet.metadata.num_rows,
            {str(f.name): str(f.type) for f in schema},
        )
    except (pa.ArrowException, OSError, ValueError) as exc:
        raise UploadRefused(field_name, f"The Parquet file cannot be read: {exc}") from None


def _read_csv(field_name: str, name: str, stream: IO[bytes]) -> DatasetInfo:
    import pandas as pd

    sample = stream.read(_SAMPLE)
    stream.seek(0)
    if b"\x00" in sample:
        raise UploadRefused(field_name, f"“{name}” is binary, not a CSV text file.")
    try:
        sample.decode("utf-8")
    except UnicodeDecodeError as exc:
        cut_at_end = len(sample) == _SAMPLE and exc.start >= len(sample) - 4
        if not cut_at_end:  # a character split by the sample's end is not an error
            raise UploadRefused(field_name, f"“{name}” is not UTF-8 text.") from None
    longest = _longest_line(field_name, name, stream)
    # pandas renames a repeated column ("a", "a.1"); the header itself must be read to see it.
    first_line = stream.readline(longest + 1).decode("utf-8", errors="replace")
    stream.seek(0)
    header = next(csv.reader([first_line.rstrip("\r\n")]), [])
    _check_width(field_name, name, len(header))
    if len(set(header)) != len(header):
        raise UploadRefused(field_name, f"“{name}” has repeated column names.")
    # Chunks of at most about _CSV_CHUNK_BYTES of text, counted at the longest line: a file of
    # any size takes a bounded part of the web process to count its rows.
    rows_per_chunk = max(1, _CSV_CHUNK_BYTES // max(longest, 1))
    columns: list[str] = []
    dtypes: dict[str, list[Any]] = {}
    rows = 0
    try:
        with pd.read_csv(stream, encoding="utf-8", chunksize=rows_per_chunk) as reader:
            for chunk in reader:
                columns = [str(c) for c in chunk.columns]
                rows += len(chunk)
                for column, dtype in chunk.dtypes.items():
                    dtypes.setdefault(str(column), []).append(dtype)
    except (pd.errors.ParserError, pd.errors.EmptyDataError, UnicodeDecodeError) as exc:
        raise UploadRefused(field_name, f"“{name}” is not a readable CSV file: {exc}") from None
    finally:
        stream.seek(0)
    return DatasetInfo("csv", columns, rows, {c: _common_dtype(dtypes[c]) for c in columns})


def _longest_line(field_name: str, name: str, stream: IO[bytes]) -> int:
    """The length of the file's longest line, read block by block; a line longer than
    ``PORTAL_MAX_LINE_BYTES`` is refused as soon as it is seen."""
    import numpy as np

    limit = settings.PORTAL_MAX_LINE_BYTES
    longest = since_newline = 0
    stream.seek(0)
    while block := stream.read(_CSV_CHUNK_BYTES):
        ends = np.flatnonzero(np.frombuffer(block, dtype=np.uint8) == ord("\n"))
        if len(ends):
            gaps = np.diff(ends, prepend=-1)
            # gaps count each line with its newline.
            longest = max(longest, since_newline + int(ends[0]), int(gaps[1:].max(initial=1)) - 1)
            since_newline = len(block) - int(ends[-1]) - 1
        else:
            since_newline += len(block)
        if max(longest, since_newline) > limit:
            raise UploadRefused(
                field_name,
                f"“{name}” has a line longer than {limit // 2**10:,} KB; the portal reads data "
                "sets of at most that per line (PORTAL_MAX_LINE_KB).",
            )
    stream.seek(0)
    return max(longest, since_newline)


def _check_width(field_name: str, name: str, columns: int) -> None:
    limit = settings.PORTAL_MAX_COLUMNS
    if columns > limit:
        raise UploadRefused(
            field_name,
            f"“{name}” has {columns:,} columns; the portal accepts at most {limit:,} "
            "(PORTAL_MAX_COLUMNS).",
        )


def _common_dtype(dtypes: list[Any]) -> str:
    """The type pandas gives a column read whole, from those it gave each chunk of it: numbers
    widen (int64 and float64 make float64), anything else mixed is read as text."""
    import numpy as np

    names = {str(d) for d in dtypes}
    if len(names) == 1:
        return names.pop()
    if all(isinstance(d, np.dtype) and d.kind in "iuf" for d in dtypes):
        return str(np.result_type(*dtypes))
    return "str" if "str" in names else "object"


def check_target(holdout: DatasetInfo, target: str) -> None:
    target = target.strip()
    if not target:
        raise UploadRefused("target_column", "Name the holdout's target column.")
    if target not in holdout.columns:
        shown = ", ".join(holdout.columns[:20])
        raise UploadRefused(
            "target_column",
            f"The holdout has no column named “{target}”. Its columns are: {shown}.",
        )
    if len(holdout.columns) < 2:
        raise UploadRefused("holdout", "The holdout needs feature columns besides the target.")


def check_sensitive(holdout: DatasetInfo, sensitive: str, target: str) -> None:
    if not sensitive:
        return
    if sensitive == target:
        raise UploadRefused("sensitive_column", "The sensitive column cannot be the target.")
    if sensitive not in holdout.columns:
        raise UploadRefused(
            "sensitive_column",
            f"The holdout has no column named “{sensitive}” to measure fairness across.",
        )


def check_reference(holdout: DatasetInfo, reference: DatasetInfo, target: str) -> None:
    features: Sequence[str] = [c for c in holdout.columns if c != target]
    missing = [c for c in features if c not in reference.columns]
    if missing:
        raise UploadRefused(
            "reference",
            "The reference sample lacks feature columns of the holdout: " + ", ".join(missing[:20]),
        )
