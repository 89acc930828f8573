"""Folding prediction logs into time buckets, exactly once.

Charts and the portfolio read buckets, never the raw logs: a 90-day chart of a busy model reads
at most 90 daily buckets. A run folds the logs with ids above the cursor's watermark (and any
still missing below it, see ``RollupCursor``) into buckets of every span, all in one
transaction that holds the cursor's row lock: two runs that overlap take turns, and a run killed
half-way leaves nothing folded, so every prediction is counted once.

What a bucket adds up per deployment:
- requests, rows and the sum of latencies;
- requests per latency bin: right-closed bins (e_{i-1}, e_i] between the edges ``LATENCY_EDGES_MS``
  (8 per doubling, 1/16 ms to 65 s), then one for slower ones; a percentile read from them is the
  upper edge of its bin, at most 9 % above the true value;
- live values counted into the bins of the version's validation baseline, per feature and for
  the score (``docs/metrics.md``, "Baseline for monitoring"), so drift is the baseline's PSI
  against the bucket's counts, exactly as if computed on the rows.
"""

from __future__ import annotations

import gc
import time
from collections import Counter, defaultdict
from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta
from itertools import chain, compress
from typing import Any

import numpy as np
from django.db import IntegrityError, transaction
from django.db.models import Q

from apps.deployments.models import Deployment, PredictionLog
from apps.monitoring import derived, estimate
from apps.monitoring.models import Bucket, RollupCursor
from apps.validation import evidence
from apps.validation.engine import metrics

SOURCE = "prediction_log"
SPANS = tuple(int(span) for span in Bucket.Span)
LATENCY_EDGES_MS = np.array([2 ** (k / 8) for k in range(-32, 129)])
# Longer than any serving batch stays uncommitted: an id missing for longer was rolled back.
GAP_PATIENCE_SECONDS = 600.0
BATCH = 5_000
EPOCH = datetime(1970, 1, 1, tzinfo=UTC)


def bucket_start(moment: datetime, span: int) -> datetime:
    """The start of the ``span``-second bucket holding ``moment`` (buckets align to the epoch)."""
    seconds = int(moment.timestamp())
    return datetime.fromtimestamp(seconds - seconds % span, tz=UTC)


def latency_bins(latencies_ms: Iterable[float]) -> list[int]:
    found = np.searchsorted(LATENCY_EDGES_MS, np.asarray(list(latencies_ms), dtype=float), "left")
    return np.bincount(found, minlength=len(LATENCY_EDGES_MS) + 1).tolist()


def latency_percentile(counts: list[int], q: float) -> float | None:
    """The upper edge of the bin holding the ``q`` quantile (the last edge for the slowest bin),
    or None for no requests."""
    total = sum(counts)
    if not total:
        return None
    index = int(np.searchsorted(np.cumsum(counts), q * total, "left"))
    return float(LATENCY_EDGES_MS[min(index, len(LATENCY_EDGES_MS) - 1)])


def latency_percentiles(
    histograms: list[list[int]], percents: Iterable[int]
) -> dict[str, list[float | None]]:
    """``latency_percentile`` of each histogram for each percent, as ``latency_p<percent>``
    lists, computed for all the histograms at once."""
    size = len(LATENCY_EDGES_MS) + 1
    table = np.array([h if len(h) == size else [0] * size for h in histograms], dtype=np.int64)
    table = table.reshape(len(histograms), size)
    cumulative = np.cumsum(table, axis=1)
    totals = cumulative[:, -1] if len(histograms) else np.zeros(0, dtype=np.int64)
    found: dict[str, list[float | None]] = {}
    for percent in percents:
        # The first bin whose cumulative count reaches the quantile (searchsorted "left").
        index = np.sum(cumulative < (percent / 100) * totals[:, None], axis=1)
        edges = LATENCY_EDGES_MS[np.minimum(index, len(LATENCY_EDGES_MS) - 1)]
        found[f"latency_p{percent}"] = [
            float(edge) if total else None for edge, total in zip(edges, totals, strict=True)
        ]
    return found


