"""Every HTTP route and every gRPC method × every role × own, sibling and foreign objects (issue 9, finding 3).

The routes come from the running gateway's OpenAPI document and the methods from the catalogued services'
descriptors, so a new route or method is walked without editing this file. Each answer is held against the kit's
authorization table: a 2xx the table does not name (no grant, or a grant whose scope rule does not reach the object)
fails, a role with no grant must get 403 / PERMISSION_DENIED, a 2xx must not carry the id of an object outside the
grant's reach, and a route or method that declares no permission fails.

The county X has townships A and B with a branch each; "own" objects sit in A's branch (the org-bound roles are
bound to A or its branch, the member is A's member), "sibling" objects in B's, "foreign" objects in county Y (their
ids sent on X's own paths; routes naming no object are asked on Y's path). Narrow roles are walked first, reads
before writes and destructive writes last, so that a legitimate write never consumes an object before a narrower
role was tried on it.

A partner bank's officer (issue 14) acts for its bank, named by its code in the token's ``org``: its "own" objects are
the loans of its bank's programme in X (of A's member), "sibling" ones another bank's programme and loan in X (of B's
member), "foreign" ones a loan in Y. Programmes are a county's public terms: every other role that reads them reads
all of its county's, so for those roles a sibling programme is their own.

A county system (issue 10, finding 5) is walked with a token naming every permission a county system may be given:
it must be refused every HTTP route (it calls gRPC only) and held to the table on every gRPC method. Its service
accounts' own routes are walked too, with an account of X (own and sibling) and one of Y (foreign).
"""

from __future__ import annotations

import asyncio
import contextlib
import re
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import grpc
import pytest
from google.protobuf import descriptor_pool, message_factory

from jinqiao.desk.v1 import desk_pb2 as desk_pb
from jinqiao.gateway.deps import ROUTES
from jinqiao.kit import authz, catalog, deadletters
from jinqiao.kit.auth import Principal, Role, TokenIssuer
from jinqiao.kit.authz import GRANTABLE, METHODS, Permission, Reach
from jinqiao.organizations.v1 import organizations_pb2 as orgs_pb
from jinqiao.registry.v1 import development_pb2 as dev_pb
from jinqiao.registry.v1 import flows_pb2 as flows_pb
from tests.integration.conftest import bearer, eventually
from tests.integration.desk.loan_fixtures import BANK, add_loan, add_programme
from tests.support import member_request

X, Y, X_SIBLING_COUNTY = "411528", "410108", "411527"  # 息县, 惠济区; 淮滨县 (same city as X, for aggregates)
TAG = uuid.uuid4().hex[:6]
RELATIONS = ("foreign", "sibling", "own")
# Narrow first: a legitimate county-wide write must not use up an object a narrower role has yet to be tried on.
ROLES = (Role.SERVICE, Role.PROVINCE_ANALYST, Role.CITY_ANALYST, Role.MEMBER, Role.BANK_OFFICER,
         Role.BRANCH_SECRETARY, Role.GUIDANCE_OFFICER, Role.STATION_STAFF, Role.TOWNSHIP_OFFICER, Role.COUNTY_SYSTEM,
         Role.COUNTY_ADMIN)
DESTRUCTIVE = re.compile(r"/(dissolve|move|return|transfer|end|refuse|disable|close|resolve|rating|decline|withdraw)$"
                         r"|Dissolve|Move|Return|Transfer|End|Refuse|CloseTicket|ResolveTicket|RateTicket"
                         r"|DeclineReferral|WithdrawLoan")
ANALYSTS = {Role.PROVINCE_ANALYST, Role.CITY_ANALYST}
ID_PARAMS = {"member_id", "flow_id", "applicant_id", "org_id", "membership_id", "meeting_id", "appointment_id",
             "import_id", "client_id", "ticket_id", "attachment_id", "referral_id", "queue", "programme_id", "loan_id"}
OTHER_BANK = "hnnx"  # the sibling programme's partner bank: another bank than the officer's


@dataclass
class Objects:
    """The objects of one relation: path parameters by name and ids that must not leak beyond the grant's reach."""

    tenant: str
    params: dict[str, str]
    township: str
    leaks: set[str] = field(default_factory=set)
    # Ids only a partner bank's officer must not see: another bank's programme in its county is public terms to
    # everyone else there.
    bank_leaks: set[str] = field(default_factory=set)
    # The partner bank of the relation's programme (what a programme's PUT body keeps).
    bank: str = BANK


