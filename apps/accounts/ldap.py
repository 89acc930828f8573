"""Sign-in against the bank's directory over LDAP (OpenLDAP, Active Directory), with ldap3.

``LdapBackend`` is a Django authentication backend: the sign-in form, the Django admin's login
and the API's token exchange all reach it through ``django.contrib.auth.authenticate``. It binds
to the directory *as the person*, with the password they typed (the directory, not the portal,
checks it), reads their name, email and groups, and hands them to
``identity.sign_in_from_provider``, which sets roles and teams from the same group mapping as
OpenID Connect. Configured by the ``PORTAL_LDAP_*`` settings (docs/ldap.md); off while
``PORTAL_LDAP_URL`` is empty.

Two ways to find the person's entry:

- a DN template (``uid={username},ou=people,dc=bank,dc=test``): one bind, as the person;
- a search (Active Directory: ``(sAMAccountName={username})`` under a base), made by a service
  account whose password is read from a file; then a bind as the entry found.

What the person types never shapes a query: it is escaped for a DN (RFC 4514) or a filter
(RFC 4515), and control characters are refused before anything is sent. An empty password is
refused before any connection, since an LDAP simple bind with a DN and no password is an
*anonymous* bind that many servers (Active Directory among them) answer with success.
"""

from __future__ import annotations

import logging
import ssl
import time
from collections.abc import Iterator
from contextlib import contextmanager, suppress
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from django.conf import settings
from django.contrib.auth import BACKEND_SESSION_KEY
from django.contrib.auth.backends import BaseBackend
from django.contrib.auth.models import User
from django.core.checks import CheckMessage, Error, Warning
from django.core.exceptions import ImproperlyConfigured, PermissionDenied
from django.http import HttpRequest
from ldap3 import BASE, NONE, SIMPLE, SUBTREE, Connection, Server, Tls
from ldap3.core.exceptions import LDAPException, LDAPInvalidDnError
from ldap3.utils.conv import escape_filter_chars
from ldap3.utils.dn import parse_dn

from apps.accounts import identity
from apps.accounts.models import ExternalIdentity

logger = logging.getLogger(__name__)

PROVIDER = "ldap"
UNAVAILABLE = (
    "The directory (LDAP) cannot be reached, so sign-in with your bank account is not "
    "possible right now. Try again in a few minutes; if it persists, tell the service desk."
)
DEFAULT_GROUP_FILTER = "(&(objectClass=groupOfNames)(member={dn}))"
_PAGE_SIZE = 500
# Result codes that say the server, not the person, is the problem (RFC 4511 busy,
# unavailable, other; ldap3's client-side server down, timeout, connect error).
_SERVER_TROUBLE = {51, 52, 80, 81, 85, 91}
_SUCCESS = 0
_INVALID_CREDENTIALS = 49


class DirectoryUnavailable(Exception):
    """The directory could not be asked: unreachable, TLS refused, service account refused."""


