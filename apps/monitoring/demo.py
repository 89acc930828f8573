"""The demo's two weeks in production, for `make run`.

*Retail loan default* v1 served the loan origination system for the last 14 days: about a hundred
requests a day, scored by the real model. From day 10 the bank's marketing brought in larger
loans, so ``loan_amount`` (and with it ``debt_to_income``) drifts away from the training data:
right after start the monitoring portfolio shows the model in alert. Whether each applicant
defaulted is reported three days after the decision, so the charts show performance too. Runs
once: a deployment that already has prediction logs is left alone.
"""

from __future__ import annotations

import uuid
from datetime import timedelta
from typing import Any

import numpy as np
from django.utils import timezone

from apps.deployments.models import Deployment, Feedback, Placement, PredictionLog
from apps.monitoring import health, performance, rollup
from apps.registry.demo import loan_applications
from apps.validation import evidence

MODEL = "Retail loan default"
DAYS = 14
DRIFT_FROM_DAY = 10
REQUESTS_PER_DAY = 100
# Whether an applicant defaulted is reported this long after the decision (months in real life;
# days here, so the demo's two weeks have outcomes to show).
OUTCOME_DELAY = timedelta(days=3)
STAGING_REQUESTS = 120


def seed(stdout: Any) -> None:
    seeded = _production(stdout)
    seeded = _staging_with_shadow(stdout) or seeded
    if not seeded:
        return
    folded = rollup.fold_all(budget_seconds=120)
    while performance.fold():
        pass
    health.evaluate()
    stdout.write(f"  {folded} logged predictions folded into monitoring\n")


def _production(stdout: Any) -> bool:
    deployment = (
        Deployment.objects.filter(
            model__name=MODEL,
            environment__slug="production",
            status=Deployment.Status.LIVE,
            mode=Deployment.Mode.CHAMPION,
        )
        .select_related("version")
        .first()
    )
    if deployment is None:
        return False  # the deployments demo did not get this far (no worker, failed validation)
    if PredictionLog.objects.filter(deployment=deployment).exists():
        return False
    signature = evidence.signature_of(deployment.version)
    if signature is None:
        return False
    features = [f["name"] for f in signature["features"]]
    estimator = evidence.load_canonical(deployment.version)
    rng = np.random.default_rng(2026)
    now = timezone.now()
    logs, outcomes = [], []
    for day in range(DAYS):
        requests = REQUESTS_PER_DAY + int(rng.integers(-15, 16))
        frame = loan_applications(requests * 4, seed=1000 + day)
        if day >= DRIFT_FROM_DAY:
            frame["loan_amount"] = (frame["loan_amount"] * 1.8).round(-2)
            frame["debt_to_income"] = (frame["debt_to_income"] * 1.8).round(3)
        probabilities = estimator.predict_proba(frame[features])
        predictions = estimator.predict(frame[features])
        day_start = now - timedelta(days=DAYS - day)
        for i in range(requests):
            rows = slice(4 * i, 4 * i + 4)
            received_at = day_start + timedelta(seconds=int(rng.integers(0, 86_400)))
            request_id = uuid.uuid4().hex
            if received_at + OUTCOME_DELAY < now - 2 * performance.SETTLE:
                outcomes.append(
                    Feedback(
                        deployment=deployment,
                        request_id=request_id,
                        outcomes=frame["default"].iloc[rows].tolist(),
                        received_at=received_at + OUTCOME_DELAY,
                    )
                )
            answered = (predictions[rows], probabilities[rows])
            latency = float(rng.lognormal(2.3, 0.35))
            logs.append(
                _logged(
                    deployment, request_id, received_at, latency, frame[features][rows], answered
                )
            )
    PredictionLog.objects.bulk_create(logs, batch_size=500)
    Feedback.objects.bulk_create(outcomes, batch_size=500)
    stdout.write(
        f"  {len(logs)} requests to {MODEL} in production over {DAYS} days, outcomes for "
        f"{len(outcomes)} of them {OUTCOME_DELAY.days} days later; loan sizes drift from day "
        f"{DRIFT_FROM_DAY}\n"
    )
    return True


def _staging_with_shadow(stdout: Any) -> bool:
    """Test calls of the loan origination system in staging since the shadow started (moments
    ago: the demo's deployments are made as it seeds), answered by v1 and scored by its shadow
    too, so the comparison has something to show."""
    placement = (
        Placement.objects.filter(
            model__name=MODEL, environment__slug="staging", challenger__mode="shadow"
        )
        .select_related("deployment__version", "challenger__version")
        .first()
    )
    if placement is None or placement.challenger is None:
        return False
    live, shadow = placement.deployment, placement.challenger
    if PredictionLog.objects.filter(deployment=shadow).exists():
        return False
    answering = []
    for deployment in (live, shadow):
        signature = evidence.signature_of(deployment.version)
        if signature is None:
            return False
        features = [f["name"] for f in signature["features"]]
        answering.append((deployment, features, evidence.load_canonical(deployment.version)))
    rng = np.random.default_rng(2027)
    now = timezone.now()
    started = shadow.live_from or now
    frame = loan_applications(STAGING_REQUESTS * 4, seed=3000)
    moments = sorted(started + (now - started) * f for f in rng.random(STAGING_REQUESTS))
    logs = []
    for deployment, features, estimator in answering:
        probabilities = estimator.predict_proba(frame[features])
        predictions = estimator.predict(frame[features])
        for i, received_at in enumerate(moments):
            rows = slice(4 * i, 4 * i + 4)
            answered = (predictions[rows], probabilities[rows])
            latency = float(rng.lognormal(2.3 if deployment == live else 2.6, 0.35))
            logs.append(
                _logged(
                    deployment,
                    f"staging-{i:05d}",
                    received_at,
                    latency,
                    frame[features][rows],
                    answered,
                )
            )
    PredictionLog.objects.bulk_create(logs, batch_size=500)
    stdout.write(
        f"  {STAGING_REQUESTS} test requests to {MODEL} in staging, each answered by "
        f"v{live.version.number} and scored by its shadow v{shadow.version.number}\n"
    )
    return True


def _logged(
    deployment: Deployment,
    request_id: str,
    received_at: Any,
    latency_ms: float,
    rows: Any,
    answered: tuple[Any, Any],
) -> PredictionLog:
    """One request of ``rows`` (a DataFrame of the features) as serving logs it."""
    predictions, probabilities = answered
    return PredictionLog(
        deployment=deployment,
        request_id=request_id,
        received_at=received_at,
        latency_ms=latency_ms,
        rows=len(rows),
        inputs={c: rows[c].tolist() for c in rows.columns},
        outputs={"predictions": predictions.tolist(), "probabilities": probabilities.tolist()},
    )