def add_counts(into: list[int], more: list[int]) -> list[int]:
    """Two bin counts added bin by bin (an empty list is zero counts; ``more`` itself is
    returned then, not a copy)."""
    if not into:
        return more
    return [a + b for a, b in zip(into, more, strict=True)]


def _listed(value: Any) -> list[Any]:
    return value if isinstance(value, list) else []


def _second_column(rows: list[Any]) -> np.ndarray:
    """Each probability row's second column (the positive class's probability for a binary
    classifier), NaN where a row has fewer than two numbers."""
    try:
        table = np.array(rows, dtype=np.float64)
        if table.ndim == 2 and table.shape[1] >= 2:
            return table[:, 1]
    except (TypeError, ValueError):
        pass  # rows of different lengths or not numbers: one by one
    return metrics.as_numbers(
        [row[1] if isinstance(row, list) and len(row) > 1 else None for row in rows]
    )


def _values(columns: list[Any]) -> tuple[np.ndarray, list[Any]]:
    """The values of each log's list in ``columns`` (one list or nothing per log), flattened, with
    the index of the log each came from: ``len``, ``repeat`` and ``chain`` run in C, which is what
    keeps the rollup ahead of a pandas groupby on wide logs."""
    lengths = np.fromiter(map(len, columns), dtype=np.intp, count=len(columns))
    return np.repeat(np.arange(len(columns)), lengths), list(chain.from_iterable(columns))


def _per_bucket(
    inverse: np.ndarray, keys: int, owners: np.ndarray, bins: np.ndarray, size: int
) -> np.ndarray:
    """Counts per (bucket, bin): row b of the result counts the values of bucket b in each bin."""
    flat = np.bincount(inverse[owners] * size + bins, minlength=keys * size)
    return flat.reshape(keys, size)


