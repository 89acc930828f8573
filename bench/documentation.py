"""Documentation export benchmark: what writing a large document costs, format by format.

Run it from the repository root (about a minute)::

    .venv/bin/python bench/documentation.py
    .venv/bin/python bench/documentation.py --versions 20 --repeat 5

It builds, in this process and without a database, the ``Document`` of a version with a long
past: ``--versions`` earlier versions' worth of history (two deployments each, twenty audit
events each, as many findings), the six narrative sections at about 2 KB of Markdown each, the
validation report of a real model (the validation engine's own ``report.build`` on scikit-learn's
breast-cancer data, with its charts) and the monitoring charts of two live deployments over 90
days (the portal's own ``monitoring.charts.figures``). Then it times, ``--repeat`` times each, in
alternation:

- the baseline: the documentation tab's HTML (``documentation/_parts.html``), what the page
  costs to render for the same document;
- each export: the offline HTML file (plotly.js inlined), the PDF and the Word file.

It prints the median seconds, the ratio to the baseline and the file size, and writes every
figure to ``bench/results/documentation-<UTC timestamp>.json``. The portal writes every export in
a worker job (decisions §36); the figures say how long that job's rendering step takes.
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "bench"))
os.environ.setdefault("PORTAL_VAR_DIR", tempfile.mkdtemp(prefix="bench-docs-"))
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "mlops_portal.settings")

import django  # noqa: E402

django.setup()

import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402
from common import format_table, git_state, machine_info, utc_stamp, write_results  # noqa: E402
from django.template.loader import render_to_string  # noqa: E402
from sklearn.datasets import load_breast_cancer  # noqa: E402
from sklearn.linear_model import LogisticRegression  # noqa: E402
from sklearn.pipeline import make_pipeline  # noqa: E402
from sklearn.preprocessing import StandardScaler  # noqa: E402

from apps.core.markdown import render_markdown  # noqa: E402
from apps.documentation import defaults, services  # noqa: E402
from apps.documentation.document import Document, Part, Table  # noqa: E402
from apps.monitoring import charts as monitoring_charts  # noqa: E402
from apps.validation import charts as validation_charts  # noqa: E402
from apps.validation.engine import report  # noqa: E402

NARRATIVE = """### Purpose

Scores **retail loan applications** up to €50,000; the origination system declines above 0.35.

- Users: underwriters, the origination system
- Decisions: decline, refer, accept

| Source | Period | Rows |
| --- | --- | --- |
| Origination ledger | 2021 to 2024 | 4,200 |
| Bureau extract | same | joined |

