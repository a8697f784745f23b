"""A throwaway PostgreSQL and NATS pair on free ports in a temporary directory (tests and the bench)."""

from __future__ import annotations

import shutil
import tempfile
from pathlib import Path
from types import TracebackType

from jinqiao.kit.runtime.nats import EmbeddedNats
from jinqiao.kit.runtime.ports import free_port
from jinqiao.kit.runtime.postgres import EmbeddedPostgres


class Sandbox:
    """``with Sandbox() as box: box.admin_dsn, box.nats_url`` — stopped by pid and deleted on exit."""

    def __init__(self, *, prefix: str = "jinqiao-") -> None:
        self.root = Path(tempfile.mkdtemp(prefix=prefix))
        # The postgres OS user must traverse into it when we run as root.
        self.root.chmod(0o755)
        self.postgres = EmbeddedPostgres(data_dir=self.root / "pg", port=free_port(), superuser_password="sandbox")
        self.nats = EmbeddedNats(data_dir=self.root / "nats", port=free_port())

    @property
    def admin_dsn(self) -> str:
        """Superuser DSN of the sandbox's PostgreSQL."""
        return self.postgres.admin_dsn()

    @property
    def nats_url(self) -> str:
        """Client URL of the sandbox's NATS."""
        return self.nats.url

    def __enter__(self) -> Sandbox:
        try:
            self.postgres.start()
            self.nats.start()
        except BaseException:
            self.__exit__(None, None, None)
            raise
        return self

    def __exit__(self, exc_type: type[BaseException] | None, exc: BaseException | None,
                 tb: TracebackType | None) -> None:
        self.nats.stop()
        self.postgres.stop()
        shutil.rmtree(self.root, ignore_errors=True)
