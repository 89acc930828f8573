"""Monitoring benchmark: the rollup against pandas, and the portfolio against the inventory.

Run it from the repository root (about 2 minutes with the defaults; ``--rows 2000000`` for the
issue's full size, about 10 minutes)::

    .venv/bin/python bench/monitoring.py
    .venv/bin/python bench/monitoring.py --rows 20000      # quick check

It works in one process on a fresh embedded database in a temporary data folder
(``PORTAL_VAR_DIR``): one live deployment of a 20-feature classifier whose validation fixed a
baseline, and ``--rows`` logged predictions of one row each spread over 90 days, written in
time order as serving writes them.

1. Rollup throughput: ``rollup.fold_all`` folds every log into 5-minute, hourly and daily
   buckets (counts, latency histogram, each feature's baseline bins, the score's). The baseline
   reads the same rows from the same database (``values_list``, as the rollup does) and computes
   the same aggregates with pandas: a groupby of the rows by 5-minute bucket, the counts and the
   latency sum, each feature's and the score's counts in the baseline bins (``pd.cut`` on the
   same edges), the latency histogram. Both are printed in rows per second, and their ratio
   (goal: the rollup at least as fast).
2. Pages: the portfolio and a 90-day deployment page against the inventory page, each requested
   ``--requests`` times through Django's test client after a warm-up; p95 of each and their
   ratio (goal: at most 2x the inventory's), and the number of SQL queries of the portfolio and
   the deployment page, with 1,000 predictions behind the page (a second deployment, counted
   before the big one is written) and with ``--rows`` (goal: the same: they read buckets).

3. Drift of a 100,000-row window against Evidently's data drift report
   (``bench/evidently_drift.py``, which runs Evidently in its own virtualenv; skip it with
   ``--skip-evidently``): time ratio and the PSI per feature side by side.

What serving's prediction logging costs (the same portal with logging on and off under 8
clients) is measured by ``bench/serving.py``, which runs the whole serving stack.

Prints a report; writes every figure to ``bench/results/monitoring-<UTC timestamp>.json``.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import sys
import tempfile
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
FEATURES = [f"f{i}" for i in range(20)]


def _setup(var: Path) -> None:
    os.environ["PORTAL_VAR_DIR"] = str(var)
    for name in ("DATABASE_URL", "CELERY_BROKER_URL", "DEBUG"):
        os.environ.pop(name, None)
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "mlops_portal.settings")
    sys.path.insert(0, str(REPO))
    import django

    django.setup()
    from django.core.management import call_command

    call_command("migrate", verbosity=0)
    call_command("collectstatic", interactive=False, verbosity=0)  # the pages name hashed files


def _admin() -> tuple[object, object]:
    from django.contrib.auth.models import Group, User

    from apps.accounts.models import Team

    admin = User.objects.create_superuser("bench", "bench@example.com", "x")
    team = Team.objects.create(slug="bench", name="Bench", group=Group.objects.create(name="bench"))
    return admin, team


def _deployment(admin: object, team: object, name: str) -> object:
    """A live production deployment of a 20-feature classifier whose validation fixed a
    baseline."""
    import numpy as np
    import pandas as pd
    from django.utils.text import slugify

    from apps.deployments.models import Deployment, Environment
    from apps.jobs.models import Job
    from apps.registry.models import ModelVersion, RegisteredModel
    from apps.validation.engine import metrics
    from apps.validation.models import ValidationReport

    rng = np.random.default_rng(0)
    model = RegisteredModel.objects.create(
        name=name,
        slug=slugify(name),
        team=team,
        risk_tier="high",
        risk_owner=admin,
        owner=admin,
        use_case="Benchmark",
    )
    version = ModelVersion.objects.create(
        model=model,
        number=1,
        status=ModelVersion.Status.APPROVED,
        uploaded_by=admin,
        target_column="y",
        artifact_format="skops",
    )
    reference = pd.DataFrame({f: rng.normal(0, 1, 5_000) for f in FEATURES})
    job = Job.objects.create(kind="validation", task_name="validation.validate", time_limit=60)
    ValidationReport.objects.create(
        version=version,
        job=job,
        outcome="passed",
        isolated=True,
        data={
            "task": "binary",
            "classes": ["0", "1"],
            "signature": {"features": [{"name": f} for f in FEATURES]},
            "metrics": {"roc_auc": 0.8},
            "baseline": {
                "sample": "reference",
                "features": metrics.baseline(reference, FEATURES),
                "score": metrics.numeric_baseline(rng.random(5_000)),
            },
        },
    )
    return Deployment.objects.create(
        model=model,
        version=version,
        environment=Environment.objects.get(slug="production"),
        status=Deployment.Status.LIVE,
        requested_by=admin,
        live_from=datetime.now(UTC),
    )


def _write_logs(deployment: object, rows: int, seed: int) -> None:
    """``rows`` one-row predictions spread over 90 days, in time order as serving writes them
    (ids follow the time of prediction)."""
    import numpy as np

    from apps.deployments.models import PredictionLog

    rng = np.random.default_rng(seed)
    start = datetime.now(UTC) - timedelta(days=90)
    seconds = np.sort(rng.integers(0, 90 * 86_400, rows))
    values = rng.normal(0.2, 1, (rows, len(FEATURES))).round(4)
    scores = rng.random(rows).round(6)
    latency = rng.lognormal(2.5, 0.5, rows)
    batch = []
    for i in range(rows):
        batch.append(
            PredictionLog(
                deployment=deployment,
                request_id=f"{seed}-{i}",
                received_at=start + timedelta(seconds=int(seconds[i])),
                latency_ms=float(latency[i]),
                rows=1,
                inputs={f: [float(values[i, j])] for j, f in enumerate(FEATURES)},
                outputs={
                    "predictions": [int(scores[i] > 0.5)],
                    "probabilities": [[1 - float(scores[i]), float(scores[i])]],
                },
            )
        )
        if len(batch) == 5_000:
            PredictionLog.objects.bulk_create(batch)
            batch = []
    PredictionLog.objects.bulk_create(batch)


def _pandas_baseline(deployment: object) -> float:
    """Seconds to read the same rows and compute the same aggregates with pandas."""
    import numpy as np
    import pandas as pd

    from apps.deployments.models import PredictionLog
    from apps.monitoring.rollup import LATENCY_EDGES_MS
    from apps.validation import evidence

    started = time.perf_counter()
    baseline = evidence.baseline_of(deployment.version_id)  # type: ignore[attr-defined]
    rows = list(
        PredictionLog.objects.filter(deployment=deployment)
        .order_by("id")
        .values_list("received_at", "latency_ms", "rows", "inputs", "outputs")
    )
    frame = pd.DataFrame(
        {
            "bucket": [int(r[0].timestamp()) // 300 for r in rows],
            "latency": [r[1] for r in rows],
            "rows": [r[2] for r in rows],
            **{f: [r[3][f][0] for r in rows] for f in FEATURES},
            "score": [r[4]["probabilities"][0][1] for r in rows],
        }
    )
    for span in (1, 12, 288):  # 5 minutes, an hour, a day
        frame["key"] = frame["bucket"] // span
        grouped = frame.groupby("key")
        grouped.agg(requests=("rows", "size"), rows=("rows", "sum"), latency=("latency", "sum"))
        pd.cut(frame["latency"], [-np.inf, *LATENCY_EDGES_MS, np.inf]).groupby(
            frame["key"]
        ).value_counts()
        for spec in baseline["features"]:
            edges = [-np.inf, *spec["edges"], np.inf]
            pd.cut(frame[spec["feature"]], edges).groupby(frame["key"]).value_counts()
        edges = [-np.inf, *baseline["score"]["edges"], np.inf]
        pd.cut(frame["score"], edges).groupby(frame["key"]).value_counts()
    return time.perf_counter() - started


def _p95(client: object, url: str, requests: int) -> float:
    client.get(url)  # type: ignore[attr-defined]
    times = []
    for _ in range(requests):
        started = time.perf_counter()
        answer = client.get(url)  # type: ignore[attr-defined]
        times.append(time.perf_counter() - started)
        assert answer.status_code == 200, (url, answer.status_code)
    return statistics.quantiles(times, n=20)[18] * 1000


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=200_000)
    parser.add_argument("--requests", type=int, default=50)
    parser.add_argument("--skip-evidently", action="store_true")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="bench-monitoring-") as var:
        _setup(Path(var))
        from django.db import connection
        from django.test import Client
        from django.test.utils import CaptureQueriesContext

        from apps.monitoring import health, rollup

        admin, team = _admin()
        client = Client(HTTP_HOST="127.0.0.1")
        client.force_login(admin)

        def queries(deployment: object) -> dict[str, int]:
            pages = {
                "portfolio": "/monitoring/",
                "deployment 90 days": f"/monitoring/deployments/{deployment.pk}/?window=90d",  # type: ignore[attr-defined]
            }
            counted = {}
            for name, url in pages.items():
                client.get(url)
                with CaptureQueriesContext(connection) as captured:
                    client.get(url)
                counted[name] = len(captured)
            return counted

        # The query counts with 1,000 predictions behind a page, to compare with the full size.
        small = _deployment(admin, team, "Bench model, 1,000 predictions")
        _write_logs(small, 1_000, seed=1)
        rollup.fold_all(budget_seconds=3600)
        health.evaluate()
        queries_small = queries(small)

        print(f"writing {args.rows:,} logged predictions of 20 features…", file=sys.stderr)
        deployment = _deployment(admin, team, "Bench model")
        _write_logs(deployment, args.rows, seed=2)
        pandas_seconds = _pandas_baseline(deployment)
        with rollup.cycle_collector_paused():
            pandas_paused_seconds = _pandas_baseline(deployment)
        started = time.perf_counter()
        folded = rollup.fold_all(budget_seconds=24 * 3600)
        rollup_seconds = time.perf_counter() - started
        assert folded == args.rows, folded
        health.evaluate()

        pages = {
            "inventory": "/models/",
            "portfolio": "/monitoring/",
            "deployment 90 days": f"/monitoring/deployments/{deployment.pk}/?window=90d",  # type: ignore[attr-defined]
        }
        p95 = {name: _p95(client, url, args.requests) for name, url in pages.items()}
        queries_full = queries(deployment)

    result = {
        "rows": args.rows,
        "rollup_rows_per_second": args.rows / rollup_seconds,
        "pandas_rows_per_second": args.rows / pandas_seconds,
        "rollup_over_pandas": pandas_seconds / rollup_seconds,
        "pandas_collector_paused_rows_per_second": args.rows / pandas_paused_seconds,
        "rollup_over_pandas_collector_paused": pandas_paused_seconds / rollup_seconds,
        "p95_ms": p95,
        "portfolio_over_inventory": p95["portfolio"] / p95["inventory"],
        "deployment_page_over_inventory": p95["deployment 90 days"] / p95["inventory"],
        "queries_1000_predictions": queries_small,
        "queries": queries_full,
        "at": datetime.now(UTC).isoformat(),
    }
    if not args.skip_evidently:
        import evidently_drift  # bench/ is first on sys.path when run as a script

        result["evidently"] = evidently_drift.compare()
    out = REPO / "bench" / "results"
    out.mkdir(exist_ok=True)
    path = out / f"monitoring-{datetime.now(UTC):%Y%m%dT%H%M%SZ}.json"
    path.write_text(json.dumps(result, indent=2))
    print(f"Rollup of {args.rows:,} predictions (20 features), same process, same database:")
    print(f"  rollup  {result['rollup_rows_per_second']:>10,.0f} rows/s")
    print(f"  pandas  {result['pandas_rows_per_second']:>10,.0f} rows/s (read + groupby + cut)")
    print(f"  ratio   {result['rollup_over_pandas']:.2f}x (goal: at least 1)")
    print(
        f"  pandas  {result['pandas_collector_paused_rows_per_second']:>10,.0f} rows/s with the "
        "cycle collector paused during its read, as the rollup pauses it"
    )
    print(f"  ratio   {result['rollup_over_pandas_collector_paused']:.2f}x against that")
    print("Pages, p95 over", args.requests, "requests:")
    for name, value in p95.items():
        print(f"  {name:<20} {value:8.1f} ms")
    for name, key in (
        ("portfolio", "portfolio_over_inventory"),
        ("90-day page", "deployment_page_over_inventory"),
    ):
        print(f"  {name} / inventory  {result[key]:.2f}x (goal: at most 2)")
    print(f"SQL queries with 1,000 predictions behind the page: {queries_small}")
    print(f"SQL queries with {args.rows:,} predictions behind the page: {queries_full}")
    if "evidently" in result:
        print("\n".join(evidently_drift.render(result["evidently"])))
    print(f"Figures: {path.relative_to(REPO)}")


if __name__ == "__main__":
    main()
