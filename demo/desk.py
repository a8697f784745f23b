"""Demo service desk (issue 13 §9): tickets at every demo county's 驻城党建工作站 in every state, some near and some
past their SLA (filed as 补录 with a past ``received_time``, so the desk's sweep warns and escalates honestly),
guests of 固始县's station, the demo member's own two requests, one referral (转办) in each direction and the
station's staff on duty — all through the DeskService gRPC API, never its database.

The desk learns members, guests and stations from events: every step that needs them waits with a deadline, and a
failure prints a warning and goes on (the demo never aborts for the desk).
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from typing import Any, TypeVar

import grpc
from google.protobuf.timestamp_pb2 import Timestamp

from jinqiao.demo.flows import bearer
from jinqiao.desk.v1 import desk_pb2, desk_pb2_grpc, tickets_pb2
from jinqiao.gateway.accounts import Account
from jinqiao.gateway.settings import GatewaySettings
from jinqiao.kit.auth import Role, TokenIssuer
from jinqiao.kit.channels import open_settings_channel
from jinqiao.kit.regions import name_of
from jinqiao.registry.v1 import flows_pb2, registry_pb2, registry_pb2_grpc

STATION_COUNTY = "411525"  # 固始县: the station with logins, the guests, the demo member and both referrals
GUEST_COUNTIES = ("411526", "411522")  # their members work in 固始县城, placed in its station (demo/flows.py)
AWAY_DESTINATION = "410105"  # a 固始县 member away there gets the TO_STATION referral
STATES = ("new", "accepted", "in_progress", "awaiting_info", "resolved", "reviewed", "closed")
# The moves that bring a new ticket to each state (staff recording a phone 回访 may rate it).
MOVES: dict[str, tuple[str, ...]] = {
    "new": (), "accepted": ("accept",), "in_progress": ("accept", "start"),
    "awaiting_info": ("accept", "start", "request_info"), "resolved": ("accept", "start", "resolve"),
    "reviewed": ("accept", "start", "resolve", "rate"), "closed": ("close",),
}
MAX_RECEIVED_AGE = timedelta(days=30)  # the desk refuses a 补录 older than this
WAIT_SECONDS = 30.0
STAFF = (("station", "张敏（驻城党建工作站）"), ("grid", "李强（网格长）"))  # the station's logins: <name>-<county>


@dataclass(frozen=True)
class Story:
    """What a demo request is about: its category (by group, and a word of its name), title and description."""

    group: str
    hint: str
    title: str
    description: str


# One story per state, so that every station shows every state with something plausible in it. The ages are real
# hours before now: a new 讨薪 two days old is past its same-day first response, an 已受理 from this morning is not.
PLAN: dict[str, tuple[Story, timedelta]] = {
    "new": (Story("法律援助", "讨薪", "工地拖欠三个月工资",
                  "在县城某小区工地做木工，包工头拖欠 9 月至 11 月工资，多次讨要未果。"), timedelta(days=2)),
    "accepted": (Story("就业", "", "想找物流仓储方面的工作",
                       "之前在外地做快递分拣，回县城后想找离家近的物流仓储岗位。"), timedelta(hours=5)),
    "in_progress": (Story("医保/社保", "", "异地就医备案怎么办",
                          "在县城务工期间住院，需要办理异地就医备案和报销。"), timedelta(days=6)),
    "awaiting_info": (Story("子女就学", "", "孩子在县城上小学",
                            "随迁子女明年秋季入学，想了解县城小学入学需要哪些材料。"), timedelta(days=3)),
    "resolved": (Story("技能培训", "", "报名电工培训",
                       "想考低压电工证，询问县里免费培训班的报名时间。"), timedelta(days=9)),
    "reviewed": (Story("民政救助", "", "家中老人重病申请临时救助",
                       "母亲突发重病住院，家庭困难，申请临时救助。"), timedelta(days=20)),
    "closed": (Story("留守家属关爱", "", "请帮忙看望家中老人",
                     "常年在外务工，家中父亲独居，希望村里帮忙定期看望。"), timedelta(days=12)),
}
# 固始县's station has more: a fresh 讨薪 (near its same-day due), one long in progress (past its resolution due),
# and guests of other counties placed there — the first of them referred home (TO_HOME) and accepted there.
EXTRA_STATION: tuple[tuple[str, Story, timedelta], ...] = (
    ("new", Story("法律援助", "讨薪", "装修工钱被拖欠", "给装修公司干活两个月，工钱 1.2 万元一直拖着不给。"),
     timedelta(hours=1)),
    ("in_progress", Story("法律援助", "工伤", "工地受伤申请工伤认定",
                          "在工地从脚手架摔下，腿部骨折，老板不认工伤。"), timedelta(days=18)),
)
GUEST_STORY = Story("医保/社保", "", "在户籍地的医保断缴了", "外出务工后户籍地医保断缴，想补缴并接续，需要户籍地办理。")
GUEST_SECOND = Story("就业", "", "想在县城找餐饮工作", "在县城餐馆做帮厨，想找更稳定的厨师岗位。")
AWAY_STORY = Story("法律援助", "讨薪", "在郑州务工被拖欠工资",
                   "在郑州金水区做装修，老板拖欠工资 2 万元，家里托村支部帮忙，需要流入地工作站就近协调。")
MEMBER_STORIES = (  # the demo member's own: (state after the seed, story)
    ("awaiting_info", Story("法律援助", "讨薪", "包工头拖欠工资", "在郑州工地干了四个月，包工头跑了，欠薪 3 万多元。")),
    ("resolved", Story("技能培训", "", "想参加家政服务培训", "妻子想参加家政服务培训，询问报名方式。")),
)
REPLIES = {
    "accept": "您的诉求已受理，工作人员会尽快与您联系。",
    "request_info": "请上传劳动合同或工资条、考勤记录的照片，以及拖欠工资的欠条（如有）。",
    "resolve": "已与相关单位协调办理完毕，如有问题可在办结后 15 日内申请重新办理。",
}


@dataclass(frozen=True)
class PlannedTicket:
    """One demo ticket: who files it where, for whom, about what, received when, and the state it ends in."""

    key: str
    county: str
    member_home: str
    member_id: str
    story: Story
    state: str
    age: timedelta
    guest: bool = False
    refer_to: str = ""


def plan_station(county: str, members: Sequence[str], *, guests: Sequence[tuple[str, str]] = ()) -> list[PlannedTicket]:
    """The tickets of one county's station: every state once (members in turn), and at 固始县 more and its guests."""
    if not members:
        return []
    plan = [PlannedTicket(key=f"demo-desk-{county}-{i}", county=county, member_home=county,
                          member_id=members[i % len(members)], story=story, state=state, age=age)
            for i, (state, (story, age)) in enumerate(PLAN.items())]
    if county == STATION_COUNTY:
        start = len(plan)
        plan += [PlannedTicket(key=f"demo-desk-{county}-{start + i}", county=county, member_home=county,
                               member_id=members[(start + i) % len(members)], story=story, state=state, age=age)
                 for i, (state, story, age) in enumerate(EXTRA_STATION)]
        for i, (home, member) in enumerate(guests):
            first = i == 0
            plan.append(PlannedTicket(
                key=f"demo-desk-{county}-guest-{i}", county=county, member_home=home, member_id=member,
                story=GUEST_STORY if first else GUEST_SECOND, state="accepted" if first else "in_progress",
                age=timedelta(days=1 + i), guest=True, refer_to=home if first else ""))
    return plan


