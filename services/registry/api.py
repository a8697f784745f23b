"""Registry gRPC servicer: unpack, one use-case call, map back."""

from __future__ import annotations

import grpc

from jinqiao.kit.grpcserver import current_principal
from jinqiao.registry import domain, service
from jinqiao.registry.deps import RegistryDeps
from jinqiao.registry.development_api import DevelopmentApi
from jinqiao.registry.imports_api import ImportsApi
from jinqiao.registry.v1 import registry_pb2, registry_pb2_grpc


def member_to_proto(member: domain.Member) -> registry_pb2.Member:
    """The wire form of a (masked) member."""
    message = registry_pb2.Member(
        id=member.id,
        tenant_id=member.tenant_id,
        name=member.name,
        gender=int(member.gender),
        birth_date=member.birth_date.isoformat(),
        id_number_masked=member.id_number_masked,
        phone_masked=member.phone_masked,
        membership_status=int(member.membership_status),
        township=member.township,
        village=member.village,
        occupation=member.occupation,
        join_date=member.join_date.isoformat() if member.join_date else "",
        version=member.version,
    )
    message.create_time.FromDatetime(member.created_at)
    return message


class RegistryServicer(ImportsApi, DevelopmentApi, registry_pb2_grpc.RegistryServiceServicer):
    """jinqiao.registry.v1.RegistryService; imports and development come from their own modules."""

    def __init__(self, deps: RegistryDeps) -> None:
        self._deps = deps

    async def CreateMember(
        self, request: registry_pb2.CreateMemberRequest, context: grpc.aio.ServicerContext
    ) -> registry_pb2.CreateMemberResponse:
        """Register a member."""
        member = await service.create_member(
            deps=self._deps,
            principal=current_principal(),
            data=service.MemberInput(
                name=request.name, id_number=request.id_number, phone=request.phone,
                membership_status=request.membership_status, township=request.township, village=request.village,
                occupation=request.occupation, join_date=request.join_date,
            ),
            request_id=request.request_id,
        )
        return registry_pb2.CreateMemberResponse(member=member_to_proto(member))

    async def GetMember(
        self, request: registry_pb2.GetMemberRequest, context: grpc.aio.ServicerContext
    ) -> registry_pb2.GetMemberResponse:
        """One member."""
        member = await service.get_member(deps=self._deps, principal=current_principal(), member_id=request.id)
        return registry_pb2.GetMemberResponse(member=member_to_proto(member))

    async def ListMembers(
        self, request: registry_pb2.ListMembersRequest, context: grpc.aio.ServicerContext
    ) -> registry_pb2.ListMembersResponse:
        """A page of members."""
        members, next_token = await service.list_members(
            deps=self._deps, principal=current_principal(), page_size=request.page_size,
            page_token=request.page_token,
        )
        return registry_pb2.ListMembersResponse(
            members=[member_to_proto(m) for m in members], next_page_token=next_token
        )
