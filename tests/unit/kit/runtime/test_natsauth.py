"""The bus's logins: generated once, kept across restarts, each service granted only its own subjects."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from jinqiao.kit import catalog
from jinqiao.kit.runtime import config
from jinqiao.kit.runtime.natsauth import (
    ADMIN,
    NatsLogin,
    authorization_block,
    logins,
    new_passwords,
    revocation_feed_grants,
    service_grants,
)
from jinqiao.kit.runtime.supervisor import load_secrets, service_env


def test_a_restart_reuses_the_generated_bus_passwords(tmp_path: Path, monkeypatch):
    monkeypatch.setenv("JINQIAO_DATA_DIR", str(tmp_path))
    services = config.load().services
    first = load_secrets(tmp_path, services)
    again = load_secrets(tmp_path, services)
    passwords = first["nats_passwords"]
    assert isinstance(passwords, dict) and set(passwords) == {ADMIN, *(e.name for e in catalog.load())}
    assert again["nats_passwords"] == passwords and len(set(passwords.values())) == len(passwords)
    assert json.loads((tmp_path / "secrets.json").read_text())["nats_passwords"] == passwords
    assert (tmp_path / "secrets.json").stat().st_mode & 0o077 == 0


def test_a_new_service_gets_a_password_and_the_others_keep_theirs():
    kept = {ADMIN: "a", "registry": "r"}
    grown = new_passwords(kept, catalog.load())
    assert grown[ADMIN] == "a" and grown["registry"] == "r" and grown["insights"] not in ("a", "r")


def test_each_service_process_is_given_only_its_own_login(tmp_path: Path, monkeypatch):
    monkeypatch.setenv("JINQIAO_DATA_DIR", str(tmp_path))
    loaded = config.load()
    stored = load_secrets(tmp_path, loaded.services)
    passwords = stored["nats_passwords"]
    assert isinstance(passwords, dict)
    for spec in loaded.services:
        env = service_env(spec, config=loaded, stored=stored, nats_url="nats://127.0.0.1:1", app_dsns={})
        assert env["JINQIAO_NATS_USER"] == spec.name and env["JINQIAO_NATS_PASSWORD"] == passwords[spec.name]
        assert passwords[ADMIN] not in env.values()


def test_a_service_publishes_its_own_events_and_reads_only_the_streams_it_consumes():
    registry, organizations, insights, desk, notifications = (
        catalog.get(n) for n in ("registry", "organizations", "insights", "desk", "notifications"))
    publish, subscribe = service_grants(organizations)
    assert "jinqiao.*.organizations.>" in publish and not any(s.startswith("jinqiao.*.registry") for s in publish)
    assert "$JS.API.CONSUMER.MSG.NEXT.JINQIAO_REGISTRY.*" in publish and "$JS.ACK.JINQIAO_REGISTRY.>" in publish
    assert "$JS.API.CONSUMER.CREATE.JINQIAO_REGISTRY.*.jinqiao.*.registry.>" in publish
    assert not any("JINQIAO_ORGANIZATIONS" in s and "STREAM.INFO" not in s for s in publish)  # reads not its own
    assert subscribe == ("_INBOX_organizations.>",)
    insights_publish, _ = service_grants(insights)
    assert not any(s.startswith("jinqiao.") for s in insights_publish)  # produces nothing
    feed = tuple(revocation_feed_grants())
    # Notifications produces nothing and reads the streams it consumes (its triggers), besides the revocation feed.
    notifications_publish, notifications_subscribe = service_grants(notifications)
    assert not any(s.startswith("jinqiao.") for s in notifications_publish)
    assert all(f"$JS.API.CONSUMER.MSG.NEXT.JINQIAO_{name}.*" in notifications_publish
               for name in ("REGISTRY", "ORGANIZATIONS", "DESK"))
    assert set(feed) <= set(notifications_publish)
    assert notifications_subscribe == ("_INBOX_notifications.>",)
    # The desk publishes its own events and reads its own stream too (referrals between counties).
    desk_publish, _ = service_grants(desk)
    assert "jinqiao.*.desk.>" in desk_publish and "$JS.ACK.JINQIAO_DESK.>" in desk_publish
    assert "$JS.ACK.JINQIAO_REGISTRY.>" in desk_publish and not any("INSIGHTS" in s for s in desk_publish)
    assert "$JS.API.CONSUMER.CREATE.JINQIAO_GATEWAY.*.jinqiao.*.gateway.session_revoked" in feed
    assert not any(".ACK." in s or s.startswith("jinqiao.") for s in feed)
    assert "JINQIAO_ORGANIZATIONS" in " ".join(service_grants(registry)[0])


def test_the_server_configuration_names_every_user_and_refuses_what_is_not_granted():
    users = logins(new_passwords({}, catalog.load()))
    block = authorization_block(users.values())
    assert block.count("{user: ") == len(users) and "no_auth_user" not in block
    # A login with nothing to publish gets an explicit deny: an empty allow list would allow everything.
    assert 'publish: {deny: [">"]}' in authorization_block([NatsLogin(user="nobody", password="pw")])
    runner = next(line for line in block.splitlines() if f'"{ADMIN}"' in line)
    assert "permissions" not in runner
    with pytest.raises(ValueError):
        authorization_block([NatsLogin(user="x", password='bad"quote')])
    assert users["registry"].options["inbox_prefix"] == "_INBOX_registry"
