"""`make bench-province`: build a synthetic province of 1,000,000 members and print how each cost grows.

CONTRACT (issue 16, helper h7): runs `jinqiao province` against a stack of its own at 10,000, 100,000 and
1,000,000 members and prints the scale table (write latency, import rate, dashboard latency, disk per member).
"""

from __future__ import annotations


def main() -> None:
    """CONTRACT: build, measure and print the scale table."""
    raise SystemExit("not built yet")


if __name__ == "__main__":
    main()
