"""Where an identity provider's word becomes a portal account, its roles and its teams.

Both ways of signing in through the bank's directory end here: OpenID Connect (apps.accounts.oidc)
and LDAP (apps.accounts.ldap) each turn what the provider says into a ``ProviderPerson`` and call
``sign_in_from_provider``, which finds or creates the account and sets its roles and teams from
the group mapping (``GroupMapping``, edited by administrators in the Django admin).

What the provider governs, for an account that signs in through it: every role (the role groups
of ``Role``) and every team membership. At each sign-in they are set to exactly what the person's
groups map to; a role or team an administrator gave by hand in the admin is taken away again at
the next sign-in unless the mapping gives it. Django groups that are neither a role nor a team,
and the superuser flag, are never touched; the staff flag (the Django admin's door) follows the
admin role, and stays on for a superuser. Every change is audited as done by the provider
(``actor`` None, ``after["by"]`` naming it), with the roles and teams before and after.
"""

from __future__ import annotations

import hashlib
import json
import re
import unicodedata
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

from django.conf import settings
from django.contrib.auth.models import Group, User
from django.db import DataError, IntegrityError, transaction
from django.utils import timezone

from apps.accounts.models import ApiToken, ExternalIdentity, GroupMapping, Team
from apps.accounts.roles import ADMIN, Role
from apps.audit import services as audit
from apps.core.audit_actions import AuditAction
from apps.core.permissions import is_administrator

# A claim longer than this is not a list of someone's groups; it is refused as malformed.
MAX_GROUPS = 5000
MAX_GROUP_LENGTH = 1024
_USERNAME_SAFE = re.compile(r"[A-Za-z0-9._@+-]+")
_ASCII_LOWER = str.maketrans("ABCDEFGHIJKLMNOPQRSTUVWXYZ", "abcdefghijklmnopqrstuvwxyz")
# Errors that a malformed answer from an identity provider can raise deep in a library (or a
# claim the database refuses); they end a sign-in as an audited refusal (record_failure), never
# as a server error.
UNEXPECTED_SIGN_IN_ERRORS: tuple[type[Exception], ...] = (
    RuntimeError,
    KeyError,
    TypeError,
    ValueError,
    DataError,
)
# Why a leaver's API tokens are revoked (the audit event's after["reason"]).
PROVIDER_ENDED_SESSION = "the identity provider ended the session"


@dataclass(frozen=True)
class ProviderPerson:
    """What an identity provider says about the person signing in."""

    # "oidc:<issuer>" or "ldap": the link's key, and names the source in audit events
    # ("… by the identity provider (oidc:https://login.bank.example)")
    provider: str
    subject: str  # stable id at the provider (OIDC "sub", LDAP DN)
    username: str
    first_name: str = ""
    last_name: str = ""
    email: str = ""
    groups: tuple[str, ...] | None = None  # None: the claim was missing or malformed


class NoAccess(Exception):
    """The person may not use the portal; ``str(exc)`` is the sentence shown to them."""


class AccountDisabled(NoAccess):
    """The portal account linked to the person is disabled (``is_active`` off)."""


@dataclass(frozen=True)
class Access:
    """What a person's provider groups give: role names and teams, and the groups that counted."""

    roles: frozenset[str] = frozenset()
    teams: tuple[Team, ...] = ()
    matched_groups: tuple[str, ...] = field(default=())

    @property
    def empty(self) -> bool:
        return not self.roles and not self.teams


def groups_from_claim(value: object) -> tuple[str, ...] | None:
    """A provider's groups claim (or attribute) as a tuple of names, or None when malformed.

    A single string counts as one group (ADFS sends one group as a string, not a list). Anything
    else but a list of non-empty strings of sensible length is malformed: the person then gets
    no roles rather than roles guessed from a claim the portal cannot read.
    """
    if isinstance(value, str):
        value = [value]
    if not isinstance(value, list | tuple) or len(value) > MAX_GROUPS:
        return None
    if not all(isinstance(g, str) and 0 < len(g.strip()) <= MAX_GROUP_LENGTH for g in value):
        return None
    return tuple(g.strip() for g in value)


def group_key(name: str) -> str:
    """A group name as compared: ASCII letters lower-cased, nothing else changed. Mapping names
    are ASCII (``GroupMapping.clean``), so no Unicode case rule can make two names meet."""
    return name.translate(_ASCII_LOWER)


