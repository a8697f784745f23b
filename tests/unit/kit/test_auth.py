"""Access tokens: EdDSA only, issuer/audience/expiry enforced, tenant inside scope; bearer parsing."""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import time
from pathlib import Path
from typing import Any

import jwt
import pytest

from jinqiao.kit.auth import (
    ALGORITHM,
    Principal,
    Role,
    TokenIssuer,
    TokenVerifier,
    bearer_token,
    generate_signing_keypair,
)
from jinqiao.kit.errors import Unauthenticated
from jinqiao.kit.revocation import RevokedSessions
from jinqiao.kit.settings import KitSettings

ISS, AUD = "jinqiao", "jinqiao"


@pytest.fixture(scope="module")
def keypair() -> tuple[bytes, bytes]:
    return generate_signing_keypair()


@pytest.fixture
def issuer(keypair) -> TokenIssuer:
    return TokenIssuer(private_key_pem=keypair[0], issuer=ISS, audience=AUD, ttl_seconds=600)


@pytest.fixture
def verifier(keypair) -> TokenVerifier:
    return TokenVerifier(public_key_pem=keypair[1], issuer=ISS, audience=AUD)


def claims(**overrides: Any) -> dict[str, Any]:
    now = int(time.time())
    base: dict[str, Any] = {
        "sub": "admin-411525", "role": "county_admin", "scope": "411525",
        "iss": ISS, "aud": AUD, "iat": now, "nbf": now, "exp": now + 600,
    }
    base.update(overrides)
    return {k: v for k, v in base.items() if v is not None}


def b64url(data: dict[str, Any]) -> str:
    return base64.urlsafe_b64encode(json.dumps(data).encode()).rstrip(b"=").decode()


def refused(verifier: TokenVerifier, token: str) -> str:
    with pytest.raises(Unauthenticated) as caught:
        verifier.verify(token)
    assert token not in caught.value.message
    return caught.value.message


def test_issued_county_token_round_trips_to_its_principal(issuer, verifier):
    token, expires_in = issuer.issue(user="admin-411525", role=Role.COUNTY_ADMIN, scope="411525")
    assert expires_in == 600
    assert verifier.verify(token) == Principal(user="admin-411525", role=Role.COUNTY_ADMIN, scope="411525",
                                               tenant="411525", org=None)


def test_issued_token_carries_the_documented_claims(issuer, keypair):
    token, _ = issuer.issue(user="u", role=Role.TOWNSHIP_OFFICER, scope="4115", tenant="411525", org="org-9")
    header = jwt.get_unverified_header(token)
    body = jwt.decode(token, keypair[1], algorithms=[ALGORITHM], audience=AUD)
    assert header["alg"] == "EdDSA"
    assert {"sub", "role", "scope", "tenant", "org", "iss", "aud", "iat", "nbf", "exp", "jti"} <= body.keys()
    assert body["exp"] - body["iat"] == 600
    assert len(body["jti"]) == 32


def test_wide_scope_token_acts_only_on_its_named_tenant(issuer, verifier):
    token, _ = issuer.issue(user="officer", role=Role.TOWNSHIP_OFFICER, scope="4115", tenant="411525",
                            org="t-1")
    principal = verifier.verify(token)
    assert principal.tenant == "411525" and principal.org == "t-1"
    assert principal.acts_on("411525")
    assert not principal.acts_on("411503")
    assert principal.within_scope("411503")
    assert not principal.within_scope("410105")


def test_province_analyst_has_no_tenant_and_is_aggregate_only(issuer, verifier):
    principal = verifier.verify(issuer.issue(user="p", role=Role.PROVINCE_ANALYST, scope="41")[0])
    assert principal.tenant is None
    assert principal.is_aggregate_only
    assert not principal.acts_on("411525")
    assert principal.within_scope("411525")


def test_county_admin_is_not_aggregate_only(issuer, verifier):
    token, _ = issuer.issue(user="c", role=Role.COUNTY_ADMIN, scope="411525")
    assert not verifier.verify(token).is_aggregate_only


def test_expired_token_is_refused(keypair, verifier):
    past = TokenIssuer(private_key_pem=keypair[0], issuer=ISS, audience=AUD, ttl_seconds=60,
                       clock=lambda: time.time() - 3600)
    assert "过期" in refused(verifier, past.issue(user="u", role=Role.COUNTY_ADMIN, scope="411525")[0])


def test_alg_none_token_is_refused(verifier):
    refused(verifier, f"{b64url({'alg': 'none', 'typ': 'JWT'})}.{b64url(claims())}.")


def test_hs256_token_keyed_with_the_public_key_is_refused(keypair, verifier):
    header = b64url({"alg": "HS256", "typ": "JWT"})
    payload = b64url(claims())
    signature = hmac.new(keypair[1], f"{header}.{payload}".encode(), hashlib.sha256).digest()
    token = f"{header}.{payload}.{base64.urlsafe_b64encode(signature).rstrip(b'=').decode()}"
    refused(verifier, token)


@pytest.mark.parametrize(
    "overrides",
    [{"aud": "someone-else"}, {"iss": "mallory"}, {"exp": None}, {"iat": None}, {"sub": None}, {"aud": None},
     {"iss": None}, {"nbf": int(time.time()) + 3600}],
    ids=["other_audience", "other_issuer", "no_exp", "no_iat", "no_sub", "no_aud", "no_iss", "not_yet_valid"],
)
def test_tokens_with_bad_standard_claims_are_refused(keypair, verifier, overrides):
    refused(verifier, jwt.encode(claims(**overrides), keypair[0], algorithm=ALGORITHM))


