"""The documentation as a Word file (python-docx), with its charts drawn as PNG by Pillow."""

from __future__ import annotations

import io
import math
import os
from functools import cache
from itertools import pairwise
from typing import Any

import reportlab
from docx import Document as new_document
from docx.document import Document as WordDocument
from docx.enum.text import WD_COLOR_INDEX
from docx.opc.constants import RELATIONSHIP_TYPE
from docx.oxml import OxmlElement
from docx.oxml.ns import qn
from docx.shared import Cm, Pt, RGBColor
from docx.table import Table as WordTable
from docx.text.paragraph import Paragraph as WordParagraph
from PIL import Image, ImageDraw, ImageFont

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
from apps.documentation.chart_data import Chart, Tick, extract_chart
from apps.documentation.document import Document, Figure, Part
from apps.documentation.document import Table as DataTable

FONT_DIR = os.path.join(os.path.dirname(reportlab.__file__), "fonts")
MONO = "Courier New"
GREY = RGBColor(0x5F, 0x6B, 0x78)
LINK = RGBColor(0x1A, 0x5F, 0xB4)
CHART_WIDTH = Cm(15)
# Charts are laid out in points (as in the PDF) and drawn SCALE pixels per point: ~216 dpi.
SCALE = 3
CHART_POINTS = (425.0, 230.0)
_TICK_FONT = 7.0
_DASHES = {"dash": (4, 3), "dot": (1, 2), "dashdot": (4, 2, 1, 2)}


def render_docx(doc: Document) -> bytes:
    doc = doc.printable()
    word = new_document()
    word.core_properties.title = doc.title
    word.core_properties.subject = doc.subtitle
    word.core_properties.author = "MLOps portal"
    word.add_heading(doc.title, level=0)
    word.add_paragraph(doc.subtitle, style="Subtitle")
    generated = word.add_paragraph().add_run(f"Generated {doc.generated}")
    generated.italic = True
    generated.font.color.rgb = GREY
    for part in doc.parts:
        _part(word, part)
    buffer = io.BytesIO()
    word.save(buffer)
    return buffer.getvalue()


def _part(word: WordDocument, part: Part) -> None:
    word.add_heading(part.title, level=1)
    if part.mapping:
        line = " · ".join(f"{name}: {value}" for name, value in part.mapping.items())
        run = word.add_paragraph().add_run(line)
        run.italic = True
        run.font.size = Pt(8)
        run.font.color.rgb = GREY
    if part.is_empty:
        word.add_paragraph().add_run(part.empty).italic = True
        return
    if part.html.strip():
        narrative(word, parse_blocks(part.html))
    if part.facts:
        table = word.add_table(rows=0, cols=2)
        table.style = "Table Grid"
        for label, value in part.facts:
            cells = table.add_row().cells
            cells[0].paragraphs[0].add_run(label).bold = True
            cells[1].paragraphs[0].add_run(value)
        _widths(table, [Cm(5), Cm(11)])
        word.add_paragraph()
    for data in part.tables:
        _data_table(word, data)
    for figure in part.charts:
        _chart(word, figure)


def add_runs(paragraph: WordParagraph, runs: list[Run]) -> None:
    for run in runs:
        if run.href:
            _hyperlink(paragraph, run)
            continue
        added = paragraph.add_run(run.text)
        added.bold = run.bold or None
        added.italic = run.italic or None
        if run.strike:
            added.font.strike = True
        if run.code:
            added.font.name = MONO
            added.font.highlight_color = WD_COLOR_INDEX.GRAY_25


def _hyperlink(paragraph: WordParagraph, run: Run) -> None:
    """python-docx has no hyperlink API: a w:hyperlink to an external relationship."""
    rel = paragraph.part.relate_to(run.href, RELATIONSHIP_TYPE.HYPERLINK, is_external=True)
    link = OxmlElement("w:hyperlink")
    link.set(qn("r:id"), rel)
    r = OxmlElement("w:r")
    props = OxmlElement("w:rPr")
    for tag, value in (("w:color", "1A5FB4"), ("w:u", "single")):
        element = OxmlElement(tag)
        element.set(qn("w:val"), value)
        props.append(element)
    for flag, tag in ((run.bold, "w:b"), (run.italic, "w:i"), (run.strike, "w:strike")):
        if flag:
            props.append(OxmlElement(tag))
    r.append(props)
    t = OxmlElement("w:t")
    t.text = run.text.replace("\n", " ")
    t.set(qn("xml:space"), "preserve")
    r.append(t)
    link.append(r)
    paragraph._p.append(link)


