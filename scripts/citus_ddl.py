"""Write or check the Citus distribution DDL (deploy/citus/*.sql) from the migrated schema.

`citus_ddl.py --write` starts a scratch PostgreSQL from the wheel (as kit/runtime/sandbox.Sandbox does), migrates
every database of the platform as `jinqiao up` would, reads each one's catalog and writes its DDL;
`citus_ddl.py --check` does the same and fails when a committed file differs (tests/integration/deploy checks it
too, on the test session's databases). Either fails, naming every offender, when a table is not ready for Citus.
"""

from __future__ import annotations

import argparse
import asyncio
import shutil
import sys
import tempfile
from pathlib import Path

from jinqiao.kit.runtime import citus
from jinqiao.kit.runtime.ports import free_port
from jinqiao.kit.runtime.postgres import EmbeddedPostgres

ROOT = Path(__file__).resolve().parents[1]
DEPLOY = ROOT / "deploy" / "citus"


def generate() -> dict[str, str]:
    """Every database's DDL, from a scratch PostgreSQL started and stopped (by pid) here."""
    root = Path(tempfile.mkdtemp(prefix="jinqiao-citus-"))
    # The postgres OS user must traverse into it when we run as root.
    root.chmod(0o755)
    pg = EmbeddedPostgres(data_dir=root / "pg", port=free_port(), superuser_password="citus-ddl")
    try:
        pg.start()
        return asyncio.run(citus.generate(admin_dsn=pg.admin_dsn()))
    finally:
        pg.stop()
        shutil.rmtree(root, ignore_errors=True)


def main(argv: list[str] | None = None) -> int:
    """`--write` regenerates deploy/citus/*.sql; `--check` exits 1 when they differ from the schema."""
    parser = argparse.ArgumentParser(description="Citus 分布式 DDL：由迁移后的库表生成 deploy/citus/*.sql")
    mode = parser.add_mutually_exclusive_group(required=True)
    mode.add_argument("--write", action="store_true", help="重新生成 deploy/citus/*.sql")
    mode.add_argument("--check", action="store_true", help="比对已提交的文件，不一致则失败")
    args = parser.parse_args(argv)
    try:
        wanted = generate()
    except ValueError as exc:
        print(exc, file=sys.stderr)
        return 1
    stale = sorted(p.name for p in DEPLOY.glob("*.sql") if p.name not in wanted)
    if args.write:
        DEPLOY.mkdir(parents=True, exist_ok=True)
        for name, text in wanted.items():
            (DEPLOY / name).write_text(text, encoding="utf-8")
        for name in stale:
            (DEPLOY / name).unlink()
        print(f"已写入 {len(wanted)} 个文件到 {DEPLOY.relative_to(ROOT)}")
        return 0
    differing = [name for name, text in wanted.items()
                 if not (DEPLOY / name).exists() or (DEPLOY / name).read_text(encoding="utf-8") != text]
    if differing or stale:
        print("deploy/citus 与迁移后的库表不一致（运行 scripts/citus_ddl.py --write）："
              + ", ".join(differing + [f"{n}（多余）" for n in stale]), file=sys.stderr)
        return 1
    print(f"deploy/citus 的 {len(wanted)} 个文件与库表一致")
    return 0


if __name__ == "__main__":
    sys.exit(main())
