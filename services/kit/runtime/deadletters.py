"""`jinqiao dead-letters`: list, show and replay the running platform's dead letters as its operator.

The command calls each consuming service's DeadLetterService over gRPC on the ports the runner recorded (run.json,
else the catalogue's), with a token it mints itself for one county: role ``service``, subject ``operator:<os user>``,
valid for at most a minute, signed with the key directory's JWT key. Only this token reads an event's decoded
content (``show``); the county admin's HTTP routes never do.

Exit codes: 0 done; 1 the operation failed (a replay that failed again, a dead letter not found, a service that did
not answer); 2 refused before anything was asked (the platform is not running, a bad argument or key).
"""

from __future__ import annotations

import argparse
import getpass
import json
import sys
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC
from pathlib import Path
from typing import Any

import grpc

from jinqiao.kit import catalog, kms
from jinqiao.kit.auth import Role, TokenIssuer
from jinqiao.kit.runtime import supervisor
from jinqiao.kit.runtime.config import EmbeddedConfig
from jinqiao.kit.runtime.processes import alive
from jinqiao.kit.settings import KitSettings
from jinqiao.kit.tenancy import InvalidTenant, parse_tenant
from jinqiao.operations.v1 import operations_pb2, operations_pb2_grpc

OK, FAILED, REFUSED = 0, 1, 2
TOKEN_SECONDS = 60
HOST = "127.0.0.1"
_PAGE = 200
_REASON_WIDTH = 60


@dataclass(frozen=True, slots=True)
class Operator:
    """Where the services answer and how the command signs its tokens."""

    targets: dict[str, str]
    issuer: TokenIssuer
    user: str

    def token(self, tenant: str) -> str:
        """A short-lived operator token for one county."""
        return self.issuer.issue(user=self.user, role=Role.SERVICE, scope=tenant, tenant=tenant)[0]


def add_parser(commands: Any) -> None:
    """The ``dead-letters`` subcommand and its actions (kit/runtime/cli.py calls it)."""
    parser = commands.add_parser("dead-letters", help="死信：列出、查看、重放 / dead letters: list, show, replay")
    actions = parser.add_subparsers(dest="action", required=True)
    listing = actions.add_parser("list", help="列出死信；不指定县则按县和消费者计数 / list; without --tenant, "
                                              "counts per county and consumer")
    listing.add_argument("--tenant", help="县级区划代码 / the county")
    listing.add_argument("--service", help="只看该服务 / one service only")
    listing.add_argument("--pending", action="store_true", help="只看待处理的 / pending only")
    for name, text in (("show", "查看死信及事件内容 / one dead letter with its event"),
                       ("replay", "重放死信（至多应用一次）/ replay a dead letter (applied at most once)")):
        action = actions.add_parser(name, help=text)
        action.add_argument("--service", required=True, help="保存该死信的服务 / the service holding it")
        action.add_argument("--tenant", required=True, help="县级区划代码 / the county")
        action.add_argument("id", help="死信编号 / the dead letter's number")


def _os_user() -> str:
    try:
        return getpass.getuser()
    except (KeyError, OSError):
        return "unknown"


def targets_of(config: EmbeddedConfig, run: Mapping[str, Any] | None) -> dict[str, str]:
    """Each consuming service's gRPC address: the port run.json recorded, else the configured one."""
    recorded = run.get("health", {}) if run else {}
    configured = {spec.name: spec.grpc_port for spec in config.services}
    found: dict[str, str] = {}
    # The services that consume events serve DeadLetterService (kit/deadletters.py, not imported: the CLI stays light).
    for entry in (e for e in catalog.grpc_services() if e.consumes):
        port = (recorded.get(entry.name) or {}).get("grpc_port") if isinstance(recorded, dict) else None
        port = port or configured.get(entry.name)
        if port:
            found[entry.name] = f"{HOST}:{port}"
    return found


