"""Faults the tests inject into real dependencies: a TCP relay that can be cut, a NATS server restarted in place."""

from __future__ import annotations

import asyncio
import contextlib
from urllib.parse import urlsplit, urlunsplit

from jinqiao.kit.runtime.ports import free_port


class Relay:
    """A TCP relay to PostgreSQL (or any TCP server) that can be cut (every connection dropped, new ones refused)
    and restored."""

    def __init__(self, target: tuple[str, int], *, port: int | None = None) -> None:
        self.target = target
        self.port = port or free_port()
        self._server: asyncio.Server | None = None
        self._pipes: set[asyncio.Future[object]] = set()

    @property
    def is_open(self) -> bool:
        """Whether the relay accepts connections now."""
        return self._server is not None

    async def open(self) -> None:
        """Accept connections (again) and pass them through to the target."""
        self._server = await asyncio.start_server(self._serve, "127.0.0.1", self.port)

    async def cut(self) -> None:
        """Refuse new connections and drop every open one, as a database that went away would."""
        if self._server is not None:
            self._server.close()
            await self._server.wait_closed()
            self._server = None
        for task in list(self._pipes):
            task.cancel()
        await asyncio.gather(*self._pipes, return_exceptions=True)

    async def _serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            up_reader, up_writer = await asyncio.open_connection(*self.target)
        except OSError:
            writer.transport.abort()
            return

        async def pump(src: asyncio.StreamReader, dst: asyncio.StreamWriter) -> None:
            try:
                while data := await src.read(65536):
                    dst.write(data)
                    await dst.drain()
            finally:
                dst.close()

        task = asyncio.ensure_future(asyncio.gather(pump(reader, up_writer), pump(up_reader, writer)))
        self._pipes.add(task)
        with contextlib.suppress(asyncio.CancelledError, ConnectionError):
            await task
        self._pipes.discard(task)
        for w in (writer, up_writer):
            w.transport.abort()


def via(dsn: str, port: int) -> tuple[str, tuple[str, int]]:
    """``dsn`` pointed at 127.0.0.1:``port`` (a relay), and the (host, port) it pointed at before."""
    parts = urlsplit(dsn)
    host, target_port = parts.hostname or "127.0.0.1", parts.port or 5432
    netloc = parts.netloc.rsplit("@", 1)
    auth = f"{netloc[0]}@" if len(netloc) == 2 else ""
    return urlunsplit(parts._replace(netloc=f"{auth}127.0.0.1:{port}")), (host, target_port)


async def relayed(dsn: str) -> tuple[str, Relay]:
    """An open relay in front of the database of ``dsn``, and the DSN that goes through it."""
    _, target = via(dsn, 0)
    relay = Relay(target)
    await relay.open()
    return via(dsn, relay.port)[0], relay
