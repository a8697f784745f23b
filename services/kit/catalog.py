"""The service catalogue: ``jinqiao/catalog.toml``, the one table every list of services is read from."""

from __future__ import annotations

import importlib
import tomllib
from dataclasses import dataclass
from functools import cache
from importlib import resources

# The keys a service may hold (issue 10): the PII keyring, the blind-index key, the JWT signing key. The runner
# hands a service only those its entry names; every service gets the JWT public key, which is no secret.
KEY_KINDS = ("pii", "blind_index", "jwt_signing")


@dataclass(frozen=True, slots=True)
class ServiceEntry:
    """One service as the catalogue describes it."""

    name: str
    package: str
    path: str
    server: str
    proto_service: str | None
    stub: str | None
    database: bool
    produces_events: bool
    grpc_port: int | None
    metrics_port: int
    http_port: int | None
    consumes: tuple[str, ...] = ()
    keys: tuple[str, ...] = ()

    @property
    def env_name(self) -> str:
        """The name as it appears in ``JINQIAO_<NAME>_*`` variables."""
        return self.name.upper().replace("-", "_")

    def stub_class(self) -> type:
        """The generated client stub class named by ``stub`` ("module:Class")."""
        if self.stub is None:
            raise LookupError(f"service {self.name!r} has no gRPC stub")
        module, _, cls = self.stub.partition(":")
        found: type = getattr(importlib.import_module(module), cls)
        return found


def _entry(raw: dict[str, object]) -> ServiceEntry:
    def optional_int(key: str) -> int | None:
        value = raw.get(key)
        return None if value is None else int(str(value))

    keys = tuple(str(k) for k in held) if isinstance(held := raw.get("keys"), list) else ()
    if unknown := sorted(set(keys) - set(KEY_KINDS)):
        raise ValueError(f"service {raw['name']!r} names unknown keys {unknown}; known: {list(KEY_KINDS)}")
    return ServiceEntry(
        name=str(raw["name"]), package=str(raw["package"]), path=str(raw["path"]), server=str(raw["server"]),
        proto_service=str(raw["proto_service"]) if "proto_service" in raw else None,
        stub=str(raw["stub"]) if "stub" in raw else None,
        database=bool(raw.get("database", False)), produces_events=bool(raw.get("produces_events", False)),
        grpc_port=optional_int("grpc_port"), metrics_port=optional_int("metrics_port") or 0,
        http_port=optional_int("http_port"),
        consumes=tuple(str(s) for s in sources) if isinstance(sources := raw.get("consumes"), list) else (),
        keys=keys,
    )


def parse(text: str) -> list[ServiceEntry]:
    """Entries of a catalogue text: gRPC services in file order, then the HTTP edge that calls them."""
    entries = [_entry(raw) for raw in tomllib.loads(text).get("service", [])]
    return [e for e in entries if e.grpc_port is not None] + [e for e in entries if e.grpc_port is None]


@cache
def load() -> tuple[ServiceEntry, ...]:
    """The installed catalogue (package data of ``jinqiao``, so it works outside a checkout too)."""
    return tuple(parse(resources.files("jinqiao").joinpath("catalog.toml").read_text(encoding="utf-8")))


def get(name: str) -> ServiceEntry:
    """One entry by name."""
    for entry in load():
        if entry.name == name:
            return entry
    raise KeyError(f"no service {name!r} in the catalogue")


def holding(kind: str) -> list[ServiceEntry]:
    """Services whose entry names a key kind (``keys = [...]``): the only ones the runner gives it to."""
    if kind not in KEY_KINDS:
        raise ValueError(f"unknown key kind {kind!r}")
    return [e for e in load() if kind in e.keys]


def grpc_services() -> list[ServiceEntry]:
    """Services with a gRPC stub: the ones the gateway calls and the test platform starts."""
    return [e for e in load() if e.stub is not None]
