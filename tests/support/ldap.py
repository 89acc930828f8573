"""A real OpenLDAP server (Debian's ``slapd``) for the tests, in its own process.

``SlapdServer`` writes a ``slapd.conf`` (mdb backend, suffix ``dc=bank,dc=test``, the core,
cosine, inetorgperson and nis schemas, the memberof overlay so people carry ``memberOf`` the way
Active Directory's do) into a temporary folder and runs ``slapd -d stats`` in the foreground on
loopback ports only, logging every operation to a file the tests can read. With ``tls=True`` it
also answers ``ldaps://`` and StartTLS with a certificate for 127.0.0.1 signed by a CA made for
the run.

The server is deliberately lax where real directories are: like Active Directory it accepts a
simple bind with a DN and an empty password as an anonymous bind (``allow bind_anon_dn``), so a
client that forgets to refuse empty passwords is caught by the tests, not saved by the server.
"""

from __future__ import annotations

import base64
import datetime
import hashlib
import ipaddress
import os
import re
import secrets
import shutil
import subprocess
import tempfile
import time
from pathlib import Path

from ldap3 import BASE, LEVEL, MODIFY_ADD, MODIFY_DELETE, SUBTREE, Connection, Server
from ldap3.core.exceptions import LDAPException

from tests.support.services import free_port, unavailable

SLAPD = "/usr/sbin/slapd"
SCHEMA_DIR = Path("/etc/ldap/schema")
MODULE_DIR = Path("/usr/lib/ldap")

SUFFIX = "dc=bank,dc=test"
ROOT_DN = f"cn=admin,{SUFFIX}"
PEOPLE = f"ou=people,{SUFFIX}"
GROUPS = f"ou=groups,{SUFFIX}"
SERVICES = f"ou=services,{SUFFIX}"
SERVICE_DN = f"cn=portal,{SERVICES}"
# groupOfNames needs at least one member; a group nobody is in keeps this one (no such entry).
NOBODY = f"cn=nobody,{SUFFIX}"


def ssha(password: str) -> str:
    """``{SSHA}`` as slappasswd writes it: the directory never holds a password in clear."""
    salt = secrets.token_bytes(8)
    digest = hashlib.sha1(password.encode() + salt).digest()  # noqa: S324 - LDAP's SSHA scheme
    return "{SSHA}" + base64.b64encode(digest + salt).decode()


