"""县级系统接入示例 / A county system calling Jinqiao's gRPC services with its own client credentials.

It takes a token from the gateway (OAuth2 client credentials), lists the county's members through the registry's
generated stub with ``authorization: Bearer …`` metadata, and, when asked, registers one member, printing each field
violation the service names. It renews its token before it expires and waits as told when it is rate-limited.

    python examples/county_system_client.py --gateway http://127.0.0.1:8080 --target 127.0.0.1:17051 \\
        --client-id jq-411525-0000000000000001 --client-secret jinqiao-demo-county-system

Exit status: 0 done; 2 the service refused the request's fields; 3 not permitted; 1 anything else.
Needs ``grpcio``, ``grpcio-status`` and the generated stubs (``pip install -e .`` in a checkout of Jinqiao, or the
stubs generated from ``proto/`` by your own build). See docs/integrators.md.
"""

from __future__ import annotations

import argparse
import base64
import json
import sys
import time
import urllib.error
import urllib.parse
import urllib.request
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import grpc
from google.rpc import error_details_pb2
from grpc_status import rpc_status

from jinqiao.registry.v1 import registry_pb2, registry_pb2_grpc

MEMBERSHIP = {"full": registry_pb2.MEMBERSHIP_STATUS_FULL, "probationary": registry_pb2.MEMBERSHIP_STATUS_PROBATIONARY}


@dataclass
class TokenSource:
    """Client credentials → a bearer token, fetched again shortly before it expires (tokens last ≤ 5 minutes)."""

    gateway: str
    client_id: str
    client_secret: str
    scope: str = ""
    _token: str = ""
    _expires_at: float = 0.0
    granted: list[str] = field(default_factory=list)

    def token(self) -> str:
        """A token valid for at least another 30 seconds."""
        if time.monotonic() > self._expires_at - 30:
            self._fetch()
        return self._token

    def _fetch(self) -> None:
        form = {"grant_type": "client_credentials"}
        if self.scope:
            form["scope"] = self.scope
        basic = base64.b64encode(f"{urllib.parse.quote_plus(self.client_id)}:"
                                 f"{urllib.parse.quote_plus(self.client_secret)}".encode()).decode()
        request = urllib.request.Request(
            f"{self.gateway.rstrip('/')}/api/v1/auth/client-token", data=urllib.parse.urlencode(form).encode(),
            headers={"Content-Type": "application/x-www-form-urlencoded", "Authorization": f"Basic {basic}"},
            method="POST")
        try:
            with urllib.request.urlopen(request, timeout=15) as reply:
                body = json.load(reply)
        except urllib.error.HTTPError as err:
            problem = json.loads(err.read() or b"{}")
            raise SystemExit(f"取得令牌失败 token refused ({err.code}): {problem.get('detail') or problem}") from None
        self._token = body["access_token"]
        self._expires_at = time.monotonic() + int(body["expires_in"])
        self.granted = body["scope"].split()

    def metadata(self) -> tuple[tuple[str, str], ...]:
        """gRPC metadata carrying the token."""
        return (("authorization", f"Bearer {self.token()}"),)


def field_violations(err: grpc.RpcError) -> list[tuple[str, str]]:
    """The google.rpc.BadRequest field violations of a refused call: (field, reason in Chinese)."""
    status = rpc_status.from_call(err)
    found: list[tuple[str, str]] = []
    for detail in status.details if status else ():
        bad = error_details_pb2.BadRequest()
        if detail.Unpack(bad):
            found += [(v.field, v.description) for v in bad.field_violations]
    return found


def retry_delay(err: grpc.RpcError) -> float | None:
    """How long RESOURCE_EXHAUSTED asks us to wait (its google.rpc.RetryInfo), if it says."""
    status = rpc_status.from_call(err)
    for detail in status.details if status else ():
        info = error_details_pb2.RetryInfo()
        if detail.Unpack(info):
            return info.retry_delay.seconds + info.retry_delay.nanos / 1e9
    return None


def call(method: Any, request: Any, tokens: TokenSource) -> Any:
    """One call with a fresh token; waits once as told when the client's rate limit is reached."""
    try:
        return method(request, metadata=tokens.metadata(), timeout=15)
    except grpc.RpcError as err:
        wait = retry_delay(err) if err.code() == grpc.StatusCode.RESOURCE_EXHAUSTED else None
        if wait is None:
            raise
        print(f"调用过于频繁，{wait:.0f} 秒后重试 / rate-limited, retrying in {wait:.0f} s")
        time.sleep(wait)
        return method(request, metadata=tokens.metadata(), timeout=15)


def channel(target: str, ca_file: str | None) -> grpc.Channel:
    """Plaintext on the embedded runner's loopback; TLS (trusting ``ca_file``) in a deployment."""
    if ca_file:
        return grpc.secure_channel(target, grpc.ssl_channel_credentials(Path(ca_file).read_bytes()))
    return grpc.insecure_channel(target)


def main(argv: list[str] | None = None) -> int:
    """List members, and register one when ``--create-name`` is given."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--gateway", default="http://127.0.0.1:8080", help="the gateway (token endpoint)")
    parser.add_argument("--target", default="127.0.0.1:17051", help="the registry's gRPC address")
    parser.add_argument("--tls-ca", default=None, help="CA certificate (PEM) of a TLS gRPC endpoint")
    parser.add_argument("--client-id", required=True)
    parser.add_argument("--client-secret", required=True)
    parser.add_argument("--scope", default="", help="space-separated subset of the client's permissions")
    parser.add_argument("--page-size", type=int, default=5)
    parser.add_argument("--create-name", default="", help="register a member with this name …")
    parser.add_argument("--create-id-number", default="", help="… and this ID number")
    parser.add_argument("--create-status", choices=sorted(MEMBERSHIP), default="full")
    parser.add_argument("--create-join-date", default="2015-07-01")
    args = parser.parse_args(argv)

    tokens = TokenSource(gateway=args.gateway, client_id=args.client_id, client_secret=args.client_secret,
                         scope=args.scope)
    tokens.token()
    print(f"已取得令牌 token granted: {' '.join(tokens.granted)}")
    with channel(args.target, args.tls_ca) as ch:
        registry = registry_pb2_grpc.RegistryServiceStub(ch)
        try:
            page = call(registry.ListMembers, registry_pb2.ListMembersRequest(page_size=args.page_size), tokens)
            members = page.members
            print(f"ListMembers: {len(members)} 名党员 members")
            for m in members:
                print(f"  {m.id}  {m.name}  {m.id_number_masked}  {m.phone_masked}")
            if args.create_name:
                request = registry_pb2.CreateMemberRequest(
                    name=args.create_name, id_number=args.create_id_number,
                    membership_status=MEMBERSHIP[args.create_status], join_date=args.create_join_date)
                created = call(registry.CreateMember, request, tokens).member
                print(f"CreateMember: 已登记 registered {created.id} {created.id_number_masked}")
        except grpc.RpcError as err:
            code, message = err.code(), err.details()
            if code == grpc.StatusCode.INVALID_ARGUMENT:
                print(f"请求被拒绝 refused: {message}")
                for name, reason in field_violations(err):
                    print(f"  字段 field {name}: {reason}")
                return 2
            if code == grpc.StatusCode.PERMISSION_DENIED:
                print(f"无权调用 not permitted: {message}")
                return 3
            print(f"调用失败 failed: {code.name} {message}")
            return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