def sample_form(fields: Sequence[tickets_pb2.FormField], *, today: date) -> dict[str, Any]:
    """Plausible values for a category's form, each valid for its type and bounds (money in whole 分)."""
    words = {"employer": "县城某建筑劳务有限公司", "work_site": "蓼城大道东段安置小区工地", "skills": "叉车、仓储管理",
             "preferred_area": "县城及周边", "schedule": "周末", "insured_place": "户籍地", "school_area": "县城城区",
             "home_village": "陈淋子镇新庄村", "need": "定期上门看望", "detail": "详见描述"}
    values: dict[str, Any] = {}
    for f in fields:
        t = f.type
        if t == tickets_pb2.FIELD_TYPE_MONEY_FEN:
            values[f.key] = _within(3_000_000, f)  # 3 万元 of unpaid wages
        elif t == tickets_pb2.FIELD_TYPE_INTEGER:
            values[f.key] = _within(3, f)
        elif t == tickets_pb2.FIELD_TYPE_DATE:
            values[f.key] = (today - timedelta(days=20)).isoformat()
        elif t == tickets_pb2.FIELD_TYPE_CHOICE:
            if f.choices:
                values[f.key] = f.choices[0]
        elif t == tickets_pb2.FIELD_TYPE_BOOL:
            values[f.key] = True
        elif t == tickets_pb2.FIELD_TYPE_PHONE:
            values[f.key] = "13912345678"
        elif t in (tickets_pb2.FIELD_TYPE_TEXT, tickets_pb2.FIELD_TYPE_LONG_TEXT):
            text = words.get(f.key, f.label or "见描述")
            values[f.key] = text[: f.max_length] if f.max_length else text
    return values


