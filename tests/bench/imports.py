"""Bulk import of members (DESIGN §7): the platform's 台账 import against raw COPY, measured in the same run.

Called from ``tests/bench/run.py`` as ``await bench_import(admin_dsn=…, settings=…, issuer=…)`` with the registry
database's superuser DSN, the registry's settings and a token issuer; or alone: ``python -m tests.bench.imports``.
"""

from __future__ import annotations

import asyncio
import base64
import csv
import io
import os
import tempfile
import time
import uuid
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

import asyncpg
import grpc

from jinqiao.kit import pii
from jinqiao.kit.auth import Role, TokenIssuer, generate_signing_keypair
from jinqiao.kit.crypto import BlindIndex, FieldCipher, encode_keyring, generate_key
from jinqiao.kit.migrations import migrate
from jinqiao.kit.process import start_service
from jinqiao.kit.runtime.provision import provision_service_database
from jinqiao.kit.runtime.sandbox import Sandbox
from jinqiao.kit.settings import KitSettings
from jinqiao.registry import server as registry_server
from jinqiao.registry.members.models import MEMBER_FIELDS, MEMBERS, MemberRow
from jinqiao.registry.v1 import imports_pb2, registry_pb2_grpc
from tests.bench.common import Target, verdict

ROWS = 20_000
RAW_COUNTY = "411526"  # 潢川县 takes the raw COPY
IMPORT_COUNTY = "411527"  # 淮滨县 takes the platform's import
# The province grows before a second import: members of other counties, COPYed in as the superuser, so that the
# second import's province-wide check meets a table of this size.
PROVINCE_ROWS = int(os.environ.get("JINQIAO_BENCH_IMPORT_PROVINCE_ROWS", "200000"))
PROVINCE_COUNTIES = ["411502", "411503", "411521", "411522"]
LATER_COUNTY = "411528"  # 息县 imports into the grown table
# How often the bench asks for the import's progress: the finish is seen at most this late (pessimistic).
POLL_SECONDS = 0.1
TARGET = Target("member import / raw COPY", 0.4, "x")
HEADERS = ["姓名", "性别", "民族", "出生日期", "公民身份号码", "手机号码", "学历", "入党日期", "党员类别", "乡镇(街道)",
           "村(社区)", "职业"]


