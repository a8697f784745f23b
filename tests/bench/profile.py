"""Profile a bench section with py-spy and print where its time goes.

``python -m tests.bench.profile <label> <section> [section…]`` samples ``python -m tests.bench.run <section>`` (the
servers run in the bench's own process, so their frames are in the samples), keeps the collapsed stacks in
``docs/bench/profiles/<label>.txt`` and prints the 25 functions with the largest inclusive and self shares. Compare a
``<section>-before`` and a ``<section>-after`` run to see what a change bought.
"""

from __future__ import annotations

import subprocess
import sys
from collections import Counter
from pathlib import Path

PROFILES = Path(__file__).resolve().parents[2] / "docs" / "bench" / "profiles"
# Frames of the event loop and the interpreter's own machinery say nothing about where the platform spends time.
IDLE = ("select (selectors.py", "_run_once (asyncio/base_events.py", "run_forever (", "poll (")


def record(label: str, sections: list[str], *, rate: int = 97) -> Path:
    """Run the sections under py-spy and keep the collapsed stacks."""
    PROFILES.mkdir(parents=True, exist_ok=True)
    out = PROFILES / f"{label}.txt"
    spy = str(Path(sys.executable).parent / "py-spy")
    subprocess.run([spy, "record", "--format", "raw", "--rate", str(rate), "--subprocesses", "-o", str(out),
                    "--", sys.executable, "-m", "tests.bench.run", *sections], check=True)
    return out


def shares(path: Path) -> tuple[Counter[str], Counter[str], int]:
    """Inclusive and self sample counts per function, and the busy samples in all (idle waits left out)."""
    inclusive: Counter[str] = Counter()
    own: Counter[str] = Counter()
    total = 0
    for line in path.read_text().splitlines():
        stack, _, count = line.rpartition(" ")
        if not stack or not count.isdigit():
            continue
        frames = stack.split(";")
        if any(frames[-1].startswith(idle) for idle in IDLE):
            continue
        n = int(count)
        total += n
        for frame in set(frames):
            inclusive[frame] += n
        own[frames[-1]] += n
    return inclusive, own, total


def report(path: Path, *, top: int = 25) -> None:
    """Print the busiest functions of one profile."""
    inclusive, own, total = shares(path)
    print(f"\n{path.name}: {total} busy samples")
    print("  inclusive")
    for frame, n in inclusive.most_common(top):
        print(f"    {100 * n / max(total, 1):5.1f} %  {frame}")
    print("  self")
    for frame, n in own.most_common(top):
        print(f"    {100 * n / max(total, 1):5.1f} %  {frame}")


if __name__ == "__main__":
    if len(sys.argv) < 3:
        raise SystemExit("usage: python -m tests.bench.profile <label> <section> [section…]")
    report(record(sys.argv[1], sys.argv[2:]))
