"""The HTTP edge (issue 10, findings 1 and 3): headers, no caching of personal data, local docs, bounded bodies.

Over real HTTP against the running gateway, plus the middleware driven directly over ASGI where the test must
count how much of a body the gateway consumed.
"""

from __future__ import annotations

import json
import re
from types import SimpleNamespace
from typing import Any

import pytest

from jinqiao.gateway import security
from jinqiao.kit.auth import Role
from jinqiao.kit.errors import Unauthenticated
from tests.flood import stream_body

COUNTY = "411525"
MIB = 1024 * 1024


def _assert_security_headers(headers: Any) -> None:
    csp = headers["content-security-policy"]
    assert "default-src 'self'" in csp and "script-src 'self'" in csp and "frame-ancestors 'none'" in csp
    assert "unsafe-inline" not in csp and "unsafe-eval" not in csp and "http" not in csp
    assert headers["x-frame-options"] == "DENY"
    assert headers["x-content-type-options"] == "nosniff"
    assert headers["referrer-policy"] == "no-referrer"


@pytest.mark.parametrize("path", ["/", "/members", "/healthz", "/api/openapi.json", "/api/docs",
                                  "/api/v1/me", "/api/v1/nowhere"])
async def test_every_response_carries_the_security_headers(platform, path):
    reply = await platform.http.get(path)
    _assert_security_headers(reply.headers)


async def test_api_responses_with_personal_data_are_never_cached_but_console_files_may_be(platform, issuer):
    token, _ = issuer.issue(user=f"admin-{COUNTY}", role=Role.COUNTY_ADMIN, scope=COUNTY, tenant=COUNTY)
    auth = {"Authorization": f"Bearer {token}"}
    for path in ("/api/v1/me", f"/api/v1/tenants/{COUNTY}/members", f"/api/v1/tenants/{COUNTY}/orgs"):
        reply = await platform.http.get(path, headers=auth)
        assert reply.status_code == 200, (path, reply.text)
        assert reply.headers["cache-control"] == "no-store", path
    refused = await platform.http.post("/api/v1/auth/token", json={"username": "nobody", "password": "x"})
    assert refused.headers["cache-control"] == "no-store"
    index = await platform.http.get("/")
    asset = re.search(r'src="(/assets/[^"]+\.js)"', index.text)
    assert asset, index.text
    script = await platform.http.get(asset.group(1))
    assert script.status_code == 200 and "no-store" not in script.headers.get("cache-control", "")


async def test_api_docs_load_swagger_ui_from_this_origin_only(platform):
    page = await platform.http.get("/api/docs")
    assert page.status_code == 200
    assert "cdn" not in page.text.lower() and "https://" not in page.text and "<script>" not in page.text
    for asset in ("/api/docs/swagger-ui-bundle.js", "/api/docs/swagger-ui.css", "/api/docs/init.js"):
        assert asset in page.text
        served = await platform.http.get(asset)
        assert served.status_code == 200 and len(served.content) > 0, asset
    assert "/api/openapi.json" in (await platform.http.get("/api/docs/init.js")).text


async def test_an_unauthenticated_huge_upload_is_answered_before_the_client_has_sent_it(platform):
    """A raw client declares 45 MB and sends it in pieces while listening: the 401 arrives long before the end."""
    total = 45 * MIB
    host, port = platform.base_url.removeprefix("http://").split(":")
    status, sent = await stream_body(host, int(port), f"/api/v1/tenants/{COUNTY}/imports?file_name=a.csv", total,
                                     token=None, content_type="text/csv")
    assert status == 401
    assert sent < total


async def test_an_unauthenticated_huge_declared_body_is_refused_on_its_headers(platform):
    reply = await platform.http.post("/api/v1/tenants/411525/members", content=b"{}" + b" " * (2 * MIB))
    assert reply.status_code == 401 and reply.headers["www-authenticate"] == "Bearer"


async def test_a_large_json_body_with_a_token_is_refused_413_naming_the_limit_in_chinese(platform, issuer):
    token, _ = issuer.issue(user=f"admin-{COUNTY}", role=Role.COUNTY_ADMIN, scope=COUNTY, tenant=COUNTY)
    body = json.dumps({"name": "x" * (2 * MIB)}).encode()
    reply = await platform.http.post(f"/api/v1/tenants/{COUNTY}/members", content=body,
                                     headers={"Authorization": f"Bearer {token}",
                                              "Content-Type": "application/json"})
    assert reply.status_code == 413
    assert reply.headers["content-type"].startswith("application/problem+json")
    problem = reply.json()
    assert problem["status"] == 413 and "1 MB" in problem["detail"] and "不能超过" in problem["detail"]
    _assert_security_headers(reply.headers)


