"""Organisations process: the only wiring. Composes each concept's servicer and subscribes the consumers."""

from __future__ import annotations

from collections.abc import Sequence

from jinqiao.kit.crypto import FieldCipher
from jinqiao.kit.process import Register, ServiceContext, run_catalogued
from jinqiao.organizations.checklist.api import ChecklistServicer
from jinqiao.organizations.deps import SERVICE, OrgDeps
from jinqiao.organizations.meetings import consumers as meetings_consumers
from jinqiao.organizations.meetings.api import MeetingsServicer
from jinqiao.organizations.memberships import consumers
from jinqiao.organizations.memberships.api import MembershipsServicer
from jinqiao.organizations.officers.api import OfficersServicer
from jinqiao.organizations.orgs.api import OrgsServicer
from jinqiao.organizations.placement.api import PlacementServicer
from jinqiao.organizations.v1 import organizations_pb2, organizations_pb2_grpc

SERVICE_NAME = organizations_pb2.DESCRIPTOR.services_by_name["OrganizationsService"].full_name


class OrganizationsServicer(OrgsServicer, PlacementServicer, ChecklistServicer, OfficersServicer, MeetingsServicer,
                            MembershipsServicer, organizations_pb2_grpc.OrganizationsServiceServicer):
    """jinqiao.organizations.v1.OrganizationsService: every concept's RPCs over the same dependencies."""

    def __init__(self, deps: OrgDeps) -> None:
        self._deps = deps


async def setup(ctx: ServiceContext) -> Sequence[Register]:
    """Subscribe the placing county's consumers and build the servicer over the shared pool."""
    deps = OrgDeps(db=ctx.db, cipher=FieldCipher.from_settings(ctx.settings))
    await consumers.subscribe_all(ctx, deps)
    meetings_consumers.subscribe(ctx)
    servicer = OrganizationsServicer(deps)
    return [lambda server: organizations_pb2_grpc.add_OrganizationsServiceServicer_to_server(servicer, server)]


if __name__ == "__main__":
    run_catalogued(service=SERVICE, setup=setup)
