"""``Idempotency-Key`` on every POST, PUT, PATCH and DELETE: a repeat gets the first answer, never a second act.

One pure ASGI middleware, inside the edge (gateway/security.py: the token is checked and the body bounded before
this reads it). The gateway's database keeps, per (the caller's county — its scope when it has none —, the caller,
the key), the request's method, path and body SHA-256 and, once answered, the status, the headers worth keeping
(Content-Type, Location) and the body:

- same key, same request, answered → the stored answer again, with ``Idempotency-Replayed: true``;
- same key, another request (body, path or method) → 422 幂等键已用于另一请求;
- same key while the first is still being answered → 409 with ``Retry-After: 1``;
- only answers that acted (2xx, 3xx) are kept. A 5xx is not (the key is released: retry with it), and neither is a
  4xx refusal: it changed nothing, so running the request again is safe, and the console keeps one key per open
  form, resending it after the user corrects a field the first answer named.

Rows expire after 24 hours: an expired row counts as absent, and the middleware prunes expired rows of every county
opportunistically, at most once every ``PRUNE_EVERY_SECONDS``, in the background of a request that brings a key.
The login routes (``/api/v1/auth/…``) accept the header and ignore it: each call must issue fresh tokens, and a
token kept here to replay would be a credential at rest.
"""

from __future__ import annotations

import asyncio
import hashlib
import json
import logging
import re
import uuid
from collections.abc import Awaitable, Callable, MutableMapping
from dataclasses import dataclass
from typing import Annotated, Any

from fastapi import Depends, Request
from starlette.responses import Response

from jinqiao.gateway import problems
from jinqiao.kit.auth import Principal, bearer_token
from jinqiao.kit.db import Database
from jinqiao.kit.errors import DomainError

Scope = MutableMapping[str, Any]
Message = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]
ASGIApp = Callable[[Scope, Receive, Send], Awaitable[None]]

HEADER = "Idempotency-Key"
REPLAYED_HEADER = "Idempotency-Replayed"
MAX_LENGTH = 100
UNSAFE_METHODS = frozenset({"POST", "PUT", "PATCH", "DELETE"})
# The login routes: accepted and ignored (see the module).
IGNORED_PREFIX = "/api/v1/auth/"
TTL_SECONDS = 24 * 3600
# A first request not answered in this time is taken as lost (the gateway stopped under it): a repeat runs again.
# Well above the gRPC deadline (10 s by default) and an import upload.
IN_FLIGHT_LEASE_SECONDS = 120
PRUNE_EVERY_SECONDS = 600
# How long an answer waits for its key to be kept or released before it is sent anyway (settling goes on behind).
SETTLE_WAIT_SECONDS = 3.0
PRUNE_BATCH = 1000
# Answers below this acted and are kept; a refusal (4xx) or a failure (5xx) changed nothing and is run again.
KEPT_BELOW = 400
KEPT_HEADERS = (b"content-type", b"location")

DESCRIPTION = (
    "幂等键：重试同一请求时带上同一个值（最多 100 个可打印 ASCII 字符，建议 UUID），"
    "24 小时内重复的请求返回第一次的成功结果（响应头 Idempotency-Replayed: true），不会重复执行；"
    "同一键用于不同请求答 422，第一次请求仍在处理时答 409（Retry-After）；"
    "被拒绝（4xx）或失败（5xx）的请求不保存，可用同一键重试。 / Idempotency key: repeat a request with "
    "the same value (≤ 100 printable ASCII characters, e.g. a UUID) and within 24 h it gets the first successful "
    "answer again instead of acting twice; refusals and failures are not kept."
)
AUTH_DESCRIPTION = (
    "接受但忽略：每次调用签发新令牌，令牌不保存、不重放。 / Accepted and ignored: every call issues new tokens, "
    "which are never stored for replay."
)

_VALID = re.compile(rf"[\x20-\x7e]{{1,{MAX_LENGTH}}}")

log = logging.getLogger("jinqiao.gateway.idempotency")


def valid_key(key: str) -> bool:
    """True for 1–100 printable ASCII characters."""
    return _VALID.fullmatch(key) is not None


def request_hash(body: bytes) -> bytes:
    """The SHA-256 of a request body."""
    return hashlib.sha256(body).digest()


def request_id(request: Request) -> str:
    """The request id a route passes to a service that de-duplicates: the caller's key, or a fresh one.

    A fresh id when the caller sent no key still makes the gateway's own retries of the call safe (kit/channels.py).
    """
    key = request.headers.get(HEADER, "")
    return key if key and valid_key(key) else f"gw-{uuid.uuid4().hex}"