def access_for(groups: Iterable[str]) -> Access:
    """What ``groups`` give through the mapping. Names are compared without regard to (ASCII)
    case."""
    wanted = {group_key(g) for g in groups}
    roles: set[str] = set()
    teams: dict[int, Team] = {}
    matched: set[str] = set()
    for mapping in GroupMapping.objects.select_related("team__group"):
        if group_key(mapping.provider_group) not in wanted:
            continue
        matched.add(mapping.provider_group)
        if mapping.team is not None:
            teams[mapping.team.pk] = mapping.team
        elif mapping.role:
            roles.add(mapping.role)
    return Access(
        roles=frozenset(roles),
        teams=tuple(sorted(teams.values(), key=lambda t: t.slug)),
        matched_groups=tuple(sorted(matched)),
    )


def contact() -> str:
    return str(settings.PORTAL_ACCESS_CONTACT)


def no_access_sentence(groups_readable: bool) -> str:
    if not groups_readable:
        return (
            "The identity provider did not say which groups you belong to (or said it in a "
            "form the portal cannot read), so the portal cannot tell what you may do. "
            f"Ask {contact()} to check the single sign-on set-up."
        )
    return (
        "None of your groups at the identity provider gives a role or a team in the MLOps "
        f"Portal. Ask {contact()} to add you to the group for your role."
    )


def sign_in_from_provider(person: ProviderPerson) -> User:
    """The account of ``person``, with its roles and teams set from their groups.

    Finds the account by its link (provider, subject), or creates it just in time (username from
    the provider, made unique if a local account has it; no usable password). Updates name and
    email, sets roles and teams to exactly what the mapping gives, audits every change as done by
    the provider. Raises ``NoAccess`` (after committing the removal of the person's rights and
    the audit event) when their groups give nothing, and ``AccountDisabled`` when the portal
    account is disabled; the caller must not sign them in then.
    """
    try:
        user, refusal = _sign_in(person)
    except IntegrityError:
        # Two first sign-ins of one person at once: the other one created the link; use it.
        user, refusal = _sign_in(person)
    if refusal is not None:
        raise refusal
    assert user is not None
    return user


def by_provider(person: ProviderPerson) -> str:
    return f"the identity provider ({person.provider})"


@transaction.atomic
def _sign_in(person: ProviderPerson) -> tuple[User | None, NoAccess | None]:
    by = by_provider(person)
    link = (
        ExternalIdentity.objects.select_for_update()
        .select_related("user")
        .linked(person.provider, person.subject)
        .first()
    )
    if link is None and person.provider.startswith("oidc:"):
        link = _legacy_oidc_link(person)
    user = link.user if link is not None else None
    if user is not None and not user.is_active:
        audit.record(
            None,
            AuditAction.SSO_NO_ACCESS,
            user,
            after={"by": by, "reason": "the portal account is disabled"},
        )
        return user, AccountDisabled(
            f"Your MLOps Portal account is disabled. Ask {contact()} if you need it again."
        )

    access = access_for(person.groups) if person.groups is not None else None
    if access is None or access.empty:
        if user is not None:
            _set_access(user, Access(), by)
        reason = "no group mapped" if access is not None else "groups claim missing or malformed"
        after: dict[str, Any] = {"by": by, "reason": reason}
        if person.groups is not None:
            after["groups"] = list(person.groups[:50])
        if user is not None:
            audit.record(None, AuditAction.SSO_NO_ACCESS, user, after=after)
        else:
            audit.record(
                None,
                AuditAction.SSO_NO_ACCESS,
                object_type="auth.user",
                object_id=person.username[:64],
                object_repr=person.username,
                after={**after, "subject": person.subject},
            )
        return user, NoAccess(no_access_sentence(groups_readable=person.groups is not None))

    if user is None:
        user = _create_account(person, by)
        link = ExternalIdentity.objects.create(
            user=user, provider=person.provider, subject=person.subject
        )
    else:
        _update_profile(user, person, by)
    assert link is not None
    _set_access(user, access, by)
    link.last_sign_in_at = timezone.now()
    link.save(update_fields=["last_sign_in_at"])
    return user, None


def username_from_provider(wanted: str, subject: str) -> str:
    """The provider's username, NFKC-normalised, if it is plain ASCII letters, digits and
    ``._@+-``; otherwise ``sso-<8 hex of the subject's SHA-256>``. Look-alike characters
    (Cyrillic or full-width letters, ligatures…) never make a name that reads like another's."""
    name = unicodedata.normalize("NFKC", wanted).strip()
    if name and len(name) <= 140 and _USERNAME_SAFE.fullmatch(name):
        return name
    return f"sso-{hashlib.sha256(subject.encode()).hexdigest()[:8]}"


