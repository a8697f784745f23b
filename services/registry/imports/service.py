"""台账 import use cases: check the request, read the file, validate every row, then import all rows or none."""

from __future__ import annotations

import asyncio
import contextlib
import uuid
import weakref
from collections.abc import Coroutine
from dataclasses import dataclass
from datetime import timedelta

import asyncpg

from jinqiao.kit import pii, telemetry
from jinqiao.kit.auth import Principal
from jinqiao.kit.clock import china_date
from jinqiao.kit.db import UnitOfWork
from jinqiao.kit.errors import InvalidArgument, NotFound
from jinqiao.kit.usecases import parse_id, record_act, require_tenant
from jinqiao.registry.deps import SERVICE, RegistryDeps
from jinqiao.registry.imports import bulk
from jinqiao.registry.imports import domain as imports
from jinqiao.registry.imports import repo as imports_repo
from jinqiao.registry.imports.domain import ImportState, MemberImport, RowError, Sheet, SheetRow
from jinqiao.registry.members import domain
from jinqiao.registry.members import service as members
from jinqiao.registry.members.models import MemberRow

# Progress is written (in its own short transaction) once per chunk; the event loop gets a turn more often,
# because validating and encrypting a row is CPU work that would otherwise hold up every other RPC.
CHUNK = 1000
YIELD_EVERY = 100
# A running import moves its progress at least once per chunk; one that has not moved for this long, and is not
# running in this process, was cut off by a restart and is failed when next looked at.
STALE_AFTER = timedelta(minutes=15)

INTERRUPTED = "导入被中断（服务重启），未导入任何数据，请重新导入"
INTERNAL = "导入时发生内部错误，未导入任何数据，请稍后重新导入"

_log = telemetry.get_logger("jinqiao.registry.imports")
# The background tasks of this process by import id: the loop keeps only weak references to tasks.
_running: dict[str, asyncio.Task[None]] = {}
# How many imports of this process read, validate and write at once. Each holds its writing transaction's connection
# while it takes a second for the checks and the progress: unbounded, a province's worth of files started together
# would hold every connection of the pool and wait for one more forever. More would not go faster either: the
# work is CPU-bound in one process, and every file waiting would hold its sheet in memory.
CONCURRENT = 2
_gates: weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, asyncio.Semaphore] = weakref.WeakKeyDictionary()


def _gate(deps: RegistryDeps) -> asyncio.Semaphore:
    """The loop's semaphore of running imports (a semaphore belongs to one loop; tests run several)."""
    loop = asyncio.get_running_loop()
    gate = _gates.get(loop)
    if gate is None:
        # One connection more than the imports' writing transactions, always, for their checks.
        gate = _gates[loop] = asyncio.Semaphore(max(1, min(CONCURRENT, deps.db.pool.get_max_size() - 1)))
    return gate


async def start_import(*, deps: RegistryDeps, principal: Principal, file_name: str, fmt: int, content: bytes,
                       request_id: str = "") -> MemberImport:
    """Record an import of the caller's county and start it; a repeated request id returns the first import."""
    domain.ensure_may_write_members(principal.role)
    tenant = require_tenant(principal)
    name, resolved = imports.check_request(file_name=file_name, fmt=fmt, content=content, request_id=request_id)
    if request_id:
        async with deps.db.unit_of_work(tenant=tenant) as uow:
            earlier = await imports_repo.by_request_id(uow, request_id=request_id)
        if earlier is not None:
            return earlier
    import_id = str(uuid.uuid4())
    async with deps.db.unit_of_work(tenant=tenant) as uow:
        if request_id:
            await imports_repo.lock_request_id(uow, request_id=request_id)
            earlier = await imports_repo.by_request_id(uow, request_id=request_id)
            if earlier is not None:
                return earlier
        await imports_repo.insert_import(
            uow, import_id=import_id, file_name=name, fmt=int(resolved), state=ImportState.RUNNING, total_rows=0,
            errors=(), error_count=0, errors_truncated=False, actor=principal.user, request_id=request_id or None,
            created_at=deps.clock(),
        )
        await uow.commit()
    # Reading is part of the background work: openpyxl takes seconds over a large sheet, longer than a caller
    # should wait for an answer; the total appears once the file is read.
    _spawn(import_id, _run(deps=deps, principal=principal, tenant=tenant, import_id=import_id, content=content,
                           fmt=resolved))
    return MemberImport(id=import_id, file_name=name, state=ImportState.RUNNING, total_rows=0, processed_rows=0,
                        imported_rows=0)


