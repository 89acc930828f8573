"""A model version's documentation as plain data: what every export renders.

The portal builds a ``Document`` from its records (the auto-filled parts) and the data scientist's
Markdown (the narrative parts, already sanitised to HTML). The page, the offline HTML file, the
PDF and the Word file are four renderings of the same ``Document``; a frozen revision keeps the
``Document`` it had when its version was approved (``to_json``/``from_json``), so its exports never
change afterwards.
"""

from __future__ import annotations

import re
from dataclasses import asdict, dataclass, field
from typing import Any

# A Plotly figure as JSON ({"data": [...], "layout": {...}}): the page and the HTML file draw it
# with plotly.js; the PDF and Word files draw its scatter and bar traces themselves.
Figure = dict[str, Any]

# Characters XML 1.0 cannot hold: python-docx refuses a run with one (the whole Word export would
# fail), and they mean nothing in a PDF. Text from outside the portal (an MLflow run's tags) may
# carry them.
_NOT_XML = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\ud800-\udfff\ufffe\uffff]")


def _printable(value: Any) -> Any:
    if isinstance(value, str):
        return _NOT_XML.sub("", value)
    if isinstance(value, dict):
        return {key: _printable(item) for key, item in value.items()}
    if isinstance(value, list | tuple):
        return [_printable(item) for item in value]
    return value


@dataclass(frozen=True)
class Table:
    columns: list[str]
    rows: list[list[str]]
    caption: str = ""


@dataclass(frozen=True)
class Part:
    """One section of the document, in the template's order.

    ``kind`` is "narrative" (written by people: ``html`` is sanitised HTML from their Markdown)
    or "facts" (filled by the portal from its records: ``facts``, ``tables`` and ``charts``).
    ``mapping`` names the heading each framework gives this section ("SR 26-2": "Model
    development: purpose and use", ...). ``empty`` says what to print when a part has nothing.
    """

    key: str
    title: str
    kind: str
    mapping: dict[str, str] = field(default_factory=dict)
    html: str = ""
    facts: list[tuple[str, str]] = field(default_factory=list)
    tables: list[Table] = field(default_factory=list)
    charts: list[Figure] = field(default_factory=list)
    empty: str = "Nothing recorded."

    @property
    def is_empty(self) -> bool:
        return not (self.html.strip() or self.facts or self.tables or self.charts)

    @property
    def numbered_charts(self) -> list[tuple[str, Figure]]:
        """(element id, figure): what a page needs to draw the charts."""
        return [(f"chart-{self.key}-{i}", figure) for i, figure in enumerate(self.charts, 1)]


@dataclass(frozen=True)
class Document:
    title: str  # "Loan default v3: model documentation"
    subtitle: str  # "Revision 2, approved 4 December 2026 (frozen)" or "Revision 3, draft"
    generated: str  # when these facts were read, "5 December 2026, 20:15 UTC"
    parts: list[Part]

    def to_json(self) -> dict[str, Any]:
        return asdict(self)

    def printable(self) -> Document:
        """This document without the control characters a Word or PDF file cannot hold."""
        return Document.from_json(_printable(self.to_json()))

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> Document:
        parts = [
            Part(
                **{
                    **p,
                    "facts": [tuple(f) for f in p.get("facts", [])],
                    "tables": [Table(**t) for t in p.get("tables", [])],
                }
            )
            for p in data["parts"]
        ]
        return cls(
            title=data["title"],
            subtitle=data["subtitle"],
            generated=data["generated"],
            parts=parts,
        )