def _legacy_oidc_link(person: ProviderPerson) -> ExternalIdentity | None:
    """A link made before providers were keyed by issuer (``"oidc"``), moved to the issuer's
    key at its first sign-in since: the account is the same person's, not a new one."""
    link = (
        ExternalIdentity.objects.select_for_update()
        .select_related("user")
        .linked("oidc", person.subject)
        .first()
    )
    if link is not None:
        link.provider = person.provider
        link.save(update_fields=["provider"])
    return link


def _free_username(base: str) -> str:
    """``base`` (ASCII), made a username that no account holds (ignoring case): a local account
    named like the provider's person is never taken over, the new one gets ``-2``, ``-3``…"""
    candidate, n = base, 1
    while User.objects.filter(username__iexact=candidate).exists():
        n += 1
        candidate = f"{base}-{n}"
    return candidate


def _create_account(person: ProviderPerson, by: str) -> User:
    user = User(
        username=_free_username(
            username_from_provider(person.username or person.email.split("@")[0], person.subject)
        ),
        first_name=person.first_name[:150],
        last_name=person.last_name[:150],
        email=person.email[:254],
    )
    user.set_unusable_password()
    user.save()
    audit.record(
        None,
        AuditAction.SSO_ACCOUNT_CREATED,
        user,
        after={
            "username": user.username,
            "provider_username": person.username,
            "email": user.email,
            "subject": person.subject,
            "by": by,
        },
    )
    return user


def _update_profile(user: User, person: ProviderPerson, by: str) -> None:
    fields = {
        "first_name": person.first_name[:150],
        "last_name": person.last_name[:150],
        "email": person.email[:254],
    }
    before = {name: getattr(user, name) for name in fields}
    # A provider that does not send a name keeps the one the account has.
    after = {name: value for name, value in fields.items() if value and value != before[name]}
    if not after:
        return
    for name, value in after.items():
        setattr(user, name, value)
    user.save(update_fields=list(after))
    audit.record(
        None,
        AuditAction.USER_CHANGED,
        user,
        before={name: before[name] for name in after},
        after={**after, "by": by},
    )


def _set_access(user: User, access: Access, by: str) -> None:
    """Set ``user``'s role groups and team groups to ``access``; audit the change, if any."""
    role_groups = {g.name: g for g in Group.objects.filter(name__in=Role.values)}
    team_of_group = {t.group_id: t for t in Team.objects.select_related("group")}
    held = list(user.groups.all())
    held_roles = {g.name for g in held if g.name in role_groups}
    held_teams = {team_of_group[g.pk].slug for g in held if g.pk in team_of_group}
    wanted_roles = {r for r in access.roles if r in role_groups}
    wanted_teams = {t.slug for t in access.teams}

    remove = [role_groups[r] for r in held_roles - wanted_roles]
    remove += [
        g for g in held if g.pk in team_of_group and team_of_group[g.pk].slug not in wanted_teams
    ]
    add = [role_groups[r] for r in wanted_roles - held_roles]
    add += [t.group for t in access.teams if t.slug not in held_teams]
    staff_before = user.is_staff
    staff_after = ADMIN in wanted_roles or is_administrator(user)
    if not remove and not add and staff_before == staff_after:
        return
    if remove:
        user.groups.remove(*remove)
    if add:
        user.groups.add(*add)
    if staff_after != staff_before:
        user.is_staff = staff_after
        user.save(update_fields=["is_staff"])
    # Roles and permissions are cached on the user object; this one must see the new ones.
    for cache in ("_portal_roles", "_perm_cache", "_user_perm_cache", "_group_perm_cache"):
        user.__dict__.pop(cache, None)
    before: dict[str, Any] = {"roles": _ordered(held_roles), "teams": sorted(held_teams)}
    after: dict[str, Any] = {"roles": _ordered(wanted_roles), "teams": sorted(wanted_teams)}
    if staff_after != staff_before:
        before["staff"], after["staff"] = staff_before, staff_after
    after["by"] = by
    after["provider_groups"] = list(access.matched_groups)
    audit.record(None, AuditAction.SSO_ACCESS_CHANGED, user, before=before, after=after)


