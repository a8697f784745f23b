"""The metrics port answers Kubernetes' HTTP probes: /healthz, /readyz from gRPC health, /metrics unchanged."""

from __future__ import annotations

import threading
import urllib.error
import urllib.request
from collections.abc import AsyncIterator
from typing import Any

import grpc
import httpx
import pytest
from grpc_health.v1 import health_pb2, health_pb2_grpc

from jinqiao.kit import grpcserver, telemetry
from jinqiao.kit.auth import TokenVerifier, generate_signing_keypair
from jinqiao.kit.process import start_probes
from jinqiao.kit.runtime.ports import free_port
from jinqiao.kit.settings import KitSettings

SERVICE = "jinqiao.insights.v1.InsightsService"


@pytest.fixture
async def app() -> AsyncIterator[grpcserver.GrpcApp]:
    """A started gRPC server with health, no service behind it."""
    _, public = generate_signing_keypair()
    started = await grpcserver.start_server(
        verifier=TokenVerifier(public_key_pem=public, issuer="jinqiao", audience="jinqiao"), service_names=[SERVICE],
        register=[], host="127.0.0.1", port=0, service="probes-test")
    yield started
    await started.stop(0)


@pytest.fixture
async def http(app: grpcserver.GrpcApp) -> AsyncIterator[httpx.AsyncClient]:
    """An HTTP client of the app's probe port, as ``serve`` starts it."""
    probes = start_probes(KitSettings(metrics_port=free_port()), app)
    assert probes is not None
    # Asynchronous on purpose: the probes answer through this event loop, which must stay free meanwhile.
    async with httpx.AsyncClient(base_url=f"http://127.0.0.1:{probes.port}", timeout=10) as client:
        yield client
    probes.stop()


async def test_healthz_answers_200_while_the_process_serves(http: httpx.AsyncClient) -> None:
    """Liveness holds while the process and its event loop answer."""
    assert (await http.get("/healthz")).status_code == 200


async def test_readyz_follows_the_overall_grpc_health(app: grpcserver.GrpcApp, http: httpx.AsyncClient) -> None:
    """Ready while SERVING, 503 while a dependency is away, 200 again once it is back, 503 from shutdown on."""
    assert (await http.get("/readyz")).status_code == 200
    await app.report_dependencies({"postgresql": False, "nats": True})
    assert (await http.get("/readyz")).status_code == 503
    # Liveness does not follow a dependency: restarting the process would not bring the database back.
    assert (await http.get("/healthz")).status_code == 200
    await app.report_dependencies({"postgresql": True, "nats": True})
    assert (await http.get("/readyz")).status_code == 200
    await app.health.enter_graceful_shutdown()
    assert (await http.get("/readyz")).status_code == 503


async def test_metrics_is_still_prometheus_text(app: grpcserver.GrpcApp, http: httpx.AsyncClient) -> None:
    """/metrics serves the process's registry in Prometheus' text format, gRPC counters included."""
    async with grpc.aio.insecure_channel(f"127.0.0.1:{app.port}") as channel:
        stub: Any = health_pb2_grpc.HealthStub(channel)  # the generated stub is untyped for mypy
        await stub.Check(health_pb2.HealthCheckRequest(), timeout=5)
    answer = await http.get("/metrics")
    assert answer.status_code == 200
    assert answer.headers["content-type"].startswith("text/plain")
    assert "# TYPE jinqiao_grpc_server_handled_total counter" in answer.text
    assert 'method="Check"' in answer.text


async def test_an_unknown_path_is_404(http: httpx.AsyncClient) -> None:
    """Only the three paths exist (prometheus_client alone would answer any path with metrics)."""
    assert (await http.get("/")).status_code == 404
    assert (await http.get("/metrics/extra")).status_code == 404


async def test_a_wedged_event_loop_fails_liveness(app: grpcserver.GrpcApp) -> None:
    """A process whose event loop does not turn serves no one: /healthz says so rather than 200 from its thread."""
    live, ready = app.http_probes(timeout=0.2)
    probes = telemetry.start_metrics_server(port=free_port(), live=live, ready=ready)
    assert probes is not None
    codes: list[int] = []
    answered = threading.Event()

    def probe() -> None:
        for path in ("/healthz", "/readyz"):
            try:
                with urllib.request.urlopen(f"http://127.0.0.1:{probes.port}{path}", timeout=10) as reply:
                    codes.append(reply.status)
            except urllib.error.HTTPError as refused:
                codes.append(refused.code)
        answered.set()

    try:
        threading.Thread(target=probe, daemon=True).start()
        # Blocking the loop until the answers arrive: they can only come from the probes' timeout.
        answered.wait(timeout=30)
        assert codes == [503, 503]
    finally:
        probes.stop()
