"""Rollups against the real database: the figures of the raw rows, each prediction once."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import numpy as np
import pandas as pd
import pytest

from apps.monitoring import rollup
from apps.monitoring.models import Bucket, RollupCursor
from apps.validation.engine import metrics
from tests.monitoring.conftest import log

pytestmark = pytest.mark.django_db

NOON = datetime(2026, 11, 2, 12, 0, tzinfo=UTC)


def _traffic(live, rng, requests: int, start: datetime, shift: float = 0.0) -> pd.DataFrame:
    """``requests`` logged requests of 1-5 rows over two hours; their rows as one frame."""
    rows = []
    for i in range(requests):
        n = int(rng.integers(1, 6))
        income = rng.normal(50 + shift, 10, n).round(3).tolist()
        income[0] = None if i % 17 == 0 else income[0]  # missing values arrive too
        segment = rng.choice(["a", "b", "c", "new"], n).tolist()
        score = rng.random(n).round(6).tolist()
        at = start + timedelta(seconds=int(rng.integers(0, 7200)))
        latency = float(rng.lognormal(2.5, 0.6))
        log(live.deployment, at, {"income": income, "segment": segment}, score, latency)
        rows += [
            {"at": at, "income": a, "segment": b, "score": c, "latency": latency, "request": i}
            for a, b, c in zip(income, segment, score, strict=True)
        ]
    return pd.DataFrame(rows)


def test_buckets_hold_the_figures_of_the_raw_rows(live):
    rng = np.random.default_rng(0)
    raw = _traffic(live, rng, 300, NOON, shift=4.0)

    assert rollup.fold() == 300

    hourly = Bucket.objects.filter(span=3600).order_by("start")
    assert [b.start for b in hourly] == [NOON, NOON + timedelta(hours=1)]
    for bucket in hourly:
        inside = raw[(raw["at"] >= bucket.start) & (raw["at"] < bucket.start + timedelta(hours=1))]
        requests = inside.drop_duplicates("request")
        assert (bucket.requests, bucket.rows) == (len(requests), len(inside))
        assert bucket.latency_ms_sum == pytest.approx(requests["latency"].sum(), rel=1e-12)
        # Drift from the rollup is the PSI of the rows themselves, to rounding.
        income = next(f for f in metrics.baseline(live.reference, ["income"]))
        assert metrics.psi_of_counts(
            income["counts"], bucket.feature_counts["income"]
        ) == pytest.approx(metrics.psi(live.reference["income"], inside["income"]), abs=1e-12)
        segment = metrics.categorical_baseline(live.reference["segment"])
        assert bucket.feature_counts["segment"] == metrics.bin_counts(segment, inside["segment"])
        assert metrics.psi_of_counts(
            segment["counts"], bucket.feature_counts["segment"]
        ) == pytest.approx(
            metrics.psi_categorical(live.reference["segment"], inside["segment"]), abs=1e-12
        )
        score = metrics.numeric_baseline(live.scores)
        assert bucket.score_counts == metrics.bin_counts(score, inside["score"])
        # p95 latency from the histogram: never below the true value, at most 9 % above it.
        true_p95 = float(np.quantile(requests["latency"], 0.95, method="inverted_cdf"))
        p95 = rollup.latency_percentile(bucket.latency_counts, 0.95)
        assert p95 is not None and true_p95 <= p95 <= true_p95 * 2 ** (1 / 8)

    # Every span adds up to the same totals.
    for span in rollup.SPANS:
        buckets = Bucket.objects.filter(span=span)
        assert sum(b.requests for b in buckets) == 300 and sum(b.rows for b in buckets) == len(raw)


def test_a_second_run_folds_only_what_is_new(live):
    rng = np.random.default_rng(1)
    _traffic(live, rng, 40, NOON)
    assert rollup.fold() == 40
    assert rollup.fold() == 0
    _traffic(live, rng, 10, NOON)
    assert rollup.fold() == 10
    assert sum(b.requests for b in Bucket.objects.filter(span=86400)) == 50


def test_batches_fold_everything_once(live):
    rng = np.random.default_rng(2)
    _traffic(live, rng, 95, NOON)
    assert [rollup.fold(batch=30) for _ in range(5)] == [30, 30, 30, 5, 0]
    assert sum(b.requests for b in Bucket.objects.filter(span=300)) == 95


def test_a_log_committed_after_higher_ids_were_folded_is_folded_once(live):
    first = log(live.deployment, NOON, {"income": [50.0], "segment": ["a"]}, [0.2])
    # The next id was handed to a batch that commits late: it is missing when the rollup runs.
    late_id = first.pk + 1
    log(live.deployment, NOON, {"income": [51.0], "segment": ["b"]}, [0.3], id=first.pk + 2)
    assert rollup.fold() == 2
    cursor = RollupCursor.objects.get(source=rollup.SOURCE)
    assert cursor.watermark == first.pk + 2 and [g[:2] for g in cursor.gaps] == [[late_id, late_id]]

    log(live.deployment, NOON, {"income": [52.0], "segment": ["c"]}, [0.4], id=late_id)
    assert rollup.fold() == 1
    assert rollup.fold() == 0
    assert Bucket.objects.get(span=300).requests == 3
    assert RollupCursor.objects.get(source=rollup.SOURCE).gaps == []


def test_an_id_missing_longer_than_the_patience_is_given_up(live):
    first = log(live.deployment, NOON, {"income": [50.0], "segment": ["a"]}, [0.2])
    log(live.deployment, NOON, {"income": [51.0], "segment": ["b"]}, [0.3], id=first.pk + 5)
    rollup.fold()
    cursor = RollupCursor.objects.get(source=rollup.SOURCE)
    assert [g[:2] for g in cursor.gaps] == [[first.pk + 1, first.pk + 4]]
    cursor.gaps = [[a, b, seen - rollup.GAP_PATIENCE_SECONDS - 1] for a, b, seen in cursor.gaps]
    cursor.save()
    rollup.fold()
    assert RollupCursor.objects.get(source=rollup.SOURCE).gaps == []


def test_a_version_without_a_baseline_still_gets_traffic_figures(live):
    live.deployment.version.validation_reports.update(data={})
    log(live.deployment, NOON, {"income": [50.0], "segment": ["a"]}, [0.2], latency_ms=3.0)
    rollup.fold()
    bucket = Bucket.objects.get(span=300)
    assert (bucket.requests, bucket.rows, bucket.latency_ms_sum) == (1, 1, 3.0)
    assert bucket.feature_counts == {} and bucket.score_counts == []


def test_latency_bins_and_percentiles():
    counts = rollup.latency_bins([1.0, 1.0, 2.0, 100.0])
    assert sum(counts) == 4
    assert rollup.latency_percentile(counts, 0.5) == 1.0  # 1 ms is an edge: (e, 1.0] holds it
    assert rollup.latency_percentile(counts, 0.99) == pytest.approx(2 ** (54 / 8))  # 107.6 ms
    assert rollup.latency_percentile([0] * len(counts), 0.95) is None
    slow = rollup.latency_bins([10**9])
    assert rollup.latency_percentile(slow, 0.5) == rollup.LATENCY_EDGES_MS[-1]


def test_percentiles_of_many_histograms_at_once_equal_each_ones():
    rng = np.random.default_rng(3)
    size = len(rollup.LATENCY_EDGES_MS) + 1
    histograms = [rng.integers(0, 5, size).tolist() for _ in range(50)]
    histograms += [[0] * size, [], [0] * (size - 1) + [7]]  # empty, never counted, all slow
    found = rollup.latency_percentiles(histograms, (50, 95, 99))
    for q in (50, 95, 99):
        assert found[f"latency_p{q}"] == [
            rollup.latency_percentile(h, q / 100) if h else None for h in histograms
        ]
    assert rollup.latency_percentiles([], (50,)) == {"latency_p50": []}


@pytest.mark.django_db(transaction=True)
def test_overlapping_runs_count_every_prediction_once(live):
    from concurrent.futures import ThreadPoolExecutor

    from django.db import connection

    _traffic(live, np.random.default_rng(3), 120, NOON)

    def drain() -> int:
        try:
            folded = 0
            while done := rollup.fold(batch=15):
                folded += done
            return folded
        finally:
            connection.close()  # each thread has its own connection

    with ThreadPoolExecutor(4) as pool:
        folded = list(pool.map(lambda _: drain(), range(4)))

    assert sum(folded) == 120
    for span in rollup.SPANS:
        assert sum(b.requests for b in Bucket.objects.filter(span=span)) == 120


@pytest.mark.django_db(transaction=True)
def test_a_worker_killed_mid_rollup_leaves_every_prediction_counted_once(live, worker):
    """kill -9 of a real worker while it folds: what it had committed stays, what it was
    folding rolls back with its transaction, and the next run folds the rest once."""
    from apps.deployments.models import PredictionLog
    from apps.monitoring import tasks
    from tests.support.worker import wait_for

    total = 60_000
    rng = np.random.default_rng(9)
    incomes = rng.normal(50, 10, total).round(2)
    PredictionLog.objects.bulk_create(
        (
            PredictionLog(
                deployment=live.deployment,
                request_id=f"k{i}",
                received_at=NOON + timedelta(seconds=i),
                latency_ms=5.0,
                rows=1,
                inputs={"income": [float(incomes[i])], "segment": ["a"]},
                outputs={"predictions": [0], "probabilities": [[0.7, 0.3]]},
            )
            for i in range(total)
        ),
        batch_size=5_000,
    )
    top = PredictionLog.objects.order_by("-id").values_list("id", flat=True).first()
    tasks.fold_predictions.delay()

    def cursor() -> int:
        found = RollupCursor.objects.filter(source=rollup.SOURCE).first()
        return found.watermark if found else 0

    wait_for(lambda: cursor() > 0, timeout=60, message=f"a first batch\n{worker.output()}")
    worker.kill()
    assert cursor() < top, "the run ended before the kill: nothing was interrupted"
    assert sum(b.requests for b in Bucket.objects.filter(span=3600)) == cursor() - (top - total)

    rollup.fold_all(budget_seconds=600)
    for span in rollup.SPANS:
        assert sum(b.requests for b in Bucket.objects.filter(span=span)) == total
