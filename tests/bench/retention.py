"""`make bench` section `retention`: disk after a million events, and what pruning gives back (issue 11, finding 6).

A million sent outbox rows and a million inbox rows (written with generate_series, aged past the retention) are
pruned by the kit's schedule (``prune_once``: batches of 5,000 under the advisory lock, as the app role); the floor
is one unbatched ``DELETE`` of the same rows from copies, as the superuser. A million small events (with
``Nats-Msg-Id``, as the relay publishes them) go into a stream configured as the services' are, on a bench NATS of
its own; its store is set beside the raw payload bytes.
"""

from __future__ import annotations

import asyncio
import contextlib
import socket
import subprocess
import tempfile
import time
import uuid
from collections.abc import Iterator
from datetime import timedelta

import asyncpg
import nats

from jinqiao.kit import broker as kit_broker
from jinqiao.kit import events as ev
from jinqiao.kit.db import Database
from jinqiao.kit.retention import RetentionPolicy, StreamLimits, prune_once
from jinqiao.kit.runtime.nats import nats_server_binary
from jinqiao.kit.runtime.ports import free_port
from jinqiao.kit.runtime.processes import stop_popen, wait_until

ROWS = 1_000_000
EVENTS = 1_000_000
PAYLOAD = b"\x0a\x24" + b"m" * 36 + b"\x12\x06411525"  # about the size of a small event (an id and a county)
WINDOW = 1_000  # acknowledged publishes in flight
MIB = 1024 * 1024

FILL_OUTBOX = """
INSERT INTO outbox (tenant_id, event_id, subject, event_type, event_version, payload, created_at, sent_at)
SELECT (411500 + i % 30)::text, gen_random_uuid(), 'jinqiao.' || (411500 + i % 30) || '.registry.member_registered',
       'MemberRegistered', 1, $2::bytea, now() - interval '2 days',
       CASE WHEN i % 100 = 0 THEN NULL ELSE now() - interval '2 days' END
FROM generate_series(1, $1) AS i
"""
FILL_INBOX = """
INSERT INTO inbox (tenant_id, consumer, event_id, processed_at)
SELECT (411500 + i % 30)::text, 'bench-consumer', gen_random_uuid(), now() - interval '9 days'
FROM generate_series(1, $1) AS i
"""


async def _sizes(conn: asyncpg.Connection) -> tuple[float, float, float]:
    row = await conn.fetchrow("SELECT pg_database_size(current_database()) AS db,"
                              " pg_total_relation_size('outbox') AS outbox, pg_total_relation_size('inbox') AS inbox")
    return row["db"] / MIB, row["outbox"] / MIB, row["inbox"] / MIB


def _line(label: str, sizes: tuple[float, float, float]) -> None:
    db, outbox, inbox = sizes
    print(f"  {label:<38} database {db:8.1f} MiB   outbox {outbox:7.1f} MiB   inbox {inbox:7.1f} MiB")


