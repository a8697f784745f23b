"""`jinqiao migrate` run for real, as the compose job and the chart's hook run it, against the session's servers."""

from __future__ import annotations

import asyncio
import os
import shutil
import sys
from pathlib import Path

import asyncpg

from jinqiao.kit import catalog
from jinqiao.kit import events as ev
from jinqiao.kit.runtime.natsauth import ADMIN
from tests.conftest import Infra

DATABASES = [e for e in catalog.load() if e.database]


def _command() -> list[str]:
    # The console script the wheel installs (the image's PATH has it too); the module if this venv lacks it.
    script = shutil.which("jinqiao", path=str(Path(sys.executable).parent))
    return [script] if script else [sys.executable, "-m", "jinqiao.kit.runtime.cli"]


async def _migrate(env: dict[str, str]) -> tuple[int, str, str]:
    proc = await asyncio.create_subprocess_exec(*_command(), "migrate", env=env, stdout=asyncio.subprocess.PIPE,
                                                stderr=asyncio.subprocess.PIPE)
    out, err = await asyncio.wait_for(proc.communicate(), timeout=240)
    assert proc.returncode is not None
    return proc.returncode, out.decode(), err.decode()


async def _revisions(dsn: str) -> list[str]:
    conn = await asyncpg.connect(dsn)
    try:
        return [r["version_num"] for r in await conn.fetch("SELECT version_num FROM alembic_version ORDER BY 1")]
    finally:
        await conn.close()


async def test_migrate_on_migrated_databases_is_a_no_op_that_succeeds(infra: Infra,
                                                                      databases: dict[str, object]) -> None:
    """Re-run on the session's databases (already at head) with the same passwords: exit 0, one line per service
    and one for the streams, the same revisions after, and each app role still logs in with its password."""
    before = {e.name: await _revisions(databases[e.name].admin_dsn_for_db)  # type: ignore[attr-defined]
              for e in DATABASES}
    env = {**os.environ, "JINQIAO_ADMIN_DATABASE_URL": infra.admin_dsn,
           **{f"JINQIAO_{e.env_name}_DB_PASSWORD": f"pw-{e.name}" for e in DATABASES},
           "JINQIAO_NATS_URL": infra.nats_url, "JINQIAO_NATS_ADMIN_PASSWORD": infra.nats_options(ADMIN)["password"]}
    code, out, err = await _migrate(env)
    assert code == 0, out + err
    lines = out.splitlines()
    assert [line.split(":")[0] for line in lines] == [*(e.name for e in DATABASES), "streams"]
    for entry in DATABASES:
        after = await _revisions(databases[entry.name].admin_dsn_for_db)  # type: ignore[attr-defined]
        assert after == before[entry.name] and after
        assert f"({', '.join(after)})" in next(line for line in lines if line.startswith(f"{entry.name}:"))
        app = await asyncpg.connect(databases[entry.name].app_dsn)  # type: ignore[attr-defined]
        await app.close()
    assert all(ev.stream_name(e.name) in lines[-1] for e in catalog.load() if e.produces_events)


async def test_migrate_without_a_password_names_it_and_changes_nothing(infra: Infra) -> None:
    """A missing JINQIAO_<NAME>_DB_PASSWORD is exit 2 with the variable named, Chinese first."""
    env = {**os.environ, "JINQIAO_ADMIN_DATABASE_URL": infra.admin_dsn,
           **{f"JINQIAO_{e.env_name}_DB_PASSWORD": f"pw-{e.name}" for e in DATABASES}}
    env.pop("JINQIAO_REGISTRY_DB_PASSWORD")
    code, out, err = await _migrate(env)
    assert code == 2 and out == ""
    assert "缺少环境变量" in err and "JINQIAO_REGISTRY_DB_PASSWORD" in err
