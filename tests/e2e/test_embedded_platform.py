"""`jinqiao up` end to end: the whole embedded platform as a user gets it, walked over HTTP."""

from __future__ import annotations

import os
import queue
import re
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from jinqiao.kit import catalog
from tests.support import embedded_env, member_json

pytestmark = pytest.mark.e2e

JINQIAO = str(Path(sys.executable).parent / "jinqiao")
URL = re.compile(r"http://127\.0\.0\.1:\d+/")


class Platform:
    """A `jinqiao up` process and the lines it printed."""

    def __init__(self, env: dict[str, str]) -> None:
        self.env = env
        self.lines: queue.Queue[str] = queue.Queue()
        self.seen: list[str] = []
        self.proc = subprocess.Popen([JINQIAO, "up"], env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                                     text=True, start_new_session=True)
        threading.Thread(target=self._pump, daemon=True).start()

    def _pump(self) -> None:
        assert self.proc.stdout is not None
        for line in self.proc.stdout:
            self.lines.put(line)

    def wait_for_url(self, timeout: float = 240) -> str:
        """Block until the console URL is printed."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.proc.poll() is not None and self.lines.empty():
                break
            try:
                line = self.lines.get(timeout=1)
            except queue.Empty:
                continue
            self.seen.append(line)
            if match := URL.search(line):
                return match.group(0)
        raise AssertionError("jinqiao up printed no URL:\n" + "".join(self.seen[-60:]))

    def stop(self) -> int:
        """SIGTERM by pid, as Ctrl-C would; return the exit code."""
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
        try:
            return self.proc.wait(timeout=90)
        except subprocess.TimeoutExpired:
            os.killpg(self.proc.pid, signal.SIGKILL)
            raise


@pytest.fixture(scope="module")
def env() -> Iterator[dict[str, str]]:
    data = Path(tempfile.mkdtemp(prefix="jinqiao-e2e-"))
    data.chmod(0o755)
    # Keys live apart from the data, as in a real install; beside it, so both go when the test ends.
    values = embedded_env(data=data, keys=Path(f"{data}-keys"), JINQIAO_DEMO_PASSWORD="e2e-password")
    yield values
    shutil.rmtree(data, ignore_errors=True)
    shutil.rmtree(str(data) + "-keys", ignore_errors=True)


def login(http: httpx.Client, username: str) -> dict[str, str]:
    reply = http.post("/api/v1/auth/token", json={"username": username, "password": "e2e-password"})
    assert reply.status_code == 200, reply.text
    return {"Authorization": f"Bearer {reply.json()['access_token']}"}


def county_count(http: httpx.Client, headers: dict[str, str], county: str) -> int:
    body = http.get("/api/v1/scopes/41/insights/members", headers=headers).json()
    return next((c["members"] for c in body["counties"] if c["tenant_id"] == county), 0)


def wait_until(check, timeout: float = 30) -> None:
    deadline = time.monotonic() + timeout
    while not check():
        assert time.monotonic() < deadline, "condition not met before the timeout"
        time.sleep(0.2)


def test_jinqiao_up_serves_the_slice_and_keeps_data_across_a_restart(env):
    first = Platform(env)
    try:
        url = first.wait_for_url()
        printed = "".join(first.seen)
        assert "county-411525" in printed and "province" in printed
        with httpx.Client(base_url=url, timeout=15) as http:
            assert http.get("/healthz").status_code == 200
            province = login(http, "province")
            county = login(http, "county-411525")
            seeded = http.get("/api/v1/tenants/411525/members?page_size=200", headers=county).json()["members"]
            assert len(seeded) >= 10
            assert all("**********" in m["id_number_masked"] for m in seeded)
            wait_until(lambda: county_count(http, province, "411525") == len(seeded), timeout=60)
            created = http.post("/api/v1/tenants/411525/members", json=member_json("411525"), headers=county)
            assert created.status_code == 201, created.text
            member_id = created.json()["id"]
            wait_until(lambda: county_count(http, province, "411525") == len(seeded) + 1)
            roots = http.get("/api/v1/tenants/411525/orgs", headers=county).json()["orgs"]
            assert [r["name"] for r in roots] == ["中共固始县委员会"]
            tree = http.get(f"/api/v1/tenants/411525/orgs/{roots[0]['id']}/subtree", headers=county).json()["orgs"]
            kinds = {o["kind"] for o in tree}
            assert {"township_committee", "village_branch", "external_general_branch", "town_station"} <= kinds
            ledger = http.get("/api/v1/tenants/411525/ledgers/dispatched-officers.csv", headers=county)
            assert ledger.status_code == 200 and ledger.content.decode("utf-8-sig").count("党建指导员") == 5
            officer = login(http, "township-411525")
            own = http.get("/api/v1/tenants/411525/orgs", headers=officer).json()["orgs"]
            assert [o["kind"] for o in own] == ["township_committee"]
            hidden = http.get(f"/api/v1/tenants/411525/orgs/{roots[0]['id']}/subtree", headers=officer)
            assert hidden.status_code == 404  # the county committee lies above the officer's township
            cities = {o["city_name"] for o in tree if o["city_name"]}
            assert {"北京市", "上海市", "武汉市", "广州市", "苏州市"} <= cities
            other = login(http, "county-411503")
            assert http.get(f"/api/v1/tenants/411525/members/{member_id}", headers=other).status_code == 404
            walk_the_demo_flows(http)
            walk_the_demo_desk(http)
            walk_the_demo_loans(http)
            walk_the_demo_notifications(http)
            the_saga_survives_a_killed_destination_service(env, http, member_id)
        status = subprocess.run([JINQIAO, "status"], env=env, capture_output=True, text=True, timeout=60)
        assert status.returncode == 0, status.stdout + status.stderr
        for entry in catalog.load():  # every catalogued service, desk and notifications included
            assert f"{entry.name:>10}: 健康 healthy" in status.stdout, status.stdout
    finally:
        assert first.stop() == 0
    assert not (Path(env["JINQIAO_DATA_DIR"]) / "run.json").exists()

    second = Platform(env)
    try:
        url = second.wait_for_url()
        with httpx.Client(base_url=url, timeout=15) as http:
            county = login(http, "county-411525")
            again = http.get(f"/api/v1/tenants/411525/members/{member_id}", headers=county)
            assert again.status_code == 200
            listed = http.get("/api/v1/tenants/411525/members?page_size=200", headers=county).json()["members"]
            assert len(listed) == len(seeded) + 1  # survived, and the demo seed did not run twice
    finally:
        assert second.stop() == 0


def walk_the_demo_desk(http: httpx.Client) -> None:
    """The demo's service desk: 固始县's tickets in every state, the station's queue, and a referral each way
    between demo counties — one accepted by the member's home county, one waiting at the county they work in."""
    county = login(http, "county-411525")
    tickets = http.get("/api/v1/tenants/411525/tickets?page_size=200", headers=county).json()["tickets"]
    assert {t["status"] for t in tickets} >= {"new", "accepted", "in_progress", "awaiting_info", "resolved",
                                               "reviewed", "closed"}, {t["status"] for t in tickets}
    station = login(http, "station-411525")
    queues = http.get("/api/v1/tenants/411525/ticket-queues", headers=station).json()
    assert queues and all(q["org_id"] for q in queues) and sum(q["open"] for q in queues) > 0, queues
    # The answers reach 固始县 as events: on a busy machine a few seconds after the console is announced.
    deadline = time.monotonic() + 60
    while True:
        sent = http.get("/api/v1/tenants/411525/ticket-referrals?incoming=false", headers=county).json()["referrals"]
        if {"accepted", "pending"} <= {r["status"] for r in sent} or time.monotonic() > deadline:
            break
        time.sleep(1)
    by_direction = {r["direction"]: r for r in sent}
    assert by_direction["to_home"]["status"] == "accepted", sent
    assert by_direction["to_station"]["status"] == "pending", sent
    home = by_direction["to_home"]["to_tenant_id"]
    received = http.get(f"/api/v1/tenants/{home}/ticket-referrals?incoming=true",
                        headers=login(http, f"county-{home}")).json()["referrals"]
    assert any(r["id"] == by_direction["to_home"]["id"] and r["ticket_id"] for r in received), received


