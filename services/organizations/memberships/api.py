"""Temporary memberships' RPCs: unpack, one use-case call, map back."""

from __future__ import annotations

from jinqiao.kit.grpcserver import current_principal
from jinqiao.kit.grpcwrap import Context
from jinqiao.organizations.deps import OrgDeps
from jinqiao.organizations.memberships import domain, service
from jinqiao.organizations.v1 import organizations_pb2 as pb


def membership_to_proto(m: domain.Membership) -> pb.Membership:
    """The wire form of a temporary membership: the phone masked, the ID number only ever masked."""
    message = pb.Membership(
        id=m.id, tenant_id=m.tenant_id, origin_tenant_id=m.origin_tenant_id, flow_id=m.flow_id, member_id=m.member_id,
        attempt=m.attempt, member_name=m.member_name, id_number_masked=m.id_number_masked,
        phone_masked=m.phone_masked, gender=m.gender, industry=m.industry, employer=m.employer, address=m.address,
        destination_code=m.destination_code, org_id=m.org_id or "", org_name=m.org_name,
        rule=pb.PlacementRule.ValueType(m.rule or 0), reason=m.reason,
        status=pb.MembershipStatus.ValueType(m.status), refusal_reason=m.refusal_reason,
        check_in_method=m.check_in_method, close_reason=m.close_reason, version=m.version,
    )
    message.offer_time.FromDatetime(m.offered_at)
    if m.check_in_at is not None:
        message.check_in_time.FromDatetime(m.check_in_at)
    return message


class MembershipsServicer:
    """Memberships' part of jinqiao.organizations.v1.OrganizationsService (composed in ``server.py``)."""

    _deps: OrgDeps

    async def ListMemberships(
        self, request: pb.ListMembershipsRequest, context: Context
    ) -> pb.ListMembershipsResponse:
        """The county's temporary memberships, newest first."""
        page = await service.list_memberships(
            deps=self._deps, principal=current_principal(), statuses=list(request.statuses), org_id=request.org_id,
            page_size=request.page_size, page_token=request.page_token,
        )
        return pb.ListMembershipsResponse(memberships=[membership_to_proto(m) for m in page.memberships],
                                          next_page_token=page.next_page_token)

    async def GetMembership(
        self, request: pb.GetMembershipRequest, context: Context
    ) -> pb.GetMembershipResponse:
        """One temporary membership."""
        m = await service.get_membership(deps=self._deps, principal=current_principal(), membership_id=request.id)
        return pb.GetMembershipResponse(membership=membership_to_proto(m))

    async def RefuseMembership(
        self, request: pb.RefuseMembershipRequest, context: Context
    ) -> pb.RefuseMembershipResponse:
        """Refuse an offer."""
        m = await service.refuse_membership(deps=self._deps, principal=current_principal(),
                                            membership_id=request.id, reason=request.reason)
        return pb.RefuseMembershipResponse(membership=membership_to_proto(m))

    async def CheckInMembership(
        self, request: pb.CheckInMembershipRequest, context: Context
    ) -> pb.CheckInMembershipResponse:
        """报到 recorded by staff."""
        m = await service.check_in_membership(deps=self._deps, principal=current_principal(),
                                              membership_id=request.id)
        return pb.CheckInMembershipResponse(membership=membership_to_proto(m))

    async def CheckInByCode(
        self, request: pb.CheckInByCodeRequest, context: Context
    ) -> pb.CheckInByCodeResponse:
        """报到 by the member scanning a QR code."""
        m = await service.check_in_by_code_across_tenants(deps=self._deps, principal=current_principal(),
                                                          code=request.code)
        return pb.CheckInByCodeResponse(membership_id=m.id, org_name=m.org_name, tenant_id=m.tenant_id)

    async def GetCheckInCode(
        self, request: pb.GetCheckInCodeRequest, context: Context
    ) -> pb.GetCheckInCodeResponse:
        """An organisation's QR check-in code."""
        result = await service.get_check_in_code(deps=self._deps, principal=current_principal(),
                                                 org_id=request.org_id)
        return pb.GetCheckInCodeResponse(code=result.code, org_name=result.org_name)

    async def RecordActivity(
        self, request: pb.RecordActivityRequest, context: Context
    ) -> pb.RecordActivityResponse:
        """An activity of a mobile member."""
        activity_id = await service.record_activity(
            deps=self._deps, principal=current_principal(), membership_id=request.membership_id,
            occurred_on=request.occurred_on, title=request.title, note=request.note,
        )
        return pb.RecordActivityResponse(activity_id=activity_id)

    async def AssessMembership(
        self, request: pb.AssessMembershipRequest, context: Context
    ) -> pb.AssessMembershipResponse:
        """The destination's yearly assessment."""
        result = await service.assess_membership(
            deps=self._deps, principal=current_principal(), membership_id=request.membership_id, year=request.year,
            grade=request.grade, comment=request.comment,
        )
        return pb.AssessMembershipResponse(membership_id=request.membership_id, year=result.year, grade=result.grade)
