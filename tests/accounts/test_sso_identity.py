"""The provider's word becomes roles and teams in one place (apps.accounts.identity)."""

from __future__ import annotations

import pytest
from django.contrib.auth.models import Group, User
from django.core.exceptions import PermissionDenied
from django.test import Client

from apps.accounts.identity import (
    AccountDisabled,
    NoAccess,
    ProviderPerson,
    access_for,
    groups_from_claim,
    sign_in_from_provider,
)
from apps.accounts.models import ExternalIdentity, GroupMapping, Team
from apps.accounts.roles import Role, roles_of
from apps.audit.models import AuditEvent
from tests.conftest import api_client_for
from tests.factories import TeamFactory, UserFactory

pytestmark = pytest.mark.django_db

BY = "the identity provider (oidc)"


@pytest.fixture
def teams() -> dict[str, Team]:
    return {
        "retail": TeamFactory(slug="retail-credit", name="Retail credit"),
        "fraud": TeamFactory(slug="fraud", name="Fraud detection"),
    }


@pytest.fixture
def mapping(teams: dict[str, Team]) -> None:
    GroupMapping.objects.create(provider_group="MLOps-DataScientists", role=Role.DATA_SCIENTIST)
    GroupMapping.objects.create(provider_group="MLOps-ModelOps", role=Role.MODEL_OPS)
    GroupMapping.objects.create(provider_group="MLOps-Admins", role=Role.ADMIN)
    GroupMapping.objects.create(provider_group="Retail-Credit", team=teams["retail"])
    GroupMapping.objects.create(provider_group="Fraud", team=teams["fraud"])


def person(groups: tuple[str, ...] | None, **kw: str) -> ProviderPerson:
    fields = {
        "provider": "oidc",
        "subject": "sub-alice",
        "username": "alice",
        "first_name": "Alice",
        "last_name": "Martin",
        "email": "alice@bank.example",
    }
    fields.update(kw)
    return ProviderPerson(groups=groups, **fields)


def teams_of(user: User) -> list[str]:
    return sorted(Team.objects.filter(group__user=user).values_list("slug", flat=True))


def roles_now(user: User) -> list[str]:
    return roles_of(User.objects.get(pk=user.pk))


# --- groups_from_claim: pure -----------------------------------------------------------------


@pytest.mark.parametrize(
    ("claim", "expected"),
    [
        (["a", "b"], ("a", "b")),
        (("a",), ("a",)),
        ([], ()),
        ("single-group", ("single-group",)),  # ADFS sends one group as a string
        (None, None),
        (42, None),
        ({"a": 1}, None),
        (["a", 3], None),
        (["a", ""], None),
        (["x" * 2000], None),
        (["g"] * 6000, None),
    ],
)
def test_a_groups_claim_is_read_or_called_malformed(claim, expected):
    assert groups_from_claim(claim) == expected


# --- sign_in_from_provider -------------------------------------------------------------------


def test_a_first_sign_in_creates_the_account_with_role_and_team(mapping):
    user = sign_in_from_provider(person(("MLOps-DataScientists", "Retail-Credit", "Other")))

    assert user.username == "alice" and user.get_full_name() == "Alice Martin"
    assert user.email == "alice@bank.example"
    assert not user.has_usable_password()
    assert not user.is_superuser and not user.is_staff
    assert roles_now(user) == [Role.DATA_SCIENTIST]
    assert teams_of(user) == ["retail-credit"]
    assert ExternalIdentity.objects.get(user=user).subject == "sub-alice"

    created = AuditEvent.objects.get(action="user.sso_created")
    assert created.actor is None and created.object_id == str(user.pk)
    assert created.after["by"] == BY and created.after["subject"] == "sub-alice"
    changed = AuditEvent.objects.get(action="user.sso_access_changed")
    assert changed.actor is None
    assert changed.before == {"roles": [], "teams": []}
    assert changed.after == {
        "roles": ["data_scientist"],
        "teams": ["retail-credit"],
        "by": BY,
        "provider_groups": ["MLOps-DataScientists", "Retail-Credit"],
    }


