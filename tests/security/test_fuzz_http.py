"""No input earns a server error from the gateway (issue 10, finding 2): a bounded fuzz of its whole OpenAPI.

Schemathesis turns every operation of the running gateway's own OpenAPI document into a Hypothesis strategy, valid
(positive) and schema-breaking (negative) requests alike, derandomized and with a fixed number of examples per
operation, so that a run is repeatable and bounded. A county admin of the fuzz county walks every operation, half
of its requests aimed at real objects of that county; a member and an unauthenticated caller walk a sample. Every
answer must be below 500, and every connection must be answered. Explicit cases pin the four findings.

The fuzzer is synchronous (requests): it runs in a worker thread while this loop serves the gateway, and it speaks
from a loopback address of its own, so that its failed logins count against no address another test logs in from.
"""

from __future__ import annotations

import asyncio
import json
from typing import Any

import httpx
import pytest
import requests
import schemathesis
from hypothesis import HealthCheck, Phase, given, settings
from hypothesis.errors import Unsatisfiable
from requests.adapters import HTTPAdapter
from schemathesis import GenerationMode

from jinqiao.kit.auth import Role, TokenIssuer
from tests.security.fuzzing import FUZZ_COUNTY, Tally, fuzz_world
from tests.support import id_number

pytestmark = [
    pytest.mark.timeout(900),
    # The services serve in this process, so their background tasks (reconnect jitter, relay polls) touch the global
    # random module while Hypothesis draws; it is not the strategies' randomness and the runs stay derandomized.
    pytest.mark.filterwarnings("ignore::hypothesis.errors.HypothesisDeprecationWarning"),
]

SOURCE_ADDRESS = "127.250.0.2"  # test_login_limits draws from 127.20-219.x.y
ADMIN_EXAMPLES = 15  # per operation and mode, twice (with and without real objects)
SAMPLE_EXAMPLES = 2  # per operation, for the member and the unauthenticated caller


class _FromAddress(HTTPAdapter):
    """Connections bound to one loopback source address."""

    def init_poolmanager(self, *args: Any, **kwargs: Any) -> None:
        kwargs["source_address"] = (SOURCE_ADDRESS, 0)
        super().init_poolmanager(*args, **kwargs)


def _session() -> requests.Session:
    session = requests.Session()
    session.mount("http://", _FromAddress())
    return session


def _label(case: Any) -> str:
    """The request, short enough for a failure message, with its body's characters escaped."""
    body = json.dumps(case.body, ensure_ascii=True, default=repr)[:300] if isinstance(case.body, dict | list) else ""
    return f"{case.method} {case.formatted_path} query={case.query!r} body={body}"


def _walk(schema: Any, base_url: str, tally: Tally, *, headers: dict[str, str], examples: int,
          modes: tuple[GenerationMode, ...], objects: dict[str, str] | None) -> None:
    """Send ``examples`` generated requests per operation and mode; tally every answer (never raise mid-walk)."""
    session = _session()

    def send(case: Any) -> None:
        try:
            response = case.call(base_url=base_url, session=session, headers=headers, timeout=30)
        except requests.RequestException as exc:
            tally.saw(case.operation.label, "connection", f"{_label(case)} → {type(exc).__name__}: {exc}")
            return
        status = response.status_code
        fault = f"{_label(case)} → {status} {response.text[:300]}" if status >= 500 else None
        tally.saw(case.operation.label, str(status), fault)

    config = settings(max_examples=examples, derandomize=True, database=None, deadline=None,
                      phases=[Phase.explicit, Phase.generate], suppress_health_check=list(HealthCheck))
    for result in schema.get_all_operations():
        operation = result.ok()
        fixed_sets: list[dict[str, str] | None] = [None]
        if objects is not None:
            names = {p.name for p in operation.path_parameters}
            fixed_sets = [{"tenant": FUZZ_COUNTY} if "tenant" in names else None,
                          {k: v for k, v in objects.items() if k in names} or None]
        for mode in modes:
            for fixed in fixed_sets:
                strategy = operation.as_strategy(generation_mode=mode, path_parameters=fixed, headers=headers)
                try:
                    given(case=strategy)(config(lambda case: send(case)))()
                except Unsatisfiable:
                    pass  # nothing of this operation can be broken in this mode (e.g. a GET with no parameters)
    session.close()


