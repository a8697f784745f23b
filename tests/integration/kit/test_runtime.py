"""Provisioning is idempotent and leaves the service role powerless; a busy port stops `jinqiao up` early."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
from pathlib import Path

import asyncpg

from jinqiao.kit.runtime.provision import provision_service_database


async def test_provisioning_twice_is_harmless_and_updates_the_password(infra):
    first = await provision_service_database(admin_dsn=infra.admin_dsn, service="twice", app_password="one")
    second = await provision_service_database(admin_dsn=infra.admin_dsn, service="twice", app_password="two")
    assert (first.database, first.app_role) == (second.database, second.app_role)
    conn = await asyncpg.connect(second.app_dsn)
    try:
        assert await conn.fetchval("SELECT current_user") == "jq_twice"
    finally:
        await conn.close()


def test_jinqiao_up_refuses_a_busy_port_naming_the_setting(tmp_path: Path):
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        sock.listen()
        env = {**os.environ, "JINQIAO_DATA_DIR": str(tmp_path), "JINQIAO_PG_PORT": str(sock.getsockname()[1])}
        result = subprocess.run([str(Path(sys.executable).parent / "jinqiao"), "up"], env=env, capture_output=True,
                                text=True, timeout=60)
    assert result.returncode == 2
    assert "JINQIAO_PG_PORT" in result.stderr