def test_a_mover_loses_the_old_role_and_team_at_the_next_sign_in(mapping):
    user = sign_in_from_provider(person(("MLOps-DataScientists", "Retail-Credit")))
    again = sign_in_from_provider(person(("MLOps-ModelOps", "Fraud")))

    assert again.pk == user.pk
    assert roles_now(user) == [Role.MODEL_OPS]
    assert teams_of(user) == ["fraud"]
    last = AuditEvent.objects.filter(action="user.sso_access_changed").order_by("-id").first()
    assert last is not None
    assert last.before == {"roles": ["data_scientist"], "teams": ["retail-credit"]}
    assert last.after["roles"] == ["model_ops"] and last.after["teams"] == ["fraud"]


def test_an_unchanged_sign_in_writes_no_access_event(mapping):
    sign_in_from_provider(person(("MLOps-DataScientists",)))
    sign_in_from_provider(person(("MLOps-DataScientists",)))
    assert AuditEvent.objects.filter(action="user.sso_access_changed").count() == 1


def test_group_names_are_compared_without_regard_to_case(mapping):
    user = sign_in_from_provider(person(("mlops-datascientists", "RETAIL-CREDIT")))
    assert roles_now(user) == [Role.DATA_SCIENTIST]
    assert teams_of(user) == ["retail-credit"]


def test_a_role_given_by_hand_is_taken_back_but_other_groups_are_left(mapping):
    user = sign_in_from_provider(person(("MLOps-DataScientists",)))
    other = Group.objects.create(name="newsletter")
    user.groups.add(Group.objects.get(name=Role.COMPLIANCE), other)

    sign_in_from_provider(person(("MLOps-DataScientists",)))

    assert roles_now(user) == [Role.DATA_SCIENTIST]
    assert user.groups.filter(name="newsletter").exists()


def test_the_admin_role_opens_the_admin_but_never_makes_a_superuser(mapping):
    user = sign_in_from_provider(person(("MLOps-Admins",)))
    user.refresh_from_db()
    assert user.is_staff and not user.is_superuser
    sign_in_from_provider(person(("MLOps-DataScientists",)))
    user.refresh_from_db()
    assert not user.is_staff and not user.is_superuser
    last = AuditEvent.objects.filter(action="user.sso_access_changed").order_by("-id").first()
    assert last is not None and last.before["staff"] is True and last.after["staff"] is False


def test_a_local_account_with_the_same_username_is_never_taken_over(mapping, teams):
    local = UserFactory(username="alice", role=Role.COMPLIANCE)
    user = sign_in_from_provider(person(("MLOps-DataScientists",)))

    assert user.pk != local.pk
    assert user.username == "alice-2"
    assert roles_now(local) == [Role.COMPLIANCE]
    assert local.check_password("pw-alice")
    # Case does not make a different name either.
    other = sign_in_from_provider(person(("MLOps-DataScientists",), subject="s2", username="ALICE"))
    assert other.username == "ALICE-3"


def test_the_account_is_found_by_subject_when_the_username_changes(mapping):
    user = sign_in_from_provider(person(("MLOps-DataScientists",)))
    again = sign_in_from_provider(
        person(("MLOps-DataScientists",), username="alice.martin", last_name="Martin-Dupont")
    )
    assert again.pk == user.pk and again.username == "alice"
    assert again.last_name == "Martin-Dupont"
    event = AuditEvent.objects.get(action="user.changed")
    assert event.before == {"last_name": "Martin"}
    assert event.after == {"last_name": "Martin-Dupont", "by": BY}


def test_no_mapped_group_gives_no_account_and_a_clear_refusal(mapping):
    with pytest.raises(NoAccess) as refused:
        sign_in_from_provider(person(("Everyone",)))
    assert "your administrator" in str(refused.value)
    assert not User.objects.filter(username="alice").exists()
    event = AuditEvent.objects.get(action="auth.sso_no_access")
    assert event.object_repr == "alice"
    assert event.after["reason"] == "no group mapped" and event.after["by"] == BY


