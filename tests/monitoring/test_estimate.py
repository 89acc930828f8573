"""Performance estimated from calibrated scores before outcomes come (CBPE)."""

from __future__ import annotations

import numpy as np
import pytest
from sklearn.metrics import accuracy_score, roc_auc_score

from apps.deployments.models import PredictionLog
from apps.monitoring import estimate, rollup
from apps.monitoring.models import Bucket
from tests.monitoring.test_rollup import NOON, _traffic

pytestmark = pytest.mark.django_db


def test_the_estimate_is_the_expected_accuracy_of_the_logged_scores_and_close_to_the_truth(live):
    rng = np.random.default_rng(21)
    raw = _traffic(live, rng, 500, NOON)
    rollup.fold()
    counted: dict = {}
    for bucket in Bucket.objects.filter(span=Bucket.Span.DAY):
        counted = estimate.add(counted, bucket.expected)
    got = estimate.figures(counted)

    p = raw["score"].to_numpy()
    predicted = (p > 0.5).astype(int)  # what the fixture's model answered
    expected = np.where(predicted == 1, p, 1 - p).mean()
    assert counted["n"] == len(raw) == sum(log.rows for log in PredictionLog.objects.all())
    assert got["estimated_accuracy"] == pytest.approx(expected, abs=1e-12)

    # With outcomes drawn from calibrated scores, the estimate is near what they will show.
    truth = (rng.random(len(p)) < p).astype(int)
    assert got["estimated_accuracy"] == pytest.approx(accuracy_score(truth, predicted), abs=0.04)
    assert got["estimated_roc_auc"] == pytest.approx(roc_auc_score(truth, p), abs=0.04)


def test_calibration_error_of_a_validation_curve():
    curve = {
        "mean_predicted": [0.1, 0.5, 0.9],
        "fraction_positive": [0.1, 0.4, 0.95],
        "count": [10, 20, 10],
    }
    assert estimate.calibration_error(curve) == pytest.approx((20 * 0.1 + 10 * 0.05) / 40)
    assert estimate.calibration_error(None) is None
    assert estimate.figures({}) == {"estimated_accuracy": None, "estimated_roc_auc": None}


def test_the_page_says_when_calibration_makes_the_estimate_untrustworthy(client, people, live):
    report = live.deployment.version.validation_reports.get()
    report.data["metrics"]["calibration"] = {
        "mean_predicted": [0.2, 0.8],
        "fraction_positive": [0.5, 0.5],
        "count": [50, 50],
    }
    report.save()
    client.force_login(people.alice)
    page = client.get(f"/monitoring/deployments/{live.deployment.pk}/").content.decode()
    assert "is not to be trusted" in page and "0.300" in page
