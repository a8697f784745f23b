"""Demo flows: Xinyang's members away in Zhengzhou and in five cities outside the province, placed, checked in
and some come home; a few applicants away from home; and a member who can check in by the station's code."""

from __future__ import annotations

import asyncio
import random
from collections.abc import Awaitable, Callable
from datetime import date, timedelta

import grpc

from jinqiao.gateway.accounts import Account
from jinqiao.gateway.settings import GatewaySettings
from jinqiao.kit import pii
from jinqiao.kit.auth import Role, TokenIssuer
from jinqiao.kit.channels import open_settings_channel
from jinqiao.kit.clock import china_date, utc_now
from jinqiao.kit.regions import name_of
from jinqiao.organizations.v1 import organizations_pb2 as pb_orgs
from jinqiao.organizations.v1 import organizations_pb2_grpc
from jinqiao.registry.v1 import development_pb2, flows_pb2, registry_pb2_grpc

XINYANG = ["411502", "411503", "411521", "411522", "411523", "411524", "411525", "411526", "411527", "411528"]
ZHENGZHOU = ["410102", "410103", "410104", "410105", "410108"]
OUTSIDE = [("110000", "朝阳区"), ("310000", "浦东新区"), ("420100", "江汉区"), ("440100", "白云区"),
           ("320500", "工业园区"), ("440300", "宝安区")]
TRADES = ["建筑", "物流", "餐饮", "电子", "家政服务", "装修"]
FLOWS_PER_COUNTY = 8
MEMBER_COUNTY = "411525"  # its first outflow stays offered, for `member-411525` to check in by code
MEMBER_DESTINATION = "410105"
WAIT_SECONDS = 60.0
# Flows whose 报到 deadline (30 days) lies in the past and who stay unchecked, so the timers fire honestly: 38 days
# away → 村级提醒, 52 → 上报乡镇, 70 → 上报县委组织部 (the default policy: 30 + 15 + 15 days).
OVERDUE_DAYS = {1: 38, 2: 52, 3: 70}
# 固始县's flow to 北京 (index 6) stays offered: the 驻北京党总支's guidance officer has an offer to answer.
GUIDANCE_OFFER_INDEX = 6
# Members of other Xinyang counties working in 固始县城: placed in its 驻城党建工作站临时党支部, awaiting 报到.
INFLOW_COUNTIES = ("411526", "411522")
INFLOW_INDEX = FLOWS_PER_COUNTY  # the first member after the outflows


def bearer(token: str) -> tuple[tuple[str, str], ...]:
    """gRPC metadata carrying a bearer token."""
    return (("authorization", f"Bearer {token}"),)


def _token(issuer: TokenIssuer, county: str) -> tuple[tuple[str, str], ...]:
    return bearer(issuer.issue(user="demo-seed", role=Role.COUNTY_ADMIN, scope=county)[0])


def _outflow(county: str, index: int, member_id: str, *, rng: random.Random) -> flows_pb2.RegisterFlowRequest:
    today = china_date(utc_now())
    days = 0 if index == 0 else OVERDUE_DAYS.get(index, rng.randint(5, 200))
    if county == MEMBER_COUNTY and index == 0:
        dest, address, trade = MEMBER_DESTINATION, "金水区人民路 18 号", "装修"
    elif index < 3:
        dest = rng.choice(ZHENGZHOU)
        address, trade = f"{name_of(dest)}{rng.choice(['人民路', '建设路', '滨河路'])} {rng.randint(1, 200)} 号", \
            rng.choice(TRADES)
    else:
        dest, area = OUTSIDE[(index + XINYANG.index(county)) % len(OUTSIDE)]
        address, trade = f"{name_of(dest)}{area}", rng.choice(TRADES)
    return flows_pb2.RegisterFlowRequest(
        member_id=member_id, destination_code=dest, address=address, employer="", industry=trade,
        start_date=(today - timedelta(days=days)).isoformat(),
        expected_months=rng.choice([3, 6, 12]), request_id=f"demo-flow-{county}-{index}",
    )


