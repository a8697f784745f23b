"""Registry gRPC methods for departures and erasure (mixed into the servicer): unpack, one use-case call, map back."""

from __future__ import annotations

from jinqiao.kit.grpcserver import current_principal
from jinqiao.kit.grpcwrap import Context
from jinqiao.registry.deps import RegistryDeps
from jinqiao.registry.erasure import service
from jinqiao.registry.members.api import member_to_proto
from jinqiao.registry.v1 import registry_pb2


class ErasureApi:
    """RecordMemberDeparture and EraseMemberPersonalData."""

    _deps: RegistryDeps

    async def RecordMemberDeparture(
        self, request: registry_pb2.RecordMemberDepartureRequest, context: Context
    ) -> registry_pb2.RecordMemberDepartureResponse:
        """End a member's record: 去世 or 出党."""
        principal = current_principal()
        member = await service.record_departure(deps=self._deps, principal=principal, member_id=request.id,
                                                departure=request.departure, on=request.date, reason=request.reason)
        return registry_pb2.RecordMemberDepartureResponse(member=member_to_proto(member, principal=principal))

    async def EraseMemberPersonalData(
        self, request: registry_pb2.EraseMemberPersonalDataRequest, context: Context
    ) -> registry_pb2.EraseMemberPersonalDataResponse:
        """Erase a departed member's personal fields now."""
        principal = current_principal()
        erased = await service.erase_member_personal_data(deps=self._deps, principal=principal, member_id=request.id,
                                                          reason=request.reason)
        return registry_pb2.EraseMemberPersonalDataResponse(member=member_to_proto(erased.member, principal=principal),
                                                            already_erased=erased.already_erased)