def aggregate(
    logs: list[tuple[Any, ...]], baseline: dict[str, Any] | None, signature: dict[str, Any]
) -> dict[tuple[int, datetime], dict[str, Any]]:
    """One deployment's logs, ``(received_at, latency_ms, rows, inputs, outputs)``, added up
    per (span, bucket start). Each value is binned once for the whole batch (numpy), then counted
    per bucket of every span with one ``bincount``."""
    seconds = np.array([int(log[0].timestamp()) for log in logs], dtype=np.int64)
    latency = np.array([float(log[1]) for log in logs])
    rows = np.array([int(log[2]) for log in logs])
    latency_bin = np.searchsorted(LATENCY_EDGES_MS, latency, "left")
    latency_size = len(LATENCY_EDGES_MS) + 1
    answers = [log[4] if isinstance(log[4], dict) else {} for log in logs]
    probability_owners, rows_of = _values([_listed(a.get("probabilities")) for a in answers])
    probability = _second_column(rows_of)
    prediction_owners, predictions = _values([_listed(a.get("predictions")) for a in answers])
    binned: dict[str, tuple[np.ndarray, np.ndarray, int]] = {}
    if baseline is not None:
        inputs = [log[3] if isinstance(log[3], dict) else {} for log in logs]
        for spec in baseline["features"]:
            name = spec["feature"]
            listed = [v if isinstance(v := given.get(name), list) else () for given in inputs]
            owners, values = _values(listed)
            binned[name] = (owners, metrics.bin_index(spec, values), metrics.bin_count(spec))
        score = baseline["score"]
        if score["kind"] == "numeric":
            # The positive class's probability where the model answered probabilities, the
            # prediction (a regressor's number) where it did not.
            answered = np.bincount(probability_owners, minlength=len(logs)) > 0
            plain = ~answered[prediction_owners]
            owners = np.concatenate([probability_owners, prediction_owners[plain]])
            values = [*probability.tolist(), *compress(predictions, plain)]
        else:
            owners, values = prediction_owners, predictions
        binned[""] = (owners, metrics.bin_index(score, values), metrics.bin_count(score))
    binary = signature.get("task") == "binary" and len(signature.get("classes") or []) == 2
    if binary:
        # Rows answered with both a probability and a prediction (serving logs both, row for row).
        both = np.bincount(probability_owners, minlength=len(logs)) == np.bincount(
            prediction_owners, minlength=len(logs)
        )
        said = np.fromiter(map(str, compress(predictions, both[prediction_owners])), dtype=object)
        p = probability[both[probability_owners]]
        owners = probability_owners[both[probability_owners]]
        known = ~np.isnan(p)
        p, owners = p[known], owners[known]
        positive = said[known] == str(signature["classes"][1])
        correct = np.where(positive, p, 1 - p)
        score_bin = np.minimum(
            (np.clip(p, 0, 1) * estimate.AUC_BINS).astype(np.intp), estimate.AUC_BINS - 1
        )
    found: dict[tuple[int, datetime], dict[str, Any]] = {}
    for span in SPANS:
        starts, inverse = np.unique(seconds - seconds % span, return_inverse=True)
        keys = len(starts)
        requests = np.bincount(inverse, minlength=keys)
        row_sums = np.bincount(inverse, weights=rows, minlength=keys)
        latency_sums = np.bincount(inverse, weights=latency, minlength=keys)
        latency_counts = _per_bucket(inverse, keys, np.arange(len(logs)), latency_bin, latency_size)
        counted = {name: _per_bucket(inverse, keys, o, b, n) for name, (o, b, n) in binned.items()}
        if binary:
            n = np.bincount(inverse[owners], minlength=keys)
            right = np.bincount(inverse[owners], weights=correct, minlength=keys)
            cell = inverse[owners] * estimate.AUC_BINS + score_bin
            size = keys * estimate.AUC_BINS
            pos = np.bincount(cell, weights=p, minlength=size).reshape(keys, estimate.AUC_BINS)
            neg = np.bincount(cell, weights=1 - p, minlength=size).reshape(keys, estimate.AUC_BINS)
        # Whole tables to lists at once: one call each instead of one per bucket.
        latency_rows = latency_counts.tolist()
        counted_rows = {name: counts.tolist() for name, counts in counted.items()}
        if binary:
            pos_rows, neg_rows = pos.tolist(), neg.tolist()
        for k, start in enumerate(starts.tolist()):
            found[(span, EPOCH + timedelta(seconds=start))] = {
                "requests": int(requests[k]),
                "rows": int(row_sums[k]),
                "latency_ms_sum": float(latency_sums[k]),
                "latency_counts": latency_rows[k],
                "feature_counts": {
                    name: counts[k] for name, counts in counted_rows.items() if name
                },
                "score_counts": counted_rows[""][k] if "" in counted_rows else [],
                "expected": {
                    "n": int(n[k]),
                    "correct": float(right[k]),
                    "pos": pos_rows[k],
                    "neg": neg_rows[k],
                }
                if binary
                else {},
            }
    return found


def _missing_ranges(seen: list[int], low: int, high: int) -> Iterator[tuple[int, int]]:
    """The runs of ids in [low, high] not in the sorted list ``seen``."""
    expected = low
    for found in seen:
        if found > expected:
            yield expected, found - 1
        expected = max(expected, found + 1)
    if expected <= high:
        yield expected, high


def _open_gaps(cursor: RollupCursor, folded: list[int], top: int, now: float) -> list[list[Any]]:
    """The cursor's gaps after this run: old ones less what was found, new ones up to ``top``,
    those past their patience dropped."""
    gaps: list[list[Any]] = []
    for first, last, seen_at in cursor.gaps:
        if now - seen_at > GAP_PATIENCE_SECONDS:
            continue
        inside = [i for i in folded if first <= i <= last]
        gaps.extend([a, b, seen_at] for a, b in _missing_ranges(inside, first, last))
    above = [i for i in folded if i > cursor.watermark]
    # A new cursor starts at the first log it finds: ids below it were never logs (a sequence
    # that starts elsewhere) or are gone (retention).
    low = cursor.watermark + 1 if cursor.watermark or not above else above[0]
    gaps.extend([a, b, now] for a, b in _missing_ranges(above, low, top))
    return gaps


