"""A masked ID number stays masked (DESIGN §5; issue 9, finding 2).

Everything a role without the reveal permission can read of one person — every field of every HTTP response, ledger
(CSV and XLSX), gRPC reply and event, taken together — must leave at least 1,000 ID numbers consistent with it. The
enumeration below counts them as an attacker would: the county assumed known (the worst case: the mask hides only
its last two digits), every plausible birth date the exposed facts allow, the visible 顺序码 and the GB 11643 check
character. Readers walk every GET route of the published API and every Get/List method of the gRPC services.
"""

from __future__ import annotations

import csv
import importlib
import io
import pkgutil
import re
import uuid
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field, replace
from datetime import date, timedelta
from functools import lru_cache

import grpc
import openpyxl
import pytest
from google.protobuf import descriptor_pool, message_factory
from google.protobuf.json_format import MessageToDict

import jinqiao.events.v1
from jinqiao.gateway.accounts import Account, upsert_account
from jinqiao.kit import catalog, pii
from jinqiao.kit.auth import Role
from jinqiao.kit.clock import china_date, utc_now
from jinqiao.kit.db import Database
from jinqiao.registry.v1 import registry_pb2
from tests.integration.conftest import bearer, eventually
from tests.support import id_number

MIN_CANDIDATES = 1000
EARLIEST_BIRTH = date(1920, 1, 1)
YOUNGEST = 16  # years: nobody younger holds a record here
ADULT = 18  # years: joining the Party and applying to join both need it, so such a date bounds the birth date

TAG = uuid.uuid4().hex[:6]
PASSWORD = "masking stays masked"
ORIGIN, DEST = "411524", "410102"  # 商城县 → 郑州市中原区
EMPLOYER = f"掩码测试食品{TAG}"


# ------------------------------------------------------------------------------------------ the enumeration


def years_before(day: date, years: int) -> date:
    """The same calendar day ``years`` earlier (29 February becomes 28 February)."""
    try:
        return day.replace(year=day.year - years)
    except ValueError:
        return date(day.year - years, 2, 28)


@dataclass(frozen=True)
class Exposure:
    """What a reader can put together about one person."""

    masked: str = ""
    county: str = ""  # assumed known: the tenant the person belongs to
    born_on: date | None = None
    born_year: int | None = None
    born_month: int | None = None  # of born_year
    age: tuple[int, date] | None = None  # (whole years, as of)
    gender: str | None = None  # male / female
    born_by: date | None = None  # the latest birth date the other dates allow

    def merge(self, other: Exposure) -> Exposure:
        """Both readings together (a shown value wins over an empty one; bounds take the tighter)."""
        bounds = [d for d in (self.born_by, other.born_by) if d is not None]
        return Exposure(
            masked=self.masked or other.masked, county=self.county or other.county,
            born_on=self.born_on or other.born_on, born_year=self.born_year or other.born_year,
            born_month=self.born_month or other.born_month, age=self.age or other.age,
            gender=self.gender or other.gender, born_by=min(bounds) if bounds else None,
        )

    def allows(self, day: date) -> bool:
        """Whether a birth on ``day`` agrees with everything exposed."""
        if self.born_on is not None and day != self.born_on:
            return False
        if self.born_year is not None and day.year != self.born_year:
            return False
        if self.born_month is not None and day.month != self.born_month:
            return False
        if self.age is not None:
            years, as_of = self.age
            if not years_before(as_of, years + 1) < day <= years_before(as_of, years):
                return False
        return self.born_by is None or day <= self.born_by


_MASK = re.compile(r"[1-8][0-9]{3}\*{10}[0-9]{3}[0-9X]")


