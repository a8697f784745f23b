"""Seeds the demo province: accounts for every role's demo user, and synthetic members via the registry."""

from __future__ import annotations

import asyncio
import random
from collections.abc import Iterable
from datetime import UTC, date, datetime, timedelta

import grpc
from google.protobuf.timestamp_pb2 import Timestamp

from jinqiao.demo import desk as demo_desk
from jinqiao.demo import flows as demo_flows
from jinqiao.demo import loans as demo_loans
from jinqiao.demo import notifications as demo_notifications
from jinqiao.demo.flows import bearer
from jinqiao.gateway import integrations
from jinqiao.gateway.accounts import Account, upsert_account
from jinqiao.gateway.settings import GatewaySettings
from jinqiao.kit import pii
from jinqiao.kit.auth import Role, TokenIssuer
from jinqiao.kit.channels import open_settings_channel
from jinqiao.kit.db import Database
from jinqiao.kit.regions import name_of
from jinqiao.organizations.v1 import organizations_pb2 as pb_orgs
from jinqiao.organizations.v1 import organizations_pb2_grpc
from jinqiao.registry.v1 import registry_pb2, registry_pb2_grpc

XINYANG = ["411502", "411503", "411521", "411522", "411523", "411524", "411525", "411526", "411527", "411528"]
ZHENGZHOU = ["410102", "410103", "410104", "410105", "410108"]
COUNTIES = XINYANG + ZHENGZHOU
OFFICER_COUNTY = "411525"  # its first township, branch, station and 驻外党总支 get a login for each org-bound role
MEMBERS_PER_XINYANG_COUNTY = 30
MEMBERS_PER_ZHENGZHOU_DISTRICT = 8

SURNAMES = (
    "王李张刘陈杨黄赵吴周徐孙马朱胡郭何高林罗郑梁谢宋唐许韩冯邓曹彭曾肖田董袁潘于蒋蔡余杜叶程苏魏吕丁任"
    "沈姚卢姜崔钟谭陆汪范金石廖贾夏韦付方白邹孟熊秦邱江尹薛闫段雷侯龙史陶黎贺顾毛郝龚邵万钱严覃武戴莫孔向汤"
)
GIVEN = "建国伟华军平红明秀英丽强磊洋勇艳杰娟涛超霞刚玲桂芳敏静海波辉鹏宇浩凯俊峰志新春燕兰凤琴云亮成林胜利忠民学文"
TOWNSHIPS = ["城关镇", "陈淋子镇", "黎集镇", "蒋集镇", "往流镇", "郭陆滩镇", "胡族镇", "三河尖镇", "段集镇", "汪棚镇"]
VILLAGES = ["新庄村", "李店村", "王楼村", "张湾村", "河口村", "桥头村", "东岗村", "西湾社区", "南街社区", "北关村"]
OCCUPATIONS = [
    "建筑工人", "个体经营", "物流配送", "餐饮服务", "电子厂工人",
    "家政服务", "农业种植", "网约车司机", "装修工", "外卖骑手",
]


# 固始县's own member system, a county system calling gRPC with client credentials (docs/integrators.md). Its secret
# is documented, like the demo password: a demo, never a deployment.
DEMO_CLIENT_ID = "jq-411525-0000000000000001"
DEMO_CLIENT_SECRET = "jinqiao-demo-county-system"
DEMO_CLIENT_NAME = "固始县党员信息系统（演示）"
DEMO_CLIENT_PERMISSIONS = ("members.read", "members.write", "orgs.read", "flows.write", "insights.read")


def demo_accounts() -> list[Account]:
    """The province, the city and one county administrator per demo county."""
    accounts = [
        Account(username="province", role=Role.PROVINCE_ANALYST, scope="41", acting_tenant=None,
                display_name="河南省委组织部"),
        Account(username="city-4115", role=Role.CITY_ANALYST, scope="4115", acting_tenant=None,
                display_name="信阳市委组织部"),
        Account(username="city-4101", role=Role.CITY_ANALYST, scope="4101", acting_tenant=None,
                display_name="郑州市委组织部"),
    ]
    accounts += [
        Account(username=f"county-{code}", role=Role.COUNTY_ADMIN, scope=code, acting_tenant=code,
                display_name=f"{name_of(code)}委组织部")
        for code in COUNTIES
    ]
    return accounts


