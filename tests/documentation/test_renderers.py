"""The PDF and Word exports, read back as a reader's tools would read them."""

from __future__ import annotations

import io
import re

import docx
import markdown
import nh3
import pytest
from pypdf import PdfReader

from apps.documentation.blocks import (
    CodeBlock,
    Heading,
    ListItem,
    Paragraph,
    TableBlock,
    parse_blocks,
    plain_text,
)
from apps.documentation.chart_data import extract_chart
from apps.documentation.document import Document, Part, Table
from apps.documentation.pdf import render_pdf
from apps.documentation.word import render_docx

HASH = "9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08"

PURPOSE = """### Intended use

The model scores *retail* loan applications. If a < b & c then — costs rise by €5 or more.

1. First step
2. Second step
    - nested detail *alpha*
    - nested detail beta
3. Third step

See [the policy](https://example.com/policy?a=1&b=2).

```
def score(x):
    return x  <  0.5
```
"""
DATA = """#### Training data

| source | rows |
|--------|------|
| bureau extract | 120000 |
| applications | 98000 |

> Data older than 2019 was excluded.

---
"""

LINE_CHART = {
    "data": [
        {
            "x": [f"2026-03-{d:02d}" for d in range(1, 15)],
            "y": [0.8 + d / 100 for d in range(14)],
            "mode": "lines+markers",
            "name": "AUC",
        },
        {
            "x": ["2026-03-01", "2026-03-14"],
            "y": [0.82, 0.82],
            "mode": "lines",
            "name": "at validation",
            "line": {"dash": "dot"},
        },
    ],
    "layout": {
        "title": {"text": "AUC by day"},
        "xaxis": {"title": {"text": "day"}},
        "yaxis": {"title": {"text": "AUC"}},
    },
}
BAR_CHART = {
    "data": [
        {"type": "bar", "x": ["age", "income", "region"], "y": [0.05, 0.3, 0.12], "name": "PSI"},
        {"type": "heatmap", "z": [[1, 2], [3, 4]]},
    ],
    "layout": {"title": {"text": "PSI per feature"}, "yaxis": {"title": {"text": "PSI"}}},
}


def _html(text: str) -> str:
    return nh3.clean(markdown.markdown(text, extensions=["tables", "fenced_code"]))


def _document() -> Document:
    return Document(
        title="Loan default v3: model documentation",
        subtitle="Revision 3, draft",
        generated="5 Dec 2026, 20:15 UTC",
        parts=[
            Part(
                key="purpose",
                title="Purpose and intended use",
                kind="narrative",
                mapping={"SR 26-2": "Purpose and use", "EU AI Act Annex IV": "1(a)"},
                html=_html(PURPOSE),
            ),
            Part(key="data", title="Data and its provenance", kind="narrative", html=_html(DATA)),
            Part(
                key="artefact",
                title="Artefact and lineage",
                kind="facts",
                facts=[("Artefact SHA-256", HASH), ("Owner", "Zoë Müller")],
                tables=[
                    Table(
                        columns=["feature", "type", "missing share"],
                        rows=[["debt_to_income", "float", "0.4%"], ["region", "category", "0%"]],
                        caption="Features used",
                    )
                ],
            ),
            Part(
                key="monitoring",
                title="Monitoring results",
                kind="facts",
                charts=[LINE_CHART, BAR_CHART],
            ),
            Part(
                key="limits",
                title="Known limitations",
                kind="narrative",
                empty="No limitations recorded.",
            ),
        ],
    )


TITLES = [
    "Purpose and intended use",
    "Data and its provenance",
    "Artefact and lineage",
    "Monitoring results",
    "Known limitations",
]


@pytest.fixture(scope="module")
def pdf() -> PdfReader:
    return PdfReader(io.BytesIO(render_pdf(_document())))


@pytest.fixture(scope="module")
def pdf_text(pdf: PdfReader) -> str:
    return "\n".join(page.extract_text() for page in pdf.pages)


@pytest.fixture(scope="module")
def word() -> docx.document.Document:
    return docx.Document(io.BytesIO(render_docx(_document())))


def test_pdf_has_pages_and_every_part_title(pdf: PdfReader, pdf_text: str) -> None:
    assert len(pdf.pages) >= 1
    for title in TITLES:
        assert title in pdf_text
    assert "Revision 3, draft" in pdf_text
    assert "SR 26-2: Purpose and use · EU AI Act Annex IV: 1(a)" in pdf_text
    assert "No limitations recorded." in pdf_text


