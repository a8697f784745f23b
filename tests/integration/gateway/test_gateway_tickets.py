"""Tickets over HTTP: 201 with an Idempotency-Key that returns the first ticket again, problem+json naming the form's
field, cross-county 404, a member's history without notes, categories, and the 服务台账. Counties 650410–650429."""

from __future__ import annotations

import csv
import io
import uuid

from jinqiao.kit.auth import Role
from tests.integration.desk.test_tickets import WAGES_FORM, seed_guest, seed_org

COUNTY, ORIGIN, OTHER = "650417", "650418", "650419"


def auth(token: str, key: str | None = None) -> dict[str, str]:
    headers = {"Authorization": f"Bearer {token}"}
    if key is not None:
        headers["Idempotency-Key"] = key
    return headers


def body(guest: str, **overrides: object) -> dict[str, object]:
    values: dict[str, object] = {"category": "legal_wages", "title": "讨要拖欠工资", "form": WAGES_FORM,
                                 "member_home_tenant_id": ORIGIN, "member_id": guest, "channel": "walk_in"}
    values.update(overrides)
    return values


async def test_filing_is_idempotent_by_key_and_moves_work_over_http(platform, county_token, admin_conn_factory):
    guest = await seed_guest(admin_conn_factory, COUNTY, origin=ORIGIN)
    token = county_token(COUNTY)
    key = f"ticket-{uuid.uuid4()}"
    first = await platform.http.post(f"/api/v1/tenants/{COUNTY}/tickets", json=body(guest), headers=auth(token, key))
    assert first.status_code == 201, first.text
    again = await platform.http.post(f"/api/v1/tenants/{COUNTY}/tickets", json=body(guest), headers=auth(token, key))
    assert again.status_code == 201 and again.json()["id"] == first.json()["id"]
    ticket = first.json()
    assert ticket["status"] == "new" and ticket["channel"] == "walk_in" and ticket["priority"] == "urgent"
    assert ticket["form"]["unpaid_amount_fen"] == 1_250_000 and ticket["form"]["contact_phone"] == "138****5678"
    path = f"/api/v1/tenants/{COUNTY}/tickets/{ticket['id']}"
    accepted = await platform.http.post(f"{path}/accept", json={"message": "已受理"},
                                        headers=auth(token, str(uuid.uuid4())))
    assert accepted.status_code == 200 and accepted.json()["status"] == "accepted"
    note = await platform.http.post(f"{path}/comments", json={"kind": "note", "body": "内部备注"},
                                    headers=auth(token, str(uuid.uuid4())))
    assert note.status_code == 201 and note.json()["entry"]["comment_kind"] == "note"
    resolved = await platform.http.post(f"{path}/resolve", json={"resolution": "已协调用人单位支付"},
                                        headers=auth(token, str(uuid.uuid4())))
    assert resolved.status_code == 200 and resolved.json()["status"] == "resolved"
    history = await platform.http.get(f"{path}/history", headers=auth(token))
    assert [e["action"] for e in history.json()] == ["filed", "accepted", "comment", "resolved"]
    wrong = await platform.http.post(f"{path}/start", json={}, headers=auth(token, str(uuid.uuid4())))
    assert wrong.status_code == 409, wrong.text
    assert "已办结" in wrong.text


async def test_a_bad_form_is_a_422_naming_the_field(platform, county_token, admin_conn_factory):
    guest = await seed_guest(admin_conn_factory, COUNTY, origin=ORIGIN)
    reply = await platform.http.post(
        f"/api/v1/tenants/{COUNTY}/tickets",
        json=body(guest, form={"employer": "某公司", "unpaid_amount_fen": -5}),
        headers=auth(county_token(COUNTY), str(uuid.uuid4())))
    assert reply.status_code == 422, reply.text
    errors = {e["field"]: e for e in reply.json()["errors"]}
    assert set(errors) == {"form.unpaid_amount_fen"}
    assert "拖欠金额" in reply.text


async def test_another_countys_ticket_is_a_404(platform, county_token, admin_conn_factory):
    guest = await seed_guest(admin_conn_factory, COUNTY, origin=ORIGIN)
    made = await platform.http.post(f"/api/v1/tenants/{COUNTY}/tickets", json=body(guest),
                                    headers=auth(county_token(COUNTY), str(uuid.uuid4())))
    ticket_id = made.json()["id"]
    foreign = await platform.http.get(f"/api/v1/tenants/{OTHER}/tickets/{ticket_id}",
                                      headers=auth(county_token(OTHER)))
    assert foreign.status_code == 404
    history = await platform.http.get(f"/api/v1/tenants/{OTHER}/tickets/{ticket_id}/history",
                                      headers=auth(county_token(OTHER)))
    assert history.status_code == 404


