"""Signed access tokens (EdDSA JWTs) and the verified principal every call acts as."""

from __future__ import annotations

import re
import time
import uuid
from collections import OrderedDict
from collections.abc import Callable
from dataclasses import dataclass
from enum import StrEnum
from typing import TYPE_CHECKING, Any, Protocol

import jwt
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey

from jinqiao.kit.errors import Unauthenticated
from jinqiao.kit.tenancy import parse_scope, parse_tenant, scope_contains

if TYPE_CHECKING:
    from pathlib import Path

    from jinqiao.kit.settings import KitSettings

ALGORITHM = "EdDSA"
_REQUIRED_CLAIMS = ["exp", "iat", "iss", "aud", "sub"]
# tenancy's patterns use \d and $, which admit Unicode digits and a trailing newline.
_ASCII_CODE = re.compile(r"[0-9]{2,6}")
# A partner bank's code, as a bank officer's token carries it in ``org`` (e.g. ``gsrcb``).
BANK_CODE = re.compile(r"[a-z0-9-]{2,32}")


class Role(StrEnum):
    """What a principal may do; the value is what tokens and the accounts table carry."""

    PROVINCE_ANALYST = "province_analyst"
    CITY_ANALYST = "city_analyst"
    COUNTY_ADMIN = "county_admin"
    TOWNSHIP_OFFICER = "township_officer"
    STATION_STAFF = "station_staff"
    GUIDANCE_OFFICER = "guidance_officer"
    BRANCH_SECRETARY = "branch_secretary"
    MEMBER = "member"
    # A partner bank's officer (or the bank's own system, by client credentials): the loans of its bank's programmes
    # in one county; the token's ``org`` names the bank (its code, e.g. ``gsrcb``), not a Party organisation.
    BANK_OFFICER = "bank_officer"
    # A county's own system calling gRPC with client credentials (a service account, DESIGN §5).
    COUNTY_SYSTEM = "county_system"
    # The platform itself (policy timers, consumers acting for a county); never issued to a caller.
    SERVICE = "service"


_AGGREGATE_ONLY = frozenset({Role.PROVINCE_ANALYST, Role.CITY_ANALYST})


@dataclass(frozen=True, slots=True)
class Principal:
    """A verified caller: who, in which role, over which scope, acting on which county (if any)."""

    user: str
    role: Role
    scope: str
    tenant: str | None
    # The caller's organisation (its id); for a bank officer, the partner bank's code.
    org: str | None = None
    # For the member role: the member's own record in the tenant's registry.
    member: str | None = None
    # The login session the token belongs to (``sid``): revoking it refuses the token everywhere.
    session: str | None = None
    # For a county system: the permissions its service account was given (``perms``); None for people.
    permissions: frozenset[str] | None = None

    def acts_on(self, tenant: str) -> bool:
        """True only for the one county this principal acts on."""
        return self.tenant is not None and tenant == self.tenant

    def within_scope(self, code: str) -> bool:
        """True when a county or narrower scope lies inside this principal's scope."""
        return scope_contains(self.scope, code)

    @property
    def is_aggregate_only(self) -> bool:
        """Province and city analysts see aggregates, never member rows."""
        return self.role in _AGGREGATE_ONLY


class SessionRevocations(Protocol):
    """What the verifier asks about a token's session (kit/revocation.py RevokedSessions)."""

    def is_revoked(self, session: str) -> bool:
        """True while the session's tokens must be refused."""
        ...


def generate_signing_keypair() -> tuple[bytes, bytes]:
    """A fresh Ed25519 key pair as (private PKCS#8 PEM, public SubjectPublicKeyInfo PEM)."""
    key = Ed25519PrivateKey.generate()
    private = key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    )
    public = key.public_key().public_bytes(
        serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
    )
    return private, public


def _scope_and_tenant(scope: Any, tenant: Any) -> tuple[str, str | None]:
    """Validate scope and tenant (ValueError otherwise); a county scope is its own tenant."""
    if not isinstance(scope, str) or not _ASCII_CODE.fullmatch(scope):
        raise ValueError("scope must be a 2, 4 or 6 digit code")
    parse_scope(scope)
    if tenant is None:
        return scope, (scope if len(scope) == 6 else None)
    if not isinstance(tenant, str) or not _ASCII_CODE.fullmatch(tenant):
        raise ValueError("tenant must be a 6-digit county code")
    parse_tenant(tenant)
    if not scope_contains(scope, tenant):
        raise ValueError("tenant lies outside the scope")
    return scope, tenant


