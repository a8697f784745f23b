"""A member's departure (去世、出党) and the erasure of a departed member's personal fields, over the registry."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Literal

from fastapi import APIRouter
from pydantic import BaseModel, Field

from jinqiao.gateway.deps import CallerDep, GatewayDep, TenantDep
from jinqiao.gateway.wire import Body
from jinqiao.registry.v1 import registry_pb2

router = APIRouter(prefix="/api/v1/tenants/{tenant}", tags=["members"])

_DEPARTURE_IN = {"deceased": registry_pb2.MEMBER_DEPARTURE_DECEASED, "withdrew": registry_pb2.MEMBER_DEPARTURE_WITHDREW,
                 "struck_off": registry_pb2.MEMBER_DEPARTURE_STRUCK_OFF,
                 "expelled": registry_pb2.MEMBER_DEPARTURE_EXPELLED}


def _status_out(value: registry_pb2.RecordStatus.ValueType) -> str:
    """RECORD_STATUS_LEFT_PARTY → ``left_party``."""
    return registry_pb2.RecordStatus.Name(value).removeprefix("RECORD_STATUS_").lower()


class DepartureIn(Body):
    """How and when the member's record ended, and why (kept in the audit log)."""

    departure: Literal["deceased", "withdrew", "struck_off", "expelled"] = Field(
        description="去世 / 退党 / 除名 / 开除党籍")
    date: str = Field(min_length=1, max_length=10, description="去世或作出决定的日期 YYYY-MM-DD")
    reason: str = Field(min_length=1, max_length=200, description="理由")


class ErasureIn(Body):
    """Why the personal fields are erased now (kept in the audit log)."""

    reason: str = Field(min_length=1, max_length=200, description="删除理由")


class RecordStateOut(BaseModel):
    """A member's record as its end and erasure leave it (the masked numbers read 已删除 once erased)."""

    member_id: str
    record_status: str
    ended_on: str
    id_number_masked: str
    phone_masked: str
    erased_at: datetime | None
    already_erased: bool = False


def _state(member: registry_pb2.Member, *, already_erased: bool = False) -> RecordStateOut:
    return RecordStateOut(
        member_id=member.id, record_status=_status_out(member.record_status), ended_on=member.ended_on,
        id_number_masked=member.id_number_masked, phone_masked=member.phone_masked,
        erased_at=member.erase_time.ToDatetime(tzinfo=UTC) if member.HasField("erase_time") else None,
        already_erased=already_erased,
    )


@router.post("/members/{member_id}/departure", response_model=RecordStateOut)
async def record_departure(tenant: TenantDep, member_id: str, body: DepartureIn, who: CallerDep,
                           gw: GatewayDep) -> RecordStateOut:
    """End a member's record: death or leaving the Party; audited."""
    reply = await gw.clients.registry.RecordMemberDeparture(
        registry_pb2.RecordMemberDepartureRequest(id=member_id, departure=_DEPARTURE_IN[body.departure],
                                                  date=body.date, reason=body.reason),
        metadata=who.metadata, timeout=gw.clients.timeout,
    )
    return _state(reply.member)


@router.post("/members/{member_id}/erase-personal-data", response_model=RecordStateOut)
async def erase_personal_data(tenant: TenantDep, member_id: str, body: ErasureIn, who: CallerDep,
                              gw: GatewayDep) -> RecordStateOut:
    """Erase a departed member's personal fields now, where the law allows it (409 otherwise); audited, idempotent."""
    reply = await gw.clients.registry.EraseMemberPersonalData(
        registry_pb2.EraseMemberPersonalDataRequest(id=member_id, reason=body.reason),
        metadata=who.metadata, timeout=gw.clients.timeout,
    )
    return _state(reply.member, already_erased=reply.already_erased)
