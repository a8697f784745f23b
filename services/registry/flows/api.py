"""Registry gRPC methods for flows (mixed into the servicer): unpack, one use-case call, map back."""

from __future__ import annotations

from dataclasses import fields
from datetime import date

from jinqiao.kit.grpcserver import current_principal
from jinqiao.kit.grpcwrap import Context
from jinqiao.kit.regions import name_of
from jinqiao.registry.deps import RegistryDeps
from jinqiao.registry.flows import domain as flows
from jinqiao.registry.flows import service as flow_service
from jinqiao.registry.v1 import flows_pb2


def _iso(value: date | None) -> str:
    return value.isoformat() if value else ""


def flow_to_proto(flow: flows.Flow, *, letter: str = "") -> flows_pb2.Flow:
    """The wire form of a flow (contact phone masked)."""
    message = flows_pb2.Flow(
        id=flow.id, tenant_id=flow.tenant_id, member_id=flow.member_id, member_name=flow.member_name,
        destination_code=flow.destination_code, destination_name=name_of(flow.destination_code),
        out_of_province=flow.out_of_province, address=flow.address, employer=flow.employer, industry=flow.industry,
        start_date=flow.start_date.isoformat(), expected_months=flow.expected_months,
        contact_phone_masked=flow.contact_phone_masked, status=flows_pb2.FlowStatus.ValueType(flow.status),
        attempt=flow.attempt,
        certificate_serial=flow.certificate_serial, certificate_valid_until=flow.certificate_valid_until.isoformat(),
        placing_tenant_id=flow.placing_tenant_id, membership_id=flow.membership_id or "", org_id=flow.org_id or "",
        org_name=flow.org_name, placement_rule=flow.placement_rule, placement_reason=flow.placement_reason,
        refusal_reason=flow.refusal_reason, refusal_advice=flow.refusal_advice, check_in_method=flow.check_in_method,
        last_report_date=_iso(flow.last_report_date), closed_on=_iso(flow.closed_on), version=flow.version,
        letter=letter,
    )
    for field, value in (("offer_time", flow.offered_at), ("check_in_time", flow.checked_in_at),
                         ("create_time", flow.created_at)):
        if value is not None:
            getattr(message, field).FromDatetime(value)
    return message


def alert_to_proto(case: flows.AlertCase) -> flows_pb2.Alert:
    """The wire form of a 预警 case."""
    message = flows_pb2.Alert(
        id=case.id, flow_id=case.flow_id, member_id=case.member_id, member_name=case.member_name, timer=case.timer,
        level=case.level, state=flows_pb2.AlertState.ValueType(case.state), acknowledged_by=case.acknowledged_by,
        closed_by=case.closed_by, note=case.note, destination_code=case.destination_code,
        township_name=case.township_name,
    )
    for level, fired_at in case.levels:
        message.levels.add(level=level).fire_time.FromDatetime(fired_at)
    for field, value in (("first_fire_time", case.first_fired_at), ("last_fire_time", case.last_fired_at),
                         ("acknowledge_time", case.acknowledged_at), ("close_time", case.closed_at)):
        if value is not None:
            getattr(message, field).FromDatetime(value)
    return message


def _policy_to_proto(policy: flows.Policy) -> flows_pb2.FlowPolicy:
    return flows_pb2.FlowPolicy(**{k: getattr(policy, k) for k in flows_pb2.FlowPolicy.DESCRIPTOR.fields_by_name})


def _facts(facts: flows.ReturneeFacts) -> flows_pb2.ReturneeFacts:
    return flows_pb2.ReturneeFacts(**{f.name: getattr(facts, f.name) for f in fields(facts)})


