"""The documentation as a PDF (reportlab Platypus), with its charts drawn as vector graphics."""

from __future__ import annotations

import io
import math
import os
from typing import Any
from xml.sax.saxutils import escape

import reportlab
from reportlab.graphics.shapes import Circle, Drawing, Group, Line, PolyLine, Rect, String
from reportlab.lib import colors
from reportlab.lib.enums import TA_RIGHT
from reportlab.lib.pagesizes import A4
from reportlab.lib.styles import ParagraphStyle
from reportlab.lib.units import cm
from reportlab.pdfbase import pdfmetrics
from reportlab.pdfbase.ttfonts import TTFont
from reportlab.platypus import (
    CondPageBreak,
    Flowable,
    HRFlowable,
    KeepTogether,
    Paragraph,
    Preformatted,
    SimpleDocTemplate,
    Spacer,
    Table,
    TableStyle,
)

from apps.documentation import chart_data
from apps.documentation.blocks import (
    Block,
    CodeBlock,
    Heading,
    ListItem,
    Quote,
    Rule,
    Run,
    TableBlock,
    parse_blocks,
)
from apps.documentation.blocks import Paragraph as TextBlock
from apps.documentation.chart_data import Chart, extract_chart
from apps.documentation.document import Document, Figure, Part
from apps.documentation.document import Table as DataTable

FONT_DIR = os.path.join(os.path.dirname(reportlab.__file__), "fonts")
SANS = "DocSans"
MONO = "Courier"  # the standard PDF font: no file to embed, and unknown glyphs do not raise
MARGIN = 2 * cm
WIDTH = A4[0] - 2 * MARGIN
GREY = colors.HexColor("#5f6b78")
RULE = colors.HexColor("#c8cfd6")
HEADER_FILL = colors.HexColor("#eef1f4")
LINK = "#1a5fb4"
CHART_HEIGHT = 230.0
_BULLETS = ("\u2022", "\u2013", "\u00b7")  # bullet, en dash, middle dot


def _register_fonts() -> None:
    if SANS in pdfmetrics.getRegisteredFontNames():
        return
    # Vera ships inside reportlab and covers Latin-1 plus typographic marks (dashes, quotes, €, ≥);
    # the 14 standard fonts only know WinAnsi.
    for name, file in (
        (SANS, "Vera.ttf"),
        (f"{SANS}-Bold", "VeraBd.ttf"),
        (f"{SANS}-Italic", "VeraIt.ttf"),
        (f"{SANS}-BoldItalic", "VeraBI.ttf"),
    ):
        pdfmetrics.registerFont(TTFont(name, os.path.join(FONT_DIR, file)))
    pdfmetrics.registerFontFamily(
        SANS,
        normal=SANS,
        bold=f"{SANS}-Bold",
        italic=f"{SANS}-Italic",
        boldItalic=f"{SANS}-BoldItalic",
    )


def _styles() -> dict[str, ParagraphStyle]:
    base = ParagraphStyle("body", fontName=SANS, fontSize=10, leading=13.5, spaceAfter=5)
    small = ParagraphStyle("small", base, fontSize=8.5, leading=11, spaceAfter=0)
    return {
        "body": base,
        "title": ParagraphStyle("title", base, fontSize=20, leading=24, spaceAfter=6),
        "subtitle": ParagraphStyle("subtitle", base, fontSize=12, leading=15, textColor=GREY),
        "generated": ParagraphStyle("generated", small, textColor=GREY, spaceAfter=14),
        "part": ParagraphStyle(
            "part",
            base,
            fontName=f"{SANS}-Bold",
            fontSize=15,
            leading=19,
            spaceBefore=14,
            spaceAfter=2,
            keepWithNext=True,
        ),
        "mapping": ParagraphStyle(
            "mapping", small, fontSize=7.5, leading=9.5, textColor=GREY, spaceAfter=8
        ),
        "h3": ParagraphStyle(
            "h3", base, fontName=f"{SANS}-Bold", fontSize=12, leading=15, spaceBefore=6
        ),
        "h4": ParagraphStyle(
            "h4", base, fontName=f"{SANS}-Bold", fontSize=10.5, leading=13.5, spaceBefore=4
        ),
        "empty": ParagraphStyle("empty", base, fontName=f"{SANS}-Italic", textColor=GREY),
        "quote": ParagraphStyle("quote", base, textColor=colors.HexColor("#3d4650")),
        "code": ParagraphStyle(
            "code",
            base,
            fontName=MONO,
            fontSize=8.5,
            leading=10.5,
            backColor=colors.HexColor("#f4f6f8"),
            borderPadding=4,
            leftIndent=4,
            rightIndent=4,
            spaceBefore=4,
            spaceAfter=9,
        ),
        "cell": small,
        "head": ParagraphStyle("head", small, fontName=f"{SANS}-Bold"),
        "caption": ParagraphStyle(
            "caption", small, fontName=f"{SANS}-Italic", textColor=GREY, spaceAfter=3
        ),
        "chart": ParagraphStyle(
            "chart", base, fontName=f"{SANS}-Bold", fontSize=9.5, leading=12, spaceAfter=2
        ),
        "note": ParagraphStyle("note", small, fontName=f"{SANS}-Italic", textColor=GREY),
        "footer": ParagraphStyle("footer", small, fontSize=8, textColor=GREY),
        "footer-right": ParagraphStyle("footer-right", small, fontSize=8, alignment=TA_RIGHT),
    }


