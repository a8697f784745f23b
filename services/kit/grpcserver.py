"""gRPC server bootstrap: health, reflection, graceful stop, TLS, and the interceptor chain every service uses."""

from __future__ import annotations

import asyncio
import concurrent.futures
import logging
import math
import signal
import time
from collections.abc import AsyncIterator, Callable, Coroutine, Iterable, Mapping, Sequence
from contextlib import asynccontextmanager
from contextvars import ContextVar
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, cast

import grpc
import limits
import structlog
from google.protobuf import any_pb2, duration_pb2
from google.rpc import code_pb2, error_details_pb2, status_pb2
from grpc_health.v1 import health_pb2, health_pb2_grpc
from grpc_health.v1._async import HealthServicer
from grpc_reflection.v1alpha import reflection
from limits.aio.storage import Storage
from limits.aio.strategies import MovingWindowRateLimiter
from limits.storage import storage_from_string

from jinqiao.kit import authz, availability, channels, errors, telemetry
from jinqiao.kit import health as kit_health
from jinqiao.kit.auth import Principal, Role, TokenVerifier, bearer_token
from jinqiao.kit.grpcwrap import Context, wrap_unary
from jinqiao.kit.tenancy import TenantId, current_tenant

if TYPE_CHECKING:
    from jinqiao.kit.settings import KitSettings

log = logging.getLogger("jinqiao.grpc")

_principal: ContextVar[Principal | None] = ContextVar("jinqiao_principal", default=None)

# Health and reflection answer without a token (probes, grpcurl); everything else needs one.
_PUBLIC_PREFIXES = authz.PUBLIC_METHOD_PREFIXES

MAX_MESSAGE_BYTES = channels.MAX_MESSAGE_BYTES
DEFAULT_CLIENT_RATE_LIMIT = "600/minute"

_CODES: dict[type[errors.DomainError], grpc.StatusCode] = {
    errors.InvalidArgument: grpc.StatusCode.INVALID_ARGUMENT,
    errors.NotFound: grpc.StatusCode.NOT_FOUND,
    errors.AlreadyExists: grpc.StatusCode.ALREADY_EXISTS,
    errors.FailedPrecondition: grpc.StatusCode.FAILED_PRECONDITION,
    errors.Unauthenticated: grpc.StatusCode.UNAUTHENTICATED,
    errors.PermissionDenied: grpc.StatusCode.PERMISSION_DENIED,
}


def current_principal() -> Principal:
    """The verified caller of the RPC being served."""
    principal = _principal.get()
    if principal is None:
        raise errors.Unauthenticated("缺少身份凭证")
    return principal


def code_for(exc: errors.DomainError) -> grpc.StatusCode:
    """The status code of a domain error (its nearest known base class decides)."""
    for cls in type(exc).__mro__:
        if cls in _CODES:
            return _CODES[cls]
    return grpc.StatusCode.FAILED_PRECONDITION


def status_for(exc: errors.DomainError) -> grpc.Status:
    """The google.rpc.Status (with BadRequest field violations) that represents a domain error."""
    code = code_for(exc)
    details: list[any_pb2.Any] = []
    if isinstance(exc, errors.InvalidArgument):
        bad = error_details_pb2.BadRequest(
            field_violations=[
                error_details_pb2.BadRequest.FieldViolation(field=v.field, description=v.description)
                for v in exc.violations
            ]
        )
        packed = any_pb2.Any()
        packed.Pack(bad)
        details.append(packed)
    status = status_pb2.Status(code=getattr(code_pb2, code.name), message=exc.message, details=details)
    return _RpcStatus(code, exc.message, (("grpc-status-details-bin", status.SerializeToString()),))


def unavailable_status(dependency: str) -> grpc.Status:
    """UNAVAILABLE naming the dependency that is away (ErrorInfo) and when to try again (RetryInfo)."""
    name = availability.NAMES.get(dependency, dependency)
    message = f"{name}暂不可用，请稍后再试"
    info = error_details_pb2.ErrorInfo(reason="DEPENDENCY_UNAVAILABLE", domain="jinqiao",
                                       metadata={"dependency": dependency})
    retry = error_details_pb2.RetryInfo()
    retry.retry_delay.FromSeconds(availability.RETRY_AFTER_SECONDS)
    details = []
    for detail in (info, retry):
        packed = any_pb2.Any()
        packed.Pack(detail)
        details.append(packed)
    status = status_pb2.Status(code=code_pb2.UNAVAILABLE, message=message, details=details)
    return _RpcStatus(grpc.StatusCode.UNAVAILABLE, message, (("grpc-status-details-bin", status.SerializeToString()),))