@pytest.mark.parametrize("groups", [None, ()])
def test_a_leaver_loses_every_role_and_team_and_is_refused(mapping, settings, groups):
    settings.PORTAL_ACCESS_CONTACT = "the MLOps service desk"
    user = sign_in_from_provider(person(("MLOps-DataScientists", "Retail-Credit")))

    with pytest.raises(NoAccess) as refused:
        sign_in_from_provider(person(groups))

    assert "the MLOps service desk" in str(refused.value)
    assert roles_now(user) == [] and teams_of(user) == []
    removal = AuditEvent.objects.filter(action="user.sso_access_changed").order_by("-id").first()
    assert removal is not None
    assert removal.before == {"roles": ["data_scientist"], "teams": ["retail-credit"]}
    assert removal.after["roles"] == [] and removal.after["teams"] == []
    no_access = AuditEvent.objects.get(action="auth.sso_no_access")
    assert no_access.object_id == str(user.pk)
    assert no_access.after["reason"] == (
        "groups claim missing or malformed" if groups is None else "no group mapped"
    )


def test_a_disabled_portal_account_is_refused_and_keeps_its_state(mapping):
    user = sign_in_from_provider(person(("MLOps-DataScientists",)))
    User.objects.filter(pk=user.pk).update(is_active=False)

    with pytest.raises(AccountDisabled) as refused:
        sign_in_from_provider(person(("MLOps-ModelOps",)))

    assert "disabled" in str(refused.value)
    assert roles_now(user) == [Role.DATA_SCIENTIST]
    assert AuditEvent.objects.get(action="auth.sso_no_access").after["reason"] == (
        "the portal account is disabled"
    )


def test_access_for_reads_roles_and_teams_from_the_mapping(mapping, teams):
    access = access_for(["Fraud", "MLOps-ModelOps", "unknown"])
    assert access.roles == {Role.MODEL_OPS}
    assert [t.slug for t in access.teams] == ["fraud"]
    assert access_for([]).empty


def test_a_token_loses_a_role_the_provider_took_away_at_once(mapping, teams):
    """Rights are checked on the person at each request, never frozen in the token."""
    UserFactory(username="rita", role=Role.RISK_OWNER)
    alice = sign_in_from_provider(person(("MLOps-DataScientists", "Retail-Credit")))
    client = api_client_for(alice)
    body = {
        "name": "Mortgage PD",
        "team": "retail-credit",
        "risk_tier": "high",
        "risk_owner": "rita",
        "use_case": "Price mortgages",
    }
    assert client.post("/api/v1/models/", body, format="json").status_code == 201

    sign_in_from_provider(person(("MLOps-ModelOps", "Retail-Credit")))

    body["name"] = "Mortgage LGD"
    refused = client.post("/api/v1/models/", body, format="json")
    assert refused.status_code == 403, refused.content[:300]


# --- mapping in the admin --------------------------------------------------------------------


def test_administrators_edit_the_mapping_and_each_change_is_audited(teams):
    admin = UserFactory(username="root", is_staff=True, is_superuser=True)
    client = Client()
    client.force_login(admin)
    add = client.post(
        "/admin/accounts/groupmapping/add/",
        {"provider_group": "MLOps-Risk", "role": "risk_owner", "team": "", "note": ""},
    )
    assert add.status_code == 302, add.content[:500]
    mapping = GroupMapping.objects.get()
    saved = AuditEvent.objects.get(action="sso.mapping_saved")
    assert saved.actor == admin and saved.before is None
    assert saved.after == {
        "provider_group": "MLOps-Risk",
        "role": "risk_owner",
        "team": None,
        "note": "",
    }

    change = client.post(
        f"/admin/accounts/groupmapping/{mapping.pk}/change/",
        {"provider_group": "MLOps-Risk", "role": "", "team": teams["fraud"].pk, "note": ""},
    )
    assert change.status_code == 302, change.content[:500]
    changed = AuditEvent.objects.filter(action="sso.mapping_saved").order_by("-id").first()
    assert changed is not None
    assert changed.before == {"role": "risk_owner", "team": None}
    assert changed.after == {"role": None, "team": "fraud"}

    delete = client.post(f"/admin/accounts/groupmapping/{mapping.pk}/delete/", {"post": "yes"})
    assert delete.status_code == 302
    deleted = AuditEvent.objects.get(action="sso.mapping_deleted")
    assert deleted.before["team"] == "fraud" and not GroupMapping.objects.exists()


