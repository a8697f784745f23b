"""County systems as clients: the OAuth2 client-credentials grant, and the county department's service accounts.

``POST /api/v1/auth/client-token`` exchanges a client id and secret (form fields or HTTP Basic, RFC 6749 §4.4) for a
bearer token of at most five minutes, scoped to the client's county and named permissions; the token is for the
services' gRPC endpoints (docs/integrators.md), which every HTTP route here refuses. Repeated failures are limited
like the login (gateway/ratelimit.py). The routes under ``/tenants/{tenant}/integrations`` let the county department
make, list, rotate and disable its systems' accounts; a secret is shown once.

A partner bank's system (kind ``bank``, issue 14) is registered the same way with its bank code instead of
permissions; its token carries the bank_officer role and the bank code, and it may call the HTTP loan routes.
"""

from __future__ import annotations

import base64
import binascii
from datetime import datetime
from typing import Annotated, Any, Literal
from urllib.parse import parse_qsl, unquote_plus

from fastapi import APIRouter, Request, Response
from pydantic import BaseModel, Field

from jinqiao.gateway import integrations
from jinqiao.gateway.deps import CallerDep, GatewayDep, TenantDep
from jinqiao.gateway.problems import problem
from jinqiao.gateway.ratelimit import Refusal, app_limiter
from jinqiao.gateway.wire import Body
from jinqiao.kit import authz
from jinqiao.kit.errors import FieldViolation, InvalidArgument, Unauthenticated

token_router = APIRouter(prefix="/api/v1/auth", tags=["integrations"])
router = APIRouter(prefix="/api/v1/tenants/{tenant}/integrations", tags=["integrations"])

FORM = "application/x-www-form-urlencoded"
GRANT_TYPE = "client_credentials"
_FORM_FIELDS = {"grant_type": 32, "client_id": 64, "client_secret": integrations.SECRET_MAX, "scope": 1000}
_TOKEN_BODY: dict[str, Any] = {
    "requestBody": {
        "required": True,
        "content": {FORM: {"schema": {
            "type": "object", "required": ["grant_type"],
            "properties": {
                "grant_type": {"type": "string", "enum": [GRANT_TYPE]},
                "client_id": {"type": "string", "maxLength": 64, "description": "客户端编号（或用 HTTP Basic 提交）"},
                "client_secret": {"type": "string", "maxLength": integrations.SECRET_MAX,
                                  "description": "客户端密钥（或用 HTTP Basic 提交）"},
                "scope": {"type": "string", "maxLength": 1000,
                          "description": "以空格分隔的权限，须为该客户端已获授权限的子集；省略则为全部"},
            },
        }}},
    },
}


ClientKind = Literal["county_system", "bank"]


class ClientTokenResponse(BaseModel):
    """A bearer token for the gRPC services (RFC 6749 §5.1)."""

    access_token: str
    token_type: str = "Bearer"
    expires_in: int
    scope: str = Field(description="the permissions the token names, space-separated (a bank client: those of the"
                                   " bank_officer role)")


class ClientIn(Body):
    """A county system to register and the permissions it is given, or a partner bank's system and its bank code."""

    name: str = Field(max_length=200, description="系统名称，如“固始县党员信息系统”“固始农商银行信贷系统”")
    kind: ClientKind = Field("county_system", description="客户端类型：county_system 县级系统；bank 合作银行系统")
    permissions: list[Annotated[str, Field(max_length=64)]] = Field(
        default_factory=list, max_length=32,
        description="授予的权限，须为可授予县级系统的权限（见列表接口的 grantable）；合作银行客户端不填")
    bank_code: str | None = Field(
        None, max_length=64, description="合作银行代码（2 至 32 位小写字母、数字或连字符，如 gsrcb），仅银行客户端填写")