RequestIdDep = Annotated[str, Depends(request_id)]


@dataclass(frozen=True, slots=True)
class Stored:
    """A row of ``idempotency_keys`` as the middleware needs it."""

    method: str
    path: str
    request_hash: bytes
    status: int | None
    headers: dict[str, str]
    body: bytes | None
    expired: bool
    lease_over: bool


class Store:
    """The ``idempotency_keys`` table, one short transaction per step (none is held across the call)."""

    def __init__(self, db: Database) -> None:
        self.db = db

    async def claim(self, *, scope: str, subject: str, key: str, method: str, path: str,
                    digest: bytes) -> tuple[uuid.UUID | None, Stored | None]:
        """Claim the key for this request; (claim, None) when it is ours to run, (None, row) when it is taken."""
        claim = uuid.uuid4()
        async with self.db.unit_of_work_in_scope(scope=scope) as uow:
            inserted = await uow.conn.fetchval(
                "INSERT INTO idempotency_keys (tenant_id, subject, idempotency_key, method, path, request_hash,"
                " claim, locked_until) VALUES ($1, $2, $3, $4, $5, $6, $7, now() + make_interval(secs => $8))"
                " ON CONFLICT DO NOTHING RETURNING true",
                uow.tenant, subject, key, method, path, digest, claim, IN_FLIGHT_LEASE_SECONDS)
            if inserted:
                await uow.commit()
                return claim, None
            row = await uow.conn.fetchrow(
                "SELECT method, path, request_hash, status, response_headers, response_body,"
                " created_at < now() - make_interval(secs => $3) AS expired,"
                " status IS NULL AND locked_until < now() AS lease_over"
                " FROM idempotency_keys WHERE tenant_id = $1 AND subject = $4 AND idempotency_key = $2"
                " FOR UPDATE",
                uow.tenant, key, TTL_SECONDS, subject)
            if row is None:  # released between the insert and the read: the caller may simply retry
                await uow.commit()
                return None, _IN_FLIGHT
            stored = Stored(method=row["method"], path=row["path"], request_hash=bytes(row["request_hash"]),
                            status=row["status"], headers=json.loads(row["response_headers"]),
                            body=None if row["response_body"] is None else bytes(row["response_body"]),
                            expired=row["expired"], lease_over=row["lease_over"])
            same = (stored.method, stored.path, stored.request_hash) == (method, path, digest)
            if stored.expired or (same and stored.lease_over):
                # An expired key is a new key; a first request whose gateway went away is run again.
                await uow.conn.execute(
                    "UPDATE idempotency_keys SET method = $4, path = $5, request_hash = $6, claim = $7,"
                    " locked_until = now() + make_interval(secs => $8), status = NULL, response_headers = '{}',"
                    " response_body = NULL, created_at = now()"
                    " WHERE tenant_id = $1 AND subject = $2 AND idempotency_key = $3",
                    uow.tenant, subject, key, method, path, digest, claim, IN_FLIGHT_LEASE_SECONDS)
                await uow.commit()
                return claim, None
            await uow.commit()
            return None, stored

    async def finish(self, *, scope: str, subject: str, key: str, claim: uuid.UUID, status: int,
                     headers: dict[str, str], body: bytes) -> None:
        """Keep the answer of the claimed request."""
        async with self.db.unit_of_work_in_scope(scope=scope) as uow:
            await uow.conn.execute(
                "UPDATE idempotency_keys SET status = $5, response_headers = $6, response_body = $7,"
                " locked_until = NULL WHERE tenant_id = $1 AND subject = $2 AND idempotency_key = $3 AND claim = $4",
                uow.tenant, subject, key, claim, status, json.dumps(headers), body)
            await uow.commit()

    async def release(self, *, scope: str, subject: str, key: str, claim: uuid.UUID) -> None:
        """Forget the claim (the answer was not kept): the caller may retry with the same key."""
        async with self.db.unit_of_work_in_scope(scope=scope) as uow:
            await uow.conn.execute(
                "DELETE FROM idempotency_keys WHERE tenant_id = $1 AND subject = $2 AND idempotency_key = $3"
                " AND claim = $4", uow.tenant, subject, key, claim)
            await uow.commit()


_IN_FLIGHT = Stored(method="", path="", request_hash=b"", status=None, headers={}, body=None, expired=False,
                    lease_over=False)