def _read_key_file(path: Path | None, setting: str) -> bytes:
    if path is None:
        raise ValueError(f"{setting} is not set")
    return path.read_bytes()


class TokenIssuer:
    """Signs access tokens with the Ed25519 private key."""

    def __init__(
        self,
        *,
        private_key_pem: bytes,
        issuer: str,
        audience: str,
        ttl_seconds: int,
        clock: Callable[[], float] = time.time,
    ) -> None:
        key = serialization.load_pem_private_key(private_key_pem, password=None)
        if not isinstance(key, Ed25519PrivateKey):
            raise ValueError("the signing key must be an Ed25519 private key")
        if ttl_seconds <= 0:
            raise ValueError("ttl_seconds must be positive")
        self._key = key
        self._issuer = issuer
        self._audience = audience
        self._ttl = ttl_seconds
        self._clock = clock

    @classmethod
    def from_settings(cls, settings: KitSettings) -> TokenIssuer:
        """Build from the JWT settings, reading the private key PEM file."""
        return cls(
            private_key_pem=_read_key_file(settings.jwt_private_key_file, "JINQIAO_JWT_PRIVATE_KEY_FILE"),
            issuer=settings.jwt_issuer,
            audience=settings.jwt_audience,
            ttl_seconds=settings.jwt_ttl_seconds,
        )

    def issue(
        self, *, user: str, role: Role, scope: str, tenant: str | None = None, org: str | None = None,
        member: str | None = None, session: str | None = None, permissions: frozenset[str] | None = None,
        ttl_seconds: int | None = None,
    ) -> tuple[str, int]:
        """Sign a token and return it with its lifetime in seconds; ValueError on an inconsistent request."""
        if not isinstance(user, str) or not user:
            raise ValueError("user must be a non-empty string")
        role = Role(role)
        _scope_and_tenant(scope, tenant)
        if org is not None and (not isinstance(org, str) or not org):
            raise ValueError("org must be a non-empty string when given")
        if member is not None and (not isinstance(member, str) or not member):
            raise ValueError("member must be a non-empty string when given")
        if session is not None and (not isinstance(session, str) or not session):
            raise ValueError("session must be a non-empty string when given")
        if (permissions is None) != (role is not Role.COUNTY_SYSTEM):
            raise ValueError("permissions are named for a county system, and only for one")
        ttl = self._ttl if ttl_seconds is None else min(ttl_seconds, self._ttl)
        if ttl <= 0:
            raise ValueError("ttl_seconds must be positive")
        now = int(self._clock())
        claims: dict[str, Any] = {
            "sub": user,
            "role": role.value,
            "scope": scope,
            "iss": self._issuer,
            "aud": self._audience,
            "iat": now,
            "nbf": now,
            "exp": now + ttl,
            "jti": uuid.uuid4().hex,
        }
        if tenant is not None:
            claims["tenant"] = tenant
        if org is not None:
            claims["org"] = org
        if member is not None:
            claims["member"] = member
        if session is not None:
            claims["sid"] = session
        if permissions is not None:
            claims["perms"] = sorted(permissions)
        return jwt.encode(claims, self._key, algorithm=ALGORITHM), ttl