def synthetic_members(county: str, count: int, *, rng: random.Random) -> list[registry_pb2.CreateMemberRequest]:
    """Plausible members with valid ID numbers; request ids make re-seeding idempotent."""
    requests = []
    for i in range(count):
        birth = date(1960, 1, 1) + timedelta(days=rng.randrange(0, 365 * 42))
        id_number = pii.make_id_number(county, birth, rng.randrange(0, 1000))
        join = birth + timedelta(days=365 * rng.randint(19, 30) + rng.randrange(0, 365))
        requests.append(
            registry_pb2.CreateMemberRequest(
                name=rng.choice(SURNAMES) + "".join(rng.choice(GIVEN) for _ in range(rng.choice((1, 2)))),
                id_number=id_number,
                phone=f"1{rng.choice('3578')}{rng.randrange(0, 10**9):09d}",
                membership_status=(registry_pb2.MEMBERSHIP_STATUS_FULL if rng.random() < 0.93
                                   else registry_pb2.MEMBERSHIP_STATUS_PROBATIONARY),
                township=rng.choice(TOWNSHIPS), village=rng.choice(VILLAGES), occupation=rng.choice(OCCUPATIONS),
                join_date=min(join, date(2025, 6, 30)).isoformat(),
                request_id=f"demo-{county}-{i:04d}",
            )
        )
    return requests


EXTERNAL_CITIES = [("110000", "北京"), ("310000", "上海"), ("420100", "武汉"), ("440100", "广州"), ("320500", "苏州")]
FOUNDING = [pb_orgs.FOUNDING_MODE_STANDALONE, pb_orgs.FOUNDING_MODE_HOSTED, pb_orgs.FOUNDING_MODE_AFFILIATED,
            pb_orgs.FOUNDING_MODE_JOINT]


def org_logins(county: str, orgs: dict[str, str]) -> list[Account]:
    """A login for every org-bound role, each bound to the organisation it serves in the county's tree.

    A 网格长 (grid leader) is an officer appointed at the 驻城党建工作站, not a role of their own: their login is a
    station-staff account bound to the station.
    """
    place = name_of(county)
    logins = [
        ("township", Role.TOWNSHIP_OFFICER, "township", "乡镇党委"),
        ("branch", Role.BRANCH_SECRETARY, "branch", "村党支部书记"),
        ("guidance", Role.GUIDANCE_OFFICER, "external", "驻外党建指导员"),
        ("station", Role.STATION_STAFF, "station", "驻城党建工作站"),
        ("grid", Role.STATION_STAFF, "station", "网格长（驻城党建工作站）"),
    ]
    return [Account(username=f"{name}-{county}", role=role, scope=county, acting_tenant=county, acting_org=orgs[org],
                    display_name=f"{place}{label}") for name, role, org, label in logins]


