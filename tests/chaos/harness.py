"""A chaos scenario: steady load, one fault, the load stopped, then polling until the platform has converged."""

from __future__ import annotations

import asyncio
import signal
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field

from tests.chaos.load import Observation, Writer, create_login, observe
from tests.chaos.stack import Stack, StackDown

# A fault acts on the stack while the writer runs and returns when the fault ends (the clock of convergence
# starts then), with a note for the report.
Fault = Callable[[Stack, Writer], Awaitable[str]]


@dataclass
class Row:
    """One line of the report."""

    scenario: str
    accepted: int = 0
    present: int = 0
    lost: int = 0
    duplicated: int = 0
    dead_letters: int = 0
    rejected: int = 0
    abandoned: int = 0
    converge_s: float | None = None
    observed: bool = False  # whether the databases could be counted at all
    notes: list[str] = field(default_factory=list)

    def cells(self) -> list[str]:
        """The row's Markdown cells."""
        seconds = f"{self.converge_s:.1f}" if self.converge_s is not None else "未收敛 not converged"
        counted = [str(self.present), str(self.lost), str(self.duplicated), str(self.dead_letters)]
        if not self.observed:
            counted = ["?"] * len(counted)  # the databases never answered: unknown, not zero
        return [self.scenario, str(self.accepted), *counted, str(self.rejected), str(self.abandoned), seconds,
                "; ".join(self.notes)]


HEADER = ["scenario", "accepted", "present", "lost", "duplicated", "dead letters", "rejected (4xx)",
          "abandoned", "seconds to converge", "notes"]


def markdown(rows: list[Row]) -> str:
    """The report as a Markdown table."""
    lines = ["| " + " | ".join(HEADER) + " |", "|" + "---|" * len(HEADER)]
    lines += ["| " + " | ".join(c.replace("|", "/") for c in row.cells()) + " |" for row in rows]
    lines += ["", "Seconds to converge: from the fault's end (the kill, or the dependency let back) until every "
              "accepted member is in the registry, insights' count agrees and no outbox row is pending; "
              "they include the seconds of load kept up after the fault (5 s)."]
    return "\n".join(lines) + "\n"


@dataclass(frozen=True)
class Scenario:
    """How one fault is run."""

    name: str
    county: str
    fault: Fault
    rate: float = 5.0  # new keys per second
    warm: float = 3.0  # seconds of load before the fault
    backlog: int = 0  # keys burst just before the fault, so the consumers have a backlog when it strikes
    after: float = 5.0  # seconds of load after the fault ends
    cap: float = 600.0  # seconds allowed to converge after the fault ends


async def run(stack: Stack, scenario: Scenario, row: Row) -> None:
    """Run the scenario, filling ``row`` as it goes (so a failure still reports what was seen)."""
    row.scenario = scenario.name
    if not stack.running():
        raise StackDown("平台未运行 / the platform is not running:\n" + stack.tail())
    dsn_for = {name: stack.admin_dsn(name) for name in stack.databases()}
    username = await create_login(dsn=dsn_for["jinqiao_gateway"], county=scenario.county)
    writer = Writer(base_url=stack.base_url, county=scenario.county, username=username, rate=scenario.rate)
    since = time.time()
    try:
        writer.start()
        await asyncio.sleep(scenario.warm)
        if scenario.backlog:
            writer.burst(scenario.backlog)
            await asyncio.sleep(0.5)
        row.notes.append(await scenario.fault(stack, writer))
        ended = time.monotonic()
        await asyncio.sleep(scenario.after)
        await writer.stop(drain=max(5.0, scenario.cap - (time.monotonic() - ended)))
        ledger = writer.ledger
        row.accepted, row.rejected, row.abandoned = len(ledger.accepted), len(ledger.rejected), len(ledger.abandoned)
        seen: Observation | None = None
        failure = ""
        while True:
            try:
                seen = await observe(dsn_for=dsn_for, ledger=ledger, since=since)
            except Exception as exc:  # noqa: BLE001 - the database may be away while the platform heals
                failure = f"last count failed: {type(exc).__name__}: {exc}"[:160]
            else:
                failure = ""
                row.present, row.lost, row.duplicated = seen.present, seen.lost, seen.duplicated
                row.dead_letters, row.observed = seen.dead_letters, True
                if seen.converged:
                    row.converge_s = round(time.monotonic() - ended, 1)
                    break
            if time.monotonic() - ended > scenario.cap:
                if failure:
                    row.notes.append(failure)
                if seen is not None:
                    row.notes.append(f"registry {seen.registry_rows} vs insights {seen.insights_count}, "
                                     f"outbox pending {seen.pending_outbox}")
                dead = stack.all_alive() if stack.running() else ["runner"]
                if dead:
                    row.notes.append("not running: " + ", ".join(dead))
                break
            await asyncio.sleep(1)
        statuses = ", ".join(f"{k}×{v}" for k, v in sorted(ledger.statuses.items()))
        row.notes.append(f"{ledger.attempts} tries ({statuses})")
    finally:
        await writer.stop(drain=0)
        await writer.close()


# ---------------------------------------------------------------------------------------------- faults


def kill(component: str) -> Fault:
    """kill -9 of a service or dependency; the fault ends at once (the runner is to restart it)."""

    async def fault(stack: Stack, writer: Writer) -> str:
        pid = stack.kill(component, signal.SIGKILL)
        return f"kill -9 {component} ({pid})"

    return fault


def outage(component: str, seconds: float) -> Fault:
    """The dependency down for ``seconds``: the runner frozen so it cannot restart it early, then let go."""
    sig = signal.SIGINT if component == "postgres" else signal.SIGTERM  # a fast shutdown, as an operator stops it

    async def fault(stack: Stack, writer: Writer) -> str:
        with stack.frozen():
            pid = stack.kill(component, sig)
            for _ in range(150):  # up to 30 s for a clean shutdown
                if stack.gone(pid):
                    break
                await asyncio.sleep(0.2)
            if not stack.gone(pid):
                stack.kill(component, signal.SIGKILL)
            await asyncio.sleep(seconds)
        return f"{component} down {seconds:.0f}s"

    return fault


def crash_loop(service: str, seconds: float = 30, every: float = 1.5) -> Fault:
    """Kill the service each time it comes back, for ``seconds``; the other services must keep serving."""

    async def fault(stack: Stack, writer: Writer) -> str:
        others = {name: stack.pid_of(name) for name in stack.services if name != service}
        reads = answered = kills = 0
        last = None
        deadline = time.monotonic() + seconds
        while time.monotonic() < deadline:
            pid = stack.pid_of(service) if stack.running() else None
            if pid and pid != last and not stack.gone(pid):
                stack.kill(service)
                kills, last = kills + 1, pid
            reads += 1
            answered += await writer.read()
            await asyncio.sleep(every)
        changed = [name for name, pid in others.items() if stack.running() and stack.pid_of(name) != pid]
        views = stack.run_file().get("children", {}) if stack.running() else {}
        state = views.get(service, {}).get("state", "?") if isinstance(views, dict) else "?"
        note = f"{service} killed {kills}× in {seconds:.0f}s (then {state}); reads answered {answered}/{reads}"
        assert stack.running(), f"{note}; the runner stopped the platform:\n{stack.tail()}"
        assert not changed, f"{note}; other services restarted meanwhile: {changed}"
        assert answered >= reads * 0.9, f"{note}; the other services did not keep serving reads"
        return note

    return fault
