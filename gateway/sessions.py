"""Login sessions: refresh tokens rotated at every use, absolute and idle limits, revocation announced to every process.

A login opens a session (its id is every access token's ``sid``) and hands out an opaque refresh token, of which
only a SHA-256 is stored. A refresh checks the session's limits, rotates the token and keeps the old hash marked
as rotated: presenting a rotated token again means it was copied, so the whole session is revoked. A revocation
is written with a ``SessionRevoked`` event in the same transaction (the gateway's outbox); every process follows
those events (kit/revocation.py) and refuses the session's access tokens until they would have expired anyway.
"""

from __future__ import annotations

import hashlib
import secrets
import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

import asyncpg

from jinqiao.events.v1.gateway_events_pb2 import SessionRevoked
from jinqiao.gateway.accounts import Account
from jinqiao.gateway.settings import GatewaySettings
from jinqiao.kit import events as ev
from jinqiao.kit import telemetry
from jinqiao.kit.auth import Role
from jinqiao.kit.db import Database, PendingEvent, UnitOfWork
from jinqiao.kit.errors import Unauthenticated
from jinqiao.kit.revocation import CLOCK_MARGIN_SECONDS, REVOCATION_SOURCE, RevokedSessions

SESSION_ENDED = "登录已失效，请重新登录"
LOGOUT, REFRESH_REUSED, ACCOUNT_CHANGED = "LOGOUT", "REFRESH_REUSED", "ACCOUNT_CHANGED"


@dataclass(frozen=True, slots=True)
class SessionPolicy:
    """How long access tokens and sessions live."""

    access_ttl_seconds: int
    lifetime_seconds: int
    idle_seconds: int

    @classmethod
    def from_settings(cls, settings: GatewaySettings) -> SessionPolicy:
        """From the gateway settings (``JINQIAO_ACCESS_TOKEN_TTL_SECONDS``, ``JINQIAO_SESSION_*_SECONDS``)."""
        return cls(access_ttl_seconds=settings.access_token_ttl_seconds,
                   lifetime_seconds=settings.session_lifetime_seconds, idle_seconds=settings.session_idle_seconds)


@dataclass(frozen=True, slots=True)
class Grant:
    """What a login or a refresh hands out: the session, its new refresh token, and the account to sign for."""

    session_id: str
    refresh_token: str
    refresh_expires_in: int
    account: Account


def _now() -> datetime:
    return datetime.now(UTC)


def _hash(refresh_token: str) -> bytes:
    # surrogatepass: whatever a client sends hashes to something (and matches nothing) rather than raising.
    return hashlib.sha256(refresh_token.encode("utf-8", "surrogatepass")).digest()


def _refresh_expires_in(*, now: datetime, expires_at: datetime, policy: SessionPolicy) -> int:
    # The refresh token is usable until the idle limit or the session's end, whichever comes first.
    return max(0, int(min(policy.idle_seconds, (expires_at - now).total_seconds())))


async def _new_refresh_token(uow: UnitOfWork, *, session_id: uuid.UUID, now: datetime) -> str:
    token = secrets.token_urlsafe(32)
    await uow.conn.execute(
        "INSERT INTO refresh_tokens (tenant_id, token_hash, session_id, issued_at) VALUES ($1, $2, $3, $4)",
        uow.tenant, _hash(token), session_id, now,
    )
    return token


async def start_session(*, db: Database, account: Account, policy: SessionPolicy, now: datetime | None = None) -> Grant:
    """Open a session for an account that just logged in, with its first refresh token."""
    now = now or _now()
    session_id = uuid.uuid4()
    expires_at = now + timedelta(seconds=policy.lifetime_seconds)
    async with db.unit_of_work_in_scope(scope=account.scope) as uow:
        await uow.conn.execute(
            "INSERT INTO sessions (tenant_id, session_id, username, created_at, last_used_at, expires_at)"
            " VALUES ($1, $2, $3, $4, $4, $5)",
            account.scope, session_id, account.username, now, expires_at,
        )
        token = await _new_refresh_token(uow, session_id=session_id, now=now)
        await uow.commit()
    return Grant(session_id=str(session_id), refresh_token=token, account=account,
                 refresh_expires_in=_refresh_expires_in(now=now, expires_at=expires_at, policy=policy))