Assumptions and limits are monitored with PSI; overrides are sampled quarterly.
"""


def validation_report() -> dict[str, Any]:
    data = load_breast_cancer(as_frame=True)
    frame = data.frame.rename(columns=lambda c: c.replace(" ", "_"))
    features = [c for c in frame.columns if c != "target"]
    model = make_pipeline(StandardScaler(), LogisticRegression(max_iter=500))
    model.fit(frame[features], frame["target"])
    return report.build(
        model,
        holdout=frame[[*features, "target"]],
        target="target",
        reference=frame[features].sample(200, random_state=1),
        sensitive=None,
        champion=None,
        progress=lambda percent, step: None,
    )


def monitoring_series(days: int, features: list[str]) -> dict[str, Any]:
    rng = np.random.default_rng(7)
    t = [str(d.date()) for d in pd.date_range("2026-09-01", periods=days, freq="D")]

    def walk(base: float, scale: float) -> list[float]:
        return [round(float(v), 4) for v in base + np.cumsum(rng.normal(0, scale, days))]

    return {
        "t": t,
        "requests": [int(v) for v in rng.integers(800, 1200, days)],
        "rows": [int(v) for v in rng.integers(9000, 14000, days)],
        **{f"latency_p{q}": walk(q / 10, 0.2) for q in (50, 95, 99)},
        "refused": {
            kind: [int(v) for v in rng.integers(0, 5, days)]
            for kind in ("malformed", "key", "signature")
        },
        "score_psi": walk(0.05, 0.005),
        "psi": {name: walk(0.04, 0.004) for name in features},
        "performance": {
            "roc_auc": walk(0.8, 0.003),
            "accuracy": walk(0.75, 0.003),
            "labelled_share": walk(0.5, 0.01),
            "label_delay_hours": walk(72, 1),
        },
    }


def build(versions: int, days: int) -> Document:
    validation = validation_report()
    figures = [figure for _, figure in validation_charts.figures(validation)]
    features = [f["name"] for f in validation["signature"]["features"]][:12]
    monitoring = []
    for environment in ("Staging", "Production"):
        found = monitoring_series(days, features)
        for _, figure in monitoring_charts.figures(found, [], {"roc_auc": 0.81}):
            figure["layout"]["title"]["text"] = (
                f"{environment}: {figure['layout']['title']['text']}"
            )
            monitoring.append(figure)
    history = Table(
        ["Environment", "Kind", "Mode", "Status", "Requested by", "Live from", "Live until"],
        [
            [env, "Deploy", "Champion", "Superseded", "Ivan Petrov (ivan)", f"{v} March 2026", "—"]
            for v in range(versions)
            for env in ("Staging", "Production")
        ],
    )
    changes = Table(
        ["When", "Who", "What", "Audit hash"],
        [
            [f"{v} March 2026, 10:{e:02d} UTC", "alice", f"Edited (Loan default v{v})", "ab" * 8]
            for v in range(versions)
            for e in range(20)
        ],
    )
    findings = Table(
        ["Finding", "Severity", "Category", "State", "Owner", "Due", "Raised by"],
        [
            [f"#{v} Holdout overlap", "High", "Data", "Closed", "alice", "2026-04-01", "rita"]
            for v in range(versions)
        ],
    )
    parts = []
    for section in defaults.SECTIONS:
        common = {"key": section["key"], "title": section["title"], "mapping": section["mapping"]}
        if section["kind"] == "narrative":
            parts.append(Part(**common, kind="narrative", html=render_markdown(NARRATIVE * 3)))
            continue
        tables, charts = [], []
        if section["kind"] == "validation":
            charts = figures
        elif section["kind"] == "monitoring":
            charts = monitoring
        elif section["kind"] == "deployments":
            tables = [history]
        elif section["kind"] == "changes":
            tables = [changes]
        elif section["kind"] == "findings":
            tables = [findings]
        parts.append(
            Part(
                **common,
                kind="facts",
                facts=[("Model", "Loan default"), ("SHA-256", "f" * 64)],
                tables=tables,
                charts=charts,
            )
        )
    return Document(
        "Loan default version 21: model documentation",
        "Revision 1, draft",
        "5 December 2026, 20:00 UTC",
        parts,
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--versions", type=int, default=20)
    parser.add_argument("--days", type=int, default=90)
    parser.add_argument("--repeat", type=int, default=5)
    args = parser.parse_args()
    document = build(args.versions, args.days)
    charts = sum(len(p.charts) for p in document.parts)
    rows = sum(len(t.rows) for p in document.parts for t in p.tables)
    cases = {
        "page (baseline)": lambda: render_to_string(
            "documentation/_parts.html", {"document": document}
        ).encode(),
        "offline html": lambda: services.render(document, "html"),
        "pdf": lambda: services.render(document, "pdf"),
        "docx": lambda: services.render(document, "docx"),
    }
    for case in cases.values():  # warm-up: imports, font registration, template compilation
        case()
    times: dict[str, list[float]] = {name: [] for name in cases}
    sizes: dict[str, int] = {}
    for _ in range(args.repeat):
        for name, case in cases.items():
            started = time.perf_counter()
            sizes[name] = len(case())
            times[name].append(time.perf_counter() - started)
    baseline = statistics.median(times["page (baseline)"])
    rows_out = [
        [
            name,
            f"{statistics.median(t):.3f}",
            f"{statistics.median(t) / baseline:.1f}x",
            f"{sizes[name] / 1024:,.0f} KiB",
        ]
        for name, t in times.items()
    ]
    print(
        f"Document: {len(document.parts)} parts, {charts} charts, {rows} table rows "
        f"({args.versions} versions of history, {args.days} days of monitoring)"
    )
    print(format_table(["rendering", "median s", "vs page", "size"], rows_out))
    path = write_results(
        "documentation",
        {
            "machine": machine_info(),
            "git": git_state(),
            "args": vars(args),
            "document": {"parts": len(document.parts), "charts": charts, "table_rows": rows},
            "seconds": times,
            "bytes": sizes,
        },
        utc_stamp(),
    )
    print(f"figures: {path.relative_to(ROOT)}")


if __name__ == "__main__":
    main()
