"""Who may use the bus: one NATS login per catalogued service and one for the runner, with per-service grants.

A service publishes only its own events (``jinqiao.*.<service>.>``) and uses the JetStream API only for the
streams it produces or reads (services/catalog.toml ``consumes``); its replies and pulled messages arrive under an
inbox prefix only it may read. The runner's login declares the streams, so no service needs the right to.

Every login may also follow the revocation feed (kit/revocation.py): ephemeral consumers of the gateway's stream
filtered on ``SessionRevoked`` alone, without acks. Every process must honour a revocation, so this is not left to
each catalogue entry's ``consumes``.
"""

from __future__ import annotations

import secrets
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field

from jinqiao.kit import catalog
from jinqiao.kit import events as ev
from jinqiao.kit.broker import inbox_prefix
from jinqiao.kit.revocation import REVOCATION_SOURCE, REVOCATION_SUBJECT

# The runner's login: declares every producing service's stream and may inspect the bus (tests, `jinqiao up`).
ADMIN = "jinqiao_runner"


@dataclass(frozen=True, slots=True)
class NatsLogin:
    """One login of the bus: user, password and (for a service) what it may publish and subscribe to."""

    user: str
    password: str
    publish: tuple[str, ...] = ()
    subscribe: tuple[str, ...] = ()
    admin: bool = False
    options: dict[str, str] = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        # Keyword arguments of nats.connect and NatsBroker (user, password and the reply prefix it may read).
        object.__setattr__(self, "options", {"user": self.user, "password": self.password,
                                             "inbox_prefix": inbox_prefix(self.user)})


def service_grants(entry: catalog.ServiceEntry) -> tuple[tuple[str, ...], tuple[str, ...]]:
    """(publish, subscribe) subjects a service's login is allowed; everything else is refused by the server."""
    publish: list[str] = []
    if entry.produces_events:
        own = ev.stream_name(entry.name)
        publish += [*ev.stream_subjects(entry.name), f"$JS.API.STREAM.INFO.{own}"]
    publish += revocation_feed_grants()
    for source in entry.consumes:
        stream = ev.stream_name(source)
        publish += [
            f"$JS.API.STREAM.INFO.{stream}",
            f"$JS.API.CONSUMER.INFO.{stream}.*",
            # CREATE.<stream>.<durable>.<filter subject>: a durable may only filter this producer's subjects.
            *(f"$JS.API.CONSUMER.CREATE.{stream}.*.{subject}" for subject in ev.stream_subjects(source)),
            f"$JS.API.CONSUMER.MSG.NEXT.{stream}.*",
            f"$JS.ACK.{stream}.>",
        ]
    return tuple(dict.fromkeys(publish)), (f"{inbox_prefix(entry.name)}.>",)


def revocation_feed_grants() -> list[str]:
    """What following the revocation feed takes: create a consumer filtered on SessionRevoked, pull, look it up."""
    stream = ev.stream_name(REVOCATION_SOURCE)
    return [
        f"$JS.API.CONSUMER.CREATE.{stream}.*.{REVOCATION_SUBJECT}",
        f"$JS.API.CONSUMER.MSG.NEXT.{stream}.*",
        f"$JS.API.CONSUMER.INFO.{stream}.*",
    ]


def new_passwords(stored: Mapping[str, str], entries: Iterable[catalog.ServiceEntry]) -> dict[str, str]:
    """The stored passwords, plus a fresh random one for the runner and each service that has none yet."""
    passwords = dict(stored)
    for user in (ADMIN, *(e.name for e in entries)):
        passwords.setdefault(user, secrets.token_urlsafe(24))
    return passwords


def logins(passwords: Mapping[str, str], entries: Iterable[catalog.ServiceEntry] | None = None) -> dict[str, NatsLogin]:
    """Every login of the bus by user name: the runner's, then one per catalogued service."""
    found = {ADMIN: NatsLogin(user=ADMIN, password=passwords[ADMIN], admin=True)}
    for entry in catalog.load() if entries is None else entries:
        publish, subscribe = service_grants(entry)
        found[entry.name] = NatsLogin(user=entry.name, password=passwords[entry.name], publish=publish,
                                      subscribe=subscribe)
    return found


def _quoted(values: Iterable[str]) -> str:
    return "[" + ", ".join(f'"{v}"' for v in values) + "]"


def _allow(subjects: tuple[str, ...]) -> str:
    # An empty allow list would mean "no restriction" to the server: deny everything instead.
    return f"{{allow: {_quoted(subjects)}}}" if subjects else '{deny: [">"]}'


def authorization_block(users: Iterable[NatsLogin]) -> str:
    """The server's ``authorization`` section: only these users connect; there is no anonymous user."""
    lines = ["authorization {", "  users = ["]
    for login in users:
        for value in (login.user, login.password):
            if not value or any(c in value for c in "\"\\\n"):
                raise ValueError("NATS user names and passwords must be non-empty and unquoted-safe")
        entry = f'    {{user: "{login.user}", password: "{login.password}"'
        if not login.admin:
            entry += f", permissions: {{publish: {_allow(login.publish)}, subscribe: {_allow(login.subscribe)}}}"
        lines.append(entry + "}")
    lines += ["  ]", "}"]
    return "\n".join(lines)