@dataclass(frozen=True)
class _RpcStatus(grpc.Status):
    code: grpc.StatusCode
    details: str
    trailing_metadata: tuple[tuple[str, bytes], ...]


class ErrorInterceptor(grpc.aio.ServerInterceptor):
    """Maps domain errors to status codes in one place; anything else becomes a bare INTERNAL."""

    async def intercept_service(self, continuation: Any, details: grpc.HandlerCallDetails) -> Any:
        """Wrap the handler."""
        return wrap_unary(await continuation(details), _mapping_errors)


@asynccontextmanager
async def _mapping_errors(_: Any, context: Context) -> AsyncIterator[None]:
    try:
        yield
    except errors.DomainError as exc:
        status = status_for(exc)
        await context.abort(status.code, status.details, trailing_metadata=status.trailing_metadata)
    except (grpc.aio.AbortError, asyncio.CancelledError):
        raise
    except Exception as exc:
        dependency = availability.unavailable_dependency(exc)
        if dependency is None:
            log.exception("unhandled error in RPC")
            await context.abort(grpc.StatusCode.INTERNAL, "服务内部错误 internal error")
        log.warning("dependency unavailable during RPC", extra={"dependency": dependency})
        status = unavailable_status(dependency)
        await context.abort(status.code, status.details, trailing_metadata=status.trailing_metadata)


class ClientRateLimiter:
    """Calls per county system (one service account) in a moving window, over a ``limits`` storage.

    ``async+memory://`` counts in this process (each service limits its own calls); replicas share a store by naming
    one (``async+redis://…``). Keys name the service and the client, so one service's count is never another's.
    """

    def __init__(self, rate: str = DEFAULT_CLIENT_RATE_LIMIT, storage_uri: str = "async+memory://", *,
                 service: str = "") -> None:
        self.rate = rate
        self._item = limits.parse(rate)
        storage = storage_from_string(storage_uri)
        if not isinstance(storage, Storage):
            raise ValueError(f"gRPC client rate limit storage must be asynchronous (async+…://), not {storage_uri}")
        self._limiter = MovingWindowRateLimiter(storage)
        self._service = service

    @classmethod
    def from_settings(cls, settings: KitSettings) -> ClientRateLimiter:
        """Built from ``grpc_client_rate_limit`` and its storage."""
        return cls(settings.grpc_client_rate_limit, settings.grpc_client_rate_limit_storage,
                   service=settings.service_name)

    async def retry_after(self, client: str) -> int | None:
        """Count a call of ``client``; None when it may go ahead, else whole seconds until the window admits one."""
        if await self._limiter.hit(self._item, self._service, client):
            return None
        stats = await self._limiter.get_window_stats(self._item, self._service, client)
        return max(1, math.ceil(stats.reset_time - time.time()))


def exhausted_status(retry_after: int, rate: str) -> grpc.Status:
    """RESOURCE_EXHAUSTED with a google.rpc.RetryInfo detail saying how long to wait, and a zh-CN message."""
    message = f"调用过于频繁（每个客户端限 {rate}），请 {retry_after} 秒后重试"
    packed = any_pb2.Any()
    packed.Pack(error_details_pb2.RetryInfo(retry_delay=duration_pb2.Duration(seconds=retry_after)))
    status = status_pb2.Status(code=code_pb2.RESOURCE_EXHAUSTED, message=message, details=[packed])
    return _RpcStatus(grpc.StatusCode.RESOURCE_EXHAUSTED, message,
                      (("grpc-status-details-bin", status.SerializeToString()),))


class AuthInterceptor(grpc.aio.ServerInterceptor):
    """Verifies the bearer token of every call, holds each county system to its rate limit, refuses a caller with
    no grant for the method (the kit's table, narrowed to a county system's named permissions), and makes its
    principal the call's context; the use case then applies the grant's scope rule."""

    def __init__(self, verifier: TokenVerifier, limiter: ClientRateLimiter | None = None) -> None:
        self._verifier = verifier
        self._limiter = limiter

    async def intercept_service(self, continuation: Any, details: grpc.HandlerCallDetails) -> Any:
        """Wrap the handler unless it is a public probe."""
        handler = await continuation(details)
        if details.method.startswith(_PUBLIC_PREFIXES):
            return handler
        value = dict(details.invocation_metadata or ()).get("authorization")
        authorization = value if isinstance(value, str) else None

        @asynccontextmanager
        async def authenticated(_: Any, context: Context) -> AsyncIterator[None]:
            principal = self._verifier.verify(bearer_token(authorization))
            if self._limiter is not None and principal.role in _RATE_LIMITED:
                wait = await self._limiter.retry_after(principal.user)
                if wait is not None:
                    refused = exhausted_status(wait, self._limiter.rate)
                    await context.abort(refused.code, refused.details, trailing_metadata=refused.trailing_metadata)
            authz.require_method(details.method, principal)
            token = _principal.set(principal)
            tenant_token = current_tenant.set(TenantId(principal.tenant) if principal.tenant else None)
            # Log lines of this call carry who and which county; never what (no PII in logs).
            with structlog.contextvars.bound_contextvars(tenant=principal.tenant, role=principal.role.value):
                try:
                    yield
                finally:
                    current_tenant.reset(tenant_token)
                    _principal.reset(token)

        return wrap_unary(handler, authenticated)