@dataclass(frozen=True)
class LdapConfig:
    """The ``PORTAL_LDAP_*`` settings, checked. ``from_settings`` raises ImproperlyConfigured
    with a sentence naming the setting to fix."""

    urls: tuple[str, ...]
    start_tls: bool
    ca_file: str
    timeout: int
    user_dn_template: str
    bind_dn: str
    bind_password_file: str
    user_search_base: str
    user_filter: str
    username_attribute: str
    first_name_attribute: str
    last_name_attribute: str
    email_attribute: str
    group_attribute: str
    group_search_base: str
    group_filter: str
    group_name_attribute: str

    @property
    def search_mode(self) -> bool:
        return not self.user_dn_template

    @classmethod
    def from_settings(cls) -> LdapConfig:
        def get(name: str, default: str = "") -> str:
            return str(getattr(settings, f"PORTAL_LDAP_{name}", default) or default).strip()

        urls = tuple(get("URL").split())
        for url in urls:
            parts = urlsplit(url)
            if parts.scheme not in ("ldap", "ldaps") or not parts.hostname:
                raise ImproperlyConfigured(
                    f"PORTAL_LDAP_URL must be ldap://host[:port] or ldaps://host[:port] "
                    f"(several separated by spaces); got {url!r}"
                )
            if parts.path not in ("", "/") or parts.query or parts.fragment:
                raise ImproperlyConfigured(
                    f"PORTAL_LDAP_URL takes no path or query (the search bases are settings of "
                    f"their own); got {url!r}"
                )
            try:
                parts.port  # noqa: B018 - raises ValueError for a port that is not a number
            except ValueError:
                raise ImproperlyConfigured(
                    f"PORTAL_LDAP_URL has a port that is not a number: {url!r}"
                ) from None
        config = cls(
            urls=urls,
            start_tls=bool(getattr(settings, "PORTAL_LDAP_START_TLS", False)),
            # The portal's CA bundle (webhooks, MLflow, OIDC) unless the directory has its own.
            ca_file=get("CA_FILE") or str(getattr(settings, "PORTAL_CA_BUNDLE", "") or ""),
            timeout=int(getattr(settings, "PORTAL_LDAP_TIMEOUT_SECONDS", 5) or 5),
            user_dn_template=get("USER_DN_TEMPLATE"),
            bind_dn=get("BIND_DN"),
            bind_password_file=get("BIND_PASSWORD_FILE"),
            user_search_base=get("USER_SEARCH_BASE"),
            user_filter=get("USER_FILTER", "(uid={username})"),
            username_attribute=get("USERNAME_ATTRIBUTE", "uid"),
            first_name_attribute=get("FIRST_NAME_ATTRIBUTE", "givenName"),
            last_name_attribute=get("LAST_NAME_ATTRIBUTE", "sn"),
            email_attribute=get("EMAIL_ATTRIBUTE", "mail"),
            group_attribute=get("GROUP_ATTRIBUTE"),
            group_search_base=get("GROUP_SEARCH_BASE"),
            group_filter=get("GROUP_FILTER", DEFAULT_GROUP_FILTER),
            group_name_attribute=get("GROUP_NAME_ATTRIBUTE", "cn"),
        )
        config._check()
        return config

    def _check(self) -> None:
        if self.user_dn_template and self.user_search_base:
            raise ImproperlyConfigured(
                "Set either PORTAL_LDAP_USER_DN_TEMPLATE or PORTAL_LDAP_USER_SEARCH_BASE "
                "(with PORTAL_LDAP_BIND_DN), not both."
            )
        if self.user_dn_template and "{username}" not in self.user_dn_template:
            raise ImproperlyConfigured(
                "PORTAL_LDAP_USER_DN_TEMPLATE must contain {username}, e.g. "
                "uid={username},ou=people,dc=bank,dc=example"
            )
        if not self.user_dn_template:
            if not self.user_search_base:
                raise ImproperlyConfigured(
                    "PORTAL_LDAP_URL is set: set PORTAL_LDAP_USER_DN_TEMPLATE, or "
                    "PORTAL_LDAP_USER_SEARCH_BASE with PORTAL_LDAP_BIND_DN and "
                    "PORTAL_LDAP_BIND_PASSWORD_FILE."
                )
            if not self.bind_dn or not self.bind_password_file:
                raise ImproperlyConfigured(
                    "PORTAL_LDAP_USER_SEARCH_BASE needs a service account to search with: "
                    "PORTAL_LDAP_BIND_DN and PORTAL_LDAP_BIND_PASSWORD_FILE."
                )
            if "{username}" not in self.user_filter:
                raise ImproperlyConfigured(
                    "PORTAL_LDAP_USER_FILTER must contain {username}, e.g. "
                    "(sAMAccountName={username})"
                )
        if self.ca_file and not Path(self.ca_file).is_file():
            raise ImproperlyConfigured(
                f"PORTAL_LDAP_CA_FILE names {self.ca_file!r}, which is not a readable file."
            )
        if self.group_search_base and not (
            "{dn}" in self.group_filter or "{username}" in self.group_filter
        ):
            raise ImproperlyConfigured(
                "PORTAL_LDAP_GROUP_FILTER must contain {dn} (or {username}), e.g. "
                "(&(objectClass=groupOfNames)(member={dn}))"
            )

    @property
    def person_attributes(self) -> list[str]:
        names = [
            self.username_attribute,
            self.first_name_attribute,
            self.last_name_attribute,
            self.email_attribute,
        ]
        if self.group_attribute:
            names.append(self.group_attribute)
        return [n for n in names if n]


def enabled() -> bool:
    return bool(str(getattr(settings, "PORTAL_LDAP_URL", "") or "").strip())


# --- Talking to the directory --------------------------------------------------------------------


