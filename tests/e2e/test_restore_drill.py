"""Issue 18's restore drill: load, back up mid-saga, wipe, restore, finish the saga, compare with the truth.

The truth is the restored registry: every outflow it holds was committed at the snapshot, and the restored platform
must carry each to its end exactly once — one offer placed by organizations, one 报到, the flow managed at home,
insights' facts and counters equal to the registry's. Flows accepted after the backup ended are lost by design (the
snapshot predates them): the drill proves the restored platform consistent with itself, not that later writes survive.
Flows accepted before the backup began must all be there.
"""

from __future__ import annotations

import asyncio
import os
import shutil
import tempfile
import time
from pathlib import Path

import pytest

from tests.chaos.stack import Stack
from tests.e2e import drill_support as drill

pytestmark = [pytest.mark.e2e, pytest.mark.timeout(600)]

BEFORE = 30  # flows registered (and half of the offered ones checked in) before the backup
AFTER_S = 2.0  # seconds of load kept up after the backup: these flows are lost by design
CAP = 150.0  # seconds allowed for the restored platform to converge
# The drill's line is kept with the other tests' artifacts (the closing note quotes it), and shown in the terminal.
REPORT = Path(os.environ.get("JINQIAO_ARTIFACTS", Path(__file__).resolve().parents[2] / ".artifacts")) / \
    "restore-drill.md"


async def test_a_platform_restored_mid_saga_finishes_every_flow_once(capsys: pytest.CaptureFixture[str]) -> None:
    """Every flow of the snapshot ends managed, placed once and counted once; none before the backup is lost."""
    root = Path(tempfile.mkdtemp(prefix="jinqiao-drill-"))
    stack = Stack(root)
    archive = root / "drill.jqbak"  # beside the data directory: the wipe must not take it
    driver: drill.Driver | None = None
    loaders: list[asyncio.Task[None]] = []
    left: list[str] = []
    try:
        stack.start()
        driver = drill.Driver(stack.base_url)
        await driver.logins(stack)
        await driver.destination_tree()
        await driver.load(BEFORE)
        await drill.offered(stack, at_least=BEFORE // 2)
        await driver.check_in_offered(stack, share=0.5)

        # Mid-saga: the load keeps registering and checking in while the snapshot is taken, and insights is frozen
        # meanwhile, so the snapshot surely holds events sent but not consumed (they come back from the export).
        stop = asyncio.Event()
        loaders += [asyncio.create_task(drill.keep_loading(driver, stack, stop)) for _ in range(2)]
        await asyncio.sleep(1.0)
        at_backup: dict[str, int | str] = dict(await drill.in_flight(stack))
        with drill.lagging(stack, "insights"):
            driver.phase = "during"
            taken = await asyncio.to_thread(drill.backup, stack, archive)
            driver.phase = "after"
            at_backup["insights behind (members) at the end of the backup"] = await drill.behind(stack)
        await asyncio.sleep(AFTER_S)
        stop.set()
        await asyncio.gather(*loaders)
        size = archive.stat().st_size
        left += await asyncio.to_thread(drill.down, stack)

        drill.wipe(stack)
        assert not any(stack.data.iterdir())
        restored = await asyncio.to_thread(drill.restore, stack, archive)
        since = time.time()
        started = time.monotonic()
        await asyncio.to_thread(stack.start)
        up_s = time.monotonic() - started
        seen, converge_s = await drill.settle(driver, stack, driver.ledger, since=since, cap=CAP)

        flows = sum(len(f) for f in driver.ledger.flows.values())
        line = drill.report_line(flows=flows, tally=seen, backup=taken, archive_bytes=size, restore=restored,
                                 up_s=up_s, converge_s=converge_s, at_backup=at_backup, ledger=driver.ledger,
                                 stack=stack)
        REPORT.parent.mkdir(parents=True, exist_ok=True)
        REPORT.write_text(line + "\n")
        with capsys.disabled():  # shown even when the suite captures output, as the chaos table is
            print("\n" + line)
        # Flows committed while insights was frozen and kept by the snapshot: their events reached insights only
        # from the archive's streams (case (a) of kit/runtime/backup.py) — the drill did test a mid-saga snapshot.
        assert set(driver.ledger.flows["during"]) & set(seen.truth), f"no flow of the backup's time in the snapshot: " \
            f"not a mid-saga snapshot: {seen.summary()}"
        assert seen.truth, f"the restored registry holds no flow: {seen.summary()}\n{restored.output}"
        assert not seen.lost_at_backup, f"flows accepted before the backup are gone: {seen.summary()}"
        assert not seen.from_after, f"flows accepted after the backup came back: {seen.summary()}"
        assert seen.converged, f"not converged within {CAP:.0f}s: {seen.summary()}\n{stack.tail()}"
        assert seen.lost == 0, seen.summary()
        assert seen.duplicates == 0, seen.summary()
        assert not any(seen.phantoms.values()), f"effects of flows the snapshot never had: {seen.summary()}"
        assert seen.dead_letters == 0, seen.summary()
    finally:
        for loader in loaders:
            loader.cancel()
        await asyncio.gather(*loaders, return_exceptions=True)
        if driver is not None:
            await driver.close()
        left += stack.stop()
        shutil.rmtree(root, ignore_errors=True)
    assert not left, f"jinqiao 停止后仍有进程 / processes outlived the runner (killed now): {left}"
