"""Login and the current principal: ``POST /api/v1/auth/token``, ``GET /api/v1/me``."""

from __future__ import annotations

from fastapi import APIRouter, Request, Response
from pydantic import BaseModel, Field

from jinqiao.gateway import accounts
from jinqiao.gateway.deps import CallerDep, GatewayDep
from jinqiao.gateway.problems import problem
from jinqiao.gateway.ratelimit import LoginLimiter, LoginPolicy, Refusal
from jinqiao.gateway.settings import GatewaySettings
from jinqiao.kit.errors import Unauthenticated
from jinqiao.kit.regions import name_of

router = APIRouter(prefix="/api/v1", tags=["session"])


class TokenRequest(BaseModel):
    """Credentials."""

    username: str = Field(min_length=1, max_length=100)
    password: str = Field(min_length=1, max_length=200)


class TokenResponse(BaseModel):
    """A bearer token."""

    access_token: str
    token_type: str = "Bearer"
    expires_in: int


class MeResponse(BaseModel):
    """The verified principal."""

    user: str
    role: str
    scope: str
    scope_name: str
    tenant: str | None
    org: str | None = None
    member: str | None = None


def login_limiter(request: Request, settings: GatewaySettings) -> LoginLimiter:
    """The app's login limiter, made on first use from the settings (one per app, so per gateway process)."""
    limiter: LoginLimiter | None = getattr(request.app.state, "login_limiter", None)
    if limiter is None:
        policy = LoginPolicy(
            account_failures=settings.login_account_failures,
            account_window_seconds=settings.login_account_window_seconds,
            lockout_seconds=settings.login_lockout_seconds,
            address_failures=settings.login_address_failures,
            address_window_seconds=settings.login_address_window_seconds,
        )
        limiter = LoginLimiter.from_uri(policy, settings.login_limit_storage)
        request.app.state.login_limiter = limiter
    return limiter


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
    limiter = login_limiter(request, gw.settings)
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
    token, expires_in = gw.issuer.issue(
        user=account.username, role=account.role, scope=account.scope, tenant=account.acting_tenant,
        org=account.acting_org, member=account.acting_member,
    )
    return TokenResponse(access_token=token, expires_in=expires_in)


@router.get("/me", response_model=MeResponse)
async def me(who: CallerDep) -> MeResponse:
    """Who the token says the caller is."""
    p = who.principal
    return MeResponse(user=p.user, role=p.role.value, scope=p.scope, scope_name=name_of(p.scope), tenant=p.tenant,
                      org=p.org, member=p.member)
