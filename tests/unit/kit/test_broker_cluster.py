"""A broker for a cluster: comma-separated URLs are the servers to try, streams are kept by the configured replicas."""

from __future__ import annotations

from pathlib import Path

import pytest

from jinqiao.events.v1 import registry_events_pb2
from jinqiao.kit import broker as kit_broker
from jinqiao.kit.runtime.nats import ClusterRoutes, EmbeddedNats
from jinqiao.kit.runtime.natsauth import ADMIN, NatsLogin


def test_a_comma_separated_url_names_every_server_of_the_cluster() -> None:
    """Spaces and a trailing comma are tolerated; one URL is a list of one."""
    assert kit_broker.server_urls("nats://a:4222, nats://b:4222,nats://c:4222,") == [
        "nats://a:4222", "nats://b:4222", "nats://c:4222"]
    assert kit_broker.server_urls("nats://127.0.0.1:4222") == ["nats://127.0.0.1:4222"]
    with pytest.raises(ValueError):
        kit_broker.server_urls(" , ")


def test_the_broker_is_given_the_list_of_servers_not_one_url() -> None:
    """nats-py tries each server in turn (a comma-joined string would be one unparseable address)."""
    broker = kit_broker.build_broker(url="nats://a:4222,nats://b:4222", name="test")
    # FastStream keeps nats.connect's keyword arguments only in this attribute (as kit.broker._inbox_of reads it).
    assert broker._connection_kwargs["servers"] == ["nats://a:4222", "nats://b:4222"]


def test_streams_have_one_replica_unless_the_environment_says_otherwise(monkeypatch: pytest.MonkeyPatch) -> None:
    """The default suits one server; JINQIAO_NATS_STREAM_REPLICAS=3 a three-node cluster."""
    monkeypatch.delenv("JINQIAO_NATS_STREAM_REPLICAS", raising=False)
    assert kit_broker.stream_config("registry").num_replicas == 1
    monkeypatch.setenv("JINQIAO_NATS_STREAM_REPLICAS", "3")
    assert kit_broker.stream_config("registry").num_replicas == 3


def test_explicit_replicas_win_over_the_environment_and_must_be_positive(monkeypatch: pytest.MonkeyPatch) -> None:
    """The runner may declare at a count of its own; zero replicas is no stream."""
    monkeypatch.setenv("JINQIAO_NATS_STREAM_REPLICAS", "3")
    assert kit_broker.stream_config("organizations", replicas=1).num_replicas == 1
    with pytest.raises(ValueError):
        kit_broker.stream_config("organizations", replicas=0)


def test_durables_are_kept_by_as_many_servers_as_their_stream() -> None:
    """num_replicas 0 is JetStream's "the stream's": the durable follows the stream's replica count."""
    broker = kit_broker.build_broker(url="nats://a:4222", name="test")

    async def handler(uow: object, event: object, delivery: kit_broker.Delivery) -> None:
        return None

    consumer = kit_broker.subscribe(broker, db=None, consumer="probe", source_service="registry",  # type: ignore[arg-type]
                                    event=registry_events_pb2.MemberRegistered, handler=handler,
                                    retry=kit_broker.RetryPolicy())
    assert consumer.consumer_config().num_replicas == 0


def _logins() -> list[NatsLogin]:
    return [NatsLogin(user=ADMIN, password="secret-runner", admin=True)]


def test_a_single_server_has_no_cluster_section(tmp_path: Path) -> None:
    """Without ``cluster`` the configuration is what it always was: one server, no routes."""
    config = EmbeddedNats(data_dir=tmp_path, port=4222, users=_logins()).config()
    assert "cluster" not in config and "server_name: jinqiao_4222" in config


def test_a_cluster_node_routes_to_the_others_with_the_route_login(tmp_path: Path) -> None:
    """Routes listen on their own port and log in with their own user; the others are named by address."""
    routes = ClusterRoutes(name="jinqiao", port=6222, routes=("127.0.0.1:6223", "127.0.0.1:6224"),
                           user="route", password="pw")
    config = EmbeddedNats(data_dir=tmp_path, port=4222, users=_logins(), cluster=routes).config()
    assert "listen: 127.0.0.1:6222" in config
    assert 'authorization { user: "route", password: "pw" }' in config
    assert '"nats-route://route:pw@127.0.0.1:6223", "nats-route://route:pw@127.0.0.1:6224"' in config


def test_a_route_login_that_would_break_its_url_is_refused(tmp_path: Path) -> None:
    """A password with ``@`` or ``:`` would change where the route URL points."""
    routes = ClusterRoutes(name="jinqiao", port=6222, routes=("127.0.0.1:6223",), user="route", password="p@ss")
    with pytest.raises(ValueError):
        EmbeddedNats(data_dir=tmp_path, port=4222, users=_logins(), cluster=routes).config()
