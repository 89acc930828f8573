from __future__ import annotations

from celery import shared_task

from apps.monitoring import rollup


@shared_task(name="monitoring.fold_predictions", ignore_result=True, time_limit=120)
def fold_predictions() -> int:
    """Beat: fold the prediction logs written since the last run into buckets."""
    return rollup.fold_all()
