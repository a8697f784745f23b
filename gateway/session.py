"""Login, refresh, logout, and the current principal: ``POST /api/v1/auth/…``, ``GET /api/v1/me``."""

from __future__ import annotations

from fastapi import APIRouter, Request, Response
from pydantic import BaseModel, Field

from jinqiao.desk.v1 import loans_pb2
from jinqiao.gateway import accounts, sessions
from jinqiao.gateway.deps import Caller, CallerDep, Gateway, GatewayDep
from jinqiao.gateway.problems import problem
from jinqiao.gateway.ratelimit import Refusal, app_limiter
from jinqiao.gateway.wire import Body
from jinqiao.kit import telemetry
from jinqiao.kit.auth import Role
from jinqiao.kit.errors import Unauthenticated
from jinqiao.kit.regions import name_of
from jinqiao.kit.revocation import RevokedSessions

router = APIRouter(prefix="/api/v1", tags=["session"])
log = telemetry.get_logger("jinqiao.gateway.session")


class TokenRequest(Body):
    """Credentials."""

    username: str = Field(min_length=1, max_length=100)
    password: str = Field(min_length=1, max_length=200)


class TokenResponse(BaseModel):
    """A short-lived bearer token, and the refresh token that renews it (once: each refresh returns a new one)."""

    access_token: str
    token_type: str = "Bearer"
    expires_in: int
    refresh_token: str = Field(description="不透明的刷新令牌，只能使用一次；再次使用已用过的刷新令牌会注销整个登录会话")
    refresh_expires_in: int = Field(description="刷新令牌在多少秒内有效（空闲上限与会话剩余时间中较短者）")


class RefreshRequest(Body):
    """The refresh token of the last token response."""

    refresh_token: str = Field(min_length=1, max_length=200)


class MeResponse(BaseModel):
    """The verified principal."""

    user: str
    role: str
    scope: str
    scope_name: str
    tenant: str | None
    org: str | None = Field(None, description="所在党组织编号；合作银行信贷员为其银行代码（如 gsrcb）")
    member: str | None = None
    # Only a bank officer's answer carries these (the others' stays as it was).
    bank_code: str | None = Field(default=None, description="合作银行信贷员的银行代码（仅合作银行信贷员）")
    bank_name: str | None = Field(default=None,
                                  description="合作银行名称，取自本县该行的贷款项目（仅信贷员；未找到时为空）")


def _too_many(refusal: Refusal) -> Response:
    # One answer whether or not the account exists; only the wait differs.
    minutes = max(1, -(-refusal.retry_after // 60))
    detail = (f"登录失败次数过多，账号已暂时锁定，请 {minutes} 分钟后再试" if refusal.reason == "account_locked"
              else f"登录尝试过于频繁，请 {minutes} 分钟后再试")
    return problem(429, "登录尝试过多", detail, headers={"Retry-After": str(refusal.retry_after)})


@router.post("/auth/token", response_model=TokenResponse,
             responses={429: {"description": "登录失败次数过多：账号已暂时锁定或该地址尝试过多（见 Retry-After）"}})
async def issue_token(body: TokenRequest, gw: GatewayDep, request: Request) -> TokenResponse | Response:
    """Exchange a username and password for a bearer token; repeated failures answer 429 with Retry-After."""
    limiter = app_limiter(request, gw.settings, namespace="login")
    address = request.client.host if request.client else "unknown"
    refusal = (await limiter.refusal(username=body.username, address=address)
               or await limiter.attempt(username=body.username, address=address))
    if refusal is not None:
        return _too_many(refusal)
    try:
        account = await accounts.authenticate(db=gw.db, username=body.username, password=body.password)
    except Unauthenticated:
        await limiter.failed(username=body.username, address=address)
        raise
    await limiter.succeeded(username=body.username)
    grant = await sessions.start_session(db=gw.db, account=account, policy=_policy(gw))
    return _token_response(gw, grant)


@router.post("/auth/refresh", response_model=TokenResponse,
             responses={401: {"description": "刷新令牌无效、已过期、已被注销或已被使用过（后者同时注销整个会话）"}})
async def refresh_token(body: RefreshRequest, gw: GatewayDep, request: Request) -> TokenResponse:
    """Exchange a refresh token for a new access token and a new refresh token; the old one is spent."""
    grant = await sessions.refresh_session(db=gw.db, refresh_token=body.refresh_token, policy=_policy(gw),
                                           revoked=revoked_sessions(request))
    return _token_response(gw, grant)


@router.post("/auth/logout", status_code=204, response_class=Response)
async def logout(who: CallerDep, gw: GatewayDep, request: Request) -> Response:
    """End the caller's session: its access and refresh tokens are refused everywhere from now on."""
    if who.principal.session is not None:
        await sessions.end_session(db=gw.db, scope=who.principal.scope, session_id=who.principal.session,
                                   policy=_policy(gw), revoked=revoked_sessions(request))
    return Response(status_code=204)


def revoked_sessions(request: Request) -> RevokedSessions | None:
    """The sessions this gateway refuses (app.py keeps them beside its verifier)."""
    revoked: RevokedSessions | None = getattr(request.app.state, "revoked_sessions", None)
    return revoked


def _policy(gw: Gateway) -> sessions.SessionPolicy:
    return sessions.SessionPolicy.from_settings(gw.settings)


def _token_response(gw: Gateway, grant: sessions.Grant) -> TokenResponse:
    account = grant.account
    token, expires_in = gw.issuer.issue(
        user=account.username, role=account.role, scope=account.scope, tenant=account.acting_tenant,
        org=account.acting_org, member=account.acting_member, session=grant.session_id,
        ttl_seconds=gw.settings.access_token_ttl_seconds,
    )
    return TokenResponse(access_token=token, expires_in=expires_in, refresh_token=grant.refresh_token,
                         refresh_expires_in=grant.refresh_expires_in)


@router.get("/me", response_model=MeResponse, response_model_exclude_unset=True)
async def me(who: CallerDep, gw: GatewayDep) -> MeResponse:
    """Who the token says the caller is (a bank officer: its bank's code and, when known, name)."""
    p = who.principal
    if p.role is Role.BANK_OFFICER and p.org:
        return MeResponse(user=p.user, role=p.role.value, scope=p.scope, scope_name=name_of(p.scope),
                          tenant=p.tenant, org=p.org, member=p.member, bank_code=p.org,
                          bank_name=await _bank_name(gw, who, p.org))
    return MeResponse(user=p.user, role=p.role.value, scope=p.scope, scope_name=name_of(p.scope), tenant=p.tenant,
                      org=p.org, member=p.member)


async def _bank_name(gw: Gateway, who: Caller, bank_code: str) -> str | None:
    """The bank's name as the county's programmes with it spell it; None when none names it or the desk is away."""
    # Who-am-I must answer even while the desk is down: the name is a courtesy, never a reason to fail.
    try:
        reply = await gw.clients.desk.ListLoanProgrammes(loans_pb2.ListLoanProgrammesRequest(),
                                                         metadata=who.metadata, timeout=min(gw.clients.timeout, 2.0))
    except Exception as exc:  # noqa: BLE001 - any failure leaves the name out
        log.info("me.bank_name_unavailable", bank_code=bank_code, error=type(exc).__name__)
        return None
    return next((p.bank_name for p in reply.programmes if p.bank_code == bank_code and p.bank_name), None)