def test_pdf_keeps_user_text_literal_and_unicode(pdf_text: str) -> None:
    assert "If a < b & c then — costs rise by €5 or more." in pdf_text
    assert "return x  <  0.5" in pdf_text
    assert "nested detail alpha" in pdf_text
    assert "Second step" in pdf_text


def test_pdf_tables_and_hash(pdf_text: str) -> None:
    assert HASH in re.sub(r"\s+", "", pdf_text)
    assert "bureau extract" in pdf_text
    assert "debt_to_income" in pdf_text
    assert "Features used" in pdf_text
    assert "Zoë Müller" in pdf_text


def test_pdf_charts_have_labels_and_note(pdf_text: str) -> None:
    assert "AUC by day" in pdf_text
    assert "income" in pdf_text
    assert "(1 trace of other kinds not drawn)" in pdf_text
    # Date ticks are readable dates, not epoch seconds.
    assert "4 Mar 2026" in pdf_text


def test_pdf_outline_and_metadata(pdf: PdfReader) -> None:
    assert [item.title for item in pdf.outline] == TITLES
    assert pdf.metadata is not None
    assert pdf.metadata.title == "Loan default v3: model documentation"


def test_pdf_footer_numbers_pages(pdf: PdfReader) -> None:
    for number, page in enumerate(pdf.pages, start=1):
        text = page.extract_text()
        assert f"page {number}" in text
        assert "Loan default v3: model documentation" in text


def test_word_headings_in_order(word: docx.document.Document) -> None:
    headings = [p.text for p in word.paragraphs if p.style.name == "Heading 1"]
    assert headings == TITLES
    assert word.paragraphs[0].text == "Loan default v3: model documentation"
    assert word.core_properties.title == "Loan default v3: model documentation"
    subheadings = {p.style.name: p.text for p in word.paragraphs if p.style.name[:9] == "Heading 3"}
    assert subheadings == {"Heading 3": "Intended use"}
    assert any(p.style.name == "Heading 4" and p.text == "Training data" for p in word.paragraphs)


def test_word_lists_and_runs(word: docx.document.Document) -> None:
    styles = {p.text: p.style.name for p in word.paragraphs}
    assert styles["First step"] == "List Number"
    assert styles["Third step"] == "List Number"
    assert styles["nested detail alpha"] == "List Bullet 2"
    literal = next(p for p in word.paragraphs if "a < b & c" in p.text)
    assert "If a < b & c then — costs rise by €5 or more." in literal.text
    assert any(r.italic and r.text == "retail" for r in literal.runs)
    code = next(p for p in word.paragraphs if "def score" in p.text)
    assert all(r.font.name == "Courier New" for r in code.runs)
    assert "return x  <  0.5" in code.text
    assert any(
        p.style.name == "Quote" and p.text == "Data older than 2019 was excluded."
        for p in word.paragraphs
    )


def test_word_link_is_a_hyperlink(word: docx.document.Document) -> None:
    targets = [rel.target_ref for rel in word.part.rels.values() if rel.is_external]
    assert "https://example.com/policy?a=1&b=2" in targets
    assert any("the policy" in p.text for p in word.paragraphs)


def test_word_tables(word: docx.document.Document) -> None:
    cells = [[[c.text for c in row.cells] for row in table.rows] for table in word.tables]
    facts = next(t for t in cells if t[0][0] == "Artefact SHA-256")
    assert facts[0][1] == HASH
    narrative = next(t for t in cells if t[0] == ["source", "rows"])
    assert narrative[1:] == [["bureau extract", "120000"], ["applications", "98000"]]
    features = next(t for t in cells if t[0] == ["feature", "type", "missing share"])
    assert features[1] == ["debt_to_income", "float", "0.4%"]
    assert all(t.style.name == "Table Grid" for t in word.tables)
    assert any(p.style.name == "Caption" and p.text == "Features used" for p in word.paragraphs)


def test_word_draws_each_chart(word: docx.document.Document) -> None:
    assert len(word.inline_shapes) == 2
    assert all(abs(shape.width.cm - 15) < 0.01 for shape in word.inline_shapes)
    assert any(p.text == "(1 trace of other kinds not drawn)" for p in word.paragraphs)


def test_word_restarts_numbering_for_a_new_list() -> None:
    html = "<ol><li>one</li><li>two</li></ol><p>between</p><ol><li>again</li></ol>"
    doc = Document(
        title="t", subtitle="s", generated="g", parts=[Part("k", "P", "narrative", html=html)]
    )
    word = docx.Document(io.BytesIO(render_docx(doc)))
    num_ids = {
        p.text: p._p.pPr.numPr.numId.val for p in word.paragraphs if p.style.name == "List Number"
    }
    assert num_ids["one"] == num_ids["two"]
    assert num_ids["again"] != num_ids["one"]