def text(value: str) -> str:
    """Plain text as Paragraph markup: escaped, with line breaks kept."""
    return escape(value).replace("\n", "<br/>")


def markup(runs: list[Run]) -> str:
    out = []
    for run in runs:
        piece = text(run.text)
        if run.code:
            piece = f'<font face="{MONO}">{piece}</font>'
        if run.bold:
            piece = f"<b>{piece}</b>"
        if run.italic:
            piece = f"<i>{piece}</i>"
        if run.strike:
            piece = f"<strike>{piece}</strike>"
        if run.href:
            href = escape(run.href, {'"': "&quot;"})
            piece = f'<a href="{href}" color="{LINK}"><u>{piece}</u></a>'
        out.append(piece)
    return "".join(out)


class _Template(SimpleDocTemplate):
    """Adds an outline entry for every flowable that carries ``outline_title``."""

    def afterFlowable(self, flowable: Flowable) -> None:
        title = getattr(flowable, "outline_title", None)
        if title:
            key = f"part-{getattr(flowable, 'outline_key', id(flowable))}"
            self.canv.bookmarkPage(key)
            self.canv.addOutlineEntry(title, key, level=0, closed=False)


def render_pdf(doc: Document) -> bytes:
    doc = doc.printable()
    _register_fonts()
    styles = _styles()
    buffer = io.BytesIO()
    template = _Template(
        buffer,
        pagesize=A4,
        leftMargin=MARGIN,
        rightMargin=MARGIN,
        topMargin=MARGIN,
        bottomMargin=MARGIN,
        title=doc.title,
        subject=doc.subtitle,
        author="MLOps portal",
        creator="MLOps portal",
    )
    story: list[Flowable] = [
        Paragraph(text(doc.title), styles["title"]),
        Paragraph(text(doc.subtitle), styles["subtitle"]),
        Paragraph(text(f"Generated {doc.generated}"), styles["generated"]),
    ]
    for index, part in enumerate(doc.parts):
        story.extend(_part(part, index, styles))

    def footer(canvas: Any, _template: Any) -> None:
        canvas.saveState()
        canvas.setFont(SANS, 8)
        canvas.setFillColor(GREY)
        page = f"page {canvas.getPageNumber()}"
        room = WIDTH - pdfmetrics.stringWidth(page, SANS, 8) - 20
        title = doc.title
        while title and pdfmetrics.stringWidth(title, SANS, 8) > room:
            title = title[:-2] + "…"
        canvas.drawString(MARGIN, MARGIN / 2, title)
        canvas.drawRightString(A4[0] - MARGIN, MARGIN / 2, page)
        canvas.restoreState()
        # Readers open the bookmarks panel only when the file asks for it.
        canvas.showOutline()

    template.build(story, onFirstPage=footer, onLaterPages=footer)
    return buffer.getvalue()


def _part(part: Part, index: int, styles: dict[str, ParagraphStyle]) -> list[Flowable]:
    heading = Paragraph(text(part.title), styles["part"])
    heading.outline_title = part.title
    heading.outline_key = f"{index}-{part.key}"
    out: list[Flowable] = [CondPageBreak(90), heading]
    if part.mapping:
        line = " · ".join(f"{name}: {value}" for name, value in part.mapping.items())
        out.append(Paragraph(text(line), styles["mapping"]))
    if part.is_empty:
        out.append(Paragraph(text(part.empty), styles["empty"]))
        return out
    if part.html.strip():
        out.extend(narrative(parse_blocks(part.html), styles))
    if part.facts:
        out.append(_facts(part.facts, styles))
        out.append(Spacer(1, 8))
    for table in part.tables:
        out.extend(_data_table(table, styles))
    for figure in part.charts:
        out.extend(_chart(figure, styles))
    return out


