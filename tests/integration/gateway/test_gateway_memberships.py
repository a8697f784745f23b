"""Temporary memberships over HTTP: the destination's list and actions, the member's own check-in, masking, 404s."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime

import pytest

from jinqiao.kit.auth import Role
from jinqiao.kit.crypto import FieldCipher, decode_keyring
from tests.integration.conftest import eventually
from tests.integration.organizations.memberships.test_memberships import PHONE, publish, registered

TAG = uuid.uuid4().hex[:6]
ORIGIN = "411503"  # 平桥区
DEST = "410108"  # 惠济区
OTHER = "410104"


def auth(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


@pytest.fixture(scope="module")
async def nats(infra):
    broker = infra.broker_as("registry")  # the registry's events, published with the registry's login
    await broker.connect()
    yield broker
    await broker.stop()


@pytest.fixture(scope="module")
def cipher(secrets) -> FieldCipher:
    return FieldCipher(keys=decode_keyring(secrets.pii_keys), active=1)


@pytest.fixture(scope="module")
async def dest(platform, county_token):
    """惠济区 with a township and an enterprise branch, founded over HTTP."""
    http, admin = platform.http, auth(county_token(DEST))
    roots = (await http.get(f"/api/v1/tenants/{DEST}/orgs", headers=admin)).json()["orgs"]
    root = roots[0]["id"] if roots else (await http.post(f"/api/v1/tenants/{DEST}/orgs", headers=admin, json={
        "name": "中共惠济区委员会", "kind": "county_committee"})).json()["id"]

    async def add(name: str, kind: str, parent: str, **extra: object) -> str:
        reply = await http.post(f"/api/v1/tenants/{DEST}/orgs", headers=admin,
                                json={"parent_id": parent, "name": name, "kind": kind, **extra})
        assert reply.status_code == 201, reply.text
        return reply.json()["id"]

    street = await add(f"花园口镇党委{TAG}", "township_committee", root)
    branch = await add(f"思念食品党支部{TAG}", "enterprise_branch", street, employer=f"思念食品{TAG}")
    return {"admin": admin, "branch": branch, "other": auth(county_token(OTHER))}


async def offered(platform, nats, cipher, dest) -> tuple[dict, object]:
    """A flow from 平桥区 offered at the branch; the membership as the list shows it."""
    event = registered(cipher, placing=DEST, destination=DEST, employer=f"思念食品{TAG}", industry="食品加工")
    await publish(nats, event, origin=ORIGIN)

    async def listed():
        reply = await platform.http.get(f"/api/v1/tenants/{DEST}/memberships",
                                        params={"status": "offered", "org_id": dest["branch"], "page_size": 200},
                                        headers=dest["admin"])
        assert reply.status_code == 200, reply.text
        return next((m for m in reply.json()["memberships"] if m["flow_id"] == event.flow_id), None)

    return await eventually(listed), event


def assert_masked(body: object) -> None:
    text = str(body)
    assert PHONE not in text
    assert "phone_enc" not in text and "'phone'" not in text and "'id_number'" not in text


async def test_the_destination_lists_and_reads_masked_memberships(platform, nats, cipher, dest):
    item, event = await offered(platform, nats, cipher, dest)
    assert (item["status"], item["org_id"], item["rule"], item["origin_tenant_id"]) == (
        "offered", dest["branch"], "employer_branch", ORIGIN)
    assert (item["phone_masked"], item["id_number_masked"]) == ("138****5678", "4115**********0516")
    assert_masked(item)
    one = await platform.http.get(f"/api/v1/tenants/{DEST}/memberships/{item['id']}", headers=dest["admin"])
    assert one.status_code == 200 and one.json() == item
    assert_masked(one.json())


async def test_another_county_gets_404(platform, nats, cipher, dest):
    item, _ = await offered(platform, nats, cipher, dest)
    for tenant in (OTHER, DEST):
        reply = await platform.http.get(f"/api/v1/tenants/{tenant}/memberships/{item['id']}", headers=dest["other"])
        assert reply.status_code == 404
        assert reply.headers["content-type"].startswith("application/problem+json")
    check_in = await platform.http.post(f"/api/v1/tenants/{OTHER}/memberships/{item['id']}/check-in",
                                        headers=dest["other"])
    assert check_in.status_code == 404


async def test_refusing_without_a_reason_names_the_field(platform, nats, cipher, dest):
    item, _ = await offered(platform, nats, cipher, dest)
    url = f"/api/v1/tenants/{DEST}/memberships/{item['id']}/refuse"
    empty = await platform.http.post(url, headers=dest["admin"], json={"reason": " "})
    assert empty.status_code == 422 and [e["field"] for e in empty.json()["errors"]] == ["reason"]
    refused = await platform.http.post(url, headers=dest["admin"], json={"reason": "企业已停产"})
    assert refused.status_code == 200
    assert (refused.json()["status"], refused.json()["refusal_reason"]) == ("refused", "企业已停产")
    again = await platform.http.post(url, headers=dest["admin"], json={"reason": "企业已停产"})
    assert again.status_code == 409


async def test_staff_check_in_then_activities_and_assessment(platform, nats, cipher, dest):
    item, _ = await offered(platform, nats, cipher, dest)
    base = f"/api/v1/tenants/{DEST}/memberships/{item['id']}"
    checked = await platform.http.post(f"{base}/check-in", headers=dest["admin"])
    assert checked.status_code == 200
    assert (checked.json()["status"], checked.json()["check_in_method"]) == ("checked_in", "staff")
    assert checked.json()["checked_in_at"]
    activity = await platform.http.post(f"{base}/activities", headers=dest["admin"], json={
        "occurred_on": datetime.now(UTC).date().isoformat(), "title": "三会一课：党课", "note": "认真听讲"})
    assert activity.status_code == 201 and activity.json()["activity_id"]
    bad = await platform.http.post(f"{base}/activities", headers=dest["admin"],
                                   json={"occurred_on": "2999-01-01", "title": "x"})
    assert bad.status_code == 422 and [e["field"] for e in bad.json()["errors"]] == ["occurred_on"]
    year = datetime.now(UTC).year
    assessed = await platform.http.post(f"{base}/assessments", headers=dest["admin"],
                                        json={"year": year, "grade": "competent", "comment": "按时参加组织生活"})
    assert assessed.status_code == 200
    assert assessed.json() == {"membership_id": item["id"], "year": year, "grade": "competent"}


async def test_a_member_checks_in_themself_with_the_code(platform, nats, cipher, dest, issuer):
    item, event = await offered(platform, nats, cipher, dest)
    code = await platform.http.get(f"/api/v1/tenants/{DEST}/orgs/{dest['branch']}/check-in-code",
                                   headers=dest["admin"])
    assert code.status_code == 200 and code.json()["org_name"] == f"思念食品党支部{TAG}"
    member = auth(issuer.issue(user="member-sn", role=Role.MEMBER, scope=ORIGIN, member=event.member_id)[0])
    url = f"/api/v1/tenants/{ORIGIN}/members/{event.member_id}/check-in"
    someone_else = await platform.http.post(f"/api/v1/tenants/{ORIGIN}/members/{uuid.uuid4()}/check-in",
                                            headers=member, json={"code": code.json()["code"]})
    assert someone_else.status_code == 404
    wrong = await platform.http.post(url, headers=member, json={"code": code.json()["code"][:-2] + "zz"})
    assert wrong.status_code == 404
    done = await platform.http.post(url, headers=member, json={"code": code.json()["code"]})
    assert done.status_code == 200
    assert done.json() == {"membership_id": item["id"], "org_name": f"思念食品党支部{TAG}", "tenant_id": DEST}
    after = await platform.http.get(f"/api/v1/tenants/{DEST}/memberships/{item['id']}", headers=dest["admin"])
    assert (after.json()["status"], after.json()["check_in_method"]) == ("checked_in", "qr_code")
    elsewhere = await platform.http.post(f"/api/v1/tenants/{DEST}/members/{event.member_id}/check-in",
                                         headers=member, json={"code": code.json()["code"]})
    assert elsewhere.status_code == 404
