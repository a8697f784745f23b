"""Imports running at once in a process stay below the pool's size: each holds a connection and takes one more."""

from __future__ import annotations

import asyncio
from types import SimpleNamespace

import pytest

from jinqiao.registry.imports import service


def gate_size(pool_max: int) -> int:
    deps = SimpleNamespace(db=SimpleNamespace(pool=SimpleNamespace(get_max_size=lambda: pool_max)))

    async def size() -> int:
        gate = service._gate(deps)  # type: ignore[arg-type]
        assert service._gate(deps) is gate  # one per loop
        taken = 0
        while not gate.locked():
            await gate.acquire()
            taken += 1
        return taken

    return asyncio.run(size())


@pytest.mark.parametrize(("pool_max", "running"), [(10, 2), (3, 2), (2, 1), (1, 1)])
def test_at_most_two_imports_and_always_a_connection_to_spare(pool_max: int, running: int) -> None:
    assert gate_size(pool_max) == running