def narrative(blocks: list[Block], styles: dict[str, ParagraphStyle]) -> list[Flowable]:
    out: list[Flowable] = []
    for block in blocks:
        if isinstance(block, Heading):
            style = styles["h3"] if block.level <= 3 else styles["h4"]
            out.append(Paragraph(markup(block.runs), style))
        elif isinstance(block, TextBlock):
            out.append(Paragraph(markup(block.runs), styles["body"]))
        elif isinstance(block, ListItem):
            indent = 16 + 16 * block.depth
            style = ParagraphStyle(
                f"li{block.depth}",
                styles["body"],
                leftIndent=indent,
                bulletIndent=indent - 12,
                bulletFontName=SANS,
                spaceAfter=2,
            )
            bullet = None
            if not block.continuation:
                bullet = (
                    f"{block.number}."
                    if block.ordered
                    else _BULLETS[min(block.depth, len(_BULLETS) - 1)]
                )
            out.append(Paragraph(markup(block.runs), style, bulletText=bullet))
        elif isinstance(block, CodeBlock):
            code = styles["code"]
            per_line = max(20, math.floor((WIDTH - 16) / (0.6 * code.fontSize)))
            out.append(
                Preformatted(
                    block.text.expandtabs(4), code, maxLineLength=per_line, newLineChars="  "
                )
            )
        elif isinstance(block, Quote):
            quote = Table(
                [[Paragraph(markup(block.runs), styles["quote"])]],
                colWidths=[WIDTH - 12],
                hAlign="RIGHT",
            )
            quote.setStyle(
                TableStyle(
                    [
                        ("LINEBEFORE", (0, 0), (0, -1), 2, RULE),
                        ("LEFTPADDING", (0, 0), (-1, -1), 8),
                        ("BOTTOMPADDING", (0, 0), (-1, -1), 0),
                    ]
                )
            )
            out.extend([quote, Spacer(1, 6)])
        elif isinstance(block, TableBlock):
            out.extend([_grid(block.header, block.body, styles), Spacer(1, 8)])
        elif isinstance(block, Rule):
            out.append(HRFlowable(width="100%", thickness=0.5, color=RULE, spaceAfter=6))
    return out


def _column_widths(rows: list[list[str]], total: float) -> list[float]:
    """Widths by content, so a short column does not take as much as a long one."""
    count = max(len(r) for r in rows)
    weights = [
        min(40, max((len(r[c]) for r in rows if c < len(r)), default=1)) + 4 for c in range(count)
    ]
    floor = total / count * 0.4
    raw = [total * w / sum(weights) for w in weights]
    widths = [max(floor, w) for w in raw]
    scale = total / sum(widths)
    return [w * scale for w in widths]


# reportlab never splits a table row across pages: one cell taller than the frame stops the
# whole export (LayoutError). A long value (a review's justification, an MLflow run's parameter)
# is cut into pieces that each fit, one row each, and the table then splits between them.
_PADDING = 6.0  # reportlab's default left and right padding of a table cell
_MAX_CELL = 360.0  # points: about half the page's frame


def _pieces(value: str, style: ParagraphStyle, width: float) -> list[Paragraph]:
    """``value`` as paragraphs no taller than ``_MAX_CELL`` each, cut between lines.

    Lines are measured one by one (re-laying out the rest of a text of thousands of lines after
    each cut would take seconds); only a single line taller than a cell is split by reportlab.
    """
    pieces: list[Paragraph] = []
    lines: list[str] = []
    height = 0.0

    def close() -> None:
        if lines:
            pieces.append(Paragraph(text("\n".join(lines)), style))
            lines.clear()

    for line in value.split("\n"):
        paragraph = Paragraph(text(line), style)
        tall = max(paragraph.wrap(width, _MAX_CELL)[1], style.leading)
        if height + tall > _MAX_CELL:
            close()
            height = 0.0
        if tall <= _MAX_CELL:
            lines.append(line)
            height += tall
            continue
        rest = paragraph
        while rest.wrap(width, _MAX_CELL)[1] > _MAX_CELL:
            split = rest.split(width, _MAX_CELL)
            if len(split) < 2:  # nothing reportlab can cut: left as it is
                break
            pieces.append(split[0])
            rest = split[1]
        pieces.append(rest)
    close()
    return pieces or [Paragraph("", style)]


