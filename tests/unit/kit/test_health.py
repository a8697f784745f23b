"""Readiness: probes drive gRPC health, and a dependency's going and coming back is logged once each."""

from __future__ import annotations

import logging

import grpc
from grpc_health.v1 import health_pb2, health_pb2_grpc
from prometheus_client import CollectorRegistry

from jinqiao.kit import grpcserver, health
from jinqiao.kit.auth import TokenVerifier, generate_signing_keypair

SERVICE = "jinqiao.test.v1.TestService"


class Switch:
    """A check whose answer the test sets."""

    def __init__(self) -> None:
        self.up = True
        self.calls = 0

    async def __call__(self) -> bool:
        self.calls += 1
        return self.up


class Collect(logging.Handler):
    """The records of one logger (the suite runs without pytest's logging plugin)."""

    def __init__(self) -> None:
        super().__init__(logging.DEBUG)
        self.records: list[logging.LogRecord] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.records.append(record)


async def test_a_dependency_going_and_coming_back_is_logged_once_each_and_told_to_the_listener():
    db, nats = Switch(), Switch()
    told: list[dict[str, bool]] = []

    async def listener(state):
        told.append(dict(state))

    readiness = health.Readiness(service="t", checks={health.POSTGRESQL: db, health.NATS: nats}, listener=listener,
                                 registry=CollectorRegistry())
    logs = Collect()
    logger = logging.getLogger("jinqiao.health")
    logger.addHandler(logs)
    previous = logger.level
    logger.setLevel(logging.DEBUG)
    try:
        assert await readiness.probe() == {"postgresql": True, "nats": True} and readiness.ready
        db.up = False
        for _ in range(3):
            assert await readiness.probe() == {"postgresql": False, "nats": True}
        assert not readiness.ready and readiness.away() == ["postgresql"]
        db.up = True
        for _ in range(3):
            await readiness.probe()
    finally:
        logger.removeHandler(logs)
        logger.setLevel(previous)
    assert [(r.levelno, r.args[1] if r.args else None) for r in logs.records] == [
        (logging.WARNING, "postgresql"), (logging.INFO, "postgresql")]
    assert len(told) == 7 and told[1] == {"postgresql": False, "nats": True} and told[-1]["postgresql"]
    assert db.calls == nats.calls == 7


async def test_a_dependency_away_at_the_first_probe_is_logged_without_a_recovery_line_before():
    db = Switch()
    db.up = False
    readiness = health.Readiness(service="t", checks={health.POSTGRESQL: db}, registry=CollectorRegistry())
    logs = Collect()
    logging.getLogger("jinqiao.health").addHandler(logs)
    try:
        await readiness.probe()
        await readiness.probe()
    finally:
        logging.getLogger("jinqiao.health").removeHandler(logs)
    assert [r.levelno for r in logs.records] == [logging.WARNING]


async def test_the_dependency_names_and_a_failing_check_count_as_away():
    assert health.health_name(health.POSTGRESQL) == "jinqiao.dependency.postgresql"
    assert health.health_name(health.NATS) == "jinqiao.dependency.nats"

    class Closed:
        @property
        def config(self):
            raise RuntimeError("not connected")

    assert await health.broker_check(Closed())() is False


async def test_grpc_health_reports_overall_and_each_dependency_while_the_service_name_stays_serving():
    _, public = generate_signing_keypair()
    app = await grpcserver.start_server(
        verifier=TokenVerifier(public_key_pem=public, issuer="jinqiao", audience="jinqiao"), service_names=[SERVICE],
        register=[], host="127.0.0.1", port=0, service="health-test")
    try:
        async with grpc.aio.insecure_channel(f"127.0.0.1:{app.port}") as channel:
            stub = health_pb2_grpc.HealthStub(channel)

            async def status(name: str) -> int:
                return (await stub.Check(health_pb2.HealthCheckRequest(service=name), timeout=5)).status

            serving, not_serving = health_pb2.HealthCheckResponse.SERVING, health_pb2.HealthCheckResponse.NOT_SERVING
            await app.report_dependencies({"postgresql": True, "nats": True})
            assert [await status(n) for n in ("", "jinqiao.dependency.postgresql", "jinqiao.dependency.nats",
                                              SERVICE)] == [serving] * 4
            await app.report_dependencies({"postgresql": False, "nats": True})
            assert [await status(n) for n in ("", "jinqiao.dependency.postgresql", "jinqiao.dependency.nats",
                                              SERVICE)] == [not_serving, not_serving, serving, serving]
            await app.report_dependencies({"postgresql": True, "nats": False})
            assert await status("") == not_serving and await status("jinqiao.dependency.nats") == not_serving
            await app.report_dependencies({"postgresql": True, "nats": True})
            assert await status("") == serving
    finally:
        await app.stop(0)