def acceptable_username(username: str) -> bool:
    """A username worth asking the directory about: not empty, no control characters (NUL
    among them, which C-based servers read as the end of the string), of a sane length."""
    return 0 < len(username) <= 256 and all(ord(c) >= 0x20 and ord(c) != 0x7F for c in username)


def escape_dn_value(value: str) -> str:
    """``value`` as an attribute value inside a DN (RFC 4514 section 2.4)."""
    escaped = "".join("\\" + c if c in '\\,+"<>;=' else c for c in value)
    if escaped[:1] in ("#", " "):
        escaped = "\\" + escaped
    if escaped.endswith(" ") and not escaped.endswith("\\ "):
        escaped = escaped[:-1] + "\\ "
    return escaped


def _server(config: LdapConfig, url: str) -> Server:
    parts = urlsplit(url)
    secure = parts.scheme == "ldaps"
    tls = None
    if secure or config.start_tls:
        # Certificates are always verified, with the hostname: against PORTAL_LDAP_CA_FILE when
        # set, else against the system's trusted CAs. There is no setting to turn this off.
        tls = Tls(
            validate=ssl.CERT_REQUIRED,
            ca_certs_file=config.ca_file or None,
            sni=parts.hostname,
        )
    return Server(
        parts.hostname or "",
        port=parts.port or (636 if secure else 389),
        use_ssl=secure,
        tls=tls,
        get_info=NONE,  # no schema read: one round trip less, and attribute names are not checked
        connect_timeout=config.timeout,
    )


@contextmanager
def _connection(config: LdapConfig) -> Iterator[Connection]:
    """An open connection (TLS started where asked) to the first directory server that answers."""
    failures = []
    for url in config.urls:
        conn = Connection(
            _server(config, url),
            authentication=SIMPLE,
            receive_timeout=config.timeout,
            read_only=True,
            auto_referrals=False,
            raise_exceptions=False,
        )
        try:
            conn.open()
            if config.start_tls and not url.startswith("ldaps:"):
                conn.start_tls()
                if not conn.tls_started:
                    # With raise_exceptions off, a refused StartTLS is a False, not an error:
                    # never go on to send a password in clear.
                    failures.append(f"{url}: StartTLS did not start ({conn.result})")
                    conn.unbind()
                    continue
        except LDAPException as exc:
            failures.append(f"{url}: {exc}")
            conn.unbind()
            continue
        try:
            yield conn
        finally:
            with suppress(LDAPException):  # the connection is being dropped anyway
                conn.unbind()
        return
    raise DirectoryUnavailable("; ".join(failures))


def _bind(conn: Connection, dn: str, password: str) -> bool:
    """Bind as ``dn``: True if the directory accepts the password, False if it refuses it.
    Raises DirectoryUnavailable when the server, not the password, is the problem."""
    if not password:
        return False  # never an anonymous bind in disguise (see the module's docstring)
    try:
        if conn.rebind(user=dn, password=password, authentication=SIMPLE):
            return True
    except LDAPInvalidDnError:
        return False  # the name typed makes no DN: nobody by that name
    code = conn.result.get("result")
    if code in _SERVER_TROUBLE:
        raise DirectoryUnavailable(f"bind answered {conn.result.get('description')}")
    if code != _INVALID_CREDENTIALS:
        # Locked, expired, must change password…: the person may not sign in; say why in the
        # log (the message is the server's, never the password).
        logger.info(
            "The directory refused the bind of %s: %s %s",
            dn,
            conn.result.get("description"),
            conn.result.get("message"),
        )
    return False


def _entries(conn: Connection) -> list[dict[str, Any]]:
    # Active Directory adds referrals (searchResRef) to subtree searches; they are not entries.
    return [r for r in conn.response or [] if r.get("type") == "searchResEntry"]


def _first(attributes: dict[str, Any], name: str) -> str:
    if not name:
        return ""
    values = attributes.get(name)
    if isinstance(values, list):
        values = values[0] if values else ""
    return "" if values is None else str(values).strip()


def _values(attributes: dict[str, Any], name: str) -> list[str]:
    values = attributes.get(name) or []
    if not isinstance(values, list):
        values = [values]
    return [str(v) for v in values if str(v).strip()]


def _read_entry(conn: Connection, dn: str, config: LdapConfig) -> dict[str, Any] | None:
    conn.search(dn, "(objectClass=*)", BASE, attributes=config.person_attributes)
    found = _entries(conn)
    if conn.result.get("result") in _SERVER_TROUBLE:
        raise DirectoryUnavailable(f"reading {dn} answered {conn.result.get('description')}")
    return found[0] if found else None