def _inflow(county: str, member_id: str, *, rng: random.Random) -> flows_pb2.RegisterFlowRequest:
    """A member of another Xinyang county working in 固始县城 since a few days (no employer, no community address)."""
    today = china_date(utc_now())
    return flows_pb2.RegisterFlowRequest(
        member_id=member_id, destination_code=MEMBER_COUNTY,
        address=f"{name_of(MEMBER_COUNTY)}蓼城大道 {rng.randint(1, 99)} 号",
        employer="", industry=rng.choice(["物流", "餐饮", "装修"]),
        start_date=(today - timedelta(days=rng.randint(2, 9))).isoformat(), expected_months=6,
        request_id=f"demo-inflow-{county}")


def kept_offered(county: str, index: int) -> bool:
    """Whether the seed leaves this flow's offer unanswered: the demo member's, the overdue ones (固始县: all three
    levels; elsewhere one, in turn), the guidance officer's and the inflows to 固始县."""
    if index == INFLOW_INDEX:
        return True
    if county == MEMBER_COUNTY:
        return index in (0, 1, 2, 3, GUIDANCE_OFFER_INDEX)
    return index == 1 + XINYANG.index(county) % 3


async def _wait(check: Callable[[], Awaitable[bool]], *, seconds: float = WAIT_SECONDS) -> bool:
    deadline = asyncio.get_running_loop().time() + seconds
    while asyncio.get_running_loop().time() < deadline:
        if await check():
            return True
        await asyncio.sleep(0.5)
    return False


async def seed_flows(*, settings: GatewaySettings, issuer: TokenIssuer,
                     registry: registry_pb2_grpc.RegistryServiceAsyncStub, members: dict[str, list[str]],
                     rng: random.Random) -> Account | None:
    """Register outflows through the registry and let the saga run; returns the demo member's login, if any."""
    flows: list[tuple[str, flows_pb2.Flow]] = []
    kept: set[str] = set()
    for county in XINYANG:
        away = members.get(county, [])
        plan = [(i, _outflow(county, i, m, rng=rng)) for i, m in enumerate(away[:FLOWS_PER_COUNTY])]
        if county in INFLOW_COUNTIES and len(away) > INFLOW_INDEX:
            plan.append((INFLOW_INDEX, _inflow(county, away[INFLOW_INDEX], rng=rng)))
        for index, request in plan:
            try:
                reply = await registry.RegisterFlow(request, metadata=_token(issuer, county), timeout=10)
            except grpc.aio.AioRpcError as err:
                if err.code() != grpc.StatusCode.ALREADY_EXISTS:
                    raise
                continue
            flows.append((county, reply.flow))
            if kept_offered(county, index):
                kept.add(reply.flow.id)
    if not flows:
        return None

    async def answered() -> bool:
        for county, flow in flows:
            got = await registry.GetFlow(flows_pb2.GetFlowRequest(id=flow.id), metadata=_token(issuer, county),
                                         timeout=10)
            if got.flow.status == flows_pb2.FLOW_STATUS_REGISTERED:
                return False
        return True

    await _wait(answered)
    async with open_settings_channel(settings.target("organizations"), settings) as channel:
        orgs: organizations_pb2_grpc.OrganizationsServiceAsyncStub = (
            organizations_pb2_grpc.OrganizationsServiceStub(channel)
        )
        await _check_in_most(orgs, issuer=issuer, flows=flows, kept=kept, rng=rng)
    await _return_some(registry, issuer=issuer, flows=flows, kept=kept, rng=rng)
    first = next((f for c, f in flows if c == MEMBER_COUNTY and f.destination_code == MEMBER_DESTINATION), None)
    if first is None:
        return None
    return Account(username=f"member-{MEMBER_COUNTY}", role=Role.MEMBER, scope=MEMBER_COUNTY,
                   acting_tenant=MEMBER_COUNTY, acting_member=first.member_id,
                   display_name=f"{first.member_name}（{name_of(MEMBER_COUNTY)}流动党员）")


async def _check_in_most(orgs: organizations_pb2_grpc.OrganizationsServiceAsyncStub, *, issuer: TokenIssuer,
                         flows: list[tuple[str, flows_pb2.Flow]], kept: set[str], rng: random.Random) -> None:
    """About two in three of the other offered members check in at the destination (staff record the 报到)."""
    placing = {f.placing_tenant_id for _, f in flows}
    # 固始县 (the demo's showcase county) checks in every flow it does not keep waiting.
    wanted = {f.id for c, f in flows if f.id not in kept and (c == MEMBER_COUNTY or rng.random() < 0.67)}
    for county in sorted(placing):
        page = await orgs.ListMemberships(pb_orgs.ListMembershipsRequest(
            statuses=[pb_orgs.MEMBERSHIP_STATUS_OFFERED], page_size=200), metadata=_token(issuer, county),
            timeout=10)
        for membership in page.memberships:
            if membership.flow_id in wanted:
                await orgs.CheckInMembership(pb_orgs.CheckInMembershipRequest(id=membership.id),
                                             metadata=_token(issuer, county), timeout=10)


