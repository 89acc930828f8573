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

import time
from collections import Counter, defaultdict
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

import numpy as np
from django.db import IntegrityError, transaction
from django.db.models import Q

from apps.deployments.models import Deployment, PredictionLog
from apps.monitoring import estimate
from apps.monitoring.models import Bucket, RollupCursor
from apps.validation import evidence
from apps.validation.engine import metrics

SOURCE = "prediction_log"
SPANS = tuple(int(span) for span in Bucket.Span)
LATENCY_EDGES_MS = np.array([2 ** (k / 8) for k in range(-32, 129)])
# Longer than any serving batch stays uncommitted: an id missing for longer was rolled back.
GAP_PATIENCE_SECONDS = 600.0
BATCH = 5_000


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


def add_counts(into: list[int], more: list[int]) -> list[int]:
    """Two bin counts added bin by bin (an empty list is zero counts)."""
    if not into:
        return list(more)
    return [a + b for a, b in zip(into, more, strict=True)]


@dataclass
class _Partial:
    """One bucket's share of this run."""

    requests: int = 0
    rows: int = 0
    latency_ms_sum: float = 0.0
    latencies: list[float] = field(default_factory=list)
    inputs: list[dict[str, list[Any]]] = field(default_factory=list)
    outputs: list[dict[str, Any]] = field(default_factory=list)


def _score_values(baseline: dict[str, Any], outputs: list[dict[str, Any]]) -> list[Any]:
    """The scores the baseline's ``score`` bins count: the positive class's probability when the
    baseline is numeric and the model answered probabilities, else the predictions."""
    numeric = baseline["score"]["kind"] == "numeric"
    values: list[Any] = []
    for answer in outputs:
        probabilities = answer.get("probabilities")
        if numeric and probabilities:
            values.extend(row[1] if len(row) > 1 else None for row in probabilities)
        else:
            values.extend(answer.get("predictions") or [])
    return values


def _counted(partial: _Partial, baseline: dict[str, Any] | None) -> tuple[dict, list[int]]:
    if baseline is None:
        return {}, []
    features = {
        spec["feature"]: metrics.bin_counts(
            spec, [v for row in partial.inputs for v in row.get(spec["feature"], [])]
        )
        for spec in baseline["features"]
    }
    return features, metrics.bin_counts(baseline["score"], _score_values(baseline, partial.outputs))


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


def fold(batch: int = BATCH) -> int:
    """Fold the next ``batch`` unfolded prediction logs into buckets; return how many."""
    fields = ("deployment_id", "received_at", "latency_ms", "rows", "inputs", "outputs")
    with Claim(SOURCE, PredictionLog.objects.all(), fields, batch) as claim:
        partials: dict[tuple[int, int, datetime], _Partial] = defaultdict(_Partial)
        for _id, deployment_id, received_at, latency_ms, rows, inputs, outputs in claim.rows:
            for span in SPANS:
                partial = partials[(deployment_id, span, bucket_start(received_at, span))]
                partial.requests += 1
                partial.rows += rows
                partial.latency_ms_sum += latency_ms
                partial.latencies.append(latency_ms)
                partial.inputs.append(inputs if isinstance(inputs, dict) else {})
                partial.outputs.append(outputs if isinstance(outputs, dict) else {})
        if partials:
            _store(partials)
        claim.done([row[0] for row in claim.rows])
    return len(claim.rows)


def _store(partials: dict[tuple[int, int, datetime], _Partial]) -> None:
    """Add this run's partials to their buckets (the cursor's lock makes this run the only
    writer)."""
    deployments = Deployment.objects.in_bulk({key[0] for key in partials})
    by_version = evidence.baselines_of([d.version_id for d in deployments.values()])
    baselines = {pk: by_version.get(d.version_id) for pk, d in deployments.items()}
    signatures = {pk: evidence.signature_of(d.version) or {} for pk, d in deployments.items()}
    existing = {
        (b.deployment_id, b.span, b.start): b
        for b in Bucket.objects.filter(
            Q(deployment_id__in={k[0] for k in partials}),
            Q(start__in={k[2] for k in partials}),
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
        bucket.requests += partial.requests
        bucket.rows += partial.rows
        bucket.latency_ms_sum += partial.latency_ms_sum
        bucket.latency_counts = add_counts(bucket.latency_counts, latency_bins(partial.latencies))
        features, score = _counted(partial, baselines.get(key[0]))
        for name, counts in features.items():
            bucket.feature_counts[name] = add_counts(bucket.feature_counts.get(name, []), counts)
        if score:
            bucket.score_counts = add_counts(bucket.score_counts, score)
        signature = signatures.get(key[0], {})
        if signature.get("task") == "binary" and len(signature.get("classes") or []) == 2:
            counted = estimate.empty()
            for answer in partial.outputs:
                estimate.count(counted, answer, str(signature["classes"][1]))
            bucket.expected = estimate.add(bucket.expected, counted)
    Bucket.objects.bulk_create(created, batch_size=500)
    Bucket.objects.bulk_update(
        changed,
        [
            "requests",
            "rows",
            "latency_ms_sum",
            "latency_counts",
            "feature_counts",
            "score_counts",
            "expected",
        ],
        batch_size=500,
    )


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
        if partials:
            existing = {
                (b.deployment_id, b.span, b.start): b
                for b in Bucket.objects.filter(
                    deployment_id__in={k[0] for k in partials},
                    start__in={k[2] for k in partials},
                )
            }
            created, changed = [], []
            for key, counts in partials.items():
                bucket = existing.get(key)
                if bucket is None:
                    bucket = Bucket(deployment_id=key[0], span=key[1], start=key[2])
                    created.append(bucket)
                else:
                    changed.append(bucket)
                bucket.refused = dict(Counter(bucket.refused) + counts)
            Bucket.objects.bulk_create(created, batch_size=500)
            Bucket.objects.bulk_update(changed, ["refused"], batch_size=500)
        claim.done([row[0] for row in claim.rows])
    return len(claim.rows)
