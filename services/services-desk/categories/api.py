"""Categories' RPCs: unpack, one use-case call, map back."""

from __future__ import annotations

from jinqiao.desk.categories import service
from jinqiao.desk.categories.domain import Category, FieldType, FormField, invalid_field
from jinqiao.desk.deps import DeskDeps
from jinqiao.desk.sla.domain import SlaPolicy
from jinqiao.desk.v1 import desk_pb2, tickets_pb2
from jinqiao.kit.grpcserver import current_principal
from jinqiao.kit.grpcwrap import Context


def category_to_proto(c: Category) -> tickets_pb2.TicketCategory:
    """The wire form of a category."""
    return tickets_pb2.TicketCategory(
        code=c.code, name=c.name, group=c.group, default_queue=c.default_queue,
        priority=tickets_pb2.TicketPriority.ValueType(c.priority), enabled=c.enabled, reopen_days=c.reopen_days,
        version=c.version,
        fields=[tickets_pb2.FormField(key=f.key, label=f.label, type=tickets_pb2.FieldType.ValueType(int(f.type)),
                                      required=f.required, choices=list(f.choices), max_length=f.max_length,
                                      min=f.min or 0, max=f.max or 0, help=f.help) for f in c.fields],
        sla=tickets_pb2.SlaPolicy(**c.sla.to_json()),
    )


def _field(i: int, f: tickets_pb2.FormField) -> FormField:
    try:
        type_ = FieldType(f.type)
    except ValueError:
        raise invalid_field(f"category.fields.{i}.type", "字段类型：无效") from None
    # On the wire 0 stands for "no bound" (proto3 has no absent integers); a money field is never below 0 anyway.
    return FormField(key=f.key, label=f.label, type=type_, required=f.required, choices=tuple(f.choices),
                     max_length=f.max_length, min=f.min or None, max=f.max or None, help=f.help)


class CategoriesApi:
    """Categories' part of jinqiao.desk.v1.DeskService (composed in ``server.py``)."""

    _deps: DeskDeps

    async def ListTicketCategories(
        self, request: desk_pb2.ListTicketCategoriesRequest, context: Context
    ) -> desk_pb2.ListTicketCategoriesResponse:
        """The county's categories."""
        result = await service.list_categories(deps=self._deps, principal=current_principal(),
                                               include_disabled=request.include_disabled)
        return desk_pb2.ListTicketCategoriesResponse(categories=[category_to_proto(c) for c in result])

    async def UpdateTicketCategory(
        self, request: desk_pb2.UpdateTicketCategoryRequest, context: Context
    ) -> desk_pb2.UpdateTicketCategoryResponse:
        """Change a category of the county."""
        c = request.category
        p = c.sla
        result = await service.update_category(
            deps=self._deps, principal=current_principal(), code=c.code, name=c.name,
            fields=[_field(i, f) for i, f in enumerate(c.fields)], default_queue=c.default_queue,
            priority=c.priority,
            sla=SlaPolicy(first_response_minutes=p.first_response_minutes, assignment_minutes=p.assignment_minutes,
                          update_minutes=p.update_minutes, resolution_minutes=p.resolution_minutes,
                          same_day_first_response=p.same_day_first_response, warn_percent=p.warn_percent),
            enabled=c.enabled, reopen_days=c.reopen_days, version=c.version,
        )
        return desk_pb2.UpdateTicketCategoryResponse(category=category_to_proto(result))