async def get_import(*, deps: RegistryDeps, principal: Principal, import_id: str) -> MemberImport:
    """An import of the caller's county with its progress and errors; another county's is not found."""
    domain.ensure_may_write_members(principal.role)
    tenant = require_tenant(principal)
    key = parse_id(import_id, what="该导入任务")
    async with deps.db.unit_of_work(tenant=tenant) as uow:
        found = await imports_repo.get_import(uow, import_id=key)
        if found is None:
            raise NotFound("未找到该导入任务")
        current, moved = found
        if current.state is ImportState.RUNNING and key not in _running and deps.clock() - moved > STALE_AFTER:
            await imports_repo.finish(uow, import_id=key, state=ImportState.FAILED,
                                      processed_rows=current.processed_rows, failure_reason=INTERRUPTED)
            found = await imports_repo.get_import(uow, import_id=key)
            await uow.commit()
    assert found is not None
    return found[0]


def import_template() -> imports.Template:
    """The columns an import reads, in the template's order, and the largest file accepted (anyone may ask)."""
    return imports.Template(columns=imports.COLUMNS, max_file_bytes=imports.MAX_FILE_BYTES)


def running_imports() -> int:
    """How many imports this process is working on (for tests and metrics)."""
    return len(_running)


def _spawn(import_id: str, work: Coroutine[object, object, None]) -> None:
    task = asyncio.get_running_loop().create_task(work, name=f"member-import-{import_id}")
    _running[import_id] = task
    task.add_done_callback(lambda _: _running.pop(import_id, None))


async def _run(*, deps: RegistryDeps, principal: Principal, tenant: str, import_id: str, content: bytes,
               fmt: imports.ImportFormat) -> None:
    """The background part; whatever happens, the import ends SUCCEEDED or FAILED, never left RUNNING."""
    try:
        async with _gate(deps):
            await _read_and_import(deps=deps, principal=principal, tenant=tenant, import_id=import_id,
                                   content=content, fmt=fmt)
    except asyncio.CancelledError:
        await _fail(deps, tenant=tenant, import_id=import_id, reason=INTERRUPTED)
        raise
    except Exception as exc:  # the import must end FAILED, whatever broke
        # The type and a scrubbed message only: a driver's error text may quote the values of a row.
        _log.error("member import failed", import_id=import_id, error=type(exc).__name__,
                   detail=pii.scrub(str(exc))[:300])
        await _fail(deps, tenant=tenant, import_id=import_id, reason=INTERNAL)


async def _read_and_import(*, deps: RegistryDeps, principal: Principal, tenant: str, import_id: str, content: bytes,
                           fmt: imports.ImportFormat) -> None:
    """Read the file (in a thread), record its size, then validate and write it."""
    try:
        # openpyxl is pure Python: in a thread the loop still gets the GIL between its bytecodes.
        sheet = await asyncio.to_thread(imports.read_sheet, content, fmt=fmt)
    except imports.FileProblem as exc:
        await _settle_failed(deps, tenant=tenant, import_id=import_id, sheet=None, total=0, errors=exc.errors)
        return
    del content
    async with deps.db.unit_of_work(tenant=tenant) as uow:
        await imports_repo.set_progress(uow, import_id=import_id, processed_rows=0, total_rows=len(sheet.rows))
        await uow.commit()
    await _import(deps=deps, principal=principal, tenant=tenant, import_id=import_id, sheet=sheet)


async def _fail(deps: RegistryDeps, *, tenant: str, import_id: str, reason: str) -> None:
    try:
        async with deps.db.unit_of_work(tenant=tenant) as uow:
            found = await imports_repo.get_import(uow, import_id=import_id)
            processed = found[0].processed_rows if found else 0
            await imports_repo.finish(uow, import_id=import_id, state=ImportState.FAILED, processed_rows=processed,
                                      failure_reason=reason)
            await uow.commit()
    except Exception as exc:  # left RUNNING: get_import fails it once stale
        _log.error("member import could not be marked failed", import_id=import_id, error=type(exc).__name__)


