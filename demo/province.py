"""The synthetic province (issue 16): Henan's shape, grown through the platform's own APIs and event paths.

157 county-level tenants under 18 cities (17 prefecture-level and 济源); at 1,000,000 members about 50,000
organisations (county committee → townships → branches, a station, an online branch, 驻外 branches), 15% of the
members away (registered flows over the past year, placed by the saga, most checked in, some returned), tickets for
about 20% of the away members and loan applications for about 3%. Everything is derived from (seed, county, index),
so ``generate(members=N)`` is incremental: each county continues from the member count the registry reports, and a
province of 10,000 grows to 100,000 and 1,000,000 by adding members, organisations, flows… in proportion. Nothing
holds the province in memory: each county streams its rows in chunks.
"""

from __future__ import annotations

import argparse
import asyncio
import csv
import hashlib
import io
import json
import math
import os
import random
import time
from collections.abc import Awaitable, Callable, Iterator, Sequence
from dataclasses import asdict, dataclass, field
from datetime import date, timedelta
from functools import partial
from pathlib import Path
from typing import Any, TypeVar

import grpc

from jinqiao.demo import loans as demo_loans
from jinqiao.demo.desk import sample_form
from jinqiao.desk.v1 import desk_pb2, desk_pb2_grpc, loans_pb2, tickets_pb2
from jinqiao.kit import pii
from jinqiao.kit.auth import Role, TokenIssuer
from jinqiao.kit.channels import open_channel
from jinqiao.kit.clock import china_date, utc_now
from jinqiao.kit.regions import NAMES, name_of
from jinqiao.kit.settings import KitSettings
from jinqiao.organizations.v1 import organizations_pb2 as pb_orgs
from jinqiao.organizations.v1 import organizations_pb2_grpc
from jinqiao.registry.v1 import flows_pb2, imports_pb2, registry_pb2, registry_pb2_grpc

PROVINCE = "41"
# The county-level divisions of 河南省 (kit/regions.py holds their names): every six-digit code under 41.
COUNTIES: tuple[str, ...] = tuple(sorted(c for c in NAMES if len(c) == 6 and c.startswith(PROVINCE)))
CITIES: tuple[str, ...] = tuple(sorted({c[:4] for c in COUNTIES}))
# Where members work outside the province; the first three have a 驻外党总支 of every county.
OUTSIDE: tuple[str, ...] = ("110000", "310000", "440100", "440300", "320500", "330100", "420100")
EXTERNAL_BRANCH_CITIES = OUTSIDE[:3]
AWAY_SHARE = 0.15
OUTSIDE_SHARE = 0.4  # of the away members, those working outside the province
CHECKED_IN_SHARE = 0.85  # of the placed members, those who did their 报到
RETURNED_SHARE = 0.1  # of the away members, those who came home
TICKET_SHARE = 0.2  # of the away members, those with a ticket at the desk
LOAN_SHARE = 0.03  # of the away members, those applying for a loan
MEMBERS_PER_ORG = 20  # 1,000,000 members, 50,000 organisations
BRANCHES_PER_TOWNSHIP = 12
CHUNK = 2000  # member indices per import file and step
PER_COUNTY = 2  # away members registered at once in one county
BIRTH_DAYS = 16425  # 45 years of birth dates (1961–2005): with the 顺序码 they number ID numbers uniquely
_STRIDE = 7919  # a prime not dividing BIRTH_DAYS: consecutive members get scattered birth dates
WAIT_SECONDS = 120.0
TREE_WAIT_SECONDS = 600.0  # a loaded platform may take minutes to tell the registry of thousands of new branches
WARNINGS = 20
LOAN_WAIT_SECONDS = 20.0
HEADERS = ["姓名", "性别", "民族", "出生日期", "公民身份号码", "手机号码", "学历", "入党日期", "党员类别", "乡镇(街道)",
           "村(社区)", "职业"]
SURNAMES = "王李张刘陈杨黄赵吴周徐孙马朱胡郭何高林罗郑梁谢宋唐许韩冯邓曹彭曾肖田董袁潘于蒋蔡余杜叶程苏魏吕丁任"
GIVEN = "建国伟华军平红明秀英丽强磊洋勇艳杰娟涛超霞刚玲桂芳敏静海波辉鹏宇浩凯俊峰志新春燕兰凤琴云亮成林胜利忠民学文"
TOWN_WORDS = "城关陈集黎庄蒋店往流郭陆胡族三河段汪棚李营张桥王岗刘湾杨楼赵屯"
VILLAGE_WORDS = ("新庄村", "李店村", "王楼村", "张湾村", "河口村", "桥头村", "东岗村", "西湾社区", "南街社区", "北关村",
                 "前营村", "后寨村")