def test_a_mapping_gives_a_role_or_a_team_never_both_or_neither(teams):
    admin = UserFactory(username="root", is_staff=True, is_superuser=True)
    client = Client()
    client.force_login(admin)
    for role, team in (("risk_owner", teams["fraud"].pk), ("", "")):
        answer = client.post(
            "/admin/accounts/groupmapping/add/",
            {"provider_group": "G", "role": role, "team": team, "note": ""},
        )
        assert answer.status_code == 200
        assert "either a role or a team" in answer.content.decode()
    GroupMapping.objects.create(provider_group="G", role=Role.RISK_OWNER)
    answer = client.post(
        "/admin/accounts/groupmapping/add/",
        {"provider_group": "g", "role": "risk_owner", "team": "", "note": ""},
    )
    assert answer.status_code == 200 and "already gives this role" in answer.content.decode()
    assert not AuditEvent.objects.filter(action="sso.mapping_saved").exists()


def test_the_admin_role_may_keep_the_mapping():
    admin_role = Group.objects.get(name=Role.ADMIN)
    codenames = set(admin_role.permissions.values_list("codename", flat=True))
    assert {"add_groupmapping", "change_groupmapping", "delete_groupmapping"} <= codenames


# --- password sign-in and PORTAL_LOCAL_LOGIN -------------------------------------------------


def test_with_local_login_off_only_the_break_glass_administrator_uses_a_password(settings):
    settings.PORTAL_LOCAL_LOGIN = False
    UserFactory(username="ivan", role=Role.MODEL_OPS)
    UserFactory(username="root", is_staff=True, is_superuser=True)

    refused = Client().post("/login/", {"username": "ivan", "password": "pw-ivan"})
    assert refused.status_code == 200
    assert "break-glass administrators only" in refused.content.decode()
    assert AuditEvent.objects.get(action="auth.login_failed").after == {"username": "ivan"}

    admitted = Client().post("/login/", {"username": "root", "password": "pw-root"})
    assert admitted.status_code == 302 and admitted.url == "/"

    token = Client().post(
        "/api/v1/auth/token/",
        {"username": "ivan", "password": "pw-ivan", "name": "cli"},
        content_type="application/json",
    )
    assert token.status_code == 401


def test_the_sign_in_page_names_the_break_glass_form_when_local_login_is_off(settings):
    settings.PORTAL_LOCAL_LOGIN = False
    page = Client().get("/login/").content.decode()
    assert "Break-glass administrator sign-in" in page
    settings.PORTAL_LOCAL_LOGIN = True
    assert "Break-glass" not in Client().get("/login/").content.decode()


def test_the_sign_in_page_offers_the_provider_first_when_oidc_is_on(settings):
    settings.PORTAL_OIDC_DISCOVERY_URL = (
        "https://login.bank.example/.well-known/openid-configuration"
    )
    settings.PORTAL_OIDC_CLIENT_ID = "mlops-portal"
    settings.PORTAL_OIDC_PROVIDER_NAME = "Bank ID"
    page = Client().get("/login/?next=/models/").content.decode()
    assert page.index("Sign in with Bank ID") < page.index('name="password"')
    assert 'href="/login/sso/?next=/models/"' in page


def test_forms_may_lead_to_the_provider_only_when_oidc_is_on(settings):
    policy = Client().get("/login/").headers["Content-Security-Policy"]
    assert "form-action 'self';" in policy
    settings.PORTAL_OIDC_DISCOVERY_URL = (
        "https://idp.bank.example/realms/x/.well-known/openid-configuration"
    )
    settings.PORTAL_OIDC_CLIENT_ID = "mlops-portal"
    policy = Client().get("/login/").headers["Content-Security-Policy"]
    assert "form-action 'self' https://idp.bank.example;" in policy


class _DirectoryWithoutGroups:
    """A directory backend (the contract helper B's LDAP backend follows): it recognises the
    person, finds no mapped group, says why on the request and refuses."""

    def authenticate(self, request, username=None, password=None, **kwargs):  # type: ignore[no-untyped-def]
        if username == "dora" and request is not None:
            request.sso_no_access = "None of your groups gives a role. Ask the service desk."
            raise PermissionDenied
        return

    def get_user(self, user_id):  # type: ignore[no-untyped-def]
        return None


def test_a_directory_refusal_for_lack_of_groups_shows_the_no_access_page(settings):
    settings.AUTHENTICATION_BACKENDS = [
        *settings.AUTHENTICATION_BACKENDS,
        f"{__name__}._DirectoryWithoutGroups",
    ]
    answer = Client().post("/login/", {"username": "dora", "password": "secret"})
    assert answer.status_code == 403
    text = answer.content.decode()
    assert "You have no access to the MLOps Portal" in text
    assert "Ask the service desk." in text
    assert "_auth_user_id" not in Client().session