def _grid(
    header: list[list[str]], body: list[list[str]], styles: dict[str, ParagraphStyle]
) -> Table:
    rows = header + body
    widths = _column_widths(rows, WIDTH)
    cells = [[Paragraph(text(cell), styles["head"]) for cell in row] for row in header]
    for row in body:
        pieces = [
            _pieces(cell, styles["cell"], width - 2 * _PADDING)
            for cell, width in zip(row, widths, strict=False)
        ]
        for n in range(max(len(p) for p in pieces)):
            cells.append([p[n] if n < len(p) else "" for p in pieces])
    table = Table(cells, colWidths=widths, repeatRows=len(header), hAlign="LEFT")
    commands: list[tuple[Any, ...]] = [
        ("GRID", (0, 0), (-1, -1), 0.4, RULE),
        ("VALIGN", (0, 0), (-1, -1), "TOP"),
        ("TOPPADDING", (0, 0), (-1, -1), 3),
        ("BOTTOMPADDING", (0, 0), (-1, -1), 3),
    ]
    if header:
        commands.append(("BACKGROUND", (0, 0), (-1, len(header) - 1), HEADER_FILL))
    table.setStyle(TableStyle(commands))
    return table


def _facts(facts: list[tuple[str, str]], styles: dict[str, ParagraphStyle]) -> Table:
    cells = [
        [Paragraph(text(label if n == 0 else ""), styles["head"]), piece]
        for label, value in facts
        for n, piece in enumerate(_pieces(value, styles["cell"], WIDTH * 0.68 - 2 * _PADDING))
    ]
    table = Table(cells, colWidths=[WIDTH * 0.32, WIDTH * 0.68], hAlign="LEFT")
    table.setStyle(
        TableStyle(
            [
                ("GRID", (0, 0), (-1, -1), 0.4, RULE),
                ("BACKGROUND", (0, 0), (0, -1), HEADER_FILL),
                ("VALIGN", (0, 0), (-1, -1), "TOP"),
            ]
        )
    )
    return table


def _data_table(table: DataTable, styles: dict[str, ParagraphStyle]) -> list[Flowable]:
    out: list[Flowable] = []
    if table.caption:
        out.append(Paragraph(text(table.caption), styles["caption"]))
    if table.columns or table.rows:
        width = max([len(table.columns)] + [len(r) for r in table.rows])
        header = [table.columns + [""] * (width - len(table.columns))] if table.columns else []
        body = [list(r) + [""] * (width - len(r)) for r in table.rows]
        out.append(_grid(header, body, styles))
    out.append(Spacer(1, 8))
    return out


def _chart(figure: Figure, styles: dict[str, ParagraphStyle]) -> list[Flowable]:
    chart = extract_chart(figure)
    out: list[Flowable] = []
    if chart.title:
        out.append(Paragraph(text(chart.title), styles["chart"]))
    if chart.drawable:
        out.append(draw_chart(chart, WIDTH))
    if chart.skipped_note:
        out.append(Paragraph(text(chart.skipped_note), styles["note"]))
    out.append(Spacer(1, 10))
    return [KeepTogether(out)]


_DASHES = {"dash": [4, 3], "dot": [1, 2], "dashdot": [4, 2, 1, 2]}
_TICK_FONT = 7.0


def _width(label: str, size: float = _TICK_FONT) -> float:
    return pdfmetrics.stringWidth(label, SANS, size)


def thin(ticks: list[chart_data.Tick], length: float) -> list[chart_data.Tick]:
    """Drops labels that would overlap their left neighbour along an axis ``length`` long."""
    kept: list[chart_data.Tick] = []
    right_edge = -math.inf
    for tick in ticks:
        half = _width(tick.label) / 2
        centre = tick.at * length
        if centre - half >= right_edge + 4:
            kept.append(tick)
            right_edge = centre + half
    return kept