async def test_a_station_outside_the_queue_gets_a_404_and_the_list_leaves_it_out(platform, issuer,
                                                                                admin_conn_factory):
    station_a = await seed_org(admin_conn_factory, COUNTY, name="南关工作站", kind="TOWN_STATION")
    station_b = await seed_org(admin_conn_factory, COUNTY, name="北关工作站", kind="TOWN_STATION")
    guest = await seed_guest(admin_conn_factory, COUNTY, origin=ORIGIN)
    a = issuer.issue(user="staff-a", role=Role.STATION_STAFF, scope=COUNTY, org=station_a)[0]
    b = issuer.issue(user="staff-b", role=Role.STATION_STAFF, scope=COUNTY, org=station_b)[0]
    made = await platform.http.post(f"/api/v1/tenants/{COUNTY}/tickets", json=body(guest, channel="grid"),
                                    headers=auth(a, str(uuid.uuid4())))
    assert made.status_code == 201, made.text
    assert made.json()["serving_org_name"] == "南关工作站" and made.json()["channel"] == "grid"
    ticket_id = made.json()["id"]
    assert (await platform.http.get(f"/api/v1/tenants/{COUNTY}/tickets/{ticket_id}", headers=auth(b))).status_code \
        == 404
    mine = await platform.http.get(f"/api/v1/tenants/{COUNTY}/tickets", params={"queue": station_a},
                                   headers=auth(a))
    assert ticket_id in {t["id"] for t in mine.json()["tickets"]}
    theirs = await platform.http.get(f"/api/v1/tenants/{COUNTY}/tickets", headers=auth(b))
    assert ticket_id not in {t["id"] for t in theirs.json()["tickets"]}


async def test_categories_over_http(platform, county_token):
    token = county_token(OTHER)
    listed = await platform.http.get(f"/api/v1/tenants/{OTHER}/ticket-categories", headers=auth(token))
    assert listed.status_code == 200 and len(listed.json()) == 10
    wages = next(c for c in listed.json() if c["code"] == "legal_wages")
    assert wages["priority"] == "urgent" and wages["sla"]["same_day_first_response"]
    put = {"name": wages["name"], "fields": wages["fields"], "default_queue": "COUNTY", "priority": "high",
           "sla": {**wages["sla"], "warn_percent": 80}, "enabled": True, "reopen_days": 20,
           "version": wages["version"]}
    for f in put["fields"]:  # type: ignore[attr-defined]
        f["min"] = f["min"] or None
        f["max"] = f["max"] or None
    changed = await platform.http.put(f"/api/v1/tenants/{OTHER}/ticket-categories/legal_wages", json=put,
                                      headers=auth(token, str(uuid.uuid4())))
    assert changed.status_code == 200, changed.text
    assert changed.json()["default_queue"] == "COUNTY" and changed.json()["sla"]["warn_percent"] == 80
    bad = await platform.http.put(f"/api/v1/tenants/{OTHER}/ticket-categories/legal_wages",
                                  json={**put, "reopen_days": 91, "version": 0},
                                  headers=auth(token, str(uuid.uuid4())))
    assert bad.status_code == 422 and {e["field"] for e in bad.json()["errors"]} == {"category.reopen_days"}


async def test_the_service_ledger_lists_the_countys_tickets(platform, county_token, admin_conn_factory):
    county, origin = "650422", "650423"
    guest = await seed_guest(admin_conn_factory, county, origin=origin, name="赵小满")
    token = county_token(county)
    made = await platform.http.post(f"/api/v1/tenants/{county}/tickets",
                                    json={**body(guest), "member_home_tenant_id": origin},
                                    headers=auth(token, str(uuid.uuid4())))
    assert made.status_code == 201, made.text
    reply = await platform.http.get(f"/api/v1/tenants/{county}/ledgers/tickets.csv", headers=auth(token))
    assert reply.status_code == 200
    rows = list(csv.reader(io.StringIO(reply.content.decode("utf-8-sig"))))
    assert rows[0] == ["序号", "工单号", "登记日期", "党员姓名", "户籍地", "服务类别", "事项", "承办站点", "受理渠道",
                       "状态", "承办人", "首次响应", "办结日期", "是否超时", "满意度"]
    mine = [r for r in rows[1:] if r[1] == made.json()["number"]]
    assert len(mine) == 1
    assert mine[0][3] == "赵小满" and mine[0][5] == "讨薪" and mine[0][8] == "窗口受理" and mine[0][9] == "新建"
    xlsx = await platform.http.get(f"/api/v1/tenants/{county}/ledgers/tickets.xlsx", headers=auth(token))
    assert xlsx.status_code == 200 and xlsx.content[:2] == b"PK"
    foreign = await platform.http.get(f"/api/v1/tenants/{county}/ledgers/tickets.csv",
                                      headers=auth(county_token(origin)))
    assert foreign.status_code in (403, 404)