class _Numbering:
    """Restarts "List Number" at each new ordered list: the styles share one counter otherwise."""

    def __init__(self, word: WordDocument) -> None:
        self.word = word
        self.current: dict[int, tuple[int, int]] = {}  # depth -> (numId, last number)

    def reset(self, below: int = 0) -> None:
        for depth in [d for d in self.current if d >= below]:
            del self.current[depth]

    def apply(self, paragraph: WordParagraph, item: ListItem, style: str) -> None:
        self.reset(item.depth + 1)
        found = self.current.get(item.depth)
        num_id: int | None
        if found and found[1] + 1 == item.number:
            num_id = found[0]
        else:
            num_id = self._new_num(style, item.number)
        if num_id is None:
            return
        self.current[item.depth] = (num_id, item.number)
        num_pr = paragraph._p.get_or_add_pPr().get_or_add_numPr()
        num_pr.get_or_add_ilvl().val = 0
        num_pr.get_or_add_numId().val = num_id

    def _new_num(self, style: str, start: int) -> int | None:
        style_pr = self.word.styles[style].element.pPr
        if style_pr is None or style_pr.numPr is None or style_pr.numPr.numId is None:
            return None
        numbering = self.word.part.numbering_part.element
        existing = numbering.num_having_numId(style_pr.numPr.numId.val)
        num = numbering.add_num(existing.abstractNumId.val)
        num.add_lvlOverride(ilvl=0).add_startOverride(start)
        return int(num.numId)


def narrative(word: WordDocument, blocks: list[Block]) -> None:
    numbering = _Numbering(word)
    for block in blocks:
        if not isinstance(block, ListItem):
            numbering.reset()
        if isinstance(block, Heading):
            add_runs(word.add_heading(level=3 if block.level <= 3 else 4), block.runs)
        elif isinstance(block, TextBlock):
            add_runs(word.add_paragraph(), block.runs)
        elif isinstance(block, ListItem):
            level = "" if block.depth == 0 else f" {min(block.depth + 1, 3)}"
            if block.continuation:
                style = f"List Continue{level}"
            else:
                style = f"List {'Number' if block.ordered else 'Bullet'}{level}"
            paragraph = word.add_paragraph(style=style)
            if block.ordered and not block.continuation:
                numbering.apply(paragraph, block, style)
            add_runs(paragraph, block.runs)
        elif isinstance(block, CodeBlock):
            paragraph = word.add_paragraph()
            paragraph.paragraph_format.left_indent = Cm(0.5)
            _shade(paragraph, "F4F6F8")
            # python-docx writes each "\n" as a line break inside the run.
            run = paragraph.add_run(block.text.expandtabs(4))
            run.font.name = MONO
            run.font.size = Pt(9)
        elif isinstance(block, Quote):
            add_runs(word.add_paragraph(style="Quote"), block.runs)
        elif isinstance(block, TableBlock):
            _grid(word, block.header, block.body)
            word.add_paragraph()
        elif isinstance(block, Rule):
            _rule(word.add_paragraph())


def _shade(paragraph: WordParagraph, fill: str) -> None:
    shading = OxmlElement("w:shd")
    shading.set(qn("w:val"), "clear")
    shading.set(qn("w:color"), "auto")
    shading.set(qn("w:fill"), fill)
    paragraph._p.get_or_add_pPr().append(shading)


def _rule(paragraph: WordParagraph) -> None:
    borders = OxmlElement("w:pBdr")
    bottom = OxmlElement("w:bottom")
    for key, value in (("w:val", "single"), ("w:sz", "6"), ("w:space", "1"), ("w:color", "C8CFD6")):
        bottom.set(qn(key), value)
    borders.append(bottom)
    paragraph._p.get_or_add_pPr().append(borders)