@dataclass
class World:
    """The session's counties, objects and one token per role."""

    names: dict[str, str]
    objects: dict[str, Objects]
    headers: dict[Role, dict[str, str]]
    tokens: dict[Role, str]
    scopes: dict[Role, str]
    principals: dict[Role, Principal]
    policy: dict[str, Any]
    rules: list[str]


@dataclass
class Tally:
    """What the walk saw."""

    walked: int = 0
    unexpected: list[str] = field(default_factory=list)


async def _objects(platform: Any, county: str, md: Any, letter: str) -> tuple[str, str, dict[str, str]]:
    """A township, a branch under it, a member with a flow, an applicant, a meeting and an appointment."""
    orgs = platform.organizations_stub
    roots = await orgs.ListChildOrgs(orgs_pb.ListChildOrgsRequest(), metadata=md)
    root = roots.orgs[0].id if roots.orgs else (await orgs.CreateOrg(orgs_pb.CreateOrgRequest(
        name=f"中共矩阵县委{TAG}", kind=orgs_pb.ORG_KIND_COUNTY_COMMITTEE), metadata=md)).org.id
    town = (await orgs.CreateOrg(orgs_pb.CreateOrgRequest(
        parent_id=root, name=f"矩阵{letter}镇党委{TAG}", kind=orgs_pb.ORG_KIND_TOWNSHIP_COMMITTEE), metadata=md)).org.id
    branch = (await orgs.CreateOrg(orgs_pb.CreateOrgRequest(
        parent_id=town, name=f"矩阵{letter}村党支部{TAG}", kind=orgs_pb.ORG_KIND_VILLAGE_BRANCH), metadata=md)).org.id
    member = (await platform.registry_stub.CreateMember(member_request(county), metadata=md)).member.id
    flow = (await platform.registry_stub.RegisterFlow(flows_pb.RegisterFlowRequest(
        member_id=member, destination_code="310000", address="上海市浦东新区", industry="建筑", employer="上海建工",
        start_date="2024-03-01", expected_months=12), metadata=md)).flow.id
    meeting = (await orgs.ScheduleMeeting(orgs_pb.ScheduleMeetingRequest(
        org_id=branch, type=orgs_pb.MEETING_TYPE_PARTY_LECTURE, title="党课", place="村党群服务中心",
        start_time={"seconds": 1714525200}), metadata=md)).meeting.id
    appointment = (await orgs.AppointOfficer(orgs_pb.AppointOfficerRequest(
        org_id=branch, position=orgs_pb.OFFICER_POSITION_SECRETARY, name="支部书记", phone="13800000000",
        start_date="2024-01-01"), metadata=md)).appointment.id
    return town, branch, {"member_id": member, "flow_id": flow, "org_id": branch, "meeting_id": meeting,
                          "appointment_id": appointment}


async def _applicant(platform: Any, county: str, md: Any, home_org: str, name: str) -> str:
    from tests.support import id_number

    request = dev_pb.CreateApplicantRequest(
        name=name, id_number=id_number(county), application_date="2021-01-10", home_org_id=home_org,
        mentors=[dev_pb.MentorInput(name="王德胜", side="HOME")])
    return (await platform.registry_stub.CreateApplicant(request, metadata=md)).applicant.id


# The smallest PNG (1×1): what an attachment of the walk carries.
PNG = bytes.fromhex("89504e470d0a1a0a0000000d4948445200000001000000010806000000"
                    "1f15c4890000000d49444154789c6360000002000154a24f5d0000000049454e44ae426082")


async def _ticket(platform: Any, county: str, md: Any, queue: str, member_id: str) -> tuple[str, str]:
    """A walk-in ticket for the member in the queue, once the desk's replica knows them, and an attachment."""
    desk = platform.desk_stub
    request = desk_pb.CreateTicketRequest(category="other", title="矩阵诉求", description="矩阵测试",
                                          form_json="{}", member_home_tenant_id=county, member_id=member_id,
                                          serving_org_id=queue)

    async def filed() -> str | None:
        try:
            return str((await desk.CreateTicket(request, metadata=md, timeout=10)).ticket.id)
        except grpc.aio.AioRpcError as err:
            if err.code() in (grpc.StatusCode.FAILED_PRECONDITION, grpc.StatusCode.INVALID_ARGUMENT):
                return None  # the replica has not seen the member or the org yet
            raise

    ticket = str(await eventually(filed))
    attachment = await desk.AddTicketAttachment(desk_pb.AddTicketAttachmentRequest(
        ticket_id=ticket, filename="矩阵.png", content_type="image/png", content=PNG), metadata=md, timeout=10)
    return ticket, attachment.attachment.id


