"""Registry gRPC methods for members (mixed into the servicer): unpack, one use-case call, map back."""

from __future__ import annotations

from datetime import date

from jinqiao.kit import pii
from jinqiao.kit.auth import Principal, Role
from jinqiao.kit.grpcserver import current_principal
from jinqiao.kit.grpcwrap import Context
from jinqiao.registry.deps import RegistryDeps
from jinqiao.registry.members import domain, service
from jinqiao.registry.v1 import flows_pb2, registry_pb2


def _iso(value: date | None) -> str:
    return value.isoformat() if value else ""


def member_to_proto(member: domain.Member, *, principal: Principal) -> registry_pb2.Member:
    """The wire form of a (masked) member as ``principal`` may see it."""
    own = principal.role == Role.MEMBER and principal.member == member.id
    message = registry_pb2.Member(
        id=member.id, tenant_id=member.tenant_id, name=member.name,
        gender=registry_pb2.Gender.ValueType(member.gender),
        # Beside the masked ID number a birth date gives the number back (DESIGN §5): only with the reveal permission.
        birth_date=pii.visible_birth_date(member.birth_date, role=principal.role, own_record=own),
        id_number_masked=member.id_number_masked, phone_masked=member.phone_masked,
        membership_status=registry_pb2.MembershipStatus.ValueType(member.membership_status),
        township=member.township, village=member.village, occupation=member.occupation,
        join_date=_iso(member.join_date), version=member.version, ethnicity=member.ethnicity,
        education=member.education, home_branch_id=member.home_branch_id or "",
        household_address=member.household_address, flow_id=member.flow_id or "",
        flow_status=flows_pb2.FlowStatus.ValueType(member.flow_status),
        destination_code=member.destination_code, industry=member.industry,
        full_member_date=_iso(member.full_member_date),
    )
    message.create_time.FromDatetime(member.created_at)
    message.record_status = registry_pb2.RecordStatus.ValueType(member.record_status)
    message.ended_on = _iso(member.ended_on)
    if member.erased_at is not None:
        message.erase_time.FromDatetime(member.erased_at)
    return message


def _member_input(request: registry_pb2.CreateMemberRequest | registry_pb2.UpdateMemberRequest) -> service.MemberInput:
    # The ID number, gender and birth date are given only at registration (they cannot change).
    return service.MemberInput(
        name=request.name, id_number=getattr(request, "id_number", ""), phone=request.phone,
        membership_status=request.membership_status, township=request.township, village=request.village,
        occupation=request.occupation, join_date=request.join_date, ethnicity=request.ethnicity,
        education=request.education, home_branch_id=request.home_branch_id,
        household_address=request.household_address, full_member_date=request.full_member_date,
        gender=getattr(request, "gender", 0), birth_date=getattr(request, "birth_date", ""),
    )


class MembersApi:
    """CreateMember, GetMember, ListMembers, UpdateMember, ListMemberHistory and RevealIdNumber."""

    _deps: RegistryDeps

    async def CreateMember(
        self, request: registry_pb2.CreateMemberRequest, context: Context
    ) -> registry_pb2.CreateMemberResponse:
        """Register a member."""
        principal = current_principal()
        member = await service.create_member(deps=self._deps, principal=principal,
                                             data=_member_input(request), request_id=request.request_id)
        return registry_pb2.CreateMemberResponse(member=member_to_proto(member, principal=principal))

    async def GetMember(
        self, request: registry_pb2.GetMemberRequest, context: Context
    ) -> registry_pb2.GetMemberResponse:
        """One member."""
        principal = current_principal()
        member = await service.get_member(deps=self._deps, principal=principal, member_id=request.id)
        return registry_pb2.GetMemberResponse(member=member_to_proto(member, principal=principal))

    async def ListMembers(
        self, request: registry_pb2.ListMembersRequest, context: Context
    ) -> registry_pb2.ListMembersResponse:
        """A page of members, filtered."""
        principal = current_principal()
        found = await service.list_members(
            deps=self._deps, principal=principal, page_size=request.page_size,
            page_token=request.page_token, page=request.page, order_by=request.order_by,
            for_export=request.for_export,
            filters=service.MemberFilter(
                name_contains=request.name_contains, id_number=request.id_number, township=request.township,
                membership_status=request.membership_status, flow_status=request.flow_status,
                destination_code=request.destination_code, industry=request.industry, away_only=request.away_only,
            ),
        )
        return registry_pb2.ListMembersResponse(
            members=[member_to_proto(m, principal=principal) for m in found.members],
            next_page_token=found.next_page_token, total_size=found.total)

    async def UpdateMember(
        self, request: registry_pb2.UpdateMemberRequest, context: Context
    ) -> registry_pb2.UpdateMemberResponse:
        """Change a member's facts."""
        principal = current_principal()
        member = await service.update_member(deps=self._deps, principal=principal, member_id=request.id,
                                             version=request.version, mask=list(request.update_mask),
                                             data=_member_input(request))
        return registry_pb2.UpdateMemberResponse(member=member_to_proto(member, principal=principal))

    async def ListMemberHistory(
        self, request: registry_pb2.ListMemberHistoryRequest, context: Context
    ) -> registry_pb2.ListMemberHistoryResponse:
        """A member's recorded changes."""
        changes = await service.member_history(deps=self._deps, principal=current_principal(), member_id=request.id)
        response = registry_pb2.ListMemberHistoryResponse()
        for entry in changes:
            change = response.changes.add(version=entry.version, actor=entry.actor)
            change.change_time.FromDatetime(entry.changed_at)
            for f in entry.fields:
                change.fields.add(field=f.field, old_value=f.old, new_value=f.new)
        return response

    async def RevealIdNumber(
        self, request: registry_pb2.RevealIdNumberRequest, context: Context
    ) -> registry_pb2.RevealIdNumberResponse:
        """The full ID number, audited."""
        number = await service.reveal_id_number(deps=self._deps, principal=current_principal(), member_id=request.id,
                                                reason=request.reason)
        return registry_pb2.RevealIdNumberResponse(id_number=number)