def _grid(word: WordDocument, header: list[list[str]], body: list[list[str]]) -> WordTable:
    width = max(len(r) for r in header + body)
    table = word.add_table(rows=0, cols=width)
    table.style = "Table Grid"
    for i, row in enumerate(header + body):
        word_row = table.add_row()
        for cell, value in zip(word_row.cells, row, strict=False):
            run = cell.paragraphs[0].add_run(value)
            run.font.size = Pt(9)
            run.bold = i < len(header) or None
        if i < len(header):
            # Word repeats header rows at the top of each page the table runs onto.
            word_row._tr.get_or_add_trPr().append(OxmlElement("w:tblHeader"))
    return table


def _widths(table: WordTable, widths: list[Any]) -> None:
    for row in table.rows:
        for cell, width in zip(row.cells, widths, strict=False):
            cell.width = width


def _data_table(word: WordDocument, data: DataTable) -> None:
    if data.caption:
        word.add_paragraph(data.caption, style="Caption")
    if data.columns or data.rows:
        width = max([len(data.columns)] + [len(r) for r in data.rows])
        header = [data.columns + [""] * (width - len(data.columns))] if data.columns else []
        _grid(word, header, [list(r) + [""] * (width - len(r)) for r in data.rows])
    word.add_paragraph()


def _chart(word: WordDocument, figure: Figure) -> None:
    chart = extract_chart(figure)
    if chart.title:
        word.add_paragraph().add_run(chart.title).bold = True
    if chart.drawable:
        word.add_picture(io.BytesIO(chart_png(chart)), width=CHART_WIDTH)
    if chart.skipped_note:
        note = word.add_paragraph().add_run(chart.skipped_note)
        note.italic = True
        note.font.color.rgb = GREY


@cache
def _font(size: float) -> ImageFont.FreeTypeFont:
    return ImageFont.truetype(os.path.join(FONT_DIR, "Vera.ttf"), round(size * SCALE))


def _text_width(label: str, size: float = _TICK_FONT) -> float:
    return _font(size).getlength(label) / SCALE


def _rgb(color: str) -> tuple[int, int, int]:
    return int(color[1:3], 16), int(color[3:5], 16), int(color[5:7], 16)


def _thin(ticks: list[Tick], length: float) -> list[Tick]:
    kept: list[Tick] = []
    right_edge = -math.inf
    for tick in ticks:
        half = _text_width(tick.label) / 2
        if tick.at * length - half >= right_edge + 4:
            kept.append(tick)
            right_edge = tick.at * length + half
    return kept


def _dashed(
    draw: ImageDraw.ImageDraw,
    points: list[tuple[float, float]],
    color: tuple[int, int, int],
    width: int,
    pattern: tuple[int, ...] | None,
) -> None:
    if not pattern:
        draw.line(points, fill=color, width=width, joint="curve")
        return
    lengths = [p * SCALE * 1.3 for p in pattern]
    index, left, on = 0, lengths[0], True
    for (x0, y0), (x1, y1) in pairwise(points):
        length = math.hypot(x1 - x0, y1 - y0)
        done = 0.0
        while done < length:
            step = min(left, length - done)
            if on:
                a, b = done / length, (done + step) / length
                start = (x0 + (x1 - x0) * a, y0 + (y1 - y0) * a)
                end = (x0 + (x1 - x0) * b, y0 + (y1 - y0) * b)
                draw.line([start, end], fill=color, width=width)
            done += step
            left -= step
            if left <= 1e-9:
                index = (index + 1) % len(lengths)
                left, on = lengths[index], not on


