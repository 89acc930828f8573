"""Queue a validation re-run for every version whose evidence has no monitoring baseline."""

from __future__ import annotations

from typing import Any

from django.core.management.base import BaseCommand

from apps.registry.models import ModelVersion
from apps.validation import services


class Command(BaseCommand):
    help = (
        "Re-run validation for every version validated before monitoring baselines existed, so "
        "that monitoring can judge its drift. Versions past review keep their status and their "
        "approved canonical copy. A worker runs the queued jobs."
    )

    def add_arguments(self, parser: Any) -> None:
        parser.add_argument(
            "--dry-run", action="store_true", help="List the versions without queuing anything."
        )

    def handle(self, *args: Any, dry_run: bool = False, **options: Any) -> None:
        waiting = services.lacking_baseline()
        versions = ModelVersion.objects.select_related("model").in_bulk(waiting)
        for pk in waiting:
            if not dry_run:
                services.fix_baseline(pk)
            self.stdout.write(f"{'would queue' if dry_run else 'queued'}: {versions[pk]}")
        verb = "would be re-validated" if dry_run else "queued for re-validation"
        self.stdout.write(
            self.style.SUCCESS(f"{len(waiting)} version{'s' * (len(waiting) != 1)} {verb}.")
        )
