"""The desk's replica of members, flows and the org tree, learned from registry's and organizations' events."""

from __future__ import annotations

from dataclasses import dataclass

# Kinds (organizations' OrgKind names without the prefix) whose queue is a station's.
STATION_KINDS = frozenset({"TOWN_STATION", "SERVICE_CENTER"})


@dataclass(frozen=True, slots=True)
class ReplicaOrg:
    """An organisation of the county (CONTRACT, issue 13)."""

    id: str
    parent_id: str | None
    name: str
    kind: str
    dissolved: bool

    @property
    def is_station(self) -> bool:
        """A 驻城党建工作站 or 服务中心: it has a queue of its own."""
        return self.kind in STATION_KINDS


@dataclass(frozen=True, slots=True)
class ReplicaMember:
    """A member of this county (their home county), and where they are if away (CONTRACT, issue 13)."""

    id: str
    name: str
    home_org_id: str | None
    township: str
    active: bool
    flow_id: str | None
    destination_code: str
    placing_tenant_id: str
    placed_org_id: str | None
    placed_org_name: str


@dataclass(frozen=True, slots=True)
class Guest:
    """A member of another county placed in this one (临时组织关系) (CONTRACT, issue 13)."""

    flow_id: str
    origin_tenant_id: str
    member_id: str
    member_name: str
    id_number_masked: str
    org_id: str | None
    org_name: str
    # REGISTERED, OFFERED, CHECKED_IN, REFUSED or CLOSED.
    status: str
