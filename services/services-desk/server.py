"""Desk process: the only wiring — deps, consumers, timers and the servicer composed of each concept's RPCs."""

from __future__ import annotations

from collections.abc import Sequence

from jinqiao.desk import lifecycle as desk_lifecycle
from jinqiao.desk.attachments.api import AttachmentsApi
from jinqiao.desk.calendar.api import CalendarApi
from jinqiao.desk.categories.api import CategoriesApi
from jinqiao.desk.deps import SERVICE, DeskDeps
from jinqiao.desk.loans import timers as loan_timers
from jinqiao.desk.loans.api import LoansApi
from jinqiao.desk.programmes.api import ProgrammesApi
from jinqiao.desk.queues.api import QueuesApi
from jinqiao.desk.referrals import consumers as referral_consumers
from jinqiao.desk.referrals import timers as referral_timers
from jinqiao.desk.referrals.api import ReferralsApi
from jinqiao.desk.repayments import timers as repayment_timers
from jinqiao.desk.repayments.api import RepaymentsApi
from jinqiao.desk.replica import consumers as replica_consumers
from jinqiao.desk.sla import timers as sla_timers
from jinqiao.desk.tickets.api import TicketsApi
from jinqiao.desk.v1 import desk_pb2, desk_pb2_grpc
from jinqiao.kit import broker as kit_broker
from jinqiao.kit import lifecycle
from jinqiao.kit.crypto import FieldCipher
from jinqiao.kit.process import Register, ServiceContext, run_catalogued

SERVICE_NAME = desk_pb2.DESCRIPTOR.services_by_name["DeskService"].full_name

class DeskServicer(TicketsApi, CategoriesApi, QueuesApi, AttachmentsApi, ReferralsApi, CalendarApi, ProgrammesApi,
                   LoansApi, RepaymentsApi, desk_pb2_grpc.DeskServiceServicer):
    """jinqiao.desk.v1.DeskService: each concept's RPCs over the same deps."""

    def __init__(self, deps: DeskDeps) -> None:
        self._deps = deps


async def setup(ctx: ServiceContext) -> Sequence[Register]:
    """Subscribe the replica's and the referrals' consumers, start the SLA and referral sweeps, build the servicer."""
    lifecycle.register(*desk_lifecycle.KINDS)  # closed tickets and repaid loans, per the retention policy
    deps = DeskDeps(db=ctx.db, cipher=FieldCipher.from_settings(ctx.settings))
    for source in ("registry", "organizations", "desk"):
        await kit_broker.ensure_stream(ctx.broker, service=source)
    replica_consumers.subscribe(ctx, deps)
    referral_consumers.subscribe(ctx, deps)
    if ctx.settings.timer_interval_seconds > 0:
        interval = ctx.settings.timer_interval_seconds
        ctx.run_in_background(lambda: sla_timers.run_forever(deps=deps, interval=interval))
        ctx.run_in_background(lambda: referral_timers.run_forever(deps=deps, interval=interval))
        ctx.run_in_background(lambda: loan_timers.run_forever(deps=deps, interval=interval))
        ctx.run_in_background(lambda: repayment_timers.run_forever(deps=deps, interval=interval))
    servicer = DeskServicer(deps)
    return [lambda server: desk_pb2_grpc.add_DeskServiceServicer_to_server(servicer, server)]


if __name__ == "__main__":
    run_catalogued(service=SERVICE, setup=setup)
