"""The 七有 checklist of an external branch: ``…/orgs/{org_id}/checklist``."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Literal

from fastapi import APIRouter
from pydantic import BaseModel, Field

from jinqiao.gateway.deps import CallerDep, GatewayDep, TenantDep
from jinqiao.gateway.wire import Body, enum_in, enum_out
from jinqiao.organizations.v1 import organizations_pb2 as pb

router = APIRouter(prefix="/api/v1/tenants/{tenant}/orgs", tags=["orgs"])


ItemName = Literal["activity_room", "sign_and_flag", "register_and_roster", "rules", "work_plan",
                   "study_materials", "activity_records"]


class ChecklistEntryOut(BaseModel):
    """One of the 七有 items."""

    item: str
    label: str
    done: bool
    evidence: str
    updated_at: datetime | None


class ChecklistOut(BaseModel):
    """The 七有 checklist and its completeness."""

    entries: list[ChecklistEntryOut]
    completeness_percent: int


class ChecklistItemIn(Body):
    """Whether the item is in place, and the evidence."""

    done: bool
    evidence: str = Field(default="", max_length=500)


def _checklist(reply: pb.GetChecklistResponse | pb.UpdateChecklistItemResponse) -> ChecklistOut:
    return ChecklistOut(
        entries=[ChecklistEntryOut(
            item=enum_out(pb.ChecklistItem, "CHECKLIST_ITEM", e.item), label=e.label, done=e.done,
            evidence=e.evidence, updated_at=e.update_time.ToDatetime(tzinfo=UTC) if e.HasField("update_time") else None,
        ) for e in reply.entries],
        completeness_percent=reply.completeness_percent,
    )


@router.get("/{org_id}/checklist", response_model=ChecklistOut)
async def get_checklist(tenant: TenantDep, org_id: str, who: CallerDep, gw: GatewayDep) -> ChecklistOut:
    """The 七有 checklist of an external branch."""
    reply = await gw.clients.organizations.GetChecklist(pb.GetChecklistRequest(org_id=org_id), metadata=who.metadata,
                                                        timeout=gw.clients.timeout)
    return _checklist(reply)


@router.put("/{org_id}/checklist/{item}", response_model=ChecklistOut)
async def put_checklist_item(tenant: TenantDep, org_id: str, item: ItemName, body: ChecklistItemIn, who: CallerDep,
                             gw: GatewayDep) -> ChecklistOut:
    """Record one 七有 item with its evidence."""
    reply = await gw.clients.organizations.UpdateChecklistItem(
        pb.UpdateChecklistItemRequest(org_id=org_id, item=enum_in(pb.ChecklistItem, "CHECKLIST_ITEM", item),
                                      done=body.done, evidence=body.evidence),
        metadata=who.metadata, timeout=gw.clients.timeout,
    )
    return _checklist(reply)
