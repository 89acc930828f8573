"""Roles, access levels and verdicts as people say them: ``{% load words %}``.

The portal stores codes (the group ``model_ops``, the level ``change``, the verdict ``approve``);
people read "model operations", "can change", "approved". This is the one place that turns the
codes into words, for templates (the filters) and for Python (the functions).

``core`` imports no app, so the role codes are spelt here as the strings they are (the names of
the role groups ``apps.accounts.roles.Role`` creates); a test in tests/accounts checks that every
role has its words.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from django import template
from django.contrib.auth.models import Group

register = template.Library()

# A role as a group of people: "shared with model operations", "sign-offs from risk owners".
ROLE_GROUPS: Mapping[str, str] = {
    "data_scientist": "data scientists",
    "model_ops": "model operations",
    "risk_owner": "risk owners",
    "compliance": "compliance",
    "admin": "administrators",
}
# The role one person holds: "ivan (model operations, approved)", "rita, risk owner". The
# accounts app's Role labels are these, capitalised.
ROLE_TITLES: Mapping[str, str] = {
    "data_scientist": "data scientist",
    "model_ops": "model operations",
    "risk_owner": "risk owner",
    "compliance": "compliance",
    "admin": "administrator",
}
# The sign-off a role gives on a review: "ivan (model operations, approved)".
VERDICT_WORDS: Mapping[str, str] = {
    "approve": "approved",
    "reject": "rejected",
    "request_changes": "requested changes",
}
# What a grant on a model allows. "submitted versions" is model operations' limited grant: they
# see the versions submitted for review, not drafts.
LEVEL_WORDS: Mapping[str, str] = {
    "view": "can view",
    "change": "can change",
    "submitted versions": "can view submitted versions",
}
TEAM_PREFIX = "team:"


def _spelt(code: str) -> str:
    """A code nobody gave words to yet, still readable: ``some_role`` → ``some role``."""
    return code.replace("_", " ")


@register.filter
def role_group(code: object) -> str:
    """The people of a role: ``risk_owner`` → ``risk owners``."""
    text = str(code or "")
    return ROLE_GROUPS.get(text, _spelt(text))


@register.filter
def role_title(code: object) -> str:
    """The role of one person: ``risk_owner`` → ``risk owner``."""
    text = str(code or "")
    return ROLE_TITLES.get(text, _spelt(text))


@register.filter
def verdict_words(code: object) -> str:
    """``approve`` → ``approved``."""
    text = str(code or "")
    return VERDICT_WORDS.get(text, _spelt(text))


@register.filter
def level_words(code: object) -> str:
    """``view`` → ``can view``."""
    text = str(code or "")
    return LEVEL_WORDS.get(text, f"can {_spelt(text)}")


@register.filter
def group_words(name: object, owning_team: Any = None) -> str:
    """A group as people name it: a role (``model_ops`` → ``model operations``), a team
    (``team:retail-credit`` → ``team Retail credit``) or another group (``group auditors``).

    ``owning_team`` (a Team, optional) names the model's own team without a query; another
    team's name is read from its group (a team is backed by one).
    """
    text = str(name or "")
    if text in ROLE_GROUPS:
        return ROLE_GROUPS[text]
    if text.startswith(TEAM_PREFIX):
        slug = text[len(TEAM_PREFIX) :]
        if owning_team is not None and getattr(owning_team, "slug", None) == slug:
            return f"team {owning_team.name}"
        team_name = Group.objects.filter(name=text).values_list("team__name", flat=True).first()
        return f"team {team_name or slug}"
    return f"group {text}"


@register.filter
def signoff_words(required: object) -> str:
    """A review policy's required sign-offs, ``{"model_ops": 1, "risk_owner": 2}`` →
    ``1 model operations sign-off, 2 risk owner sign-offs`` (roles asked for none are left
    out)."""
    if not isinstance(required, Mapping):
        return ""
    parts = [
        f"{count} {role_title(role)} sign-off{'s' if count != 1 else ''}"
        for role, count in required.items()
        if count
    ]
    return ", ".join(parts) or "no sign-off"
