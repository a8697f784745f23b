"""Role scoping of the org tree: a township officer works inside its township; a branch secretary sees its branch."""

from __future__ import annotations

import grpc
import pytest

from jinqiao.kit.auth import Role
from jinqiao.organizations.v1 import organizations_pb2 as pb
from jinqiao.organizations.v1 import organizations_pb2_grpc
from tests.integration.conftest import bearer

K = pb.OrgKind


@pytest.fixture(scope="module")
async def tree(platform, county_token, issuer):
    """息县 (411528): 县委 → 东岳镇 (with a village) and 项店镇 (with a village)."""
    channel = grpc.aio.insecure_channel(f"127.0.0.1:{platform.organizations.port}")
    stub = organizations_pb2_grpc.OrganizationsServiceStub(channel)
    admin = bearer(county_token("411528"))

    async def add(name: str, kind: int, parent: str = "") -> str:
        return (await stub.CreateOrg(pb.CreateOrgRequest(parent_id=parent, name=name, kind=kind),
                                     metadata=admin)).org.id

    root = await add("中共息县委员会", K.ORG_KIND_COUNTY_COMMITTEE)
    east = await add("东岳镇党委", K.ORG_KIND_TOWNSHIP_COMMITTEE, root)
    west = await add("项店镇党委", K.ORG_KIND_TOWNSHIP_COMMITTEE, root)
    east_village = await add("东岳村党支部", K.ORG_KIND_VILLAGE_BRANCH, east)
    west_village = await add("项店村党支部", K.ORG_KIND_VILLAGE_BRANCH, west)
    officer = bearer(issuer.issue(user="east-officer", role=Role.TOWNSHIP_OFFICER, scope="411528", org=east)[0])
    secretary = bearer(issuer.issue(user="secretary", role=Role.BRANCH_SECRETARY, scope="411528",
                                    org=east_village)[0])
    yield stub, {"root": root, "east": east, "west": west, "east_village": east_village,
                 "west_village": west_village, "officer": officer, "secretary": secretary}
    await channel.close()


async def code_of(call) -> grpc.StatusCode:
    with pytest.raises(grpc.aio.AioRpcError) as caught:
        await call
    return caught.value.code()


async def test_a_township_officer_works_inside_its_township(tree):
    stub, t = tree
    new = await stub.CreateOrg(pb.CreateOrgRequest(parent_id=t["east"], name="东岳镇新村党支部",
                                                   kind=K.ORG_KIND_VILLAGE_BRANCH), metadata=t["officer"])
    await stub.RenameOrg(pb.RenameOrgRequest(id=new.org.id, name="东岳镇新庄村党支部"), metadata=t["officer"])
    subtree = await stub.ListSubtreeOrgs(pb.ListSubtreeOrgsRequest(root_id=t["east"]), metadata=t["officer"])
    assert {o.id for o in subtree.orgs} == {t["east"], t["east_village"], new.org.id}
    roots = await stub.ListChildOrgs(pb.ListChildOrgsRequest(), metadata=t["officer"])
    assert [o.id for o in roots.orgs] == [t["east"]]


async def test_a_township_officer_cannot_touch_a_sibling_township(tree):
    stub, t = tree
    md = t["officer"]
    assert await code_of(stub.GetOrg(pb.GetOrgRequest(id=t["west"]), metadata=md)) == grpc.StatusCode.NOT_FOUND
    assert await code_of(stub.RenameOrg(pb.RenameOrgRequest(id=t["west_village"], name="x"),
                                        metadata=md)) == grpc.StatusCode.NOT_FOUND
    assert await code_of(stub.CreateOrg(pb.CreateOrgRequest(parent_id=t["west"], name="渗透党支部",
                                                            kind=K.ORG_KIND_VILLAGE_BRANCH),
                                        metadata=md)) == grpc.StatusCode.INVALID_ARGUMENT
    assert await code_of(stub.MoveOrg(pb.MoveOrgRequest(id=t["east_village"], new_parent_id=t["west"]),
                                      metadata=md)) == grpc.StatusCode.INVALID_ARGUMENT
    found = await stub.SearchOrgs(pb.SearchOrgsRequest(name_contains="项店"), metadata=md)
    assert list(found.orgs) == []


async def test_a_township_officer_cannot_dissolve_or_move_its_own_township(tree):
    stub, t = tree
    md = t["officer"]
    assert await code_of(stub.DissolveOrg(pb.DissolveOrgRequest(id=t["east"], reason="x"),
                                          metadata=md)) == grpc.StatusCode.PERMISSION_DENIED
    assert await code_of(stub.CreateOrg(pb.CreateOrgRequest(name="假县委", kind=K.ORG_KIND_COUNTY_COMMITTEE),
                                        metadata=md)) == grpc.StatusCode.PERMISSION_DENIED


async def test_a_branch_secretary_sees_only_its_branch_and_changes_nothing(tree):
    stub, t = tree
    md = t["secretary"]
    own = await stub.GetOrg(pb.GetOrgRequest(id=t["east_village"]), metadata=md)
    assert own.org.name == "东岳村党支部"
    assert await code_of(stub.GetOrg(pb.GetOrgRequest(id=t["east"]), metadata=md)) == grpc.StatusCode.NOT_FOUND
    assert await code_of(stub.RenameOrg(pb.RenameOrgRequest(id=t["east_village"], name="x"),
                                        metadata=md)) == grpc.StatusCode.PERMISSION_DENIED


async def test_a_scoped_role_without_an_organisation_is_refused(tree, issuer):
    stub, t = tree
    token = issuer.issue(user="nobody", role=Role.TOWNSHIP_OFFICER, scope="411528")[0]
    assert await code_of(stub.GetOrg(pb.GetOrgRequest(id=t["east"]),
                                     metadata=bearer(token))) == grpc.StatusCode.PERMISSION_DENIED
