"""The registry's 台账 as CSV and XLSX: Chinese headers, exactly the county's rows, masked PII, export roles.

The flows, returnees and village-cadres ledgers read the lead's ListFlows and ListReturnees (and use RegisterFlow and
ReturnFlow to set up data); they fail until those RPCs are implemented.
"""

from __future__ import annotations

import csv
import io
import uuid
from datetime import UTC, datetime

from openpyxl import load_workbook

from jinqiao.kit.auth import Role
from jinqiao.kit.clock import china_date
from jinqiao.kit.regions import name_of
from jinqiao.registry.v1 import development_pb2 as dev_pb
from jinqiao.registry.v1 import flows_pb2 as flows_pb
from jinqiao.registry.v1 import registry_pb2
from tests.integration.conftest import bearer, eventually
from tests.support import id_number, member_request

COUNTY = "411524"
OTHER = "411527"
BASE = f"/api/v1/tenants/{COUNTY}/ledgers"


def auth(token: str) -> dict[str, str]:
    """An HTTP bearer header."""
    return {"Authorization": f"Bearer {token}"}


def unique(prefix: str) -> str:
    """A name no other test uses, so a row can be told apart."""
    return f"{prefix}{uuid.uuid4().hex[:6]}"


def xlsx_rows(content: bytes, unit: str = "") -> tuple[str, list[list[object]]]:
    """The sheet's title and its table (header first), after the banner: title, 填报单位 and today's Beijing date."""
    book = load_workbook(io.BytesIO(content))
    sheet = book.active
    assert sheet.freeze_panes == "A5"
    rows = [list(r) for r in sheet.iter_rows(values_only=True)]
    today = china_date(datetime.now(UTC))
    assert rows[0][0] == sheet.title
    assert rows[1][0] == f"填报单位：{unit or '中共' + name_of(COUNTY) + '委组织部'}"
    assert rows[2][0] == f"填报日期：{today.year}年{today.month}月{today.day}日"
    return sheet.title, rows[3:]


def csv_rows(content: bytes) -> list[list[str]]:
    """The CSV's rows (header first); the file starts with a UTF-8 BOM."""
    assert content.startswith(b"\xef\xbb\xbf")
    return list(csv.reader(io.StringIO(content.decode("utf-8-sig"))))


async def fetch_both(platform, path: str, headers: dict[str, str],
                     moving: tuple[str, ...] = ()) -> tuple[str, list[list[object]], list[list[str]]]:
    """The ledger as XLSX and CSV; both must say the same, but for columns events may change between the downloads."""
    xlsx = await platform.http.get(f"{path}.xlsx", headers=headers)
    assert xlsx.status_code == 200, xlsx.text
    assert "attachment" in xlsx.headers["content-disposition"]
    title, sheet = xlsx_rows(xlsx.content)
    text = await platform.http.get(f"{path}.csv", headers=headers)
    assert text.status_code == 200, text.text
    rows = csv_rows(text.content)
    keep = [i for i, name in enumerate(sheet[0]) if name not in moving]
    assert [[r[i] for i in keep] for r in rows] == [["" if r[i] is None else str(r[i]) for i in keep] for r in sheet]
    return title, sheet, rows


async def make_applicant(platform, token: str, county: str, *, name: str, destination: str = "310000",
                         stage: int = dev_pb.DEVELOPMENT_STAGE_APPLICANT) -> tuple[dev_pb.Applicant, str]:
    """An applicant advanced to ``stage`` (activist at most); returns it with its clear ID number."""
    number = id_number(county)
    reply = await platform.registry_stub.CreateApplicant(dev_pb.CreateApplicantRequest(
        name=name, id_number=number, phone="13811112222", township="余集镇", village="王楼村",
        destination_code=destination, employer="苏州工业园区某电子厂", application_date="2021-01-10",
        mentors=[dev_pb.MentorInput(name="赵培元", phone="13733334444", side="HOME")],
    ), metadata=bearer(token))
    a = reply.applicant
    if stage == dev_pb.DEVELOPMENT_STAGE_ACTIVIST:
        a = (await platform.registry_stub.AdvanceApplicant(dev_pb.AdvanceApplicantRequest(
            id=a.id, stage=stage, date="2021-04-01", version=a.version), metadata=bearer(token))).applicant
    return a, number


