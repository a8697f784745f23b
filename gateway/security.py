"""The HTTP edge: security headers, no caching of personal data, bounded bodies, and the token checked first.

One pure ASGI middleware, outermost in the gateway, so every response passes it (problem+json errors, the
console's static files, the API docs):

- Security headers on every response: a same-origin Content-Security-Policy (the console and the API docs load
  nothing from elsewhere and run no inline script), no framing, no MIME sniffing, no Referer.
- ``Cache-Control: no-store`` on every ``/api/v1/…`` response: tenants' data, ``/me`` and the token response must
  not stay in a browser's or a proxy's cache. Static console files may be cached.
- A request to a route that needs a token is refused (401) before a byte of its body is read when it carries no
  valid bearer token; the route's own ``authorize`` dependency still decides the permission.
- A body size limit per route, enforced while the body is read: a declared ``Content-Length`` above the limit is
  answered 413 at once; otherwise the ``http.request`` messages are counted and the request is answered 413 as
  soon as they pass the limit, whatever the route was doing with them.
"""

from __future__ import annotations

import json
import re
from collections.abc import Awaitable, Callable, MutableMapping
from typing import Any

from jinqiao.gateway import problems
from jinqiao.gateway.deps import ROUTES
from jinqiao.kit.auth import bearer_token
from jinqiao.kit.errors import DomainError

Scope = MutableMapping[str, Any]
Message = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]
ASGIApp = Callable[[Scope, Receive, Send], Awaitable[None]]

MIB = 1024 * 1024
# JSON routes carry a few kilobytes; 1 MiB is generous.
DEFAULT_BODY_LIMIT = 1 * MIB
# The import upload route: the registry's own limit (from its template RPC, 20 MB today) is checked by the route
# with its exact figure; this is only the outer bound, kept above it so that message is the one callers see.
IMPORT_BODY_LIMIT = 32 * MIB
# A ticket's attachment: the desk takes 5 MiB; the route answers its own 413 up to this bound.
ATTACHMENT_BODY_LIMIT = 5 * MIB + 64 * 1024
BODY_LIMITS: dict[str, int] = {"POST /api/v1/tenants/{tenant}/imports": IMPORT_BODY_LIMIT,
                               "POST /api/v1/tenants/{tenant}/tickets/{ticket_id}/attachments": ATTACHMENT_BODY_LIMIT,
                               "POST /api/v1/tenants/{tenant}/loans/{loan_id}/attachments": ATTACHMENT_BODY_LIMIT}

CONTENT_SECURITY_POLICY = (
    "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data: blob:; media-src 'self' blob:; "
    "connect-src 'self'; worker-src 'self' blob:; "
    "font-src 'self'; object-src 'none'; base-uri 'none'; form-action 'self'; frame-ancestors 'none'"
)
SECURITY_HEADERS: tuple[tuple[bytes, bytes], ...] = (
    (b"content-security-policy", CONTENT_SECURITY_POLICY.encode()),
    (b"x-frame-options", b"DENY"),
    (b"x-content-type-options", b"nosniff"),
    (b"referrer-policy", b"no-referrer"),
)
NO_STORE_PREFIX = "/api/v1/"


def _compile(template: str) -> re.Pattern[str]:
    """A route template (``/a/{x}/b.{fmt}``) as a full-match pattern of one path."""
    parts = re.split(r"(\{[^}]+\})", template)
    return re.compile("".join("[^/]+" if p.startswith("{") else re.escape(p) for p in parts))


_TABLE: tuple[tuple[str, re.Pattern[str], str], ...] = tuple(
    (key.split(" ", 1)[0], _compile(key.split(" ", 1)[1]), key) for key in ROUTES
)


def route_of(method: str, path: str) -> str | None:
    """The ROUTES key (``METHOD template``) a request would be served by, if any."""
    for verb, pattern, key in _TABLE:
        if verb == method and pattern.fullmatch(path):
            return key
    return None


def body_limit(route: str | None) -> int:
    """The largest body the route accepts."""
    return BODY_LIMITS.get(route or "", DEFAULT_BODY_LIMIT)