async def prune(db: Database, *, batch: int = PRUNE_BATCH, max_batches: int = 100) -> int:
    """Delete rows older than 24 hours in every county (a SECURITY DEFINER function); how many went."""
    removed = 0
    for _ in range(max_batches):
        async with db.pool.acquire() as conn:
            gone = int(await conn.fetchval("SELECT prune_idempotency_keys_all_tenants($1, $2)", TTL_SECONDS, batch))
        removed += gone
        if gone < batch:
            break
    return removed


async def _retry_until_lease(step: Callable[[], Awaitable[None]]) -> int:
    """Retry a settling step with capped back-off until it commits or the in-flight lease is over."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + IN_FLIGHT_LEASE_SECONDS
    delay = 0.5
    while loop.time() < deadline:
        await asyncio.sleep(delay)
        try:
            await step()
            return 1
        except Exception:
            delay = min(delay * 2, 5.0)
    log.warning("idempotency key left claimed until its lease ends: the database stayed away")
    return 0


def _header(scope: Scope, name: bytes) -> str | None:
    for key, value in scope.get("headers", ()):
        if key.lower() == name:
            return str(value.decode("latin-1"))
    return None


def _key_problem() -> Response:
    return problems.problem(400, "幂等键无效", f"{HEADER} 须为 1–{MAX_LENGTH} 个可打印 ASCII 字符",
                            [{"field": HEADER, "detail": f"须为 1–{MAX_LENGTH} 个可打印 ASCII 字符（如 UUID）"}])


def _conflict_problem() -> Response:
    return problems.problem(422, "幂等键已用于另一请求",
                            "同一幂等键已用于方法、路径或内容不同的请求；新的请求请使用新的幂等键",
                            [{"field": HEADER, "detail": "已用于另一请求"}])


def _in_flight_problem() -> Response:
    return problems.problem(409, "请求正在处理中", "使用同一幂等键的第一次请求尚未完成，请稍后重试",
                            headers={"Retry-After": "1"})


def _replay(stored: Stored) -> Response:
    headers = {name: value for name, value in stored.headers.items() if name != "content-type"}
    headers[REPLAYED_HEADER] = "true"
    return Response(stored.body or b"", status_code=stored.status or 200, headers=headers,
                    media_type=stored.headers.get("content-type"))


class IdempotencyMiddleware:
    """Keeps and replays answers by ``Idempotency-Key`` (see the module)."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app
        self._next_prune = 0.0
        self._background: set[asyncio.Future[Any]] = set()

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or scope.get("method") not in UNSAFE_METHODS:
            await self.app(scope, receive, send)
            return
        key = _header(scope, HEADER.lower().encode())
        path: str = scope.get("path", "")
        # An empty value is no key (the header's documented default).
        if not key or path.startswith(IGNORED_PREFIX):
            await self.app(scope, receive, send)
            return
        if not valid_key(key):
            await _key_problem()(scope, receive, send)
            return
        gateway = getattr(getattr(scope.get("app"), "state", None), "gateway", None)
        principal = self._principal(scope, gateway)
        if gateway is None or principal is None:
            # No caller: the route refuses the request itself, and nothing is acted on to de-duplicate.
            await self.app(scope, receive, send)
            return
        # The edge's receive bounds the body while it is read here (a too large one raises through this frame).
        body, replay_receive = await _read_body(receive)
        query = scope.get("query_string", b"").decode("latin-1")
        target = f"{path}?{query}" if query else path
        owner = principal.tenant or principal.scope
        store = Store(gateway.db)
        ids = {"scope": owner, "subject": principal.user, "key": key}
        claim, stored = await store.claim(**ids, method=scope["method"], path=target, digest=request_hash(body))
        self._maybe_prune(gateway.db)
        if claim is None:
            assert stored is not None
            if stored.method and (stored.method, stored.path, stored.request_hash) != (
                    scope["method"], target, request_hash(body)):
                answer = _conflict_problem()
            elif stored.status is None:
                answer = _in_flight_problem()
            else:
                answer = _replay(stored)
            await answer(scope, receive, send)
            return
        await self._run_and_keep(scope, replay_receive, send, store=store, claim=claim, ids=ids)

    async def _run_and_keep(self, scope: Scope, receive: Receive, send: Send, *, store: Store, claim: uuid.UUID,
                            ids: dict[str, str]) -> None:
        status = 0
        headers: dict[str, str] = {}
        chunks: list[bytes] = []
        # The answer's last body message is held back until the key is settled: a client that has the whole answer
        # and repeats at once must find it kept (or released), never still in flight (409) or claimed by the
        # refused body (422).
        last: Message | None = None

        async def capture(message: Message) -> None:
            nonlocal status, last
            if message["type"] == "http.response.start":
                status = int(message["status"])
                for name, value in message.get("headers", ()):
                    if name.lower() in KEPT_HEADERS:
                        headers[name.lower().decode("latin-1")] = value.decode("latin-1")
            elif message["type"] == "http.response.body":
                chunks.append(message.get("body", b""))
                if not message.get("more_body", False):
                    last = message
                    return
            await send(message)

        acted = False
        try:
            await self.app(scope, receive, capture)
            acted = 200 <= status < KEPT_BELOW
        finally:
            if acted:
                await self._settle(lambda: store.finish(**ids, claim=claim, status=status, headers=headers,
                                                        body=b"".join(chunks)))
            else:
                await self._settle(lambda: store.release(**ids, claim=claim))
            if last is not None:
                await send(last)

    async def _settle(self, step: Callable[[], Awaitable[None]]) -> None:
        """Keep or release the answer now; if the database is away, keep trying in the background until the lease
        ends, so a repeat is neither refused as in flight for the whole lease nor run twice after an act."""
        first = asyncio.ensure_future(step())
        try:
            # Shielded: a caller that hung up must not leave the key claimed until the lease runs out. Bounded: the
            # answer waits for the settling (see _run_and_keep), but not for a database that hangs.
            await asyncio.wait_for(asyncio.shield(first), timeout=SETTLE_WAIT_SECONDS)
        except TimeoutError:
            self._background.add(first)
            first.add_done_callback(lambda done: self._settled_late(done, step))
        except Exception:
            self._retry_in_background(step)

    def _settled_late(self, done: asyncio.Future[None], step: Callable[[], Awaitable[None]]) -> None:
        self._background.discard(done)
        if not done.cancelled() and done.exception() is not None:
            self._retry_in_background(step)

    def _retry_in_background(self, step: Callable[[], Awaitable[None]]) -> None:
        task = asyncio.create_task(_retry_until_lease(step))
        self._background.add(task)
        task.add_done_callback(self._background.discard)

    @staticmethod
    def _principal(scope: Scope, gateway: Any) -> Principal | None:
        if gateway is None:
            return None
        try:
            principal: Principal = gateway.verifier.verify(bearer_token(_header(scope, b"authorization")))
        except DomainError:
            return None
        return principal

    def _maybe_prune(self, db: Database) -> None:
        now = asyncio.get_running_loop().time()
        if now < self._next_prune:
            return
        self._next_prune = now + PRUNE_EVERY_SECONDS
        task = asyncio.create_task(prune(db))
        self._background.add(task)
        task.add_done_callback(self._pruned)

    def _pruned(self, task: asyncio.Task[int]) -> None:
        self._background.discard(task)
        if not task.cancelled() and task.exception() is not None:
            log.warning("pruning expired idempotency keys failed: %s", task.exception())