def test_token_signed_by_another_keypair_is_refused(verifier):
    refused(verifier, jwt.encode(claims(), generate_signing_keypair()[0], algorithm=ALGORITHM))


@pytest.mark.parametrize(
    "overrides",
    [{"tenant": "411503", "scope": "4101"}, {"tenant": "410105", "scope": "411525"}, {"scope": "4115x"},
     {"scope": "911525"}, {"scope": "４１１５２５"}, {"scope": None}, {"role": "superuser"}, {"role": None},
     {"tenant": "4115"}],
    ids=["tenant_outside_city", "tenant_outside_county", "bad_scope", "bad_province", "fullwidth_scope",
         "no_scope", "unknown_role", "no_role", "tenant_not_a_county"],
)
def test_tokens_with_bad_jinqiao_claims_are_refused(keypair, verifier, overrides):
    refused(verifier, jwt.encode(claims(**overrides), keypair[0], algorithm=ALGORITHM))


@pytest.mark.parametrize("token", ["", "garbage", "a.b.c", "eyJhbGciOiJFZERTQSJ9..."])
def test_malformed_tokens_are_refused(verifier, token):
    with pytest.raises(Unauthenticated):
        verifier.verify(token)


@pytest.mark.parametrize(
    ("scope", "tenant"),
    [("4101", "411525"), ("411525", "411503"), ("4115", "4115"), ("9", None), ("41152", None)],
)
def test_issuing_an_inconsistent_scope_and_tenant_is_refused(issuer, scope, tenant):
    with pytest.raises(ValueError):
        issuer.issue(user="u", role=Role.TOWNSHIP_OFFICER, scope=scope, tenant=tenant)


def test_issuing_an_unknown_role_is_refused(issuer):
    with pytest.raises(ValueError):
        issuer.issue(user="u", role="superuser", scope="411525")  # type: ignore[arg-type]


def test_issuer_and_verifier_build_from_settings(keypair, tmp_path: Path):
    (tmp_path / "private.pem").write_bytes(keypair[0])
    (tmp_path / "public.pem").write_bytes(keypair[1])
    settings = KitSettings(
        jwt_private_key_file=tmp_path / "private.pem", jwt_public_key_file=tmp_path / "public.pem",
        jwt_issuer="iss-x", jwt_audience="aud-x", jwt_ttl_seconds=120,
    )
    token, expires_in = TokenIssuer.from_settings(settings).issue(user="s", role=Role.SERVICE, scope="41")
    assert expires_in == 120
    assert TokenVerifier.from_settings(settings).verify(token).role is Role.SERVICE
    refused(TokenVerifier(public_key_pem=keypair[1], issuer=ISS, audience=AUD), token)


def test_missing_key_file_setting_is_refused():
    with pytest.raises(ValueError):
        TokenVerifier.from_settings(KitSettings(jwt_public_key_file=None))


@pytest.mark.parametrize("value", ["Bearer abc.def.ghi", "bearer abc.def.ghi", "BEARER   abc.def.ghi  "])
def test_bearer_token_extracts_the_token(value):
    assert bearer_token(value) == "abc.def.ghi"


@pytest.mark.parametrize(
    "value", [None, "", "   ", "Basic dXNlcjpwYXNz", "Bearer", "Bearer a b", "abc.def.ghi"]
)
def test_bearer_token_refuses_other_values(value):
    with pytest.raises(Unauthenticated):
        bearer_token(value)


def test_a_remembered_token_is_refused_once_it_expires():
    private, public = generate_signing_keypair()
    issuer = TokenIssuer(private_key_pem=private, issuer="jinqiao", audience="jinqiao", ttl_seconds=1)
    verifier = TokenVerifier(public_key_pem=public, issuer="jinqiao", audience="jinqiao", leeway_seconds=0)
    token, _ = issuer.issue(user="u", role=Role.COUNTY_ADMIN, scope="411525")
    assert verifier.verify(token).tenant == "411525"
    assert verifier.verify(token).tenant == "411525"  # served from the cache
    time.sleep(1.2)
    with pytest.raises(Unauthenticated):
        verifier.verify(token)


def test_the_verified_token_cache_is_bounded():
    private, public = generate_signing_keypair()
    issuer = TokenIssuer(private_key_pem=private, issuer="jinqiao", audience="jinqiao", ttl_seconds=60)
    verifier = TokenVerifier(public_key_pem=public, issuer="jinqiao", audience="jinqiao", cache_size=3)
    for i in range(10):
        verifier.verify(issuer.issue(user=f"u{i}", role=Role.COUNTY_ADMIN, scope="411525")[0])
    assert len(verifier._cache) == 3


def test_a_token_of_a_revoked_session_is_refused_even_when_remembered(keypair, issuer):
    revoked = RevokedSessions()
    verifier = TokenVerifier(public_key_pem=keypair[1], issuer=ISS, audience=AUD, revocations=revoked)
    token, _ = issuer.issue(user="u", role=Role.COUNTY_ADMIN, scope="411525", session="s-1")
    other, _ = issuer.issue(user="u", role=Role.COUNTY_ADMIN, scope="411525", session="s-2")
    without_session, _ = issuer.issue(user="u", role=Role.COUNTY_ADMIN, scope="411525")
    assert verifier.verify(token).session == "s-1"  # now in the cache
    revoked.revoke("s-1", until=time.time() + 600)
    assert refused(verifier, token) == "登录已失效，请重新登录"
    assert verifier.verify(other).session == "s-2"
    assert verifier.verify(without_session).session is None


def test_a_verifier_without_revocations_accepts_any_session(verifier, issuer):
    token, _ = issuer.issue(user="u", role=Role.COUNTY_ADMIN, scope="411525", session="s-1")
    assert verifier.verify(token).session == "s-1"
