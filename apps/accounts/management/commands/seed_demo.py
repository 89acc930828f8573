from __future__ import annotations

from typing import Any

from django.core.management.base import BaseCommand

from apps.accounts import demo
from apps.accounts.roles import ROLE_LABELS
from apps.core.registry import registry

BANNER = """
==============================================================================
  DEMO DATA. These accounts share one password and exist for trying the
  portal on this machine. Never seed a production database.
==============================================================================
"""


class Command(BaseCommand):
    help = "Seed demo users, teams and each app's demo data. Safe to run repeatedly."

    def handle(self, *args: Any, **options: Any) -> None:
        logins = demo.seed()
        for step in sorted(registry.demo_steps, key=lambda s: (s.order, s.name)):
            step.run(self.stdout)
        self.stdout.write(self.style.WARNING(BANNER))
        for user in demo.DEMO_USERS:
            role = ROLE_LABELS[user.role] if user.role else "Administrator (superuser)"
            team = f", team {user.team}" if user.team else ""
            self.stdout.write(f"  {user.username:<6} {logins[user.username]:<20} {role}{team}")
        self.stdout.write("")