async def seed_tree(stub: organizations_pb2_grpc.OrganizationsServiceAsyncStub, *, county: str, token: str,
                    rng: random.Random) -> dict[str, str] | None:
    """县委 → 乡镇党委 → 村/社区/企业党支部, 驻外党组织 in five cities, a 驻城党建工作站; returns the first township,
    its first branch, the station and the first 驻外党总支 (None when the tree was seeded before)."""
    metadata = bearer(token)
    county_name = name_of(county)

    async def add(
        name: str, kind: pb_orgs.OrgKind.ValueType, parent: str = "", *, city_code: str = "",
        founding_mode: pb_orgs.FoundingMode.ValueType = pb_orgs.FOUNDING_MODE_UNSPECIFIED, industry: str = "",
        employer: str = "", coverage: Iterable[str] = (),
    ) -> str:
        request = pb_orgs.CreateOrgRequest(parent_id=parent, name=name, kind=kind, city_code=city_code,
                                           founding_mode=founding_mode, industry=industry, employer=employer,
                                           coverage=coverage)
        return (await stub.CreateOrg(request, metadata=metadata, timeout=10)).org.id

    try:
        root = await add(f"中共{county_name}委员会", pb_orgs.ORG_KIND_COUNTY_COMMITTEE)
    except grpc.aio.AioRpcError as err:
        if err.code() == grpc.StatusCode.ALREADY_EXISTS:
            return None  # the tree was seeded before
        raise
    firsts: dict[str, str] = {}
    for township in rng.sample(TOWNSHIPS, 4):
        town = await add(f"{township}党委", pb_orgs.ORG_KIND_TOWNSHIP_COMMITTEE, root)
        firsts.setdefault("township", town)
        for village in rng.sample(VILLAGES, 3):
            kind = pb_orgs.ORG_KIND_COMMUNITY_BRANCH if village.endswith("社区") else pb_orgs.ORG_KIND_VILLAGE_BRANCH
            branch = await add(f"{township}{village}党支部", kind, town, coverage=[village])
            if firsts["township"] == town:
                firsts.setdefault("branch", branch)
        await add(f"{township}农业合作社党支部", pb_orgs.ORG_KIND_ENTERPRISE_BRANCH, town,
                  employer=f"{township}农业合作社")
    def person() -> tuple[str, str]:
        name = rng.choice(SURNAMES) + "".join(rng.choice(GIVEN) for _ in range(rng.choice((1, 2))))
        return name, f"1{rng.choice('3578')}{rng.randrange(0, 10**9):09d}"

    async def appoint(org_id: str, position: pb_orgs.OfficerPosition.ValueType) -> str:
        name, phone = person()
        reply = await stub.AppointOfficer(pb_orgs.AppointOfficerRequest(
            org_id=org_id, position=position, name=name, phone=phone,
            start_date=f"20{rng.randint(18, 24)}-0{rng.randint(1, 9)}-1{rng.randint(0, 9)}"), metadata=metadata,
            timeout=10)
        return reply.appointment.officer_id

    station = await add(f"{county_name}驻城党建工作站", pb_orgs.ORG_KIND_TOWN_STATION, root)
    firsts["station"] = station
    for number, streets in enumerate((["人民路", "新华街"], ["滨河路", "幸福小区"]), start=1):
        leader = await appoint(station, pb_orgs.OFFICER_POSITION_GRID_LEADER)
        await stub.CreateGrid(pb_orgs.CreateGridRequest(org_id=station, name=f"第{number}网格",
                                                        leader_officer_id=leader, addresses=streets),
                              metadata=metadata, timeout=10)
    await add(f"{county_name}驻城临时党支部", pb_orgs.ORG_KIND_TEMPORARY_BRANCH, station)
    await add(f"{county_name}网上党支部", pb_orgs.ORG_KIND_ONLINE_BRANCH, root)
    for code, city in EXTERNAL_CITIES:
        general = await add(f"{county_name}驻{city}流动党员党总支", pb_orgs.ORG_KIND_EXTERNAL_GENERAL_BRANCH, root,
                            city_code=code, founding_mode=rng.choice(FOUNDING))
        firsts.setdefault("external", general)
        await appoint(general, pb_orgs.OFFICER_POSITION_SECRETARY)
        await appoint(general, pb_orgs.OFFICER_POSITION_GUIDANCE_OFFICER)
        await appoint(general, pb_orgs.OFFICER_POSITION_LIAISON)
        for trade in rng.sample(["建筑", "物流", "餐饮", "电子"], 2):
            await add(f"{county_name}驻{city}{trade}行业党支部", pb_orgs.ORG_KIND_EXTERNAL_BRANCH, general,
                      city_code=code, founding_mode=rng.choice(FOUNDING), industry=trade)
    return firsts