@pytest.fixture(scope="session")
async def world(platform: Any, issuer: TokenIssuer, county_token: Callable[[str], str],
                admin_conn_factory: Any) -> World:
    """Counties X (townships A and B) and Y with their objects, built once for the session."""
    md_x, md_y = bearer(county_token(X)), bearer(county_token(Y))
    town_a, branch_a, own = await _objects(platform, X, md_x, "甲")
    town_b, branch_b, sibling = await _objects(platform, X, md_x, "乙")
    town_y, branch_y, foreign = await _objects(platform, Y, md_y, "丙")
    conn = await admin_conn_factory("registry")

    async def replicated() -> bool:
        return await conn.fetchval("SELECT count(*) FROM org_replica WHERE id = ANY($1::uuid[]) AND parent_id IS NOT"
                                   " NULL", [branch_a, branch_b, branch_y]) == 3

    await eventually(replicated)
    # Distinct names, so that a sheet (which carries names, not ids) is held to the reach as well.
    names = {"own": f"甲申请人{TAG}", "sibling": f"乙申请人{TAG}", "foreign": f"丙申请人{TAG}"}
    own["applicant_id"] = await _applicant(platform, X, md_x, branch_a, names["own"])
    sibling["applicant_id"] = await _applicant(platform, X, md_x, branch_b, names["sibling"])
    foreign["applicant_id"] = await _applicant(platform, Y, md_y, branch_y, names["foreign"])
    for params in (own, sibling, foreign):
        # No membership or import of a known relation is built here: a fresh id stands for each.
        params["membership_id"] = str(uuid.uuid4())
        params["import_id"] = str(uuid.uuid4())
    # County systems' service accounts: two of X (own, sibling: a county-wide object either way) and one of Y.
    for params, county in ((own, X), (sibling, X), (foreign, Y)):
        made = await platform.http.post(f"/api/v1/tenants/{county}/integrations/clients",
                                        headers={"Authorization": f"Bearer {county_token(county)}"},
                                        json={"name": f"矩阵县级系统{TAG}", "permissions": ["members.read"]})
        assert made.status_code == 201, made.text
        params["client_id"] = made.json()["client"]["client_id"]
    # The service desk: a ticket of each relation's member in its township's queue, with an attachment.
    for params, county, town, md in ((own, X, town_a, md_x), (sibling, X, town_b, md_x), (foreign, Y, town_y, md_y)):
        params["ticket_id"], params["attachment_id"] = await _ticket(platform, county, md, town, params["member_id"])
        params["queue"] = town
        # No referral of a known relation is built here: a fresh id stands for each.
        params["referral_id"] = str(uuid.uuid4())
    # Micro-loans: the officer's bank's programme and an approved loan of A's member in X (own), another bank's in X
    # of B's member (sibling), and the officer's bank's in Y (foreign), each waiting for the bank.
    desk = await admin_conn_factory("desk")
    for params, county, branch, bank in ((own, X, branch_a, BANK), (sibling, X, branch_b, OTHER_BANK),
                                         (foreign, Y, branch_y, BANK)):
        params["programme_id"] = await add_programme(desk, county, name=f"矩阵先锋贷{TAG}", bank_code=bank,
                                                     bank_name=f"矩阵银行{bank}", committed_fen=10_000_000)
        params["loan_id"] = await add_loan(desk, county, programme_id=params["programme_id"],
                                           member_id=params["member_id"], home_org_id=branch, status=4,
                                           pending_tier=4, committed_fen=10_000_000)
    objects = {
        "own": Objects(X, own, town_a, leaks=set()),
        "sibling": Objects(X, sibling, town_b, bank=OTHER_BANK, bank_leaks={sibling["programme_id"]},
                           leaks={town_b, names["sibling"], *(v for k, v in sibling.items() if k != "programme_id")}),
        "foreign": Objects(Y, foreign, town_y, leaks={town_y, names["foreign"], *foreign.values()}),
    }
    binding: dict[Role, dict[str, Any]] = {
        Role.SERVICE: {"scope": X},
        Role.PROVINCE_ANALYST: {"scope": "41"},
        Role.CITY_ANALYST: {"scope": "4115"},
        Role.MEMBER: {"scope": X, "member": own["member_id"]},
        Role.BANK_OFFICER: {"scope": X, "org": BANK},
        Role.BRANCH_SECRETARY: {"scope": X, "org": branch_a},
        Role.GUIDANCE_OFFICER: {"scope": X, "org": town_a},
        Role.STATION_STAFF: {"scope": X, "org": town_a},
        Role.TOWNSHIP_OFFICER: {"scope": X, "org": town_a},
        Role.COUNTY_ADMIN: {"scope": X},
        # Every permission a county system may be given: the walk then finds any the table grants beyond them.
        Role.COUNTY_SYSTEM: {"scope": X, "permissions": frozenset(p.value for p in GRANTABLE)},
    }
    tokens = {role: issuer.issue(user=f"matrix-{role.value}", role=role, **kw)[0] for role, kw in binding.items()}
    principals = {role: Principal(user=f"matrix-{role.value}", role=role, scope=kw["scope"], tenant=X,
                                  org=kw.get("org"), permissions=kw.get("permissions")) for role, kw in binding.items()}
    headers = {role: {"Authorization": f"Bearer {token}"} for role, token in tokens.items()}
    policy = (await platform.http.get(f"/api/v1/tenants/{X}/flow-policy", headers=headers[Role.COUNTY_ADMIN])).json()
    rules = (await platform.http.get(f"/api/v1/tenants/{X}/orgs/placement-rules/in_province",
                                     headers=headers[Role.COUNTY_ADMIN])).json()["rules"]
    return World(names=names, objects=objects, headers=headers, tokens=tokens, policy=policy, rules=rules,
                 scopes={role: kw["scope"] for role, kw in binding.items()}, principals=principals)


