"""Request dependencies: the gateway's parts, the verified caller, and the tenant it may act on."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Annotated

from fastapi import Depends, Header, Request

from jinqiao.gateway.clients import ServiceClients, call_metadata
from jinqiao.gateway.settings import GatewaySettings
from jinqiao.kit import authz
from jinqiao.kit.auth import Principal, TokenIssuer, TokenVerifier, bearer_token
from jinqiao.kit.authz import Permission
from jinqiao.kit.db import Database
from jinqiao.kit.errors import NotFound, PermissionDenied
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


# Every HTTP route → the permission it needs (None: public, answered without a token). One table, read by the
# dependency below that the app puts on every router; a route missing here is refused (deny by default), and the
# route × role matrix test fails on it. The services apply each grant's scope rule to the object.
_T = "/api/v1/tenants/{tenant}"
P = Permission
ROUTES: dict[str, Permission | None] = {
    "POST /api/v1/auth/token": None,
    # The refresh token is the credential (gateway/sessions.py); logout ends the bearer's own session.
    "POST /api/v1/auth/refresh": None,
    "POST /api/v1/auth/logout": P.SESSION,
    # County systems' OAuth2 client-credentials grant (gateway/routes/integrations.py): public, like the login.
    "POST /api/v1/auth/client-token": None,
    "GET /api/v1/me": P.SESSION,
    "GET /api/v1/scopes/{scope}/insights/flows": P.INSIGHTS_READ,
    "GET /api/v1/scopes/{scope}/insights/dashboard": P.INSIGHTS_READ,
    "GET /api/v1/scopes/{scope}/insights/members": P.INSIGHTS_READ,
    "GET /api/v1/scopes/{scope}/insights/stream": P.INSIGHTS_READ,
    f"GET {_T}/applicants": P.DEVELOPMENT_READ,
    f"POST {_T}/applicants": P.DEVELOPMENT_WRITE,
    f"GET {_T}/applicants/{{applicant_id}}": P.DEVELOPMENT_READ,
    f"POST {_T}/applicants/{{applicant_id}}/advance": P.DEVELOPMENT_WRITE,
    f"POST {_T}/applicants/{{applicant_id}}/inspections": P.DEVELOPMENT_WRITE,
    f"GET {_T}/dead-letters": P.DEAD_LETTERS_MANAGE,
    f"GET {_T}/dead-letters/{{service}}/{{letter_id}}": P.DEAD_LETTERS_MANAGE,
    f"POST {_T}/dead-letters/{{service}}/{{letter_id}}/replay": P.DEAD_LETTERS_MANAGE,
    f"GET {_T}/flow-alerts": P.MEMBERS_READ,
    f"GET {_T}/alerts": P.ALERTS_HANDLE,
    f"POST {_T}/alerts/{{alert_id}}/acknowledge": P.ALERTS_HANDLE,
    f"POST {_T}/alerts/{{alert_id}}/close": P.ALERTS_HANDLE,
    f"GET {_T}/flow-policy": P.MEMBERS_READ,
    f"PUT {_T}/flow-policy": P.FLOWS_WRITE,
    f"GET {_T}/flows": P.MEMBERS_READ,
    f"GET {_T}/flows/{{flow_id}}": P.MEMBERS_READ,
    f"POST {_T}/flows/{{flow_id}}/redirect": P.FLOWS_WRITE,
    f"POST {_T}/flows/{{flow_id}}/report-back": P.FLOWS_WRITE,
    f"POST {_T}/flows/{{flow_id}}/return": P.FLOWS_WRITE,
    f"POST {_T}/flows/{{flow_id}}/transfer": P.FLOWS_WRITE,
    f"POST {_T}/imports": P.MEMBERS_WRITE,
    f"GET {_T}/imports/template.{{fmt}}": P.MEMBERS_WRITE,
    f"GET {_T}/imports/{{import_id}}": P.MEMBERS_WRITE,
    f"GET {_T}/integrations/clients": P.INTEGRATIONS_MANAGE,
    f"POST {_T}/integrations/clients": P.INTEGRATIONS_MANAGE,
    f"POST {_T}/integrations/clients/{{client_id}}/disable": P.INTEGRATIONS_MANAGE,
    f"POST {_T}/integrations/clients/{{client_id}}/rotate-secret": P.INTEGRATIONS_MANAGE,
    f"GET {_T}/ledgers/development.{{fmt}}": P.LEDGERS_EXPORT,
    f"GET {_T}/ledgers/dispatched-officers.{{fmt}}": P.LEDGERS_EXPORT,
    f"GET {_T}/ledgers/external-orgs.{{fmt}}": P.LEDGERS_EXPORT,
    f"GET {_T}/ledgers/flows.{{fmt}}": P.LEDGERS_EXPORT,
    f"GET {_T}/ledgers/returnees.{{fmt}}": P.LEDGERS_EXPORT,
    f"GET {_T}/ledgers/village-cadres.{{fmt}}": P.LEDGERS_EXPORT,
    f"GET {_T}/members": P.MEMBERS_READ,
    # 名册导出 lists persons wholesale, as a ledger does: the county and township committees keep it.
    f"GET {_T}/members.xlsx": P.LEDGERS_EXPORT,
    f"POST {_T}/members": P.MEMBERS_WRITE,
    f"GET {_T}/members/{{member_id}}": P.MEMBERS_READ,
    f"PATCH {_T}/members/{{member_id}}": P.MEMBERS_WRITE,
    f"GET {_T}/members/{{member_id}}/activities": P.MEMBERS_READ,
    f"GET {_T}/members/{{member_id}}/attendance": P.ORGS_READ,
    f"POST {_T}/members/{{member_id}}/check-in": P.MEMBERSHIPS_SELF_CHECK_IN,
    f"POST {_T}/members/{{member_id}}/departure": P.MEMBERS_END,
    f"POST {_T}/members/{{member_id}}/erase-personal-data": P.MEMBERS_ERASE,
    f"GET {_T}/members/{{member_id}}/evaluations": P.MEMBERS_READ,
    f"POST {_T}/members/{{member_id}}/evaluations": P.FLOWS_WRITE,
    f"GET {_T}/members/{{member_id}}/flows": P.MEMBERS_READ,
    f"POST {_T}/members/{{member_id}}/flows": P.FLOWS_WRITE,
    f"GET {_T}/members/{{member_id}}/history": P.MEMBERS_READ,
    f"POST {_T}/members/{{member_id}}/reveal-id-number": P.MEMBERS_REVEAL,
    f"GET {_T}/memberships": P.MEMBERSHIPS_HANDLE,
    f"GET {_T}/memberships/{{membership_id}}": P.MEMBERSHIPS_HANDLE,
    f"POST {_T}/memberships/{{membership_id}}/activities": P.MEMBERSHIPS_HANDLE,
    f"POST {_T}/memberships/{{membership_id}}/assessments": P.MEMBERSHIPS_HANDLE,
    f"POST {_T}/memberships/{{membership_id}}/check-in": P.MEMBERSHIPS_HANDLE,
    f"POST {_T}/memberships/{{membership_id}}/refuse": P.MEMBERSHIPS_HANDLE,
    f"GET {_T}/orgs": P.ORGS_READ,
    f"POST {_T}/orgs": P.ORGS_WRITE,
    f"GET {_T}/orgs/placement-rules/{{scope}}": P.ORGS_READ,
    f"PUT {_T}/orgs/placement-rules/{{scope}}": P.PLACEMENT_WRITE,
    f"GET {_T}/orgs/placement-suggestion": P.ORGS_READ,
    f"GET {_T}/orgs/search": P.ORGS_READ,
    f"GET {_T}/orgs/{{org_id}}": P.ORGS_READ,
    f"PATCH {_T}/orgs/{{org_id}}": P.ORGS_WRITE,
    f"GET {_T}/orgs/{{org_id}}/ancestors": P.ORGS_READ,
    f"GET {_T}/orgs/{{org_id}}/check-in-code": P.MEMBERSHIPS_HANDLE,
    f"GET {_T}/orgs/{{org_id}}/checklist": P.ORGS_READ,
    f"PUT {_T}/orgs/{{org_id}}/checklist/{{item}}": P.ORG_LIFE_WRITE,
    f"GET {_T}/orgs/{{org_id}}/children": P.ORGS_READ,
    f"POST {_T}/orgs/{{org_id}}/dissolve": P.ORGS_WRITE,
    f"GET {_T}/orgs/{{org_id}}/grids": P.ORGS_READ,
    f"POST {_T}/orgs/{{org_id}}/grids": P.ORGS_WRITE,
    f"GET {_T}/orgs/{{org_id}}/meetings": P.ORGS_READ,
    f"POST {_T}/orgs/{{org_id}}/meetings": P.ORG_LIFE_WRITE,
    f"POST {_T}/orgs/{{org_id}}/meetings/{{meeting_id}}/attendance": P.ORG_LIFE_WRITE,
    f"POST {_T}/orgs/{{org_id}}/move": P.ORGS_WRITE,
    f"GET {_T}/orgs/{{org_id}}/officers": P.ORGS_READ,
    f"POST {_T}/orgs/{{org_id}}/officers": P.ORGS_WRITE,
    f"POST {_T}/orgs/{{org_id}}/officers/{{appointment_id}}/end": P.ORGS_WRITE,
    f"GET {_T}/orgs/{{org_id}}/subtree": P.ORGS_READ,
    f"GET {_T}/returnees": P.MEMBERS_READ,
    # The service desk (issue 13).
    f"GET {_T}/tickets": P.TICKETS_READ,
    f"POST {_T}/tickets": P.TICKETS_FILE,
    f"GET {_T}/tickets/{{ticket_id}}": P.TICKETS_READ,
    f"GET {_T}/tickets/{{ticket_id}}/history": P.TICKETS_READ,
    f"POST {_T}/tickets/{{ticket_id}}/accept": P.TICKETS_HANDLE,
    f"POST {_T}/tickets/{{ticket_id}}/start": P.TICKETS_HANDLE,
    f"POST {_T}/tickets/{{ticket_id}}/request-info": P.TICKETS_HANDLE,
    f"POST {_T}/tickets/{{ticket_id}}/resume": P.TICKETS_HANDLE,
    f"POST {_T}/tickets/{{ticket_id}}/resolve": P.TICKETS_HANDLE,
    f"POST {_T}/tickets/{{ticket_id}}/close": P.TICKETS_HANDLE,
    f"POST {_T}/tickets/{{ticket_id}}/assign": P.TICKETS_HANDLE,
    f"POST {_T}/tickets/{{ticket_id}}/rating": P.TICKETS_FILE,
    f"POST {_T}/tickets/{{ticket_id}}/reopen": P.TICKETS_FILE,
    f"POST {_T}/tickets/{{ticket_id}}/comments": P.TICKETS_FILE,
    f"GET {_T}/tickets/{{ticket_id}}/attachments": P.TICKETS_READ,
    f"POST {_T}/tickets/{{ticket_id}}/attachments": P.TICKETS_FILE,
    f"GET {_T}/tickets/{{ticket_id}}/attachments/{{attachment_id}}": P.TICKETS_READ,
    f"POST {_T}/tickets/{{ticket_id}}/referrals": P.TICKETS_REFER,
    f"GET {_T}/ticket-referrals": P.TICKETS_REFER,
    f"GET {_T}/ticket-referrals/{{referral_id}}": P.TICKETS_REFER,
    f"POST {_T}/ticket-referrals/{{referral_id}}/accept": P.TICKETS_REFER,
    f"POST {_T}/ticket-referrals/{{referral_id}}/decline": P.TICKETS_REFER,
    f"GET {_T}/ticket-queues": P.TICKETS_HANDLE,
    f"GET {_T}/ticket-queues/{{queue}}/duty": P.TICKETS_HANDLE,
    f"PUT {_T}/ticket-queues/{{queue}}/duty": P.TICKETS_HANDLE,
    f"GET {_T}/ticket-categories": P.TICKETS_READ,
    f"PUT {_T}/ticket-categories/{{category}}": P.DESK_CONFIGURE,
    f"GET {_T}/ledgers/tickets.{{fmt}}": P.LEDGERS_EXPORT,
    f"GET {_T}/work-calendar": P.CALENDAR_READ,
    f"GET {_T}/work-calendar/{{year}}": P.CALENDAR_READ,
    f"PUT {_T}/work-calendar/{{year}}/overrides": P.DESK_CONFIGURE,
    "GET /api/v1/scopes/{scope}/work-calendar": P.CALENDAR_MANAGE,
    "GET /api/v1/scopes/{scope}/work-calendar/{year}": P.CALENDAR_MANAGE,
    "PUT /api/v1/scopes/{scope}/work-calendar/{year}": P.CALENDAR_MANAGE,
    "GET /api/v1/scopes/{scope}/insights/tickets": P.INSIGHTS_READ,
    # 党员先锋贷 and other micro-loans (issue 14).
    f"GET {_T}/loan-programmes": P.LOAN_PROGRAMMES_READ,
    f"POST {_T}/loan-programmes": P.LOAN_PROGRAMMES_MANAGE,
    f"GET {_T}/loan-programmes/{{programme_id}}": P.LOAN_PROGRAMMES_READ,
    f"PUT {_T}/loan-programmes/{{programme_id}}": P.LOAN_PROGRAMMES_MANAGE,
    f"POST {_T}/loan-programmes/{{programme_id}}/eligibility": P.LOANS_APPLY,
    f"GET {_T}/loans": P.LOANS_READ,
    f"POST {_T}/loans": P.LOANS_APPLY,
    f"GET {_T}/loans/{{loan_id}}": P.LOANS_READ,
    f"GET {_T}/loans/{{loan_id}}/history": P.LOANS_READ,
    f"GET {_T}/loans/{{loan_id}}/schedule": P.LOANS_READ,
    f"POST {_T}/loans/{{loan_id}}/review": P.LOANS_REVIEW,
    f"POST {_T}/loans/{{loan_id}}/withdraw": P.LOANS_APPLY,
    f"POST {_T}/loans/{{loan_id}}/credit-decision": P.LOANS_BANK,
    f"POST {_T}/loans/{{loan_id}}/disbursement": P.LOANS_BANK,
    f"POST {_T}/loans/{{loan_id}}/repayments": P.LOANS_BANK,
    f"GET {_T}/loans/{{loan_id}}/attachments": P.LOANS_READ,
    f"POST {_T}/loans/{{loan_id}}/attachments": P.LOANS_APPLY,
    f"GET {_T}/loans/{{loan_id}}/attachments/{{attachment_id}}": P.LOANS_READ,
    f"GET {_T}/loan-subsidy-claims": P.LOAN_SUBSIDIES_READ,
    f"GET {_T}/ledgers/loan-subsidy-claims.{{fmt}}": P.LOAN_SUBSIDIES_READ,
    f"GET {_T}/ledgers/loans.{{fmt}}": P.LEDGERS_EXPORT,
    "GET /api/v1/scopes/{scope}/insights/loans": P.INSIGHTS_READ,
    # Notifications (issue 15): the caller's own inbox (with its live stream), escalations told to the caller and
    # choices; the county department's delivery log, escalations, templates and channels.
    "GET /api/v1/me/notifications": P.NOTIFICATIONS_INBOX,
    "GET /api/v1/me/notifications/summary": P.NOTIFICATIONS_INBOX,
    "GET /api/v1/me/notifications/stream": P.NOTIFICATIONS_INBOX,
    "POST /api/v1/me/notifications/read": P.NOTIFICATIONS_INBOX,
    "POST /api/v1/me/notifications/archive": P.NOTIFICATIONS_INBOX,
    "POST /api/v1/me/escalations/{escalation_id}/acknowledge": P.NOTIFICATIONS_INBOX,
    "GET /api/v1/me/notification-preferences": P.NOTIFICATIONS_INBOX,
    "PUT /api/v1/me/notification-preferences": P.NOTIFICATIONS_INBOX,
    f"GET {_T}/notification-deliveries": P.NOTIFICATIONS_ADMIN,
    f"POST {_T}/notification-deliveries/{{delivery_id}}/retry": P.NOTIFICATIONS_ADMIN,
    f"GET {_T}/escalations": P.NOTIFICATIONS_ADMIN,
    f"GET {_T}/notification-templates": P.NOTIFICATIONS_ADMIN,
    f"GET {_T}/notification-templates/{{kind}}/{{channel}}": P.NOTIFICATIONS_ADMIN,
    f"PUT {_T}/notification-templates/{{kind}}/{{channel}}": P.NOTIFICATIONS_ADMIN,
    f"DELETE {_T}/notification-templates/{{kind}}/{{channel}}": P.NOTIFICATIONS_ADMIN,
    f"POST {_T}/notification-templates/{{kind}}/{{channel}}/preview": P.NOTIFICATIONS_ADMIN,
    f"GET {_T}/notification-channels": P.NOTIFICATIONS_ADMIN,
    f"PUT {_T}/notification-channels/{{channel}}": P.NOTIFICATIONS_ADMIN,
    f"POST {_T}/notification-channels/{{channel}}/test": P.NOTIFICATIONS_ADMIN,
}


def route_key(request: Request) -> str:
    """``METHOD path-template`` of the route serving ``request``, as ROUTES names it."""
    route = request.scope.get("route")
    return f"{request.method} {getattr(route, 'path', request.url.path)}"


def authorize(request: Request, gw: GatewayDep) -> None:
    """Refuse, before the route runs, a caller whose role holds no grant for the route's permission (403)."""
    key = route_key(request)
    if key not in ROUTES:
        raise PermissionDenied("该接口未声明所需权限，已拒绝")
    permission = ROUTES[key]
    if permission is None:
        return
    # Read from the request, not declared as a parameter, so the public token route documents no header.
    token = bearer_token(request.headers.get("authorization"))
    principal = gw.verifier.verify(token)
    if "tenant" in request.path_params:
        # A county the caller does not act on does not exist for it, whatever its role (DESIGN §9): 404 before 403.
        tenant_of(request.path_params["tenant"], Caller(principal=principal, token=token))
    # Principal-aware: a county system (gRPC only) is refused every route, whatever its token names.
    authz.require_route(principal, permission)
