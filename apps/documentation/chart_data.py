"""What the PDF and Word files can draw of a Plotly figure, already laid out in plot coordinates.

``extract_chart`` reads the figure's scatter and bar traces and returns everything in fractions
of the plot area (0 at the left/bottom, 1 at the right/top), with tick positions and labels, so a
renderer only scales and draws. Other trace kinds (heatmaps, ...) are counted, not drawn.
"""

from __future__ import annotations

import base64
import math
import re
from array import array
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from itertools import pairwise
from typing import Any

Point = tuple[float, float]

# plotly.js's default colorway, so the files look like the page.
PALETTE = [
    "#636efa",
    "#ef553b",
    "#00cc96",
    "#ab63fa",
    "#ffa15a",
    "#19d3f3",
    "#ff6692",
    "#b6e880",
    "#ff97ff",
    "#fecb52",
]
_NAMED = {
    "black": "#000000",
    "white": "#ffffff",
    "red": "#ff0000",
    "green": "#008000",
    "blue": "#0000ff",
    "grey": "#808080",
    "gray": "#808080",
    "orange": "#ffa500",
    "purple": "#800080",
    "steelblue": "#4682b4",
}
_MONTHS = ("Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec")
_DATE = re.compile(r"^\d{4}-\d{2}-\d{2}([ T]\d{2}:\d{2}(:\d{2}(\.\d+)?)?)?(Z|[+-]\d{2}:?\d{2})?$")
_TAG = re.compile(r"<[^>]*>")
_RGB = re.compile(r"rgba?\(\s*([\d.]+)\s*,\s*([\d.]+)\s*,\s*([\d.]+)\s*(,\s*[\d.]+\s*)?\)")
_TYPED = {"f8": "d", "f4": "f", "i1": "b", "u1": "B", "i2": "h", "u2": "H", "i4": "i", "u4": "I"}
_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
_X_TICKS = 6
_Y_TICKS = 5
_MAX_CATEGORY_LABEL = 22


@dataclass(frozen=True)
class Tick:
    at: float  # fraction of the axis
    label: str


@dataclass(frozen=True)
class Axis:
    title: str
    ticks: list[Tick]


@dataclass(frozen=True)
class Line:
    """A scatter trace: polylines broken at gaps and at the plot's edge, and markers or not."""

    name: str
    color: str
    dash: str  # "", "dot", "dash" or "dashdot"
    segments: list[list[Point]]
    lines: bool
    markers: bool
    axis: int  # 1: left y axis, 2: right


@dataclass(frozen=True)
class Bar:
    x0: float
    y0: float
    x1: float
    y1: float
    color: str


@dataclass(frozen=True)
class LegendEntry:
    name: str
    color: str
    kind: str  # "line" or "bar"
    dash: str = ""


@dataclass(frozen=True)
class Chart:
    title: str
    x: Axis
    y: Axis
    y2: Axis | None
    bars: list[Bar]
    lines: list[Line]
    guides: list[Line]  # layout shapes of type "line" (thresholds, markers)
    legend: list[LegendEntry]
    skipped: int
    categories_on_y: bool = False  # horizontal bars: y labels need room
    notes: list[str] = field(default_factory=list)

    @property
    def skipped_note(self) -> str:
        if not self.skipped:
            return ""
        noun = "trace" if self.skipped == 1 else "traces"
        return f"({self.skipped} {noun} of other kinds not drawn)"

    @property
    def drawable(self) -> bool:
        return bool(self.bars or self.lines)


def text_of(value: Any) -> str:
    """A Plotly title (a string or {"text": ...}, possibly with <br> and <b>) as plain text; a
    title's subtitle (the charts put their details there, to fit a phone) follows a comma."""
    if isinstance(value, dict):
        subtitle = text_of(value.get("subtitle"))
        value = value.get("text", "")
        if subtitle and isinstance(value, str):
            value = f"{value}, {subtitle}"
    if not isinstance(value, str):
        return ""
    value = re.sub(r"<br\s*/?>", " ", value, flags=re.IGNORECASE)
    return re.sub(r"\s+", " ", _TAG.sub("", value)).strip()