def _bodies(world: World, rel: Objects) -> dict[str, Any]:
    """A minimal valid body per route (keyed as the route table keys them)."""
    from tests.support import id_number, member_json

    p, t = rel.params, "/api/v1/tenants/{tenant}"
    return {
        f"POST {t}/applicants": {"name": "矩阵新申请人", "id_number": id_number(rel.tenant),
                                 "application_date": "2021-01-10", "home_org_id": p["org_id"],
                                 "mentors": [{"name": "王德胜", "side": "home"}]},
        f"POST {t}/applicants/{{applicant_id}}/advance": {"stage": "activist", "date": "2024-01-01", "version": 1},
        f"POST {t}/applicants/{{applicant_id}}/inspections": {"side": "home", "inspected_on": "2024-01-01",
                                                               "inspector": "考察组", "summary": "表现良好"},
        f"PUT {t}/flow-policy": {k: v for k, v in world.policy.items() if k != "is_default"},
        f"POST {t}/flows/{{flow_id}}/redirect": {"destination_code": "320500", "industry": "建筑",
                                                  "address": "苏州市工业园区"},
        f"POST {t}/flows/{{flow_id}}/report-back": {"report_date": "2024-06-01", "note": "向党组织汇报"},
        f"POST {t}/flows/{{flow_id}}/return": {"return_date": "2024-12-01"},
        f"POST {t}/flows/{{flow_id}}/transfer": {"transfer_date": "2024-12-01"},
        f"POST {t}/integrations/clients": {"name": "矩阵新县级系统", "permissions": ["orgs.read"]},
        f"POST {t}/members": member_json(rel.tenant),
        f"PATCH {t}/members/{{member_id}}": {"version": 1, "occupation": "电工"},
        f"POST {t}/members/{{member_id}}/check-in": {"code": "not-a-code"},
        f"POST {t}/members/{{member_id}}/evaluations": {"year": 2024, "grade": "competent"},
        f"POST {t}/members/{{member_id}}/flows": {"destination_code": "320500", "address": "苏州市工业园区",
                                                  "industry": "建筑", "start_date": "2024-03-01",
                                                  "expected_months": 12},
        f"POST {t}/members/{{member_id}}/reveal-id-number": {"reason": "组织关系转接核对身份"},
        f"POST {t}/memberships/{{membership_id}}/activities": {"occurred_on": "2024-05-01", "title": "主题党日"},
        f"POST {t}/memberships/{{membership_id}}/assessments": {"year": 2024, "grade": "competent"},
        f"POST {t}/memberships/{{membership_id}}/refuse": {"reason": "不在本地务工"},
        f"POST {t}/orgs": {"parent_id": rel.township, "name": f"矩阵新支部{uuid.uuid4().hex[:6]}",
                           "kind": "village_branch"},
        f"PUT {t}/orgs/placement-rules/{{scope}}": {"rules": world.rules},
        f"PATCH {t}/orgs/{{org_id}}": {"name": f"矩阵改名支部{uuid.uuid4().hex[:6]}"},
        f"PUT {t}/orgs/{{org_id}}/checklist/{{item}}": {"done": True, "evidence": "活动室照片"},
        f"POST {t}/orgs/{{org_id}}/dissolve": {"reason": "撤并"},
        f"POST {t}/orgs/{{org_id}}/grids": {"name": f"矩阵网格{uuid.uuid4().hex[:4]}"},
        f"POST {t}/orgs/{{org_id}}/meetings": {"type": "party_lecture", "title": "党课",
                                               "start_time": "2024-05-01T09:00:00+08:00", "place": "村党群服务中心"},
        f"POST {t}/orgs/{{org_id}}/meetings/{{meeting_id}}/attendance": {
            "entries": [{"member_id": p["member_id"], "home_tenant_id": rel.tenant, "status": "present"}]},
        f"POST {t}/orgs/{{org_id}}/move": {"new_parent_id": rel.township},
        f"POST {t}/orgs/{{org_id}}/officers": {"position": "deputy_secretary", "name": "矩阵副书记",
                                               "phone": "13800000001", "start_date": "2024-01-01"},
        f"POST {t}/orgs/{{org_id}}/officers/{{appointment_id}}/end": {"end_date": "2024-12-01"},
        "POST /api/v1/auth/token": {"username": "nobody", "password": "wrong"},
        f"POST {t}/tickets": {"category": "other", "title": "矩阵新诉求", "form": {},
                              "member_home_tenant_id": rel.tenant, "member_id": p["member_id"],
                              "serving_org_id": rel.township},
        f"POST {t}/tickets/{{ticket_id}}/accept": {"message": "已受理"},
        f"POST {t}/tickets/{{ticket_id}}/request-info": {"message": "请补充工资条"},
        f"POST {t}/tickets/{{ticket_id}}/resume": {},
        f"POST {t}/tickets/{{ticket_id}}/start": {},
        f"POST {t}/tickets/{{ticket_id}}/resolve": {"resolution": "已协调用人单位支付"},
        f"POST {t}/tickets/{{ticket_id}}/close": {"reason": "DUPLICATE"},
        f"POST {t}/tickets/{{ticket_id}}/assign": {"round_robin": True},
        f"POST {t}/tickets/{{ticket_id}}/rating": {"score": 5},
        f"POST {t}/tickets/{{ticket_id}}/reopen": {"reason": "问题仍未解决"},
        f"POST {t}/tickets/{{ticket_id}}/comments": {"kind": "note", "body": "矩阵备注"},
        f"POST {t}/tickets/{{ticket_id}}/referrals": {"to_tenant_id": Y, "reason": "转户籍地县委办理"},
        f"POST {t}/ticket-referrals/{{referral_id}}/accept": {},
        f"POST {t}/ticket-referrals/{{referral_id}}/decline": {"reason": "不属本县"},
        f"PUT {t}/ticket-categories/{{category}}": {"name": "其他", "default_queue": "COUNTY", "priority": "normal",
                                                     "sla": {"first_response_minutes": 420,
                                                             "resolution_minutes": 4200}},
        f"PUT {t}/ticket-queues/{{queue}}/duty": {"on_duty": True, "display_name": "矩阵值班"},
        f"PUT {t}/work-calendar/{{year}}/overrides": {"days": []},
        "PUT /api/v1/scopes/{scope}/work-calendar/{year}": {"notice": "矩阵测试通知", "days": []},
        # Micro-loans (issue 14). A programme's PUT keeps the relation's bank, so that no later call sees its loan
        # change hands.
        f"POST {t}/loan-programmes": {"name": f"矩阵新项目{uuid.uuid4().hex[:6]}", "product": "pioneer",
                                      "bank_code": rel.bank, "bank_name": "矩阵银行", "total_quota_fen": 100_000_000},
        f"PUT {t}/loan-programmes/{{programme_id}}": {
            "name": f"矩阵改名项目{uuid.uuid4().hex[:6]}", "product": "pioneer", "bank_code": rel.bank,
            "bank_name": f"矩阵银行{rel.bank}", "cap_per_person_fen": 30_000_000, "max_term_months": 36,
            "methods": ["equal_instalment"], "rate_bp": 435, "total_quota_fen": 500_000_000, "version": 1},
        f"POST {t}/loan-programmes/{{programme_id}}/eligibility": {"member_id": p["member_id"],
                                                                   "amount_fen": 5_000_000, "term_months": 12},
        f"POST {t}/loans": {"programme_id": p["programme_id"], "member_id": p["member_id"], "amount_fen": 5_000_000,
                            "term_months": 12, "method": "equal_instalment", "purpose": "矩阵养殖场扩建",
                            "business_plan": "矩阵测试"},
        f"POST {t}/loans/{{loan_id}}/review": {"decision": "approve", "reason": "", "version": 1},
        f"POST {t}/loans/{{loan_id}}/withdraw": {"reason": "矩阵撤回", "version": 1},
        f"POST {t}/loans/{{loan_id}}/credit-decision": {"decision": "approve", "granted_amount_fen": 10_000_000,
                                                        "version": 1},
        f"POST {t}/loans/{{loan_id}}/disbursement": {"disbursed_on": "2026-11-20"},
        f"POST {t}/loans/{{loan_id}}/repayments": {"amount_fen": 100_000, "paid_on": "2026-12-01"},
        # Notifications (issue 15).
        "POST /api/v1/me/notifications/read": {"ids": [], "all": True, "read": True},
        "POST /api/v1/me/notifications/archive": {"ids": [], "archived": True},
        "POST /api/v1/me/escalations/{escalation_id}/acknowledge": {"note": "已联系本人"},
        "PUT /api/v1/me/notification-preferences": {"categories": [], "quiet_hours_enabled": True,
                                                    "quiet_start": "22:00", "quiet_end": "07:00",
                                                    "digest_time": "08:00"},
        f"PUT {t}/notification-templates/{{kind}}/{{channel}}": {"subject": "报到提醒：{{ member_name }}",
                                                                  "body": "{{ member_name }}同志尚未报到。"},
        f"POST {t}/notification-templates/{{kind}}/{{channel}}/preview": {},
        f"PUT {t}/notification-channels/{{channel}}": {"enabled": False, "settings": {}, "rate_per_minute": 60},
        f"POST {t}/notification-channels/{{channel}}/test": {"to": "matrix@example.com"},
    }


