from __future__ import annotations

from typing import Any

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError, CommandParser

from apps.accounts.identity import load_group_map


class Command(BaseCommand):
    help = (
        "Add the identity provider group mappings named in PORTAL_SSO_GROUP_MAP (or --json) "
        "that are not there yet; audited. Existing rows are kept; change or delete them in the "
        "admin. Safe to run at every start."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--json", help="the group map itself, instead of the setting")

    def handle(self, *args: Any, **options: Any) -> None:
        text = options.get("json") or settings.PORTAL_SSO_GROUP_MAP
        source = "--json" if options.get("json") else "PORTAL_SSO_GROUP_MAP"
        if not text:
            self.stdout.write("PORTAL_SSO_GROUP_MAP is empty: no group mapping to add.")
            return
        try:
            added = load_group_map(text, source=source)
        except ValueError as exc:
            raise CommandError(str(exc)) from None
        for mapping in added:
            self.stdout.write(f"Added {mapping}")
        self.stdout.write(f"{len(added)} group mapping(s) added.")
