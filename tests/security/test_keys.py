"""Keys (issue 10, finding 4): each service holds only the keys it uses, keys live apart from the data (0700/0600),
the key commands refuse while the platform runs, and every encrypted column is declared for the rotation."""

from __future__ import annotations

import json
import os
import re
import stat
from pathlib import Path

import pytest

from jinqiao.kit import catalog, kms, rotation
from jinqiao.kit.crypto import encode_keyring
from jinqiao.kit.runtime import config as runtime_config
from jinqiao.kit.runtime import keys as key_commands
from jinqiao.kit.runtime import supervisor

PII_VARIABLES = ("JINQIAO_PII_KEYS", "JINQIAO_PII_ACTIVE_KEY", "JINQIAO_BLIND_INDEX_KEY")
REPOSITORY = Path(__file__).resolve().parents[2]


@pytest.fixture
def install(tmp_path: Path, monkeypatch) -> runtime_config.EmbeddedConfig:
    """The runner's configuration over a fresh data directory, the key directory left at its default."""
    monkeypatch.setenv("JINQIAO_DATA_DIR", str(tmp_path / "data"))
    monkeypatch.delenv("JINQIAO_KEY_DIR", raising=False)
    monkeypatch.delenv("JINQIAO_KMS", raising=False)
    loaded = runtime_config.load()
    loaded.data_dir.mkdir(parents=True)
    return loaded


def environments(install: runtime_config.EmbeddedConfig) -> tuple[dict[str, dict[str, str]], kms.KeyMaterial]:
    """Every service's environment as `jinqiao up` builds it, and the keys it read."""
    material = supervisor.prepare_keys(install)
    stored = supervisor.load_secrets(install.data_dir, install.services)
    return {spec.name: supervisor.service_env(spec, config=install, stored=stored, nats_url="nats://127.0.0.1:1",
                                              app_dsns={}, keys=material) for spec in install.services}, material


def test_services_that_never_decrypt_receive_no_pii_or_blind_index_key(install, monkeypatch):
    # Even a runner started with keys in its own environment passes none of them on.
    monkeypatch.setenv("JINQIAO_PII_KEYS", "1:c2VjcmV0")
    monkeypatch.setenv("JINQIAO_BLIND_INDEX_KEY", "c2VjcmV0")
    envs, material = environments(install)
    secrets = {encode_keyring(material.pii.keys), *(k.hex() for k in material.pii.keys.values()),
               material.blind_index.hex(), "1:c2VjcmV0", "c2VjcmV0"}
    for name in ("insights", "gateway"):
        env = envs[name]
        assert not set(PII_VARIABLES) & set(env), name
        assert not any(secret in value for value in env.values() for secret in secrets), name
        assert not any(value.startswith("1:") and len(value) > 40 for value in env.values()), name


def test_registry_and_organizations_receive_exactly_the_keys_they_declare(install):
    envs, material = environments(install)
    registry, organizations, desk = envs["registry"], envs["organizations"], envs["desk"]
    assert registry["JINQIAO_PII_KEYS"] == encode_keyring(material.pii.keys)
    assert registry["JINQIAO_PII_ACTIVE_KEY"] == str(material.pii.active) == organizations["JINQIAO_PII_ACTIVE_KEY"]
    assert "JINQIAO_BLIND_INDEX_KEY" in registry and "JINQIAO_BLIND_INDEX_KEY" not in organizations
    # The desk seals attachments: the PII keyring, never the blind index (it looks nobody up by ID number).
    assert desk["JINQIAO_PII_KEYS"] == encode_keyring(material.pii.keys)
    assert "JINQIAO_BLIND_INDEX_KEY" not in desk
    # Notifications seals contact addresses and channel secrets and opens officers' phones: the keyring, no index.
    notifications = envs["notifications"]
    assert notifications["JINQIAO_PII_KEYS"] == encode_keyring(material.pii.keys)
    assert "JINQIAO_BLIND_INDEX_KEY" not in notifications
    signers = {name for name, env in envs.items() if "JINQIAO_JWT_PRIVATE_KEY_FILE" in env}
    assert signers == {e.name for e in catalog.holding("jwt_signing")} == {"gateway"}
    assert all(env["JINQIAO_JWT_PUBLIC_KEY_FILE"] == str(material.jwt.public) for env in envs.values())


def test_every_service_building_a_key_from_its_settings_declares_it_in_the_catalogue():
    needs = {"FieldCipher.from_settings": "pii", "BlindIndex.from_settings": "blind_index",
             "TokenIssuer.from_settings": "jwt_signing"}
    for entry in catalog.load():
        source = "\n".join(p.read_text() for p in (REPOSITORY / entry.path).rglob("*.py"))
        for call, kind in needs.items():
            if call in source:
                assert kind in entry.keys, f"{entry.name} calls {call} without keys = [\"{kind}\"]"