# --- bootstrap from the environment --------------------------------------------------------


def test_the_group_map_from_the_environment_adds_missing_rows_once(teams, settings):
    from django.core.management import call_command

    settings.PORTAL_SSO_GROUP_MAP = (
        '{"MLOps-DS": ["data_scientist", "team:retail-credit"], "MLOps-Ops": "model_ops"}'
    )
    call_command("sso_group_map")
    call_command("sso_group_map")  # at every start: nothing twice

    rows = {
        (m.provider_group, m.role, m.team.slug if m.team else None)
        for m in GroupMapping.objects.all()
    }
    assert rows == {
        ("MLOps-DS", "data_scientist", None),
        ("MLOps-DS", "", "retail-credit"),
        ("MLOps-Ops", "model_ops", None),
    }
    events = AuditEvent.objects.filter(action="sso.mapping_saved")
    assert events.count() == 3
    assert all(e.actor is None and e.after["source"] == "PORTAL_SSO_GROUP_MAP" for e in events)


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("{not json", "not valid JSON"),
        ('{"Fine": "compliance", "G": "wizard"}', "neither a role"),
        ('["a"]', "must be a JSON object"),
        ('{"G": "wizard"}', "neither a role"),
        ('{"G": "team:nowhere"}', "no such team"),
        ('{"G": 3}', "give a role or team:<slug>"),
    ],
)
def test_a_bad_group_map_is_refused_whole_with_a_sentence(teams, text, message):
    from django.core.management import CommandError, call_command

    with pytest.raises(CommandError, match=message):
        call_command("sso_group_map", json=text)
    assert not GroupMapping.objects.exists()


@pytest.mark.parametrize(
    ("candidate", "expected"),
    [
        ("/models/loan-default/", "/models/loan-default/"),
        ("/audit/?action=auth.", "/audit/?action=auth."),
        ("//evil.example/", "/"),
        ("/\\evil.example/", "/"),
        ("https://evil.example/", "/"),
        ("http://testserver/models/", "/"),  # absolute addresses are not needed, so not taken
        ("javascript:alert(1)", "/"),
        ("", "/"),
        (None, "/"),
    ],
)
def test_after_sign_in_only_a_path_on_this_site_is_followed(rf, candidate, expected):
    from apps.accounts.oidc import safe_next

    assert safe_next(rf.get("/login/sso/"), candidate) == expected


# --- Leavers: revoke_access --------------------------------------------------------------------


def test_revoke_access_removes_roles_teams_and_active_tokens_in_one_audited_step(mapping):
    from apps.accounts import services
    from apps.accounts.identity import revoke_access

    user = sign_in_from_provider(person(("MLOps-DataScientists", "Retail-Credit")))
    user.groups.add(Group.objects.create(name="newsletter"))  # neither a role nor a team
    active, _ = services.create_token(actor=user, name="cli")
    already, _ = services.create_token(actor=user, name="old")
    services.revoke_token(already.pk, actor=user)

    assert revoke_access(user, by=BY) == 1

    assert roles_now(user) == [] and teams_of(user) == []
    assert user.groups.filter(name="newsletter").exists()
    active.refresh_from_db()
    assert active.revoked_at is not None
    changed = AuditEvent.objects.filter(action="user.sso_access_changed").order_by("-id")[0]
    assert changed.actor is None
    assert changed.before == {"roles": ["data_scientist"], "teams": ["retail-credit"]}
    assert changed.after["roles"] == [] and changed.after["teams"] == []
    assert changed.after["by"] == BY
    revoked = AuditEvent.objects.filter(action="token.revoked", actor=None).get()
    assert revoked.object_id == str(active.pk)
    assert revoked.after["reason"] == "the identity provider ended the session"


# --- Usernames and group names from providers ----------------------------------------------------


