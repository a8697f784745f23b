"""Subtree pages read the root and the page in one statement (issue 16): what a page shows and refuses is unchanged."""

from __future__ import annotations

import uuid

import grpc
import pytest

from jinqiao.kit import pagination
from jinqiao.kit.auth import Role
from jinqiao.organizations.v1 import organizations_pb2 as pb
from jinqiao.organizations.v1 import organizations_pb2_grpc
from tests.integration.conftest import bearer

K = pb.OrgKind


@pytest.fixture(scope="module")
async def tree(platform, county_token, issuer):
    """平舆县 (411723): 县委 → 东和店镇 (a village with a functional group) and 万冢镇; an external branch."""
    channel = grpc.aio.insecure_channel(f"127.0.0.1:{platform.organizations.port}")
    stub = organizations_pb2_grpc.OrganizationsServiceStub(channel)
    admin = bearer(county_token("411723"))

    async def add(name: str, kind: int, parent: str = "", **extra: object) -> pb.Org:
        return (await stub.CreateOrg(pb.CreateOrgRequest(parent_id=parent, name=name, kind=kind, **extra),
                                     metadata=admin)).org

    root = await add("中共平舆县委员会", K.ORG_KIND_COUNTY_COMMITTEE)
    east = await add("东和店镇党委", K.ORG_KIND_TOWNSHIP_COMMITTEE, root.id)
    west = await add("万冢镇党委", K.ORG_KIND_TOWNSHIP_COMMITTEE, root.id)
    village = await add("东和店村党支部", K.ORG_KIND_VILLAGE_BRANCH, east.id, coverage=["东和店村", "前庄"])
    group = await add("东和店村电商功能党小组", K.ORG_KIND_FUNCTIONAL_GROUP, village.id)
    external = await add("平舆县驻上海流动党员党支部", K.ORG_KIND_EXTERNAL_BRANCH, root.id, city_code="310000",
                         founding_mode=pb.FOUNDING_MODE_JOINT, employer="上海某物流公司")
    officer = bearer(issuer.issue(user="east-officer", role=Role.TOWNSHIP_OFFICER, scope="411723", org=east.id)[0])
    yield stub, admin, officer, {"root": root, "east": east, "west": west, "village": village, "group": group,
                                 "external": external}
    await channel.close()


async def code_of(call) -> grpc.StatusCode:
    with pytest.raises(grpc.aio.AioRpcError) as caught:
        await call
    return caught.value.code()


async def test_a_listed_organisation_is_the_one_get_returns(tree):
    stub, admin, _, o = tree
    page = await stub.ListSubtreeOrgs(pb.ListSubtreeOrgsRequest(root_id=o["root"].id, page_size=200), metadata=admin)
    assert [org.id for org in page.orgs][0] == o["root"].id and not page.next_page_token
    assert len(page.orgs) == len(o)
    for listed in page.orgs:
        got = (await stub.GetOrg(pb.GetOrgRequest(id=listed.id), metadata=admin)).org
        assert listed == got
    listed = {org.id: org for org in page.orgs}
    assert listed[o["external"].id].founding_mode == pb.FOUNDING_MODE_JOINT
    assert list(listed[o["village"].id].coverage) == ["东和店村", "前庄"]
    assert listed[o["group"].id].create_time.ToDatetime() == o["group"].create_time.ToDatetime()


async def test_a_page_past_the_end_is_empty_and_an_unknown_root_is_not_found(tree):
    stub, admin, _, o = tree
    after_every_path = pagination.encode_key("f" * 32)
    past = await stub.ListSubtreeOrgs(pb.ListSubtreeOrgsRequest(root_id=o["east"].id, page_token=after_every_path),
                                      metadata=admin)
    assert list(past.orgs) == [] and past.next_page_token == ""
    for root_id in (str(uuid.uuid4()), "not-an-id"):
        for token in ("", after_every_path):
            assert await code_of(stub.ListSubtreeOrgs(pb.ListSubtreeOrgsRequest(root_id=root_id, page_token=token),
                                                      metadata=admin)) == grpc.StatusCode.NOT_FOUND


async def test_a_township_officer_pages_only_under_its_township(tree):
    stub, _, officer, o = tree
    mine = await stub.ListSubtreeOrgs(pb.ListSubtreeOrgsRequest(root_id=o["village"].id), metadata=officer)
    assert [org.id for org in mine.orgs] == [o["village"].id, o["group"].id]
    after_every_path = pagination.encode_key("f" * 32)
    # The root's rows come back with the page; outside the officer's township they are never shown.
    for root in ("root", "west", "external"):
        for token in ("", after_every_path):
            request = pb.ListSubtreeOrgsRequest(root_id=o[root].id, page_token=token)
            assert await code_of(stub.ListSubtreeOrgs(request, metadata=officer)) == grpc.StatusCode.NOT_FOUND


async def test_another_county_never_pages_this_tree(tree, county_token):
    stub, _, _, o = tree
    other = bearer(county_token("411527"))
    for token in ("", pagination.encode_key(o["root"].id.replace("-", ""))):
        request = pb.ListSubtreeOrgsRequest(root_id=o["root"].id, page_token=token)
        assert await code_of(stub.ListSubtreeOrgs(request, metadata=other)) == grpc.StatusCode.NOT_FOUND
