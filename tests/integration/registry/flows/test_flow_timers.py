"""Policy timers on an injectable clock, over real PostgreSQL: each fires once, at its date, as data per county."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta

import pytest

from jinqiao.events.v1 import organizations_events_pb2 as oe
from jinqiao.kit.auth import Principal, Role
from jinqiao.kit.broker import Delivery
from jinqiao.kit.crypto import BlindIndex, FieldCipher
from jinqiao.kit.db import Database
from jinqiao.registry.deps import RegistryDeps
from jinqiao.registry.flows import consumers, repo, timers
from jinqiao.registry.flows import service as flow_service
from jinqiao.registry.flows.domain import FlowStatus
from jinqiao.registry.members import service
from tests.integration.conftest import eventually
from tests.support import id_number

ORIGIN = "411528"  # 息县
START = datetime(2026, 3, 2, 9, 0, tzinfo=UTC)


class Clock:
    """A clock the test moves by hand."""

    def __init__(self, now: datetime) -> None:
        self.now = now

    def __call__(self) -> datetime:
        return self.now


@pytest.fixture
async def deps(settings_for):
    settings = settings_for("registry")
    db = await Database.connect(settings.database_url, min_size=1, max_size=3)
    yield RegistryDeps(db=db, cipher=FieldCipher.from_settings(settings),
                       blind_index=BlindIndex.from_settings(settings), clock=Clock(START))
    await db.close()


ADMIN = Principal(user="admin-411528", role=Role.COUNTY_ADMIN, scope=ORIGIN, tenant=ORIGIN)


async def away(deps: RegistryDeps, *, months: int = 6, destination: str = "420100") -> str:
    """A member of the county who left on START for a city outside the province; returns the flow id."""
    member = await service.create_member(deps=deps, principal=ADMIN, request_id="", data=service.MemberInput(
        name="周志强", id_number=id_number(ORIGIN), phone="13700001111", membership_status=2, township="城关镇",
        village="", occupation="", join_date=""))
    flow, _ = await flow_service.register_flow(deps=deps, principal=ADMIN, member_id=member.id, data=(
        flow_service.OutflowInput(destination_code=destination, address="武汉市江汉区", employer="", industry="物流",
                                  start_date=START.date().isoformat(), expected_months=months, contact_phone="")))
    return flow.id


async def fired(deps: RegistryDeps, flow_id: str) -> list[tuple[str, int]]:
    async with deps.db.unit_of_work(tenant=ORIGIN) as uow:
        rows = await repo.alerts(uow, flow_id=flow_id, timer="")
    return sorted((a.timer, a.level) for a in rows)


async def sweep_at(deps: RegistryDeps, when: datetime) -> None:
    deps.clock.now = when  # type: ignore[attr-defined]
    await timers.sweep_county(deps=deps, tenant=ORIGIN, now=when)


async def test_check_in_overdue_escalates_village_township_county_once_each(deps, admin_conn_factory):
    flow = await away(deps)
    await sweep_at(deps, START + timedelta(days=29))
    assert await fired(deps, flow) == []
    await sweep_at(deps, START + timedelta(days=30))
    await sweep_at(deps, START + timedelta(days=30, hours=5))
    assert await fired(deps, flow) == [("CHECK_IN_OVERDUE", 1)]
    await sweep_at(deps, START + timedelta(days=45))
    await sweep_at(deps, START + timedelta(days=60))
    assert await fired(deps, flow) == [("CHECK_IN_OVERDUE", 1), ("CHECK_IN_OVERDUE", 2), ("CHECK_IN_OVERDUE", 3)]
    conn = await admin_conn_factory("registry")
    events = await conn.fetch("SELECT subject FROM outbox WHERE tenant_id = $1 AND event_type LIKE '%PolicyTimerFired'"
                              " AND position($2::bytea IN payload) > 0", ORIGIN, flow.encode())
    assert [e["subject"] for e in events] == [f"jinqiao.{ORIGIN}.registry.policy_timer_fired"] * 3


async def test_a_checked_in_member_is_never_overdue_but_transfer_falls_due_after_six_months(deps):
    flow = await away(deps, months=12)
    async with deps.db.unit_of_work(tenant=ORIGIN) as uow:
        row, _ = await repo.get_flow(uow, flow_id=flow)
        event = oe.CheckedIn(flow_id=flow, origin_tenant_id=ORIGIN, member_id=row.member_id, attempt=row.attempt,
                             membership_id=str(uuid.uuid4()), org_id=str(uuid.uuid4()), org_name="驻武汉党支部",
                             method="STAFF", checked_in_at=(START + timedelta(days=3)).isoformat())
        # The answer comes from the county placing the flow (outside the province: the origin's own 驻外 branch).
        await consumers.on_checked_in(uow, event, Delivery(event_id="e", tenant=row.placing_tenant_id, subject="s",
                                                           deliveries=1))
        await uow.commit()
    await sweep_at(deps, START + timedelta(days=90))
    assert await fired(deps, flow) == []
    await sweep_at(deps, START + timedelta(days=184))
    assert await fired(deps, flow) == [("TRANSFER_DUE", 1)]


async def test_certificate_expiry_and_the_yearly_report_back(deps):
    flow = await away(deps, months=3)
    async with deps.db.unit_of_work(tenant=ORIGIN) as uow:
        row, _ = await repo.get_flow(uow, flow_id=flow)
    assert row.certificate_valid_until.isoformat() == "2026-06-01"
    await sweep_at(deps, datetime(2026, 6, 1, tzinfo=UTC))
    assert ("CERTIFICATE_EXPIRED", 1) not in await fired(deps, flow)
    await sweep_at(deps, datetime(2026, 6, 2, tzinfo=UTC))
    assert ("CERTIFICATE_EXPIRED", 1) in await fired(deps, flow)
    await sweep_at(deps, datetime(2027, 3, 2, tzinfo=UTC))
    assert ("REPORT_BACK_DUE", 1) in await fired(deps, flow)
    # A report resets the yearly timer: the next one falls due a year after it.
    deps.clock.now = datetime(2027, 3, 5, 12, tzinfo=UTC)
    await flow_service.report_back(deps=deps, principal=ADMIN, flow_id=flow, report_date="2027-03-05", note="")
    async with deps.db.unit_of_work(tenant=ORIGIN) as uow:
        dates = sorted(a.due_date.isoformat() for a in await repo.alerts(uow, flow_id=flow, timer="REPORT_BACK_DUE"))
    assert dates == ["2027-03-02"]
    await sweep_at(deps, datetime(2028, 3, 5, tzinfo=UTC))
    async with deps.db.unit_of_work(tenant=ORIGIN) as uow:
        dates = sorted(a.due_date.isoformat() for a in await repo.alerts(uow, flow_id=flow, timer="REPORT_BACK_DUE"))
    assert dates == ["2027-03-02", "2028-03-05"]


async def test_the_policy_is_data_per_county(deps):
    await flow_service.update_policy(deps=deps, principal=ADMIN, values={
        "check_in_days": 7, "escalate_township_days": 3, "escalate_county_days": 3, "certificate_months": 6,
        "report_back_months": 12, "transfer_due_months": 6, "placement_timeout_hours": 48})
    try:
        flow = await away(deps)
        await sweep_at(deps, START + timedelta(days=7))
        assert await fired(deps, flow) == [("CHECK_IN_OVERDUE", 1)]
    finally:
        async with deps.db.unit_of_work(tenant=ORIGIN) as uow:
            await uow.conn.execute("DELETE FROM flow_policies WHERE tenant_id = $1", ORIGIN)
            await uow.commit()


async def test_a_policy_out_of_bounds_names_the_field(deps):
    from jinqiao.kit.errors import InvalidArgument

    with pytest.raises(InvalidArgument) as caught:
        await flow_service.update_policy(deps=deps, principal=ADMIN, values={
            "check_in_days": 0, "escalate_township_days": 3, "escalate_county_days": 3, "certificate_months": 6,
            "report_back_months": 12, "transfer_due_months": 6, "placement_timeout_hours": 48})
    assert [v.field for v in caught.value.violations] == ["policy.check_in_days"]


async def test_an_unanswered_placement_is_asked_again(platform, deps, admin_conn_factory):
    flow = await away(deps)
    conn = await admin_conn_factory("registry")

    async def answered() -> bool:
        return await conn.fetchval("SELECT status FROM flows WHERE id = $1", uuid.UUID(flow)) != FlowStatus.REGISTERED

    # The destination answers at once here; make it as if that answer had been lost on the way.
    await eventually(answered)
    await conn.execute("UPDATE flows SET status = 1, placement_requested_at = $2 WHERE id = $1", uuid.UUID(flow),
                       START)
    await sweep_at(deps, START + timedelta(hours=71))
    assert await conn.fetchval("SELECT attempt FROM flows WHERE id = $1", uuid.UUID(flow)) == 1
    await sweep_at(deps, START + timedelta(hours=72))
    assert await conn.fetchval("SELECT attempt FROM flows WHERE id = $1", uuid.UUID(flow)) == 2
    redirected = await conn.fetchval(
        "SELECT count(*) FROM outbox WHERE tenant_id = $1 AND event_type LIKE '%FlowRedirected'"
        " AND position($2::bytea IN payload) > 0", ORIGIN, flow.encode())
    assert redirected == 1