async def _return_some(registry: registry_pb2_grpc.RegistryServiceAsyncStub, *, issuer: TokenIssuer,
                       flows: list[tuple[str, flows_pb2.Flow]], kept: set[str], rng: random.Random) -> None:
    """One member per county came home last month (回归工程): some started a business, some joined the pool."""
    seen: set[str] = set()
    for county, flow in flows:
        if county in seen or flow.id in kept:
            continue
        seen.add(county)
        business = rng.random() < 0.5
        facts = flows_pb2.ReturneeFacts(
            started_business=business,
            business_name=f"{rng.choice(['茶叶', '油茶', '稻虾', '家纺'])}合作社" if business else "",
            joined_reserve_pool=True, elected_village_committee=not business,
            village_post="" if business else "村委会委员")
        back = max(date.fromisoformat(flow.start_date), china_date(utc_now()) - timedelta(days=20))
        await registry.ReturnFlow(flows_pb2.ReturnFlowRequest(id=flow.id, return_date=back.isoformat(), facts=facts),
                                  metadata=_token(issuer, county), timeout=10)


async def _create_applicant(registry: registry_pb2_grpc.RegistryServiceAsyncStub, issuer: TokenIssuer,
                            request: development_pb2.CreateApplicantRequest) -> development_pb2.CreateApplicantResponse:
    """Create, retrying while the registry's replica of the tree (fed by events) does not know the home org yet."""
    deadline = asyncio.get_running_loop().time() + WAIT_SECONDS
    while True:
        try:
            return await registry.CreateApplicant(request, metadata=_token(issuer, MEMBER_COUNTY), timeout=10)
        except grpc.aio.AioRpcError as err:
            unknown = err.code() == grpc.StatusCode.INVALID_ARGUMENT and "home_org_id" in (err.details() or "")
            if not unknown or asyncio.get_running_loop().time() > deadline:
                raise
            await asyncio.sleep(0.5)


async def seed_applicants(*, issuer: TokenIssuer, registry: registry_pb2_grpc.RegistryServiceAsyncStub,
                          rng: random.Random, home_org_id: str | None = None) -> None:
    """A few applicants of 固始县 working in Zhengzhou and Beijing, with mentors at both ends (发展党员); their home
    is the branch the demo branch secretary serves, so the township, branch and guidance logins follow them."""
    today = china_date(utc_now())
    for index, (dest, employer) in enumerate([("410105", "宇通客车股份有限公司"), ("110000", "北京城建集团"),
                                              ("410102", "")]):
        birth = date(1990 + index * 3, 3 + index, 12)
        request = development_pb2.CreateApplicantRequest(
            name=["陈立新", "刘晓燕", "王俊峰"][index], id_number=pii.make_id_number(MEMBER_COUNTY, birth, 200 + index),
            phone=f"13{rng.randint(500000000, 999999999)}", township="陈淋子镇", village="新庄村",
            destination_code=dest, employer=employer,
            application_date=(today - timedelta(days=500 - index * 120)).isoformat(),
            mentors=[development_pb2.MentorInput(name="张国强", phone="13803760001", side="HOME",
                                                 org_name="陈淋子镇新庄村党支部"),
                     development_pb2.MentorInput(name="李红梅", phone="13903710002", side="DESTINATION",
                                                 org_name=f"{name_of(dest)}流动党员服务站")],
            request_id=f"demo-applicant-{index}", home_org_id=home_org_id or "",
        )
        try:
            created = await _create_applicant(registry, issuer, request)
        except grpc.aio.AioRpcError as err:
            if err.code() == grpc.StatusCode.ALREADY_EXISTS:
                continue
            raise
        if index == 0:
            await registry.AdvanceApplicant(development_pb2.AdvanceApplicantRequest(
                id=created.applicant.id, stage=development_pb2.DEVELOPMENT_STAGE_ACTIVIST,
                date=(today - timedelta(days=300)).isoformat(), version=created.applicant.version),
                metadata=_token(issuer, MEMBER_COUNTY), timeout=10)
