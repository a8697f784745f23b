"""`jinqiao dead-letters` without a platform: its arguments, its token, its targets, and its refusals."""

from __future__ import annotations

import json
import time
from dataclasses import replace
from pathlib import Path

import jwt
import pytest

from jinqiao.kit.auth import Role, TokenVerifier, generate_signing_keypair
from jinqiao.kit.runtime import cli, config
from jinqiao.kit.runtime import deadletters as command


@pytest.fixture
def keys(tmp_path: Path) -> tuple[Path, bytes]:
    private, public = generate_signing_keypair()
    path = tmp_path / "jwt.pem"
    path.write_bytes(private)
    return path, public


def test_the_subcommand_parses_its_three_actions():
    parser = cli._parser()
    listing = parser.parse_args(["dead-letters", "list"])
    assert (listing.command, listing.action, listing.tenant, listing.service) == ("dead-letters", "list", None, None)
    shown = parser.parse_args(["dead-letters", "show", "--service", "insights", "--tenant", "411525", "7"])
    assert (shown.action, shown.service, shown.tenant, shown.id) == ("show", "insights", "411525", "7")
    replay = parser.parse_args(["dead-letters", "replay", "--service", "registry", "--tenant", "411525", "8"])
    assert (replay.action, replay.id) == ("replay", "8")
    with pytest.raises(SystemExit) as caught:
        parser.parse_args(["dead-letters", "replay", "7"])  # --service and --tenant are required
    assert caught.value.code == 2


def test_the_operator_token_is_a_service_token_for_one_county_valid_a_minute_at_most(keys):
    path, public = keys
    issuer = command.issuer_from(path, ttl_seconds=3600)
    operator = command.Operator(targets={}, issuer=issuer, user="operator:ops")
    token = operator.token("411525")
    principal = TokenVerifier(public_key_pem=public, issuer="jinqiao", audience="jinqiao").verify(token)
    assert (principal.user, principal.role, principal.tenant, principal.scope) == (
        "operator:ops", Role.SERVICE, "411525", "411525")
    claims = jwt.decode(token, options={"verify_signature": False})
    assert claims["exp"] - claims["iat"] <= command.TOKEN_SECONDS
    assert claims["exp"] <= time.time() + command.TOKEN_SECONDS + 1


def test_targets_come_from_run_json_else_from_the_configuration(tmp_path, monkeypatch):
    monkeypatch.setenv("JINQIAO_DATA_DIR", str(tmp_path))
    settings = config.load()
    recorded = {"health": {"registry": {"grpc_port": 27051, "http_port": None}}}
    targets = command.targets_of(settings, recorded)
    assert targets["registry"] == "127.0.0.1:27051"
    configured = {s.name: s.grpc_port for s in settings.services}
    assert targets["insights"] == f"127.0.0.1:{configured['insights']}"
    # Only the services that consume events keep dead letters.
    assert set(targets) == {"registry", "organizations", "insights", "desk", "notifications"}
    assert command.targets_of(settings, None)["registry"] == f"127.0.0.1:{configured['registry']}"


def _args(*argv: str):
    return cli._parser().parse_args(["dead-letters", *argv])


async def test_without_a_running_platform_it_refuses_with_2(tmp_path, monkeypatch, capsys):
    monkeypatch.setenv("JINQIAO_DATA_DIR", str(tmp_path))
    assert await command.run(config.load(), _args("list")) == command.REFUSED
    assert "未运行" in capsys.readouterr().err
    # A run.json left by a runner that is gone is no running platform either.
    (tmp_path / "run.json").write_text(json.dumps({"supervisor": 2**22 + 12345}))
    assert await command.run(config.load(), _args("list")) == command.REFUSED


async def test_a_bad_county_or_service_is_refused_before_anything_is_asked(tmp_path, monkeypatch, keys, capsys):
    path, _ = keys
    operator = command.Operator(targets={"insights": "127.0.0.1:1"}, issuer=command.issuer_from(path),
                                user="operator:ops")
    monkeypatch.setattr(command, "operator_for", lambda _config: operator)
    monkeypatch.setenv("JINQIAO_DATA_DIR", str(tmp_path))
    settings = config.load()
    assert await command.run(settings, _args("show", "--service", "insights", "--tenant", "4115", "1")) == 2
    assert "县级区划代码" in capsys.readouterr().err
    assert await command.run(settings, _args("replay", "--service", "desk", "--tenant", "411525", "1")) == 2
    assert "desk" in capsys.readouterr().err
    no_counties = replace(settings, demo_counties=[])
    assert await command.run(no_counties, _args("list")) == 2
    assert "--tenant" in capsys.readouterr().err