def issuer_from(private_key: Path, *, ttl_seconds: int = TOKEN_SECONDS) -> TokenIssuer:
    """An issuer signing with the platform's JWT key, as the gateway does, for at most a minute."""
    fields = KitSettings.model_fields
    return TokenIssuer(private_key_pem=private_key.read_bytes(), issuer=str(fields["jwt_issuer"].default),
                       audience=str(fields["jwt_audience"].default), ttl_seconds=min(ttl_seconds, TOKEN_SECONDS))


def operator_for(config: EmbeddedConfig) -> Operator | str:
    """The operator of the running platform, or why there is none (a sentence for the terminal)."""
    run = supervisor.read_run_file(config)
    pid = run.get("supervisor") if run else None
    if not alive(pid if isinstance(pid, int) else None):
        return "金桥未运行（先运行 `jinqiao up`）/ Jinqiao is not running (start it with `jinqiao up`)"
    try:
        keys = kms.open_key_service(key_dir=config.key_directory, data_dir=config.data_dir, spec=config.kms)
        issuer = issuer_from(keys.jwt_key_files().private)
    except (OSError, ValueError, kms.KeyStoreError) as exc:
        return f"无法读取签名密钥 / cannot read the JWT signing key: {exc}"
    return Operator(targets=targets_of(config, run), issuer=issuer, user=f"operator:{_os_user()}")


def _county(value: str | None) -> str:
    try:
        return parse_tenant(value or "")
    except InvalidTenant:
        raise ValueError(f"不是县级区划代码 / not a county code: {value!r}") from None


def _when(letter: operations_pb2.DeadLetter) -> str:
    return letter.create_time.ToDatetime(tzinfo=UTC).strftime("%Y-%m-%d %H:%M:%S")


def _state(letter: operations_pb2.DeadLetter) -> str:
    if letter.HasField("replay_time"):
        return "已重放 replayed"
    return "重放失败 replay failed" if letter.last_replay_error else "待处理 pending"


async def _all(stub: Any, token: str, *, pending: bool) -> list[operations_pb2.DeadLetter]:
    found: list[operations_pb2.DeadLetter] = []
    page_token = ""
    flt = operations_pb2.REPLAY_FILTER_PENDING if pending else operations_pb2.REPLAY_FILTER_UNSPECIFIED
    while True:
        reply = await stub.ListDeadLetters(
            operations_pb2.ListDeadLettersRequest(page_size=_PAGE, page_token=page_token, replay_filter=flt),
            metadata=(("authorization", f"Bearer {token}"),), timeout=10)
        found.extend(reply.dead_letters)
        page_token = reply.next_page_token
        if not page_token:
            return found


Say = Callable[[str], None]


def _say(text: str) -> None:
    print(text, flush=True)


def _complain(text: str) -> None:
    print(text, file=sys.stderr, flush=True)


def _grpc_failure(service: str, err: grpc.aio.AioRpcError) -> str:
    return f"{service}: {err.code().name} {err.details() or ''}".rstrip()


async def list_letters(op: Operator, *, tenants: Sequence[str], services: Sequence[str], pending: bool,
                       detailed: bool, say: Say = _say, complain: Say = _complain) -> int:
    """Print each county's dead letters (``detailed``) or their counts per consumer; 1 if a service did not answer."""
    code = OK
    if not detailed:
        say(f"{'县 county':<10} {'服务 service':<14} {'消费者 consumer':<40} {'待处理 pending':>8}"
            f" {'已重放 replayed':>8}")
    for tenant in tenants:
        token = op.token(tenant)
        for service in services:
            async with grpc.aio.insecure_channel(op.targets[service]) as channel:
                stub = operations_pb2_grpc.DeadLetterServiceStub(channel)
                try:
                    letters = await _all(stub, token, pending=pending)
                except grpc.aio.AioRpcError as err:
                    complain(_grpc_failure(service, err))
                    code = FAILED
                    continue
            if detailed:
                for d in letters:
                    reason = d.reason if len(d.reason) <= _REASON_WIDTH else d.reason[:_REASON_WIDTH - 1] + "…"
                    say(f"{service:<14} {d.id:>6} {_when(d)} {d.consumer:<36} {_state(d):<18} {reason}")
                continue
            counts: dict[str, list[int]] = {}
            for d in letters:
                counts.setdefault(d.consumer, [0, 0])[1 if d.HasField("replay_time") else 0] += 1
            for consumer, (waiting, done) in sorted(counts.items()):
                say(f"{tenant:<10} {service:<14} {consumer:<40} {waiting:>8} {done:>8}")
    return code