@pytest.fixture(scope="module")
async def fuzz_setup(platform: Any, issuer: TokenIssuer) -> dict[str, Any]:
    """The gateway's OpenAPI document, the fuzz county's objects and a token per caller."""
    world = await fuzz_world(platform, issuer)
    document = (await platform.http.get("/api/openapi.json")).json()
    return {"document": document, "objects": world["objects"], "admin": world["tokens"][Role.COUNTY_ADMIN],
            "member": world["tokens"][Role.MEMBER]}


async def test_no_generated_request_earns_a_server_error_or_goes_unanswered(platform, fuzz_setup, capsys):
    schema = schemathesis.openapi.from_dict(fuzz_setup["document"])
    tally = Tally()
    both = (GenerationMode.POSITIVE, GenerationMode.NEGATIVE)
    await asyncio.to_thread(_walk, schema, platform.base_url, tally, examples=ADMIN_EXAMPLES, modes=both,
                            headers={"authorization": f"Bearer {fuzz_setup['admin']}"},
                            objects=fuzz_setup["objects"])
    print(tally.report("county admin"))
    unanswered = [t for t, seen in tally.by_target.items() if not any(k.startswith("2") for k in seen)]
    print("never answered 2xx to the county admin:", ", ".join(sorted(unanswered)))
    member = Tally()
    await asyncio.to_thread(_walk, schema, platform.base_url, member, examples=SAMPLE_EXAMPLES, modes=both,
                            headers={"authorization": f"Bearer {fuzz_setup['member']}"},
                            objects=fuzz_setup["objects"])
    print(member.report("member"))
    anonymous = Tally()
    await asyncio.to_thread(_walk, schema, platform.base_url, anonymous, examples=SAMPLE_EXAMPLES,
                            modes=(GenerationMode.POSITIVE,), headers={}, objects=None)
    print(anonymous.report("unauthenticated"))
    faults = tally.faults + member.faults + anonymous.faults
    total = tally.requests + member.requests + anonymous.requests
    with capsys.disabled():  # the line the closing note quotes, shown in `make test` too
        print(f"\nHTTP fuzz: {total} requests, {len(faults)} answered 5xx or unanswered")
    assert not faults, "\n".join(faults[:40])


# --- The four findings, by hand --------------------------------------------------------------------------------


def _fields(reply: Any) -> dict[str, str]:
    assert reply.status_code == 422, (reply.status_code, reply.text)
    assert reply.headers["content-type"].startswith("application/problem+json")
    return {e["field"]: e["detail"] for e in reply.json()["errors"]}


async def test_nul_in_a_body_a_query_or_a_path_is_refused_422_naming_the_field(platform, fuzz_setup):
    auth = {"Authorization": f"Bearer {fuzz_setup['admin']}"}
    t = f"/api/v1/tenants/{FUZZ_COUNTY}"
    body = await platform.http.post(f"{t}/members", headers=auth,
                                    json={"name": "张\x00三", "id_number": id_number(FUZZ_COUNTY)})
    assert _fields(body)["name"] == "不能包含控制字符"
    query = await platform.http.get(f"{t}/members", params={"name": "张\x00"}, headers=auth)
    assert _fields(query)["name"] == "不能包含控制字符"
    path = await platform.http.get(f"{t}/members/%00", headers=auth)
    assert "member_id" in _fields(path)
    nested = await platform.http.post(f"{t}/orgs/{fuzz_setup['objects']['org_id']}/meetings/"
                                      f"{fuzz_setup['objects']['meeting_id']}/attendance", headers=auth,
                                      json={"entries": [{"member_id": "a\x00", "home_tenant_id": FUZZ_COUNTY,
                                                         "status": "present"}]})
    assert _fields(nested)["entries.0.member_id"] == "不能包含控制字符"