async def test_an_import_larger_than_the_registry_allows_still_gets_the_routes_own_message(platform, issuer):
    token, _ = issuer.issue(user=f"admin-{COUNTY}", role=Role.COUNTY_ADMIN, scope=COUNTY, tenant=COUNTY)
    reply = await platform.http.post(f"/api/v1/tenants/{COUNTY}/imports?file_name=a.csv",
                                     content=b"x" * (21 * MIB),
                                     headers={"Authorization": f"Bearer {token}", "Content-Type": "text/csv"})
    assert reply.status_code == 413
    assert reply.json()["detail"] == "文件不能超过 20 MB，请拆分后分批导入"


# --- The middleware over ASGI: how much of the body it consumed -------------------------------------------------


class _Verifier:
    def verify(self, token: str) -> object:
        if token != "good":
            raise Unauthenticated("身份凭证无效")
        return object()


def _scope(path: str, headers: list[tuple[bytes, bytes]], method: str = "POST") -> dict[str, Any]:
    app = SimpleNamespace(state=SimpleNamespace(gateway=SimpleNamespace(verifier=_Verifier())))
    return {"type": "http", "method": method, "path": path, "headers": headers, "app": app}


async def _drive(scope: dict[str, Any], chunks: int, chunk_size: int = 64 * 1024) -> tuple[int, int, dict, bool]:
    """Run the middleware over a JSON route that reads its whole body; (status, bytes consumed, body, app ran)."""
    consumed, sent = 0, []
    ran = False

    async def receive() -> dict[str, Any]:
        nonlocal consumed
        consumed += chunk_size
        return {"type": "http.request", "body": b"x" * chunk_size, "more_body": consumed < chunks * chunk_size}

    async def send(message: dict[str, Any]) -> None:
        sent.append(message)

    async def app(scope: dict[str, Any], receive: Any, send: Any) -> None:
        nonlocal ran
        ran = True
        while (await receive()).get("more_body"):
            pass
        await send({"type": "http.response.start", "status": 200, "headers": []})
        await send({"type": "http.response.body", "body": b"{}"})

    await security.EdgeMiddleware(app)(scope, receive, send)
    body = json.loads(sent[1]["body"]) if sent[1]["body"] != b"{}" else {}
    return sent[0]["status"], consumed, body, ran


async def test_a_request_without_a_token_is_refused_before_any_of_its_body_is_read():
    status, consumed, body, ran = await _drive(_scope(f"/api/v1/tenants/{COUNTY}/members", []), chunks=720)
    assert (status, consumed, ran) == (401, 0, False)
    assert body["title"] == "未登录或登录已过期"


async def test_a_body_without_content_length_is_cut_off_just_past_the_limit():
    scope = _scope(f"/api/v1/tenants/{COUNTY}/members", [(b"authorization", b"Bearer good")])
    status, consumed, body, ran = await _drive(scope, chunks=720)  # 45 MB if read to the end
    assert status == 413 and ran
    assert security.DEFAULT_BODY_LIMIT < consumed <= security.DEFAULT_BODY_LIMIT + 64 * 1024
    assert body["detail"] == "请求内容不能超过 1 MB"


async def test_a_declared_content_length_over_the_limit_is_refused_unread():
    scope = _scope(f"/api/v1/tenants/{COUNTY}/members",
                   [(b"authorization", b"Bearer good"), (b"content-length", str(45 * MIB).encode())])
    status, consumed, _, ran = await _drive(scope, chunks=720)
    assert (status, consumed, ran) == (413, 0, False)


async def test_the_import_route_accepts_bodies_up_to_its_larger_limit():
    scope = _scope(f"/api/v1/tenants/{COUNTY}/imports", [(b"authorization", b"Bearer good")])
    status, consumed, _, _ = await _drive(scope, chunks=2 * 16)  # 2 MiB
    assert status == 200 and consumed == 2 * MIB
    assert security.body_limit(security.route_of("POST", f"/api/v1/tenants/{COUNTY}/imports")) > 20 * MIB


async def test_the_public_login_route_needs_no_token_but_is_bounded():
    status, _, _, ran = await _drive(_scope("/api/v1/auth/token", []), chunks=2)
    assert status == 200 and ran
    status, _, _, _ = await _drive(_scope("/api/v1/auth/token", []), chunks=40)
    assert status == 413
