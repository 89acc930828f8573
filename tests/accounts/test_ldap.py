"""Signing in with the bank's directory over LDAP, against a real slapd started by these tests.

One slapd per module (``tests.support.ldap.SlapdServer``, with TLS); every test empties its
people and groups. The portal is configured as it would be in production, through the
``PORTAL_LDAP_*`` settings, with ``LdapBackend`` before the local (break-glass) backend.
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from axes.models import AccessAttempt
from django.contrib.auth import authenticate
from django.contrib.auth.models import User
from django.test import Client, RequestFactory
from django.urls import reverse

from apps.accounts import ldap
from apps.accounts.models import ExternalIdentity, GroupMapping, Team
from apps.accounts.roles import Role, roles_of
from apps.audit.models import AuditEvent
from apps.core.audit_actions import AuditAction
from tests.factories import TeamFactory, UserFactory
from tests.support.ldap import GROUPS, PEOPLE, SERVICE_DN, SlapdServer
from tests.support.services import free_port

pytestmark = pytest.mark.django_db

ALICE_PASSWORD = "Alice-directory-2026"  # a test person's, in the test slapd


@pytest.fixture(scope="module")
def slapd() -> Iterator[SlapdServer]:
    with SlapdServer(tls=True) as server:
        yield server


@pytest.fixture
def directory(slapd: SlapdServer) -> SlapdServer:
    """The module's slapd with alice in ml-scientists and ml-retail, and an unmapped group."""
    slapd.reset()
    slapd.add_person("alice", ALICE_PASSWORD, "Alice", "Martin", "alice@bank.test")
    slapd.add_group("ml-scientists", ["alice"])
    slapd.add_group("ml-retail", ["alice"])
    slapd.add_group("ml-risk", [])
    slapd.add_group("canteen", [])
    return slapd


@pytest.fixture
def retail(db: None) -> Team:
    return TeamFactory(slug="retail-credit", name="Retail credit")


@pytest.fixture
def mapping(retail: Team) -> None:
    """The administrators' mapping: directory groups to portal roles and teams."""
    GroupMapping.objects.create(provider_group="ml-scientists", role=Role.DATA_SCIENTIST)
    GroupMapping.objects.create(provider_group="ml-risk", role=Role.RISK_OWNER)
    GroupMapping.objects.create(provider_group="ml-retail", team=retail)


def template_mode(settings, server: SlapdServer) -> None:
    """OpenLDAP style: the person's DN from a template, groups searched as the person."""
    settings.PORTAL_LDAP_URL = server.url
    settings.PORTAL_LDAP_USER_DN_TEMPLATE = f"uid={{username}},{PEOPLE}"
    settings.PORTAL_LDAP_GROUP_SEARCH_BASE = GROUPS


def search_mode(settings, server: SlapdServer, member_of: bool = False) -> None:
    """Active Directory style: a service account finds the person with a filter; groups from
    ``memberOf`` or from a group search made by the service account."""
    settings.PORTAL_LDAP_URL = server.url
    settings.PORTAL_LDAP_BIND_DN = SERVICE_DN
    settings.PORTAL_LDAP_BIND_PASSWORD_FILE = str(server.service_password_file)
    settings.PORTAL_LDAP_USER_SEARCH_BASE = "dc=bank,dc=test"
    settings.PORTAL_LDAP_USER_FILTER = "(&(objectClass=inetOrgPerson)(uid={username}))"
    if member_of:
        settings.PORTAL_LDAP_GROUP_ATTRIBUTE = "memberOf"
    else:
        settings.PORTAL_LDAP_GROUP_SEARCH_BASE = GROUPS


MODES = pytest.mark.parametrize(
    "configure",
    [
        pytest.param(template_mode, id="dn-template"),
        pytest.param(search_mode, id="search"),
        pytest.param(lambda s, server: search_mode(s, server, member_of=True), id="memberOf"),
    ],
)


def _login(client: Client, username: str, password: str):
    return client.post(reverse("login"), {"username": username, "password": password})


def _teams(user: User) -> list[str]:
    return sorted(Team.objects.filter(group__user=user).values_list("slug", flat=True))


# --- Signing in ---------------------------------------------------------------------------------