async def test_the_development_ledger_holds_exactly_the_countys_applicants(platform, county_token,
                                                                          admin_conn_factory):
    token = county_token(COUNTY)
    mine, number = await make_applicant(platform, token, COUNTY, name=unique("甲"), stage=2)
    theirs, _ = await make_applicant(platform, county_token(OTHER), OTHER, name=unique("乙"))
    title, sheet, _ = await fetch_both(platform, f"{BASE}/development", auth(token))
    assert title == "发展党员台账"
    header, body = sheet[0], sheet[1:]
    assert header[:5] == ["序号", "姓名", "性别", "出生日期", "身份证号"]
    assert {"当前阶段", "确定入党积极分子日期", "流出地培养联系人", "流入地考察次数"} <= set(header)
    conn = await admin_conn_factory("registry")
    expected = [r["name"] for r in await conn.fetch("SELECT name FROM applicants WHERE tenant_id = $1", COUNTY)]
    assert sorted(r[1] for r in body) == sorted(expected)
    assert [r[0] for r in body] == list(range(1, len(body) + 1))
    assert theirs.name not in {r[1] for r in body}
    row = dict(zip(header, next(r for r in body if r[1] == mine.name), strict=True))
    assert row["身份证号"] == mine.id_number_masked and row["联系电话"] == "138****2222"
    assert (row["当前阶段"], row["申请入党日期"], row["确定入党积极分子日期"]) == ("入党积极分子", "2021-01-10",
                                                                                 "2021-04-01")
    assert row["务工地"] == "上海市" and row["流出地培养联系人"] == "赵培元(137****4444)"
    content = (await platform.http.get(f"{BASE}/development.csv", headers=auth(token))).content.decode("utf-8-sig")
    for clear in (number, "13811112222", "13733334444"):
        assert clear not in content


async def test_only_county_and_township_staff_export_and_never_another_countys(platform, county_token, issuer):
    secretary = issuer.issue(user="ledger-secretary", role=Role.BRANCH_SECRETARY, scope=COUNTY)[0]
    denied = await platform.http.get(f"{BASE}/development.csv", headers=auth(secretary))
    assert denied.status_code == 403
    assert denied.headers["content-type"].startswith("application/problem+json")
    # A township committee exports its own township's rows, so it must be bound to one (an unbound one is refused).
    unbound = issuer.issue(user="ledger-unbound", role=Role.TOWNSHIP_OFFICER, scope=COUNTY)[0]
    assert (await platform.http.get(f"{BASE}/development.xlsx", headers=auth(unbound))).status_code == 403
    township = issuer.issue(user="ledger-township", role=Role.TOWNSHIP_OFFICER, scope=COUNTY,
                            org="00000000-0000-4000-8000-000000000001")[0]
    assert (await platform.http.get(f"{BASE}/development.xlsx", headers=auth(township))).status_code == 200
    foreign = await platform.http.get(f"{BASE}/development.csv", headers=auth(county_token(OTHER)))
    assert foreign.status_code == 404
    assert (await platform.http.get(f"{BASE}/development.pdf", headers=auth(county_token(COUNTY)))).status_code == 422


# ------------------------------------------------------------------------------------------------ flows (lead's RPCs)


async def register_flow(platform, token: str, county: str, *, name: str, destination: str = "310000") -> tuple[
        registry_pb2.Member, flows_pb.Flow]:
    """A member of the county who left for the destination."""
    member = (await platform.registry_stub.CreateMember(member_request(county, name=name),
                                                        metadata=bearer(token))).member
    flow = (await platform.registry_stub.RegisterFlow(flows_pb.RegisterFlowRequest(
        member_id=member.id, destination_code=destination, address="浦东新区张江镇", employer="上海建工七建",
        industry="建筑业", start_date="2025-03-01", expected_months=12, contact_phone="13966667777",
    ), metadata=bearer(token))).flow
    return member, flow