class ClientOut(BaseModel):
    """A service account, never its secret."""

    client_id: str
    name: str
    kind: ClientKind = Field(description="county_system 县级系统（仅 gRPC）；bank 合作银行系统（以合作银行信贷员身份）")
    bank_code: str | None = Field(description="合作银行代码（仅合作银行客户端）")
    permissions: list[str]
    created_by: str
    created_at: datetime
    rotated_at: datetime | None
    previous_secret_valid_until: datetime | None = Field(description="更换密钥后，旧密钥在此之前仍可使用")
    disabled: bool
    disabled_at: datetime | None
    last_token_at: datetime | None

    @classmethod
    def of(cls, a: integrations.ServiceAccount) -> ClientOut:
        """Map the account."""
        kind: ClientKind = "bank" if a.kind == integrations.BANK else "county_system"
        return cls(client_id=a.client_id, name=a.name, kind=kind, bank_code=a.bank_code,
                   permissions=list(a.permissions), created_by=a.created_by,
                   created_at=a.created_at, rotated_at=a.rotated_at,
                   previous_secret_valid_until=a.previous_secret_expires_at, disabled=a.disabled,
                   disabled_at=a.disabled_at, last_token_at=a.last_token_at)


class ClientSecretOut(BaseModel):
    """An account with its new secret: shown this once, never again."""

    client: ClientOut
    client_secret: str = Field(description="只显示这一次，请立即妥善保存")


class ClientList(BaseModel):
    """The county's service accounts and what may be granted."""

    clients: list[ClientOut]
    grantable: list[str]