async def seed(settings: GatewaySettings) -> int:
    """Create the accounts and members; return the number of members now registered by the seed."""
    password = settings.demo_password.get_secret_value()
    db = await Database.connect(settings.database_url, min_size=1, max_size=4)
    try:
        for account in demo_accounts():
            await upsert_account(db=db, account=account, password=password)
        await integrations.upsert_account(db=db, tenant=OFFICER_COUNTY, client_id=DEMO_CLIENT_ID,
                                          name=DEMO_CLIENT_NAME, permissions=DEMO_CLIENT_PERMISSIONS,
                                          secret=DEMO_CLIENT_SECRET, actor="demo-seed")
    finally:
        await db.close()
    issuer = TokenIssuer.from_settings(settings)
    rng = random.Random(20261124)
    officers: list[Account] = []
    home_branch: str | None = None
    created = 0
    async with open_settings_channel(settings.target("organizations"), settings) as channel:
        org_stub: organizations_pb2_grpc.OrganizationsServiceAsyncStub = (
            organizations_pb2_grpc.OrganizationsServiceStub(channel)
        )
        for county in COUNTIES:
            token, _ = issuer.issue(user="demo-seed", role=Role.COUNTY_ADMIN, scope=county)
            firsts = await seed_tree(org_stub, county=county, token=token, rng=rng)
            if firsts and county == OFFICER_COUNTY:
                officers += org_logins(county, firsts)
                home_branch = firsts["branch"]
    if officers:
        db = await Database.connect(settings.database_url, min_size=1, max_size=1)
        try:
            for officer in officers:
                await upsert_account(db=db, account=officer, password=password)
        finally:
            await db.close()
    members: dict[str, list[str]] = {}
    async with open_settings_channel(settings.target("registry"), settings) as channel:
        stub: registry_pb2_grpc.RegistryServiceAsyncStub = registry_pb2_grpc.RegistryServiceStub(channel)
        for county in COUNTIES:
            token, _ = issuer.issue(user="demo-seed", role=Role.COUNTY_ADMIN, scope=county)
            count = MEMBERS_PER_XINYANG_COUNTY if county in XINYANG else MEMBERS_PER_ZHENGZHOU_DISTRICT
            for index, request in enumerate(synthetic_members(county, count, rng=rng)):
                if county == OFFICER_COUNTY and home_branch and index < demo_flows.FLOWS_PER_COUNTY:
                    # 固始县's members away belong to the demo branch: the township and branch logins follow them.
                    request.home_branch_id = home_branch
                try:
                    reply = await _create_member(stub, request, token)
                    members.setdefault(county, []).append(reply.member.id)
                    created += 1
                except grpc.aio.AioRpcError as err:
                    # A random birth date and sequence may collide within a county: skip, never abort.
                    if err.code() != grpc.StatusCode.ALREADY_EXISTS:
                        raise
        member_login = await demo_flows.seed_flows(settings=settings, issuer=issuer, registry=stub,
                                                   members=members, rng=rng)
        await demo_flows.seed_applicants(issuer=issuer, registry=stub, rng=rng, home_org_id=home_branch)
    if home_branch and members.get(OFFICER_COUNTY):
        await seed_meetings(settings, issuer=issuer, branch=home_branch,
                            members=members[OFFICER_COUNTY][:demo_flows.FLOWS_PER_COUNTY + 2], rng=rng)
    if member_login is not None:
        db = await Database.connect(settings.database_url, min_size=1, max_size=1)
        try:
            await upsert_account(db=db, account=member_login, password=password)
        finally:
            await db.close()
    # The service desk (issue 13): tickets at every station, the demo member's requests, both referrals.
    await demo_desk.seed_desk(settings=settings, issuer=issuer, counties=COUNTIES, member_login=member_login)
    # 党员先锋贷 (issue 14): the partner bank's login, programmes and loans in every state.
    db = await Database.connect(settings.database_url, min_size=1, max_size=1)
    try:
        for account in demo_loans.bank_logins():
            await upsert_account(db=db, account=account, password=password)
    finally:
        await db.close()
    await demo_loans.seed_loans(settings=settings, issuer=issuer, member_login=member_login)
    # Notifications (issue 15): 固始县's channels (disabled) and its logins' choices; the inbox fills from events.
    await demo_notifications.seed_notifications(
        settings=settings, issuer=issuer,
        accounts=[*demo_accounts(), *officers, *demo_loans.bank_logins(), *([member_login] if member_login else [])])
    return created


MEETINGS = [  # 三会一课 of the demo branch over the last months: (days ago, type, title, place)
    (75, pb_orgs.MEETING_TYPE_GENERAL_MEETING, "第三季度支部党员大会", "村党群服务中心"),
    (48, pb_orgs.MEETING_TYPE_PARTY_LECTURE, "专题党课：流动党员如何发挥先锋作用", "村党群服务中心"),
    (20, pb_orgs.MEETING_TYPE_COMMITTEE_MEETING, "支委会：研究流动党员联系服务工作", "村委会议室"),
    (6, pb_orgs.MEETING_TYPE_GROUP_MEETING, "党小组会：年底返乡党员座谈", "村党群服务中心"),
]


