"""Multipart parsing that refuses, rather than silently trims, file names with path parts, and
refuses a body too long for an upload before reading it.

Django reduces ``../../x.skops`` to ``x.skops`` before any view sees it. The name is only
metadata here (files are stored under generated keys), but a client that sends a path, an
encoded path or control characters is buggy or probing, and gets a clear 400 instead.
"""

from __future__ import annotations

import html
from collections.abc import Mapping
from typing import IO, Any
from urllib.parse import unquote

from django.conf import settings
from django.http.multipartparser import MultiPartParser as DjangoMultiPartParser
from django.http.multipartparser import MultiPartParserError
from rest_framework.exceptions import APIException, ParseError
from rest_framework.parsers import DataAndFiles, MultiPartParser

from apps.registry import uploads


class UnsafeFileName(MultiPartParserError):
    pass


def unsafe_file_name(name: str) -> bool:
    decoded = html.unescape(name)
    for _ in range(3):  # %252e%252e%252f decodes twice before it shows
        decoded = unquote(decoded)
    return (
        any(sep in decoded for sep in ("/", "\\"))
        or decoded.strip(". ") == ""
        or ".." in decoded.split("/")
        or any(not ch.isprintable() for ch in decoded)
    )


class RefusedUpload(APIException):
    """An upload refused while it was parsed, answered as the views answer ``UploadRefused``."""

    def __init__(self, refused: uploads.UploadRefused) -> None:
        self.status_code = refused.status
        super().__init__({"detail": refused.message, "field": refused.field})


def _declared_length(meta: Mapping[str, Any]) -> int:
    try:
        return int(meta.get("CONTENT_LENGTH") or 0)
    except ValueError:
        return 0  # Django reads no body then


class _StrictDjangoParser(DjangoMultiPartParser):
    def sanitize_file_name(self, file_name: str) -> str | None:
        if unsafe_file_name(file_name):
            raise UnsafeFileName(
                f"The file name {file_name!r} contains a path or control characters; "
                "send the plain file name (for example model.skops)."
            )
        return super().sanitize_file_name(file_name)


class StrictMultiPartParser(MultiPartParser):
    def parse(
        self,
        stream: IO[Any],
        media_type: str | None = None,
        parser_context: Mapping[str, Any] | None = None,
    ) -> DataAndFiles:
        context = parser_context or {}
        request = context["request"]
        meta = request.META.copy()
        meta["CONTENT_TYPE"] = media_type
        encoding = context.get("encoding", settings.DEFAULT_CHARSET)
        try:
            uploads.check_request_size(_declared_length(meta))
        except uploads.UploadRefused as refused:
            raise RefusedUpload(refused) from None
        try:
            data, files = _StrictDjangoParser(
                meta, stream, request.upload_handlers, encoding
            ).parse()
        except UnsafeFileName as exc:
            raise ParseError(str(exc)) from None
        except MultiPartParserError as exc:
            raise ParseError(f"The upload could not be read: {exc}") from None
        stopped = uploads.refusal(request.upload_handlers)
        if stopped is not None:
            # DRF forgets the files of a failed parse, so the request would not close them.
            for name in files:
                for upload in files.getlist(name):
                    upload.close()
            raise RefusedUpload(stopped)
        return DataAndFiles(data, files)