OCCUPATIONS = ("建筑工人", "个体经营", "物流配送", "餐饮服务", "电子厂工人", "家政服务", "农业种植", "网约车司机",
               "装修工", "外卖骑手")
EDUCATION = ("初中", "高中", "中专", "大专", "本科")
TRADES = ("建筑", "物流", "餐饮", "电子", "家政服务", "装修")
T = TypeVar("T")


# ------------------------------------------------------------------------------------------------ the plan


def weight(county: str) -> float:
    """A county's share of the province (between 0.5 and 1.5 of the mean), fixed by its code."""
    return 0.5 + int(hashlib.sha256(county.encode()).hexdigest()[:8], 16) / 0xFFFFFFFF


def shares(members: int, counties: Sequence[str] = COUNTIES) -> dict[str, int]:
    """How many members each county holds in a province of ``members``: floors of the weights, the remainder to
    the heaviest counties (a larger province never gives a county fewer)."""
    total = sum(weight(c) for c in counties)
    exact = {c: members * weight(c) / total for c in counties}
    out = {c: math.floor(v) for c, v in exact.items()}
    for c in sorted(counties, key=lambda c: exact[c] - out[c], reverse=True)[: members - sum(out.values())]:
        out[c] += 1
    return out


def _unit(*parts: object) -> float:
    """A number in [0, 1) fixed by the parts (the plan's dice, the same on every run)."""
    digest = hashlib.blake2b("|".join(map(str, parts)).encode(), digest_size=8).digest()
    return int.from_bytes(digest, "big") / 2**64


@dataclass(frozen=True, slots=True)
class Member:
    """One planned member of a county (index ``index``)."""

    county: str
    index: int
    name: str
    id_number: str
    birth: date
    phone: str
    probationary: bool
    township: str
    village: str
    occupation: str
    education: str
    join_date: date

    @property
    def gender(self) -> str:
        """男 or 女, from the ID number's 17th digit (odd: male)."""
        return "男" if int(self.id_number[16]) % 2 else "女"


