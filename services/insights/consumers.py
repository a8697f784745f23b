"""Insights event subscriptions: which events feed which read model."""

from __future__ import annotations

from jinqiao.events.v1 import desk_events_pb2 as desk_events
from jinqiao.events.v1 import loan_events_pb2 as loan_events
from jinqiao.events.v1 import organizations_events_pb2 as org_events
from jinqiao.events.v1 import registry_events_pb2 as reg_events
from jinqiao.insights import service
from jinqiao.kit import broker as kit_broker
from jinqiao.kit.broker import Subscription
from jinqiao.kit.process import ServiceContext

# The origin publishes the registry's events itself, so they land in the publisher's county; the placing county
# publishes the organizations service's, routed to the origin they name. Every flow fact lives under the origin.
to_origin = kit_broker.addressed_to("origin_tenant_id")
SUBSCRIPTIONS = (
    Subscription("insights-member-counts", "registry", reg_events.MemberRegistered, service.on_member_registered),
    Subscription("insights-member-counts-transferred", "registry", reg_events.MemberTransferred,
                 service.on_member_transferred),
    Subscription("insights-flows-registered", "registry", reg_events.FlowRegistered, service.on_flow_registered),
    Subscription("insights-flows-redirected", "registry", reg_events.FlowRedirected, service.on_flow_redirected),
    Subscription("insights-flows-closed", "registry", reg_events.FlowClosed, service.on_flow_closed),
    Subscription("insights-flows-policy-timers", "registry", reg_events.PolicyTimerFired,
                 service.on_policy_timer_fired),
    Subscription("insights-flows-membership-offered", "organizations", org_events.TemporaryMembershipOffered,
                 service.on_membership_offered, to_origin),
    Subscription("insights-flows-membership-refused", "organizations", org_events.TemporaryMembershipRefused,
                 service.on_membership_refused, to_origin),
    Subscription("insights-flows-checked-in", "organizations", org_events.CheckedIn, service.on_checked_in,
                 to_origin),
    Subscription("insights-flows-membership-closed", "organizations", org_events.TemporaryMembershipClosed,
                 service.on_membership_closed, to_origin),
    # The service desk publishes in the county serving the ticket: its cells live there (issue 13).
    Subscription("insights-tickets-opened", "desk", desk_events.TicketOpened, service.on_ticket_opened),
    Subscription("insights-tickets-resolved", "desk", desk_events.TicketResolved, service.on_ticket_resolved),
    Subscription("insights-tickets-rated", "desk", desk_events.TicketRated, service.on_ticket_rated),
    Subscription("insights-tickets-reopened", "desk", desk_events.TicketReopened, service.on_ticket_reopened),
    Subscription("insights-tickets-closed", "desk", desk_events.TicketClosed, service.on_ticket_closed),
    Subscription("insights-tickets-sla-breached", "desk", desk_events.TicketSlaBreached,
                 service.on_ticket_sla_breached),
    # The desk publishes a loan's events in the loan's county: a loan's row of facts lives there (issue 14).
    Subscription("insights-loans-applied", "desk", loan_events.LoanApplied, service.on_loan_applied),
    Subscription("insights-loans-reviewed", "desk", loan_events.LoanReviewed, service.on_loan_reviewed),
    Subscription("insights-loans-refused", "desk", loan_events.LoanRefused, service.on_loan_refused),
    Subscription("insights-loans-withdrawn", "desk", loan_events.LoanWithdrawn, service.on_loan_withdrawn),
    Subscription("insights-loans-disbursed", "desk", loan_events.LoanDisbursed, service.on_loan_disbursed),
    Subscription("insights-loans-repayment-recorded", "desk", loan_events.LoanRepaymentRecorded,
                 service.on_loan_repayment_recorded),
    Subscription("insights-loans-settled", "desk", loan_events.LoanSettled, service.on_loan_settled),
    Subscription("insights-loans-overdue", "desk", loan_events.LoanOverdue, service.on_loan_overdue),
    # Station names for the desk's figures per station.
    Subscription("insights-org-names-created", "organizations", org_events.OrgCreated, service.on_org_created),
    Subscription("insights-org-names-renamed", "organizations", org_events.OrgRenamed, service.on_org_renamed),
)


async def subscribe_all(ctx: ServiceContext) -> None:
    """Declare the source streams and register every durable consumer."""
    await kit_broker.ensure_stream(ctx.broker, service="registry")
    await kit_broker.ensure_stream(ctx.broker, service="organizations")
    await kit_broker.ensure_stream(ctx.broker, service="desk")
    ctx.subscribe(*SUBSCRIPTIONS)
