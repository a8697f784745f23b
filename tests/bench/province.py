"""`make bench-province`: build the synthetic province and print how each cost grows with it.

Starts `jinqiao up` on free ports in a data directory of its own (no demo seed), grows the province with
`jinqiao province` to 10,000, 100,000 and 1,000,000 members (``--sizes 10000,100000`` stops earlier) and at each size
measures CreateMember (500 calls at concurrency 8), the step's import rate, GetDashboard at province and city scope
and each service database's size per member; prints the scale table at the end and stops the stack by its pid.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import subprocess
import tempfile
import threading
import time
from dataclasses import dataclass
from datetime import date, timedelta
from pathlib import Path

import asyncpg
import grpc

from jinqiao.demo import province
from jinqiao.insights.v1 import insights_pb2, insights_pb2_grpc
from jinqiao.kit import kms, pii
from jinqiao.kit.auth import Role, TokenIssuer
from jinqiao.registry.v1 import registry_pb2, registry_pb2_grpc
from tests.bench.common import Target, load, pct, print_verdicts, verdict
from tests.bench.memory import JINQIAO, stack_env

SIZES = (10_000, 100_000, 1_000_000)
WRITE_CALLS, WRITE_CONCURRENCY = 500, 8
DASHBOARD_CALLS, DASHBOARD_CONCURRENCY = 200, 8
WRITE_COUNTY = "411525"
CITY = "4115"
DASHBOARD_P99 = Target("dashboard p99 over the province", 50.0, "ms", higher_is_better=False)


@dataclass
class Row:
    """One size's figures."""

    members: int
    build_s: float
    import_rate: float
    write_p50: float
    write_p99: float
    province_p50: float
    province_p99: float
    city_p50: float
    city_p99: float
    disk: dict[str, float]


