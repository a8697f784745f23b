"""Templates' RPCs: thin, one use-case call each."""

from __future__ import annotations

from jinqiao.kit.grpcserver import current_principal
from jinqiao.kit.grpcwrap import Context
from jinqiao.notifications.deps import NotificationsDeps
from jinqiao.notifications.templates import service
from jinqiao.notifications.templates.domain import KINDS, TemplateView
from jinqiao.notifications.v1 import notifications_pb2 as pb


def template_to_proto(view: TemplateView) -> pb.Template:
    """The wire form of one kind × channel, with the facts the kind's template may use."""
    kind = KINDS[view.kind]
    return pb.Template(
        kind=view.kind, kind_label=kind.label, channel=pb.Channel.ValueType(view.channel), subject=view.subject,
        body=view.body, version=view.version, overridden=view.overridden,
        updated_at=view.updated_at.isoformat() if view.updated_at is not None else "", updated_by=view.updated_by,
        variables=[pb.TemplateVariable(name=name, label=label) for name, label in kind.variables.items()])


class TemplatesApi:
    """The templates RPCs of NotificationsService (a mixin of the servicer composed in server.py)."""

    _deps: NotificationsDeps

    async def ListTemplates(self, request: pb.ListTemplatesRequest, context: Context) -> pb.ListTemplatesResponse:
        """Every kind × channel with the version the county uses."""
        views = await service.list_templates(deps=self._deps, principal=current_principal())
        return pb.ListTemplatesResponse(templates=[template_to_proto(v) for v in views])

    async def GetTemplate(self, request: pb.GetTemplateRequest, context: Context) -> pb.GetTemplateResponse:
        """One kind × channel: in use, the default and the county's versions newest first."""
        in_use, default, history = await service.get_template(
            deps=self._deps, principal=current_principal(), kind=request.kind, channel=request.channel)
        return pb.GetTemplateResponse(template=template_to_proto(in_use), default_template=template_to_proto(default),
                                      versions=[template_to_proto(v) for v in history])

    async def SaveTemplate(self, request: pb.SaveTemplateRequest, context: Context) -> pb.SaveTemplateResponse:
        """Keep a new county version (checked in the sandbox first)."""
        view = await service.save_template(deps=self._deps, principal=current_principal(), kind=request.kind,
                                           channel=request.channel, subject=request.subject, body=request.body)
        return pb.SaveTemplateResponse(template=template_to_proto(view))

    async def ResetTemplate(self, request: pb.ResetTemplateRequest, context: Context) -> pb.ResetTemplateResponse:
        """Back to the platform's default; the county's versions stay in the history."""
        view = await service.reset_template(deps=self._deps, principal=current_principal(), kind=request.kind,
                                            channel=request.channel)
        return pb.ResetTemplateResponse(template=template_to_proto(view))

    async def PreviewTemplate(self, request: pb.PreviewTemplateRequest,
                              context: Context) -> pb.PreviewTemplateResponse:
        """A draft (or the version in use) rendered with the kind's sample facts; nothing kept, nothing sent."""
        rendered = await service.preview_template(deps=self._deps, principal=current_principal(), kind=request.kind,
                                                  channel=request.channel, subject=request.subject,
                                                  body=request.body)
        return pb.PreviewTemplateResponse(subject=rendered.subject, body=rendered.body)