def _find_entry(conn: Connection, username: str, config: LdapConfig) -> dict[str, Any] | None:
    """The one entry the user filter finds for ``username``, or None (none, or ambiguous)."""
    query = config.user_filter.replace("{username}", escape_filter_chars(username))
    conn.search(
        config.user_search_base,
        query,
        SUBTREE,
        attributes=config.person_attributes,
        size_limit=2,
    )
    if conn.result.get("result") in _SERVER_TROUBLE:
        raise DirectoryUnavailable(f"the user search answered {conn.result.get('description')}")
    found = _entries(conn)
    if len(found) > 1:
        logger.warning(
            "PORTAL_LDAP_USER_FILTER %s finds more than one entry for %r; refusing the sign-in",
            config.user_filter,
            username,
        )
        return None
    return found[0] if found else None


def group_name(dn: str) -> str:
    """The name of a group from its DN: the value of its first RDN (``CN=Risk,OU=…`` → Risk)."""
    try:
        return str(parse_dn(dn)[0][1]).strip()
    except (LDAPException, IndexError, ValueError):
        return ""


def _groups(
    conn: Connection, entry: dict[str, Any], username: str, config: LdapConfig
) -> tuple[str, ...] | None:
    """The person's groups: each group's name (cn) and its DN, so the mapping may name either.
    None when they could not be read (or no way to read them is configured)."""
    found: list[str] = []
    if config.group_attribute:
        for dn in _values(entry["attributes"], config.group_attribute):
            found += [group_name(dn), dn]
    elif config.group_search_base:
        # {username} is the directory's spelling (posixGroup's memberUid holds that).
        name = _first(entry["attributes"], config.username_attribute) or username
        query = config.group_filter.replace("{dn}", escape_filter_chars(entry["dn"])).replace(
            "{username}", escape_filter_chars(name)
        )
        cookie: bytes | str | None = None
        while True:
            conn.search(
                config.group_search_base,
                query,
                SUBTREE,
                attributes=[config.group_name_attribute],
                paged_size=_PAGE_SIZE,
                paged_cookie=cookie,
            )
            code = conn.result.get("result")
            if code in _SERVER_TROUBLE:
                raise DirectoryUnavailable(f"the group search answered {code}")
            if code != _SUCCESS:
                logger.warning(
                    "The group search under %s failed (%s %s); the person gets no roles",
                    config.group_search_base,
                    conn.result.get("description"),
                    conn.result.get("message"),
                )
                return None
            for group in _entries(conn):
                found += [_first(group["attributes"], config.group_name_attribute), group["dn"]]
            controls = conn.result.get("controls") or {}
            paging = controls.get("1.2.840.113556.1.4.319") or {}
            cookie = (paging.get("value") or {}).get("cookie")
            if not cookie:
                break
    else:
        return None
    return tuple(dict.fromkeys(g for g in found if g and len(g) <= identity.MAX_GROUP_LENGTH))


def _person(
    entry: dict[str, Any], username: str, groups: tuple[str, ...] | None, config: LdapConfig
) -> identity.ProviderPerson:
    attributes = entry["attributes"]
    return identity.ProviderPerson(
        provider=PROVIDER,
        subject=entry["dn"],
        username=_first(attributes, config.username_attribute) or username,
        first_name=_first(attributes, config.first_name_attribute),
        last_name=_first(attributes, config.last_name_attribute),
        email=_first(attributes, config.email_attribute),
        groups=groups,
    )


def _unexpected(exc: Exception) -> None:
    """A directory answer nobody foresaw: the sign-in fails like a wrong password (audited as
    SSO_LOGIN_FAILED with the error's kind), never as a server error."""
    logger.exception("LDAP sign-in failed unexpectedly")
    identity.record_failure(
        PROVIDER, "the bank's directory", f"unexpected error: {type(exc).__name__}"
    )


def _service_password(config: LdapConfig) -> str:
    try:
        # Read at each sign-in, so a rotated password needs no restart.
        return Path(config.bind_password_file).read_text().rstrip("\r\n")
    except OSError as exc:
        raise DirectoryUnavailable(
            f"PORTAL_LDAP_BIND_PASSWORD_FILE {config.bind_password_file!r} cannot be read: "
            f"{exc.strerror}"
        ) from None