def people(n: int, *, region: str, first_birth: date = date(1960, 1, 1)) -> list[tuple[str, date, str]]:
    """n distinct (ID number, birth date, phone) triples."""
    out = []
    for i in range(n):
        born = first_birth + timedelta(days=i // 1000)
        out.append((pii.make_id_number(region, born, i % 1000), born, f"138{i:08d}"))
    return out


def raw_rows(n: int, *, tenant: str | list[str], cipher: FieldCipher, blind_index: BlindIndex,
             region: str = "419001", first_birth: date = date(1960, 1, 1)) -> list[tuple[object, ...]]:
    """Members rows built and encrypted beforehand (of one county, or of several in turn): the raw COPY measures
    only the database's part."""
    now = datetime.now(UTC)
    records = []
    counties = [tenant] if isinstance(tenant, str) else tenant
    for i, (number, born, phone) in enumerate(people(n, region=region, first_birth=first_birth)):
        county = counties[i % len(counties)]
        row_id = str(uuid.uuid4())
        bind = {"tenant": county, "table": MEMBERS, "row": row_id}
        records.append(MemberRow(
            tenant_id=county, id=row_id, name="王建军", gender=1 if int(number[16]) % 2 else 2, birth_date=born,
            id_number_enc=cipher.encrypt(number, column="id_number", **bind),
            id_number_bidx=blind_index.digest(number, purpose="id_number"),
            id_number_masked=pii.mask_id_number(number), phone_enc=cipher.encrypt(phone, column="phone", **bind),
            phone_masked=pii.mask_phone(phone), membership_status=2, township="城关镇", village="北街社区",
            occupation="建筑工人", join_date=date(2012, 7, 1), request_id=None, created_at=now, version=1,
            ethnicity="汉族", education="高中",
        ).values())
    return records


def csv_file(n: int, *, region: str = "419002") -> bytes:
    """An n-row 台账 as Excel on Chinese Windows saves it (GB18030)."""
    out = io.StringIO()
    writer = csv.writer(out)
    writer.writerow(HEADERS)
    for number, born, phone in people(n, region=region):
        gender = "男" if int(number[16]) % 2 else "女"
        writer.writerow(["王建军", gender, "汉族", born.isoformat(), number, phone, "高中", "2012/7/1", "正式党员",
                         "城关镇", "北街社区", "建筑工人"])
    return out.getvalue().encode("gb18030")


async def raw_copy(admin_dsn: str, records: list[tuple[object, ...]]) -> float:
    """COPY the prebuilt rows straight into members as the superuser, in one transaction; rows per second."""
    conn = await asyncpg.connect(admin_dsn)
    try:
        started = time.perf_counter()
        async with conn.transaction():
            await conn.copy_records_to_table("members", records=records, columns=list(MEMBER_FIELDS))
        return len(records) / (time.perf_counter() - started)
    finally:
        await conn.close()


async def relay_drain(admin_dsn: str, *, tenant: str) -> tuple[int, float]:
    """Wait until the county's outbox is published; return how many rows were pending and the seconds it took."""
    conn = await asyncpg.connect(admin_dsn)
    try:
        started = time.perf_counter()
        pending = first = await conn.fetchval(
            "SELECT count(*) FROM outbox WHERE tenant_id = $1 AND sent_at IS NULL", tenant)
        while pending:
            # The relay says nothing when it is done; the partial index on unsent rows keeps this count cheap.
            await asyncio.sleep(0.05)
            pending = await conn.fetchval(
                "SELECT count(*) FROM outbox WHERE tenant_id = $1 AND sent_at IS NULL", tenant)
        return first, time.perf_counter() - started
    finally:
        await conn.close()


async def grow_province(admin_dsn: str, *, n: int, cipher: FieldCipher, blind_index: BlindIndex) -> tuple[int, float]:
    """COPY n members of other counties into members, then ANALYZE as autovacuum would; the table's size after."""
    records = raw_rows(n, tenant=PROVINCE_COUNTIES, cipher=cipher, blind_index=blind_index, region="419003",
                       first_birth=date(1940, 1, 1))
    conn = await asyncpg.connect(admin_dsn)
    try:
        started = time.perf_counter()
        async with conn.transaction():
            await conn.copy_records_to_table("members", records=records, columns=list(MEMBER_FIELDS))
        await conn.execute("ANALYZE members")
        return await conn.fetchval("SELECT count(*) FROM members"), time.perf_counter() - started
    finally:
        await conn.close()


async def platform_import(settings: KitSettings, issuer: TokenIssuer, content: bytes, rows: int, *,
                          admin_dsn: str, county: str = IMPORT_COUNTY) -> dict[str, float]:
    """StartMemberImport over gRPC, polled until it succeeds: reading, validation, encryption, COPY, outbox.

    The service then runs until its relay has published the import's events, which is timed apart.
    """
    running = await start_service(settings, service="registry", service_names=[registry_server.SERVICE_NAME],
                                  produces_events=True, setup=registry_server.setup)
    channel = grpc.aio.insecure_channel(f"127.0.0.1:{running.port}", options=[
        ("grpc.max_send_message_length", 64 * 1024 * 1024)])
    stub = registry_pb2_grpc.RegistryServiceStub(channel)
    token = issuer.issue(user="bench", role=Role.COUNTY_ADMIN, scope=county)[0]
    metadata = (("authorization", f"Bearer {token}"),)
    marks: dict[str, float] = {}
    try:
        started = time.perf_counter()
        reply = await stub.StartMemberImport(imports_pb2.StartMemberImportRequest(
            file_name="bench.csv", format=imports_pb2.IMPORT_FORMAT_CSV, content=content), metadata=metadata)
        import_id = getattr(reply, "import").id
        while True:
            found = getattr(await stub.GetMemberImport(imports_pb2.GetMemberImportRequest(id=import_id),
                                                       metadata=metadata), "import")
            now = time.perf_counter() - started
            if found.total_rows and "read" not in marks:
                marks["read"] = now
            if found.total_rows and found.processed_rows == found.total_rows and "validated" not in marks:
                marks["validated"] = now
            if found.state != imports_pb2.IMPORT_STATE_RUNNING:
                break
            # The console polls about once a second; every 20 ms, as before, the poll itself (an RPC and a
            # transaction in the registry's process) took a tenth of the samples of the import it measured.
            await asyncio.sleep(POLL_SECONDS)
        elapsed = time.perf_counter() - started
        if found.state != imports_pb2.IMPORT_STATE_SUCCEEDED or found.imported_rows != rows:
            raise RuntimeError(f"import did not succeed: {found}")
        # Stopping now would leave the events to whichever section next starts the registry, as a backlog
        # in front of its own events.
        events, relayed = await relay_drain(admin_dsn, tenant=county)
    finally:
        await channel.close()
        await running.stop()
    return {"rows_per_s": rows / elapsed, "seconds": elapsed, "read_s": marks.get("read", elapsed),
            "validated_s": marks.get("validated", elapsed), "events": events, "relay_s": relayed}


async def bench_import(*, admin_dsn: str, settings: KitSettings, issuer: TokenIssuer, rows: int = ROWS) -> dict:
    """Print and return raw COPY and platform import throughput (rows/s) on the registry's database."""
    cipher, blind_index = FieldCipher.from_settings(settings), BlindIndex.from_settings(settings)
    records = raw_rows(rows, tenant=RAW_COUNTY, cipher=cipher, blind_index=blind_index)
    content = csv_file(rows)
    print(f"\nbulk import of {rows:,} members (CSV of {len(content) / 2**20:.1f} MiB), one county each")
    raw = await raw_copy(admin_dsn, records)
    print(f"  {'floor: raw COPY, prebuilt rows':<34} {raw:>8.0f} rows/s")
    platform = await platform_import(settings, issuer, content, rows, admin_dsn=admin_dsn)
    print(f"  {'platform: StartMemberImport':<34} {platform['rows_per_s']:>8.0f} rows/s   "
          f"{platform['seconds']:.2f} s (read {platform['read_s']:.2f} s, validated {platform['validated_s']:.2f} s)")
    print(f"  ratio platform/floor: throughput {platform['rows_per_s'] / raw:.3f}x"
          f" ({raw / platform['rows_per_s']:.0f}x slower)")
    verdict(TARGET, platform["rows_per_s"] / raw)
    if platform["events"]:
        # Two events per member (MemberRegistered, MemberProfileChanged); the relay starts on the import's commit.
        print(f"  {'then its events relayed to JetStream':<34} {platform['events'] / platform['relay_s']:>8.0f}"
              f" events/s   all {platform['events']:,} published {platform['relay_s']:.2f} s after the import"
              " finished")
    later: dict[str, float] = {}
    if PROVINCE_ROWS:
        size, grown = await grow_province(admin_dsn, n=PROVINCE_ROWS, cipher=cipher, blind_index=blind_index)
        print(f"  the province grown by {PROVINCE_ROWS:,} members of {len(PROVINCE_COUNTIES)} other counties"
              f" (superuser COPY + ANALYZE, {grown:.1f} s): members holds {size:,} rows")
        later = await platform_import(settings, issuer, csv_file(rows, region="419004"), rows, admin_dsn=admin_dsn,
                                      county=LATER_COUNTY)
        print(f"  {'platform: the same import again':<34} {later['rows_per_s']:>8.0f} rows/s   "
              f"{later['seconds']:.2f} s (read {later['read_s']:.2f} s, validated {later['validated_s']:.2f} s);"
              f" {later['rows_per_s'] / platform['rows_per_s']:.2f}x the first")
    return {"raw_rows_per_s": raw, "platform_rows_per_s": platform["rows_per_s"], "platform": platform,
            "later": later}


async def main() -> None:
    """Run the import figures alone, on a throwaway PostgreSQL and NATS."""
    root = Path(tempfile.mkdtemp(prefix="jinqiao-bench-import-"))
    with Sandbox(prefix="jinqiao-bench-import-") as box:
        db = await provision_service_database(admin_dsn=box.admin_dsn, service="registry", app_password="bench")
        await migrate(service="registry", admin_dsn=db.admin_dsn_for_db, owner_role=db.owner_role)
        private, public = generate_signing_keypair()
        (root / "public.pem").write_bytes(public)
        settings = KitSettings(
            service_name="registry", grpc_port=0, database_url=db.app_dsn, nats_url=box.nats_url,
            nats_user="registry", nats_password=box.nats_login("registry").password,
            jwt_public_key_file=root / "public.pem", pii_keys=encode_keyring({1: generate_key()}),
            blind_index_key=base64.b64encode(generate_key()).decode(), db_pool_max=10, log_level="warning",
            timer_interval_seconds=0,
        )
        issuer = TokenIssuer(private_key_pem=private, issuer="jinqiao", audience="jinqiao", ttl_seconds=3600)
        await bench_import(admin_dsn=db.admin_dsn_for_db, settings=settings, issuer=issuer)


if __name__ == "__main__":
    try:
        import uvloop
    except ImportError:
        asyncio.run(main())
    else:
        uvloop.run(main())