@pytest.mark.parametrize(
    ("given", "expected"),
    [
        ("alice.martin", "alice.martin"),
        ("a.o'neill", None),  # an apostrophe: not in the safe set
        ("\u0430lice", None),  # Cyrillic "a": reads like "alice"
        ("al\u200bice", None),  # zero-width space
        ("\uff41\uff4c\uff49\uff43\uff45", "alice"),  # full-width: NFKC makes it ASCII
        ("\ufb01ona", "fiona"),  # the "fi" ligature
        ("", None),
    ],
)
def test_provider_usernames_are_plain_ascii_or_a_slug_of_the_subject(given, expected):
    import hashlib

    from apps.accounts.identity import username_from_provider

    slug = f"sso-{hashlib.sha256(b'sub-x').hexdigest()[:8]}"
    assert username_from_provider(given, "sub-x") == (expected or slug)


def test_a_look_alike_username_never_takes_a_local_accounts_name(mapping):
    UserFactory(username="alice")
    full_width = sign_in_from_provider(
        person(("MLOps-DataScientists",), username="\uff21\uff4c\uff49\uff43\uff45", subject="s1")
    )
    cyrillic = sign_in_from_provider(
        person(("MLOps-DataScientists",), username="\u0430lice", subject="s2")
    )
    assert full_width.username == "Alice-2"
    assert cyrillic.username.startswith("sso-") and len(cyrillic.username) == 12


def test_group_mappings_refuse_names_outside_ascii(teams):
    from django.core.exceptions import ValidationError

    from apps.accounts.identity import load_group_map

    with pytest.raises(ValidationError, match="plain ASCII"):
        GroupMapping(provider_group="Gr\u00fcppe", role=Role.DATA_SCIENTIST).full_clean()
    GroupMapping(provider_group="Gruppe", role=Role.DATA_SCIENTIST).full_clean()
    with pytest.raises(ValueError, match="outside ASCII"):
        load_group_map('{"Gr\u00fcppe": "data_scientist"}', source="test")


def test_group_names_meet_only_by_ascii_case(teams):
    GroupMapping.objects.create(provider_group="SS-Group", role=Role.DATA_SCIENTIST)
    GroupMapping.objects.create(provider_group="Kilo", role=Role.MODEL_OPS)
    assert access_for(["ss-group", "KILO"]).roles == {Role.DATA_SCIENTIST, Role.MODEL_OPS}
    # Unicode case folding would make "ß" meet "ss" and the Kelvin sign meet "k": not here.
    assert access_for(["\u00df-group", "\u212ailo"]).empty


# --- Links: the issuer is part of the key; long subjects ----------------------------------------


def test_the_same_subject_at_two_issuers_is_two_people(mapping):
    first = sign_in_from_provider(
        person(("MLOps-DataScientists",), provider="oidc:https://a.example", subject="42")
    )
    second = sign_in_from_provider(
        person(("MLOps-ModelOps",), provider="oidc:https://b.example", subject="42", username="b")
    )
    assert first.pk != second.pk
    assert roles_now(first) == [Role.DATA_SCIENTIST] and roles_now(second) == [Role.MODEL_OPS]


def test_a_long_subject_links_one_account(mapping):
    dn = "cn=" + "x" * 900 + ",ou=people,dc=bank,dc=example"
    first = sign_in_from_provider(person(("MLOps-DataScientists",), provider="ldap", subject=dn))
    again = sign_in_from_provider(person(("MLOps-DataScientists",), provider="ldap", subject=dn))
    assert first.pk == again.pk
    link = ExternalIdentity.objects.get()
    assert link.subject == dn and link.subject_digest == ExternalIdentity.digest(dn)


def test_a_link_from_before_issuer_keys_is_moved_to_the_issuer_not_duplicated(mapping):
    first = sign_in_from_provider(person(("MLOps-DataScientists",), provider="oidc"))
    again = sign_in_from_provider(
        person(("MLOps-DataScientists",), provider="oidc:https://idp.example")
    )
    assert again.pk == first.pk
    assert ExternalIdentity.objects.get().provider == "oidc:https://idp.example"


def test_the_admin_refuses_a_mapping_name_outside_ascii(teams):
    admin = UserFactory(username="root", is_staff=True, is_superuser=True)
    client = Client()
    client.force_login(admin)
    answer = client.post(
        "/admin/accounts/groupmapping/add/",
        {"provider_group": "MLOps-\u0420isk", "role": "risk_owner", "team": "", "note": ""},
    )
    assert answer.status_code == 200 and "plain ASCII" in answer.content.decode()
    assert not GroupMapping.objects.exists()