# The roles outside systems call with client credentials: a county system, and a partner bank (its system, or an
# officer — who never comes near the limit by hand).
_RATE_LIMITED = frozenset({Role.COUNTY_SYSTEM, Role.BANK_OFFICER})


@dataclass(frozen=True, slots=True)
class ServerTls:
    """The PEM certificate chain and private key the gRPC port serves TLS with."""

    certificate_chain: bytes
    private_key: bytes

    @classmethod
    def from_settings(cls, settings: KitSettings) -> ServerTls | None:
        """Read both files when both are set; None when neither is (plaintext, the embedded runner's loopback)."""
        cert, key = settings.grpc_tls_cert_file, settings.grpc_tls_key_file
        if cert is None and key is None:
            return None
        if cert is None or key is None:
            raise ValueError("JINQIAO_GRPC_TLS_CERT_FILE and JINQIAO_GRPC_TLS_KEY_FILE are set together")
        return cls(certificate_chain=cert.read_bytes(), private_key=key.read_bytes())


@dataclass(frozen=True, slots=True)
class InternalPort:
    """The second gRPC port, for calls between the platform's own processes: mutual TLS only.

    The process's certificate (JINQIAO_GRPC_TLS_CERT_FILE / _KEY_FILE) is its identity here, and a caller must
    present one signed by the platform's CA (JINQIAO_GRPC_TLS_CA_FILE). ``port`` 0 binds an ephemeral port (tests);
    in the settings, ``grpc_internal_port`` 0 means no internal port at all (``from_settings`` answers None).
    """

    port: int
    certificate_chain: bytes
    private_key: bytes
    client_ca: bytes

    @classmethod
    def from_settings(cls, settings: KitSettings) -> InternalPort | None:
        """The internal port of ``grpc_internal_port`` with its three files; None when it is 0."""
        if settings.grpc_internal_port == 0:
            return None
        files = {"JINQIAO_GRPC_TLS_CERT_FILE": settings.grpc_tls_cert_file,
                 "JINQIAO_GRPC_TLS_KEY_FILE": settings.grpc_tls_key_file,
                 "JINQIAO_GRPC_TLS_CA_FILE": settings.grpc_tls_ca_file}
        missing = [name for name, path in files.items() if path is None]
        if missing:
            names = ", ".join(missing)
            raise ValueError(f"内部 gRPC 端口（双向 TLS）需要证书、私钥和 CA 文件，缺少 {names} / "
                             f"JINQIAO_GRPC_INTERNAL_PORT needs the certificate, key and CA files; missing {names}")
        cert, key, ca = (path.read_bytes() for path in files.values() if path is not None)
        return cls(port=settings.grpc_internal_port, certificate_chain=cert, private_key=key, client_ca=ca)

    def credentials(self) -> grpc.ServerCredentials:
        """Server credentials that demand a client certificate of the platform's CA."""
        return grpc.ssl_server_credentials([(self.private_key, self.certificate_chain)],
                                           root_certificates=self.client_ca, require_client_auth=True)


# How long an HTTP probe waits for the event loop to answer; a loop busier than this serves no one in time either.
PROBE_TIMEOUT_SECONDS = 5.0


