"""The internal gRPC port speaks mutual TLS only: the platform's certificates in, others out, tokens still due."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from ipaddress import IPv4Address
from pathlib import Path
from typing import Any

import grpc
import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID
from grpc_health.v1 import health_pb2, health_pb2_grpc

from jinqiao.gateway.clients import ServiceClients, call_metadata
from jinqiao.gateway.settings import GatewaySettings
from jinqiao.kit import catalog
from jinqiao.kit.auth import Role, TokenIssuer
from jinqiao.kit.channels import open_channel
from jinqiao.kit.process import RunningService
from jinqiao.kit.runtime.ports import free_port
from jinqiao.kit.settings import KitSettings
from jinqiao.notifications.v1 import notifications_pb2 as pb
from jinqiao.notifications.v1 import notifications_pb2_grpc
from tests.integration.conftest import bearer, start_catalogued

SERVING = health_pb2.HealthCheckResponse.SERVING


@dataclass(frozen=True)
class Authority:
    """A certificate authority: its certificate and key, as PEM files."""

    cert: Path
    key: Path


@dataclass(frozen=True)
class Identity:
    """A process's certificate (server and client) and key files."""

    cert: Path
    key: Path


def _pem_key(key: ec.EllipticCurvePrivateKey) -> bytes:
    return key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                             serialization.NoEncryption())


def make_authority(folder: Path, name: str) -> Authority:
    """A self-signed CA written to ``folder``."""
    key = ec.generate_private_key(ec.SECP256R1())
    subject = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, name)])
    now = datetime.now(UTC)
    cert = (x509.CertificateBuilder().subject_name(subject).issuer_name(subject).public_key(key.public_key())
            .serial_number(x509.random_serial_number()).not_valid_before(now - timedelta(minutes=5))
            .not_valid_after(now + timedelta(days=1))
            .add_extension(x509.BasicConstraints(ca=True, path_length=0), critical=True)
            .add_extension(x509.KeyUsage(digital_signature=True, key_cert_sign=True, crl_sign=True,
                                         content_commitment=False, key_encipherment=False, data_encipherment=False,
                                         key_agreement=False, encipher_only=False, decipher_only=False),
                           critical=True)
            .sign(key, hashes.SHA256()))
    authority = Authority(cert=folder / f"{name}.crt", key=folder / f"{name}.key")
    authority.cert.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    authority.key.write_bytes(_pem_key(key))
    return authority


def issue(authority: Authority, folder: Path, name: str) -> Identity:
    """A certificate for ``name`` signed by ``authority``: SAN 127.0.0.1 and localhost, server and client auth."""
    ca_cert = x509.load_pem_x509_certificate(authority.cert.read_bytes())
    ca_key = serialization.load_pem_private_key(authority.key.read_bytes(), password=None)
    assert isinstance(ca_key, ec.EllipticCurvePrivateKey)
    key = ec.generate_private_key(ec.SECP256R1())
    now = datetime.now(UTC)
    cert = (x509.CertificateBuilder().subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, name)]))
            .issuer_name(ca_cert.subject).public_key(key.public_key()).serial_number(x509.random_serial_number())
            .not_valid_before(now - timedelta(minutes=5)).not_valid_after(now + timedelta(days=1))
            .add_extension(x509.SubjectAlternativeName([x509.DNSName("localhost"),
                                                        x509.IPAddress(IPv4Address("127.0.0.1"))]), critical=False)
            .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
            .add_extension(x509.ExtendedKeyUsage([ExtendedKeyUsageOID.SERVER_AUTH, ExtendedKeyUsageOID.CLIENT_AUTH]),
                           critical=False)
            .sign(ca_key, hashes.SHA256()))
    identity = Identity(cert=folder / f"{name}.crt", key=folder / f"{name}.key")
    identity.cert.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    identity.key.write_bytes(_pem_key(key))
    return identity


@dataclass(frozen=True)
class Pki:
    """The platform's CA with a certificate per process, and a foreign CA with one of its own."""

    ca: Authority
    service: Identity
    gateway: Identity
    foreign: Identity


@pytest.fixture(scope="module")
def pki(tmp_path_factory: pytest.TempPathFactory) -> Pki:
    """Certificates made at test time, into a temporary folder."""
    folder = tmp_path_factory.mktemp("pki")
    ca, other = make_authority(folder, "jinqiao-ca"), make_authority(folder, "other-ca")
    return Pki(ca=ca, service=issue(ca, folder, "notifications"), gateway=issue(ca, folder, "gateway"),
               foreign=issue(other, folder, "intruder"))


@pytest.fixture(scope="module")
async def service(settings_for: Callable[..., KitSettings], pki: Pki) -> AsyncIterator[RunningService]:
    """notifications in-process with TLS on its public port and mutual TLS on its internal one."""
    # Like test_readiness: a second notifications beside the shared platform, its own pool kept small.
    settings = settings_for("notifications", grpc_tls_cert_file=pki.service.cert, grpc_tls_key_file=pki.service.key,
                            grpc_tls_ca_file=pki.ca.cert, grpc_internal_port=free_port(), db_pool_min=1,
                            retention_interval_seconds=0)
    running = await start_catalogued(catalog.get("notifications"), settings)
    yield running
    await running.stop()