def color_of(value: Any, fallback: str) -> str:
    """A colour as "#rrggbb"; transparency is dropped (both renderers draw opaque shapes)."""
    if not isinstance(value, str):
        return fallback
    value = value.strip().lower()
    if re.fullmatch(r"#[0-9a-f]{6}", value):
        return value
    if re.fullmatch(r"#[0-9a-f]{3}", value):
        return "#" + "".join(c * 2 for c in value[1:])
    found = re.fullmatch(
        r"rgba?\(\s*([\d.]+)\s*,\s*([\d.]+)\s*,\s*([\d.]+)\s*(,\s*[\d.]+\s*)?\)", value
    )
    if found:
        r, g, b = (max(0, min(255, round(float(c)))) for c in found.groups()[:3])
        return f"#{r:02x}{g:02x}{b:02x}"
    return _NAMED.get(value, fallback)


def lighten(color: str, opacity: float) -> str:
    """The colour as it looks at this opacity over white."""
    opacity = max(0.0, min(1.0, opacity))
    channels = [int(color[i : i + 2], 16) for i in (1, 3, 5)]
    r, g, b = (round(255 - (255 - c) * opacity) for c in channels)
    return f"#{r:02x}{g:02x}{b:02x}"


def values(raw: Any) -> list[Any]:
    """A data array: a list, or plotly.py's typed-array JSON ({"dtype": "f8", "bdata": ...})."""
    if isinstance(raw, dict) and "bdata" in raw and raw.get("dtype") in _TYPED:
        decoded = array(_TYPED[raw["dtype"]])
        decoded.frombytes(base64.b64decode(raw["bdata"]))
        return list(decoded)
    if isinstance(raw, list | tuple):
        return list(raw)
    return []


def number(value: Any) -> float | None:
    if isinstance(value, bool) or value is None:
        return None
    if isinstance(value, int | float):
        result = float(value)
    elif isinstance(value, str):
        try:
            result = float(value.replace(",", ""))
        except ValueError:
            return None
    else:
        return None
    return result if math.isfinite(result) else None


def parse_date(value: Any) -> datetime | None:
    if not isinstance(value, str) or not _DATE.match(value.strip()):
        return None
    try:
        parsed = datetime.fromisoformat(value.strip())
    except ValueError:
        return None
    return parsed.replace(tzinfo=UTC) if parsed.tzinfo is None else parsed.astimezone(UTC)


def nice_step(span: float, count: int) -> float:
    raw = span / max(1, count)
    if raw <= 0 or not math.isfinite(raw):
        return 1.0
    magnitude = 10 ** math.floor(math.log10(raw))
    for multiple in (1, 2, 5, 10):
        if multiple * magnitude >= raw * 0.999:
            return multiple * magnitude
    return 10 * magnitude


def number_label(value: float, step: float, percent: bool = False) -> str:
    if percent:
        value, step = value * 100, step * 100
    if abs(value) < step * 1e-9:
        value = 0.0
    largest = max(abs(value), step)
    if largest >= 1e7 or step < 1e-4:
        text = f"{value:.3g}"
    else:
        decimals = max(0, -math.floor(math.log10(step) + 1e-9))
        text = f"{value:,.{decimals}f}"
    return text + "%" if percent else text


def date_label(moment: datetime, unit: str, span_days: float) -> str:
    day = f"{moment.day} {_MONTHS[moment.month - 1]}"
    if unit == "year":
        return str(moment.year)
    if unit == "month":
        return f"{_MONTHS[moment.month - 1]} {moment.year}"
    if unit == "day":
        return f"{day} {moment.year}"
    clock = f"{moment.hour:02d}:{moment.minute:02d}"
    return clock if span_days <= 1 else f"{day} {clock}"


_DATE_STEPS: list[tuple[str, int, float]] = [
    (unit, n, seconds * n)
    for unit, seconds, counts in (
        ("minute", 60, (1, 5, 15, 30)),
        ("hour", 3600, (1, 3, 6, 12)),
        ("day", 86400, (1, 2, 3, 7, 14)),
        ("month", 30.44 * 86400, (1, 3, 6)),
        ("year", 365.25 * 86400, (1, 2, 5, 10, 20, 50, 100, 200, 500, 1000)),
    )
    for n in counts
]


def _seconds(moment: datetime) -> float:
    return (moment - _EPOCH).total_seconds()


