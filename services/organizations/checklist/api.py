"""The 七有 checklist's RPCs: unpack, one use-case call, map back."""

from __future__ import annotations

from jinqiao.kit.grpcserver import current_principal
from jinqiao.kit.grpcwrap import Context
from jinqiao.organizations.checklist import domain, service
from jinqiao.organizations.deps import OrgDeps
from jinqiao.organizations.v1 import organizations_pb2 as pb


def _entry(entry: domain.Entry) -> pb.ChecklistEntry:
    message = pb.ChecklistEntry(item=pb.ChecklistItem.ValueType(entry.item), label=domain.LABELS[entry.item],
                                done=entry.done, evidence=entry.evidence)
    if entry.updated_at:
        message.update_time.FromDatetime(entry.updated_at)
    return message


class ChecklistServicer:
    """The checklist's part of jinqiao.organizations.v1.OrganizationsService (composed in ``server.py``)."""

    _deps: OrgDeps

    async def GetChecklist(
        self, request: pb.GetChecklistRequest, context: Context
    ) -> pb.GetChecklistResponse:
        """The 七有 checklist."""
        result = await service.get_checklist(deps=self._deps, principal=current_principal(), org_id=request.org_id)
        return pb.GetChecklistResponse(entries=[_entry(e) for e in result.entries],
                                       completeness_percent=result.completeness_percent)

    async def UpdateChecklistItem(
        self, request: pb.UpdateChecklistItemRequest, context: Context
    ) -> pb.UpdateChecklistItemResponse:
        """Record one item."""
        result = await service.update_checklist_item(
            deps=self._deps, principal=current_principal(), org_id=request.org_id, item=request.item,
            done=request.done, evidence=request.evidence,
        )
        return pb.UpdateChecklistItemResponse(entries=[_entry(e) for e in result.entries],
                                              completeness_percent=result.completeness_percent)