async def test_the_flows_ledger_holds_exactly_the_countys_flows(platform, county_token, admin_conn_factory):
    token = county_token(COUNTY)
    member, flow = await register_flow(platform, token, COUNTY, name=unique("丙"))
    other, _ = await register_flow(platform, county_token(OTHER), OTHER, name=unique("丁"))

    async def placed() -> flows_pb.Flow | None:
        # The destination answers through events; wait for it so the row no longer moves under the test.
        reply = await platform.registry_stub.GetFlow(flows_pb.GetFlowRequest(id=flow.id), metadata=bearer(token))
        return reply.flow if reply.flow.status != flows_pb.FLOW_STATUS_REGISTERED else None

    settled = await eventually(placed)
    title, sheet, _ = await fetch_both(platform, f"{BASE}/flows", auth(token), moving=("状态", "报到时间"))
    assert title == "流向台账"
    header, body = sheet[0], sheet[1:]
    assert header[:3] == ["序号", "姓名", "流入地"] and {"活动证编号", "状态", "报到时间"} <= set(header)
    conn = await admin_conn_factory("registry")
    assert len(body) == await conn.fetchval("SELECT count(*) FROM flows WHERE tenant_id = $1", COUNTY)
    assert other.name not in {r[1] for r in body}
    row = dict(zip(header, next(r for r in body if r[1] == member.name), strict=True))
    assert (row["流入地"], row["省外"], row["务工单位"], row["外出日期"]) == ("上海市", "是", "上海建工七建",
                                                                            "2025-03-01")
    assert row["活动证编号"] == flow.certificate_serial and row["联系电话"] == "139****7777"
    # Offered to the county's online branch if another test founded one, else refused: either way as GetFlow says.
    status = {flows_pb.FLOW_STATUS_OFFERED: "已接收，待报到", flows_pb.FLOW_STATUS_REFUSED: "未接收，待重新安排"}
    assert (row["状态"], row["接收党组织"] or "", row["报到时间"]) == (status[settled.status], settled.org_name, None)


async def test_the_returnee_and_village_cadre_ledgers(platform, county_token):
    token = county_token(COUNTY)
    cadre, flow = await register_flow(platform, token, COUNTY, name=unique("戊"))
    await platform.registry_stub.ReturnFlow(flows_pb.ReturnFlowRequest(
        id=flow.id, return_date="2025-12-01", facts=flows_pb.ReturneeFacts(
            started_business=True, business_name="固始鹅养殖合作社", joined_reserve_pool=True,
            elected_village_committee=True, village_post="村委委员"),
    ), metadata=bearer(token))
    plain, plain_flow = await register_flow(platform, token, COUNTY, name=unique("己"))
    await platform.registry_stub.ReturnFlow(flows_pb.ReturnFlowRequest(
        id=plain_flow.id, return_date="2025-12-02", facts=flows_pb.ReturneeFacts()), metadata=bearer(token))
    away_activist, _ = await make_applicant(platform, token, COUNTY, name=unique("庚"), stage=2)
    home_activist, _ = await make_applicant(platform, token, COUNTY, name=unique("辛"), destination="", stage=2)
    away_applicant, _ = await make_applicant(platform, token, COUNTY, name=unique("壬"))

    title, sheet, _ = await fetch_both(platform, f"{BASE}/returnees", auth(token))
    assert title == "回归工程台账"
    header, body = sheet[0], sheet[1:]
    names = {r[1] for r in body}
    assert {cadre.name, plain.name} <= names
    row = dict(zip(header, next(r for r in body if r[1] == cadre.name), strict=True))
    assert (row["返乡前务工地"], row["返乡日期"], row["是否创业"], row["纳入村后备力量"], row["当选村“两委”"],
            row["担任职务"]) == ("上海市", "2025-12-01", "是", "是", "是", "村委委员")

    title, sheet, _ = await fetch_both(platform, f"{BASE}/village-cadres", auth(token))
    assert title == "双强村干部培养台账"
    header, body = sheet[0], sheet[1:]
    kinds = {r[1]: r[2] for r in body}
    assert kinds[cadre.name] == "回归党员" and kinds[away_activist.name] == "入党积极分子"
    assert plain.name not in kinds and home_activist.name not in kinds and away_applicant.name not in kinds