QUERIES = {"GET /api/v1/tenants/{tenant}/orgs/placement-suggestion": {"destination_code": "310000"},
           "GET /api/v1/tenants/{tenant}/orgs/search": {"name_contains": "矩阵"}}


def _walk_order(key: str) -> tuple[int, str]:
    method = key.split(" ", 1)[0]
    return (2 if DESTRUCTIVE.search(key) else 0 if method == "GET" else 1), key


def _path(template: str, world: World, role: Role, relation: str) -> str:
    rel = world.objects[relation]
    names = set(re.findall(r"{(\w+)}", template))
    scope_code = {"own": world.scopes[role], "sibling": X_SIBLING_COUNTY, "foreign": "35"}[relation]
    # The calendar year walked is one nobody else uses: a province's PUT replaces that year's arrangement.
    values = {"scope": scope_code if "/scopes/" in template else "in_province", "fmt": "csv", "category": "other",
              "year": "2031",
              "item": "activity_room", "service": "registry", "letter_id": "1",
              "alert_id": "00000000-0000-4000-8000-00000000a1e7",
              # Notifications (issue 15): a template's kind and channel; a delivery and an escalation nobody has.
              "kind": "check_in_overdue", "channel": "email",
              "delivery_id": "00000000-0000-4000-8000-0000000de11e",
              "escalation_id": "00000000-0000-4000-8000-00000000e5ca",
              **rel.params}
    # A foreign object is named on the caller's own county's path; a route that names none is asked on Y's.
    tenant = X if relation == "foreign" and names & ID_PARAMS else rel.tenant
    out = template.replace("{tenant}", tenant)
    for name in names - {"tenant"}:
        out = out.replace(f"{{{name}}}", values[name])
    return out


