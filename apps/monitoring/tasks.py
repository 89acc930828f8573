from __future__ import annotations

from celery import shared_task

from apps.monitoring import health, performance, retention, rollup


@shared_task(name="monitoring.fold_predictions", ignore_result=True, time_limit=120)
def fold_predictions() -> dict[str, int]:
    """Beat: fold the prediction logs, refused requests and feedback written since the last run
    into buckets,
    then judge every live deployment on them."""
    folded = rollup.fold_all()
    refused = rollup.fold_refused()
    outcomes = performance.fold()
    judged = health.evaluate()
    return {"folded": folded, "refused": refused, "outcomes": outcomes, "judged": judged}


@shared_task(name="monitoring.apply_retention", ignore_result=True, time_limit=3600)
def apply_retention() -> int:
    """Beat, daily: delete the raw prediction logs past their retention (audited)."""
    return retention.apply()
