"""The sanitised narrative HTML as a flat list of typed blocks, for the PDF and Word renderers.

The HTML comes from python-markdown and nh3, so it is balanced and uses a small set of tags;
parsing it once here means both files show the same structure.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field, replace
from html.parser import HTMLParser

# Browsers collapse only ASCII whitespace: a no-break space is text.
_SPACES = re.compile(r"[ \t\n\r\f]+")
_SAFE_LINK = re.compile(r"^(https?:|mailto:)", re.IGNORECASE)


@dataclass(frozen=True)
class Run:
    """Text with one formatting. ``text`` may hold "\\n" where the HTML had ``<br>``."""

    text: str
    bold: bool = False
    italic: bool = False
    code: bool = False
    strike: bool = False
    href: str = ""  # only absolute http(s)/mailto links: a relative one means nothing in a file

    def same_format(self, other: Run) -> bool:
        return replace(self, text="") == replace(other, text="")


@dataclass(frozen=True)
class Heading:
    level: int
    runs: list[Run]


@dataclass(frozen=True)
class Paragraph:
    runs: list[Run]


@dataclass(frozen=True)
class ListItem:
    """``continuation`` marks a second paragraph of an item: indented, without a marker."""

    depth: int  # 0 for a top-level list
    ordered: bool
    number: int
    runs: list[Run]
    continuation: bool = False


@dataclass(frozen=True)
class CodeBlock:
    text: str


@dataclass(frozen=True)
class Quote:
    runs: list[Run]


@dataclass(frozen=True)
class TableBlock:
    """Cells as text; every row has the same number of cells."""

    header: list[list[str]]
    body: list[list[str]]


@dataclass(frozen=True)
class Rule:
    pass


Block = Heading | Paragraph | ListItem | CodeBlock | Quote | TableBlock | Rule


def parse_blocks(html: str) -> list[Block]:
    parser = _Parser()
    parser.feed(html)
    parser.close()
    parser.finish()
    return parser.blocks


def plain_text(runs: list[Run]) -> str:
    return "".join(r.text for r in runs)


def normalise_runs(raw: list[Run]) -> list[Run]:
    """Collapse whitespace across runs as a browser lays out one block, and merge equal runs."""
    out: list[Run] = []
    at_line_start = True
    for run in raw:
        if run.text == "\n":
            if out:
                out[-1] = replace(out[-1], text=out[-1].text.rstrip(" "))
            out.append(run)
            at_line_start = True
            continue
        text = _SPACES.sub(" ", run.text)
        if at_line_start or (out and out[-1].text.endswith(" ")):
            text = text.lstrip(" ")
        if not text:
            continue
        at_line_start = False
        out.append(replace(run, text=text))
    while out and not out[-1].text.strip(" \n"):
        out.pop()
    if out:
        out[-1] = replace(out[-1], text=out[-1].text.rstrip(" "))
    merged: list[Run] = []
    for run in out:
        if merged and merged[-1].same_format(run):
            merged[-1] = replace(merged[-1], text=merged[-1].text + run.text)
        elif run.text:
            merged.append(run)
    return merged


@dataclass
class _List:
    ordered: bool
    number: int
    item_open: bool = False
    item_shown: bool = False


@dataclass
class _Table:
    header: list[list[str]] = field(default_factory=list)
    body: list[list[str]] = field(default_factory=list)
    in_head: bool = False
    row: list[str] | None = None
    row_all_th: bool = True
    cell: list[str] | None = None


_BLOCK_TAGS = {
    "p",
    "div",
    "h1",
    "h2",
    "h3",
    "h4",
    "h5",
    "h6",
    "ul",
    "ol",
    "li",
    "blockquote",
    "pre",
    "table",
    "hr",
    "dl",
    "dt",
    "dd",
}
_SKIP_CONTENT = {"script", "style", "template"}


class _Parser(HTMLParser):
    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.blocks: list[Block] = []
        self._runs: list[Run] = []
        self._bold = 0
        self._italic = 0
        self._code = 0
        self._strike = 0
        self._links: list[str] = []
        self._heading = 0
        self._quote = 0
        self._lists: list[_List] = []
        self._pre: list[str] | None = None
        self._table: _Table | None = None
        self._nested_tables = 0
        self._skip = 0

    # html.parser calls these; the names are its API.
    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag in _SKIP_CONTENT:
            self._skip += 1
            return
        if self._table is not None and self._table_tag(tag, start=True):
            return
        if self._pre is not None:
            if tag == "br":
                self._pre.append("\n")
            return
        if tag in _BLOCK_TAGS:
            self._flush()
        if tag in ("strong", "b"):
            self._bold += 1
        elif tag in ("em", "i"):
            self._italic += 1
        elif tag in ("code", "kbd", "samp", "tt"):
            self._code += 1
        elif tag in ("del", "s", "strike"):
            self._strike += 1
        elif tag == "a":
            href = dict(attrs).get("href") or ""
            self._links.append(href if _SAFE_LINK.match(href) else "")
        elif tag == "br":
            self._runs.append(Run("\n"))
        elif tag in ("h1", "h2", "h3", "h4", "h5", "h6"):
            self._heading = int(tag[1])
        elif tag == "blockquote":
            self._quote += 1
        elif tag in ("ul", "ol"):
            start = dict(attrs).get("start") if tag == "ol" else None
            first = int(start) if start and start.lstrip("-").isdigit() else 1
            self._lists.append(_List(ordered=tag == "ol", number=first - 1))
        elif tag == "li" and self._lists:
            current = self._lists[-1]
            current.number += 1
            current.item_open = True
            current.item_shown = False
        elif tag == "pre":
            self._pre = []
        elif tag == "table":
            self._table = _Table()
        elif tag == "hr":
            self.blocks.append(Rule())

    def handle_startendtag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.handle_starttag(tag, attrs)
        if tag not in ("br", "hr", "img"):
            self.handle_endtag(tag)

    def handle_endtag(self, tag: str) -> None:
        if tag in _SKIP_CONTENT:
            self._skip = max(0, self._skip - 1)
            return
        if self._table is not None and self._table_tag(tag, start=False):
            return
        if self._pre is not None:
            if tag == "pre":
                self._end_pre()
            return
        if tag in _BLOCK_TAGS:
            self._flush()
        if tag in ("strong", "b"):
            self._bold = max(0, self._bold - 1)
        elif tag in ("em", "i"):
            self._italic = max(0, self._italic - 1)
        elif tag in ("code", "kbd", "samp", "tt"):
            self._code = max(0, self._code - 1)
        elif tag in ("del", "s", "strike"):
            self._strike = max(0, self._strike - 1)
        elif tag == "a":
            if self._links:
                self._links.pop()
        elif tag in ("h1", "h2", "h3", "h4", "h5", "h6"):
            self._heading = 0
        elif tag == "blockquote":
            self._quote = max(0, self._quote - 1)
        elif tag in ("ul", "ol"):
            if self._lists:
                self._lists.pop()
        elif tag == "li" and self._lists:
            self._lists[-1].item_open = False

    def handle_data(self, data: str) -> None:
        if self._skip:
            return
        if self._table is not None:
            if self._table.cell is not None:
                self._table.cell.append(data)
            return
        if self._pre is not None:
            self._pre.append(data)
            return
        self._runs.append(
            Run(
                data,
                bold=self._bold > 0,
                italic=self._italic > 0,
                code=self._code > 0,
                strike=self._strike > 0,
                href=self._links[-1] if self._links else "",
            )
        )

    def finish(self) -> None:
        if self._pre is not None:
            self._end_pre()
        if self._table is not None:
            self._end_table()
        self._flush()

    def _end_pre(self) -> None:
        text = "".join(self._pre or [])
        self._pre = None
        # As in a browser, a newline right after <pre> is not content; Markdown also ends the
        # code with one.
        if text.startswith("\n"):
            text = text[1:]
        text = text.rstrip("\n")
        if text.strip():
            self.blocks.append(CodeBlock(text))

    def _table_tag(self, tag: str, *, start: bool) -> bool:
        """Handles a tag inside a table; False when the table ends and normal parsing resumes."""
        table = self._table
        assert table is not None
        if tag == "table":
            if start:
                self._nested_tables += 1
                return True
            if self._nested_tables:
                self._nested_tables -= 1
                return True
            self._end_table()
            return True
        if self._nested_tables or tag not in ("thead", "tbody", "tfoot", "tr", "th", "td"):
            # Block boundaries inside a cell still separate words.
            if table.cell is not None and (tag in _BLOCK_TAGS or tag in ("br", "tr", "td", "th")):
                table.cell.append(" ")
            return True
        if tag in ("thead", "tbody", "tfoot"):
            table.in_head = start and tag == "thead"
        elif tag == "tr":
            if start:
                table.row, table.row_all_th = [], True
            else:
                self._end_row(table)
        elif start:
            if table.row is None:
                table.row, table.row_all_th = [], True
            self._end_cell(table)
            table.cell = []
            table.row_all_th = table.row_all_th and tag == "th"
        else:
            self._end_cell(table)
        return True

    @staticmethod
    def _end_cell(table: _Table) -> None:
        if table.cell is not None and table.row is not None:
            table.row.append(_SPACES.sub(" ", "".join(table.cell)).strip(" "))
        table.cell = None

    def _end_row(self, table: _Table) -> None:
        self._end_cell(table)
        if table.row:
            # A row of <th> before any body row is a header even without <thead>.
            if table.in_head or (table.row_all_th and not table.body):
                table.header.append(table.row)
            else:
                table.body.append(table.row)
        table.row = None

    def _end_table(self) -> None:
        table = self._table
        assert table is not None
        self._end_row(table)
        self._table = None
        self._nested_tables = 0
        rows = table.header + table.body
        if not rows:
            return
        width = max(len(r) for r in rows)

        def pad(row: list[str]) -> list[str]:
            return row + [""] * (width - len(row))

        self.blocks.append(
            TableBlock(header=[pad(r) for r in table.header], body=[pad(r) for r in table.body])
        )

    def _flush(self) -> None:
        runs = normalise_runs(self._runs)
        self._runs = []
        if not runs:
            return
        if self._heading:
            self.blocks.append(Heading(self._heading, runs))
            return
        depth = next((d for d in reversed(range(len(self._lists))) if self._lists[d].item_open), -1)
        if depth >= 0:
            item = self._lists[depth]
            self.blocks.append(
                ListItem(
                    depth=depth,
                    ordered=item.ordered,
                    number=item.number,
                    runs=runs,
                    continuation=item.item_shown,
                )
            )
            item.item_shown = True
            return
        if self._quote:
            self.blocks.append(Quote(runs))
            return
        self.blocks.append(Paragraph(runs))
