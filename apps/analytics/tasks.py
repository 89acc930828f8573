from __future__ import annotations

from celery import shared_task

from apps.analytics import rollup


# Its own limits, the soft one below the hard one (the project's default soft limit is above
# this hard one), as monitoring's fold has.
@shared_task(name="analytics.fold_changes", ignore_result=True, time_limit=120, soft_time_limit=110)
def fold_changes() -> int:
    """Beat: fold the audit events recorded since the last run into the change day tables.
    Idempotent: a run folds only what is past the cursor, under its lock."""
    return rollup.fold()