def member(county: str, index: int, *, seed: int) -> Member:
    """The county's member number ``index``: a valid ID number of the county (GB 11643), unique per index."""
    rng = random.Random(f"{seed}-{county}-{index}")
    birth = date(1961, 1, 1) + timedelta(days=(index * _STRIDE) % BIRTH_DAYS)
    id_number = pii.make_id_number(county, birth, index // BIRTH_DAYS)
    join = birth + timedelta(days=365 * rng.randint(19, 30) + rng.randrange(0, 365))
    return Member(
        county=county, index=index,
        name=rng.choice(SURNAMES) + "".join(rng.choice(GIVEN) for _ in range(rng.choice((1, 2)))),
        id_number=id_number, birth=birth, phone=f"1{rng.choice('3578')}{rng.randrange(0, 10**9):09d}",
        probationary=rng.random() < 0.07, township=township_name(rng.randrange(0, 8)),
        village=rng.choice(VILLAGE_WORDS), occupation=rng.choice(OCCUPATIONS), education=rng.choice(EDUCATION),
        join_date=min(join, date(2025, 6, 30)),
    )


def away(county: str, index: int, *, seed: int) -> bool:
    """Whether the member works away from home (15%): these are registered one by one and get a flow."""
    return _unit(seed, county, index, "away") < AWAY_SHARE


@dataclass(frozen=True, slots=True)
class Flow:
    """The planned flow of an away member."""

    destination: str
    address: str
    industry: str
    start_date: date
    expected_months: int
    returned: bool
    ticket: bool
    loan: bool


def flow(county: str, index: int, *, seed: int, today: date) -> Flow:
    """Where and since when an away member works (over the past year), and what else happens to them."""
    rng = random.Random(f"{seed}-{county}-{index}-flow")
    if rng.random() < OUTSIDE_SHARE:
        destination = rng.choice(OUTSIDE)
    else:
        destination = rng.choice([c for c in COUNTIES if c != county])
    dice = _unit(seed, county, index, "fate")
    return Flow(
        destination=destination, address=f"{name_of(destination)}{rng.choice(['人民路', '建设路', '滨河路'])}"
                                         f" {rng.randint(1, 300)} 号",
        industry=rng.choice(TRADES), start_date=today - timedelta(days=rng.randint(1, 365)),
        expected_months=rng.choice((3, 6, 12)), returned=dice < RETURNED_SHARE,
        ticket=RETURNED_SHARE <= dice < RETURNED_SHARE + TICKET_SHARE,
        loan=RETURNED_SHARE + TICKET_SHARE <= dice < RETURNED_SHARE + TICKET_SHARE + LOAN_SHARE,
    )


def checks_in(flow_id: str) -> bool:
    """Whether the placed member of this flow did their 报到 (85%, fixed by the flow)."""
    return _unit(flow_id, "check-in") < CHECKED_IN_SHARE


def township_name(number: int) -> str:
    """The county's township number ``number`` (城关镇 first)."""
    a, b = divmod(number, len(TOWN_WORDS) // 2)
    return f"{TOWN_WORDS[2 * b:2 * b + 2]}{'' if a == 0 else a + 1}镇"


@dataclass(frozen=True, slots=True)
class PlannedOrg:
    """An organisation of a county's tree; ``parent`` is the name of its parent (the root's is "")."""

    name: str
    kind: pb_orgs.OrgKind.ValueType
    parent: str
    city_code: str = ""
    industry: str = ""
    coverage: str = ""


def skeleton(county: str) -> list[PlannedOrg]:
    """What every county has from its first member: the committee, a station with its temporary branch, an online
    branch, and a 驻外党总支 in each of the three cities outside the province most members go to."""
    place = name_of(county)
    root = f"中共{place}委员会"
    orgs = [PlannedOrg(root, pb_orgs.ORG_KIND_COUNTY_COMMITTEE, ""),
            PlannedOrg(f"{place}驻城党建工作站", pb_orgs.ORG_KIND_TOWN_STATION, root),
            PlannedOrg(f"{place}驻城临时党支部", pb_orgs.ORG_KIND_TEMPORARY_BRANCH, f"{place}驻城党建工作站"),
            PlannedOrg(f"{place}网上党支部", pb_orgs.ORG_KIND_ONLINE_BRANCH, root)]
    orgs += [PlannedOrg(f"{place}驻{name_of(code).removesuffix('市')}流动党员党总支",
                        pb_orgs.ORG_KIND_EXTERNAL_GENERAL_BRANCH, root, city_code=code)
             for code in EXTERNAL_BRANCH_CITIES]
    return orgs


def org_plan(county: str, members: int) -> list[PlannedOrg]:
    """The county's tree for ``members`` members: the skeleton, then townships of 12 branches, one organisation
    per 20 members (a larger county's plan begins with a smaller one's: growth only adds)."""
    orgs = skeleton(county)
    root = orgs[0].name
    wanted = max(len(orgs) + 2, math.ceil(members / MEMBERS_PER_ORG))
    position = 0
    while len(orgs) < wanted:
        township, slot = divmod(position, BRANCHES_PER_TOWNSHIP + 1)
        town = f"{township_name(township)}党委"
        if slot == 0:
            orgs.append(PlannedOrg(town, pb_orgs.ORG_KIND_TOWNSHIP_COMMITTEE, root))
        else:
            village = VILLAGE_WORDS[(slot - 1) % len(VILLAGE_WORDS)]
            kind = pb_orgs.ORG_KIND_COMMUNITY_BRANCH if village.endswith("社区") else pb_orgs.ORG_KIND_VILLAGE_BRANCH
            orgs.append(PlannedOrg(f"{township_name(township)}{village}党支部", kind, town, coverage=village))
        position += 1
    return orgs


def csv_rows(county: str, start: int, stop: int, *, seed: int) -> Iterator[list[str]]:
    """The 台账 rows of the members at home among indices [start, stop)."""
    for index in range(start, stop):
        if away(county, index, seed=seed):
            continue
        m = member(county, index, seed=seed)
        yield [m.name, m.gender, "汉族", m.birth.isoformat(), m.id_number, m.phone, m.education,
               f"{m.join_date.year}/{m.join_date.month}/{m.join_date.day}",
               "预备党员" if m.probationary else "正式党员",
               m.township, m.village, m.occupation]


def csv_file(rows: Iterator[list[str]]) -> tuple[bytes, int]:
    """A 台账 as Excel on Chinese Windows saves it (GB18030), and its number of rows."""
    out = io.StringIO()
    writer = csv.writer(out)
    writer.writerow(HEADERS)
    count = 0
    for row in rows:
        writer.writerow(row)
        count += 1
    return out.getvalue().encode("gb18030"), count


def chunks(start: int, stop: int) -> Iterator[tuple[int, int]]:
    """[start, stop) cut at multiples of CHUNK, so a grown province's files line up with a fresh one's."""
    while start < stop:
        end = min(stop, (start // CHUNK + 1) * CHUNK)
        yield start, end
        start = end


# ------------------------------------------------------------------------------------------------ the driver


@dataclass(frozen=True, slots=True)
class Targets:
    """Where the platform's gRPC services answer."""

    registry: str
    organizations: str
    desk: str


@dataclass
class Report:
    """What one ``generate`` call did, and how long each step took."""

    members_before: int = 0
    members_after: int = 0
    imported: int = 0
    registered: int = 0
    orgs: int = 0
    flows: int = 0
    checked_in: int = 0
    returned: int = 0
    tickets: int = 0
    loans: int = 0
    skipped: int = 0
    import_seconds: float = 0.0
    steps: dict[str, float] = field(default_factory=dict)

    @property
    def import_rate(self) -> float:
        """Rows per second of this call's imports (their wall time, several counties at once)."""
        return self.imported / self.import_seconds if self.import_seconds else 0.0


class _Tokens:
    """County administrators' tokens, renewed before they expire."""

    def __init__(self, issuer: TokenIssuer) -> None:
        self.issuer = issuer
        self.cache: dict[str, tuple[tuple[tuple[str, str], ...], float]] = {}

    def admin(self, county: str) -> tuple[tuple[str, str], ...]:
        found = self.cache.get(county)
        now = time.monotonic()
        if found is None or found[1] < now:
            token, ttl = self.issuer.issue(user="province-generator", role=Role.COUNTY_ADMIN, scope=county)
            found = ((("authorization", f"Bearer {token}"),), now + ttl / 2)
            self.cache[county] = found
        return found[0]


def _waiting(err: grpc.aio.AioRpcError) -> bool:
    """A replica fed by events (the registry's tree, the desk's members) does not know the record yet."""
    return err.code() in (grpc.StatusCode.FAILED_PRECONDITION, grpc.StatusCode.INVALID_ARGUMENT,
                          grpc.StatusCode.NOT_FOUND, grpc.StatusCode.UNAVAILABLE)


async def _retry(call: Callable[[], Awaitable[T]], *, seconds: float = WAIT_SECONDS) -> T:
    deadline = asyncio.get_running_loop().time() + seconds
    while True:
        try:
            return await call()
        except grpc.aio.AioRpcError as err:
            if not _waiting(err) or asyncio.get_running_loop().time() > deadline:
                raise
            await asyncio.sleep(0.5)


class _Province:
    """One ``generate`` call: stubs, tokens, the bound on calls in flight and the counters."""

    def __init__(self, *, registry: Any, orgs: Any, desk: Any, issuer: TokenIssuer, seed: int, concurrency: int,
                 imports_at_once: int, say: Callable[[str], None]) -> None:
        self.registry, self.orgs, self.desk = registry, orgs, desk
        self.tokens = _Tokens(issuer)
        self.seed = seed
        self.calls = asyncio.Semaphore(concurrency)
        self.importing = asyncio.Semaphore(imports_at_once)
        self.say = say
        self.report = Report()
        self.warnings = 0
        self.import_began = 0.0
        self.today = china_date(utc_now())

    async def call(self, make: Callable[[], Awaitable[T]], *, retry: bool = False,
                   seconds: float = WAIT_SECONDS) -> T:
        """One RPC within the bound on calls in flight (``retry``: while a replica catches up, waiting outside it)."""
        async def bounded() -> T:
            async with self.calls:
                return await make()

        return await (_retry(bounded, seconds=seconds) if retry else bounded())

    def warn(self, text: str) -> None:
        """Say what went wrong, the first few times (a million-member build does not stop for one member)."""
        self.warnings += 1
        if self.warnings <= WARNINGS:
            self.say(f"  warning: {text}")

    # -------------------------------------------------------------------------------- counting

    async def count(self, county: str) -> int:
        """The county's members as the registry reports them."""
        reply = await self.call(lambda: self.registry.ListMembers(
            registry_pb2.ListMembersRequest(page_size=1), metadata=self.tokens.admin(county), timeout=30))
        return int(reply.total_size)

    # -------------------------------------------------------------------------------- organisations

    async def tree(self, county: str, members: int) -> dict[str, str]:
        """Create what the county's plan has and its tree lacks; return the tree's ids by name."""
        meta = self.tokens.admin(county)
        ids: dict[str, str] = {}
        roots = await self.call(lambda: self.orgs.ListChildOrgs(pb_orgs.ListChildOrgsRequest(page_size=10),
                                                                metadata=meta, timeout=30))
        plan = org_plan(county, members)
        root = next((o for o in roots.orgs if o.name == plan[0].name), None)
        if root is not None:
            token = ""
            while True:
                page = await self.call(partial(self.orgs.ListSubtreeOrgs, pb_orgs.ListSubtreeOrgsRequest(
                    root_id=root.id, page_size=500, page_token=token), metadata=meta, timeout=30))
                ids.update({o.name: o.id for o in page.orgs})
                token = page.next_page_token
                if not token:
                    break
        for planned in plan:
            if planned.name in ids:
                continue
            request = pb_orgs.CreateOrgRequest(
                parent_id=ids.get(planned.parent, ""), name=planned.name, kind=planned.kind,
                city_code=planned.city_code, industry=planned.industry,
                founding_mode=pb_orgs.FOUNDING_MODE_STANDALONE if planned.city_code else
                pb_orgs.FOUNDING_MODE_UNSPECIFIED, coverage=[planned.coverage] if planned.coverage else [])
            reply = await self.call(partial(self.orgs.CreateOrg, request, metadata=self.tokens.admin(county),
                                            timeout=30))
            ids[planned.name] = reply.org.id
            self.report.orgs += 1
        return ids

    # -------------------------------------------------------------------------------- members

    async def import_chunk(self, county: str, start: int, stop: int) -> None:
        """One 台账 file of the county's members at home in [start, stop), through StartMemberImport."""
        content, rows = csv_file(csv_rows(county, start, stop, seed=self.seed))
        if not rows:
            return
        meta = self.tokens.admin(county)
        async with self.importing:
            self.import_began = self.import_began or time.perf_counter()
            # Not behind the calls in flight: imports have their own bound, and would wait out every registration.
            reply = await _retry(lambda: self.registry.StartMemberImport(imports_pb2.StartMemberImportRequest(
                file_name=f"{county}-{start}-{stop}.csv", format=imports_pb2.IMPORT_FORMAT_CSV, content=content,
                request_id=f"province-{self.seed}-{county}-{start}-{stop}"), metadata=meta, timeout=60))
            found = getattr(reply, "import")
            while found.state == imports_pb2.IMPORT_STATE_RUNNING:
                await asyncio.sleep(0.1)
                found = getattr(await _retry(lambda: self.registry.GetMemberImport(
                    imports_pb2.GetMemberImportRequest(id=getattr(reply, "import").id),
                    metadata=self.tokens.admin(county), timeout=30)), "import")
            if found.state != imports_pb2.IMPORT_STATE_SUCCEEDED:
                errors = "; ".join(f"{e.row}: {e.message}" for e in list(found.errors)[:3])
                raise RuntimeError(f"{county} import {start}-{stop} failed: {errors}")
            self.report.imported += found.imported_rows
            # The imports' wall time, first start to last end (registrations of the away members run beside them).
            self.report.import_seconds = time.perf_counter() - self.import_began

    async def register(self, county: str, index: int, branches: Sequence[str]) -> tuple[int, str, str] | None:
        """CreateMember for an away member (in a branch of the county), then RegisterFlow; returns (index, flow,
        member)."""
        m = member(county, index, seed=self.seed)
        request = registry_pb2.CreateMemberRequest(
            name=m.name, id_number=m.id_number, phone=m.phone,
            membership_status=(registry_pb2.MEMBERSHIP_STATUS_PROBATIONARY if m.probationary
                               else registry_pb2.MEMBERSHIP_STATUS_FULL),
            township=m.township, village=m.village, occupation=m.occupation, join_date=m.join_date.isoformat(),
            home_branch_id=branches[index % len(branches)] if branches else "",
            request_id=f"province-{self.seed}-{county}-{index}")
        try:
            try:
                created = await self.call(lambda: self.registry.CreateMember(
                    request, metadata=self.tokens.admin(county), timeout=30), retry=True, seconds=TREE_WAIT_SECONDS)
            except grpc.aio.AioRpcError as err:
                if not (request.home_branch_id and "党支部" in (err.details() or "")):
                    raise
                # The registry's replica of the tree (fed by events) still lacks the branch: a member without one.
                self.warn(f"{county}: 所在党支部未同步 home branch unknown to the registry yet; registered without it")
                request.home_branch_id = ""
                created = await self.call(lambda: self.registry.CreateMember(
                    request, metadata=self.tokens.admin(county), timeout=30), retry=True)
            member_id = created.member.id
        except grpc.aio.AioRpcError as err:
            if err.code() != grpc.StatusCode.ALREADY_EXISTS:
                self.warn(f"{county} #{index}: CreateMember {err.code().name} {err.details()}")
                self.report.skipped += 1
                return None
            found = await self.call(lambda: self.registry.ListMembers(registry_pb2.ListMembersRequest(
                id_number=m.id_number, page_size=1), metadata=self.tokens.admin(county), timeout=30))
            if not found.members:
                self.report.skipped += 1
                return None
            member_id = found.members[0].id
        self.report.registered += 1
        plan = flow(county, index, seed=self.seed, today=self.today)
        try:
            reply = await self.call(lambda: self.registry.RegisterFlow(flows_pb2.RegisterFlowRequest(
                member_id=member_id, destination_code=plan.destination, address=plan.address,
                industry=plan.industry, start_date=plan.start_date.isoformat(), expected_months=plan.expected_months,
                request_id=f"province-flow-{self.seed}-{county}-{index}"), metadata=self.tokens.admin(county),
                timeout=30))
        except grpc.aio.AioRpcError as err:
            if err.code() != grpc.StatusCode.ALREADY_EXISTS:
                self.warn(f"{county} #{index}: RegisterFlow {err.code().name} {err.details()}")
                self.report.skipped += 1
            return None
        self.report.flows += 1
        return index, reply.flow.id, member_id

    async def members(self, county: str, start: int, stop: int, branches: Sequence[str]
                      ) -> list[tuple[int, str, str]]:
        """The county's members [start, stop): imports of those at home, registration of those away."""
        flows: list[tuple[int, str, str]] = []
        for lo, hi in chunks(start, stop):
            imported = asyncio.create_task(self.import_chunk(county, lo, hi))
            queue = iter([i for i in range(lo, hi) if away(county, i, seed=self.seed)])

            async def worker(queue: Iterator[int] = queue) -> None:
                for index in queue:
                    found = await self.register(county, index, branches)
                    if found is not None:
                        flows.append(found)

            # Few at once per county: a county's flows take turns on its certificate counter (a row lock), so the
            # calls in flight are spread over many counties rather than queued on one.
            await asyncio.gather(*(worker() for _ in range(PER_COUNTY)))
            await imported
        flows.sort()
        return flows

    # -------------------------------------------------------------------------------- the saga's ends

    async def settled(self, county: str) -> bool:
        """No flow of the county still waits for its placement."""
        reply = await self.call(lambda: self.registry.ListFlows(flows_pb2.ListFlowsRequest(
            statuses=[flows_pb2.FLOW_STATUS_REGISTERED], page=1, page_size=1), metadata=self.tokens.admin(county),
            timeout=30))
        return int(reply.total_size) == 0

    async def check_in(self, county: str) -> None:
        """The county's stations and 驻外 branches record the 报到 of most members offered to them."""
        meta = self.tokens.admin(county)
        token = ""
        while True:
            page = await self.call(partial(self.orgs.ListMemberships, pb_orgs.ListMembershipsRequest(
                statuses=[pb_orgs.MEMBERSHIP_STATUS_OFFERED], page_size=200, page_token=token), metadata=meta,
                timeout=30))
            wanted = [m for m in page.memberships if checks_in(m.flow_id)]
            await asyncio.gather(*(self.call(partial(self.orgs.CheckInMembership, pb_orgs.CheckInMembershipRequest(
                id=m.id), metadata=self.tokens.admin(county), timeout=30)) for m in wanted))
            self.report.checked_in += len(wanted)
            token = page.next_page_token
            if not token:
                return

    async def come_home(self, county: str, index: int, flow_id: str) -> None:
        """The member returned (回归) some weeks after leaving."""
        plan = flow(county, index, seed=self.seed, today=self.today)
        back = min(self.today, plan.start_date + timedelta(days=30))
        await self.call(lambda: self.registry.ReturnFlow(flows_pb2.ReturnFlowRequest(
            id=flow_id, return_date=back.isoformat(), facts=flows_pb2.ReturneeFacts(joined_reserve_pool=True)),
            metadata=self.tokens.admin(county), timeout=30), retry=True)
        self.report.returned += 1

    # -------------------------------------------------------------------------------- desk

    async def ticket(self, county: str, index: int, member_id: str, category: Any) -> None:
        """The member's family asks the county's desk for help (the category's default queue)."""
        request = desk_pb2.CreateTicketRequest(
            category=category.code, title=f"{category.name}求助", description="家属代为反映：外出务工期间需要帮助。",
            form_json=_json(sample_form(category.fields, today=self.today)), member_home_tenant_id=county,
            member_id=member_id, channel=tickets_pb2.TICKET_CHANNEL_HOME_COUNTY,
            request_id=f"province-ticket-{self.seed}-{county}-{index}")
        try:
            await self.call(lambda: self.desk.CreateTicket(request, metadata=self.tokens.admin(county), timeout=30),
                            retry=True)
            self.report.tickets += 1
        except grpc.aio.AioRpcError:
            self.report.skipped += 1

    async def loan(self, county: str, index: int, member_id: str, programme: str) -> None:
        """An application to the county's 党员先锋贷 on the member's behalf (refused by its rules: skipped)."""
        request = loans_pb2.CreateLoanApplicationRequest(
            programme_id=programme, member_id=member_id, amount_fen=5 * demo_loans.WAN, term_months=12,
            method=loans_pb2.REPAYMENT_METHOD_EQUAL_INSTALMENT, purpose="返乡创办农产品加工作坊",
            business_plan="租用村集体闲置厂房，收购本村农产品加工销售。",
            request_id=f"province-loan-{self.seed}-{county}-{index}")
        try:
            # Briefly: the desk answers a member its rules refuse as it answers one it does not know yet.
            await self.call(lambda: self.desk.CreateLoanApplication(request, metadata=self.tokens.admin(county),
                                                                    timeout=30), retry=True, seconds=LOAN_WAIT_SECONDS)
            self.report.loans += 1
        except grpc.aio.AioRpcError:
            self.report.skipped += 1

    async def desk_work(self, county: str, flows: Sequence[tuple[int, str, str]]) -> None:
        """Tickets and loan applications of the county's away members of this call (index, flow, member)."""
        meta = self.tokens.admin(county)
        wanted = [(i, f, m) for i, f, m in flows if flow(county, i, seed=self.seed, today=self.today).ticket]
        borrowers = [(i, f, m) for i, f, m in flows if flow(county, i, seed=self.seed, today=self.today).loan]
        if wanted:
            categories = await self.call(lambda: self.desk.ListTicketCategories(
                desk_pb2.ListTicketCategoriesRequest(), metadata=meta, timeout=30))
            enabled = [c for c in categories.categories if c.enabled]
            await asyncio.gather(*(self.ticket(county, i, m, enabled[i % len(enabled)]) for i, _, m in wanted))
        if borrowers:
            programme = await self.programme(county)
            await asyncio.gather(*(self.loan(county, i, m, programme) for i, _, m in borrowers))

    async def programme(self, county: str) -> str:
        """The county's 党员先锋贷 programme, created once."""
        meta = self.tokens.admin(county)
        spec = demo_loans.PROGRAMMES[0]
        existing = await self.call(lambda: self.desk.ListLoanProgrammes(loans_pb2.ListLoanProgrammesRequest(),
                                                                        metadata=meta, timeout=30))
        found = next((p.id for p in existing.programmes if p.name == spec.name), None)
        if found:
            return str(found)
        reply = await self.call(lambda: self.desk.CreateLoanProgramme(loans_pb2.CreateLoanProgrammeRequest(
            programme=demo_loans.programme_proto(spec, today=self.today, county=county),
            request_id=f"province-programme-{self.seed}-{county}"), metadata=meta, timeout=30))
        return str(reply.programme.id)


def _json(values: dict[str, Any]) -> str:
    return json.dumps(values, ensure_ascii=False)


async def _progress(province: _Province, started: float, stop: asyncio.Event, every: float) -> None:
    """Every few seconds: members so far and their rate, organisations, flows, 报到, tickets and loans."""
    r = province.report
    last_members, last = 0, started
    while not stop.is_set():
        try:
            await asyncio.wait_for(stop.wait(), timeout=every)
        except TimeoutError:
            pass
        now = time.perf_counter()
        done = r.imported + r.registered
        province.say(f"  [{now - started:7.1f} s] members +{done:,} ({(done - last_members) / (now - last):,.0f} "
                     f"rows/s) orgs +{r.orgs:,} flows +{r.flows:,} 报到 +{r.checked_in:,} returned +{r.returned:,} "
                     f"tickets +{r.tickets:,} loans +{r.loans:,}")
        last_members, last = done, now


async def generate(*, targets: Targets, issuer: TokenIssuer, members: int, seed: int = 7,
                   counties: Sequence[str] = COUNTIES, concurrency: int = 32, imports_at_once: int = 4,
                   say: Callable[[str], None] = print, progress_every: float = 5.0) -> Report:
    """Grow the province to ``members`` members (counties continue from what the registry holds); return what was
    done and how long each step took."""
    async with open_channel(targets.registry) as registry_channel, \
            open_channel(targets.organizations) as orgs_channel, open_channel(targets.desk) as desk_channel:
        province = _Province(
            registry=registry_pb2_grpc.RegistryServiceStub(registry_channel),
            orgs=organizations_pb2_grpc.OrganizationsServiceStub(orgs_channel),
            desk=desk_pb2_grpc.DeskServiceStub(desk_channel), issuer=issuer, seed=seed, concurrency=concurrency,
            imports_at_once=imports_at_once, say=say)
        return await _generate(province, members=members, counties=counties, progress_every=progress_every)


async def _generate(p: _Province, *, members: int, counties: Sequence[str], progress_every: float) -> Report:
    r = p.report
    wanted = shares(members, counties)
    started = time.perf_counter()
    stop = asyncio.Event()
    ticker = asyncio.create_task(_progress(p, started, stop, progress_every))
    try:
        mark = time.perf_counter()
        have = dict(zip(counties, await asyncio.gather(*(p.count(c) for c in counties)), strict=True))
        r.members_before = sum(have.values())
        growing = [c for c in counties if wanted[c] > have[c]]
        p.say(f"province {members:,} members: {r.members_before:,} registered, {len(growing)} counties to grow")

        mark = time.perf_counter()
        trees = dict(zip(growing, await asyncio.gather(*(p.tree(c, wanted[c]) for c in growing)), strict=True))
        r.steps["organisations"] = time.perf_counter() - mark

        mark = time.perf_counter()
        branches = {c: [i for n, i in trees[c].items() if n.endswith("党支部") and "驻" not in n and "网上" not in n]
                    for c in growing}
        placed = await asyncio.gather(*(p.members(c, have[c], wanted[c], branches[c]) for c in growing))
        r.steps["members and flows"] = time.perf_counter() - mark

        mark = time.perf_counter()
        deadline = time.monotonic() + WAIT_SECONDS * 5
        pending = set(counties)
        while pending and time.monotonic() < deadline:
            done = await asyncio.gather(*(p.settled(c) for c in pending))
            pending = {c for c, ok in zip(list(pending), done, strict=True) if not ok}
            if pending:
                await asyncio.sleep(1.0)
        if pending:
            p.say(f"  flows of {len(pending)} counties still await their placement")
        await asyncio.gather(*(p.check_in(c) for c in counties))
        r.steps["placement and 报到"] = time.perf_counter() - mark

        mark = time.perf_counter()
        returned = [p.come_home(c, i, f) for c, flows in zip(growing, placed, strict=True) for i, f, _ in flows
                    if flow(c, i, seed=p.seed, today=p.today).returned]
        await asyncio.gather(*returned)
        r.steps["returns"] = time.perf_counter() - mark

        mark = time.perf_counter()
        await asyncio.gather(*(p.desk_work(c, flows) for c, flows in zip(growing, placed, strict=True)))
        r.steps["tickets and loans"] = time.perf_counter() - mark
        r.members_after = sum(await asyncio.gather(*(p.count(c) for c in counties)))
    finally:
        stop.set()
        await ticker
    r.steps["total"] = time.perf_counter() - started
    return r



def issuer_from_file(path: Path, *, ttl_seconds: int = 900) -> TokenIssuer:
    """An issuer signing with the platform's JWT key; tokens live 15 minutes and are renewed halfway (a
    million-member build runs for hours)."""
    fields = KitSettings.model_fields
    return TokenIssuer(private_key_pem=path.read_bytes(), issuer=str(fields["jwt_issuer"].default),
                       audience=str(fields["jwt_audience"].default), ttl_seconds=ttl_seconds)


def print_report(report: Report, say: Callable[[str], None] = print) -> None:
    """What a build did, and each step's time."""
    say(f"province: {report.members_before:,} → {report.members_after:,} members; imported {report.imported:,}"
        f" ({report.import_rate:,.0f} rows/s), registered away {report.registered:,}, organisations"
        f" +{report.orgs:,}, flows +{report.flows:,}, 报到 +{report.checked_in:,}, returned +{report.returned:,},"
        f" tickets +{report.tickets:,}, loans +{report.loans:,}, skipped {report.skipped:,}")
    for step, seconds in report.steps.items():
        say(f"  {step:<22} {seconds:8.1f} s")


def main(argv: Sequence[str] | None = None) -> None:
    """``jinqiao province`` runs this with the services' targets and the JWT key file in its environment."""
    parser = argparse.ArgumentParser(prog="jinqiao province")
    parser.add_argument("--members", type=int, default=1_000_000)
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--concurrency", type=int, default=32)
    parser.add_argument("--report", type=Path, help="write the report as JSON there (the scale bench reads it)")
    args = parser.parse_args(argv)
    env = os.environ
    targets = Targets(registry=env["JINQIAO_REGISTRY_TARGET"], organizations=env["JINQIAO_ORGANIZATIONS_TARGET"],
                      desk=env["JINQIAO_DESK_TARGET"])
    issuer = issuer_from_file(Path(env["JINQIAO_JWT_PRIVATE_KEY_FILE"]))
    report = asyncio.run(generate(targets=targets, issuer=issuer, members=args.members, seed=args.seed,
                                  concurrency=args.concurrency))
    print_report(report)
    if args.report:
        args.report.write_text(json.dumps({**asdict(report), "import_rate": report.import_rate}))


if __name__ == "__main__":
    main()