def _within(value: int, field: tickets_pb2.FormField) -> int:
    """``value`` moved inside the field's bounds (0 for a bound means none; a number is at least 1)."""
    low = max(field.min, 1)
    high = field.max if field.max >= low else None
    return min(max(value, low), high) if high is not None else max(value, low)


def pick_category(categories: Sequence[tickets_pb2.TicketCategory], story: Story) -> tickets_pb2.TicketCategory | None:
    """The county's category for a story: its group, and the one whose name has the hint when there is one."""
    in_group = [c for c in categories if c.group == story.group and c.enabled]
    hinted = [c for c in in_group if story.hint and story.hint in c.name]
    chosen = hinted or in_group or [c for c in categories if c.enabled and c.group == "其他"]
    return chosen[0] if chosen else None


def received(age: timedelta, *, now: datetime) -> Timestamp | None:
    """The 补录 time ``age`` before now (None for now itself), never beyond the desk's 30 days."""
    if age <= timedelta(0):
        return None
    stamp = Timestamp()
    stamp.FromDatetime(now - min(age, MAX_RECEIVED_AGE - timedelta(hours=1)))
    return stamp


T = TypeVar("T")
Meta = tuple[tuple[str, str], ...]  # gRPC metadata carrying a bearer token


async def _retry(call: Callable[[], Awaitable[T]], *, until: float, waiting_for: Callable[[grpc.aio.AioRpcError], bool]
                 ) -> T:
    """Call until it works, retrying while the error says the desk has not learnt something yet."""
    while True:
        try:
            return await call()
        except grpc.aio.AioRpcError as err:
            if not waiting_for(err) or asyncio.get_running_loop().time() > until:
                raise
            await asyncio.sleep(0.5)


def _not_synced(err: grpc.aio.AioRpcError) -> bool:
    """The desk's replica does not know the member, guest, station or placement yet."""
    return err.code() in (grpc.StatusCode.FAILED_PRECONDITION, grpc.StatusCode.INVALID_ARGUMENT,
                          grpc.StatusCode.NOT_FOUND)


def _warn(what: str, err: BaseException) -> None:
    detail = err.details() if isinstance(err, grpc.aio.AioRpcError) else repr(err)
    print(f"演示服务台：{what}未完成 demo desk: {what} skipped: {detail}")


