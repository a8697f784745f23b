"""The steps every use case repeats: the caller's county, ids from the wire, and recording an act."""

from __future__ import annotations

import uuid

from google.protobuf.message import Message

from jinqiao.kit import audit, telemetry
from jinqiao.kit.auth import Principal
from jinqiao.kit.db import UnitOfWork
from jinqiao.kit.errors import InvalidArgument, NotFound
from jinqiao.kit.events import new_event


def require_tenant(principal: Principal) -> str:
    """The county the caller acts on; a token without one (e.g. the province) has no persons or objects to see."""
    if principal.tenant is None:
        raise NotFound("未找到")
    return principal.tenant


def parse_id(value: str, *, what: str = "", field: str | None = None) -> str:
    """A uuid from the wire in canonical form.

    A malformed id in a path names nothing, so it is not found; inside a body (``field`` given) it is the
    caller's mistake and names that field.
    """
    try:
        return str(uuid.UUID(value))
    except (ValueError, TypeError, AttributeError):
        if field is not None:
            raise InvalidArgument.field(field, "编号格式无效") from None
        raise NotFound(f"未找到{what}") from None


def parse_id_or_none(value: str) -> str | None:
    """A uuid in canonical form, or None for anything else (an event naming nothing we could hold)."""
    try:
        return str(uuid.UUID(value))
    except (ValueError, TypeError, AttributeError):
        return None


async def record_act(
    uow: UnitOfWork,
    principal: Principal,
    *,
    service: str,
    action: str,
    object_type: str,
    object_id: str,
    event: Message | None = None,
    aggregate_version: int = 1,
    reason: str | None = None,
    saga_trace: str = "",
) -> None:
    """Queue the act's event (if any) in the outbox and append its audit row, both in the unit of work.

    ``saga_trace`` is the traceparent of a saga's first step: the event continues that trace (DESIGN §3),
    while the audit row names the trace of the act itself.
    """
    if event is not None:
        uow.add_event(new_event(event, service=service, tenant=uow.tenant, aggregate_id=object_id,
                                aggregate_version=aggregate_version,
                                traceparent=saga_trace or telemetry.current_traceparent()))
    await audit.record_act(uow, actor=principal.user, role=principal.role, action=action, object_type=object_type,
                           object_id=object_id, reason=reason)
