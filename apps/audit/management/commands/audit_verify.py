from __future__ import annotations

from typing import Any

from django.core.management.base import BaseCommand, CommandError

from apps.audit import services


class Command(BaseCommand):
    help = (
        "Verify the audit chain against its signatures and checkpoints; exit 1 naming the first "
        "forged, missing or inserted event if it is broken."
    )

    def add_arguments(self, parser: Any) -> None:
        parser.add_argument(
            "--no-record",
            action="store_true",
            help="Only read: append neither an audit.verified event nor a checkpoint.",
        )

    def handle(self, *args: Any, **options: Any) -> None:
        result = (
            services.verify_chain() if options["no_record"] else services.verify_and_record(None)
        )
        if not result.intact:
            raise CommandError(f"Audit trail {result.describe()}")
        self.stdout.write(self.style.SUCCESS(f"Audit trail {result.describe()}"))