class _Desk:
    """The DeskService stub with the tokens of the demo's actors."""

    def __init__(self, stub: desk_pb2_grpc.DeskServiceAsyncStub, issuer: TokenIssuer, until: float) -> None:
        self.stub = stub
        self.issuer = issuer
        self.until = until

    def admin(self, county: str) -> Meta:
        return bearer(self.issuer.issue(user=f"county-{county}", role=Role.COUNTY_ADMIN, scope=county)[0])

    def staff(self, user: str, county: str, station: str) -> Meta:
        return bearer(self.issuer.issue(user=user, role=Role.STATION_STAFF, scope=county, org=station)[0])

    def member(self, county: str, member: str) -> Meta:
        return bearer(self.issuer.issue(user=f"member-{county}", role=Role.MEMBER, scope=county, member=member)[0])

    async def station_of(self, county: str) -> str:
        """The county's 驻城党建工作站 queue (its org id), once the desk knows the station; "" when it never does."""
        async def ask() -> str:
            queues = await self.stub.ListQueues(desk_pb2.ListQueuesRequest(), metadata=self.admin(county), timeout=10)
            station = next((q.org_id for q in queues.queues if q.org_id), "")
            if not station:
                raise LookupError
            return station
        while True:
            try:
                return await ask()
            except LookupError:
                if asyncio.get_running_loop().time() > self.until:
                    return ""
                await asyncio.sleep(0.5)

    async def move(self, ticket: tickets_pb2.Ticket, step: str, meta: Meta) -> tickets_pb2.Ticket:
        """One act on a ticket, with the version it was read at."""
        s, v, i = self.stub, ticket.version, ticket.id
        if step == "accept":
            return (await s.AcceptTicket(desk_pb2.AcceptTicketRequest(id=i, message=REPLIES["accept"], version=v),
                                         metadata=meta, timeout=10)).ticket
        if step == "start":
            return (await s.StartTicket(desk_pb2.StartTicketRequest(id=i, version=v), metadata=meta, timeout=10)).ticket
        if step == "request_info":
            return (await s.RequestTicketInfo(desk_pb2.RequestTicketInfoRequest(
                id=i, message=REPLIES["request_info"], version=v), metadata=meta, timeout=10)).ticket
        if step == "resolve":
            return (await s.ResolveTicket(desk_pb2.ResolveTicketRequest(id=i, resolution=REPLIES["resolve"], version=v),
                                          metadata=meta, timeout=10)).ticket
        if step == "rate":
            return (await s.RateTicket(desk_pb2.RateTicketRequest(id=i, score=5, comment="电话回访：党员表示满意"),
                                       metadata=meta, timeout=10)).ticket
        if step == "close":
            return (await s.CloseTicket(desk_pb2.CloseTicketRequest(
                id=i, reason="DUPLICATE", note="与村党支部已登记的关爱事项重复，并入办理", version=v),
                metadata=meta, timeout=10)).ticket
        raise ValueError(step)

    async def walk(self, ticket: tickets_pb2.Ticket, state: str, meta: Meta) -> tickets_pb2.Ticket:
        """Bring a new ticket to its planned state (a ticket filed by an earlier seed stays as it is)."""
        if ticket.status != tickets_pb2.TICKET_STATUS_NEW:
            return ticket
        for step in MOVES[state]:
            ticket = await self.move(ticket, step, meta)
        return ticket


async def _categories(desk: _Desk, county: str) -> list[tickets_pb2.TicketCategory]:
    reply = await desk.stub.ListTicketCategories(desk_pb2.ListTicketCategoriesRequest(), metadata=desk.admin(county),
                                                 timeout=10)
    return list(reply.categories)


async def _file(desk: _Desk, *, planned: PlannedTicket, categories: Sequence[tickets_pb2.TicketCategory],
                station: str, meta: Meta, now: datetime,
                channel: tickets_pb2.TicketChannel.ValueType = tickets_pb2.TICKET_CHANNEL_WALK_IN,
                ) -> tickets_pb2.Ticket | None:
    """File one planned ticket (waiting while the desk learns its member) and walk it to its state."""
    category = pick_category(categories, planned.story)
    if category is None:
        print(f"演示服务台：{planned.county} 没有“{planned.story.group}”类别 demo desk: no category")
        return None
    request = desk_pb2.CreateTicketRequest(
        category=category.code, title=planned.story.title, description=planned.story.description,
        form_json=_json(sample_form(category.fields, today=now.date())), member_home_tenant_id=planned.member_home,
        member_id=planned.member_id, serving_org_id=station, channel=channel, request_id=planned.key)
    stamp = received(planned.age, now=now)
    if stamp is not None:
        request.received_time.CopyFrom(stamp)
    reply = await _retry(lambda: desk.stub.CreateTicket(request, metadata=meta, timeout=10), until=desk.until,
                         waiting_for=_not_synced)
    return await desk.walk(reply.ticket, planned.state, meta)