async def _read_body(receive: Receive) -> tuple[bytes, Receive]:
    """The whole body, and a receive that hands it to the app once, then passes on (a disconnect)."""
    chunks: list[bytes] = []
    while True:
        message = await receive()
        if message["type"] != "http.request":
            break
        chunks.append(message.get("body", b""))
        if not message.get("more_body", False):
            break
    body = b"".join(chunks)
    given = False

    async def replay() -> Message:
        nonlocal given
        if not given:
            given = True
            return {"type": "http.request", "body": body, "more_body": False}
        return await receive()

    return body, replay


def document(openapi: dict[str, Any]) -> dict[str, Any]:
    """Put the ``Idempotency-Key`` header on every unsafe operation of an OpenAPI document (in place)."""
    for path, operations in openapi.get("paths", {}).items():
        for method, operation in operations.items():
            if method.upper() not in UNSAFE_METHODS:
                continue
            parameters = operation.setdefault("parameters", [])
            parameters[:] = [p for p in parameters if not (p.get("in") == "header"
                                                           and p.get("name", "").lower() == HEADER.lower())]
            parameters.append({
                "in": "header", "name": HEADER, "required": False,
                "description": AUTH_DESCRIPTION if path.startswith(IGNORED_PREFIX) else DESCRIPTION,
                "schema": {"type": "string", "maxLength": MAX_LENGTH, "title": HEADER, "default": ""},
            })
    return openapi