def _ensure_cursor(source: str) -> None:
    """The cursor row, created by whichever run comes first."""
    if not RollupCursor.objects.filter(source=source).exists():
        try:
            with transaction.atomic():
                RollupCursor.objects.create(source=source)
        except IntegrityError:
            pass  # another run created it a moment ago


class Claim:
    """The rows a run folds, taken from a source table past its cursor. Used as a context
    manager: the transaction holds the cursor's lock from reading the rows to storing what they
    add up to; ``done(ids)`` says which rows were folded (the others wait for the next run)."""

    def __init__(self, source: str, rows: Any, fields: tuple[str, ...], batch: int) -> None:
        self.source, self.queryset, self.fields, self.batch = source, rows, fields, batch
        self.rows: list[tuple[Any, ...]] = []
        self._folded: list[int] = []

    def __enter__(self) -> Claim:
        self._now = time.time()
        _ensure_cursor(self.source)
        self._atomic = transaction.atomic()
        self._atomic.__enter__()
        self.cursor = RollupCursor.objects.select_for_update().get(source=self.source)
        wanted = Q(id__gt=self.cursor.watermark)
        for first, last, _ in self.cursor.gaps:
            wanted |= Q(id__range=(first, last))
        self.rows = list(
            self.queryset.filter(wanted)
            .order_by("id")
            .values_list("id", *self.fields)[: self.batch]
        )
        return self

    def done(self, ids: list[int]) -> None:
        self._folded = ids

    def __exit__(self, *exc: Any) -> None:
        if exc[0] is None:
            cursor, folded = self.cursor, self._folded
            top = max([cursor.watermark, *folded])
            cursor.gaps = _open_gaps(cursor, folded, top, self._now)
            cursor.watermark = top
            cursor.save(update_fields=["watermark", "gaps", "updated_at"])
        self._atomic.__exit__(*exc)


@contextmanager
def cycle_collector_paused() -> Iterator[None]:
    """Python's cycle collector off while a batch is read and added up. Decoding a batch's JSON
    makes about twenty containers per log, all young and alive, and the collector, triggered by
    their number, scans them again and again: two thirds of the time of reading a batch
    (``bench/monitoring.py``). They hold no cycles; reference counting frees them either way,
    and what cycles appear meanwhile are collected when it is back on."""
    paused = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if paused:
            gc.enable()


def fold(batch: int = BATCH) -> int:
    """Fold the next ``batch`` unfolded prediction logs into buckets; return how many."""
    fields = ("deployment_id", "received_at", "latency_ms", "rows", "inputs", "outputs")
    with (
        cycle_collector_paused(),
        Claim(SOURCE, PredictionLog.objects.all(), fields, batch) as claim,
    ):
        by_deployment: dict[int, list[tuple[Any, ...]]] = defaultdict(list)
        for _id, deployment_id, *log in claim.rows:
            by_deployment[deployment_id].append(tuple(log))
        if by_deployment:
            _store(by_deployment)
        claim.done([row[0] for row in claim.rows])
    return len(claim.rows)


def _store(by_deployment: dict[int, list[tuple[Any, ...]]]) -> None:
    """Add this run's sums to their buckets (the cursor's lock makes this run the only writer)."""
    deployments = Deployment.objects.select_related("version").in_bulk(list(by_deployment))
    baselines = evidence.baselines_of([d.version_id for d in deployments.values()])
    partials: dict[tuple[int, int, datetime], dict[str, Any]] = {}
    for pk, logs in by_deployment.items():
        version = deployments[pk].version
        summed = aggregate(logs, baselines.get(version.pk), evidence.signature_of(version) or {})
        partials.update({(pk, span, start): sums for (span, start), sums in summed.items()})
    version_of = {pk: deployment.version_id for pk, deployment in deployments.items()}
    add_to_buckets(
        partials,
        _add_sums,
        [*_SUMMED, "derived"],
        finish=lambda buckets: derive(buckets, lambda b: baselines.get(version_of[b])),
    )