@MODES
def test_the_directory_password_signs_in_with_the_mapped_role_and_team(
    settings, directory, mapping, configure
):
    configure(settings, directory)
    client = Client()

    response = _login(client, "alice", ALICE_PASSWORD)

    assert response.status_code == 302 and response.url == reverse("dashboard")
    assert client.get(reverse("dashboard")).status_code == 200
    user = User.objects.get(external_identities__provider="ldap")
    assert user.username == "alice" and not user.has_usable_password()
    assert (user.first_name, user.last_name, user.email) == ("Alice", "Martin", "alice@bank.test")
    assert roles_of(user) == [Role.DATA_SCIENTIST] and _teams(user) == ["retail-credit"]
    link = ExternalIdentity.objects.get(user=user)
    assert link.subject == directory.person_dn("alice")
    assert AuditEvent.objects.filter(action=AuditAction.SSO_ACCOUNT_CREATED, actor=None).exists()
    assert AuditEvent.objects.get(action=AuditAction.LOGIN).actor == user
    # The password went to the directory, as alice's own bind.
    assert directory.binds(directory.person_dn("alice")) >= 1


def test_a_directory_password_also_gets_an_api_token(settings, directory, mapping):
    template_mode(settings, directory)
    response = Client().post(
        "/api/v1/auth/token/",
        {"username": "alice", "password": ALICE_PASSWORD, "name": "laptop"},
        content_type="application/json",
    )
    assert response.status_code == 201
    assert response.json()["token"].startswith("mlp_")


@MODES
def test_a_wrong_password_is_refused_audited_and_counted_towards_lock_out(
    settings, directory, mapping, configure
):
    configure(settings, directory)
    client = Client()

    response = _login(client, "alice", "not-her-password")

    assert response.status_code == 200
    assert "did not match" in response.content.decode()
    assert "_auth_user_id" not in client.session
    failed = AuditEvent.objects.get(action=AuditAction.LOGIN_FAILED)
    assert failed.actor is None and failed.after == {"username": "alice"}
    assert AccessAttempt.objects.get(username="alice").failures_since_start == 1
    assert not User.objects.filter(username="alice").exists()
    for _ in range(settings.AXES_FAILURE_LIMIT - 1):
        _login(client, "alice", "not-her-password")
    # Locked out: even the right directory password is refused, without asking the directory.
    binds = directory.binds(directory.person_dn("alice"))
    assert _login(client, "alice", ALICE_PASSWORD).status_code == 429
    assert directory.binds(directory.person_dn("alice")) == binds


def test_an_unknown_person_is_refused(settings, directory, mapping):
    search_mode(settings, directory)
    assert _login(Client(), "mallory", ALICE_PASSWORD).status_code == 200
    assert AuditEvent.objects.filter(action=AuditAction.LOGIN_FAILED).count() == 1
    assert not ExternalIdentity.objects.exists()


@MODES
def test_an_empty_password_is_refused_without_asking_the_directory(
    settings, directory, mapping, configure
):
    """This slapd, like Active Directory, takes a DN with an empty password for an anonymous
    bind and says "success"; the backend must not get that far."""
    configure(settings, directory)
    request = RequestFactory().post("/login/")
    alice = directory.person_dn("alice")

    assert ldap.LdapBackend().authenticate(request, username="alice", password="") is None
    assert authenticate(request, username="alice", password="") is None
    assert _login(Client(), "alice", "").status_code == 200

    assert directory.binds(alice) == 0
    assert not ExternalIdentity.objects.exists()
    assert not hasattr(request, "sso_unavailable")


INJECTIONS = ["*", "a*", "*)(uid=*", "alice)(uid=*", "alice)(|(uid=*", "alice\\", "alice\\2a"]
DN_TRICKS = ["alice,ou=people", "uid=alice", "alice+cn=x", "#alice", "alice\\,"]


@MODES
@pytest.mark.parametrize("username", INJECTIONS + DN_TRICKS)
def test_ldap_metacharacters_in_the_username_never_widen_the_query(
    settings, directory, mapping, configure, username
):
    """alice is the only person in the directory, so an unescaped ``*`` would find her, and her
    password would then sign the attacker in as her."""
    configure(settings, directory)

    response = _login(Client(), username, ALICE_PASSWORD)

    assert response.status_code == 200
    assert not ExternalIdentity.objects.exists()
    assert AuditEvent.objects.filter(action=AuditAction.LOGIN_FAILED).count() == 1


