"""Serves plotly.js from the installed plotly package, so no page needs a CDN."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import plotly
from django.contrib.staticfiles.finders import BaseFinder
from django.core.files.storage import FileSystemStorage

PLOTLY_JS = "vendor/plotly.min.js"
_SOURCE = Path(plotly.__file__).parent / "package_data"


class PlotlyFinder(BaseFinder):
    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.storage = FileSystemStorage(location=_SOURCE)

    def check(self, **kwargs: Any) -> list[Any]:
        return []

    def find(  # type: ignore[override]  # one signature instead of Django's two overloads
        self, path: str, find_all: bool = False, **kwargs: Any
    ) -> str | list[str]:
        if path == PLOTLY_JS:
            found = str(_SOURCE / "plotly.min.js")
            return [found] if find_all else found
        return [] if find_all else ""

    def list(self, ignore_patterns: Any) -> Iterator[tuple[str, Any]]:
        # collectstatic copies "plotly.min.js" from this storage to vendor/plotly.min.js.
        yield "plotly.min.js", _PrefixedStorage(self.storage)


class _PrefixedStorage(FileSystemStorage):
    def __init__(self, inner: FileSystemStorage) -> None:
        super().__init__(location=inner.location)
        self.prefix = "vendor"
