"""The import writes chunk N while it validates chunk N+1, in one transaction: still all rows or none."""

from __future__ import annotations

import asyncpg
import pytest

from jinqiao.events.v1 import registry_events_pb2
from jinqiao.registry.imports import domain as imports
from jinqiao.registry.imports import service
from tests.integration.conftest import bearer
from tests.integration.registry.imports.test_member_import import (
    COUNTY,
    counts,
    row,
    settled,
    start,
    to_csv,
)
from tests.support import member_request, wrong_check_digit

PROFILE = registry_events_pb2.MemberProfileChanged.DESCRIPTOR.full_name


@pytest.fixture
async def db(admin_conn_factory) -> asyncpg.Connection:
    return await admin_conn_factory("registry")


@pytest.fixture
def small_chunks(monkeypatch: pytest.MonkeyPatch) -> int:
    """Chunks of 100 rows, so that a few hundred rows make several writes."""
    monkeypatch.setattr(service, "CHUNK", 100)
    return 100


async def profiles(db: asyncpg.Connection) -> int:
    return await db.fetchval("SELECT count(*) FROM outbox WHERE tenant_id = $1 AND event_type = $2", COUNTY, PROFILE)


async def test_every_chunk_is_written_and_each_member_has_both_events(platform, county_token, db, small_chunks):
    before, profiles_before = await counts(db), await profiles(db)
    done = await settled(platform, county_token, (await start(platform, county_token,
                                                              to_csv([row() for _ in range(450)])))["id"])
    assert done["state"] == "succeeded", done["errors"][:5]
    assert done["imported_rows"] == 450
    after = await counts(db)
    assert (after[0] - before[0], after[1] - before[1], await profiles(db) - profiles_before) == (450, 450, 450)


async def test_a_bad_row_after_chunks_were_written_rolls_them_all_back(platform, county_token, db, small_chunks):
    rows = [row() for _ in range(450)]
    rows[420]["公民身份号码"] = wrong_check_digit(str(rows[420]["公民身份号码"]))
    before, profiles_before = await counts(db), await profiles(db)
    done = await settled(platform, county_token, (await start(platform, county_token, to_csv(rows)))["id"])
    assert done["state"] == "failed" and done["imported_rows"] == 0
    assert done["errors"] == [{"row": 422, "column": "公民身份号码", "reason": "身份证号校验位错误"}]
    assert (await counts(db), await profiles(db)) == (before, profiles_before)


async def test_a_person_registered_between_the_check_and_the_write_is_named_and_nothing_imported(
        platform, county_token, db, small_chunks, monkeypatch):
    rows = [row() for _ in range(450)]
    late = str(rows[150]["公民身份号码"])  # in the second chunk, which is checked before this registration
    submit = service._Writer.submit
    calls = 0

    async def register_first(self, *args, **kwargs):
        nonlocal calls
        calls += 1
        if calls == 2:
            await platform.registry_stub.CreateMember(member_request(COUNTY, id_number=late),
                                                      metadata=bearer(county_token(COUNTY)))
        await submit(self, *args, **kwargs)

    monkeypatch.setattr(service._Writer, "submit", register_first)
    before = await counts(db)
    done = await settled(platform, county_token, (await start(platform, county_token, to_csv(rows)))["id"])
    assert done["state"] == "failed" and done["imported_rows"] == 0
    assert done["errors"] == [{"row": 152, "column": "公民身份号码", "reason": imports.IN_COUNTY}]
    after = await counts(db)
    assert (after[0] - before[0], after[1] - before[1]) == (1, 1)  # the form's member alone


async def test_the_province_wide_check_reads_an_index_not_the_table(db):
    # At a million members a scan per chunk would make each import slower than the last.
    await db.execute("SET enable_seqscan = off")
    try:
        plan = "\n".join(r[0] for r in await db.fetch(
            "EXPLAIN SELECT DISTINCT id_number_bidx FROM members"
            " WHERE id_number_bidx = ANY ($1::bytea[]) AND tenant_id <> $2 AND record_status = 1",
            [b"\x01" * 32, b"\x02" * 32], COUNTY))
    finally:
        await db.execute("RESET enable_seqscan")
    assert "members_bidx" in plan, plan