@lru_cache(maxsize=256)
def candidates(exposure: Exposure, *, today: date) -> int:
    """How many valid 18-character ID numbers agree with everything exposed."""
    assert _MASK.fullmatch(exposure.masked), exposure.masked
    prefix, sequence, check = exposure.masked[:4], int(exposure.masked[14:17]), exposure.masked[17]
    # The worst case knows the county; a number issued elsewhere in the city leaves its last two digits open.
    areas = [exposure.county] if exposure.county[:4] == prefix else [f"{prefix}{n:02d}" for n in range(100)]
    if exposure.gender and exposure.gender != ("male" if sequence % 2 else "female"):
        return 0
    count, day, latest = 0, EARLIEST_BIRTH, years_before(today, YOUNGEST)
    while day <= latest:
        if exposure.allows(day):
            count += sum(pii.make_id_number(area, day, sequence)[-1] == check for area in areas)
        day += timedelta(days=1)
    return count


# ------------------------------------------------------------------------------- reading a response shape

SEALED_SUFFIX = "_sealed"
SUSPECT_KEY = re.compile(r"(^|_)(birth|born|age|dob|birthday)(_|$)|出生|年龄|生日|周岁|属相|生肖")
SUSPECT_TEXT = re.compile(r"出生|年龄|生日|周岁|[0-9]+ ?岁")
BIRTH_KEYS = ("birth_date", "出生日期")
GENDER_KEYS = ("gender", "性别")
MASK_KEYS = ("id_number_masked", "身份证号")
NAME_KEYS = ("name", "member_name", "姓名")
ID_KEYS = ("id", "member_id", "flow_id", "membership_id", "applicant_id")
# Dates that come at 18 or later: 入党, 转正, and every stage of an application (申请 first).
ADULT_DATE_KEYS = ("join_date", "full_member_date", "入党日期", "转正日期", "申请入党日期", "确定入党积极分子日期",
                   "确定发展对象日期", "接收预备党员日期", "转为正式党员日期")
_GENDERS = {"male": "male", "female": "female", "gender_male": "male", "gender_female": "female", "男": "male",
            "女": "female"}


@dataclass(frozen=True)
class Person:
    """Someone the test registered, and the ids and name by which a response names them."""

    name: str
    county: str
    ids: frozenset[str]


class UnjudgedField(AssertionError):
    """A field that looks like a birth date or an age, which the enumeration does not know how to read."""


def records(body: object) -> Iterator[Mapping[str, object]]:
    """Every JSON object inside a response body, outermost first."""
    if isinstance(body, Mapping):
        yield body
        for value in body.values():
            yield from records(value)
    elif isinstance(body, list):
        for value in body:
            yield from records(value)


def _date(value: object) -> date | None:
    try:
        return date.fromisoformat(str(value)[:10])
    except ValueError:
        return None


def refers_to(record: Mapping[str, object], person: Person) -> bool:
    """Whether a record is about the person (by one of their ids or their unique name)."""
    return (any(str(record.get(k, "")) in person.ids for k in ID_KEYS)
            or any(record.get(k) == person.name for k in NAME_KEYS))


def read_record(record: Mapping[str, object], person: Person) -> Exposure:
    """The facts one record about the person exposes; an unknown birth-like field fails the test."""
    exposure = Exposure(county=person.county)
    for key, value in record.items():
        if value in (None, "", [], {}):
            continue
        if str(key).endswith(SEALED_SUFFIX):
            continue  # sealed with the PII keyring for the service that opens it: no role reads it
        if key in MASK_KEYS:
            exposure = replace(exposure, masked=str(value))
        elif key in BIRTH_KEYS:
            text = str(value)
            if re.fullmatch(r"[0-9]{4}-[0-9]{2}-[0-9]{2}", text):
                exposure = replace(exposure, born_on=date.fromisoformat(text))
            elif re.fullmatch(r"[0-9]{4}-[0-9]{2}", text):
                exposure = replace(exposure, born_year=int(text[:4]), born_month=int(text[5:]))
            elif re.fullmatch(r"[0-9]{4}", text):
                exposure = replace(exposure, born_year=int(text))
            else:
                raise UnjudgedField(f"{key}={text!r}")
        elif key in GENDER_KEYS:
            exposure = replace(exposure, gender=_GENDERS.get(str(value).lower()))
        elif key in ADULT_DATE_KEYS and (on := _date(value)) is not None:
            exposure = exposure.merge(Exposure(born_by=years_before(on, ADULT)))
        elif key == "stages" and isinstance(value, list):
            dates = [d for s in value if isinstance(s, Mapping) and (d := _date(s.get("date"))) is not None]
            if dates:
                exposure = exposure.merge(Exposure(born_by=years_before(min(dates), ADULT)))
        elif SUSPECT_KEY.search(str(key)):
            raise UnjudgedField(f"{key}={value!r}")
        elif isinstance(value, str) and SUSPECT_TEXT.search(value):
            raise UnjudgedField(f"{key}={value!r}")
    return exposure