@dataclass
class GrpcApp:
    """A started server, its bound ports and its health servicer."""

    server: grpc.aio.Server
    health: HealthServicer
    port: int
    service_names: tuple[str, ...]
    # The bound mutual-TLS port for the platform's own callers; None when the server has none.
    internal_port: int | None = None

    async def ready(self) -> bool:
        """True while the process as a whole ("") reports SERVING: every dependency up, not shutting down."""
        # Asked as gRPC's own Check answers it; "" is set from the start, so no RPC context is ever consulted.
        reply = await self.health.Check(health_pb2.HealthCheckRequest(service=""), cast(Any, None))
        return bool(reply.status == health_pb2.HealthCheckResponse.SERVING)

    def http_probes(self, *, timeout: float = PROBE_TIMEOUT_SECONDS) -> tuple[Callable[[], bool], Callable[[], bool]]:
        """Liveness and readiness for the HTTP probe server's thread, each answered on this event loop.

        Asked from another thread, each goes through the running loop, so a wedged loop fails both (the process
        then serves nothing) rather than the probe answering for a process that cannot.
        """
        loop = asyncio.get_running_loop()

        async def alive() -> bool:
            return True

        def ask(check: Callable[[], Coroutine[Any, Any, bool]]) -> bool:
            if loop.is_closed():
                return False
            future = asyncio.run_coroutine_threadsafe(check(), loop)
            try:
                return bool(future.result(timeout))
            except (TimeoutError, concurrent.futures.CancelledError):
                future.cancel()
                return False

        return (lambda: ask(alive)), (lambda: ask(self.ready))

    async def serving(self) -> None:
        """Report SERVING for the process and each service."""
        for name in ("", *self.service_names):
            await self.health.set(name, health_pb2.HealthCheckResponse.SERVING)

    async def report_dependencies(self, state: Mapping[str, bool]) -> None:
        """Overall health ("") is SERVING only while every dependency is; each is named too (kit/health.py).

        The service's own names stay SERVING: it keeps answering whatever it can serve without the dependency.
        """
        serving, not_serving = health_pb2.HealthCheckResponse.SERVING, health_pb2.HealthCheckResponse.NOT_SERVING
        for dependency, up in state.items():
            await self.health.set(kit_health.health_name(dependency), serving if up else not_serving)
        await self.health.set("", serving if all(state.values()) else not_serving)

    async def stop(self, grace: float = 5.0) -> None:
        """Refuse new calls, let in-flight ones finish, then stop."""
        await self.health.enter_graceful_shutdown()
        await self.server.stop(grace)


async def start_server(
    *,
    verifier: TokenVerifier,
    service_names: Sequence[str],
    register: Iterable[Callable[[grpc.aio.Server], None]],
    host: str,
    port: int,
    service: str,
    client_limiter: ClientRateLimiter | None = None,
    tls: ServerTls | None = None,
    internal: InternalPort | None = None,
) -> GrpcApp:
    """Build, bind and start a server with the standard interceptor chain (outermost first).

    County systems are limited by ``client_limiter`` (the default rate when none is given); with ``tls`` the port
    speaks TLS only. With ``internal`` the same server also listens on ``host:internal.port`` with mutual TLS; a
    bearer token is still required there (defence in depth: a stolen certificate alone calls nothing).
    """
    limiter = client_limiter or ClientRateLimiter(service=service)
    server = grpc.aio.server(
        interceptors=[
            *telemetry.server_interceptors(),
            ErrorInterceptor(),
            AuthInterceptor(verifier, limiter),
        ],
        # 台账 imports arrive as one message of up to 20 MB (gRPC's default limit is 4 MB).
        options=[("grpc.so_reuseport", 0), ("grpc.max_receive_message_length", MAX_MESSAGE_BYTES)],
    )
    for add in register:
        add(server)
    health = HealthServicer()
    health_pb2_grpc.add_HealthServicer_to_server(health, server)
    reflection.enable_server_reflection([*service_names, reflection.SERVICE_NAME, "grpc.health.v1.Health"], server)
    address = f"{host}:{port}"
    if tls is None:
        bound = server.add_insecure_port(address)
    else:
        credentials = grpc.ssl_server_credentials([(tls.private_key, tls.certificate_chain)])
        bound = server.add_secure_port(address, credentials)
    if bound == 0:
        raise OSError(f"端口 {host}:{port} 已被占用 / cannot bind gRPC port {host}:{port}")
    internal_bound: int | None = None
    if internal is not None:
        internal_bound = server.add_secure_port(f"{host}:{internal.port}", internal.credentials())
        if internal_bound == 0:
            raise OSError(f"内部端口 {host}:{internal.port} 已被占用 / cannot bind internal gRPC port "
                          f"{host}:{internal.port}")
    await server.start()
    app = GrpcApp(server=server, health=health, port=bound, service_names=tuple(service_names),
                  internal_port=internal_bound)
    await app.serving()
    return app


async def wait_for_shutdown_signal() -> None:
    """Return on SIGTERM or SIGINT."""
    loop = asyncio.get_running_loop()
    stop = asyncio.Event()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, stop.set)
    await stop.wait()