def walk_the_demo_loans(http: httpx.Client) -> None:
    """The demo's 党员先锋贷: 固始县's three programmes, its loans in every state (one overdue), the partner bank seeing
    its own bank's loans only, and the demo member their own."""
    county = login(http, "county-411525")
    programmes = http.get("/api/v1/tenants/411525/loan-programmes", headers=county).json()
    assert {p["product"] for p in programmes} == {"pioneer", "micro_credit", "startup_guarantee"}, programmes
    loans = http.get("/api/v1/tenants/411525/loans?page_size=200", headers=county).json()["loans"]
    assert {x["status"] for x in loans} >= {"submitted", "recommended", "reviewed", "approved", "credit_granted",
                                             "disbursed", "settled", "refused", "withdrawn"}, loans
    assert any(x["overdue_fen"] > 0 and x["days_past_due"] > 0 for x in loans), loans
    bank = login(http, "bank-411525")
    seen = http.get("/api/v1/tenants/411525/loans?page_size=200", headers=bank).json()["loans"]
    assert seen and {x["bank_code"] for x in seen} == {"gsrcb"}
    assert {x["id"] for x in seen} <= {x["id"] for x in loans}
    me = login(http, "member-411525")
    mine = http.get("/api/v1/tenants/411525/loans", headers=me).json()["loans"]
    assert len(mine) >= 2 and len({x["member_id"] for x in mine}) == 1, mine
    schedule = http.get(f"/api/v1/tenants/411525/loans/{next(x['id'] for x in mine if x['status'] == 'disbursed')}"
                        "/schedule", headers=me).json()
    assert sum(i["principal_fen"] for i in schedule["instalments"]) == schedule["total_principal_fen"] > 0