def _json(values: dict[str, Any]) -> str:
    return json.dumps(values, ensure_ascii=False)


async def _members(registry: registry_pb2_grpc.RegistryServiceAsyncStub, issuer: TokenIssuer, county: str) -> list[str]:
    """Members of a county to file for (those at home first: a station serves people in its county)."""
    meta = bearer(issuer.issue(user="demo-seed", role=Role.COUNTY_ADMIN, scope=county)[0])
    page = await registry.ListMembers(registry_pb2.ListMembersRequest(page_size=40), metadata=meta, timeout=10)
    home = [m.id for m in page.members if not m.flow_status]
    return home or [m.id for m in page.members]


async def _flows_to(registry: registry_pb2_grpc.RegistryServiceAsyncStub, issuer: TokenIssuer, county: str,
                    destination: str) -> list[str]:
    """Members of ``county`` away in ``destination`` with an open placement (offered or checked in)."""
    meta = bearer(issuer.issue(user="demo-seed", role=Role.COUNTY_ADMIN, scope=county)[0])
    page = await registry.ListFlows(flows_pb2.ListFlowsRequest(
        page_size=20, destination_code=destination,
        statuses=[flows_pb2.FLOW_STATUS_OFFERED, flows_pb2.FLOW_STATUS_MANAGED]), metadata=meta, timeout=10)
    return [f.member_id for f in page.flows]


async def _seed_county(desk: _Desk, *, county: str, members: list[str], guests: list[tuple[str, str]],
                       now: datetime) -> dict[str, tickets_pb2.Ticket]:
    """One county's station tickets; returns the tickets by plan key."""
    station = await desk.station_of(county)
    if not station:
        print(f"演示服务台：{name_of(county)}的服务台尚未同步工作站 demo desk: no station queue in {county}")
    categories = await _categories(desk, county)
    at_home = county == STATION_COUNTY and station  # 固始县's own station login files there, as a walk-in would be
    meta = desk.staff(f"station-{county}", county, station) if at_home else desk.admin(county)
    done: dict[str, tickets_pb2.Ticket] = {}
    for planned in plan_station(county, members, guests=guests):
        try:
            ticket = await _file(desk, planned=planned, categories=categories, station=station, meta=meta, now=now)
        except grpc.aio.AioRpcError as err:
            _warn(f"{name_of(county)}工单“{planned.story.title}”", err)
            continue
        if ticket is not None:
            done[planned.key] = ticket
    return done


async def _on_duty(desk: _Desk, station: str) -> None:
    """The station's two logins on duty, so round robin has someone to pick."""
    for login, display in STAFF:
        user = f"{login}-{STATION_COUNTY}"
        await desk.stub.SetDuty(desk_pb2.SetDutyRequest(queue=station, on_duty=True, display_name=display),
                                metadata=desk.staff(user, STATION_COUNTY, station), timeout=10)


async def _assign_in_turn(desk: _Desk, station: str, tickets: Sequence[tickets_pb2.Ticket]) -> None:
    """The station's open tickets shared out round robin among the staff on duty (the feature the issue calls out)."""
    meta = desk.staff(f"station-{STATION_COUNTY}", STATION_COUNTY, station)
    working = (tickets_pb2.TICKET_STATUS_ACCEPTED, tickets_pb2.TICKET_STATUS_IN_PROGRESS,
               tickets_pb2.TICKET_STATUS_AWAITING_INFO)
    for ticket in tickets:
        if ticket.status in working and ticket.serving_org_id == station and not ticket.assignee:
            await desk.stub.AssignTicket(desk_pb2.AssignTicketRequest(id=ticket.id, round_robin=True,
                                                                      version=ticket.version),
                                         metadata=meta, timeout=10)