def test_the_username_cannot_reach_outside_the_dn_template(settings, directory, mapping):
    """A batch account lives below ou=people, in ou=robots, where the template does not reach:
    written into the DN unescaped, "etl,ou=robots" would bind as it."""
    template_mode(settings, directory)
    directory.add_unit(f"ou=robots,{PEOPLE}")
    robot = directory.add_person("etl", "robot-password-1", unit=f"ou=robots,{PEOPLE}")
    directory.set_groups("etl", ["ml-scientists"], unit=f"ou=robots,{PEOPLE}")
    assert directory.member_of("etl", unit=f"ou=robots,{PEOPLE}")

    for username in ["etl,ou=robots", "etl,ou=robots,", "etl\\,ou=robots"]:
        assert _login(Client(), username, "robot-password-1").status_code == 200

    assert directory.binds(robot) == 0
    assert not ExternalIdentity.objects.exists()


@MODES
@pytest.mark.parametrize("username", ["alice\x00", "alice\x00)(uid=*", "alice\n", "alice\x7f"])
def test_control_characters_in_the_username_are_refused_without_asking_the_directory(
    settings, directory, mapping, configure, username
):
    """Django's sign-in form and the API's serializer already refuse NUL; the backend does not
    count on its callers."""
    configure(settings, directory)
    request = RequestFactory().post("/login/")

    assert ldap.LdapBackend().authenticate(request, username, ALICE_PASSWORD) is None

    assert directory.binds() == 0
    assert not ExternalIdentity.objects.exists()


def test_the_username_is_escaped_for_a_dn_and_a_filter():
    assert ldap.escape_dn_value("a,b=c+d") == "a\\,b\\=c\\+d"
    assert ldap.escape_dn_value('\\"<>;') == '\\\\\\"\\<\\>\\;'
    assert ldap.escape_dn_value("#x ") == "\\#x\\ "
    assert ldap.escape_dn_value(" x") == "\\ x"
    assert not ldap.acceptable_username("alice\x00")
    assert not ldap.acceptable_username("alice\n")
    assert not ldap.acceptable_username("")
    assert not ldap.acceptable_username("a" * 257)
    assert ldap.acceptable_username("Ålice O'Brien")


# --- Groups: movers and people without access ----------------------------------------------------


@MODES
def test_moving_the_person_between_groups_changes_roles_at_the_next_sign_in(
    settings, directory, mapping, configure
):
    configure(settings, directory)
    assert _login(Client(), "alice", ALICE_PASSWORD).status_code == 302
    user = User.objects.get(username="alice")
    assert roles_of(user) == [Role.DATA_SCIENTIST] and _teams(user) == ["retail-credit"]

    directory.set_groups("alice", ["ml-risk", "canteen"])
    assert _login(Client(), "alice", ALICE_PASSWORD).status_code == 302

    user = User.objects.get(pk=user.pk)
    assert roles_of(user) == [Role.RISK_OWNER] and _teams(user) == []
    change = AuditEvent.objects.filter(action=AuditAction.SSO_ACCESS_CHANGED).latest("pk")
    assert change.actor is None
    assert change.before == {"roles": ["data_scientist"], "teams": ["retail-credit"]}
    assert change.after["roles"] == ["risk_owner"] and change.after["teams"] == []


@MODES
def test_a_person_in_no_mapped_group_gets_the_no_access_page_and_no_rights(
    settings, directory, mapping, configure
):
    configure(settings, directory)
    directory.set_groups("alice", ["canteen"])
    client = Client()

    response = _login(client, "alice", ALICE_PASSWORD)

    assert response.status_code == 403
    assert "None of your groups" in response.content.decode()
    assert "_auth_user_id" not in client.session
    assert client.get(reverse("dashboard")).status_code == 302
    assert not User.objects.filter(groups__isnull=False).exists()
    assert AuditEvent.objects.filter(action=AuditAction.SSO_NO_ACCESS).exists()
    # Django stops at the refusal and reports a failed sign-in, which the lock-out counts.
    assert AuditEvent.objects.filter(action=AuditAction.LOGIN_FAILED).count() == 1


def test_a_person_who_lost_every_mapped_group_loses_every_right(settings, directory, mapping):
    template_mode(settings, directory)
    assert _login(Client(), "alice", ALICE_PASSWORD).status_code == 302
    directory.set_groups("alice", [])

    assert _login(Client(), "alice", ALICE_PASSWORD).status_code == 403

    user = User.objects.get(username="alice")
    assert roles_of(user) == [] and _teams(user) == []