class SlapdServer:
    """``with SlapdServer() as ldap:`` a running slapd; ``ldap.url`` is where it answers."""

    def __init__(self, *, tls: bool = False) -> None:
        self.tls = tls
        self.port = free_port()
        self.url = f"ldap://127.0.0.1:{self.port}"
        self.ldaps_port = free_port() if tls else 0
        self.ldaps_url = f"ldaps://127.0.0.1:{self.ldaps_port}" if tls else ""
        self.root_password = secrets.token_urlsafe(16)
        self.service_password = secrets.token_urlsafe(16)
        self.folder = Path(tempfile.mkdtemp(prefix="slapd-"))
        self.log_path = self.folder / "slapd.log"
        self.ca_file = self.folder / "ca.pem"
        self.other_ca_file = self.folder / "other-ca.pem"  # a CA that signed nothing here
        self.service_password_file = self.folder / "service-password"
        self.process: subprocess.Popen[bytes] | None = None
        self._log_start = 0  # what binds() and bind_ssf() read starts here

    # --- lifecycle --------------------------------------------------------------------------

    def __enter__(self) -> SlapdServer:
        if not Path(SLAPD).exists():
            shutil.rmtree(self.folder, ignore_errors=True)
            unavailable(f"{SLAPD} is not installed (Debian package slapd)")
        try:
            self._start()
        except BaseException:
            self.__exit__()
            raise
        return self

    def _start(self) -> None:
        (self.folder / "data").mkdir()
        if self.tls:
            self._write_certificates()
        config = self.folder / "slapd.conf"
        config.write_text(self._config())
        self.service_password_file.write_text(self.service_password + "\n")
        listen = " ".join(url for url in (self.url, self.ldaps_url) if url)
        self.log = self.log_path.open("wb")
        self.process = subprocess.Popen(
            # -d stats: stay in the foreground (so the PID is slapd's) and log each operation.
            [SLAPD, "-h", listen, "-f", str(config), "-d", "stats"],
            stdout=self.log,
            stderr=subprocess.STDOUT,
            cwd=self.folder,
        )
        deadline = time.monotonic() + 30
        while True:
            if self.process.poll() is not None:
                raise RuntimeError(f"slapd exited with {self.process.returncode}:\n{self.output()}")
            try:
                self.admin().unbind()
                break
            except LDAPException as exc:
                if time.monotonic() > deadline:
                    raise RuntimeError(
                        f"slapd did not answer on {self.url}:\n{self.output()}"
                    ) from exc
                time.sleep(0.1)
        self._seed()

    def stop(self) -> None:
        """Stop the slapd this object started (SIGTERM, then SIGKILL), by its PID."""
        if self.process is not None and self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout=15)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait(timeout=10)

    def __exit__(self, *exc: object) -> None:
        self.stop()
        if hasattr(self, "log"):
            self.log.close()
        shutil.rmtree(self.folder, ignore_errors=True)

    def output(self) -> str:
        return self.log_path.read_text(errors="replace")[-5000:] if self.log_path.exists() else ""

    def _config(self) -> str:
        schemas = "\n".join(
            f"include {SCHEMA_DIR / name}.schema"
            for name in ("core", "cosine", "inetorgperson", "nis")
        )
        tls = ""
        if self.tls:
            tls = (
                f"TLSCACertificateFile {self.ca_file}\n"
                f"TLSCertificateFile {self.folder / 'server.pem'}\n"
                f"TLSCertificateKeyFile {self.folder / 'server.key'}\n"
            )
        return f"""{schemas}
modulepath {MODULE_DIR}
moduleload back_mdb
moduleload memberof
pidfile {self.folder / "slapd.pid"}
argsfile {self.folder / "slapd.args"}
allow bind_anon_dn
{tls}
database mdb
suffix "{SUFFIX}"
rootdn "{ROOT_DN}"
rootpw {ssha(self.root_password)}
directory {self.folder / "data"}
maxsize 33554432
overlay memberof
access to attrs=userPassword by self write by anonymous auth by * none
access to * by users read by * none
"""

    def _write_certificates(self) -> None:
        """A CA, a server certificate for 127.0.0.1 it signed, and an unrelated second CA."""
        from cryptography import x509
        from cryptography.hazmat.primitives import hashes, serialization
        from cryptography.hazmat.primitives.asymmetric import ec
        from cryptography.x509.oid import NameOID

        now = datetime.datetime.now(datetime.UTC)

        def name(common_name: str) -> x509.Name:
            return x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, common_name)])

        def authority(common_name: str) -> tuple[ec.EllipticCurvePrivateKey, x509.Certificate]:
            key = ec.generate_private_key(ec.SECP256R1())
            certificate = (
                x509.CertificateBuilder()
                .subject_name(name(common_name))
                .issuer_name(name(common_name))
                .public_key(key.public_key())
                .serial_number(x509.random_serial_number())
                .not_valid_before(now - datetime.timedelta(minutes=5))
                .not_valid_after(now + datetime.timedelta(days=1))
                .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
                .add_extension(
                    x509.KeyUsage(
                        digital_signature=True,
                        content_commitment=False,
                        key_encipherment=False,
                        data_encipherment=False,
                        key_agreement=False,
                        key_cert_sign=True,
                        crl_sign=True,
                        encipher_only=False,
                        decipher_only=False,
                    ),
                    critical=True,
                )
                .add_extension(
                    x509.SubjectKeyIdentifier.from_public_key(key.public_key()), critical=False
                )
                .sign(key, hashes.SHA256())
            )
            return key, certificate

        ca_key, ca = authority("Bank test directory CA")
        _, other_ca = authority("Bank test directory CA")  # same name, different key
        server_key = ec.generate_private_key(ec.SECP256R1())
        server = (
            x509.CertificateBuilder()
            .subject_name(name("127.0.0.1"))
            .issuer_name(ca.subject)
            .public_key(server_key.public_key())
            .serial_number(x509.random_serial_number())
            .not_valid_before(now - datetime.timedelta(minutes=5))
            .not_valid_after(now + datetime.timedelta(days=1))
            .add_extension(
                x509.SubjectAlternativeName(
                    [x509.IPAddress(ipaddress.ip_address("127.0.0.1")), x509.DNSName("ldap.test")]
                ),
                critical=False,
            )
            .add_extension(
                x509.ExtendedKeyUsage([x509.oid.ExtendedKeyUsageOID.SERVER_AUTH]), critical=False
            )
            .add_extension(
                x509.AuthorityKeyIdentifier.from_issuer_public_key(ca_key.public_key()),
                critical=False,
            )
            .sign(ca_key, hashes.SHA256())
        )
        pem = serialization.Encoding.PEM
        self.ca_file.write_bytes(ca.public_bytes(pem))
        self.other_ca_file.write_bytes(other_ca.public_bytes(pem))
        (self.folder / "server.pem").write_bytes(server.public_bytes(pem))
        key_file = self.folder / "server.key"
        key_file.write_bytes(
            server_key.private_bytes(
                pem, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
            )
        )
        os.chmod(key_file, 0o600)

    # --- the directory's content ------------------------------------------------------------

    def admin(self) -> Connection:
        """A connection bound as the root DN (the directory's administrator)."""
        return Connection(
            Server(self.url, connect_timeout=2),
            user=ROOT_DN,
            password=self.root_password,
            auto_bind=True,
            receive_timeout=10,
            raise_exceptions=True,
        )

    def _seed(self) -> None:
        conn = self.admin()
        try:
            conn.add(SUFFIX, ["dcObject", "organization"], {"dc": "bank", "o": "Bank (tests)"})
            for unit in (PEOPLE, GROUPS, SERVICES):
                conn.add(unit, ["organizationalUnit"], {"ou": unit.split(",")[0][3:]})
            conn.add(
                SERVICE_DN,
                ["applicationProcess", "simpleSecurityObject"],
                {"cn": "portal", "userPassword": ssha(self.service_password)},
            )
        finally:
            conn.unbind()

    def reset(self) -> None:
        """Remove every person and group, and forget the log so far (between tests; the server
        keeps running)."""
        conn = self.admin()
        try:
            for base in (GROUPS, PEOPLE):
                conn.search(base, "(objectClass=*)", SUBTREE, attributes=[])
                below = [e.entry_dn for e in conn.entries if e.entry_dn.lower() != base.lower()]
                for dn in sorted(below, key=lambda dn: -dn.count(",")):  # leaves first
                    conn.delete(dn)
        finally:
            conn.unbind()
        self.settle()
        self._log_start = self.log_path.stat().st_size

    @staticmethod
    def person_dn(uid: str, unit: str = PEOPLE) -> str:
        return f"uid={uid},{unit}"

    def add_unit(self, dn: str) -> str:
        """An organizationalUnit, e.g. ``ou=robots,ou=people,dc=bank,dc=test``."""
        conn = self.admin()
        try:
            conn.add(dn, ["organizationalUnit"], {"ou": dn.split(",")[0][3:]})
        finally:
            conn.unbind()
        return dn

    @staticmethod
    def group_dn(cn: str) -> str:
        return f"cn={cn},{GROUPS}"

    def add_person(
        self,
        uid: str,
        password: str,
        given: str = "",
        sn: str = "",
        mail: str = "",
        unit: str = PEOPLE,
    ) -> str:
        attributes: dict[str, str] = {
            "uid": uid,
            "cn": f"{given} {sn}".strip() or uid,
            "sn": sn or uid,
            "userPassword": ssha(password),
        }
        if given:
            attributes["givenName"] = given
        if mail:
            attributes["mail"] = mail
        dn = self.person_dn(uid, unit)
        conn = self.admin()
        try:
            conn.add(dn, ["inetOrgPerson"], attributes)
        finally:
            conn.unbind()
        return dn

    def add_group(self, cn: str, members: list[str] = []) -> str:  # noqa: B006 - never mutated
        """A groupOfNames; ``members`` are uids of people added before."""
        dn = self.group_dn(cn)
        conn = self.admin()
        try:
            conn.add(
                dn,
                ["groupOfNames"],
                {"cn": cn, "member": [NOBODY, *(self.person_dn(uid) for uid in members)]},
            )
        finally:
            conn.unbind()
        return dn

    def add_posix_group(self, cn: str, gid: int, members: list[str]) -> str:
        """A posixGroup (nis schema): members by uid in ``memberUid``, not by DN."""
        dn = self.group_dn(cn)
        conn = self.admin()
        try:
            attributes: dict[str, object] = {"cn": cn, "gidNumber": gid}
            if members:
                attributes["memberUid"] = members
            conn.add(dn, ["posixGroup"], attributes)
        finally:
            conn.unbind()
        return dn

    def set_groups(self, uid: str, groups: list[str], unit: str = PEOPLE) -> None:
        """Make ``uid`` a member of exactly ``groups`` (cn), as a directory administrator would."""
        person = self.person_dn(uid, unit)
        conn = self.admin()
        try:
            conn.search(GROUPS, "(objectClass=groupOfNames)", LEVEL, attributes=["cn", "member"])
            for entry in list(conn.entries):
                members = {str(m).lower() for m in entry.member.values}
                inside = person.lower() in members
                wanted = str(entry.cn.value) in groups
                if wanted and not inside:
                    conn.modify(entry.entry_dn, {"member": [(MODIFY_ADD, [person])]})
                elif inside and not wanted:
                    conn.modify(entry.entry_dn, {"member": [(MODIFY_DELETE, [person])]})
        finally:
            conn.unbind()

    def member_of(self, uid: str, unit: str = PEOPLE) -> list[str]:
        """The ``memberOf`` values the overlay keeps on a person (what AD shows)."""
        conn = self.admin()
        try:
            conn.search(self.person_dn(uid, unit), "(objectClass=*)", BASE, attributes=["memberOf"])
            return sorted(str(v) for v in conn.entries[0].memberOf.values)
        finally:
            conn.unbind()

    # --- what the server saw ----------------------------------------------------------------

    def settle(self) -> None:
        """Wait until the log shows everything done so far: slapd writes it from its own
        threads, so a marker search is made and awaited."""
        marker = f"settle-{secrets.token_hex(8)}"
        conn = self.admin()
        try:
            conn.search(SUFFIX, f"(cn={marker})", BASE, attributes=[])
        finally:
            conn.unbind()
        deadline = time.monotonic() + 10
        while marker not in self.log_path.read_text(errors="replace"):
            if time.monotonic() > deadline:
                raise RuntimeError(f"slapd did not log {marker}:\n{self.output()}")
            time.sleep(0.05)

    def _log_since_reset(self) -> str:
        self.settle()
        with self.log_path.open("rb") as log:
            log.seek(self._log_start)
            return log.read().decode(errors="replace")

    def binds(self, dn: str | None = None) -> int:
        """How many bind requests the server has logged since ``reset``: for ``dn``, or for
        anyone but the root DN."""
        pattern = r' BIND dn="([^"]*)" method='
        found = re.findall(pattern, self._log_since_reset())
        if dn is None:  # anyone's but the root DN's (the tests' own set-up and settle())
            return sum(1 for seen in found if seen.lower() != ROOT_DN)
        return sum(1 for seen in found if seen.lower() == dn.lower())

    def bind_ssf(self, dn: str) -> list[int]:
        """The security strength (bits of encryption; 0 in clear) of each bind as ``dn``."""
        pattern = r' BIND dn="([^"]*)" mech=SIMPLE bind_ssf=\d+ ssf=(\d+)'
        found = re.findall(pattern, self._log_since_reset())
        return [int(ssf) for seen, ssf in found if seen.lower() == dn.lower()]