def look_up(username: str, password: str, config: LdapConfig) -> identity.ProviderPerson | None:
    """Check ``password`` with the directory and read who ``username`` is.

    None when the directory refuses (unknown person, wrong password, locked account); raises
    DirectoryUnavailable when it cannot be asked.
    """
    if not password or not acceptable_username(username):
        return None
    try:
        return _look_up(username, password, config)
    except DirectoryUnavailable:
        raise
    except LDAPException as exc:
        # Dropped connections, timeouts, protocol errors: the directory, not the person.
        raise DirectoryUnavailable(f"{type(exc).__name__}: {exc}") from None


def _look_up(username: str, password: str, config: LdapConfig) -> identity.ProviderPerson | None:
    if not config.search_mode:
        dn = config.user_dn_template.replace("{username}", escape_dn_value(username))
        with _connection(config) as conn:
            if not _bind(conn, dn, password):
                return None
            entry = _read_entry(conn, dn, config)
            if entry is None:
                logger.warning("%s signed in to the directory but cannot read its own entry", dn)
                return None
            return _person(entry, username, _groups(conn, entry, username, config), config)

    service_password = _service_password(config)
    with _connection(config) as service:
        if not _bind(service, config.bind_dn, service_password):
            raise DirectoryUnavailable(
                f"the directory refused the service account {config.bind_dn} "
                f"(PORTAL_LDAP_BIND_DN, PORTAL_LDAP_BIND_PASSWORD_FILE)"
            )
        entry = _find_entry(service, username, config)
        if entry is None:
            return None
        with _connection(config) as as_person:
            if not _bind(as_person, entry["dn"], password):
                return None
        return _person(entry, username, _groups(service, entry, username, config), config)


# --- The authentication backend -----------------------------------------------------------------


class LdapBackend(BaseBackend):
    """Django authentication backend: a person's directory password signs them in.

    Refused credentials answer None, so Django sends ``user_login_failed`` (audited as a failed
    sign-in, counted by django-axes). A person whose groups give no access: PermissionDenied
    (Django stops trying other backends) with ``request.sso_no_access`` set to the sentence to
    show. A directory that cannot be reached: None with ``request.sso_unavailable`` set, so the
    next backend, the local break-glass account, can still sign someone in.
    """

    def authenticate(
        self,
        request: HttpRequest | None,
        username: str | None = None,
        password: str | None = None,
        **kwargs: Any,
    ) -> User | None:
        if not enabled() or not username or not password:
            return None
        try:
            return self._authenticate(request, username, password)
        except identity.UNEXPECTED_SIGN_IN_ERRORS as exc:
            _unexpected(exc)
            return None

    def _authenticate(
        self, request: HttpRequest | None, username: str, password: str
    ) -> User | None:
        try:
            config = LdapConfig.from_settings()
        except ImproperlyConfigured as exc:
            logger.error("LDAP sign-in is misconfigured: %s", exc)
            _unavailable(request)
            return None
        try:
            person = look_up(username, password, config)
        except DirectoryUnavailable as exc:
            logger.warning(
                "LDAP sign-in of %r failed: the directory cannot be reached: %s", username, exc
            )
            _unavailable(request)
            return None
        if person is None:
            return None
        try:
            user = identity.sign_in_from_provider(person)
        except identity.NoAccess as exc:
            if request is not None:
                request.sso_no_access = str(exc)  # type: ignore[attr-defined]
            raise PermissionDenied(str(exc)) from exc
        return user if user.is_active else None

    def get_user(self, user_id: Any) -> User | None:
        user = User._default_manager.filter(pk=user_id).first()
        return user if user is not None and user.is_active else None


def _unavailable(request: HttpRequest | None) -> None:
    if request is not None:
        request.sso_unavailable = UNAVAILABLE  # type: ignore[attr-defined]


# --- Open sessions, re-checked with the directory ---------------------------------------------

BACKEND_PATH = "apps.accounts.ldap.LdapBackend"
_CHECKED_KEY = "portal_ldap_checked_at"
RETRY_SECONDS = 60
_NO_SUCH_OBJECT = 32
_AD_ACCOUNT_DISABLED = 0x2  # userAccountControl's ACCOUNTDISABLE flag


def is_ldap_session(request: HttpRequest) -> bool:
    """Whether the signed-in person of ``request`` signed in with their directory password."""
    return bool(
        request.user.is_authenticated and request.session.get(BACKEND_SESSION_KEY) == BACKEND_PATH
    )