def _member_input(row: SheetRow) -> members.MemberInput:
    f = row.fields
    return members.MemberInput(
        name=str(f["name"]), id_number=str(f["id_number"]), phone=str(f["phone"]),
        membership_status=int(f["membership_status"]), township=str(f["township"]), village=str(f["village"]),
        occupation=str(f["occupation"]), join_date=str(f["join_date"]), ethnicity=str(f["ethnicity"]),
        education=str(f["education"]), home_branch_id=str(f["home_branch_id"]),
        household_address=str(f["household_address"]), full_member_date=str(f["full_member_date"]),
        gender=int(f["gender"]), birth_date=str(f["birth_date"]),
    )


@dataclass(slots=True)
class _Checked:
    row: SheetRow
    member: domain.NewMember
    bidx: bytes


class _Writer:
    """Writes an import's chunks in its one transaction while the next chunk is validated.

    The database works on the other core: chunk N's COPY and INSERT (with the members indexes) run while this
    process validates and encrypts chunk N+1. Nothing is visible until the commit; an error anywhere rolls all back.
    """

    def __init__(self, uow: UnitOfWork) -> None:
        self._uow = uow
        self._task: asyncio.Task[None] | None = None
        self._staged = False
        # Someone registered one of these people after the check (a form, another import): the transaction is
        # aborted; the rows are named at the end.
        self.refused = False

    async def submit(self, rows: list[MemberRow], events: list[bulk.OutboxRecord]) -> None:
        """Wait for the previous chunk's write, then start this one's."""
        await self.drain()
        if not self.refused:
            self._task = asyncio.get_running_loop().create_task(self._write(rows, events))

    async def _write(self, rows: list[MemberRow], events: list[bulk.OutboxRecord]) -> None:
        if not self._staged:
            await imports_repo.stage(self._uow)
            self._staged = True
        await imports_repo.copy_members(self._uow, records=[bulk.member_values(r) for r in rows])
        await imports_repo.copy_outbox(self._uow, records=events)

    async def drain(self) -> None:
        """Wait for the write under way, if any (a unique violation marks the import refused)."""
        task, self._task = self._task, None
        if task is None:
            return
        try:
            await task
        except asyncpg.UniqueViolationError:
            self.refused = True

    async def abandon(self) -> None:
        """Stop a write under way (the import failed otherwise); the transaction is then rolled back."""
        task, self._task = self._task, None
        if task is not None and not task.done():
            task.cancel()
        if task is not None:
            with contextlib.suppress(BaseException):
                await task