def _grpc_scope(world: World, role: Role, permission: Permission | None) -> Reach | None:
    """The scope rule of the role's grant as its token holds it (a county system: only the permissions it names)."""
    return authz.scope_of(world.principals[role], permission) if permission else None


def _http_scope(world: World, role: Role, permission: Permission | None) -> Reach | None:
    """As on gRPC, except that a county system holds nothing on the gateway's HTTP routes."""
    return None if role in authz.GRPC_ONLY else _grpc_scope(world, role, permission)


def _county_wide(role: Role, named: set[str], relation: str) -> str:
    """The relation as the role's grant sees it: a programme (public terms) is its county's own to all but a bank."""
    if relation == "sibling" and named == {"programme_id"} and role is not Role.BANK_OFFICER:
        return "own"
    return relation


def _allowed(role: Role, permission: Permission | None, relation: str, template: str, world: World) -> bool:
    if permission is None:
        return True
    rule = _http_scope(world, role, permission)
    if "{" not in template:
        return rule is not None  # a route about the caller itself names no object
    named = set(re.findall(r"{(\w+)}", template)) & ID_PARAMS
    if relation == "sibling" and not named:
        # A list names no object: its sibling call is its own call, and the leak check holds its rows to the reach.
        relation = "own"
    relation = _county_wide(role, named, relation)
    if "/scopes/" in template:
        code = {"own": world.scopes[role], "sibling": X_SIBLING_COUNTY, "foreign": "35"}[relation]
        return rule is not None and code.startswith(world.scopes[role])
    return authz.covers(rule, relation)