def draw_chart(chart: Chart, width: float, height: float = CHART_HEIGHT) -> Drawing:
    legend_rows = _legend_layout(chart, width)
    legend_height = 12.0 * len({row for row, _ in legend_rows})
    y_labels = max((_width(t.label) for t in chart.y.ticks), default=0)
    left = max(30.0, y_labels + 8) + (12 if chart.y.title else 0)
    right = 8.0
    if chart.y2 is not None:
        right = max((_width(t.label) for t in chart.y2.ticks), default=0) + 8
        right += 12 if chart.y2.title else 0
    bottom = 16 + (12 if chart.x.title else 0) + legend_height
    top = 6.0
    plot_w, plot_h = width - left - right, height - bottom - top
    drawing = Drawing(width, height)

    def at(fx: float, fy: float) -> tuple[float, float]:
        return left + fx * plot_w, bottom + fy * plot_h

    drawing.add(
        Rect(left, bottom, plot_w, plot_h, fillColor=colors.HexColor("#fbfcfd"), strokeColor=None)
    )
    for tick in chart.y.ticks:
        y = bottom + tick.at * plot_h
        drawing.add(
            Line(left, y, left + plot_w, y, strokeColor=colors.HexColor("#e3e7eb"), strokeWidth=0.5)
        )
        drawing.add(
            String(
                left - 4, y - 2.5, tick.label, fontName=SANS, fontSize=_TICK_FONT, textAnchor="end"
            )
        )
    if chart.y2 is not None:
        for tick in chart.y2.ticks:
            y = bottom + tick.at * plot_h
            drawing.add(Line(left + plot_w, y, left + plot_w + 3, y, strokeWidth=0.5))
            drawing.add(
                String(left + plot_w + 5, y - 2.5, tick.label, fontName=SANS, fontSize=_TICK_FONT)
            )
    for tick in thin(chart.x.ticks, plot_w):
        x = left + tick.at * plot_w
        drawing.add(Line(x, bottom, x, bottom - 3, strokeWidth=0.5))
        drawing.add(
            String(
                x, bottom - 11, tick.label, fontName=SANS, fontSize=_TICK_FONT, textAnchor="middle"
            )
        )
    for bar in chart.bars:
        (x0, y0), (x1, y1) = at(bar.x0, bar.y0), at(bar.x1, bar.y1)
        drawing.add(
            Rect(x0, y0, x1 - x0, y1 - y0, fillColor=colors.HexColor(bar.color), strokeColor=None)
        )
    for line in [*chart.guides, *chart.lines]:
        color = colors.HexColor(line.color)
        for segment in line.segments:
            points = [c for p in segment for c in at(*p)]
            if line.lines and len(segment) > 1:
                drawing.add(
                    PolyLine(
                        points,
                        strokeColor=color,
                        strokeWidth=1.3,
                        strokeDashArray=_DASHES.get(line.dash),
                        strokeLineJoin=1,
                    )
                )
            if line.markers:
                for x, y in (at(*p) for p in segment):
                    drawing.add(Circle(x, y, 1.8, fillColor=color, strokeColor=None))
    drawing.add(Line(left, bottom, left + plot_w, bottom, strokeWidth=0.7))
    drawing.add(Line(left, bottom, left, bottom + plot_h, strokeWidth=0.7))
    if chart.y2 is not None:
        drawing.add(Line(left + plot_w, bottom, left + plot_w, bottom + plot_h, strokeWidth=0.7))
    if chart.x.title:
        drawing.add(
            String(
                left + plot_w / 2,
                bottom - 23,
                chart.x.title,
                fontName=SANS,
                fontSize=8,
                textAnchor="middle",
            )
        )
    for title, x in ((chart.y.title, 8.0), (chart.y2.title if chart.y2 else "", width - 4.0)):
        if title:
            # Rotated a quarter turn, reading upwards, centred on the plot.
            label = String(0, 0, title, fontName=SANS, fontSize=8, textAnchor="middle")
            drawing.add(Group(label, transform=(0, 1, -1, 0, x, bottom + plot_h / 2)))
    legend_top = bottom - 16 - (12 if chart.x.title else 0) - 6
    for (row, x), entry in zip(legend_rows, chart.legend, strict=True):
        y = legend_top - row * 12
        color = colors.HexColor(entry.color)
        if entry.kind == "bar":
            drawing.add(Rect(x, y - 1, 8, 7, fillColor=color, strokeColor=None))
        else:
            drawing.add(
                Line(
                    x,
                    y + 2.5,
                    x + 14,
                    y + 2.5,
                    strokeColor=color,
                    strokeWidth=1.5,
                    strokeDashArray=_DASHES.get(entry.dash),
                )
            )
        drawing.add(String(x + 18, y, entry.name, fontName=SANS, fontSize=_TICK_FONT))
    return drawing


def _legend_layout(chart: Chart, width: float) -> list[tuple[int, float]]:
    """(row, x) of each legend entry, wrapping onto new rows as the text needs."""
    placed: list[tuple[int, float]] = []
    row, x = 0, 0.0
    for entry in chart.legend:
        size = 18 + _width(entry.name) + 12
        if x and x + size > width:
            row, x = row + 1, 0.0
        placed.append((row, x))
        x += size
    return placed