def walk_the_demo_notifications(http: httpx.Client) -> None:
    """The demo's notifications: the county department's 站内信 filled by the demo's events (loans waiting for the
    county's approval, overdue tickets, escalations reaching the county), and its channels set up but disabled."""
    county = login(http, "county-411525")

    def inbox_has_news() -> bool:
        reply = http.get("/api/v1/me/notifications", headers=county)
        return reply.status_code == 200 and bool(reply.json()["items"])

    # The notices follow the demo's events: on a busy machine some seconds after the console is announced.
    wait_until(inbox_has_news, timeout=60)
    bell = http.get("/api/v1/me/notifications/summary", headers=county).json()
    assert bell["latest_id"], bell
    channels = {c["channel"]: c for c in http.get("/api/v1/tenants/411525/notification-channels",
                                                   headers=county).json()}
    assert channels["email"]["enabled"] is False and channels["email"]["settings"]["port"] == "1025", channels
    assert channels["webhook"]["enabled"] is False, channels


def walk_the_demo_flows(http: httpx.Client) -> None:
    """The demo's members away: placed, checked in, one back home; the member checks in by the station's code."""
    county = login(http, "county-411525")
    # The 报到 the seed recorded at the destinations reach the registry as events: on a busy machine a few seconds
    # after the console is announced.
    deadline = time.monotonic() + 60
    while True:
        flows = http.get("/api/v1/tenants/411525/flows?page_size=200", headers=county).json()["flows"]
        statuses = {f["status"] for f in flows}
        if {"managed", "offered", "returned"} <= statuses or time.monotonic() > deadline:
            break
        time.sleep(1)
    assert len(flows) >= 7 and {"managed", "offered", "returned"} <= statuses, statuses
    assert {f["destination_code"] for f in flows if f["out_of_province"]} and all(
        f["certificate_serial"].startswith("411525-") for f in flows)
    me = login(http, "member-411525")
    who = http.get("/api/v1/me", headers=me).json()
    assert who["role"] == "member" and who["member"]
    mine = http.get(f"/api/v1/tenants/411525/members/{who['member']}/flows", headers=me).json()["flows"]
    waiting = next(f for f in mine if f["status"] == "offered")
    someone_else = next(f for f in flows if f["member_id"] != who["member"])
    assert http.get(f"/api/v1/tenants/411525/members/{someone_else['member_id']}", headers=me).status_code == 404
    destination = login(http, f"county-{waiting['placing_tenant_id']}")
    offered = http.get(f"/api/v1/tenants/{waiting['placing_tenant_id']}/memberships?status=offered",
                       headers=destination).json()["memberships"]
    held = next(m for m in offered if m["flow_id"] == waiting["id"])
    assert "*" in held["id_number_masked"] and "id_number" not in held
    code = http.get(f"/api/v1/tenants/{waiting['placing_tenant_id']}/orgs/{held['org_id']}/check-in-code",
                    headers=destination).json()["code"]
    wrong = http.post(f"/api/v1/tenants/411525/members/{who['member']}/check-in", json={"code": code + "x"},
                      headers=me)
    assert wrong.status_code == 404
    done = http.post(f"/api/v1/tenants/411525/members/{who['member']}/check-in", json={"code": code}, headers=me)
    assert done.status_code == 200, done.text
    wait_until(lambda: http.get(f"/api/v1/tenants/411525/flows/{waiting['id']}", headers=me).json()["status"]
               == "managed")
    province = login(http, "province")
    matrix = http.get("/api/v1/scopes/41/insights/flows", headers=province).json()
    assert matrix["total_away"] >= 1 and matrix["cells"]
    assert "member_id" not in str(matrix) and "member_name" not in str(matrix)


def the_saga_survives_a_killed_destination_service(env: dict[str, str], http: httpx.Client, member_id: str) -> None:
    """kill -9 the organizations service; an outflow registered meanwhile is placed once it is restarted."""
    import json

    county = login(http, "county-411525")
    run = json.loads((Path(env["JINQIAO_DATA_DIR"]) / "run.json").read_text())
    os.kill(run["services"]["organizations"], signal.SIGKILL)
    flow = http.post(f"/api/v1/tenants/411525/members/{member_id}/flows", headers=county, json={
        "destination_code": "410105", "address": "金水区花园路 9 号", "industry": "装修",
        "start_date": time.strftime("%Y-%m-%d"), "expected_months": 6})
    assert flow.status_code == 201, flow.text
    flow_id = flow.json()["id"]
    wait_until(lambda: http.get(f"/api/v1/tenants/411525/flows/{flow_id}", headers=county).json()["status"]
               == "offered", timeout=90)