class TokenVerifier:
    """Verifies access tokens with the Ed25519 public key and turns them into principals."""

    def __init__(
        self,
        *,
        public_key_pem: bytes,
        issuer: str,
        audience: str,
        leeway_seconds: int = 5,
        cache_size: int = 4096,
        clock: Callable[[], float] = time.time,
        revocations: SessionRevocations | None = None,
    ) -> None:
        key = serialization.load_pem_public_key(public_key_pem)
        if not isinstance(key, Ed25519PublicKey):
            raise ValueError("the verification key must be an Ed25519 public key")
        self._key = key
        self._issuer = issuer
        self._audience = audience
        self._leeway = leeway_seconds
        self._clock = clock
        # A signature check costs more than the rest of a write RPC; the same token string always verifies
        # the same way, so a verified token is remembered until its exp (re-checked on every hit).
        self._cache: OrderedDict[str, tuple[Principal, float]] = OrderedDict()
        self._cache_size = cache_size
        self._revocations = revocations

    @classmethod
    def from_settings(cls, settings: KitSettings, *, revocations: SessionRevocations | None = None) -> TokenVerifier:
        """Build from the JWT settings, reading the public key PEM file; ``revocations`` refuses revoked sessions."""
        return cls(
            public_key_pem=_read_key_file(settings.jwt_public_key_file, "JINQIAO_JWT_PUBLIC_KEY_FILE"),
            issuer=settings.jwt_issuer,
            audience=settings.jwt_audience,
            revocations=revocations,
        )

    def verify(self, token: str) -> Principal:
        """The principal a valid token names; Unauthenticated for anything else (never echoing the token)."""
        if not isinstance(token, str) or not token:
            raise Unauthenticated("缺少身份凭证")
        cached = self._cache.get(token)
        if cached is not None:
            principal, expires = cached
            if self._clock() < expires + self._leeway:
                self._cache.move_to_end(token)
                return self._unrevoked(principal)
            del self._cache[token]
        try:
            claims = jwt.decode(
                token,
                self._key,
                # Only EdDSA: refuses "none" and HS256 signed with the public key as its secret.
                algorithms=[ALGORITHM],
                issuer=self._issuer,
                audience=self._audience,
                leeway=self._leeway,
                options={"require": _REQUIRED_CLAIMS},
            )
        except jwt.ExpiredSignatureError:
            raise Unauthenticated("身份凭证已过期") from None
        except jwt.PyJWTError:
            # PyJWT's own messages may quote token parts, so the cause is not chained.
            raise Unauthenticated("身份凭证无效") from None
        principal = _principal_from(claims)
        self._cache[token] = (principal, float(claims["exp"]))
        if len(self._cache) > self._cache_size:
            self._cache.popitem(last=False)
        return self._unrevoked(principal)

    def _unrevoked(self, principal: Principal) -> Principal:
        # Asked on every call, cache hit or not: a revocation must refuse a token already verified.
        if principal.session is not None and self._revocations is not None \
                and self._revocations.is_revoked(principal.session):
            raise Unauthenticated("登录已失效，请重新登录")
        return principal


def _principal_from(claims: dict[str, Any]) -> Principal:
    user, role, org, member = claims.get("sub"), claims.get("role"), claims.get("org"), claims.get("member")
    session, perms = claims.get("sid"), claims.get("perms")
    if not isinstance(user, str) or not user:
        raise Unauthenticated("身份凭证无效")
    try:
        parsed_role = Role(str(role))
        scope, tenant = _scope_and_tenant(claims.get("scope"), claims.get("tenant"))
    except ValueError:
        raise Unauthenticated("身份凭证无效") from None
    if any(v is not None and (not isinstance(v, str) or not v) for v in (org, member, session)):
        raise Unauthenticated("身份凭证无效")
    # A county system acts only through the permissions named in its token; nobody else carries any.
    if (perms is None) == (parsed_role is Role.COUNTY_SYSTEM):
        raise Unauthenticated("身份凭证无效")
    # A bank officer acts for one bank in one county: a token naming no bank or no county is no bank's.
    if parsed_role is Role.BANK_OFFICER and (tenant is None or not isinstance(org, str)
                                             or not BANK_CODE.fullmatch(org)):
        raise Unauthenticated("身份凭证无效")
    permissions: frozenset[str] | None = None
    if perms is not None:
        if not isinstance(perms, list) or not all(isinstance(p, str) and p for p in perms):
            raise Unauthenticated("身份凭证无效")
        permissions = frozenset(perms)
    return Principal(user=user, role=parsed_role, scope=scope, tenant=tenant, org=org, member=member,
                     session=session, permissions=permissions)


def bearer_token(authorization: str | None) -> str:
    """The token of an ``Authorization: Bearer <token>`` value (scheme case-insensitive)."""
    parts = authorization.split() if authorization else []
    if not parts:
        raise Unauthenticated("缺少身份凭证")
    if len(parts) != 2 or parts[0].lower() != "bearer":
        raise Unauthenticated("身份凭证格式错误")
    return parts[1]
