"""Registry gRPC servicer: unpack, one use-case call, map back."""

from __future__ import annotations

import json
from datetime import date
from typing import Any

import grpc

from jinqiao.kit.grpcserver import current_principal
from jinqiao.kit.regions import name_of
from jinqiao.registry import domain, flow_service, flows, service
from jinqiao.registry.deps import RegistryDeps
from jinqiao.registry.development_api import DevelopmentApi
from jinqiao.registry.imports_api import ImportsApi
from jinqiao.registry.v1 import flows_pb2, registry_pb2, registry_pb2_grpc


def _iso(value: date | None) -> str:
    return value.isoformat() if value else ""


def member_to_proto(member: domain.Member) -> registry_pb2.Member:
    """The wire form of a (masked) member."""
    message = registry_pb2.Member(
        id=member.id, tenant_id=member.tenant_id, name=member.name, gender=int(member.gender),
        birth_date=member.birth_date.isoformat(), id_number_masked=member.id_number_masked,
        phone_masked=member.phone_masked, membership_status=int(member.membership_status),
        township=member.township, village=member.village, occupation=member.occupation,
        join_date=_iso(member.join_date), version=member.version, ethnicity=member.ethnicity,
        education=member.education, home_branch_id=member.home_branch_id or "",
        household_address=member.household_address, flow_id=member.flow_id or "", flow_status=member.flow_status,
        destination_code=member.destination_code, industry=member.industry,
        full_member_date=_iso(member.full_member_date),
    )
    message.create_time.FromDatetime(member.created_at)
    return message


