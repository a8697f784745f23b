"""Login and the current principal: ``POST /api/v1/auth/token``, ``GET /api/v1/me``."""

from __future__ import annotations

from fastapi import APIRouter
from pydantic import BaseModel, Field

from jinqiao.gateway import accounts
from jinqiao.gateway.deps import CallerDep, GatewayDep
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


@router.post("/auth/token", response_model=TokenResponse)
async def issue_token(body: TokenRequest, gw: GatewayDep) -> TokenResponse:
    """Exchange a username and password for a bearer token."""
    account = await accounts.authenticate(db=gw.db, username=body.username, password=body.password)
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
