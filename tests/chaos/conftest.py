"""One embedded platform per chaos session, and the report table written at the end.

`make test` runs the bounded subset; `JINQIAO_CHAOS=full` (`make chaos`) runs every scenario with its real
durations. The table goes to the terminal, to ``.chaos/report.md`` and to the session's pytest temporary directory.
"""

from __future__ import annotations

import os
import shutil
import tempfile
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.chaos.harness import Row, markdown
from tests.chaos.stack import Stack

REPORT = Path(__file__).resolve().parents[2] / ".chaos" / "report.md"
ROWS = pytest.StashKey[list[Row]]()


def full() -> bool:
    """True when the whole suite is asked for (``JINQIAO_CHAOS=full``)."""
    return os.environ.get("JINQIAO_CHAOS", "").lower() == "full"


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line("markers", "chaos: a fault injected into the embedded platform under load (issue 11)")
    config.stash[ROWS] = []


@pytest.fixture(scope="session")
def chaos_stack(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Stack]:
    """`jinqiao up` on free ports in a temporary directory; after the session no process of it may be left.

    The directory is made with mkdtemp, not under pytest's (0700 as root): PostgreSQL runs as its own OS user and
    must enter it. The services' logs are copied under pytest's temporary directory before it is deleted.
    """
    root = Path(tempfile.mkdtemp(prefix="jinqiao-chaos-"))
    stack = Stack(root)
    try:
        stack.start()
        yield stack
    finally:
        left = stack.stop()
        logs = stack.data / "logs"
        if logs.exists():
            shutil.copytree(logs, tmp_path_factory.mktemp("chaos-logs"), dirs_exist_ok=True)
        shutil.rmtree(root, ignore_errors=True)
    assert not left, f"jinqiao 停止后仍有进程 / processes outlived the runner (killed now): {left}"


@pytest.fixture
def report(request: pytest.FixtureRequest) -> Iterator[Row]:
    """The test's row of the report, kept whatever the test's outcome."""
    row = Row(scenario=request.node.callspec.id if hasattr(request.node, "callspec") else request.node.name)
    yield row
    request.config.stash[ROWS].append(row)


@pytest.fixture
def stack(chaos_stack: Stack, report: Row) -> Stack:
    """The session's platform, restarted first if an earlier scenario left it down (that scenario failed)."""
    dead = chaos_stack.all_alive() if chaos_stack.running() else ["runner"]
    if dead:
        report.notes.append(f"platform restarted first (left down: {', '.join(dead)})")
        left = chaos_stack.stop()
        chaos_stack.start()
        assert not left, f"processes outlived the runner (killed now): {left}"
    return chaos_stack


def pytest_terminal_summary(terminalreporter: pytest.TerminalReporter, config: pytest.Config) -> None:
    rows = config.stash.get(ROWS, [])
    if not rows:
        return
    table = markdown(rows)
    terminalreporter.write_sep("=", "混沌测试 / chaos report")
    terminalreporter.write(table)
    REPORT.parent.mkdir(exist_ok=True)
    REPORT.write_text(table)
    factory = getattr(config, "_tmp_path_factory", None)
    if factory is not None:
        (factory.getbasetemp() / "chaos-report.md").write_text(table)
    terminalreporter.write_line(f"written to {REPORT}")