async def test_a_lone_surrogate_in_a_body_is_refused_422(platform, fuzz_setup):
    auth = {"Authorization": f"Bearer {fuzz_setup['admin']}", "Content-Type": "application/json"}
    raw = b'{"name": "\\ud800", "id_number": "%s"}' % id_number(FUZZ_COUNTY).encode()
    reply = await platform.http.post(f"/api/v1/tenants/{FUZZ_COUNTY}/members", headers=auth, content=raw)
    assert "name" in _fields(reply)


async def test_an_explicit_null_enum_is_refused_422_naming_it(platform, fuzz_setup):
    auth = {"Authorization": f"Bearer {fuzz_setup['admin']}"}
    member = f"/api/v1/tenants/{FUZZ_COUNTY}/members/{fuzz_setup['objects']['member_id']}"
    version = (await platform.http.get(member, headers=auth)).json()["version"]
    reply = await platform.http.patch(member, headers=auth, json={"version": version, "membership_status": None})
    assert "membership_status" in _fields(reply)
    org = await platform.http.post(f"/api/v1/tenants/{FUZZ_COUNTY}/orgs", headers=auth,
                                   json={"parent_id": fuzz_setup["objects"]["township_id"], "name": "空类型支部",
                                         "kind": None})
    assert "kind" in _fields(org)


@pytest.mark.parametrize("version", [2**63, 2**65, -(2**63) - 1, 10**40])
async def test_a_version_beyond_int64_is_refused_422_naming_it(platform, fuzz_setup, version):
    auth = {"Authorization": f"Bearer {fuzz_setup['admin']}"}
    objects = fuzz_setup["objects"]
    t = f"/api/v1/tenants/{FUZZ_COUNTY}"
    member = await platform.http.patch(f"{t}/members/{objects['member_id']}", headers=auth,
                                       json={"version": version, "occupation": "电工"})
    assert "version" in _fields(member)
    applicant = await platform.http.post(f"{t}/applicants/{objects['applicant_id']}/advance", headers=auth,
                                         json={"stage": "activist", "date": "2024-01-01", "version": version})
    assert "version" in _fields(applicant)


@pytest.mark.parametrize("start_time", ["9999-12-31T23:59:59-23:59", "9999-12-31T23:59:59-00:01",
                                        "0001-01-01T00:00:00+23:59", "0001-01-01T00:00:00+00:01"])
async def test_a_far_date_at_an_odd_offset_is_refused_422_naming_it(platform, fuzz_setup, start_time):
    auth = {"Authorization": f"Bearer {fuzz_setup['admin']}"}
    reply = await platform.http.post(f"/api/v1/tenants/{FUZZ_COUNTY}/orgs/{fuzz_setup['objects']['org_id']}/meetings",
                                     headers=auth, json={"type": "party_lecture", "title": "党课",
                                                         "start_time": start_time, "place": "社区党群服务中心"})
    assert _fields(reply)["start_time"] == "时间超出可表示的范围（0001-01-01 至 9999-12-31）"


@pytest.mark.parametrize("path,kwargs", [
    ("/api/v1/auth/token", {"json": {"username": "admin\x00", "password": "x"}}),
    ("/api/v1/auth/token", {"json": {"username": "admin", "password": "\x00"}}),
    ("/api/v1/auth/refresh", {"json": {"refresh_token": "\x00"}}),
    ("/api/v1/auth/client-token", {"data": {"grant_type": "client_credentials", "client_id": "a\x00",
                                            "client_secret": "x"}}),
])
async def test_nul_in_credentials_is_refused_without_a_server_error(platform, path, kwargs):
    transport = httpx.AsyncHTTPTransport(local_address=SOURCE_ADDRESS)
    async with httpx.AsyncClient(base_url=platform.base_url, transport=transport, timeout=15) as client:
        reply = await client.post(path, **kwargs)
    assert 400 <= reply.status_code < 500, (reply.status_code, reply.text)
    assert reply.headers["content-type"].startswith("application/problem+json")
