"""Forged ID tokens the test provider can issue instead of correct ones.

Plain Python, no Django: both the provider process and the test process
(``tests.support.oidc``) import it. The fixture writes the fault's name to ``FAULT_FILE`` in the
provider's state folder; the provider reads it on every token request, so a change takes effect
at the next token without a restart.
"""

from __future__ import annotations

from pathlib import Path
from typing import Literal, get_args

Fault = Literal[
    # A valid RS256 signature, made with a key that is not in the provider's JWKS.
    "signed_by_unknown_key",
    # An unsigned JWT: header {"alg": "none"} and an empty signature.
    "alg_none",
    # "exp" (and "iat") an hour and more in the past.
    "expired",
    # "aud" names another client.
    "wrong_audience",
    # "iss" names another issuer.
    "wrong_issuer",
    # "nonce" is not the one the client sent with its authorization request.
    "wrong_nonce",
    # "groups" is a string ("data_scientist,retail-credit"), not a list.
    "groups_malformed",
    # "groups" is a number (42), not a list.
    "groups_number",
    # No "groups" claim at all.
    "groups_missing",
]

FAULTS: tuple[Fault, ...] = get_args(Fault)
FAULT_FILE = "fault"


def read_fault(state_dir: Path) -> Fault | None:
    """The fault currently chosen for this provider, or None for correct tokens."""
    try:
        name = (state_dir / FAULT_FILE).read_text().strip()
    except FileNotFoundError:
        return None
    if not name:
        return None
    for fault in FAULTS:
        if fault == name:
            return fault
    raise ValueError(f"unknown fault {name!r} in {state_dir / FAULT_FILE}; known: {FAULTS}")


def write_fault(state_dir: Path, fault: Fault | None) -> None:
    """Choose the fault for the next token requests (None: correct tokens again).

    Written to a temporary file and renamed, so a token request never reads half a name.
    """
    if fault is not None and fault not in FAULTS:
        raise ValueError(f"unknown fault {fault!r}; known: {FAULTS}")
    temporary = state_dir / f"{FAULT_FILE}.tmp"
    temporary.write_text(fault or "")
    temporary.replace(state_dir / FAULT_FILE)