async def _refer_home(desk: _Desk, ticket: tickets_pb2.Ticket, planned: PlannedTicket, station: str) -> None:
    """TO_HOME: 固始县's station refers a guest's request to the guest's home county, which accepts it."""
    meta = desk.staff(f"station-{STATION_COUNTY}", STATION_COUNTY, station)
    if not ticket.outgoing_referral_id:
        await desk.stub.ReferTicket(desk_pb2.ReferTicketRequest(
            id=ticket.id, to_tenant_id=planned.refer_to, reason="医保补缴和接续需在户籍地医保部门办理，请户籍地协助。",
            request_id=f"{planned.key}-refer"), metadata=meta, timeout=10)
    home = desk.admin(planned.refer_to)

    async def pending() -> str:
        page = await desk.stub.ListReferrals(desk_pb2.ListReferralsRequest(incoming=True, page_size=50),
                                             metadata=home, timeout=10)
        found = next((r.id for r in page.referrals if r.member_id == planned.member_id), "")
        if not found:
            raise LookupError
        return found
    while True:
        try:
            referral = await pending()
            break
        except LookupError:
            if asyncio.get_running_loop().time() > desk.until:
                print("演示服务台：户籍地尚未收到转办 demo desk: the TO_HOME referral has not arrived")
                return
            await asyncio.sleep(0.5)
    await desk.stub.AcceptReferral(desk_pb2.AcceptReferralRequest(referral_id=referral), metadata=home, timeout=10)


async def _member_own(desk: _Desk, member: str, categories: Sequence[tickets_pb2.TicketCategory]) -> None:
    """The demo member's two requests from their phone: one awaiting materials, one resolved waiting for a rating."""
    mine = desk.member(STATION_COUNTY, member)
    office = desk.admin(STATION_COUNTY)
    for index, (state, story) in enumerate(MEMBER_STORIES):
        category = pick_category(categories, story)
        if category is None:
            continue
        request = desk_pb2.CreateTicketRequest(
            category=category.code, title=story.title, description=story.description,
            form_json=_json(sample_form(category.fields, today=datetime.now(UTC).date())),
            request_id=f"demo-desk-member-{index}")
        def create(r: desk_pb2.CreateTicketRequest = request) -> Awaitable[desk_pb2.CreateTicketResponse]:
            return desk.stub.CreateTicket(r, metadata=mine, timeout=10)
        try:
            ticket = (await _retry(create, until=desk.until, waiting_for=_not_synced)).ticket
            await desk.walk(ticket, state, office)
        except grpc.aio.AioRpcError as err:
            _warn(f"演示党员的诉求“{story.title}”", err)


async def _refer_to_station(desk: _Desk, member: str, categories: Sequence[tickets_pb2.TicketCategory],
                            now: datetime) -> None:
    """TO_STATION: 固始县 files for its member away in 410105 (HOME_COUNTY) and refers it there, left pending."""
    planned = PlannedTicket(key=f"demo-desk-{STATION_COUNTY}-away", county=STATION_COUNTY, member_home=STATION_COUNTY,
                            member_id=member, story=AWAY_STORY, state="accepted", age=timedelta(hours=3))
    meta = desk.admin(STATION_COUNTY)
    ticket = await _file(desk, planned=planned, categories=categories, station="", meta=meta, now=now,
                         channel=tickets_pb2.TICKET_CHANNEL_HOME_COUNTY)
    if ticket is None or ticket.outgoing_referral_id:
        return
    request = desk_pb2.ReferTicketRequest(
        id=ticket.id, to_tenant_id=AWAY_DESTINATION, reason="党员在郑州市金水区务工，请流入地工作站就近协调用工单位。",
        request_id=f"{planned.key}-refer")
    await _retry(lambda: desk.stub.ReferTicket(request, metadata=meta, timeout=10), until=desk.until,
                 waiting_for=lambda e: e.code() == grpc.StatusCode.INVALID_ARGUMENT)


