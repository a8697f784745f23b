"""A throwaway PostgreSQL and NATS pair on free ports in a temporary directory (tests and the bench).

NATS runs as `jinqiao up` runs it: logins for the runner and every catalogued service, no anonymous user, and
every producing service's stream declared by the runner's login before anyone connects.
"""

from __future__ import annotations

import asyncio
import shutil
import tempfile
import threading
from collections.abc import Coroutine
from pathlib import Path
from types import TracebackType
from typing import Any

from jinqiao.kit import catalog
from jinqiao.kit.runtime.nats import EmbeddedNats
from jinqiao.kit.runtime.natsauth import ADMIN, NatsLogin, logins, new_passwords
from jinqiao.kit.runtime.ports import free_port
from jinqiao.kit.runtime.postgres import EmbeddedPostgres


class Sandbox:
    """``with Sandbox() as box: box.admin_dsn, box.nats_url, box.nats_login("registry")`` — stopped by pid and
    deleted on exit; ``postgres=False`` starts NATS alone (PostgreSQL comes from elsewhere)."""

    def __init__(self, *, prefix: str = "jinqiao-", postgres: bool = True) -> None:
        self.root = Path(tempfile.mkdtemp(prefix=prefix))
        # The postgres OS user must traverse into it when we run as root.
        self.root.chmod(0o755)
        # A test session runs the platform and many more service instances and pools beside it, and the
        # session's admin connections (tests/conftest.py admin_conn_factory) stay open until it ends.
        self.postgres = EmbeddedPostgres(data_dir=self.root / "pg", port=free_port(), superuser_password="sandbox",
                                         max_connections=800) if postgres else None
        self.logins = logins(new_passwords({}, catalog.load()))
        self.nats = EmbeddedNats(data_dir=self.root / "nats", port=free_port(), users=self.logins.values())

    @property
    def admin_dsn(self) -> str:
        """Superuser DSN of the sandbox's PostgreSQL."""
        if self.postgres is None:
            raise RuntimeError("this sandbox runs no PostgreSQL")
        return self.postgres.admin_dsn()

    @property
    def nats_url(self) -> str:
        """Client URL of the sandbox's NATS (a client must still log in: see ``nats_login``)."""
        return self.nats.url

    def nats_login(self, user: str = ADMIN) -> NatsLogin:
        """The login of a catalogued service, or the runner's (which may declare streams and inspect the bus)."""
        return self.logins[user]

    def nats_url_as(self, user: str = ADMIN) -> str:
        """A client URL carrying a login (``nats://user:password@host:port``), for clients given only a URL."""
        login = self.logins[user]
        return f"nats://{login.user}:{login.password}@{self.nats.host}:{self.nats.port}"

    def __enter__(self) -> Sandbox:
        try:
            if self.postgres is not None:
                self.postgres.start()
            self.nats.start()
            _run(self.nats.declare_streams())
        except BaseException:
            self.__exit__(None, None, None)
            raise
        return self

    def __exit__(self, exc_type: type[BaseException] | None, exc: BaseException | None,
                 tb: TracebackType | None) -> None:
        self.nats.stop()
        if self.postgres is not None:
            self.postgres.stop()
        shutil.rmtree(self.root, ignore_errors=True)


def _run(coroutine: Coroutine[Any, Any, None]) -> None:
    """Run a coroutine to completion from synchronous code, even when the caller's thread runs an event loop."""
    failure: list[BaseException] = []

    def target() -> None:
        try:
            asyncio.run(coroutine)
        except BaseException as exc:  # re-raised in the caller's thread
            failure.append(exc)

    thread = threading.Thread(target=target, name="sandbox-setup")
    thread.start()
    thread.join()
    if failure:
        raise failure[0]