async def seed_meetings(settings: GatewaySettings, *, issuer: TokenIssuer, branch: str, members: list[str],
                        rng: random.Random) -> None:
    """三会一课 of the demo branch with attendance: those at home present, those away online or on leave."""
    token, _ = issuer.issue(user="demo-seed", role=Role.COUNTY_ADMIN, scope=OFFICER_COUNTY)
    statuses = (pb_orgs.ATTENDANCE_STATUS_PRESENT, pb_orgs.ATTENDANCE_STATUS_PRESENT,
                pb_orgs.ATTENDANCE_STATUS_ON_LEAVE, pb_orgs.ATTENDANCE_STATUS_ABSENT)
    now = datetime.now(UTC)
    gave_up = False
    async with open_settings_channel(settings.target("organizations"), settings) as channel:
        stub: organizations_pb2_grpc.OrganizationsServiceAsyncStub = (
            organizations_pb2_grpc.OrganizationsServiceStub(channel))
        for days, kind, title, place in MEETINGS:
            start = Timestamp()
            start.FromDatetime((now - timedelta(days=days)).replace(hour=1, minute=30, second=0, microsecond=0))
            meeting = (await stub.ScheduleMeeting(pb_orgs.ScheduleMeetingRequest(
                org_id=branch, type=kind, title=title, start_time=start, place=place,
                agenda="传达学习上级精神；通报流动党员情况；研究下一步工作"), metadata=bearer(token),
                timeout=10)).meeting
            if gave_up:
                continue
            entries = [pb_orgs.AttendanceEntry(member_id=m, home_tenant_id=OFFICER_COUNTY, status=rng.choice(statuses))
                       for m in members]
            # The organisations service learns of the members by their events: wait for it, never abort the demo.
            deadline = asyncio.get_running_loop().time() + demo_flows.WAIT_SECONDS
            while True:
                try:
                    await stub.RecordAttendance(pb_orgs.RecordAttendanceRequest(meeting_id=meeting.id, entries=entries),
                                                metadata=bearer(token), timeout=10)
                    break
                except grpc.aio.AioRpcError as err:
                    if err.code() != grpc.StatusCode.INVALID_ARGUMENT:
                        raise
                    if asyncio.get_running_loop().time() > deadline:
                        print(f"演示会议未记录出勤 attendance of the demo meetings not recorded: {err.details()}")
                        gave_up = True
                        break
                    await asyncio.sleep(0.5)


async def _create_member(stub: registry_pb2_grpc.RegistryServiceAsyncStub, request: registry_pb2.CreateMemberRequest,
                         token: str) -> registry_pb2.CreateMemberResponse:
    """Create, retrying while the registry's replica of the tree (fed by events) does not know the home branch yet."""
    deadline = asyncio.get_running_loop().time() + demo_flows.WAIT_SECONDS
    while True:
        try:
            reply: registry_pb2.CreateMemberResponse = await stub.CreateMember(request, metadata=bearer(token),
                                                                               timeout=10)
            return reply
        except grpc.aio.AioRpcError as err:
            unknown = (request.home_branch_id and err.code() == grpc.StatusCode.INVALID_ARGUMENT
                       and "home_branch_id" in (err.details() or ""))
            if not unknown or asyncio.get_running_loop().time() > deadline:
                raise
            await asyncio.sleep(0.5)


def main() -> None:
    """Entry point used by ``jinqiao up`` on first start."""
    settings = GatewaySettings(service_name="gateway-demo")
    created = asyncio.run(seed(settings))
    print(f"演示数据已就绪 demo province seeded: {len(demo_accounts())} accounts, {created} members")
    print(f"演示县级系统 demo county system ({name_of(OFFICER_COUNTY)}): client_id {DEMO_CLIENT_ID},"
          f" client_secret {DEMO_CLIENT_SECRET} (docs/integrators.md)")


if __name__ == "__main__":
    main()
