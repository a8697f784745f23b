"""The synthetic province at a tiny size against the real services: what the platform then holds, through its APIs."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from jinqiao.demo import province
from jinqiao.desk.v1 import desk_pb2
from jinqiao.kit.auth import TokenIssuer
from jinqiao.organizations.v1 import organizations_pb2 as pb_orgs
from jinqiao.registry.v1 import flows_pb2, registry_pb2
from tests.integration.conftest import bearer

COUNTIES = ("410927", "411330", "411729")  # 台前县, 桐柏县, 新蔡县: no other test's counties


def _targets(platform: Any) -> province.Targets:
    return province.Targets(registry=f"127.0.0.1:{platform.registry.port}",
                            organizations=f"127.0.0.1:{platform.organizations.port}",
                            desk=f"127.0.0.1:{platform.desk.port}")


async def _members(platform: Any, token: Callable[[str], str], county: str) -> int:
    reply = await platform.registry_stub.ListMembers(registry_pb2.ListMembersRequest(page_size=1),
                                                     metadata=bearer(token(county)))
    return int(reply.total_size)


async def _flows(platform: Any, token: Callable[[str], str], county: str) -> int:
    reply = await platform.registry_stub.ListFlows(flows_pb2.ListFlowsRequest(page=1, page_size=1),
                                                   metadata=bearer(token(county)))
    return int(reply.total_size)


async def _org_names(platform: Any, token: Callable[[str], str], county: str) -> list[str]:
    roots = await platform.organizations_stub.ListChildOrgs(pb_orgs.ListChildOrgsRequest(page_size=10),
                                                            metadata=bearer(token(county)))
    root = next(o for o in roots.orgs if o.name.startswith("中共"))
    page = await platform.organizations_stub.ListSubtreeOrgs(pb_orgs.ListSubtreeOrgsRequest(
        root_id=root.id, page_size=500), metadata=bearer(token(county)))
    return [o.name for o in page.orgs]


async def test_a_tiny_province_is_built_and_grown_through_the_apis(
        platform: Any, issuer: TokenIssuer, county_token: Callable[[str], str]) -> None:
    said: list[str] = []
    first = await province.generate(targets=_targets(platform), issuer=issuer, members=300, seed=7,
                                    counties=COUNTIES, concurrency=16, say=said.append, progress_every=1.0)
    wanted = province.shares(300, COUNTIES)
    assert {c: await _members(platform, county_token, c) for c in COUNTIES} == wanted
    assert first.members_before == 0 and first.members_after == 300
    away = sum(province.away(c, i, seed=7) for c in COUNTIES for i in range(wanted[c]))
    assert first.registered == first.flows == away
    assert first.imported == 300 - away
    assert sum([await _flows(platform, county_token, c) for c in COUNTIES]) == away
    assert first.checked_in > 0 and first.returned > 0
    tickets = 0
    for county in COUNTIES:
        reply = await platform.desk_stub.ListTickets(desk_pb2.ListTicketsRequest(page=1, page_size=100),
                                                     metadata=bearer(county_token(county)))
        tickets += reply.total
    assert tickets == first.tickets > 0
    assert any("rows/s" in line for line in said)
    names = {c: await _org_names(platform, county_token, c) for c in COUNTIES}
    assert {c: len(n) for c, n in names.items()} == {c: len(province.org_plan(c, wanted[c])) for c in COUNTIES}

    # Growing adds members, flows and organisations; nothing is made twice.
    second = await province.generate(targets=_targets(platform), issuer=issuer, members=1200, seed=7,
                                     counties=COUNTIES, concurrency=16, say=said.append)
    grown = province.shares(1200, COUNTIES)
    assert {c: await _members(platform, county_token, c) for c in COUNTIES} == grown
    assert second.members_before == 300 and second.members_after == 1200
    more_away = sum(province.away(c, i, seed=7) for c in COUNTIES for i in range(wanted[c], grown[c]))
    assert second.flows == more_away
    assert sum([await _flows(platform, county_token, c) for c in COUNTIES]) == away + more_away
    for county in COUNTIES:
        now = await _org_names(platform, county_token, county)
        assert len(now) == len(set(now)) == len(province.org_plan(county, grown[county]))
        assert set(names[county]) <= set(now)
