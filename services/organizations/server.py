"""Organisations process: wires the use cases to gRPC; everything else comes from the kit."""

from __future__ import annotations

from collections.abc import Sequence

from jinqiao.kit.crypto import FieldCipher
from jinqiao.kit.process import Register, ServiceContext, run_service, serve
from jinqiao.kit.settings import KitSettings
from jinqiao.organizations import consumers, service
from jinqiao.organizations.api import OrganizationsServicer
from jinqiao.organizations.v1 import organizations_pb2, organizations_pb2_grpc

SERVICE_NAME = organizations_pb2.DESCRIPTOR.services_by_name["OrganizationsService"].full_name


async def setup(ctx: ServiceContext) -> Sequence[Register]:
    """Subscribe the placing county's consumers and build the servicer over the shared pool."""
    deps = service.OrgDeps(db=ctx.db, cipher=FieldCipher.from_settings(ctx.settings))
    await consumers.subscribe_all(ctx, deps)
    servicer = OrganizationsServicer(deps)
    return [lambda server: organizations_pb2_grpc.add_OrganizationsServiceServicer_to_server(servicer, server)]


async def main(settings: KitSettings) -> None:
    """Serve until SIGTERM or SIGINT."""
    await serve(settings, service=service.SERVICE, service_names=[SERVICE_NAME], produces_events=True, setup=setup)


if __name__ == "__main__":
    run_service(main, service=service.SERVICE)