async def refresh_session(
    *, db: Database, refresh_token: str, policy: SessionPolicy, revoked: RevokedSessions | None = None,
    now: datetime | None = None,
) -> Grant:
    """Rotate a refresh token; Unauthenticated if unknown, expired, revoked or spent (a spent one ends the session)."""
    now = now or _now()
    async with db.pool.acquire() as conn:
        # The token names no tenant: like login, one row by an unguessable key is the only cross-tenant read.
        owner = await conn.fetchrow("SELECT * FROM refresh_token_owner_all_tenants($1)", _hash(refresh_token))
    if owner is None:
        raise Unauthenticated(SESSION_ENDED)
    ended: list[tuple[str, datetime]] = []
    grant: Grant | None = None
    async with db.unit_of_work_in_scope(scope=owner["tenant_id"]) as uow:
        session = await uow.conn.fetchrow(
            "SELECT * FROM sessions WHERE tenant_id = $1 AND session_id = $2 FOR UPDATE", uow.tenant,
            owner["session_id"],
        )
        used = await uow.conn.fetchval(
            "SELECT rotated_at IS NOT NULL FROM refresh_tokens WHERE tenant_id = $1 AND token_hash = $2 FOR UPDATE",
            uow.tenant, _hash(refresh_token),
        )
        if session is None or used is None or session["revoked_at"] is not None:
            pass  # ended already
        elif used:
            # A rotated token presented again was copied: whoever holds the session now, it ends for both.
            ended = await _revoke(uow, [session], reason=REFRESH_REUSED, policy=policy, now=now)
            await uow.commit()
        elif now >= session["expires_at"] or now >= session["last_used_at"] + timedelta(seconds=policy.idle_seconds):
            pass  # past its absolute or idle limit: its access tokens die on their own within minutes
        elif (account := await _account(uow, username=session["username"])) is None:
            ended = await _revoke(uow, [session], reason=ACCOUNT_CHANGED, policy=policy, now=now)
            await uow.commit()
        else:
            await uow.conn.execute(
                "UPDATE refresh_tokens SET rotated_at = $3 WHERE tenant_id = $1 AND token_hash = $2",
                uow.tenant, _hash(refresh_token), now,
            )
            await uow.conn.execute(
                "UPDATE sessions SET last_used_at = $3 WHERE tenant_id = $1 AND session_id = $2",
                uow.tenant, session["session_id"], now,
            )
            token = await _new_refresh_token(uow, session_id=session["session_id"], now=now)
            await uow.commit()
            grant = Grant(session_id=str(session["session_id"]), refresh_token=token, account=account,
                          refresh_expires_in=_refresh_expires_in(now=now, expires_at=session["expires_at"],
                                                                 policy=policy))
    _forget_locally(revoked, ended)
    if grant is None:
        raise Unauthenticated(SESSION_ENDED)
    return grant


async def end_session(
    *, db: Database, scope: str, session_id: str, policy: SessionPolicy, revoked: RevokedSessions | None = None,
    now: datetime | None = None,
) -> bool:
    """Revoke one session (logout); False when it was already ended or is unknown."""
    now = now or _now()
    try:
        sid = uuid.UUID(session_id)
    except ValueError:
        return False
    async with db.unit_of_work_in_scope(scope=scope) as uow:
        rows = await uow.conn.fetch(
            "SELECT * FROM sessions WHERE tenant_id = $1 AND session_id = $2 AND revoked_at IS NULL FOR UPDATE",
            uow.tenant, sid,
        )
        ended = await _revoke(uow, rows, reason=LOGOUT, policy=policy, now=now)
        await uow.commit()
    _forget_locally(revoked, ended)
    return bool(rows)