def read_body(body: object, person: Person) -> Exposure:
    """Everything a response body exposes about the person."""
    exposure = Exposure(county=person.county)
    for record in records(body):
        if refers_to(record, person):
            exposure = exposure.merge(read_record(record, person))
    return exposure


def sheet_rows(content: bytes, fmt: str) -> list[dict[str, object]]:
    """A ledger's rows keyed by its header."""
    if fmt == "csv":
        return list(csv.DictReader(io.StringIO(content.decode("utf-8-sig"))))
    book = openpyxl.load_workbook(io.BytesIO(content), read_only=True)
    rows = [[("" if c is None else str(c)) for c in row] for row in book.active.iter_rows(values_only=True)]
    # An XLSX ledger opens with its title, 填报单位 and 填报日期; the table's header is the row starting 序号.
    start = next((i for i, r in enumerate(rows) if r and r[0] == "序号"), 0)
    return [dict(zip(rows[start], row, strict=False)) for row in rows[start + 1:]]


# -------------------------------------------------------------------------------------------- the world


@dataclass
class World:
    """Two counties, a member who went from one to the other, an applicant, and every reader's login."""

    origin_orgs: dict[str, str]
    dest_orgs: dict[str, str]
    member: Person
    member_masked: str
    member_id: str
    applicant: Person
    headers: dict[str, dict[str, str]] = field(default_factory=dict)
    tokens: dict[str, tuple[tuple[str, str], ...]] = field(default_factory=dict)


@dataclass(frozen=True)
class Reader:
    """A login: its role, the county it acts on, and the organisation or member it acts as."""

    label: str
    role: Role
    tenant: str | None
    scope: str
    org: str = ""  # a key of World.origin_orgs / dest_orgs
    member: str = ""  # "self" or "other"
    http: bool = True


READERS = [
    Reader("origin township officer", Role.TOWNSHIP_OFFICER, ORIGIN, ORIGIN, org="origin:township"),
    Reader("origin branch secretary", Role.BRANCH_SECRETARY, ORIGIN, ORIGIN, org="origin:branch"),
    Reader("origin guidance officer", Role.GUIDANCE_OFFICER, ORIGIN, ORIGIN, org="origin:branch"),
    Reader("origin station staff", Role.STATION_STAFF, ORIGIN, ORIGIN, org="origin:township"),
    Reader("another member", Role.MEMBER, ORIGIN, ORIGIN, member="other"),
    Reader("origin county system", Role.SERVICE, ORIGIN, ORIGIN, http=False),
    Reader("city analyst", Role.CITY_ANALYST, None, "4115"),
    Reader("province analyst", Role.PROVINCE_ANALYST, None, "41"),
    # The destination's county department holds the reveal permission for its own members, not for this one.
    Reader("destination county department", Role.COUNTY_ADMIN, DEST, DEST),
    Reader("destination station staff", Role.STATION_STAFF, DEST, DEST, org="dest:township"),
    Reader("destination guidance officer", Role.GUIDANCE_OFFICER, DEST, DEST, org="dest:branch"),
    Reader("destination branch secretary", Role.BRANCH_SECRETARY, DEST, DEST, org="dest:branch"),
    Reader("destination county system", Role.SERVICE, DEST, DEST, http=False),
]
# Holders of the reveal permission over the person, and the person: they see the birth date (the county's view kept).
REVEALERS = [
    Reader("origin county department", Role.COUNTY_ADMIN, ORIGIN, ORIGIN),
    Reader("the member themself", Role.MEMBER, ORIGIN, ORIGIN, member="self"),
]


