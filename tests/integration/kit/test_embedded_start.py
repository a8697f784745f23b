"""`jinqiao up`'s start: the embedded server runs with its lean settings, and a database at head skips Alembic."""

from __future__ import annotations

import json
import shutil
import tempfile
from collections.abc import Iterator
from pathlib import Path

import asyncpg
import pytest

from jinqiao.kit.runtime import config
from jinqiao.kit.runtime.ports import free_port
from jinqiao.kit.runtime.postgres import EMBEDDED_SETTINGS, EmbeddedPostgres
from jinqiao.kit.runtime.supervisor import _provision_and_migrate


@pytest.fixture(scope="module")
def embedded() -> Iterator[EmbeddedPostgres]:
    """The wheel's server as `jinqiao up` runs it (as root, in a directory its OS user can enter)."""
    root = Path(tempfile.mkdtemp(prefix="jinqiao-embedded-"))
    root.chmod(0o755)
    try:
        with EmbeddedPostgres(data_dir=root / "pg", port=free_port(), superuser_password="pw",
                              settings=EMBEDDED_SETTINGS) as pg:
            yield pg
    finally:
        shutil.rmtree(root, ignore_errors=True)


async def test_the_embedded_server_runs_its_settings_without_io_workers_or_a_replication_launcher(embedded):
    conn = await asyncpg.connect(embedded.admin_dsn())
    try:
        for name, value in EMBEDDED_SETTINGS.items():
            shown = await conn.fetchval("SELECT setting || coalesce(unit, '') FROM pg_settings WHERE name = $1", name)
            assert shown == {"64MB": "81928kB"}.get(value, value), (name, shown)
        kinds = {row["backend_type"] for row in await conn.fetch("SELECT backend_type FROM pg_stat_activity")}
    finally:
        await conn.close()
    assert "io worker" not in kinds
    assert "logical replication launcher" not in kinds


async def test_a_database_at_head_is_not_migrated_again_until_its_scripts_or_its_versions_change(
    embedded, monkeypatch, tmp_path: Path
):
    monkeypatch.setenv("JINQIAO_DATA_DIR", str(tmp_path))
    loaded = config.load()
    spec = next(s for s in loaded.services if s.name == "registry")
    stored: dict[str, object] = {"app_passwords": {"registry": "pw-registry"}}
    phases: list[str] = []

    async def start() -> str:
        return await _provision_and_migrate(spec, config=loaded, admin_dsn=embedded.admin_dsn(), stored=stored,
                                            phase=phases.append)

    app_dsn = await start()
    assert phases == ["registry migrated"]
    record = tmp_path / "migrated.json"
    assert json.loads(record.read_text())["registry"]["versions"]
    await start()
    assert phases[-1] == "registry already at head"
    # Edited scripts (a different digest on record) are migrated again, as is a database that says otherwise.
    known = json.loads(record.read_text())
    record.write_text(json.dumps({"registry": {**known["registry"], "scripts": "edited"}}))
    await start()
    assert phases[-1] == "registry migrated"
    known = json.loads(record.read_text())
    record.write_text(json.dumps({"registry": {**known["registry"], "versions": ["0000"]}}))
    await start()
    assert phases[-1] == "registry migrated"
    await start()
    assert phases[-1] == "registry already at head"
    conn = await asyncpg.connect(app_dsn)
    try:
        assert await conn.fetchval("SELECT current_user") == "jq_registry"
    finally:
        await conn.close()
