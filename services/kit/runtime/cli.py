"""The `jinqiao` command: up, status, down."""

from __future__ import annotations

import argparse
import asyncio
import sys

from jinqiao.kit.runtime import config, supervisor


def main(argv: list[str] | None = None) -> None:
    """Parse the command and run it."""
    parser = argparse.ArgumentParser(prog="jinqiao", description="金桥 Jinqiao embedded platform")
    parser.add_argument("command", choices=["up", "status", "down"])
    args = parser.parse_args(argv)
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
    else:
        code = supervisor.down(settings)
    sys.exit(code)


if __name__ == "__main__":
    main()