def today() -> date:
    return china_date(utc_now())


async def _orgs(http, headers: dict[str, str], tenant: str, *children: tuple[str, str, str, dict]) -> dict[str, str]:
    """The county's root (founded if missing) and the named children, created under their parents."""
    roots = (await http.get(f"/api/v1/tenants/{tenant}/orgs", headers=headers)).json()["orgs"]
    root = next((o["id"] for o in roots if not o.get("parent_id")), None)
    if root is None:
        created = await http.post(f"/api/v1/tenants/{tenant}/orgs", headers=headers,
                                  json={"name": f"中共{tenant}委员会", "kind": "county_committee"})
        assert created.status_code == 201, created.text
        root = created.json()["id"]
    ids = {"root": root}
    for key, parent, kind, extra in children:
        reply = await http.post(f"/api/v1/tenants/{tenant}/orgs", headers=headers,
                                json={"parent_id": ids[parent], "kind": kind, **extra})
        assert reply.status_code == 201, reply.text
        ids[key] = reply.json()["id"]
    return ids


async def _login(platform, db: Database, name: str, account: Account) -> dict[str, str]:
    await upsert_account(db=db, account=account, password=PASSWORD)
    reply = await platform.http.post("/api/v1/auth/token", json={"username": name, "password": PASSWORD})
    assert reply.status_code == 200, reply.text
    return {"Authorization": f"Bearer {reply.json()['access_token']}"}