def _beyond(rule: Reach | None, world: World) -> set[str]:
    """Ids a 2xx under this scope rule must never carry: those of every relation the rule does not reach."""
    return {i for name, rel in world.objects.items() if not authz.covers(rule, name)
            for i in (rel.leaks | rel.bank_leaks if rule is Reach.BANK else rel.leaks)}


async def test_every_route_and_method_declares_a_permission(platform):
    document = (await platform.http.get("/api/openapi.json")).json()
    routes = {f"{m.upper()} {p}" for p, ops in document["paths"].items() for m in ops}
    assert sorted(routes - set(ROUTES)) == [], "routes without a declared permission"
    assert sorted(set(ROUTES) - routes) == [], "the route table names routes that do not exist"
    methods = set(_grpc_methods())
    assert sorted(methods - set(METHODS)) == [], "gRPC methods without a declared permission"
    assert sorted(set(METHODS) - methods) == [], "the method table names methods that do not exist"


def _grpc_methods() -> dict[str, tuple[str, Any]]:
    """Every gRPC method of every catalogued service: full name → (service name, input message class)."""
    pool = descriptor_pool.Default()
    found: dict[str, tuple[str, Any]] = {}
    for entry in catalog.grpc_services():
        entry.stub_class()  # imports the generated module, which registers the descriptors
        service = pool.FindServiceByName(entry.proto_service)
        for method in service.methods:
            found[f"/{service.full_name}/{method.name}"] = (entry.name,
                                                            message_factory.GetMessageClass(method.input_type))
    # Every service that consumes events serves DeadLetterService (kit/deadletters.py): walked on the first.
    service = pool.FindServiceByName(deadletters.PROTO_SERVICE)
    for method in service.methods:
        found[f"/{service.full_name}/{method.name}"] = (deadletters.consuming_services()[0].name,
                                                        message_factory.GetMessageClass(method.input_type))
    return found


async def _send(platform: Any, method: str, url: str, **kwargs: Any) -> tuple[Any, str]:
    """One call; an event stream (it never ends by itself) is read up to its first event, then closed."""
    async with platform.http.stream(method, url, **kwargs) as reply:
        if not reply.headers.get("content-type", "").startswith("text/event-stream"):
            await reply.aread()
            return reply, reply.text
        text = ""
        with contextlib.suppress(TimeoutError):
            async with asyncio.timeout(5):
                async for chunk in reply.aiter_text():
                    text += chunk
                    if "\n\n" in text:
                        break
        return reply, text


async def _walk_http(platform: Any, world: World, tally: Tally) -> None:
    document = (await platform.http.get("/api/openapi.json")).json()
    keys = sorted((f"{m.upper()} {p}" for p, ops in document["paths"].items() for m in ops), key=_walk_order)
    for key in keys:
        method, template = key.split(" ", 1)
        permission = ROUTES[key]
        for role in ROLES:
            for relation in RELATIONS:
                body = _bodies(world, world.objects[relation]).get(key)
                reply, text = await _send(platform, method, _path(template, world, role, relation),
                                          headers=world.headers[role], params=QUERIES.get(key),
                                          json=body if method != "GET" else None)
                tally.walked += 1
                where = f"{key} as {role.value} on {relation}: {reply.status_code}"
                # No grant: 403; but a county the caller does not act on does not exist for it (404 first).
                absent = "{tenant}" in template and (relation == "foreign" and not set(re.findall(
                    r"{(\w+)}", template)) & ID_PARAMS or world.scopes[role] != X or role in ANALYSTS)
                refusal = 404 if absent else 403
                if (permission is not None and _http_scope(world, role, permission) is None
                        and reply.status_code != refusal):
                    tally.unexpected.append(f"{where} (no grant: {refusal} expected)")
                if 200 <= reply.status_code < 300:
                    if not _allowed(role, permission, relation, template, world):
                        tally.unexpected.append(f"{where} (the table names no such grant)")
                    leaked = [i for i in _beyond(_http_scope(world, role, permission), world) if i in text]
                    if leaked:
                        tally.unexpected.append(f"{where} (carries ids beyond its reach: {leaked[:3]})")


