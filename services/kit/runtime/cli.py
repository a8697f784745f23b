"""The `jinqiao` command: up, status, down, and keys (status, rotate, reencrypt, retire)."""

from __future__ import annotations

import argparse
import asyncio
import signal
import sys

from jinqiao.kit.runtime import config, keys, supervisor
from jinqiao.kit.runtime import deadletters as dead_letters


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
    return parser


def main(argv: list[str] | None = None) -> None:
    """Parse the command and run it."""
    args = _parser().parse_args(argv)
    if args.command != "up":
        # A reader that stops early (`jinqiao status | head`) ends the output quietly, as any command-line tool.
        signal.signal(signal.SIGPIPE, signal.SIG_DFL)
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
    elif args.command == "dead-letters":
        code = asyncio.run(dead_letters.run(settings, args))
    elif args.action == "status":
        code = asyncio.run(keys.status(settings))
    elif args.action == "rotate":
        code = asyncio.run(keys.rotate(settings))
    elif args.action == "reencrypt":
        code = asyncio.run(keys.reencrypt(settings))
    else:
        code = asyncio.run(keys.retire(settings, args.version))
    sys.exit(code)


if __name__ == "__main__":
    main()