def internal_target(service: RunningService) -> str:
    """``127.0.0.1:<internal port>`` of a started service."""
    assert service.app.internal_port is not None
    return f"127.0.0.1:{service.app.internal_port}"


def credentials(pki: Pki, identity: Identity | None) -> grpc.ChannelCredentials:
    """TLS trusting the platform's CA, presenting ``identity`` when given."""
    return grpc.ssl_channel_credentials(
        root_certificates=pki.ca.cert.read_bytes(),
        private_key=identity.key.read_bytes() if identity else None,
        certificate_chain=identity.cert.read_bytes() if identity else None)


async def health_status(channel: grpc.aio.Channel) -> int:
    """The overall health the channel's server reports."""
    stub: Any = health_pb2_grpc.HealthStub(channel)  # the generated stub is untyped for mypy
    reply: health_pb2.HealthCheckResponse = await stub.Check(health_pb2.HealthCheckRequest(), timeout=5)
    return reply.status


def member_token(issuer: TokenIssuer) -> str:
    """A member's token (the inbox is the member's own)."""
    member = str(uuid.uuid4())
    return issuer.issue(user=f"m-{member[:8]}", role=Role.MEMBER, scope="411525", member=member)[0]


async def test_internal_port_refuses_a_caller_without_a_client_certificate(service: RunningService, pki: Pki) -> None:
    """A TLS caller that trusts the server but shows no certificate never completes the handshake."""
    async with grpc.aio.secure_channel(internal_target(service), credentials(pki, None)) as channel:
        with pytest.raises(grpc.aio.AioRpcError) as caught:
            await health_status(channel)
    assert caught.value.code() == grpc.StatusCode.UNAVAILABLE


async def test_internal_port_refuses_a_certificate_of_another_ca(service: RunningService, pki: Pki) -> None:
    """A well-formed client certificate signed by a CA the platform does not trust is refused."""
    async with grpc.aio.secure_channel(internal_target(service), credentials(pki, pki.foreign)) as channel:
        with pytest.raises(grpc.aio.AioRpcError) as caught:
            await health_status(channel)
    assert caught.value.code() == grpc.StatusCode.UNAVAILABLE


async def test_internal_port_refuses_a_plaintext_caller(service: RunningService) -> None:
    """No TLS at all gets nowhere on the internal port."""
    async with grpc.aio.insecure_channel(internal_target(service)) as channel:
        with pytest.raises(grpc.aio.AioRpcError) as caught:
            await health_status(channel)
    assert caught.value.code() == grpc.StatusCode.UNAVAILABLE


async def test_internal_port_serves_a_caller_with_the_platforms_certificate(service: RunningService, pki: Pki,
                                                                            issuer: TokenIssuer) -> None:
    """The platform's certificate gets health and, with a token, the service's calls; without a token, none."""
    async with open_channel(internal_target(service), ca_file=pki.ca.cert, cert_file=pki.gateway.cert,
                            key_file=pki.gateway.key) as channel:
        assert await health_status(channel) == SERVING
        stub = notifications_pb2_grpc.NotificationsServiceStub(channel)
        token = bearer(member_token(issuer))
        summary = await stub.GetInboxSummary(pb.GetInboxSummaryRequest(), metadata=token, timeout=10)
        assert summary.unread_count == 0
        # Defence in depth: a certificate alone calls nothing.
        with pytest.raises(grpc.aio.AioRpcError) as caught:
            await stub.GetInboxSummary(pb.GetInboxSummaryRequest(), timeout=10)
        assert caught.value.code() == grpc.StatusCode.UNAUTHENTICATED


async def test_public_port_still_serves_a_tls_caller_without_a_client_certificate(service: RunningService,
                                                                                  pki: Pki) -> None:
    """County systems keep calling the public port with server-only TLS (and tokens)."""
    async with grpc.aio.secure_channel(f"127.0.0.1:{service.port}", credentials(pki, None)) as channel:
        assert await health_status(channel) == SERVING
    assert service.port != service.app.internal_port


async def test_the_gateways_clients_from_settings_reach_the_internal_port(service: RunningService, pki: Pki,
                                                                          issuer: TokenIssuer) -> None:
    """The gateway's channels present its own certificate, as its settings give it, and get through."""
    settings = GatewaySettings(targets={"notifications": internal_target(service)}, grpc_tls_ca_file=pki.ca.cert,
                               grpc_tls_cert_file=pki.gateway.cert, grpc_tls_key_file=pki.gateway.key)
    clients = ServiceClients.from_settings(settings)
    try:
        token = call_metadata(member_token(issuer))
        summary = await clients.notifications.GetInboxSummary(pb.GetInboxSummaryRequest(), metadata=token,
                                                              timeout=clients.timeout)
        assert summary.unread_count == 0
    finally:
        await clients.close()
    # The same targets with only the CA (no identity of its own) are turned away.
    anonymous = ServiceClients.connect(targets=settings.targets, timeout=5, ca_file=pki.ca.cert)
    try:
        with pytest.raises(grpc.aio.AioRpcError) as caught:
            await anonymous.notifications.GetInboxSummary(pb.GetInboxSummaryRequest(), metadata=token, timeout=5)
        # UNAVAILABLE, or the deadline when gRPC's retries of the read outlast it.
        assert caught.value.code() in (grpc.StatusCode.UNAVAILABLE, grpc.StatusCode.DEADLINE_EXCEEDED)
    finally:
        await anonymous.close()
