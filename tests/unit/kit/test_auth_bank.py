"""A partner bank's tokens (issue 14): a bank officer acts for one bank, named by its code in ``org``, in one county;
what it may do is the bank_officer role's grants in the authorization table, never a county system's ``perms``."""

from __future__ import annotations

import time
from datetime import UTC, datetime
from typing import Any

import jwt
import pytest

from jinqiao.gateway import integrations
from jinqiao.kit import authz
from jinqiao.kit.auth import ALGORITHM, Principal, Role, TokenIssuer, TokenVerifier, generate_signing_keypair
from jinqiao.kit.authz import Permission, Reach
from jinqiao.kit.errors import InvalidArgument, PermissionDenied, Unauthenticated

ISS = AUD = "jinqiao"
COUNTY = "650553"


@pytest.fixture(scope="module")
def keypair() -> tuple[bytes, bytes]:
    return generate_signing_keypair()


@pytest.fixture
def issuer(keypair) -> TokenIssuer:
    return TokenIssuer(private_key_pem=keypair[0], issuer=ISS, audience=AUD, ttl_seconds=600)


@pytest.fixture
def verifier(keypair) -> TokenVerifier:
    return TokenVerifier(public_key_pem=keypair[1], issuer=ISS, audience=AUD)


def _signed(keypair: tuple[bytes, bytes], **claims: Any) -> str:
    now = int(time.time())
    body = {"sub": "bank", "role": "bank_officer", "scope": COUNTY, "iss": ISS, "aud": AUD, "iat": now, "nbf": now,
            "exp": now + 600, **claims}
    return jwt.encode({k: v for k, v in body.items() if v is not None}, keypair[0], algorithm=ALGORITHM)


def test_a_bank_officer_token_round_trips_with_its_bank_code_and_county(issuer, verifier):
    token, _ = issuer.issue(user="officer", role=Role.BANK_OFFICER, scope=COUNTY, org="gsrcb")
    principal = verifier.verify(token)
    assert (principal.role, principal.org, principal.tenant, principal.permissions) == (
        Role.BANK_OFFICER, "gsrcb", COUNTY, None)


@pytest.mark.parametrize("claims", [
    {"org": None},  # no bank
    {"org": "GSRCB"},  # not a bank code
    {"org": "g"},
    {"org": "x" * 33},
    {"org": "gsrcb", "scope": "6505", "tenant": None},  # a city scope acts on no county
    {"org": "gsrcb", "perms": ["loans.bank"]},  # perms are a county system's, never a bank's
])
def test_a_bank_officer_token_without_one_bank_in_one_county_is_refused(keypair, verifier, claims):
    with pytest.raises(Unauthenticated):
        verifier.verify(_signed(keypair, **claims))


def test_a_bank_officer_holds_the_bank_side_of_loans_and_nothing_of_the_party_roster():
    bank = Principal(user="officer", role=Role.BANK_OFFICER, scope=COUNTY, tenant=COUNTY, org="gsrcb")
    held = {p for p in Permission if authz.holds(bank, p)}
    assert held == {Permission.SESSION, Permission.LOAN_PROGRAMMES_READ, Permission.LOANS_READ,
                    Permission.LOANS_BANK, Permission.LOAN_SUBSIDIES_READ, Permission.NOTIFICATIONS_INBOX}
    assert all(authz.scope_of(bank, p) in (Reach.BANK, Reach.SELF) for p in held)
    # Unlike a county system it may use the gateway's HTTP routes (only those its role holds).
    authz.require_route(bank, Permission.LOANS_BANK)
    with pytest.raises(PermissionDenied):
        authz.require_route(bank, Permission.MEMBERS_READ)
    assert Role.BANK_OFFICER not in authz.GRPC_ONLY


def test_a_bank_reaches_its_own_loans_only():
    assert authz.covers(Reach.BANK, "own")
    assert not authz.covers(Reach.BANK, "sibling")  # another bank's loan in the same county
    assert not authz.covers(Reach.BANK, "foreign")


def test_a_bank_client_asks_for_no_scope_and_names_a_valid_bank_code():
    account = integrations.ServiceAccount(
        tenant=COUNTY, client_id=f"jq-{COUNTY}-00000000000000bb", name="n", permissions=(), created_by="a",
        created_at=datetime.now(UTC), rotated_at=None, previous_secret_expires_at=None, disabled_at=None,
        last_token_at=None, kind=integrations.BANK, bank_code="gsrcb")
    assert account.role is Role.BANK_OFFICER
    assert integrations.requested_scope(account, None) == frozenset()
    with pytest.raises(InvalidArgument) as caught:
        integrations.requested_scope(account, "loans.bank")
    assert caught.value.violations[0].field == "scope"
    assert integrations.validate_bank_code("gsrcb-2") == "gsrcb-2"
    for bad in ("", "GSRCB", "g", "a" * 33, "gs rcb", "农商行"):
        with pytest.raises(InvalidArgument):
            integrations.validate_bank_code(bad)