def test_groups_may_be_mapped_by_their_dn(settings, directory, retail):
    search_mode(settings, directory, member_of=True)
    GroupMapping.objects.create(
        provider_group=directory.group_dn("ml-scientists").upper(), role=Role.DATA_SCIENTIST
    )
    assert _login(Client(), "alice", ALICE_PASSWORD).status_code == 302
    assert roles_of(User.objects.get(username="alice")) == [Role.DATA_SCIENTIST]


def test_posix_groups_are_found_by_the_directorys_username(settings, directory, retail):
    """posixGroup lists members by uid; the filter gets the directory's spelling of it, so
    "ALICE" typed at the sign-in finds the groups of "alice"."""
    template_mode(settings, directory)
    settings.PORTAL_LDAP_GROUP_FILTER = "(&(objectClass=posixGroup)(memberUid={username}))"
    directory.add_posix_group("unix-risk", 5001, ["alice"])
    GroupMapping.objects.create(provider_group="unix-risk", role=Role.RISK_OWNER)
    GroupMapping.objects.create(provider_group="ml-scientists", role=Role.DATA_SCIENTIST)

    assert _login(Client(), "ALICE", ALICE_PASSWORD).status_code == 302

    user = User.objects.get(external_identities__provider="ldap")
    assert user.username == "alice" and roles_of(user) == [Role.RISK_OWNER]


# --- Open sessions, re-checked with the directory ---------------------------------------------


def _session_request(client: Client, checked_seconds_ago: int | None = 3600):
    """A request of ``client``'s session, as the session middleware would re-check it; the
    last check made ``checked_seconds_ago``."""
    request = RequestFactory().get("/")
    request.session = client.session
    if checked_seconds_ago is not None:
        request.session[ldap._CHECKED_KEY] = int(time.time()) - checked_seconds_ago
    request.user = User.objects.get(pk=request.session["_auth_user_id"])
    return request


@pytest.fixture
def alice_session(settings, directory, mapping) -> Client:
    search_mode(settings, directory)
    settings.PORTAL_LDAP_RECHECK_SECONDS = 600
    client = Client()
    assert _login(client, "alice", ALICE_PASSWORD).status_code == 302
    return client


def test_a_session_is_rechecked_and_a_movers_roles_follow_the_directory(alice_session, directory):
    directory.set_groups("alice", ["ml-risk"])
    request = _session_request(alice_session)

    assert ldap.is_ldap_session(request)
    assert ldap.recheck(request) is True

    user = User.objects.get(username="alice")
    assert roles_of(user) == [Role.RISK_OWNER] and _teams(user) == []
    assert request.session[ldap._CHECKED_KEY] >= int(time.time()) - 5


def test_a_session_of_a_person_who_lost_access_ends_at_the_recheck(alice_session, directory):
    directory.set_groups("alice", ["canteen"])
    assert ldap.recheck(_session_request(alice_session)) is False
    assert roles_of(User.objects.get(username="alice")) == []


def test_a_session_of_a_person_removed_from_the_directory_ends_at_the_recheck(
    alice_session, directory
):
    directory.reset()
    assert ldap.recheck(_session_request(alice_session)) is False


def test_the_directory_is_not_asked_before_the_interval(alice_session, directory):
    directory.set_groups("alice", [])
    binds = directory.binds()
    first = _session_request(alice_session, checked_seconds_ago=None)
    assert ldap.recheck(first) is True  # the first request starts the clock
    assert ldap.recheck(_session_request(alice_session, checked_seconds_ago=60)) is True
    assert directory.binds() == binds


def test_an_unreachable_directory_ends_no_session_and_is_asked_again_soon(
    alice_session, settings, caplog
):
    settings.PORTAL_LDAP_URL = f"ldap://127.0.0.1:{free_port()}"
    request = _session_request(alice_session)

    assert ldap.recheck(request) is True

    next_check = request.session[ldap._CHECKED_KEY] + settings.PORTAL_LDAP_RECHECK_SECONDS
    assert next_check - time.time() <= ldap.RETRY_SECONDS + 1
    assert "cannot be reached" in caplog.text