async def seed_desk(*, settings: GatewaySettings, issuer: TokenIssuer, counties: Sequence[str],
                    member_login: Account | None) -> int:
    """Seed the desk; return how many tickets the station plans produced. Never raises: the demo goes on."""
    started = asyncio.get_running_loop().time()
    try:
        filed = await _seed_desk(settings=settings, issuer=issuer, counties=counties, member_login=member_login)
        took = asyncio.get_running_loop().time() - started
        print(f"演示服务台已就绪 demo desk seeded: {filed} station tickets in {took:.1f} s")
        return filed
    except Exception as err:  # a demo nicety must not stop `jinqiao up`
        _warn("服务台演示数据", err)
        return 0


async def _seed_desk(*, settings: GatewaySettings, issuer: TokenIssuer, counties: Sequence[str],
                     member_login: Account | None) -> int:
    now = datetime.now(UTC)
    demo_member = member_login.acting_member if member_login else None
    async with open_settings_channel(settings.target("registry"), settings) as channel:
        registry: registry_pb2_grpc.RegistryServiceAsyncStub = registry_pb2_grpc.RegistryServiceStub(channel)
        members = {c: await _members(registry, issuer, c) for c in counties}
        guests = [(home, m) for home in GUEST_COUNTIES if home in counties
                  for m in (await _flows_to(registry, issuer, home, STATION_COUNTY))[:1]]
        away = [m for m in await _flows_to(registry, issuer, STATION_COUNTY, AWAY_DESTINATION) if m != demo_member]
    away_member = away[0] if away else demo_member
    async with open_settings_channel(settings.target("desk"), settings) as channel:
        desk = _Desk(desk_pb2_grpc.DeskServiceStub(channel), issuer,
                     asyncio.get_running_loop().time() + WAIT_SECONDS)

        async def county_run(county: str) -> dict[str, tickets_pb2.Ticket]:
            try:
                return await _seed_county(desk, county=county, members=members.get(county, []),
                                          guests=guests if county == STATION_COUNTY else [], now=now)
            except grpc.aio.AioRpcError as err:
                _warn(f"{name_of(county)}的工单", err)
                return {}

        results = await asyncio.gather(*(county_run(c) for c in counties))
        tickets = {k: t for r in results for k, t in r.items()}
        if STATION_COUNTY not in counties:
            return len(tickets)
        station = await desk.station_of(STATION_COUNTY)
        categories = await _categories(desk, STATION_COUNTY)
        steps: list[tuple[str, Awaitable[None]]] = []
        if station:
            steps.append(("工作站值班", _on_duty(desk, station)))
            steps.append(("轮流分派", _assign_in_turn(desk, station, [
                t for k, t in tickets.items() if k.startswith(f"demo-desk-{STATION_COUNTY}-")])))
            for planned in plan_station(STATION_COUNTY, members.get(STATION_COUNTY, []), guests=guests):
                if planned.refer_to and planned.key in tickets:
                    steps.append(("转户籍地县委", _refer_home(desk, tickets[planned.key], planned, station)))
        if demo_member:
            steps.append(("演示党员的诉求", _member_own(desk, demo_member, categories)))
        if away_member:
            steps.append(("转流入地服务站", _refer_to_station(desk, away_member, categories, now)))
        for what, step in steps:
            try:
                await step
            except grpc.aio.AioRpcError as err:
                _warn(what, err)
        return len(tickets)


def count_states(plan: Sequence[PlannedTicket]) -> dict[str, int]:
    """How many planned tickets end in each state (for the seed's summary and its tests)."""
    counts = dict.fromkeys(STATES, 0)
    for p in plan:
        counts[p.state] += 1
    return counts


def demo_plan(counties: Sequence[str]) -> list[PlannedTicket]:
    """The whole plan with made-up member ids (what the seed does, minus the lookups): for tests and docs."""
    plan: list[PlannedTicket] = []
    for county in counties:
        members = [f"{county}-m{i}" for i in range(10)]
        guests = [(home, f"{home}-guest") for home in GUEST_COUNTIES] if county == STATION_COUNTY else []
        plan += plan_station(county, members, guests=guests)
    return plan