@pytest.fixture(scope="module")
async def world(platform, settings_for, issuer) -> World:
    """A member of 商城县 gone to work at an enterprise of 中原区, an applicant, and every reader's credentials."""
    http = platform.http
    db = await Database.connect(settings_for("gateway").database_url, min_size=1, max_size=2)
    admins = {c: await _login(platform, db, f"mask-{c}-{TAG}", Account(
        username=f"mask-{c}-{TAG}", role=Role.COUNTY_ADMIN, scope=c, acting_tenant=c)) for c in (ORIGIN, DEST)}
    origin_orgs = await _orgs(http, admins[ORIGIN], ORIGIN,
                              ("township", "root", "township_committee", {"name": f"掩码镇党委{TAG}"}),
                              ("branch", "township", "village_branch", {"name": f"掩码村党支部{TAG}"}))
    dest_orgs = await _orgs(http, admins[DEST], DEST,
                            ("township", "root", "township_committee", {"name": f"掩码街道党工委{TAG}"}),
                            ("branch", "township", "enterprise_branch",
                             {"name": f"掩码食品党支部{TAG}", "employer": EMPLOYER}))
    orgs = {f"origin:{k}": v for k, v in origin_orgs.items()} | {f"dest:{k}": v for k, v in dest_orgs.items()}

    def member_body(name: str) -> dict[str, object]:
        return {"name": name, "id_number": id_number(ORIGIN), "phone": "13812345678", "township": f"掩码镇{TAG}",
                "village": f"掩码村{TAG}", "occupation": "食品加工", "join_date": "2010-07-01",
                "home_branch_id": origin_orgs["branch"]}

    async def register(name: str) -> dict | None:
        # The registry learns of the new branch from its OrgCreated event: until then the branch is unknown (422).
        reply = await http.post(f"/api/v1/tenants/{ORIGIN}/members", json=member_body(name), headers=admins[ORIGIN])
        assert reply.status_code in (201, 422), reply.text
        return reply.json() if reply.status_code == 201 else None

    member = await eventually(lambda: register(f"掩码甲{TAG}"), timeout=30)
    other = await eventually(lambda: register(f"掩码乙{TAG}"), timeout=30)
    flow = await http.post(f"/api/v1/tenants/{ORIGIN}/members/{member['id']}/flows", headers=admins[ORIGIN], json={
        "destination_code": DEST, "address": "郑州市中原区建设路", "employer": EMPLOYER, "industry": "食品加工",
        "start_date": today().isoformat(), "expected_months": 6})
    assert flow.status_code == 201, flow.text

    async def membership() -> dict | None:
        reply = await http.get(f"/api/v1/tenants/{DEST}/memberships", headers=admins[DEST],
                               params={"org_id": dest_orgs["branch"], "page_size": 200})
        return next((m for m in reply.json().get("memberships", []) if m["flow_id"] == flow.json()["id"]), None)

    offered = await eventually(membership, timeout=30)
    checked = await http.post(f"/api/v1/tenants/{DEST}/memberships/{offered['id']}/check-in", headers=admins[DEST])
    assert checked.status_code == 200, checked.text

    logins: dict[str, dict[str, str]] = {"origin county department": admins[ORIGIN]}
    tokens: dict[str, tuple[tuple[str, str], ...]] = {}
    members = {"self": member["id"], "other": other["id"]}
    for reader in [*READERS, *REVEALERS]:
        org = orgs[reader.org] if reader.org else None
        acting_member = members[reader.member] if reader.member else None
        tokens[reader.label] = bearer(issuer.issue(user=f"mask-{reader.role.value}-{TAG}", role=reader.role,
                                                   scope=reader.scope, tenant=reader.tenant, org=org,
                                                   member=acting_member)[0])
        if reader.http and reader.label not in logins:
            name = f"mask-{reader.label.replace(' ', '-')}-{TAG}"
            logins[reader.label] = await _login(platform, db, name, Account(
                username=name, role=reader.role, scope=reader.scope, acting_tenant=reader.tenant,
                acting_org=org, acting_member=acting_member))

    # The township committee records an application of someone from its township working at the destination.
    applicant = await http.post(f"/api/v1/tenants/{ORIGIN}/applicants", headers=logins["origin township officer"],
                                json={"name": f"掩码丙{TAG}", "id_number": id_number(ORIGIN), "phone": "13912345678",
                                      "township": f"掩码镇党委{TAG}", "village": f"掩码村{TAG}",
                                      "destination_code": DEST, "employer": EMPLOYER, "application_date": "2021-01-10",
                                      "home_org_id": origin_orgs["branch"],
                                      "mentors": [{"name": "王德胜", "side": "home", "org_name": f"掩码村党支部{TAG}"},
                                                  {"name": "陈立新", "side": "destination",
                                                   "org_name": f"掩码食品党支部{TAG}"}]})
    assert applicant.status_code == 201, applicant.text
    await db.close()
    ids = {member["id"], flow.json()["id"], offered["id"]}
    return World(
        origin_orgs=origin_orgs, dest_orgs=dest_orgs, member_masked=member["id_number_masked"], member_id=member["id"],
        member=Person(name=member["name"], county=ORIGIN, ids=frozenset(ids)),
        applicant=Person(name=applicant.json()["name"], county=ORIGIN, ids=frozenset({applicant.json()["id"]})),
        headers=logins, tokens=tokens,
    )


# ------------------------------------------------------------------------------------------------ readers


async def _get_routes(platform) -> list[str]:
    spec = (await platform.http.get("/api/openapi.json")).json()
    return [path for path, ops in spec["paths"].items() if "get" in ops]


def _fill(path: str, world: World) -> list[str]:
    """Every concrete path of a route template, with the test's own objects (unknown parameters: none)."""
    paths = [path]
    for name in re.findall(r"{(\w+)}", path):
        if name == "tenant":
            options = [ORIGIN, DEST]
        elif name == "scope":
            options = ["41", "4115", ORIGIN] if "/scopes/" in path else [ORIGIN, DEST]
        elif name in ("member_id", "flow_id", "membership_id", "applicant_id"):
            options = sorted(world.member.ids | world.applicant.ids)
        elif name == "org_id":
            options = [*world.origin_orgs.values(), *world.dest_orgs.values()]
        elif name == "fmt":
            options = ["csv", "xlsx"]
        else:
            return []
        paths = [p.replace(f"{{{name}}}", o, 1) for p in paths for o in options]
    # An org of one county read under the other's path is a 404 either way; keep the pairs that can answer.
    return [p for p in paths if not (f"/tenants/{ORIGIN}/orgs/" in p and any(o in p for o in world.dest_orgs.values()))
            and not (f"/tenants/{DEST}/orgs/" in p and any(o in p for o in world.origin_orgs.values()))]


