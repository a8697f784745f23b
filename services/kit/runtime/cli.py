"""The `jinqiao` command: up, status, down, keys (status, rotate, reencrypt, retire), dead-letters, province,
backup and restore (kit/runtime/backup.py), migrate and nats-config (deployments beyond one machine,
kit/runtime/deploy.py)."""

from __future__ import annotations

import argparse
import asyncio
import os
import signal
import sys

from jinqiao.kit.runtime import config, deploy, supervisor
from jinqiao.kit.runtime import deadletters as dead_letters
from jinqiao.kit.runtime.processes import alive

PROVINCE_MODULE = "jinqiao.demo.province"  # run by name: the kit imports no service's stubs


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="jinqiao", description="金桥 Jinqiao embedded platform")
    commands = parser.add_subparsers(dest="command", required=True)
    commands.add_parser("up", help="启动平台 / run the platform")
    commands.add_parser("status", help="平台及各依赖的状态 / the platform's state, dependency by dependency")
    commands.add_parser("down", help="停止平台并确认无残留 / stop the platform and verify nothing is left")
    key_parser = commands.add_parser("keys", help="个人信息密钥 / the PII keys (rotate with the platform stopped)")
    actions = key_parser.add_subparsers(dest="action", required=True)
    actions.add_parser("status", help="密钥版本与各版本的数据量 / versions and values per version")
    actions.add_parser("rotate", help="新增并启用密钥版本，重新加密全部数据 / add a version, re-encrypt everything")
    actions.add_parser("reencrypt", help="把旧版本的数据改用当前密钥 / finish re-encrypting under the active version")
    retire = actions.add_parser("retire", help="停用并销毁不再使用的旧版本 / destroy a version no value uses")
    retire.add_argument("version", type=int)
    dead_letters.add_parser(commands)
    province = commands.add_parser("province", help="生成合成省份数据（河南规模）/ grow a synthetic province on the "
                                                     "running platform through its own APIs")
    province.add_argument("--members", type=int, default=1_000_000, help="党员总数 / members in all")
    province.add_argument("--seed", type=int, default=7)
    province.add_argument("--concurrency", type=int, default=32, help="同时进行的调用数 / RPCs in flight")
    province.add_argument("--report", help="把报告写成 JSON / write the report as JSON to this file")
    backup = commands.add_parser("backup", help="加密备份全部数据库、事件流与密钥元数据 / an encrypted, checksummed "
                                                "archive of every database, the streams and the keys' metadata")
    backup.add_argument("--out", help="归档文件 / the archive (default <data dir>/backups/jinqiao-<UTC>.jqbak)")
    restore = commands.add_parser("restore", help="把备份恢复到空数据目录（平台停止时）/ restore an archive into an "
                                                  "empty data directory, the platform stopped")
    restore.add_argument("archive", help="归档文件 / the .jqbak archive")
    restore.add_argument("--identity", help="age 解密身份 / the age identity (default <key dir>/backup.key)")
    deploy.add_migrate_parser(commands)
    commands.add_parser("nats-config", help="部署用 NATS 授权配置（密码为环境变量）/ print the deployed broker's "
                                            "authorization block (passwords as $VARIABLES)")
    return parser


def main(argv: list[str] | None = None) -> None:
    """Parse the command and run it."""
    args = _parser().parse_args(argv)
    if args.command != "up":
        # A reader that stops early (`jinqiao status | head`) ends the output quietly, as any command-line tool.
        signal.signal(signal.SIGPIPE, signal.SIG_DFL)
    # Deployment commands run from the image, beside no embedded configuration (deploy/embedded.toml): before it.
    if args.command == "migrate":
        sys.exit(asyncio.run(deploy.run_migrate(env=os.environ, names=args.service, streams=not args.no_streams)))
    if args.command == "nats-config":
        print(deploy.nats_authorization_file(), end="")
        sys.exit(0)
    settings = config.load()
    if args.command == "up":
        try:
            import uvloop
        except ImportError:
            code = asyncio.run(supervisor.up(settings))
        else:
            code = uvloop.run(supervisor.up(settings))
    elif args.command == "status":
        code = asyncio.run(supervisor.status(settings))
    elif args.command == "down":
        code = supervisor.down(settings)
    elif args.command == "province":
        code = asyncio.run(_province(settings, members=args.members, seed=args.seed, concurrency=args.concurrency,
                                     report=args.report))
    elif args.command in ("backup", "restore"):
        code = _backup(settings, args)
    elif args.command == "dead-letters":
        code = asyncio.run(dead_letters.run(settings, args))
    else:
        code = _keys(settings, args)
    sys.exit(code)


def _backup(settings: config.EmbeddedConfig, args: argparse.Namespace) -> int:
    """`jinqiao backup` / `jinqiao restore`; imported here, as the keys' commands are."""
    from pathlib import Path

    from jinqiao.kit.runtime import backup

    if args.command == "backup":
        return asyncio.run(backup.backup(settings, Path(args.out) if args.out else None))
    return backup.restore(settings, Path(args.archive), Path(args.identity) if args.identity else None)


def _keys(settings: config.EmbeddedConfig, args: argparse.Namespace) -> int:
    """`jinqiao keys …`; imported here because rotation pulls in most of the kit, which `up` and `status` skip."""
    from jinqiao.kit.runtime import keys

    if args.action == "status":
        code = asyncio.run(keys.status(settings))
    elif args.action == "rotate":
        code = asyncio.run(keys.rotate(settings))
    elif args.action == "reencrypt":
        code = asyncio.run(keys.reencrypt(settings))
    else:
        code = asyncio.run(keys.retire(settings, args.version))
    return code


async def _province(settings: config.EmbeddedConfig, *, members: int, seed: int, concurrency: int,
                    report: str | None = None) -> int:
    """Grow the synthetic province on the running platform (demo/province.py, run as `jinqiao up` runs its seed:
    a process of its own, told where the services answer and which key signs its county administrators' tokens)."""
    run = supervisor.read_run_file(settings)
    pid = run.get("supervisor") if run else None
    if run is None or not alive(pid if isinstance(pid, int) else None):
        print("金桥未运行（先运行 `jinqiao up`）/ Jinqiao is not running (start it with `jinqiao up`)", file=sys.stderr)
        return 2
    ports = {s.name: s.grpc_port for s in settings.services}
    recorded = run.get("health")
    if isinstance(recorded, dict):
        ports.update({name: v["grpc_port"] for name, v in recorded.items()
                      if isinstance(v, dict) and v.get("grpc_port")})
    from jinqiao.kit import kms

    try:
        key = kms.open_key_service(key_dir=settings.key_directory, data_dir=settings.data_dir, spec=settings.kms)
        private = key.jwt_key_files().private
    except (OSError, ValueError, kms.KeyStoreError) as exc:
        print(f"无法读取签名密钥 / cannot read the JWT signing key: {exc}", file=sys.stderr)
        return 2
    env = dict(os.environ)
    env.update({f"JINQIAO_{spec.env_name}_TARGET": f"{supervisor.HOST}:{ports[spec.name]}"
                for spec in settings.services if ports.get(spec.name)})
    env["JINQIAO_JWT_PRIVATE_KEY_FILE"] = str(private)
    proc = await asyncio.create_subprocess_exec(
        sys.executable, "-m", PROVINCE_MODULE, "--members", str(members), "--seed", str(seed),
        "--concurrency", str(concurrency), *(("--report", report) if report else ()), env=env)
    return await proc.wait()


if __name__ == "__main__":
    main()
