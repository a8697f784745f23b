"""The gateway process's uvicorn configuration: whose X-Forwarded-For is believed."""

from __future__ import annotations

from typing import Any

import pytest
import uvicorn

from jinqiao.gateway import server


def _config(monkeypatch: pytest.MonkeyPatch, **env: str) -> uvicorn.Config:
    seen: dict[str, Any] = {}
    monkeypatch.setattr(server, "create_app", lambda settings: object())
    monkeypatch.setattr(server.telemetry, "configure_tracing", lambda **_: None)
    monkeypatch.setattr(uvicorn.Server, "run", lambda self: seen.setdefault("config", self.config))
    for name, value in env.items():
        monkeypatch.setenv(name, value)
    server.main()
    return seen["config"]


def test_forwarded_addresses_are_ignored_unless_a_proxy_is_named(monkeypatch):
    config = _config(monkeypatch)
    assert config.proxy_headers is False


def test_a_named_proxy_is_the_only_one_whose_forwarded_address_is_believed(monkeypatch):
    config = _config(monkeypatch, JINQIAO_TRUSTED_PROXIES="127.0.0.1")
    assert config.proxy_headers is True
    assert config.forwarded_allow_ips == "127.0.0.1"