@dataclass
class Reading:
    """What one reader put together about each person, and which shapes it found them in."""

    exposures: dict[str, Exposure] = field(default_factory=dict)
    shapes: set[str] = field(default_factory=set)

    def add(self, person: Person, exposure: Exposure, shape: str) -> None:
        if exposure.masked or exposure.born_on or exposure.born_year or exposure.age:
            self.shapes.add(f"{person.name}: {shape}")
        self.exposures[person.name] = self.exposures.get(person.name, Exposure(county=person.county)).merge(exposure)


async def read_http(platform, world: World, headers: dict[str, str], reading: Reading) -> None:
    """Every GET route of the published API, every page size at its largest, ledgers parsed."""
    for template in await _get_routes(platform):
        for path in _fill(template, world):
            reply = await platform.http.get(path, headers=headers, params={"page_size": 200})
            if reply.status_code != 200:
                continue
            kind = reply.headers.get("content-type", "")
            if kind.startswith("application/json"):
                body: object = reply.json()
            elif path.endswith((".csv", ".xlsx")):
                body = sheet_rows(reply.content, path.rsplit(".", 1)[1])
            else:
                continue
            for person in (world.member, world.applicant):
                reading.add(person, read_body(body, person), template)


def _read_methods() -> list[tuple[str, object]]:
    pool = descriptor_pool.Default()
    methods = []
    for entry in catalog.grpc_services():
        if entry.name not in ("registry", "organizations"):
            continue
        for method in pool.FindServiceByName(entry.proto_service).methods:
            if method.name.startswith(("Get", "List", "Search")):
                methods.append((entry.name, method))
    return methods


async def read_grpc(platform, world: World, metadata, reading: Reading) -> None:
    """Every Get/List method of the registry and organizations, asked about each of the test's objects."""
    ids = sorted(world.member.ids | world.applicant.ids | set(world.origin_orgs.values())
                 | set(world.dest_orgs.values()))
    for service, method in _read_methods():
        request_cls = message_factory.GetMessageClass(method.input_type)
        names = {f.name for f in method.input_type.fields}
        requests = []
        id_fields = [n for n in ("id", "member_id", "flow_id", "membership_id", "applicant_id", "org_id")
                     if n in names]
        for value in ids if id_fields else [""]:
            request = request_cls()
            for n in id_fields:
                setattr(request, n, value)
            if "page_size" in names:
                request.page_size = 200
            requests.append(request)
        call = getattr(platform.stubs[service], method.name)
        for request in requests:
            try:
                reply = await call(request, metadata=metadata, timeout=10)
            except Exception:  # noqa: BLE001 — refused, not found or malformed: nothing read
                continue
            body = MessageToDict(reply, preserving_proto_field_name=True)
            for person in (world.member, world.applicant):
                reading.add(person, read_body(body, person), f"gRPC {method.name}")


async def read_events(admin_conn_factory, world: World, reading: Reading) -> None:
    """Every event the registry and organizations published: what another county's consumers receive."""
    pool = descriptor_pool.Default()
    for service in ("registry", "organizations"):
        conn = await admin_conn_factory(service)
        rows = await conn.fetch("SELECT event_type, payload FROM outbox WHERE tenant_id = ANY($1::text[])",
                                [ORIGIN, DEST])
        for row in rows:
            try:
                descriptor = pool.FindMessageTypeByName(row["event_type"])
            except KeyError:
                continue  # not an event contract (no service publishes it)
            cls = message_factory.GetMessageClass(descriptor)
            body = MessageToDict(cls.FromString(row["payload"]), preserving_proto_field_name=True)
            for person in (world.member, world.applicant):
                reading.add(person, read_body(body, person), f"event {row['event_type']}")


# -------------------------------------------------------------------------------------------------- tests