def _grpc_request(cls: Any, rel: Objects) -> tuple[Any, set[str]]:
    """The method's request with every id field it has filled from the relation's objects; the objects it names."""
    request = cls()
    named: set[str] = set()
    names = {f.name for f in cls.DESCRIPTOR.fields}
    fill = {**rel.params, "parent_id": rel.township, "new_parent_id": rel.township}
    for name in names:
        field_ = cls.DESCRIPTOR.fields_by_name[name]
        if field_.type != field_.TYPE_STRING or field_.is_repeated:
            continue
        if name in fill:
            setattr(request, name, fill[name])
            named.add(name)
        elif name == "id":
            kind = cls.DESCRIPTOR.name
            # Programme before Loan: GetLoanProgramme names a programme.
            for key, param in (("Programme", "programme_id"), ("Loan", "loan_id"), ("Applicant", "applicant_id"),
                               ("Flow", "flow_id"), ("Membership", "membership_id"),
                               ("Import", "import_id"), ("Member", "member_id"), ("Org", "org_id"),
                               ("Checklist", "org_id"), ("Appointment", "appointment_id"), ("Ticket", "ticket_id"),
                               ("Referral", "referral_id")):
                if key in kind:
                    setattr(request, name, rel.params[param])
                    named.add(param)
                    break
    return request, named


async def _walk_grpc(platform: Any, world: World, tally: Tally) -> None:
    methods = _grpc_methods()
    for full in sorted(methods, key=_walk_order):
        service, cls = methods[full]
        permission = METHODS[full]
        channel = grpc.aio.insecure_channel(f"127.0.0.1:{platform.services[service].port}")
        call = channel.unary_unary(full, request_serializer=lambda m: m.SerializeToString(),
                                   response_deserializer=lambda b: b)
        try:
            for role in ROLES:
                for relation in RELATIONS:
                    request, named = _grpc_request(cls, world.objects[relation])
                    # The county comes from the token: a request naming no object is the caller's own call.
                    reached = _county_wide(role, named, relation) if named else "own"
                    tally.walked += 1
                    try:
                        answer = await call(request, metadata=bearer(world.tokens[role]), timeout=10)
                    except grpc.aio.AioRpcError as err:
                        if (_grpc_scope(world, role, permission) is None
                                and err.code() != grpc.StatusCode.PERMISSION_DENIED):
                            tally.unexpected.append(f"{full} as {role.value} on {relation}: {err.code().name}"
                                                    " (no grant: PERMISSION_DENIED expected)")
                        continue
                    where = f"{full} as {role.value} on {relation}: OK"
                    if not authz.covers(_grpc_scope(world, role, permission), reached):
                        tally.unexpected.append(f"{where} (the table names no such grant)")
                    leaked = [i for i in _beyond(_grpc_scope(world, role, permission), world) if i.encode() in answer]
                    if leaked:
                        tally.unexpected.append(f"{where} (carries ids beyond its reach: {leaked[:3]})")
        finally:
            await channel.close()


async def test_no_route_or_method_grants_what_the_table_does_not_name(platform, world, capsys):
    tally = Tally()
    await _walk_http(platform, world, tally)
    http_walked = tally.walked
    await _walk_grpc(platform, world, tally)
    with capsys.disabled():
        print(f"\nauthorization matrix: {http_walked} HTTP route calls and {tally.walked - http_walked} gRPC method"
              f" calls ({len(ROUTES)} routes, {len(METHODS)} methods × {len(ROLES)} roles × {len(RELATIONS)}"
              f" relations); unexpected grants: {len(tally.unexpected)}")
    assert tally.unexpected == [], "\n".join(tally.unexpected)


async def test_a_township_exports_the_development_ledger_of_its_own_township_only(platform, world):
    sheet = await platform.http.get(f"/api/v1/tenants/{X}/ledgers/development.csv",
                                    headers=world.headers[Role.TOWNSHIP_OFFICER])
    assert sheet.status_code == 200
    assert world.names["own"] in sheet.text
    assert world.names["sibling"] not in sheet.text
    county = await platform.http.get(f"/api/v1/tenants/{X}/ledgers/development.csv",
                                     headers=world.headers[Role.COUNTY_ADMIN])
    assert world.names["own"] in county.text and world.names["sibling"] in county.text
