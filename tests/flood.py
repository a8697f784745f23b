"""A flood of large request bodies against a running gateway, and the resident memory it costs (issue 10, finding 1).

Used by the security test (bounded growth of the process serving the gateway) and by ``make bench`` (the figure).
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass

import psutil

MIB = 1024 * 1024
_CHUNK = b"x" * (64 * 1024)


@dataclass(frozen=True, slots=True)
class FloodResult:
    """What a flood sent, what came back (status 0: reset before the answer could be read), and memory around it."""

    requests: int
    declared_bytes: int
    sent_bytes: int
    statuses: dict[int, int]
    rss_before: int
    rss_peak: int
    rss_after: int

    @property
    def growth(self) -> int:
        """Peak resident memory above the level before the flood."""
        return max(0, self.rss_peak - self.rss_before)


async def stream_body(host: str, port: int, path: str, size: int, token: str | None,
                      content_type: str = "application/json") -> tuple[int, int]:
    """Declare ``size`` bytes and stream them while listening; (status, bytes sent before the answer)."""
    reader, writer = await asyncio.open_connection(host, port)
    auth = f"Authorization: Bearer {token}\r\n" if token else ""
    writer.write(f"POST {path} HTTP/1.1\r\nHost: {host}\r\n{auth}Content-Type: {content_type}\r\n"
                 f"Content-Length: {size}\r\nConnection: close\r\n\r\n".encode())
    head = asyncio.ensure_future(reader.readuntil(b"\r\n\r\n"))
    sent = 0
    try:
        while sent < size and not head.done():
            writer.write(_CHUNK)
            sent += len(_CHUNK)
            await writer.drain()
    except ConnectionError:
        pass  # the gateway answered and hung up: it will not read the rest
    try:
        status_line = (await asyncio.wait_for(head, timeout=60)).split(b"\r\n", 1)[0]
    except (ConnectionError, asyncio.IncompleteReadError):
        status_line = b"HTTP/1.1 0 closed"
    finally:
        writer.close()
    return int(status_line.split()[1]), sent


async def flood(*, base_url: str, pid: int, paths: list[str], token: str | None, concurrency: int = 8,
                rounds: int = 3, size: int = 45 * MIB) -> FloodResult:
    """Send ``rounds`` waves of ``concurrency`` bodies of ``size`` bytes each to every path, sampling RSS."""
    host, port = base_url.removeprefix("http://").split(":")
    process = psutil.Process(pid)
    before = process.memory_info().rss
    peak = before
    stop = asyncio.Event()

    async def sample() -> None:
        nonlocal peak
        while not stop.is_set():
            peak = max(peak, process.memory_info().rss)
            await asyncio.sleep(0.02)

    sampler = asyncio.create_task(sample())
    statuses: dict[int, int] = {}
    sent_total = requests = 0
    try:
        for _ in range(rounds):
            wave = [stream_body(host, int(port), path, size, token) for path in paths for _ in range(concurrency)]
            for status, sent in await asyncio.gather(*wave):
                statuses[status] = statuses.get(status, 0) + 1
                sent_total += sent
                requests += 1
    finally:
        stop.set()
        await sampler
    await asyncio.sleep(0.5)
    return FloodResult(requests=requests, declared_bytes=requests * size, sent_bytes=sent_total, statuses=statuses,
                       rss_before=before, rss_peak=max(peak, process.memory_info().rss),
                       rss_after=process.memory_info().rss)