def test_blocks_nested_lists() -> None:
    blocks = parse_blocks(_html(PURPOSE))
    items = [
        (b.depth, b.ordered, b.number, plain_text(b.runs))
        for b in blocks
        if isinstance(b, ListItem)
    ]
    assert items == [
        (0, True, 1, "First step"),
        (0, True, 2, "Second step"),
        (1, False, 1, "nested detail alpha"),
        (1, False, 2, "nested detail beta"),
        (0, True, 3, "Third step"),
    ]
    assert isinstance(blocks[0], Heading)
    assert blocks[0].level == 3


def test_blocks_pre_keeps_newlines_and_entities() -> None:
    blocks = parse_blocks(
        "<pre><code>\nif a &lt; b:\n    c &amp;= 1\n</code></pre>"
        "<p>x &amp;\n  y&nbsp;&nbsp;z<br>w</p>"
    )
    assert blocks[0] == CodeBlock("if a < b:\n    c &= 1")
    assert isinstance(blocks[1], Paragraph)
    # Whitespace collapses like a browser's; no-break spaces are text.
    assert plain_text(blocks[1].runs) == "x & y\u00a0\u00a0z\nw"


def test_blocks_runs_flags_and_unknown_tags() -> None:
    (block,) = parse_blocks(
        '<p><strong>bold <em>both</em></strong> <span>kept</span> <a href="/x">rel</a> '
        '<a href="https://e.org">abs</a> <del>gone</del> <code>c</code></p>'
    )
    assert isinstance(block, Paragraph)
    flags = {r.text.strip(): (r.bold, r.italic, r.strike, r.code, r.href) for r in block.runs}
    assert flags["both"] == (True, True, False, False, "")
    assert flags["abs"] == (False, False, False, False, "https://e.org")
    assert flags["gone"] == (False, False, True, False, "")
    assert flags["c"] == (False, False, False, True, "")
    assert "kept rel" in plain_text(block.runs)


def test_blocks_table() -> None:
    (table,) = parse_blocks(
        "<table><thead><tr><th>a</th><th>b</th></tr></thead>"
        "<tbody><tr><td>1 &lt; 2</td><td><em>x</em>  y</td></tr><tr><td>3</td></tr></tbody></table>"
    )
    assert table == TableBlock(header=[["a", "b"]], body=[["1 < 2", "x y"], ["3", ""]])


def test_chart_with_dates() -> None:
    chart = extract_chart(LINE_CHART)
    assert chart.title == "AUC by day"
    assert chart.x.title == "day"
    assert chart.y.title == "AUC"
    assert chart.skipped == 0
    auc, validation = chart.lines
    assert validation.dash == "dot"
    (points,) = auc.segments
    assert len(points) == 14
    # Evenly spaced days land evenly on the axis, first at the left edge, last at the right.
    xs = [x for x, _ in points]
    assert xs[0] == pytest.approx(0)
    assert xs[-1] == pytest.approx(1)
    assert xs[1] - xs[0] == pytest.approx(xs[2] - xs[1])
    labels = [t.label for t in chart.x.ticks]
    assert "4 Mar 2026" in labels
    assert all(0 <= t.at <= 1 for t in chart.x.ticks)
    y_labels = [float(t.label) for t in chart.y.ticks]
    assert min(y_labels) <= 0.8
    assert max(y_labels) >= 0.93


def test_chart_with_categories_and_a_skipped_trace() -> None:
    chart = extract_chart(BAR_CHART)
    assert [t.label for t in chart.x.ticks] == ["age", "income", "region"]
    assert chart.skipped == 1
    assert chart.skipped_note == "(1 trace of other kinds not drawn)"
    age, income, region = chart.bars
    assert age.x1 < income.x0 < income.x1 < region.x0
    assert age.y0 == pytest.approx(0)
    assert income.y1 == pytest.approx(1)  # 0.3 is the top tick
    assert region.y1 == pytest.approx(0.12 / 0.3)


def test_chart_of_only_other_kinds_draws_nothing() -> None:
    chart = extract_chart({"data": [{"type": "heatmap", "z": [[1]]}], "layout": {}})
    assert not chart.drawable
    assert chart.skipped_note == "(1 trace of other kinds not drawn)"