async def revoke_sessions_of(
    *, db: Database, account: Account, policy: SessionPolicy, reason: str = ACCOUNT_CHANGED,
    revoked: RevokedSessions | None = None, now: datetime | None = None,
) -> int:
    """Revoke every open session of an account (disabled, password changed); returns how many were open."""
    now = now or _now()
    async with db.unit_of_work_in_scope(scope=account.scope) as uow:
        rows = await uow.conn.fetch(
            "SELECT * FROM sessions WHERE tenant_id = $1 AND username = $2 AND revoked_at IS NULL FOR UPDATE",
            uow.tenant, account.username,
        )
        ended = await _revoke(uow, rows, reason=reason, policy=policy, now=now)
        await uow.commit()
    _forget_locally(revoked, ended)
    return len(rows)


async def _account(uow: UnitOfWork, *, username: str) -> Account | None:
    """The account as it is now (a refresh signs its current role and binding), or None if gone or disabled."""
    row = await uow.conn.fetchrow(
        "SELECT * FROM accounts WHERE tenant_id = $1 AND username = $2", uow.tenant, username)
    if row is None or row["disabled"]:
        return None
    return Account(username=row["username"], role=Role(row["role"]), scope=row["scope"],
                   acting_tenant=row["acting_tenant"], display_name=row["display_name"], acting_org=row["acting_org"],
                   acting_member=row["acting_member"])


async def _revoke(uow: UnitOfWork, sessions: Sequence[asyncpg.Record], *, reason: str, policy: SessionPolicy,
                  now: datetime) -> list[tuple[str, datetime]]:
    """Mark sessions revoked; announce those whose access tokens may still be valid (id, when the last expires)."""
    announced: list[tuple[str, datetime]] = []
    for session in sessions:
        await uow.conn.execute(
            "UPDATE sessions SET revoked_at = $3, revoked_reason = $4 WHERE tenant_id = $1 AND session_id = $2",
            uow.tenant, session["session_id"], now, reason,
        )
        # Access tokens are signed only at login and refresh, both of which set last_used_at: none outlives this
        # (the margin covers the verifiers' leeway and the milliseconds between the commit and the signature).
        tokens_valid_until = session["last_used_at"] + timedelta(seconds=policy.access_ttl_seconds)
        if tokens_valid_until + timedelta(seconds=CLOCK_MARGIN_SECONDS) > now:
            uow.add_event(_revoked_event(scope=uow.tenant, session_id=str(session["session_id"]), reason=reason,
                                         now=now, expires_at=tokens_valid_until))
            announced.append((str(session["session_id"]), tokens_valid_until))
    return announced


def _revoked_event(*, scope: str, session_id: str, reason: str, now: datetime, expires_at: datetime) -> PendingEvent:
    # Built here rather than by ev.new_event: a province or city account's scope is no county, and it is the tenant
    # of its sessions, of this event and of its subject.
    message = SessionRevoked(session_id=session_id, reason=reason)
    message.revoked_at.FromDatetime(now)
    message.expires_at.FromDatetime(expires_at)
    event_id = str(uuid.uuid4())
    traceparent = telemetry.current_traceparent()
    meta = message.meta
    meta.event_id, meta.tenant_id, meta.aggregate_id, meta.aggregate_version = event_id, scope, session_id, 1
    meta.occur_time.FromDatetime(now)
    meta.traceparent = traceparent or ""
    return PendingEvent(
        event_id=event_id, tenant_id=scope,
        subject=f"jinqiao.{scope}.{REVOCATION_SOURCE}.{ev.event_subject_name(SessionRevoked)}",
        event_type=ev.event_type(SessionRevoked), event_version=1, payload=message.SerializeToString(),
        traceparent=traceparent,
    )


def _forget_locally(revoked: RevokedSessions | None, ended: list[tuple[str, datetime]]) -> None:
    # This gateway refuses at once; its other replicas, and every service, learn it from the event.
    if revoked is None:
        return
    for session_id, expires_at in ended:
        revoked.revoke(session_id, until=expires_at.timestamp() + CLOCK_MARGIN_SECONDS)