def test_without_a_service_account_sessions_last_until_the_next_sign_in(
    settings, directory, mapping
):
    template_mode(settings, directory)
    client = Client()
    assert _login(client, "alice", ALICE_PASSWORD).status_code == 302
    directory.set_groups("alice", [])
    binds = directory.binds()

    assert ldap.recheck(_session_request(client)) is True
    assert directory.binds() == binds


def test_a_local_session_is_not_an_ldap_session(settings, directory, people):
    template_mode(settings, directory)
    client = Client()
    assert _login(client, "bob", "pw-bob").status_code == 302
    request = _session_request(client)
    assert not ldap.is_ldap_session(request) and ldap.recheck(request) is True


# --- TLS ------------------------------------------------------------------------------------------


def test_ldaps_with_the_banks_ca_signs_in_over_an_encrypted_connection(
    settings, directory, mapping
):
    template_mode(settings, directory)
    settings.PORTAL_LDAP_URL = directory.ldaps_url
    settings.PORTAL_LDAP_CA_FILE = str(directory.ca_file)

    assert _login(Client(), "alice", ALICE_PASSWORD).status_code == 302
    assert min(directory.bind_ssf(directory.person_dn("alice"))) > 0


def test_start_tls_encrypts_before_the_password_is_sent(settings, directory, mapping):
    search_mode(settings, directory)
    settings.PORTAL_LDAP_START_TLS = True
    settings.PORTAL_LDAP_CA_FILE = str(directory.ca_file)

    assert _login(Client(), "alice", ALICE_PASSWORD).status_code == 302
    assert min(directory.bind_ssf(directory.person_dn("alice"))) > 0
    assert min(directory.bind_ssf(SERVICE_DN)) > 0


@pytest.mark.parametrize("problem", ["unknown CA", "wrong host name", "StartTLS, unknown CA"])
def test_a_certificate_that_does_not_verify_stops_the_sign_in_before_any_password(
    settings, directory, mapping, problem
):
    template_mode(settings, directory)
    settings.PORTAL_LDAP_URL = directory.ldaps_url
    settings.PORTAL_LDAP_CA_FILE = str(directory.ca_file)
    if "unknown CA" in problem:
        settings.PORTAL_LDAP_CA_FILE = str(directory.other_ca_file)
    if "host" in problem:
        settings.PORTAL_LDAP_URL = directory.ldaps_url.replace("127.0.0.1", "localhost")
    if "StartTLS" in problem:
        settings.PORTAL_LDAP_URL = directory.url
        settings.PORTAL_LDAP_START_TLS = True

    response = _login(Client(), "alice", ALICE_PASSWORD)

    assert response.status_code == 200
    assert response.wsgi_request.sso_unavailable == ldap.UNAVAILABLE
    assert directory.binds(directory.person_dn("alice")) == 0
    assert not User.objects.filter(username="alice", external_identities__isnull=False).exists()


# --- The directory unavailable: break-glass ---------------------------------------------------


def test_with_the_directory_down_the_break_glass_administrator_still_signs_in(
    settings, mapping, caplog
):
    UserFactory(username="breakglass", is_staff=True, is_superuser=True)  # password pw-breakglass
    settings.PORTAL_LOCAL_LOGIN = False
    with SlapdServer() as server:
        server.add_person("alice", ALICE_PASSWORD, "Alice", "Martin")
        template_mode(settings, server)
        assert _login(Client(), "alice", ALICE_PASSWORD).status_code in (302, 403)
        server.stop()

        refused = _login(Client(), "alice", ALICE_PASSWORD)
        admin_client = Client()
        admitted = _login(admin_client, "breakglass", "pw-breakglass")

    assert refused.status_code == 200
    assert refused.wsgi_request.sso_unavailable == ldap.UNAVAILABLE
    assert admitted.status_code == 302 and admin_client.get(reverse("dashboard")).status_code == 200
    assert AuditEvent.objects.get(action=AuditAction.LOGIN).actor.username == "breakglass"
    assert "cannot be reached" in caplog.text
    assert ALICE_PASSWORD not in caplog.text and "pw-breakglass" not in caplog.text


def test_a_second_directory_server_answers_when_the_first_is_down(settings, directory, mapping):
    template_mode(settings, directory)
    settings.PORTAL_LDAP_URL = f"ldap://127.0.0.1:{free_port()} {directory.url}"
    assert _login(Client(), "alice", ALICE_PASSWORD).status_code == 302