def date_ticks(lo: float, hi: float, count: int = _X_TICKS) -> list[tuple[float, str]]:
    """Ticks at round calendar moments (midnights, first days of months, new years)."""
    span = hi - lo
    unit, n, _ = next(
        (s for s in _DATE_STEPS if span / s[2] <= count), ("year", 1000, 1000 * 365.25 * 86400)
    )
    start = _EPOCH + timedelta(seconds=lo)
    if unit == "minute":
        moment = start.replace(second=0, microsecond=0, minute=start.minute - start.minute % n)
    elif unit == "hour":
        moment = start.replace(minute=0, second=0, microsecond=0, hour=start.hour - start.hour % n)
    elif unit == "day":
        moment = start.replace(hour=0, minute=0, second=0, microsecond=0)
    elif unit == "month":
        month0 = start.month - 1 - (start.month - 1) % n
        moment = start.replace(month=month0 + 1, day=1, hour=0, minute=0, second=0, microsecond=0)
    else:
        year = max(1, start.year - start.year % n)
        moment = start.replace(year=year, month=1, day=1, hour=0, minute=0, second=0, microsecond=0)
    ticks: list[tuple[float, str]] = []
    span_days = span / 86400
    while _seconds(moment) <= hi + 1e-6 and len(ticks) < 50:
        at = _seconds(moment)
        if at >= lo - 1e-6:
            ticks.append((at, date_label(moment, unit, span_days)))
        if unit == "month":
            month0 = moment.month - 1 + n
            moment = moment.replace(year=moment.year + month0 // 12, month=month0 % 12 + 1)
        elif unit == "year":
            if moment.year + n > 9999:
                break
            moment = moment.replace(year=moment.year + n)
        else:
            step = {"minute": 60, "hour": 3600, "day": 86400}[unit] * n
            moment += timedelta(seconds=step)
    return ticks


def number_ticks(
    lo: float, hi: float, count: int, percent: bool = False
) -> list[tuple[float, str]]:
    step = nice_step(hi - lo, count)
    first = math.ceil(lo / step - 1e-9)
    ticks: list[tuple[float, str]] = []
    k = first
    while k * step <= hi + step * 1e-9 and len(ticks) < 50:
        ticks.append((k * step, number_label(k * step, step, percent)))
        k += 1
    return ticks


def value_range(found: list[float], spec: dict[str, Any], *, zero: bool) -> tuple[float, float]:
    """An axis range from its values: the layout's own range if set, else widened to ticks."""
    explicit = spec.get("range")
    if isinstance(explicit, list) and len(explicit) == 2:
        lo, hi = number(explicit[0]), number(explicit[1])
        if lo is not None and hi is not None and lo != hi:
            return min(lo, hi), max(lo, hi)
    lo = min(found, default=0.0)
    hi = max(found, default=1.0)
    if zero or spec.get("rangemode") in ("tozero", "nonnegative"):
        lo, hi = min(lo, 0.0), max(hi, 0.0)
    if lo == hi:
        pad = abs(lo) * 0.1 or 1.0
        lo, hi = lo - pad, hi + pad
    step = nice_step(hi - lo, _Y_TICKS)
    return math.floor(lo / step + 1e-9) * step, math.ceil(hi / step - 1e-9) * step


def clip_segment(a: Point, b: Point) -> tuple[Point, Point] | None:
    """Liang-Barsky clipping of a segment to the unit square."""
    t0, t1 = 0.0, 1.0
    dx, dy = b[0] - a[0], b[1] - a[1]
    for p, q in ((-dx, a[0]), (dx, 1 - a[0]), (-dy, a[1]), (dy, 1 - a[1])):
        if p == 0:
            if q < 0:
                return None
            continue
        t = q / p
        if p < 0:
            t0 = max(t0, t)
        else:
            t1 = min(t1, t)
        if t0 > t1:
            return None
    return (a[0] + t0 * dx, a[1] + t0 * dy), (a[0] + t1 * dx, a[1] + t1 * dy)


def clip_polyline(points: list[Point | None]) -> list[list[Point]]:
    """Segments inside the plot; None in ``points`` is a gap in the data."""
    segments: list[list[Point]] = []
    current: list[Point] = []
    previous: Point | None = None
    for point in points:
        if point is None:
            previous = None
            continue
        if previous is None:
            if current:
                segments.append(current)
            inside = 0 <= point[0] <= 1 and 0 <= point[1] <= 1
            current = [point] if inside else []
            previous = point
            continue
        clipped = clip_segment(previous, point)
        previous = point
        if clipped is None:
            if current:
                segments.append(current)
            current = []
            continue
        start, end = clipped
        if not current or current[-1] != start:
            if current:
                segments.append(current)
            current = [start]
        current.append(end)
    if current:
        segments.append(current)
    return segments


def _dash(value: Any) -> str:
    if not isinstance(value, str) or value in ("", "solid"):
        return ""
    if "dot" in value and "dash" in value:
        return "dashdot"
    return "dot" if "dot" in value else "dash"


def _trace_kind(trace: dict[str, Any]) -> str:
    kind = trace.get("type") or "scatter"
    if kind in ("scatter", "scattergl"):
        return "scatter"
    if kind == "bar":
        return "hbar" if trace.get("orientation") == "h" else "bar"
    return "other"


def extract_chart(figure: dict[str, Any]) -> Chart:
    layout = figure.get("layout") or {}
    traces = [t for t in figure.get("data") or [] if isinstance(t, dict)]
    traces = [t for t in traces if t.get("visible", True) is True]
    kinds = [_trace_kind(t) for t in traces]
    horizontal = "hbar" in kinds and all(k in ("hbar", "other") for k in kinds)
    drawn: list[tuple[int, dict[str, Any], str]] = []
    skipped = 0
    for index, (trace, kind) in enumerate(zip(traces, kinds, strict=True)):
        wanted = kind == "hbar" if horizontal else kind in ("scatter", "bar")
        # Traces on other subplots or on a third y axis would be drawn against the wrong scale.
        position_ref = trace.get("yaxis" if horizontal else "xaxis") or ("y" if horizontal else "x")
        value_ref = trace.get("xaxis" if horizontal else "yaxis") or ("x" if horizontal else "y")
        if position_ref not in ("x", "y") or value_ref not in ("x", "y", "y2") or not wanted:
            skipped += 1
            continue
        drawn.append((index, trace, kind))

    position_spec = layout.get("yaxis" if horizontal else "xaxis") or {}
    value_spec = layout.get("xaxis" if horizontal else "yaxis") or {}
    value2_spec = layout.get("yaxis2") or {}

    # Positions along the category/time/number axis, as numbers.
    raw_positions: list[list[Any]] = []
    raw_values: list[list[float | None]] = []
    for _, trace, _kind in drawn:
        vals = [number(v) for v in values(trace.get("x" if horizontal else "y"))]
        pos = values(trace.get("y" if horizontal else "x"))
        if not pos:
            pos = list(range(len(vals)))
        n = min(len(pos), len(vals))
        raw_positions.append(pos[:n])
        raw_values.append(vals[:n])

    every = [p for ps in raw_positions for p in ps if p is not None]
    axis_type = position_spec.get("type")
    if axis_type == "category" or (
        axis_type not in ("date", "linear") and any(number(p) is None for p in every)
    ):
        is_date = axis_type != "category" and bool(every) and all(parse_date(p) for p in every)
        scale = "date" if is_date else "category"
    elif axis_type == "date":
        scale = "date"
    else:
        scale = "number"

    categories: dict[str, int] = {}
    positions: list[list[float | None]] = []
    for ps in raw_positions:
        converted: list[float | None] = []
        for p in ps:
            if p is None:
                converted.append(None)
            elif scale == "category":
                converted.append(float(categories.setdefault(str(p), len(categories))))
            elif scale == "date":
                moment = parse_date(p)
                converted.append(_seconds(moment) if moment else None)
            else:
                converted.append(number(p))
        positions.append(converted)

    has_bars = any(kind != "scatter" for _, _, kind in drawn)
    distinct = sorted({p for ps in positions for p in ps if p is not None})
    gaps = [b - a for a, b in pairwise(distinct) if b > a]
    slot = min(gaps) if gaps else 1.0
    if scale == "date" and not gaps:
        slot = 86400.0

    if scale == "category":
        p_lo, p_hi = -0.5, max(0, len(categories) - 1) + 0.5
    else:
        explicit = position_spec.get("range")
        p_lo = min(distinct, default=0.0)
        p_hi = max(distinct, default=1.0)
        if has_bars:
            p_lo, p_hi = p_lo - slot / 2, p_hi + slot / 2
        if scale == "number" and isinstance(explicit, list) and len(explicit) == 2:
            lo, hi = number(explicit[0]), number(explicit[1])
            if lo is not None and hi is not None and lo != hi:
                p_lo, p_hi = min(lo, hi), max(lo, hi)
        if p_lo == p_hi:
            p_lo, p_hi = p_lo - slot / 2, p_hi + slot / 2

    # Bars: grouped side by side, stacked or overlaid, as plotly's barmode says.
    barmode = layout.get("barmode") or "group"
    bar_traces = [i for i, (_, _, kind) in enumerate(drawn) if kind != "scatter"]
    group_width = slot * 0.8
    stacks: dict[tuple[int, float, bool], float] = {}
    rects: list[tuple[int, float, float, float, float, str, int]] = []
    for order, i in enumerate(bar_traces):
        _, trace, _ = drawn[i]
        axis = 2 if (trace.get("xaxis" if horizontal else "yaxis") == "y2") else 1
        marker = trace.get("marker") or {}
        base_color = color_of(marker.get("color"), PALETTE[drawn[i][0] % len(PALETTE)])
        per_bar = marker.get("color") if isinstance(marker.get("color"), list) else None
        opacity = number(trace.get("opacity"))
        if barmode == "group" and len(bar_traces) > 1:
            width = group_width / len(bar_traces)
            offset = -group_width / 2 + width * order
        else:
            width, offset = group_width, -group_width / 2
        for k, (p, v) in enumerate(zip(positions[i], raw_values[i], strict=True)):
            if p is None or v is None:
                continue
            base = 0.0
            if barmode in ("stack", "relative"):
                key = (axis, p, v >= 0)
                base = stacks.get(key, 0.0)
                stacks[key] = base + v
            color = color_of(per_bar[k], base_color) if per_bar and k < len(per_bar) else base_color
            if opacity is not None and opacity < 1:
                color = lighten(color, opacity)
            rects.append((axis, p + offset, p + offset + width, base, base + v, color, i))

    def axis_values(axis: int) -> list[float]:
        found = [
            v
            for i, (_, trace, kind) in enumerate(drawn)
            if kind == "scatter"
            and (2 if trace.get("xaxis" if horizontal else "yaxis") == "y2" else 1) == axis
            for v in raw_values[i]
            if v is not None
        ]
        found += [edge for r in rects if r[0] == axis for edge in (r[3], r[4])]
        return found

    uses_y2 = any(trace.get("yaxis") == "y2" for _, trace, _ in drawn) and not horizontal
    v1 = value_range(axis_values(1), value_spec, zero=any(r[0] == 1 for r in rects))
    v2 = value_range(axis_values(2), value2_spec, zero=any(r[0] == 2 for r in rects))

    def frac(value: float, lo: float, hi: float) -> float:
        return (value - lo) / (hi - lo)

    def point(p: float, v: float, axis: int) -> Point:
        lo, hi = v2 if axis == 2 else v1
        fp, fv = frac(p, p_lo, p_hi), frac(v, lo, hi)
        return (fv, fp) if horizontal else (fp, fv)

    bars: list[Bar] = []
    for axis, a, b, base, top, color, _ in rects:
        (x0, y0), (x1, y1) = point(a, base, axis), point(b, top, axis)
        x0, x1 = sorted((max(0.0, min(1.0, x0)), max(0.0, min(1.0, x1))))
        y0, y1 = sorted((max(0.0, min(1.0, y0)), max(0.0, min(1.0, y1))))
        if x1 > x0 or y1 > y0:
            bars.append(Bar(x0, y0, x1, y1, color))

    lines: list[Line] = []
    legend: list[LegendEntry] = []
    for i, (index, trace, kind) in enumerate(drawn):
        name = text_of(trace.get("name")) or f"trace {index}"
        fallback = PALETTE[index % len(PALETTE)]
        if kind != "scatter":
            marker_color = (trace.get("marker") or {}).get("color")
            color = color_of(marker_color, fallback)
            legend.append(LegendEntry(name, color, "bar"))
            continue
        line_spec = trace.get("line") or {}
        color = color_of(
            line_spec.get("color") or (trace.get("marker") or {}).get("color"), fallback
        )
        axis = 2 if trace.get("yaxis") == "y2" else 1
        mode = trace.get("mode") or ("lines+markers" if len(raw_values[i]) < 20 else "lines")
        pts: list[Point | None] = [
            None if p is None or v is None else point(p, v, axis)
            for p, v in zip(positions[i], raw_values[i], strict=True)
        ]
        dash = _dash(line_spec.get("dash"))
        lines.append(
            Line(
                name=name,
                color=color,
                dash=dash,
                segments=clip_polyline(pts),
                lines="lines" in mode,
                markers="markers" in mode,
                axis=axis,
            )
        )
        legend.append(LegendEntry(name, color, "line", dash))
    show_legend = len(legend) > 1 or any(t.get("showlegend") is True for _, t, _ in drawn)

    # Position axis ticks.
    if scale == "category":
        names = list(categories)
        every_nth = max(1, math.ceil(len(names) / (20 if horizontal else 12)))
        position_ticks = [
            (float(k), _shorten(label)) for k, label in enumerate(names) if k % every_nth == 0
        ]
    elif scale == "date":
        position_ticks = date_ticks(p_lo, p_hi)
    else:
        position_ticks = number_ticks(
            p_lo, p_hi, _X_TICKS, str(position_spec.get("tickformat", "")).endswith("%")
        )
    position_axis = Axis(
        text_of(position_spec.get("title")),
        [Tick(frac(at, p_lo, p_hi), label) for at, label in position_ticks],
    )

    def value_axis(spec: dict[str, Any], lo: float, hi: float) -> Axis:
        percent = str(spec.get("tickformat", "")).endswith("%")
        return Axis(
            text_of(spec.get("title")),
            [
                Tick(frac(at, lo, hi), label)
                for at, label in number_ticks(lo, hi, _Y_TICKS, percent)
            ],
        )

    main_value_axis = value_axis(value_spec, *v1)
    guides = _guides(layout, horizontal, scale, (p_lo, p_hi), v1)
    return Chart(
        title=text_of(layout.get("title")),
        x=main_value_axis if horizontal else position_axis,
        y=position_axis if horizontal else main_value_axis,
        y2=value_axis(value2_spec, *v2) if uses_y2 else None,
        bars=bars,
        lines=lines,
        guides=guides,
        legend=legend if show_legend else [],
        skipped=skipped,
        categories_on_y=horizontal and scale == "category",
    )


def _shorten(label: str) -> str:
    label = text_of(label) or label
    if len(label) <= _MAX_CATEGORY_LABEL:
        return label
    return label[: _MAX_CATEGORY_LABEL - 1] + "…"


def _guides(
    layout: dict[str, Any],
    horizontal: bool,
    scale: str,
    positions: tuple[float, float],
    value: tuple[float, float],
) -> list[Line]:
    """Layout lines (thresholds, event markers) whose ends are in data or paper coordinates."""

    def coordinate(raw: Any, ref: Any, axis: str) -> float | None:
        if ref == "paper":
            return number(raw)
        is_position = (axis == "y") == horizontal
        lo, hi = positions if is_position else value
        if is_position and scale == "date":
            moment = parse_date(raw)
            found = _seconds(moment) if moment else None
        elif is_position and scale == "category":
            return None
        else:
            found = number(raw)
        return None if found is None else (found - lo) / (hi - lo)

    guides = []
    for shape in _iter_dicts(layout.get("shapes")):
        if shape.get("type") != "line":
            continue
        xref, yref = shape.get("xref", "x"), shape.get("yref", "y")
        if xref not in ("x", "paper") or yref not in ("y", "paper"):
            continue
        ends = [
            coordinate(shape.get("x0"), xref, "x"),
            coordinate(shape.get("y0"), yref, "y"),
            coordinate(shape.get("x1"), xref, "x"),
            coordinate(shape.get("y1"), yref, "y"),
        ]
        if any(e is None for e in ends):
            continue
        x0, y0, x1, y1 = (float(e) for e in ends if e is not None)
        spec = shape.get("line") or {}
        clipped = clip_segment((x0, y0), (x1, y1))
        if clipped is None:
            continue
        guides.append(
            Line(
                name="",
                color=color_of(spec.get("color"), "#6b7785"),
                dash=_dash(spec.get("dash")),
                segments=[list(clipped)],
                lines=True,
                markers=False,
                axis=1,
            )
        )
    return guides


def _iter_dicts(raw: Any) -> Iterable[dict[str, Any]]:
    return [item for item in raw if isinstance(item, dict)] if isinstance(raw, list) else []
