"""The unit of work: the business row and its outbox row commit together or not at all."""

from __future__ import annotations

from datetime import date

import pytest

from jinqiao.events.v1 import registry_events_pb2
from jinqiao.kit.crypto import BlindIndex, FieldCipher
from jinqiao.kit.db import Database
from jinqiao.kit.events import new_event
from jinqiao.registry.deps import RegistryDeps
from jinqiao.registry.members import domain, repo
from jinqiao.registry.members.service import new_member_row as _new_row
from tests.support import id_number


class Boom(Exception):
    """Raised between the business insert and the commit."""


@pytest.fixture
async def registry_deps(settings_for):
    settings = settings_for("registry")
    db = await Database.connect(settings.database_url, min_size=1, max_size=2)
    yield RegistryDeps(db=db, cipher=FieldCipher.from_settings(settings),
                               blind_index=BlindIndex.from_settings(settings))
    await db.close()


def new_member() -> domain.NewMember:
    return domain.validate_new_member(
        name="王红", id_number=id_number("411523"), phone="", membership_status=2, township="", village="",
        occupation="", join_date="", today=date(2026, 11, 24),
    )


async def test_failure_before_commit_leaves_neither_row_nor_outbox_row(registry_deps, admin_conn_factory):
    conn = await admin_conn_factory("registry")
    before = await conn.fetchval("SELECT count(*) FROM members WHERE tenant_id = '411523'")
    outbox_before = await conn.fetchval("SELECT count(*) FROM outbox WHERE tenant_id = '411523'")
    row = _new_row(registry_deps, tenant="411523", member=new_member(), request_id=None)
    with pytest.raises(Boom):
        async with registry_deps.db.unit_of_work(tenant="411523") as uow:
            await repo.insert_member(uow, row=row)
            uow.add_event(new_event(registry_events_pb2.MemberRegistered(member_id=row.id), service="registry",
                                    tenant="411523", aggregate_id=row.id, aggregate_version=1, traceparent=None))
            raise Boom
    assert await conn.fetchval("SELECT count(*) FROM members WHERE tenant_id = '411523'") == before
    assert await conn.fetchval("SELECT count(*) FROM outbox WHERE tenant_id = '411523'") == outbox_before


async def test_commit_writes_row_and_outbox_row_together(registry_deps, admin_conn_factory):
    conn = await admin_conn_factory("registry")
    row = _new_row(registry_deps, tenant="411523", member=new_member(), request_id=None)
    async with registry_deps.db.unit_of_work(tenant="411523") as uow:
        await repo.insert_member(uow, row=row)
        event = new_event(registry_events_pb2.MemberRegistered(member_id=row.id), service="registry",
                          tenant="411523", aggregate_id=row.id, aggregate_version=1, traceparent=None)
        uow.add_event(event)
        await uow.commit()
    assert await conn.fetchval("SELECT count(*) FROM members WHERE id = $1::uuid", row.id) == 1
    assert await conn.fetchval("SELECT count(*) FROM outbox WHERE event_id = $1::uuid", event.event_id) == 1


async def test_a_unit_of_work_commits_once(registry_deps):
    async with registry_deps.db.unit_of_work(tenant="411523") as uow:
        await uow.commit()
        with pytest.raises(RuntimeError):
            await uow.commit()


async def test_an_event_of_another_tenant_is_refused(registry_deps):
    async with registry_deps.db.unit_of_work(tenant="411523") as uow:
        with pytest.raises(ValueError):
            uow.add_event(new_event(registry_events_pb2.MemberRegistered(), service="registry", tenant="411522",
                                    aggregate_id="x", aggregate_version=1, traceparent=None))