def chart_png(chart: Chart) -> bytes:
    """The chart as PNG, laid out like the PDF's: sizes in points, drawn SCALE pixels each."""
    width, height = CHART_POINTS
    legend: list[tuple[int, float]] = []
    row, x = 0, 0.0
    for entry in chart.legend:
        size = 18 + _text_width(entry.name) + 12
        if x and x + size > width:
            row, x = row + 1, 0.0
        legend.append((row, x))
        x += size
    legend_height = 12.0 * (row + 1) if chart.legend else 0.0
    left = max(30.0, max((_text_width(t.label) for t in chart.y.ticks), default=0) + 8)
    left += 12 if chart.y.title else 0
    right = 8.0
    if chart.y2 is not None:
        right = max((_text_width(t.label) for t in chart.y2.ticks), default=0) + 8
        right += 12 if chart.y2.title else 0
    bottom = 16 + (12 if chart.x.title else 0) + legend_height
    top = 6.0
    plot_w, plot_h = width - left - right, height - bottom - top

    image = Image.new("RGB", (round(width * SCALE), round(height * SCALE)), "white")
    draw = ImageDraw.Draw(image)

    def px(x: float, y: float) -> tuple[float, float]:
        """Points from the bottom-left (as in the PDF) to pixels from the top-left."""
        return x * SCALE, (height - y) * SCALE

    def at(fx: float, fy: float) -> tuple[float, float]:
        return px(left + fx * plot_w, bottom + fy * plot_h)

    black, grid, tick_font = (0, 0, 0), (227, 231, 235), _font(_TICK_FONT)
    draw.rectangle([at(0, 1), at(1, 0)], fill=(251, 252, 253))
    for tick in chart.y.ticks:
        draw.line([at(0, tick.at), at(1, tick.at)], fill=grid, width=2)
        draw.text(
            px(left - 4, bottom + tick.at * plot_h),
            tick.label,
            fill=black,
            font=tick_font,
            anchor="rm",
        )
    if chart.y2 is not None:
        for tick in chart.y2.ticks:
            x0, y0 = at(1, tick.at)
            draw.line([(x0, y0), (x0 + 3 * SCALE, y0)], fill=black, width=2)
            draw.text((x0 + 5 * SCALE, y0), tick.label, fill=black, font=tick_font, anchor="lm")
    for tick in _thin(chart.x.ticks, plot_w):
        x0, y0 = at(tick.at, 0)
        draw.line([(x0, y0), (x0, y0 + 3 * SCALE)], fill=black, width=2)
        draw.text((x0, y0 + 5 * SCALE), tick.label, fill=black, font=tick_font, anchor="mt")
    for bar in chart.bars:
        (x0, y0), (x1, y1) = at(bar.x0, bar.y1), at(bar.x1, bar.y0)
        draw.rectangle([x0, y0, max(x0, x1 - 1), max(y0, y1 - 1)], fill=_rgb(bar.color))
    for line in [*chart.guides, *chart.lines]:
        color = _rgb(line.color)
        for segment in line.segments:
            points = [at(*p) for p in segment]
            if line.lines and len(points) > 1:
                _dashed(draw, points, color, 4, _DASHES.get(line.dash))
            if line.markers:
                r = 1.8 * SCALE
                for x1, y1 in points:
                    draw.ellipse([x1 - r, y1 - r, x1 + r, y1 + r], fill=color)
    draw.line([at(0, 0), at(1, 0)], fill=black, width=2)
    draw.line([at(0, 0), at(0, 1)], fill=black, width=2)
    if chart.y2 is not None:
        draw.line([at(1, 0), at(1, 1)], fill=black, width=2)
    label_font = _font(8)
    if chart.x.title:
        draw.text(
            px(left + plot_w / 2, bottom - 17),
            chart.x.title,
            fill=black,
            font=label_font,
            anchor="mt",
        )
    for title, x in ((chart.y.title, 2.0), (chart.y2.title if chart.y2 else "", width - 12.0)):
        if title:
            box = label_font.getbbox(title)
            label = Image.new("RGB", (int(box[2]) + 4, round(11 * SCALE)), "white")
            ImageDraw.Draw(label).text((2, 0), title, fill=black, font=label_font)
            turned = label.rotate(90, expand=True)
            _, y = at(0, 0.5)
            image.paste(turned, (round(x * SCALE), round(y - turned.height / 2)))
    legend_top = bottom - 16 - (12 if chart.x.title else 0) - 6
    for (row, x), entry in zip(legend, chart.legend, strict=True):
        y = legend_top - row * 12
        color = _rgb(entry.color)
        if entry.kind == "bar":
            draw.rectangle([px(x, y + 6), px(x + 8, y - 1)], fill=color)
        else:
            _dashed(draw, [px(x, y + 2.5), px(x + 14, y + 2.5)], color, 4, _DASHES.get(entry.dash))
        draw.text(px(x + 18, y + 2.5), entry.name, fill=black, font=tick_font, anchor="lm")
    out = io.BytesIO()
    dpi = round(72 * SCALE)
    image.save(out, format="PNG", dpi=(dpi, dpi), optimize=False)
    return out.getvalue()