async def show_letter(op: Operator, *, tenant: str, service: str, letter_id: str, say: Say = _say,
                      complain: Say = _complain) -> int:
    """Print one dead letter with its decoded event."""
    async with grpc.aio.insecure_channel(op.targets[service]) as channel:
        stub = operations_pb2_grpc.DeadLetterServiceStub(channel)
        try:
            reply = await stub.GetDeadLetter(operations_pb2.GetDeadLetterRequest(id=letter_id),
                                             metadata=(("authorization", f"Bearer {op.token(tenant)}"),), timeout=10)
        except grpc.aio.AioRpcError as err:
            complain(_grpc_failure(service, err))
            return FAILED
    d = reply.dead_letter
    for label, value in (("编号 id", d.id), ("县 county", d.tenant_id), ("服务 service", service),
                         ("消费者 consumer", d.consumer), ("主题 subject", d.subject), ("事件 event", d.event_type),
                         ("事件编号 event id", d.event_id), ("原因 reason", d.reason),
                         ("投递次数 deliveries", str(d.deliveries)), ("时间 created", _when(d)),
                         ("状态 state", _state(d)), ("重放次数 replays", str(d.replays)),
                         ("重放人 replayed by", d.replayed_by or "-"),
                         ("上次重放错误 last replay error", d.last_replay_error or "-")):
        say(f"{label}: {value}")
    payload = json.dumps(json.loads(d.payload_json), ensure_ascii=False, indent=2) if d.payload_json else "-"
    say(f"事件内容 event:\n{payload}")
    return OK


async def replay_letter(op: Operator, *, tenant: str, service: str, letter_id: str, say: Say = _say,
                        complain: Say = _complain) -> int:
    """Replay one dead letter; 0 when applied now or before, 1 when it failed again."""
    async with grpc.aio.insecure_channel(op.targets[service]) as channel:
        stub = operations_pb2_grpc.DeadLetterServiceStub(channel)
        try:
            reply = await stub.ReplayDeadLetter(operations_pb2.ReplayDeadLetterRequest(id=letter_id),
                                                metadata=(("authorization", f"Bearer {op.token(tenant)}"),),
                                                timeout=30)
        except grpc.aio.AioRpcError as err:
            complain(_grpc_failure(service, err))
            return FAILED
    if reply.outcome == operations_pb2.REPLAY_OUTCOME_FAILED:
        complain(reply.message)
        return FAILED
    say(reply.message)
    return OK


async def run(config: EmbeddedConfig, args: argparse.Namespace) -> int:
    """Carry out ``jinqiao dead-letters <action>``."""
    op = operator_for(config)
    if isinstance(op, str):
        _complain(op)
        return REFUSED
    try:
        services = [args.service] if args.service else sorted(op.targets)
        unknown = [s for s in services if s not in op.targets]
        if unknown:
            raise ValueError(f"没有这个消费事件的服务 / no service consuming events is named {unknown[0]!r}"
                             f"（可选 / one of: {', '.join(sorted(op.targets))}）")
        if args.action == "list":
            tenants = [_county(args.tenant)] if args.tenant else list(config.demo_counties)
            if not tenants:
                raise ValueError("请用 --tenant 指定县 / name the county with --tenant")
            return await list_letters(op, tenants=tenants, services=services, pending=args.pending,
                                      detailed=bool(args.tenant))
        tenant = _county(args.tenant)
        if args.action == "show":
            return await show_letter(op, tenant=tenant, service=services[0], letter_id=args.id)
        return await replay_letter(op, tenant=tenant, service=services[0], letter_id=args.id)
    except ValueError as exc:
        _complain(str(exc))
        return REFUSED
