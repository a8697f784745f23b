"""SuggestTemporaryOrg on real PostgreSQL: the county's tree, its rule order, and the province boundary."""

from __future__ import annotations

import grpc
import pytest

from jinqiao.organizations.v1 import organizations_pb2 as pb
from jinqiao.organizations.v1 import organizations_pb2_grpc
from tests.integration.conftest import bearer
from tests.support import field_violations

K = pb.OrgKind
R = pb.PlacementRule


@pytest.fixture(scope="module")
async def stub(platform):
    channel = grpc.aio.insecure_channel(f"127.0.0.1:{platform.organizations.port}")
    yield organizations_pb2_grpc.OrganizationsServiceStub(channel)
    await channel.close()


@pytest.fixture(scope="module")
async def jinshui(stub, county_token):
    """金水区 (410105) as a destination: an enterprise, a community, a village and a station's temporary branch."""
    md = bearer(county_token("410105"))

    async def add(name: str, kind: int, parent: str = "", **extra: object) -> str:
        return (await stub.CreateOrg(pb.CreateOrgRequest(parent_id=parent, name=name, kind=kind, **extra),
                                     metadata=md)).org.id

    root = await add("中共金水区委员会", K.ORG_KIND_COUNTY_COMMITTEE)
    street = await add("经八路街道党工委", K.ORG_KIND_TOWNSHIP_COMMITTEE, root)
    await add("宇通客车党支部", K.ORG_KIND_ENTERPRISE_BRANCH, street, employer="宇通客车股份有限公司")
    await add("经八路社区党支部", K.ORG_KIND_COMMUNITY_BRANCH, street, coverage=["经八路", "红专路"])
    await add("杨君刘村党支部", K.ORG_KIND_VILLAGE_BRANCH, street, coverage=["杨君刘村"])
    station = await add("金水区驻城党建工作站", K.ORG_KIND_TOWN_STATION, root)
    await add("工作站临时党支部", K.ORG_KIND_TEMPORARY_BRANCH, station)
    return md


async def suggest(stub, md, **fields) -> pb.SuggestTemporaryOrgResponse:
    return await stub.SuggestTemporaryOrg(pb.SuggestTemporaryOrgRequest(**fields), metadata=md)


async def test_each_rule_in_order_in_the_destination_county(stub, jinshui):
    employer = await suggest(stub, jinshui, destination_code="410105", employer="宇通客车股份有限公司",
                             industry="制造", address="经八路 1 号")
    community = await suggest(stub, jinshui, destination_code="410105", employer="个体",
                              industry="餐饮服务", address="红专路 9 号")
    village = await suggest(stub, jinshui, destination_code="410105", industry="蔬菜种植", address="杨君刘村二组")
    station = await suggest(stub, jinshui, destination_code="410105", industry="装修", address="不详")
    assert [r.org.name for r in (employer, community, village, station)] == [
        "宇通客车党支部", "经八路社区党支部", "杨君刘村党支部", "工作站临时党支部"]
    assert [r.rule for r in (employer, community, village, station)] == [
        R.PLACEMENT_RULE_EMPLOYER_BRANCH, R.PLACEMENT_RULE_RESIDENCE_COMMUNITY_BRANCH,
        R.PLACEMENT_RULE_FRINGE_VILLAGE_BRANCH, R.PLACEMENT_RULE_STATION_TEMPORARY_BRANCH]
    assert all(r.found and r.reason for r in (employer, community, village, station))


async def test_a_county_that_reorders_its_rules_is_followed(stub, jinshui):
    await stub.UpdatePlacementRules(pb.UpdatePlacementRulesRequest(
        scope=pb.PLACEMENT_SCOPE_IN_PROVINCE,
        rules=[R.PLACEMENT_RULE_RESIDENCE_COMMUNITY_BRANCH, R.PLACEMENT_RULE_EMPLOYER_BRANCH]), metadata=jinshui)
    try:
        result = await suggest(stub, jinshui, destination_code="410105", employer="宇通客车股份有限公司",
                               industry="销售", address="经八路 1 号")
        assert result.rule == R.PLACEMENT_RULE_RESIDENCE_COMMUNITY_BRANCH
        rules = await stub.GetPlacementRules(pb.GetPlacementRulesRequest(scope=pb.PLACEMENT_SCOPE_IN_PROVINCE),
                                             metadata=jinshui)
        assert not rules.is_default and rules.rules[0] == R.PLACEMENT_RULE_RESIDENCE_COMMUNITY_BRANCH
        # With the station rule gone, an unplaceable member finds nothing and gets advice.
        none = await suggest(stub, jinshui, destination_code="410105", industry="装修", address="不详")
        assert not none.found and "临时党支部" in none.advice and none.temporary_branch_threshold == 3
    finally:
        await stub.UpdatePlacementRules(pb.UpdatePlacementRulesRequest(
            scope=pb.PLACEMENT_SCOPE_IN_PROVINCE,
            rules=[R.PLACEMENT_RULE_EMPLOYER_BRANCH, R.PLACEMENT_RULE_RESIDENCE_COMMUNITY_BRANCH,
                   R.PLACEMENT_RULE_FRINGE_VILLAGE_BRANCH, R.PLACEMENT_RULE_STATION_TEMPORARY_BRANCH]),
            metadata=jinshui)


async def test_out_of_province_uses_the_origin_countys_own_external_branch(stub, county_token):
    md = bearer(county_token("411524"))
    root = (await stub.CreateOrg(pb.CreateOrgRequest(name="中共商城县委员会", kind=K.ORG_KIND_COUNTY_COMMITTEE),
                                 metadata=md)).org.id
    await stub.CreateOrg(pb.CreateOrgRequest(parent_id=root, name="商城县驻苏州流动党员党支部",
                                             kind=K.ORG_KIND_EXTERNAL_BRANCH, city_code="320500",
                                             founding_mode=pb.FOUNDING_MODE_HOSTED), metadata=md)
    await stub.CreateOrg(pb.CreateOrgRequest(parent_id=root, name="商城县网上党支部", kind=K.ORG_KIND_ONLINE_BRANCH),
                         metadata=md)
    suzhou = await suggest(stub, md, destination_code="320500", industry="电子")
    shenzhen = await suggest(stub, md, destination_code="440300", industry="电子")
    assert (suzhou.org.name, suzhou.rule) == ("商城县驻苏州流动党员党支部", R.PLACEMENT_RULE_EXTERNAL_BRANCH_IN_CITY)
    assert (shenzhen.org.name, shenzhen.rule) == ("商城县网上党支部", R.PLACEMENT_RULE_ONLINE_BRANCH)


async def test_another_in_province_county_cannot_be_asked(stub, jinshui):
    with pytest.raises(grpc.aio.AioRpcError) as caught:
        await suggest(stub, jinshui, destination_code="411525", industry="建筑")
    assert caught.value.code() == grpc.StatusCode.INVALID_ARGUMENT
    assert "destination_code" in field_violations(caught.value)


async def test_rules_that_do_not_apply_or_repeat_are_refused(stub, jinshui):
    for rules in ([R.PLACEMENT_RULE_EXTERNAL_BRANCH_IN_CITY], [R.PLACEMENT_RULE_EMPLOYER_BRANCH] * 2, [], [99]):
        with pytest.raises(grpc.aio.AioRpcError) as caught:
            await stub.UpdatePlacementRules(pb.UpdatePlacementRulesRequest(scope=pb.PLACEMENT_SCOPE_IN_PROVINCE,
                                                                           rules=rules), metadata=jinshui)
        assert "rules" in field_violations(caught.value)