def derive(buckets: list[Bucket], baseline_of: Callable[[int], dict[str, Any] | None]) -> None:
    """Set each bucket's ``derived`` figures from its counts (``baseline_of``: a deployment's
    baseline). Drift is computed for all the buckets of a deployment at once."""
    by_deployment: dict[int, list[Bucket]] = defaultdict(list)
    for bucket in buckets:
        by_deployment[bucket.deployment_id].append(bucket)
    for deployment_id, group in by_deployment.items():
        for bucket, found in zip(
            group, derived.figures(baseline_of(deployment_id), group), strict=True
        ):
            bucket.derived = found


_SUMMED = [
    "requests",
    "rows",
    "latency_ms_sum",
    "latency_counts",
    "feature_counts",
    "score_counts",
    "expected",
]


def _add_sums(bucket: Bucket, sums: dict[str, Any]) -> None:
    bucket.requests += sums["requests"]
    bucket.rows += sums["rows"]
    bucket.latency_ms_sum += sums["latency_ms_sum"]
    bucket.latency_counts = add_counts(bucket.latency_counts, sums["latency_counts"])
    for name, counts in sums["feature_counts"].items():
        bucket.feature_counts[name] = add_counts(bucket.feature_counts.get(name, []), counts)
    if sums["score_counts"]:
        bucket.score_counts = add_counts(bucket.score_counts, sums["score_counts"])
    if sums["expected"]:
        bucket.expected = estimate.add(bucket.expected, sums["expected"])


def add_to_buckets(
    partials: dict[tuple[int, int, datetime], Any],
    apply: Callable[[Bucket, Any], None],
    fields: list[str],
    finish: Callable[[list[Bucket]], None] | None = None,
) -> None:
    """Add each ``(deployment, span, start)`` partial to its bucket, created if new: ``apply``
    adds one partial to one bucket, ``finish`` (if given) then sees every bucket touched,
    ``fields`` are those they change. Runs under a cursor's lock, so this run is the only
    writer."""
    if not partials:
        return
    existing = {
        (b.deployment_id, b.span, b.start): b
        for b in Bucket.objects.filter(
            deployment_id__in={k[0] for k in partials}, start__in={k[2] for k in partials}
        )
    }
    created, changed = [], []
    for key, partial in partials.items():
        bucket = existing.get(key)
        if bucket is None:
            bucket = Bucket(deployment_id=key[0], span=key[1], start=key[2])
            created.append(bucket)
        else:
            changed.append(bucket)
        apply(bucket, partial)
    if finish is not None:
        finish([*created, *changed])
    Bucket.objects.bulk_create(created, batch_size=500)
    Bucket.objects.bulk_update(changed, fields, batch_size=500)


def fold_all(budget_seconds: float = 50.0) -> int:
    """Fold until nothing is left or the time budget is spent (the next run goes on)."""
    started, total = time.monotonic(), 0
    while time.monotonic() - started < budget_seconds:
        done = fold()
        total += done
        if done < BATCH:
            break
    return total


REFUSED_SOURCE = "refused_requests"


def fold_refused(batch: int = BATCH) -> int:
    """Fold the serving processes' counts of refused and failed requests into buckets."""
    from apps.deployments.models import RefusedRequests

    fields = ("deployment_id", "at", "status", "count")
    with Claim(REFUSED_SOURCE, RefusedRequests.objects.all(), fields, batch) as claim:
        partials: dict[tuple[int, int, datetime], Counter[str]] = defaultdict(Counter)
        for _id, deployment_id, at, status, count in claim.rows:
            for span in SPANS:
                partials[(deployment_id, span, bucket_start(at, span))][str(status)] += count
        add_to_buckets(partials, _add_refused, ["refused"])
        claim.done([row[0] for row in claim.rows])
    return len(claim.rows)


def _add_refused(bucket: Bucket, counts: Counter[str]) -> None:
    bucket.refused = dict(Counter(bucket.refused) + counts)