def flow_to_proto(flow: flows.Flow, *, letter: str = "") -> flows_pb2.Flow:
    """The wire form of a flow (contact phone masked)."""
    message = flows_pb2.Flow(
        id=flow.id, tenant_id=flow.tenant_id, member_id=flow.member_id, member_name=flow.member_name,
        destination_code=flow.destination_code, destination_name=name_of(flow.destination_code),
        out_of_province=flow.out_of_province, address=flow.address, employer=flow.employer, industry=flow.industry,
        start_date=flow.start_date.isoformat(), expected_months=flow.expected_months,
        contact_phone_masked=flow.contact_phone_masked, status=int(flow.status), attempt=flow.attempt,
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


def _member_input(request: Any) -> service.MemberInput:
    return service.MemberInput(
        name=request.name, id_number=getattr(request, "id_number", ""), phone=request.phone,
        membership_status=request.membership_status, township=request.township, village=request.village,
        occupation=request.occupation, join_date=request.join_date, ethnicity=request.ethnicity,
        education=request.education, home_branch_id=request.home_branch_id,
        household_address=request.household_address, full_member_date=request.full_member_date,
        gender=getattr(request, "gender", 0), birth_date=getattr(request, "birth_date", ""),
    )


def _policy_to_proto(policy: flows.Policy) -> flows_pb2.FlowPolicy:
    return flows_pb2.FlowPolicy(**{k: getattr(policy, k) for k in flows_pb2.FlowPolicy.DESCRIPTOR.fields_by_name})


def _evaluation(row: dict[str, Any]) -> flows_pb2.Evaluation:
    final, complete = flows.merged_grade(row["destination_grade"], row["home_grade"])
    return flows_pb2.Evaluation(
        member_id=str(row["member_id"]), year=row["year"], destination_grade=row["destination_grade"],
        destination_comment=row["destination_comment"], destination_org_name=row["destination_org_name"],
        home_grade=row["home_grade"], home_comment=row["home_comment"], final_grade=final, complete=complete,
    )


def _facts(row: dict[str, Any]) -> flows_pb2.ReturneeFacts:
    return flows_pb2.ReturneeFacts(**{k: row[k] for k in flows_pb2.ReturneeFacts.DESCRIPTOR.fields_by_name})


class RegistryServicer(ImportsApi, DevelopmentApi, registry_pb2_grpc.RegistryServiceServicer):
    """jinqiao.registry.v1.RegistryService; imports and development come from their own modules."""

    def __init__(self, deps: RegistryDeps) -> None:
        self._deps = deps

    async def CreateMember(
        self, request: registry_pb2.CreateMemberRequest, context: grpc.aio.ServicerContext
    ) -> registry_pb2.CreateMemberResponse:
        """Register a member."""
        member = await service.create_member(deps=self._deps, principal=current_principal(),
                                             data=_member_input(request), request_id=request.request_id)
        return registry_pb2.CreateMemberResponse(member=member_to_proto(member))

    async def GetMember(
        self, request: registry_pb2.GetMemberRequest, context: grpc.aio.ServicerContext
    ) -> registry_pb2.GetMemberResponse:
        """One member."""
        member = await service.get_member(deps=self._deps, principal=current_principal(), member_id=request.id)
        return registry_pb2.GetMemberResponse(member=member_to_proto(member))

    async def ListMembers(
        self, request: registry_pb2.ListMembersRequest, context: grpc.aio.ServicerContext
    ) -> registry_pb2.ListMembersResponse:
        """A page of members, filtered."""
        members, next_token = await service.list_members(
            deps=self._deps, principal=current_principal(), page_size=request.page_size,
            page_token=request.page_token, filters=service.MemberFilter(
                name_contains=request.name_contains, id_number=request.id_number, township=request.township,
                membership_status=request.membership_status, flow_status=request.flow_status,
                destination_code=request.destination_code, industry=request.industry, away_only=request.away_only,
            ),
        )
        return registry_pb2.ListMembersResponse(members=[member_to_proto(m) for m in members],
                                                next_page_token=next_token)

    async def UpdateMember(
        self, request: registry_pb2.UpdateMemberRequest, context: grpc.aio.ServicerContext
    ) -> registry_pb2.UpdateMemberResponse:
        """Change a member's facts."""
        member = await service.update_member(deps=self._deps, principal=current_principal(), member_id=request.id,
                                             version=request.version, mask=list(request.update_mask),
                                             data=_member_input(request))
        return registry_pb2.UpdateMemberResponse(member=member_to_proto(member))

    async def ListMemberHistory(
        self, request: registry_pb2.ListMemberHistoryRequest, context: grpc.aio.ServicerContext
    ) -> registry_pb2.ListMemberHistoryResponse:
        """A member's recorded changes."""
        rows = await service.member_history(deps=self._deps, principal=current_principal(), member_id=request.id)
        response = registry_pb2.ListMemberHistoryResponse()
        for row in rows:
            change = response.changes.add(version=row["version"], actor=row["actor"])
            change.change_time.FromDatetime(row["changed_at"])
            for f in json.loads(row["fields"]):
                change.fields.add(field=f["field"], old_value=f["old"], new_value=f["new"])
        return response

    async def RevealIdNumber(
        self, request: registry_pb2.RevealIdNumberRequest, context: grpc.aio.ServicerContext
    ) -> registry_pb2.RevealIdNumberResponse:
        """The full ID number, audited."""
        number = await service.reveal_id_number(deps=self._deps, principal=current_principal(), member_id=request.id,
                                                reason=request.reason)
        return registry_pb2.RevealIdNumberResponse(id_number=number)

    async def RegisterFlow(
        self, request: flows_pb2.RegisterFlowRequest, context: grpc.aio.ServicerContext
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
                      context: grpc.aio.ServicerContext) -> flows_pb2.GetFlowResponse:
        """One flow."""
        flow, letter = await flow_service.get_flow(deps=self._deps, principal=current_principal(), flow_id=request.id)
        return flows_pb2.GetFlowResponse(flow=flow_to_proto(flow, letter=letter))

    async def ListFlows(self, request: flows_pb2.ListFlowsRequest,
                        context: grpc.aio.ServicerContext) -> flows_pb2.ListFlowsResponse:
        """A page of flows."""
        page, token = await flow_service.list_flows(
            deps=self._deps, principal=current_principal(), member_id=request.member_id,
            statuses=list(request.statuses), destination_code=request.destination_code,
            page_size=request.page_size, page_token=request.page_token,
        )
        return flows_pb2.ListFlowsResponse(flows=[flow_to_proto(f) for f in page], next_page_token=token)

    async def RedirectFlow(self, request: flows_pb2.RedirectFlowRequest,
                           context: grpc.aio.ServicerContext) -> flows_pb2.RedirectFlowResponse:
        """A new placement."""
        flow = await flow_service.redirect_flow(
            deps=self._deps, principal=current_principal(), flow_id=request.id,
            destination_code=request.destination_code, address=request.address, employer=request.employer,
            industry=request.industry,
        )
        return flows_pb2.RedirectFlowResponse(flow=flow_to_proto(flow))

    async def ReportBack(self, request: flows_pb2.ReportBackRequest,
                         context: grpc.aio.ServicerContext) -> flows_pb2.ReportBackResponse:
        """The yearly report to the home branch."""
        flow = await flow_service.report_back(deps=self._deps, principal=current_principal(), flow_id=request.id,
                                              report_date=request.report_date, note=request.note)
        return flows_pb2.ReportBackResponse(flow=flow_to_proto(flow))

    async def ReturnFlow(self, request: flows_pb2.ReturnFlowRequest,
                         context: grpc.aio.ServicerContext) -> flows_pb2.ReturnFlowResponse:
        """回归."""
        f = request.facts
        flow = await flow_service.return_flow(
            deps=self._deps, principal=current_principal(), flow_id=request.id, return_date=request.return_date,
            facts=flow_service.ReturneeFacts(
                started_business=f.started_business, business_name=f.business_name,
                joined_reserve_pool=f.joined_reserve_pool, elected_village_committee=f.elected_village_committee,
                village_post=f.village_post, note=f.note,
            ),
        )
        return flows_pb2.ReturnFlowResponse(flow=flow_to_proto(flow))

    async def TransferFlow(self, request: flows_pb2.TransferFlowRequest,
                           context: grpc.aio.ServicerContext) -> flows_pb2.TransferFlowResponse:
        """转出."""
        flow = await flow_service.transfer_flow(deps=self._deps, principal=current_principal(), flow_id=request.id,
                                                transfer_date=request.transfer_date)
        return flows_pb2.TransferFlowResponse(flow=flow_to_proto(flow))

    async def ListFlowAlerts(self, request: flows_pb2.ListFlowAlertsRequest,
                             context: grpc.aio.ServicerContext) -> flows_pb2.ListFlowAlertsResponse:
        """Fired policy timers."""
        rows = await flow_service.list_alerts(deps=self._deps, principal=current_principal(),
                                              flow_id=request.flow_id, timer=request.timer)
        response = flows_pb2.ListFlowAlertsResponse()
        for row in rows:
            alert = response.alerts.add(flow_id=str(row["flow_id"]), member_id=str(row["member_id"]),
                                        member_name=row["member_name"], timer=row["timer"], level=row["level"],
                                        due_date=row["due_date"].isoformat())
            alert.fire_time.FromDatetime(row["fired_at"])
        return response

    async def GetFlowPolicy(self, request: flows_pb2.GetFlowPolicyRequest,
                            context: grpc.aio.ServicerContext) -> flows_pb2.GetFlowPolicyResponse:
        """The county's policy timers."""
        policy = await flow_service.get_policy(deps=self._deps, principal=current_principal())
        return flows_pb2.GetFlowPolicyResponse(policy=_policy_to_proto(policy))

    async def UpdateFlowPolicy(self, request: flows_pb2.UpdateFlowPolicyRequest,
                               context: grpc.aio.ServicerContext) -> flows_pb2.UpdateFlowPolicyResponse:
        """Replace the county's policy timers."""
        p = request.policy
        values = {k: getattr(p, k) for k in flows_pb2.FlowPolicy.DESCRIPTOR.fields_by_name if k != "is_default"}
        policy = await flow_service.update_policy(deps=self._deps, principal=current_principal(), values=values)
        return flows_pb2.UpdateFlowPolicyResponse(policy=_policy_to_proto(policy))

    async def ListActivities(self, request: flows_pb2.ListActivitiesRequest,
                             context: grpc.aio.ServicerContext) -> flows_pb2.ListActivitiesResponse:
        """A member's 活动记事本."""
        rows = await flow_service.list_activities(deps=self._deps, principal=current_principal(),
                                                  member_id=request.member_id)
        return flows_pb2.ListActivitiesResponse(activities=[flows_pb2.Activity(
            id=r["id"], occurred_on=r["occurred_on"].isoformat(), title=r["title"], note=r["note"],
            org_name=r["org_name"], source=r["source"], verified=r["verified"]) for r in rows])

    async def RecordHomeAssessment(self, request: flows_pb2.RecordHomeAssessmentRequest,
                                   context: grpc.aio.ServicerContext) -> flows_pb2.RecordHomeAssessmentResponse:
        """The home branch's side of 双向评议."""
        row = await flow_service.record_home_assessment(
            deps=self._deps, principal=current_principal(), member_id=request.member_id, year=request.year,
            grade=request.grade, comment=request.comment,
        )
        return flows_pb2.RecordHomeAssessmentResponse(evaluation=_evaluation(row))

    async def ListEvaluations(self, request: flows_pb2.ListEvaluationsRequest,
                              context: grpc.aio.ServicerContext) -> flows_pb2.ListEvaluationsResponse:
        """Yearly evaluations."""
        rows = await flow_service.list_evaluations(deps=self._deps, principal=current_principal(),
                                                   member_id=request.member_id)
        return flows_pb2.ListEvaluationsResponse(evaluations=[_evaluation(r) for r in rows])

    async def ListReturnees(self, request: flows_pb2.ListReturneesRequest,
                            context: grpc.aio.ServicerContext) -> flows_pb2.ListReturneesResponse:
        """Returnees (回归工程)."""
        rows, token = await flow_service.list_returnees(deps=self._deps, principal=current_principal(),
                                                        page_size=request.page_size, page_token=request.page_token)
        return flows_pb2.ListReturneesResponse(next_page_token=token, returnees=[flows_pb2.Returnee(
            member_id=str(r["member_id"]), member_name=r["member_name"], flow_id=str(r["flow_id"]),
            destination_code=r["destination_code"], return_date=r["return_date"].isoformat(), facts=_facts(r),
            township=r["township"], village=r["village"]) for r in rows])