def start_stack(root: Path) -> tuple[subprocess.Popen[str], dict[str, str]]:
    """`jinqiao up` without the demo seed (the province is the data); returns once the console answers."""
    root.chmod(0o755)  # as root, PostgreSQL runs as an unprivileged user who must pass through
    data = root / "stack"
    data.mkdir()
    data.chmod(0o755)
    (data / ".seeded").touch()  # the runner seeds once per data directory: this one is the province's
    env = stack_env(data)
    proc = subprocess.Popen([JINQIAO, "up"], env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    assert proc.stdout is not None
    deadline = time.monotonic() + 300
    seen: list[str] = []
    for line in proc.stdout:
        seen.append(line)
        if "http://127.0.0.1:" in line:
            break
        if time.monotonic() > deadline:
            break
    else:
        raise RuntimeError("jinqiao up did not come up:\n" + "".join(seen[-20:]))
    # Keep draining its output so the runner never blocks on a full pipe.
    stdout = proc.stdout
    threading.Thread(target=lambda: stdout.read(), daemon=True).start()
    return proc, env


def grow(env: dict[str, str], members: int, report: Path) -> dict[str, object]:
    """`jinqiao province --members N`; its report."""
    subprocess.run([JINQIAO, "province", "--members", str(members), "--report", str(report)], env=env, check=True)
    loaded: dict[str, object] = json.loads(report.read_text())
    return loaded


async def writes(target: str, issuer: TokenIssuer, *, size: int) -> tuple[float, float]:
    """CreateMember p50 and p99 (ms), 500 calls at concurrency 8, into one county of the grown province."""
    token = issuer.issue(user="bench", role=Role.COUNTY_ADMIN, scope=WRITE_COUNTY)[0]
    meta = (("authorization", f"Bearer {token}"),)
    async with grpc.aio.insecure_channel(target) as channel:
        stub = registry_pb2_grpc.RegistryServiceStub(channel)

        async def call(i: int) -> object:
            # 顺序码 from 978 up are never the generator's (it numbers from 0 upward); each size has two of its own.
            # Born 1961–1982: of age when joining in 2010.
            born = date(1961, 1, 1) + timedelta(days=i * 29 % 8000)
            sequence = 990 - 2 * len(str(size)) + i * 29 // 8000
            return await stub.CreateMember(registry_pb2.CreateMemberRequest(
                name="测试党员", id_number=pii.make_id_number(WRITE_COUNTY, born, sequence),
                phone=f"139{i:08d}", membership_status=registry_pb2.MEMBERSHIP_STATUS_FULL, township="城关镇",
                village="新庄村", join_date="2010-07-01", request_id=f"bench-province-{size}-{i}"),
                metadata=meta, timeout=30)

        latencies, _ = await load(call, calls=WRITE_CALLS, concurrency=WRITE_CONCURRENCY)
    return pct(latencies, 0.5) * 1000, pct(latencies, 0.99) * 1000


async def dashboards(target: str, issuer: TokenIssuer) -> dict[str, tuple[float, float]]:
    """GetDashboard p50 and p99 (ms) at province and city scope, as their analysts."""
    out = {}
    async with grpc.aio.insecure_channel(target) as channel:
        stub = insights_pb2_grpc.InsightsServiceStub(channel)
        for label, role, scope in (("province", Role.PROVINCE_ANALYST, province.PROVINCE),
                                   ("city", Role.CITY_ANALYST, CITY)):
            meta = (("authorization", f"Bearer {issuer.issue(user='bench', role=role, scope=scope)[0]}"),)

            async def call(_: int, meta: tuple[tuple[str, str], ...] = meta, scope: str = scope) -> object:
                return await stub.GetDashboard(insights_pb2.GetDashboardRequest(scope=scope), metadata=meta,
                                               timeout=30)

            await load(call, calls=20, concurrency=DASHBOARD_CONCURRENCY)
            latencies, _ = await load(call, calls=DASHBOARD_CALLS, concurrency=DASHBOARD_CONCURRENCY)
            out[label] = (pct(latencies, 0.5) * 1000, pct(latencies, 0.99) * 1000)
    return out


async def disk(env: dict[str, str], data: Path) -> dict[str, float]:
    """pg_database_size of each service's database, in bytes."""
    secrets = json.loads((data / "secrets.json").read_text())
    conn = await asyncpg.connect(host="127.0.0.1", port=int(env["JINQIAO_PG_PORT"]), user="postgres",
                                 password=secrets["postgres_password"], database="postgres")
    try:
        rows = await conn.fetch("SELECT datname, pg_database_size(datname) AS size FROM pg_database "
                                "WHERE datname LIKE 'jinqiao_%' ORDER BY datname")
        return {r["datname"].removeprefix("jinqiao_"): float(r["size"]) for r in rows}
    finally:
        await conn.close()


def print_table(rows: list[Row]) -> None:
    """The scale table: one row per size."""
    services = sorted({name for r in rows for name in r.disk})
    print("\nhow each cost grows (one province, grown in place)")
    head = (f"  {'members':>10} {'build s':>8} {'import rows/s':>13} {'CreateMember p50/p99 ms':>24}"
            f" {'province dash p50/p99 ms':>25} {'city dash p50/p99 ms':>21} {'disk/member':>12} "
            + " ".join(f"{s[:8]:>8}" for s in services))
    print(head)
    for r in rows:
        total = sum(r.disk.values()) / r.members
        per = " ".join(f"{r.disk.get(s, 0) / r.members / 1024:>8.2f}" for s in services)
        print(f"  {r.members:>10,} {r.build_s:>8.0f} {r.import_rate:>13,.0f} {r.write_p50:>11.1f} /"
              f" {r.write_p99:<10.1f} {r.province_p50:>12.1f} / {r.province_p99:<10.1f} {r.city_p50:>9.1f} /"
              f" {r.city_p99:<9.1f} {total / 1024:>9.2f} KiB {per}")
    print("  (disk per member: KiB in all, then per service database)")


async def measure(env: dict[str, str], data: Path, issuer: TokenIssuer, *, size: int, build: dict[str, object]
                  ) -> Row:
    """The figures at one size."""
    write = await writes(f"127.0.0.1:{env['JINQIAO_REGISTRY_GRPC_PORT']}", issuer, size=size)
    dash = await dashboards(f"127.0.0.1:{env['JINQIAO_INSIGHTS_GRPC_PORT']}", issuer)
    sizes = await disk(env, data)
    steps = build["steps"]
    assert isinstance(steps, dict)
    return Row(members=size, build_s=float(steps.get("total", 0.0)), import_rate=float(str(build["import_rate"])),
               write_p50=write[0], write_p99=write[1], province_p50=dash["province"][0],
               province_p99=dash["province"][1], city_p50=dash["city"][0], city_p99=dash["city"][1], disk=sizes)


def main(argv: list[str] | None = None) -> None:
    """Build, measure at each size and print the scale table."""
    parser = argparse.ArgumentParser(prog="python -m tests.bench.province")
    parser.add_argument("--sizes", default=",".join(map(str, SIZES)), help="e.g. 10000,100000")
    args = parser.parse_args(argv)
    sizes = [int(s) for s in args.sizes.split(",")]
    root = Path(tempfile.mkdtemp(prefix="jinqiao-bench-province-"))
    proc, env = start_stack(root)
    rows: list[Row] = []
    try:
        data = Path(env["JINQIAO_DATA_DIR"])
        keys = kms.open_key_service(key_dir=kms_dir(data), data_dir=data)
        issuer = province.issuer_from_file(keys.jwt_key_files().private)
        for size in sizes:
            print(f"\n== growing the province to {size:,} members ==", flush=True)
            build = grow(env, size, root / f"report-{size}.json")
            steps = build["steps"]
            assert isinstance(steps, dict)
            print("  steps: " + ", ".join(f"{k} {v:.1f} s" for k, v in steps.items()), flush=True)
            row = asyncio.run(measure(env, data, issuer, size=size, build=build))
            rows.append(row)
            print(f"  at {size:,}: CreateMember p50 {row.write_p50:.1f} ms p99 {row.write_p99:.1f} ms;"
                  f" dashboards province p99 {row.province_p99:.1f} ms, city p99 {row.city_p99:.1f} ms", flush=True)
        print_table(rows)
        if rows:
            print(f"\ndashboards at {rows[-1].members:,} members")
            verdict(DASHBOARD_P99, rows[-1].province_p99)
            verdict(Target("city dashboard p99", 50.0, "ms", higher_is_better=False), rows[-1].city_p99)
            print_verdicts()
    finally:
        proc.terminate()
        proc.wait(timeout=120)


def kms_dir(data: Path) -> Path:
    """The key directory `jinqiao up` uses beside this data directory."""
    return data.parent / f"{data.name}-keys"


if __name__ == "__main__":
    main()