# Every generated module of the event contracts (importing them registers the types the outbox names).
EVENT_MODULES = [importlib.import_module(f"jinqiao.events.v1.{m.name}")
                 for m in pkgutil.iter_modules(jinqiao.events.v1.__path__) if m.name.endswith("_pb2")]

SMALLEST: dict[str, int] = {}


def test_the_enumeration_counts_what_a_mask_leaves():
    number = pii.make_id_number("411525", date(1985, 3, 9), 123)
    masked, on = pii.mask_id_number(number), date(2026, 1, 1)
    alone = candidates(Exposure(masked=masked, county="411525"), today=on)
    # One plausible birth date in eleven carries the right check character: about 3,000 with the county known.
    assert 2_700 < alone < 3_300
    assert candidates(Exposure(masked=masked, county="411525", born_on=date(1985, 3, 9)), today=on) == 1
    assert candidates(Exposure(masked=masked, county="411525", born_year=1985), today=on) < 60
    assert candidates(Exposure(masked=masked, county="411525", born_year=1985, born_month=3), today=on) < 10
    assert candidates(Exposure(masked=masked, county="411525", age=(40, on)), today=on) < 60
    assert candidates(Exposure(masked=masked, county="411525", gender="female"), today=on) == 0
    # A number issued outside the person's city leaves the county's two digits open as well.
    assert candidates(Exposure(masked=masked, county="410102", born_on=date(1985, 3, 9)), today=on) > 1
    # 入党 or 申请 at 18 or later bounds the birth date: a recent date leaves the range nearly whole.
    assert candidates(Exposure(masked=masked, county="411525", born_by=date(2003, 1, 10)), today=on) > MIN_CANDIDATES


def test_reading_a_shape_finds_birth_facts_under_any_name():
    person = Person(name="甲", county="411525", ids=frozenset({"p1"}))
    shown = read_body({"items": [{"id": "p1", "birth_date": "1985-03-09", "gender": "male"}]}, person)
    assert (shown.born_on, shown.gender) == (date(1985, 3, 9), "male")
    assert read_body({"姓名": "甲", "出生日期": "1985-03"}, person).born_month == 3
    assert read_body({"id": "p1", "stages": [{"date": "2021-01-10"}]}, person).born_by == date(2003, 1, 10)
    assert read_body({"id": "p2", "birth_date": "1985-03-09"}, person).born_on is None  # someone else
    for unknown in ({"id": "p1", "age": 40}, {"id": "p1", "birth_year": 1985}, {"id": "p1", "年龄": "40"},
                    {"id": "p1", "note": "现年40岁"}):
        with pytest.raises(UnjudgedField):
            read_body(unknown, person)


def test_no_event_type_carries_a_birth_date_or_an_age():
    messages = [m for module in EVENT_MODULES for m in module.DESCRIPTOR.message_types_by_name.values()]
    assert len(messages) > 10
    # A sealed field (bytes under the PII keyring, e.g. MemberProfileChanged.birth_year_sealed) is read by no role.
    suspects = [f"{m.name}.{f.name}" for m in messages for f in m.fields if SUSPECT_KEY.search(f.name)
                and not (f.name.endswith(SEALED_SUFFIX) and f.type == f.TYPE_BYTES)]
    assert suspects == []


@pytest.mark.parametrize("reader", READERS, ids=lambda r: r.label)
async def test_a_role_without_the_reveal_permission_leaves_a_thousand_candidates(platform, world, admin_conn_factory,
                                                                                 reader):
    reading = Reading()
    if reader.http:
        await read_http(platform, world, world.headers[reader.label], reading)
    await read_grpc(platform, world, world.tokens[reader.label], reading)
    if reader.tenant == DEST:
        # The destination's consumers receive the origin's events (FlowRegistered's Handover).
        await read_events(admin_conn_factory, world, reading)
    for person in (world.member, world.applicant):
        exposure = reading.exposures.get(person.name)
        if exposure is None or not exposure.masked:
            continue  # the reader never saw the masked number: nothing to combine it with
        count = candidates(exposure, today=today())
        SMALLEST[f"{reader.label} / {person.name}"] = count
        assert count >= MIN_CANDIDATES, (reader.label, person.name, count, exposure, sorted(reading.shapes))