async def _import(*, deps: RegistryDeps, principal: Principal, tenant: str, import_id: str, sheet: Sheet) -> None:
    today = china_date(deps.clock())
    total = len(sheet.rows)
    id_column = sheet.column("id_number")
    errors: list[RowError] = imports.duplicates(
        ((r.row, str(r.fields["id_number"]).strip().upper()) for r in sheet.rows if r.fields["id_number"]),
        column=id_column,
    )
    traceparent = telemetry.current_traceparent()
    # Every row that passed, by row number and blind index: to name the refused ones if the unique key says no.
    passed: list[tuple[int, bytes]] = []
    async with deps.db.unit_of_work(tenant=tenant) as uow:
        writer = _Writer(uow)
        try:
            for start in range(0, total, CHUNK):
                fresh: list[_Checked] = []
                for i, row in enumerate(sheet.rows[start:start + CHUNK]):
                    if i % YIELD_EVERY == 0:
                        await asyncio.sleep(0)
                    try:
                        member = members.validate(_member_input(row), today=today)
                    except InvalidArgument as exc:
                        errors += imports.violation_errors(sheet, row, exc.violations)
                        continue
                    if row.errors:
                        errors += row.errors
                        continue
                    fresh.append(_Checked(row, member, deps.blind_index.digest(member.id_number,
                                                                               purpose="id_number")))
                valid = await _check_in_province(deps, tenant=tenant, import_id=import_id, sheet=sheet, fresh=fresh,
                                                 processed=min(start + CHUNK, total), errors=errors)
                passed += ((c.row.row, c.bidx) for c in valid)
                if errors or writer.refused or not valid:
                    continue  # nothing of this file will be imported: validate on, to list every error
                now = deps.clock()
                rows = bulk.member_rows([c.member for c in valid], bidx=[c.bidx for c in valid], tenant=tenant,
                                        cipher=deps.cipher, now=now)
                await asyncio.sleep(0)
                events = bulk.registration_events(rows, tenant=tenant, cipher=deps.cipher, now=now,
                                                  traceparent=traceparent)
                await writer.submit(rows, events)
            await writer.drain()
        except BaseException:
            await writer.abandon()
            raise
        if not errors and not writer.refused:
            await record_act(uow, principal, service=SERVICE, action="member.import", object_type="member_import",
                             object_id=import_id, reason=f"{len(passed)} rows")
            if not await imports_repo.finish(uow, import_id=import_id, state=ImportState.SUCCEEDED,
                                             processed_rows=total, imported_rows=len(passed)):
                return  # failed meanwhile as interrupted: roll back, so that what it says stays true
            await uow.commit()
            # The outbox rows went in by COPY, not through add_event: say so, or the relay waits for its next poll.
            deps.db.outbox_committed()
            return
    # Leaving the block rolled back whatever was written.
    if writer.refused and not errors:
        async with deps.db.unit_of_work(tenant=tenant) as uow:
            here = await imports_repo.existing_bidx(uow, bidx=[b for _, b in passed])
        errors = [RowError(number, id_column, imports.IN_COUNTY) for number, b in passed if b in here]
        errors = errors or [RowError(0, "", "导入期间本县名册发生变化，请重新导入")]
    await _settle_failed(deps, tenant=tenant, import_id=import_id, sheet=sheet, total=total, errors=errors)


async def _check_in_province(deps: RegistryDeps, *, tenant: str, import_id: str, sheet: Sheet, fresh: list[_Checked],
                             processed: int, errors: list[RowError]) -> list[_Checked]:
    """One short transaction per chunk: set-based look-ups of the chunk's people and branches, and the progress.

    The progress is written after the chunk's errors are known: once every row is processed, an error count of
    zero means the members are being written, and the console may say so (never before it is true).
    """
    async with deps.db.unit_of_work(tenant=tenant) as uow:
        here: set[bytes] = set()
        elsewhere: set[bytes] = set()
        known: set[str] = set()
        if fresh:
            bidx = [c.bidx for c in fresh]
            here = await imports_repo.existing_bidx(uow, bidx=bidx)
            elsewhere = await imports_repo.registered_elsewhere(uow, bidx=bidx)
            branches = sorted({c.member.home_branch_id for c in fresh if c.member.home_branch_id})
            known = await imports_repo.known_orgs(uow, org_ids=branches) if branches else set()
        passed: list[_Checked] = []
        for c in fresh:
            found: list[RowError] = []
            if c.bidx in here:
                found.append(RowError(c.row.row, sheet.column("id_number"), imports.IN_COUNTY))
            elif c.bidx in elsewhere:
                found.append(RowError(c.row.row, sheet.column("id_number"), imports.ELSEWHERE))
            if c.member.home_branch_id and c.member.home_branch_id not in known:
                found.append(RowError(c.row.row, sheet.column("home_branch_id"), imports.UNKNOWN_BRANCH))
            if found:
                errors += found
            else:
                passed.append(c)
        await imports_repo.set_progress(uow, import_id=import_id, processed_rows=processed, error_count=len(errors))
        await uow.commit()
    return passed


async def _settle_failed(deps: RegistryDeps, *, tenant: str, import_id: str, sheet: Sheet | None, total: int,
                         errors: list[RowError]) -> None:
    listed, truncated = imports.capped(imports.ordered(errors, sheet=sheet))
    async with deps.db.unit_of_work(tenant=tenant) as uow:
        await imports_repo.finish(uow, import_id=import_id, state=ImportState.FAILED, processed_rows=total,
                                  errors=listed, error_count=len(errors), errors_truncated=truncated)
        await uow.commit()