def recheck(request: HttpRequest) -> bool:
    """Ask the directory whether this session may go on; at most every
    ``PORTAL_LDAP_RECHECK_SECONDS``, with the service account (without one, there is nothing to
    ask with, and the answer is yes until the next sign-in).

    The person's entry is read again by its DN: gone, or disabled (Active Directory's
    ``userAccountControl``), the answer is False and the caller signs them out. Otherwise their
    groups are applied again through ``identity.sign_in_from_provider`` (audited like a
    sign-in's), so a mover's roles change within the interval, and someone whose groups no
    longer give access is signed out. An unreachable directory ends no session; it is asked
    again RETRY_SECONDS later.
    """
    if not enabled() or not is_ldap_session(request):
        return True
    now = int(time.time())
    interval = int(
        getattr(settings, "PORTAL_LDAP_RECHECK_SECONDS", settings.PORTAL_SESSION_IDLE_SECONDS)
    )
    checked = request.session.get(_CHECKED_KEY)
    if not isinstance(checked, int):
        request.session[_CHECKED_KEY] = now  # the sign-in itself was the first check
        return True
    if now - checked < interval:
        return True
    try:
        config = LdapConfig.from_settings()
    except ImproperlyConfigured as exc:
        logger.error("LDAP session re-check: misconfigured: %s", exc)
        request.session[_CHECKED_KEY] = now - interval + RETRY_SECONDS
        return True
    if not (config.bind_dn and config.bind_password_file):
        return True
    user_id = request.user.pk
    link = ExternalIdentity.objects.filter(user_id=user_id or 0, provider=PROVIDER).first()
    if link is None:
        return False
    try:
        person = _current(link.subject, config)
    except DirectoryUnavailable as exc:
        logger.warning("LDAP session re-check: the directory cannot be reached: %s", exc)
        request.session[_CHECKED_KEY] = now - interval + RETRY_SECONDS
        return True
    if person is None:
        logger.info("LDAP session re-check: %s is gone or disabled; signing out", link.subject)
        return False
    try:
        user = identity.sign_in_from_provider(person)
    except identity.NoAccess:
        return False
    if user.pk != user_id:
        return False
    request.session[_CHECKED_KEY] = now
    return True


def _current(dn: str, config: LdapConfig) -> identity.ProviderPerson | None:
    """The person at ``dn`` as the directory says now, read by the service account; None when
    the entry is gone or disabled."""
    try:
        with _connection(config) as service:
            if not _bind(service, config.bind_dn, _service_password(config)):
                raise DirectoryUnavailable(
                    f"the directory refused the service account {config.bind_dn}"
                )
            service.search(
                dn,
                "(objectClass=*)",
                BASE,
                attributes=[*config.person_attributes, "userAccountControl"],
            )
            code = service.result.get("result")
            if code in _SERVER_TROUBLE:
                raise DirectoryUnavailable(
                    f"reading {dn} answered {service.result.get('description')}"
                )
            found = _entries(service)
            if code == _NO_SUCH_OBJECT or not found:
                return None
            entry = found[0]
            flags = _first(entry["attributes"], "userAccountControl")
            if flags.isdigit() and int(flags) & _AD_ACCOUNT_DISABLED:
                return None
            username = _first(entry["attributes"], config.username_attribute)
            return _person(entry, username, _groups(service, entry, username, config), config)
    except LDAPException as exc:
        raise DirectoryUnavailable(f"{type(exc).__name__}: {exc}") from None


# --- System checks (manage.py check) -------------------------------------------------------------


def check_settings(app_configs: Any = None, **kwargs: Any) -> list[CheckMessage]:
    """Misconfigured LDAP settings fail ``manage.py check``; passwords sent in clear warn."""
    if not enabled():
        return []
    try:
        config = LdapConfig.from_settings()
    except ImproperlyConfigured as exc:
        return [Error(str(exc), id="accounts.E101")]
    clear = [u for u in config.urls if u.startswith("ldap:")]
    if clear and not config.start_tls:
        return [
            Warning(
                "PORTAL_LDAP_URL uses ldap:// without PORTAL_LDAP_START_TLS=1: people's "
                "passwords would cross the network in clear.",
                hint="Use ldaps://…:636, or set PORTAL_LDAP_START_TLS=1.",
                id="accounts.W101",
            )
        ]
    return []