def describe(limit: int) -> str:
    """A size for a person: ``1 MB``, ``512 KB``."""
    if limit >= MIB:
        return f"{limit / MIB:g} MB"
    return f"{max(1, limit // 1024)} KB"


def too_large(limit: int) -> tuple[int, list[tuple[bytes, bytes]], bytes]:
    """The 413 problem+json naming the limit, as status, headers and body."""
    body = {"type": "about:blank", "title": "请求内容太大", "status": 413,
            "detail": f"请求内容不能超过 {describe(limit)}"}
    return _encoded(413, body)


def _encoded(status: int, body: dict[str, Any],
             extra: tuple[tuple[bytes, bytes], ...] = ()) -> tuple[int, list[tuple[bytes, bytes]], bytes]:
    payload = json.dumps(body, ensure_ascii=False).encode()
    headers = [(b"content-type", problems.MEDIA_TYPE.encode()), (b"content-length", str(len(payload)).encode()),
               (b"connection", b"close"), *extra]
    return status, headers, payload


class _BodyTooLarge(Exception):
    """Raised inside ``receive`` once the body passes its limit."""


class EdgeMiddleware:
    """Security headers, ``no-store`` on the API, token before body, and the body limit (see the module)."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        path: str = scope.get("path", "")
        no_store = path.startswith(NO_STORE_PREFIX)

        async def send_with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                names = {name.lower() for name, _ in message.get("headers", [])}
                headers = list(message.get("headers", []))
                headers += [h for h in SECURITY_HEADERS if h[0] not in names]
                if no_store:
                    headers = [h for h in headers if h[0].lower() != b"cache-control"]
                    headers.append((b"cache-control", b"no-store"))
                message["headers"] = headers
            await send(message)

        route = route_of(scope.get("method", ""), path)
        refused = self._unauthenticated(scope, route)
        if refused is not None:
            await self._answer(send_with_headers, refused)
            return
        limit = body_limit(route)
        declared = _header(scope, b"content-length")
        if declared is not None and (not declared.isdigit() or int(declared) > limit):
            await self._answer(send_with_headers, too_large(limit))
            return

        received = 0
        exceeded = False
        started = False

        async def counting_receive() -> Message:
            nonlocal received, exceeded
            if exceeded:
                raise _BodyTooLarge
            message = await receive()
            if message["type"] == "http.request":
                received += len(message.get("body", b""))
                if received > limit:
                    exceeded = True
                    raise _BodyTooLarge
            return message

        async def guarded_send(message: Message) -> None:
            nonlocal started
            if exceeded:
                return  # whatever the route answered after its body was cut off, the caller gets the 413
            if message["type"] == "http.response.start":
                started = True
            await send_with_headers(message)

        try:
            await self.app(scope, counting_receive, guarded_send)
        except _BodyTooLarge:
            exceeded = True
        if exceeded and not started:
            await self._answer(send_with_headers, too_large(limit))

    @staticmethod
    def _unauthenticated(scope: Scope, route: str | None) -> tuple[int, list[tuple[bytes, bytes]], bytes] | None:
        """The 401 for a route needing a token when the request carries no valid one; None otherwise."""
        if route is None or ROUTES.get(route) is None:
            return None
        app = scope.get("app")
        gateway = getattr(getattr(app, "state", None), "gateway", None)
        if gateway is None:
            return None  # not started: the route's own dependency answers
        try:
            gateway.verifier.verify(bearer_token(_header(scope, b"authorization")))
        except DomainError as exc:
            return _encoded(401, {"type": "about:blank", "title": "未登录或登录已过期", "status": 401,
                                  "detail": exc.message}, ((b"www-authenticate", b"Bearer"),))
        return None

    @staticmethod
    async def _answer(send: Send, response: tuple[int, list[tuple[bytes, bytes]], bytes]) -> None:
        status, headers, body = response
        await send({"type": "http.response.start", "status": status, "headers": headers})
        await send({"type": "http.response.body", "body": body})


def _header(scope: Scope, name: bytes) -> str | None:
    for key, value in scope.get("headers", ()):
        if key.lower() == name:
            return str(value.decode("latin-1"))
    return None
