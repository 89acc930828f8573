from __future__ import annotations

from celery import shared_task

from apps.monitoring import health, performance, retention, rollup


# Its own limits, the soft one below the hard one: the project's default soft limit (30 min) is
# above this hard one, and Celery refuses to send a task whose limits are the wrong way round.
@shared_task(
    name="monitoring.fold_predictions", ignore_result=True, time_limit=120, soft_time_limit=110
)
def fold_predictions() -> dict[str, int]:
    """Beat: fold the prediction logs, refused requests and feedback written since the last run
    into buckets, then judge every live deployment on them."""
    folded = rollup.fold_all()
    refused = rollup.fold_refused()
    outcomes = performance.fold()
    judged = health.evaluate()
    return {"folded": folded, "refused": refused, "outcomes": outcomes, "judged": judged}


@shared_task(name="monitoring.apply_retention", ignore_result=True, time_limit=3600)
def apply_retention() -> int:
    """Beat, daily: delete the raw prediction logs past their retention (audited)."""
    return retention.apply()
