"""Demo people and teams for `make run`. Never run this against a production database."""

from __future__ import annotations

import secrets
from dataclasses import dataclass

from django.conf import settings
from django.contrib.auth.models import Group, User
from django.db import transaction

from apps.accounts.models import Team
from apps.accounts.roles import Role
from apps.audit import services as audit
from apps.core.audit_actions import AuditAction
from apps.core.permissions import make_administrator
from mlops_portal.env import env_secret

TEAMS = {"retail-credit": "Retail credit", "fraud": "Fraud detection"}


@dataclass(frozen=True)
class DemoUser:
    username: str
    full_name: str
    role: str | None
    team: str | None = None


DEMO_USERS = [
    DemoUser("alice", "Alice Martin", Role.DATA_SCIENTIST, "retail-credit"),
    DemoUser("bob", "Bob Nguyen", Role.DATA_SCIENTIST, "fraud"),
    DemoUser("ivan", "Ivan Petrov", Role.MODEL_OPS),
    DemoUser("rita", "Rita Okafor", Role.RISK_OWNER),
    DemoUser("carl", "Carl Jensen", Role.COMPLIANCE),
    DemoUser("admin", "Portal Administrator", None),
]


def demo_password() -> str:
    """PORTAL_DEMO_PASSWORD, or a random one kept in var/ so that it survives restarts."""
    configured = env_secret("PORTAL_DEMO_PASSWORD")
    if configured:
        return configured
    stored = settings.VAR_DIR / "demo_password"
    if not stored.exists():
        stored.write_text(secrets.token_urlsafe(12))
        stored.chmod(0o600)
    return stored.read_text().strip()


@transaction.atomic
def seed() -> dict[str, str]:
    """Create (or bring back to their demo state) the teams and the demo users."""
    password = demo_password()
    teams = {}
    for slug, name in TEAMS.items():
        group, _ = Group.objects.get_or_create(name=f"team:{slug}")
        teams[slug], _ = Team.objects.get_or_create(
            slug=slug, defaults={"name": name, "group": group}
        )
    for demo in DEMO_USERS:
        first, last = demo.full_name.split(" ", 1)
        user, created = User.objects.get_or_create(
            username=demo.username,
            defaults={
                "first_name": first,
                "last_name": last,
                "email": f"{demo.username}@bank.example",
            },
        )
        user.set_password(password)
        user.is_active = True
        make_administrator(user, demo.role is None)
        user.save()
        if demo.role:
            user.groups.add(Group.objects.get(name=demo.role))
        if demo.team:
            user.groups.add(teams[demo.team].group)
        if created:
            audit.record(
                None,
                AuditAction.USER_CREATED,
                user,
                after={
                    "username": user.username,
                    "role": demo.role or "admin",
                    "team": demo.team,
                    "source": "demo seed",
                },
            )
    return {demo.username: password for demo in DEMO_USERS}