class FlowsApi:
    """Flows, their alerts and policy, and returnees."""

    _deps: RegistryDeps

    async def RegisterFlow(
        self, request: flows_pb2.RegisterFlowRequest, context: Context
    ) -> flows_pb2.RegisterFlowResponse:
        """外出登记."""
        flow, letter = await flow_service.register_flow(
            deps=self._deps, principal=current_principal(), member_id=request.member_id,
            data=flow_service.OutflowInput(
                destination_code=request.destination_code, address=request.address, employer=request.employer,
                industry=request.industry, start_date=request.start_date, expected_months=request.expected_months,
                contact_phone=request.contact_phone,
            ), request_id=request.request_id,
        )
        return flows_pb2.RegisterFlowResponse(flow=flow_to_proto(flow, letter=letter))

    async def GetFlow(self, request: flows_pb2.GetFlowRequest,
                      context: Context) -> flows_pb2.GetFlowResponse:
        """One flow."""
        flow, letter = await flow_service.get_flow(deps=self._deps, principal=current_principal(), flow_id=request.id)
        return flows_pb2.GetFlowResponse(flow=flow_to_proto(flow, letter=letter))

    async def ListFlows(self, request: flows_pb2.ListFlowsRequest,
                        context: Context) -> flows_pb2.ListFlowsResponse:
        """A page of flows."""
        page, token, total = await flow_service.list_flows(
            deps=self._deps, principal=current_principal(), member_id=request.member_id,
            statuses=list(request.statuses), destination_code=request.destination_code,
            page_size=request.page_size, page_token=request.page_token, member_name=request.member_name,
            page=request.page,
        )
        return flows_pb2.ListFlowsResponse(flows=[flow_to_proto(f, letter=letter) for f, letter in page],
                                           next_page_token=token, total_size=total)

    async def RedirectFlow(self, request: flows_pb2.RedirectFlowRequest,
                           context: Context) -> flows_pb2.RedirectFlowResponse:
        """A new placement."""
        flow = await flow_service.redirect_flow(
            deps=self._deps, principal=current_principal(), flow_id=request.id,
            destination_code=request.destination_code, address=request.address, employer=request.employer,
            industry=request.industry,
        )
        return flows_pb2.RedirectFlowResponse(flow=flow_to_proto(flow))

    async def ReportBack(self, request: flows_pb2.ReportBackRequest,
                         context: Context) -> flows_pb2.ReportBackResponse:
        """The yearly report to the home branch."""
        flow = await flow_service.report_back(deps=self._deps, principal=current_principal(), flow_id=request.id,
                                              report_date=request.report_date, note=request.note)
        return flows_pb2.ReportBackResponse(flow=flow_to_proto(flow))

    async def ReturnFlow(self, request: flows_pb2.ReturnFlowRequest,
                         context: Context) -> flows_pb2.ReturnFlowResponse:
        """回归."""
        f = request.facts
        flow = await flow_service.return_flow(
            deps=self._deps, principal=current_principal(), flow_id=request.id, return_date=request.return_date,
            facts=flows.ReturneeFacts(
                started_business=f.started_business, business_name=f.business_name,
                joined_reserve_pool=f.joined_reserve_pool, elected_village_committee=f.elected_village_committee,
                village_post=f.village_post, note=f.note,
            ),
        )
        return flows_pb2.ReturnFlowResponse(flow=flow_to_proto(flow))

    async def TransferFlow(self, request: flows_pb2.TransferFlowRequest,
                           context: Context) -> flows_pb2.TransferFlowResponse:
        """转出."""
        flow = await flow_service.transfer_flow(deps=self._deps, principal=current_principal(), flow_id=request.id,
                                                transfer_date=request.transfer_date)
        return flows_pb2.TransferFlowResponse(flow=flow_to_proto(flow))

    async def ListFlowAlerts(self, request: flows_pb2.ListFlowAlertsRequest,
                             context: Context) -> flows_pb2.ListFlowAlertsResponse:
        """Fired policy timers."""
        alerts = await flow_service.list_alerts(deps=self._deps, principal=current_principal(),
                                                flow_id=request.flow_id, timer=request.timer)
        response = flows_pb2.ListFlowAlertsResponse()
        for a in alerts:
            alert = response.alerts.add(flow_id=a.flow_id, member_id=a.member_id, member_name=a.member_name,
                                        timer=a.timer, level=a.level, due_date=a.due_date.isoformat())
            alert.fire_time.FromDatetime(a.fired_at)
        return response

    async def ListAlerts(self, request: flows_pb2.ListAlertsRequest,
                         context: Context) -> flows_pb2.ListAlertsResponse:
        """预警 cases within the caller's reach."""
        cases, total = await flow_service.list_alert_cases(
            deps=self._deps, principal=current_principal(), states=list(request.states), timer=request.timer,
            level=request.level, page=request.page, page_size=request.page_size)
        return flows_pb2.ListAlertsResponse(alerts=[alert_to_proto(c) for c in cases], total_size=total)

    async def AcknowledgeAlert(self, request: flows_pb2.AcknowledgeAlertRequest,
                               context: Context) -> flows_pb2.AcknowledgeAlertResponse:
        """确认 a case."""
        case = await flow_service.acknowledge_alert(deps=self._deps, principal=current_principal(),
                                                    case_id=request.id, note=request.note)
        return flows_pb2.AcknowledgeAlertResponse(alert=alert_to_proto(case))

    async def CloseAlert(self, request: flows_pb2.CloseAlertRequest,
                         context: Context) -> flows_pb2.CloseAlertResponse:
        """办结 a case."""
        case = await flow_service.close_alert(deps=self._deps, principal=current_principal(), case_id=request.id,
                                              note=request.note)
        return flows_pb2.CloseAlertResponse(alert=alert_to_proto(case))

    async def GetFlowPolicy(self, request: flows_pb2.GetFlowPolicyRequest,
                            context: Context) -> flows_pb2.GetFlowPolicyResponse:
        """The county's policy timers."""
        policy = await flow_service.get_policy(deps=self._deps, principal=current_principal())
        return flows_pb2.GetFlowPolicyResponse(policy=_policy_to_proto(policy))

    async def UpdateFlowPolicy(self, request: flows_pb2.UpdateFlowPolicyRequest,
                               context: Context) -> flows_pb2.UpdateFlowPolicyResponse:
        """Replace the county's policy timers."""
        p = request.policy
        values = {k: getattr(p, k) for k in flows_pb2.FlowPolicy.DESCRIPTOR.fields_by_name if k != "is_default"}
        policy = await flow_service.update_policy(deps=self._deps, principal=current_principal(), values=values)
        return flows_pb2.UpdateFlowPolicyResponse(policy=_policy_to_proto(policy))

    async def ListReturnees(self, request: flows_pb2.ListReturneesRequest,
                            context: Context) -> flows_pb2.ListReturneesResponse:
        """Returnees (回归工程)."""
        returnees, token = await flow_service.list_returnees(deps=self._deps, principal=current_principal(),
                                                             page_size=request.page_size,
                                                             page_token=request.page_token)
        return flows_pb2.ListReturneesResponse(next_page_token=token, returnees=[flows_pb2.Returnee(
            member_id=r.member_id, member_name=r.member_name, flow_id=r.flow_id, destination_code=r.destination_code,
            return_date=r.return_date.isoformat(), facts=_facts(r.facts), township=r.township, village=r.village)
            for r in returnees])

