"""Client identity and the internal port's settings: what is refused before any connection is tried."""

from __future__ import annotations

from pathlib import Path

import pytest

from jinqiao.kit import channels, grpcserver
from jinqiao.kit.settings import KitSettings


@pytest.fixture
def files(tmp_path: Path) -> dict[str, Path]:
    """Certificate, key and CA files (their content is only read here, never parsed)."""
    named = {name: tmp_path / f"{name}.pem" for name in ("cert", "key", "ca")}
    for name, path in named.items():
        path.write_bytes(f"-----{name}-----\n".encode())
    return named


def test_a_client_certificate_without_its_key_is_refused(files: dict[str, Path]) -> None:
    """Half an identity is a mistake, said at once rather than as a failed handshake later."""
    with pytest.raises(ValueError, match="同时"):
        channels.open_channel("127.0.0.1:1", ca_file=files["ca"], cert_file=files["cert"])
    with pytest.raises(ValueError, match="同时"):
        channels.open_channel("127.0.0.1:1", ca_file=files["ca"], key_file=files["key"])


def test_a_client_certificate_without_a_ca_is_refused(files: dict[str, Path]) -> None:
    """An identity on a plaintext channel would be silently dropped: refused instead."""
    with pytest.raises(ValueError, match="CA"):
        channels.open_channel("127.0.0.1:1", cert_file=files["cert"], key_file=files["key"])


def test_a_settings_channel_with_a_certificate_but_no_key_is_refused(files: dict[str, Path]) -> None:
    """The settings helper passes the process's identity on, so a half-configured one is refused too."""
    settings = KitSettings(grpc_tls_ca_file=files["ca"], grpc_tls_cert_file=files["cert"])
    with pytest.raises(ValueError, match="同时"):
        channels.open_settings_channel("127.0.0.1:1", settings)


async def test_existing_calls_without_tls_keep_working() -> None:
    """Embedded mode: no CA, no identity, a plaintext channel as before (from arguments or from settings)."""
    async with channels.open_channel("127.0.0.1:1") as plain, \
            channels.open_settings_channel("127.0.0.1:1", KitSettings()) as from_settings:
        assert plain is not None and from_settings is not None


def test_no_internal_port_unless_one_is_configured(files: dict[str, Path]) -> None:
    """grpc_internal_port 0 (the default) means no internal port, whatever files are set."""
    assert grpcserver.InternalPort.from_settings(KitSettings()) is None
    assert grpcserver.InternalPort.from_settings(KitSettings(grpc_tls_ca_file=files["ca"])) is None


@pytest.mark.parametrize("absent", ["grpc_tls_cert_file", "grpc_tls_key_file", "grpc_tls_ca_file"])
def test_an_internal_port_without_all_three_files_refuses_to_start(files: dict[str, Path], absent: str) -> None:
    """Mutual TLS needs the process's certificate, its key and the CA; the message names what is missing."""
    given = {"grpc_tls_cert_file": files["cert"], "grpc_tls_key_file": files["key"], "grpc_tls_ca_file": files["ca"]}
    del given[absent]
    settings = KitSettings(grpc_internal_port=17999, **given)  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="双向 TLS") as refused:
        grpcserver.InternalPort.from_settings(settings)
    assert f"JINQIAO_{absent.upper()}" in str(refused.value)


def test_an_internal_port_reads_its_three_files(files: dict[str, Path]) -> None:
    """The port, identity and client CA come from the settings' files."""
    settings = KitSettings(grpc_internal_port=17999, grpc_tls_cert_file=files["cert"],
                           grpc_tls_key_file=files["key"], grpc_tls_ca_file=files["ca"])
    internal = grpcserver.InternalPort.from_settings(settings)
    assert internal == grpcserver.InternalPort(port=17999, certificate_chain=b"-----cert-----\n",
                                               private_key=b"-----key-----\n", client_ca=b"-----ca-----\n")
