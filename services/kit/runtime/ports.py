"""Loopback ports: finding a free one, and a clear message when a configured one is taken."""

from __future__ import annotations

import socket


class PortBusy(RuntimeError):
    """A port the platform needs is already in use."""

    def __init__(self, *, port: int, what: str, setting: str) -> None:
        super().__init__(
            f"端口 {port} 已被占用（{what}），请设置 {setting} 换一个端口。"
            f" / Port {port} ({what}) is already in use; set {setting} to another port."
        )
        self.port = port


def free_port(host: str = "127.0.0.1") -> int:
    """A port the kernel says is free right now."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind((host, 0))
        port: int = sock.getsockname()[1]
        return port


def port_is_free(host: str, port: int) -> bool:
    """True when nothing listens on (host, port) and it can be bound."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            sock.bind((host, port))
        except OSError:
            return False
    return True


def ensure_free(*, host: str, port: int, what: str, setting: str) -> None:
    """Raise PortBusy naming the setting to change when the port is taken."""
    if not port_is_free(host, port):
        raise PortBusy(port=port, what=what, setting=setting)