def test_a_refused_service_account_is_the_directory_being_unavailable(
    settings, directory, mapping, tmp_path: Path, caplog
):
    search_mode(settings, directory)
    wrong = tmp_path / "service-password"
    wrong.write_text("not-the-service-password\n")
    settings.PORTAL_LDAP_BIND_PASSWORD_FILE = str(wrong)

    response = _login(Client(), "alice", ALICE_PASSWORD)

    assert response.wsgi_request.sso_unavailable == ldap.UNAVAILABLE
    assert directory.binds(directory.person_dn("alice")) == 0
    assert "service account" in caplog.text and "not-the-service-password" not in caplog.text


# --- Settings -------------------------------------------------------------------------------------


def test_ldap_is_off_without_a_url(settings, directory, mapping):
    template_mode(settings, directory)
    settings.PORTAL_LDAP_URL = ""
    assert _login(Client(), "alice", ALICE_PASSWORD).status_code == 200
    assert directory.binds(directory.person_dn("alice")) == 0


@pytest.mark.parametrize(
    ("overrides", "says"),
    [
        ({"PORTAL_LDAP_URL": "http://dc1.bank.example"}, "must be ldap://"),
        ({"PORTAL_LDAP_URL": "ldaps://dc1/dc=bank"}, "takes no path"),
        ({"PORTAL_LDAP_URL": "ldaps://dc1:ldaps"}, "not a number"),
        (
            {"PORTAL_LDAP_USER_DN_TEMPLATE": "", "PORTAL_LDAP_USER_SEARCH_BASE": "dc=bank"},
            "service account",
        ),
        (
            {
                "PORTAL_LDAP_USER_DN_TEMPLATE": "",
                "PORTAL_LDAP_USER_SEARCH_BASE": "dc=bank",
                "PORTAL_LDAP_BIND_DN": "cn=svc",
                "PORTAL_LDAP_BIND_PASSWORD_FILE": "/run/secrets/x",
                "PORTAL_LDAP_USER_FILTER": "(sAMAccountName=alice)",
            },
            "USER_FILTER must contain {username}",
        ),
        (
            {"PORTAL_LDAP_GROUP_SEARCH_BASE": "dc=bank", "PORTAL_LDAP_GROUP_FILTER": "(cn=x)"},
            "must contain {dn}",
        ),
        ({"PORTAL_LDAP_USER_DN_TEMPLATE": ""}, "set PORTAL_LDAP_USER_DN_TEMPLATE"),
        ({"PORTAL_LDAP_USER_DN_TEMPLATE": "uid=x,dc=bank"}, "must contain {username}"),
        ({"PORTAL_LDAP_USER_SEARCH_BASE": "dc=bank"}, "not both"),
        ({"PORTAL_LDAP_CA_FILE": "/nonexistent/ca.pem"}, "not a readable file"),
    ],
)
def test_misconfigured_ldap_settings_fail_the_system_check(settings, overrides, says):
    settings.PORTAL_LDAP_URL = "ldaps://dc1.bank.example:636"
    settings.PORTAL_LDAP_USER_DN_TEMPLATE = f"uid={{username}},{PEOPLE}"
    for name, value in overrides.items():
        setattr(settings, name, value)
    messages = ldap.check_settings()
    assert [m.id for m in messages] == ["accounts.E101"] and says in messages[0].msg


def test_passwords_in_clear_warn_in_the_system_check(settings):
    settings.PORTAL_LDAP_URL = "ldap://dc1.bank.example"
    settings.PORTAL_LDAP_USER_DN_TEMPLATE = f"uid={{username}},{PEOPLE}"
    assert [m.id for m in ldap.check_settings()] == ["accounts.W101"]
    settings.PORTAL_LDAP_START_TLS = True
    assert ldap.check_settings() == []


def test_an_unexpected_error_in_the_ldap_sign_in_is_an_audited_refusal_not_a_500(
    settings, directory, mapping
):
    template_mode(settings, directory)
    settings.PORTAL_LDAP_TIMEOUT_SECONDS = "soon"  # int() raises ValueError deep in the backend

    response = _login(Client(), "alice", ALICE_PASSWORD)

    assert response.status_code == 200 and "_auth_user_id" not in response.wsgi_request.session
    failed = AuditEvent.objects.get(action=AuditAction.SSO_LOGIN_FAILED)
    assert failed.after == {"provider": "ldap", "reason": "unexpected error: ValueError"}