async def bench_database(*, admin_dsn: str, app_dsn: str) -> dict[str, float]:
    """Fill, prune as the services do, vacuum; the floor deletes the same rows from copies in one statement."""
    admin = await asyncpg.connect(admin_dsn)
    try:
        print(f"\nretention: {ROWS:,} outbox rows (1% pending) and {ROWS:,} inbox rows in 30 counties, aged past"
              " the retention (outbox 1 day, inbox horizon 8 days)")
        _line("before", await _sizes(admin))
        started = time.perf_counter()
        await admin.execute(FILL_OUTBOX, ROWS, PAYLOAD)
        await admin.execute(FILL_INBOX, ROWS)
        await admin.execute("ANALYZE outbox; ANALYZE inbox")
        print(f"  written in {time.perf_counter() - started:.1f} s (generate_series)")
        filled = await _sizes(admin)
        _line("after a million events", filled)
        await admin.execute("CREATE TABLE floor_outbox AS SELECT * FROM outbox;"
                            " CREATE TABLE floor_inbox AS SELECT * FROM inbox")
        db = await Database.connect(app_dsn, min_size=1, max_size=1)
        try:
            started = time.perf_counter()
            report = await prune_once(db, policy=RetentionPolicy(outbox=timedelta(days=1),
                                                                 inbox_horizon=timedelta(days=8)))
            pruned_in = time.perf_counter() - started
        finally:
            await db.close()
        started = time.perf_counter()
        await admin.execute("DELETE FROM floor_outbox WHERE sent_at < now() - interval '1 day';"
                            " DELETE FROM floor_inbox WHERE processed_at < now() - interval '8 days'")
        floor_in = time.perf_counter() - started
        await admin.execute("DROP TABLE floor_outbox; DROP TABLE floor_inbox")
        pending = await admin.fetchval("SELECT count(*) FROM outbox WHERE sent_at IS NULL")
        print(f"  pruned {report.outbox:,} sent outbox rows and {report.inbox:,} inbox rows in {pruned_in:.1f} s"
              f" ({(report.outbox + report.inbox) / pruned_in:,.0f} rows/s, batches of 5,000); {pending:,} pending"
              " rows kept")
        print(f"  floor: one unbatched DELETE each       {floor_in:.1f} s"
              f" ({(report.outbox + report.inbox) / floor_in:,.0f} rows/s); ratio {pruned_in / floor_in:.2f}x")
        _line("after pruning", await _sizes(admin))
        await admin.execute("VACUUM outbox")
        await admin.execute("VACUUM inbox")
        _line("after VACUUM (space reusable)", await _sizes(admin))
        # The pending rows were the bench's own: nothing would ever relay them.
        await admin.execute("DELETE FROM outbox WHERE sent_at IS NULL AND created_at < now() - interval '1 day'")
        return {"prune_s": pruned_in, "floor_s": floor_in, "filled_mib": filled[0]}
    finally:
        await admin.close()


@contextlib.contextmanager
def bench_nats() -> Iterator[str]:
    """A NATS of its own for the million events: JetStream's default flushing (the platform's fsyncs every message,
    about a thousand a second here, which would make this section take a quarter of an hour; the disk is the same)."""
    port = free_port()
    with tempfile.TemporaryDirectory(prefix="jinqiao-bench-nats-") as store:
        proc = subprocess.Popen([nats_server_binary(), "-js", "-sd", store, "-a", "127.0.0.1", "-p", str(port)],
                                stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        try:
            if not wait_until(lambda: _greets(port), timeout=20):
                raise RuntimeError("bench NATS did not start")
            yield f"nats://127.0.0.1:{port}"
        finally:
            stop_popen(proc)


def _greets(port: int) -> bool:
    try:
        with socket.create_connection(("127.0.0.1", port), timeout=1) as sock:
            return sock.recv(4096).startswith(b"INFO")
    except OSError:
        return False


async def bench_stream() -> dict[str, float]:
    """A million small events into a stream configured as the services' streams are; its store beside the payload."""
    service = "benchretention"
    with bench_nats() as url:
        nc = await nats.connect(url, name="bench-retention")
        js = nc.jetstream()
        limits = StreamLimits(max_age=7 * 86400.0, max_bytes=1024**3)
        await js.add_stream(kit_broker.stream_config(service, limits=limits))
        subject = f"jinqiao.411525.{service}.member_registered"
        try:
            started = time.perf_counter()
            for first in range(0, EVENTS, WINDOW):
                # Acknowledged publishes, a window at a time, each with its Nats-Msg-Id as the relay sends it.
                await asyncio.gather(*(js.publish(subject, PAYLOAD, headers={"Nats-Msg-Id": str(uuid.uuid4())})
                                       for _ in range(first, min(first + WINDOW, EVENTS))))
            elapsed = time.perf_counter() - started
            state = (await js.stream_info(ev.stream_name(service))).state
        finally:
            await nc.close()
    raw = state.messages * len(PAYLOAD) / MIB
    print(f"\nJetStream: {state.messages:,} events of {len(PAYLOAD)} bytes (+ Nats-Msg-Id) on a bench NATS, stream"
          f" limits 7 days / 1 GiB, discard new; published in {elapsed:.1f} s ({state.messages / elapsed:,.0f}/s)")
    print(f"  store {state.bytes / MIB:8.1f} MiB   floor: payload bytes alone {raw:6.1f} MiB;"
          f" ratio {state.bytes / MIB / raw:.1f}x (subject, headers, per-message index)")
    return {"store_mib": state.bytes / MIB, "raw_mib": raw}


async def bench_retention(*, admin_dsn: str, app_dsn: str) -> None:
    """Both halves: the database's rows and the stream's messages."""
    await bench_database(admin_dsn=admin_dsn, app_dsn=app_dsn)
    await bench_stream()