def record_failure(provider: str, provider_name: str, reason: str) -> None:
    """Audit a refused sign-in through a provider (SSO_LOGIN_FAILED, by nobody: the person is
    not known yet). ``reason`` never holds a token or a password."""
    with transaction.atomic():
        audit.record(
            None,
            AuditAction.SSO_LOGIN_FAILED,
            object_type="auth.sso",
            object_id=provider,
            object_repr=provider_name,
            after={"provider": provider, "reason": reason[:300]},
        )


@transaction.atomic
def revoke_access(user: User, *, by: str, reason: str = PROVIDER_ENDED_SESSION) -> int:
    """A leaver: the identity provider refused the person's session (their grant revoked, the
    account disabled there). Their roles and teams are removed (SSO_ACCESS_CHANGED) and their
    active API tokens revoked (TOKEN_REVOKED, ``after["reason"]``), all by the provider, in one
    transaction. Returns how many tokens were revoked. Django groups that are neither roles nor
    teams, and the superuser flag, are left as they are (as at a sign-in)."""
    user = User.objects.select_for_update().get(pk=user.pk)
    _set_access(user, Access(), by)
    now = timezone.now()
    tokens = list(ApiToken.objects.select_for_update().active().filter(user=user))
    for token in tokens:
        token.revoked_at = now
        token.save(update_fields=["revoked_at"])
        audit.record(
            None,
            AuditAction.TOKEN_REVOKED,
            token,
            before={"state": "active"},
            after={
                "state": "revoked",
                "owner": user.get_username(),
                "reason": reason,
                "by": by,
            },
        )
    return len(tokens)


def _ordered(roles: set[str]) -> list[str]:
    return [r.value for r in Role if r.value in roles]


def load_group_map(text: str, *, source: str) -> list[GroupMapping]:
    """Add the mapping rows a JSON group map names; rows already there are left as they are,
    and no row is removed (the admin is where mappings are changed and deleted).

    The JSON is an object from provider group to a role (``"model_ops"``), a team
    (``"team:<slug>"``) or a list of those, e.g.
    ``{"MLOps-DS": "data_scientist", "Retail-Credit": "team:retail-credit"}``. Raises
    ``ValueError`` with a sentence naming the first bad entry; nothing is saved then. Each row
    added is audited (GROUP_MAPPING_SAVED, by the system, ``source`` naming where it came from).
    """
    try:
        data = json.loads(text)
    except json.JSONDecodeError as exc:
        raise ValueError(f"The group map is not valid JSON: {exc}.") from None
    if not isinstance(data, dict):
        raise ValueError('The group map must be a JSON object: {"provider group": "role", …}.')
    with transaction.atomic():
        added = []
        for group, targets in data.items():
            for target in targets if isinstance(targets, list) else [targets]:
                mapping = _mapping_from_entry(group, target)
                existing = GroupMapping.objects.filter(
                    provider_group__iexact=mapping.provider_group,
                    role=mapping.role,
                    team=mapping.team,
                )
                if existing.exists():
                    continue
                mapping.save()
                audit.record(
                    None,
                    AuditAction.GROUP_MAPPING_SAVED,
                    mapping,
                    after={
                        "provider_group": mapping.provider_group,
                        "role": mapping.role or None,
                        "team": mapping.team.slug if mapping.team else None,
                        "note": mapping.note,
                        "source": source,
                    },
                )
                added.append(mapping)
    return added


def _mapping_from_entry(group: object, target: object) -> GroupMapping:
    if not isinstance(group, str) or not group.strip() or len(group) > 255:
        raise ValueError(f"{group!r} is not a provider group name (1 to 255 characters).")
    if not group.isascii():
        raise ValueError(
            f"{group!r} has characters outside ASCII; write group names in plain ASCII."
        )
    if not isinstance(target, str):
        raise ValueError(f"{group!r} maps to {target!r}: give a role or team:<slug>.")
    note = "from the group map"
    if target.startswith("team:"):
        team = Team.objects.filter(slug=target.removeprefix("team:")).first()
        if team is None:
            raise ValueError(f"{group!r} maps to {target!r}, but there is no such team.")
        return GroupMapping(provider_group=group.strip(), team=team, note=note)
    if target not in Role.values:
        raise ValueError(
            f"{group!r} maps to {target!r}, which is neither a role "
            f"({', '.join(Role.values)}) nor team:<slug>."
        )
    return GroupMapping(provider_group=group.strip(), role=target, note=note)