async def test_the_events_alone_leave_a_thousand_candidates(world, admin_conn_factory):
    reading = Reading()
    await read_events(admin_conn_factory, world, reading)
    exposure = reading.exposures.get(world.member.name, Exposure())
    # The Handover names the member by the masked number.
    assert exposure.masked == world.member_masked, (exposure, sorted(reading.shapes))
    count = candidates(exposure, today=today())
    SMALLEST["events / member"] = count
    assert count >= MIN_CANDIDATES, (count, exposure)


@pytest.mark.parametrize("reader", REVEALERS, ids=lambda r: r.label)
async def test_the_county_department_and_the_member_themself_still_see_the_birth_date(platform, world, reader):
    reply = await platform.http.get(f"/api/v1/tenants/{ORIGIN}/members/{world.member_id}",
                                    headers=world.headers[reader.label])
    assert reply.status_code == 200, reply.text
    assert reply.json()["birth_date"] and read_body(reply.json(), world.member).born_on is not None
    assert candidates(read_body(reply.json(), world.member), today=today()) == 1


async def test_the_county_department_keeps_the_applicants_birth_date_in_the_api_and_the_ledger(platform, world):
    headers = world.headers["origin county department"]
    listed = (await platform.http.get(f"/api/v1/tenants/{ORIGIN}/applicants", headers=headers,
                                      params={"page_size": 200})).json()
    assert read_body(listed, world.applicant).born_on is not None
    ledger = await platform.http.get(f"/api/v1/tenants/{ORIGIN}/ledgers/development.csv", headers=headers)
    assert read_body(sheet_rows(ledger.content, "csv"), world.applicant).born_on is not None


async def test_the_township_committee_reads_the_applicant_and_the_destination_the_membership(platform, world):
    """The walk is not empty: the shapes that carry a masked number were read, without a birth date."""
    township = world.headers["origin township officer"]
    one = await platform.http.get(f"/api/v1/tenants/{ORIGIN}/applicants/{next(iter(world.applicant.ids))}",
                                  headers=township)
    assert one.status_code == 200 and one.json()["id_number_masked"] and one.json()["birth_date"] == ""
    ledger = await platform.http.get(f"/api/v1/tenants/{ORIGIN}/ledgers/development.xlsx", headers=township)
    [row] = [r for r in sheet_rows(ledger.content, "xlsx") if r["姓名"] == world.applicant.name]
    assert row["身份证号"] and row["出生日期"] == ""
    station = world.headers["destination station staff"]
    page = (await platform.http.get(f"/api/v1/tenants/{DEST}/memberships", headers=station,
                                    params={"page_size": 200})).json()
    [mine] = [m for m in page["memberships"] if m["member_name"] == world.member.name]
    assert mine["id_number_masked"] == world.member_masked


async def test_a_search_by_the_full_id_number_is_refused_without_the_reveal_permission(platform, world):
    """A search by number would confirm guesses one by one, so it needs the permission the number does."""
    guess = pii.make_id_number(ORIGIN, date(1980, 1, 1), int(world.member_masked[14:17]))
    for label in ("origin township officer", "origin county system", "another member"):
        with pytest.raises(grpc.aio.AioRpcError) as refused:
            await platform.registry_stub.ListMembers(registry_pb2.ListMembersRequest(id_number=guess),
                                                     metadata=world.tokens[label])
        assert refused.value.code() in (grpc.StatusCode.PERMISSION_DENIED, grpc.StatusCode.NOT_FOUND)


def test_report_the_smallest_count():
    """Printed for the issue's closing note (run with -s)."""
    if not SMALLEST:
        pytest.skip("no reader was measured in this run")
    label, smallest = min(SMALLEST.items(), key=lambda kv: kv[1])
    print(f"\nsmallest candidate count: {smallest} ({label}); measured: {len(SMALLEST)}")
    assert smallest >= MIN_CANDIDATES
