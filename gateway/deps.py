"""Request dependencies: the gateway's parts, the verified caller, and the tenant it may act on."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Annotated

from fastapi import Depends, Header, Request

from jinqiao.gateway.clients import ServiceClients, call_metadata
from jinqiao.gateway.settings import GatewaySettings
from jinqiao.kit.auth import Principal, TokenIssuer, TokenVerifier, bearer_token
from jinqiao.kit.db import Database
from jinqiao.kit.errors import NotFound
from jinqiao.kit.tenancy import InvalidTenant, parse_tenant


@dataclass
class Gateway:
    """Everything a route needs, built once in the app's lifespan."""

    settings: GatewaySettings
    db: Database
    clients: ServiceClients
    issuer: TokenIssuer
    verifier: TokenVerifier


@dataclass(frozen=True, slots=True)
class Caller:
    """A verified caller and the token to forward."""

    principal: Principal
    token: str

    @property
    def metadata(self) -> tuple[tuple[str, str], ...]:
        """gRPC metadata carrying the token."""
        return call_metadata(self.token)


def gateway(request: Request) -> Gateway:
    """The app's parts."""
    gw: Gateway = request.app.state.gateway
    return gw


GatewayDep = Annotated[Gateway, Depends(gateway)]


def caller(gw: GatewayDep, authorization: Annotated[str | None, Header()] = None) -> Caller:
    """Verify the bearer token; 401 problem otherwise."""
    token = bearer_token(authorization)
    return Caller(principal=gw.verifier.verify(token), token=token)


CallerDep = Annotated[Caller, Depends(caller)]


def tenant_of(tenant: str, who: CallerDep) -> str:
    """The path's county if the caller acts on it; any other county answers 404, as if it did not exist."""
    try:
        code = parse_tenant(tenant)
    except InvalidTenant as exc:
        raise NotFound("未找到") from exc
    if not who.principal.acts_on(code):
        raise NotFound("未找到")
    return code


TenantDep = Annotated[str, Depends(tenant_of)]
