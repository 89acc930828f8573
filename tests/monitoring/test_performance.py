"""Performance from outcomes that arrive late: the figures of the labelled rows themselves."""

from __future__ import annotations

from datetime import timedelta

import numpy as np
import pytest
from django.utils import timezone
from sklearn.metrics import (
    accuracy_score,
    brier_score_loss,
    precision_score,
    recall_score,
    roc_auc_score,
)

from apps.deployments.models import Feedback, PredictionLog
from apps.monitoring import performance, rollup
from apps.monitoring.models import Bucket
from tests.monitoring.test_rollup import NOON, _traffic

pytestmark = pytest.mark.django_db


def _send_feedback(live, raw, rng):
    logs = list(PredictionLog.objects.order_by("id"))
    labelled = []
    for i, log in enumerate(logs):
        if rng.random() > 0.7:
            continue
        rows = raw[raw["request"] == i]
        # Outcomes follow the score, with noise: a model that is right more often than not.
        truth = (rows["score"].to_numpy() + rng.normal(0, 0.3, len(rows)) > 0.5).astype(int)
        outcomes = [None if rng.random() < 0.1 else int(t) for t in truth]
        Feedback.objects.create(
            deployment=live.deployment,
            request_id=log.request_id,
            outcomes=outcomes,
            received_at=log.received_at + timedelta(days=3),
        )
        for (_, row), outcome in zip(rows.iterrows(), outcomes, strict=True):
            if outcome is not None:
                labelled.append((row["score"], outcome))
    return np.array(labelled)


def test_outcomes_give_the_performance_of_the_labelled_rows(live):
    rng = np.random.default_rng(11)
    raw = _traffic(live, rng, 400, NOON)
    rollup.fold()
    labelled = _send_feedback(live, raw, rng)

    assert performance.fold() == Feedback.objects.count()

    counted: dict = {}
    for bucket in Bucket.objects.filter(span=Bucket.Span.DAY):
        counted = performance.add_performance(counted, bucket.performance)
    got = performance.figures(counted, "binary")
    score, truth = labelled[:, 0], labelled[:, 1].astype(int)
    predicted = (score > 0.5).astype(int)
    assert got["labelled"] == len(labelled)
    assert got["accuracy"] == pytest.approx(accuracy_score(truth, predicted), abs=1e-12)
    assert got["precision"] == pytest.approx(precision_score(truth, predicted), abs=1e-12)
    assert got["recall"] == pytest.approx(recall_score(truth, predicted), abs=1e-12)
    assert got["brier"] == pytest.approx(brier_score_loss(truth, score), abs=1e-12)
    assert got["positive_rate"] == pytest.approx(truth.mean(), abs=1e-12)
    assert got["label_delay_hours"] == pytest.approx(72.0)
    # ROC AUC from 100 bins: pairs sharing a bin count one half, so the error is at most half
    # the share of positive-negative pairs that share a bin.
    bins = np.minimum((score * performance.AUC_BINS).astype(int), performance.AUC_BINS - 1)
    same = sum(
        np.sum(bins[truth == 1] == b) * np.sum(bins[truth == 0] == b) for b in np.unique(bins)
    ) / (truth.sum() * (1 - truth).sum())
    assert abs(got["roc_auc"] - roc_auc_score(truth, score)) <= same / 2 + 1e-12


def test_feedback_is_folded_once_and_only_when_it_has_settled(live):
    raw = _traffic(live, np.random.default_rng(2), 5, NOON)
    rollup.fold()
    log = PredictionLog.objects.order_by("id").first()
    rows = int((raw["request"] == 0).sum())
    Feedback.objects.create(
        deployment=live.deployment, request_id=log.request_id, outcomes=[1] * rows
    )
    assert performance.fold() == 0  # a minute old at the earliest: its prediction may be buffered
    assert performance.fold(now=timezone.now() + timedelta(minutes=2)) == 1
    assert performance.fold(now=timezone.now() + timedelta(minutes=2)) == 0
    assert Bucket.objects.get(span=Bucket.Span.DAY).performance["labelled"] == rows


def test_regression_figures_are_rmse_mae_and_bias():
    counted = performance.add_performance({}, performance._empty())
    counted.update({"labelled": 4, "err": 2.0, "abs_err": 6.0, "sq_err": 10.0, "delay_s": 7200})
    got = performance.figures(counted, "regression")
    assert got == {
        "labelled": 4.0,
        "label_delay_hours": 0.5,
        "rmse": pytest.approx(10**0.5 / 2),
        "mae": 1.5,
        "bias": 0.5,
    }
    assert performance.figures({}, "binary") == {"labelled": 0.0}


def test_the_charts_and_the_api_show_performance_next_to_the_validation_figure(
    client, api, people, live
):
    rng = np.random.default_rng(12)
    raw = _traffic(live, rng, 400, NOON)
    rollup.fold()
    labelled = _send_feedback(live, raw, rng)
    performance.fold()

    url = (
        f"/api/v1/monitoring/deployments/{live.deployment.pk}/series/?from=2026-10-30&to=2026-11-05"
    )
    values = api(people.rita).get(url).json()["values"]
    hours = [v for v in values["accuracy"] if v is not None]
    assert len(hours) == 2 and all(0.5 < v <= 1 for v in hours)
    shares = zip(values["labelled_share"], values["rows"], strict=True)
    assert sum(share * rows for share, rows in shares if share) == pytest.approx(len(labelled))
    client.force_login(people.rita)
    page = client.get(
        f"/monitoring/deployments/{live.deployment.pk}/?from=2026-10-30&to=2026-11-05"
    )
    text = page.content.decode()
    assert 'data-plotly="performance"' in text and "roc_auc at validation" in text


def test_the_portfolio_shows_measured_performance_next_to_the_validated_figure(
    client, people, live
):
    from apps.monitoring import health
    from apps.monitoring.models import Health

    rng = np.random.default_rng(13)
    raw = _traffic(live, rng, 300, NOON)
    rollup.fold()
    labelled = _send_feedback(live, raw, rng)
    performance.fold()
    health.evaluate(now=NOON + timedelta(days=2))

    judged = Health.objects.get(deployment=live.deployment)
    counted: dict = {}
    for bucket in Bucket.objects.filter(span=Bucket.Span.DAY):
        counted = performance.add_performance(counted, bucket.performance)
    assert judged.performance_metric == "roc_auc"
    assert judged.performance == performance.figures(counted, "binary")["roc_auc"]
    assert judged.validated == 0.77
    assert judged.labelled_share == pytest.approx(len(labelled) / len(raw))
    client.force_login(people.ivan)
    page = client.get("/monitoring/").content.decode()
    assert f"roc_auc {judged.performance:.3f}" in page and "(validated 0.770)" in page