def _too_many(refusal: Refusal) -> Response:
    minutes = max(1, -(-refusal.retry_after // 60))
    detail = (f"客户端认证失败次数过多，已暂时锁定，请 {minutes} 分钟后再试" if refusal.reason == "account_locked"
              else f"认证尝试过于频繁，请 {minutes} 分钟后再试")
    return problem(429, "认证尝试过多", detail, headers={"Retry-After": str(refusal.retry_after)})


def _unauthorized() -> Response:
    return problem(401, "客户端认证失败", "客户端编号或密钥错误",
                   headers={"WWW-Authenticate": 'Basic realm="jinqiao", charset="UTF-8"'})


async def _form(request: Request) -> dict[str, str]:
    """The form fields (each at most once and within its length); InvalidArgument naming the field otherwise."""
    media = request.headers.get("content-type", "").split(";")[0].strip().lower()
    if media != FORM:
        raise InvalidArgument.field("body", f"请以 {FORM} 提交（OAuth2 客户端凭证模式）")
    try:
        pairs = parse_qsl((await request.body()).decode("utf-8"), keep_blank_values=True, strict_parsing=False,
                          max_num_fields=16)
    except (UnicodeDecodeError, ValueError):
        raise InvalidArgument.field("body", "表单格式无效") from None
    found: dict[str, str] = {}
    violations: list[FieldViolation] = []
    for key, value in pairs:
        limit = _FORM_FIELDS.get(key)
        if limit is None:
            continue  # RFC 6749 §3.2: unknown parameters are ignored
        if key in found:
            violations.append(FieldViolation(key, "只能出现一次"))
        elif len(value) > limit:
            violations.append(FieldViolation(key, f"不能超过 {limit} 个字符"))
        found[key] = value
    if violations:
        raise InvalidArgument(violations)
    return found


def _basic(authorization: str | None) -> tuple[str, str] | None:
    """Client id and secret from ``Authorization: Basic …`` (each form-encoded first, RFC 6749 §2.3.1)."""
    parts = (authorization or "").split()
    if len(parts) != 2 or parts[0].lower() != "basic":
        return None
    try:
        decoded = base64.b64decode(parts[1], validate=True).decode("utf-8")
    except (binascii.Error, UnicodeDecodeError):
        return None
    client_id, sep, secret = decoded.partition(":")
    return (unquote_plus(client_id), unquote_plus(secret)) if sep else None


@token_router.post(
    "/client-token", response_model=ClientTokenResponse, openapi_extra=_TOKEN_BODY,
    responses={401: {"description": "客户端编号或密钥错误，或客户端已停用"},
               429: {"description": "认证失败次数过多：客户端已暂时锁定或该地址尝试过多（见 Retry-After）"}},
)
async def client_token(request: Request, gw: GatewayDep) -> ClientTokenResponse | Response:
    """OAuth2 client credentials → a bearer token (at most 5 minutes) for a county system's gRPC calls, or for a
    partner bank's system acting as a bank officer of its bank."""
    form = await _form(request)
    grant = form.get("grant_type", "")
    if grant != GRANT_TYPE:
        raise InvalidArgument.field("grant_type", "必填" if not grant else f"仅支持 {GRANT_TYPE}")
    basic = _basic(request.headers.get("authorization"))
    client_id, secret = basic if basic else (form.get("client_id", ""), form.get("client_secret", ""))
    if basic and form.get("client_id") not in (None, client_id):
        raise InvalidArgument.field("client_id", "与 HTTP Basic 中的客户端编号不一致")
    if not client_id or not secret:
        return _unauthorized()
    limiter = app_limiter(request, gw.settings, namespace="client-token")
    address = request.client.host if request.client else "unknown"
    key = f"client:{client_id}"
    refusal = (await limiter.refusal(username=key, address=address)
               or await limiter.attempt(username=key, address=address))
    if refusal is not None:
        return _too_many(refusal)
    try:
        account = await integrations.authenticate(db=gw.db, client_id=client_id, client_secret=secret)
    except Unauthenticated:
        await limiter.failed(username=key, address=address)
        return _unauthorized()
    await limiter.succeeded(username=key)
    permissions = integrations.requested_scope(account, form.get("scope"))
    if account.kind == integrations.BANK:
        # No perms claim: the token holds what the bank_officer role holds, for the bank its org names.
        token, expires_in = gw.issuer.issue(
            user=account.client_id, role=account.role, scope=account.tenant, tenant=account.tenant,
            org=account.bank_code, ttl_seconds=gw.settings.client_token_ttl_seconds,
        )
        held = sorted(g.permission.value for g in authz.grants()
                      if g.role is account.role and g.permission is not authz.Permission.SESSION)
        return ClientTokenResponse(access_token=token, expires_in=expires_in, scope=" ".join(held))
    token, expires_in = gw.issuer.issue(
        user=account.client_id, role=account.role, scope=account.tenant, tenant=account.tenant,
        permissions=permissions, ttl_seconds=gw.settings.client_token_ttl_seconds,
    )
    return ClientTokenResponse(access_token=token, expires_in=expires_in, scope=" ".join(sorted(permissions)))


@router.get("/clients", response_model=ClientList)
async def list_clients(tenant: TenantDep, gw: GatewayDep) -> ClientList:
    """The county's systems' service accounts, and the permissions they may be given."""
    accounts = await integrations.list_accounts(db=gw.db, tenant=tenant)
    return ClientList(clients=[ClientOut.of(a) for a in accounts], grantable=integrations.grantable())


@router.post("/clients", status_code=201, response_model=ClientSecretOut)
async def create_client(tenant: TenantDep, body: ClientIn, who: CallerDep, gw: GatewayDep) -> ClientSecretOut:
    """Register a county system or a partner bank's system: its client id, and its secret shown this once."""
    made = await integrations.create_account(db=gw.db, principal=who.principal, tenant=tenant, name=body.name,
                                             permissions=body.permissions, kind=body.kind, bank_code=body.bank_code)
    return ClientSecretOut(client=ClientOut.of(made.account), client_secret=made.client_secret)


@router.post("/clients/{client_id}/rotate-secret", response_model=ClientSecretOut)
async def rotate_client_secret(tenant: TenantDep, client_id: str, who: CallerDep, gw: GatewayDep) -> ClientSecretOut:
    """A new secret, shown this once; the previous one keeps working for the grace period, then is refused."""
    made = await integrations.rotate_secret(db=gw.db, principal=who.principal, tenant=tenant, client_id=client_id,
                                            grace_seconds=gw.settings.client_secret_grace_seconds)
    return ClientSecretOut(client=ClientOut.of(made.account), client_secret=made.client_secret)


@router.post("/clients/{client_id}/disable", response_model=ClientOut)
async def disable_client(tenant: TenantDep, client_id: str, who: CallerDep, gw: GatewayDep) -> ClientOut:
    """Stop issuing tokens to the client (tokens already issued lapse within five minutes)."""
    return ClientOut.of(await integrations.disable_account(db=gw.db, principal=who.principal, tenant=tenant,
                                                           client_id=client_id))


ROUTERS = [token_router, router]