def test_the_key_directory_lies_outside_the_data_directory_with_owner_only_permissions(install):
    keys = install.key_directory
    assert install.data_dir not in keys.parents and keys != install.data_dir
    assert keys.parent == install.data_dir.parent  # beside it by default
    material = supervisor.prepare_keys(install)
    supervisor.load_secrets(install.data_dir, install.services)
    assert stat.S_IMODE(keys.stat().st_mode) == 0o700
    files = [p for p in keys.iterdir() if p.is_file()]
    assert files and all(stat.S_IMODE(p.stat().st_mode) == 0o600 for p in files)
    # Nothing in the data directory holds key material.
    stored = json.loads((install.data_dir / "secrets.json").read_text())
    assert not {"pii_keys", "pii_active_key", "blind_index_key"} & set(stored)
    assert not (install.data_dir / "keys").exists()
    text = "".join(p.read_text(errors="ignore") for p in install.data_dir.rglob("*") if p.is_file())
    assert encode_keyring(material.pii.keys).split(":", 1)[1][:20] not in text
    assert material.jwt.private.parent == keys


@pytest.mark.parametrize("inside", ["keys", "."])
def test_a_key_directory_inside_the_data_directory_stops_the_runner(install, monkeypatch, inside):
    monkeypatch.setenv("JINQIAO_KEY_DIR", str(install.data_dir / inside))
    with pytest.raises(kms.KeyStoreError, match="JINQIAO_KEY_DIR"):
        supervisor.prepare_keys(runtime_config.load())


async def test_changing_keys_is_refused_while_the_platform_runs(install, capsys):
    keys = supervisor.prepare_keys(install)
    (install.data_dir / "run.json").write_text(json.dumps({"supervisor": os.getpid()}))
    assert await key_commands.rotate(install) == key_commands.REFUSED
    assert await key_commands.reencrypt(install) == key_commands.REFUSED
    assert await key_commands.retire(install, 1) == key_commands.REFUSED
    assert "jinqiao down" in capsys.readouterr().err
    assert kms.LocalKeyDirectory(install.key_directory).pii_keyring() == keys.pii


async def test_changing_keys_before_there_is_any_data_is_refused(install, capsys):
    assert await key_commands.rotate(install) == key_commands.REFUSED
    assert "jinqiao up" in capsys.readouterr().err


async def test_every_encrypted_column_of_every_database_is_declared_for_rotation(databases, admin_conn_factory):
    for service in databases:
        conn = await admin_conn_factory(service)
        stored = {(r["table_name"], r["column_name"]) for r in await conn.fetch(
            "SELECT table_name, column_name FROM information_schema.columns WHERE table_schema = 'public'"
            " AND data_type = 'bytea' AND column_name LIKE '%\\_enc'")}
        declared = {(c.table, c.column) for c in rotation.encrypted_columns(service)}
        assert stored == declared, service
        if stored:
            assert "pii" in catalog.get(service).keys, service
    for service in key_commands.decrypting_services():
        assert rotation.encrypted_columns(service), service
        for column in rotation.encrypted_columns(service):
            assert re.fullmatch(r"[a-z_]+_enc", column.column)


async def test_the_readme_lists_every_cross_tenant_function_and_only_its_service_may_call_it(databases,
                                                                                             admin_conn_factory):
    listed = (REPOSITORY / "README.md").read_text().split("### Cross-tenant database functions", 1)[1]
    for service, db in databases.items():
        conn = await admin_conn_factory(service)
        definers = await conn.fetch(
            "SELECT p.proname, pg_get_userbyid(p.proowner) AS owner,"
            " array(SELECT coalesce(pg_get_userbyid(a.grantee), 'PUBLIC') FROM aclexplode(p.proacl) a"
            "       WHERE a.privilege_type = 'EXECUTE') AS callers"
            " FROM pg_proc p JOIN pg_namespace n ON n.oid = p.pronamespace WHERE n.nspname = 'public' AND p.prosecdef")
        for function in definers:
            name = function["proname"]
            assert f"`{name}(" in listed, f"README does not list {name} of {service}"
            assert name.endswith("_all_tenants"), name
            assert function["owner"] == db.owner_role
            assert set(function["callers"]) <= {db.owner_role, db.app_role}, (name, function["callers"])
    bypassing = {r["rolname"] for r in await conn.fetch(
        "SELECT rolname FROM pg_roles WHERE rolbypassrls AND rolname LIKE 'jq\\_%'")}
    assert {f"jq_{s}_owner" for s in databases} <= bypassing and all(r.endswith("_owner") for r in bypassing)
    assert not await conn.fetchval("SELECT count(*) FROM pg_roles WHERE rolname = ANY($1) AND rolcanlogin",
                                   list(bypassing))
