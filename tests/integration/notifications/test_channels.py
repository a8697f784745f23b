"""Channels against real far sides: e-mail through a local aiosmtpd server, an SMS gateway and a webhook receiver
over local HTTP, and each county's settings through the service (secrets sealed, never shown).

Counties: 650630 (settings), 650631 (another county), 650632 (test sends), 650633 (adapters' deps).
"""

from __future__ import annotations

import asyncio
import email
import json
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from email.policy import default as default_policy
from typing import Any

import grpc
import pytest

from jinqiao.kit.auth import Role
from jinqiao.kit.runtime.ports import free_port
from jinqiao.notifications.channels import service as channel_service
from jinqiao.notifications.channels.domain import Channel, ChannelConfig, Outbound, Outcome
from jinqiao.notifications.v1 import notifications_pb2 as pb
from tests.integration.conftest import bearer
from tests.support import field_violations

COUNTY, OTHER, TESTS, ADAPTERS = "650630", "650631", "650632", "650633"
SUBJECT = "报到提醒：请于三日内到流入地党组织报到"
BODY = "流动党员同志：您的临时组织关系已转入，请按时报到。如有疑问，请查看站内信。"


def admin(issuer: Any, county: str) -> Any:
    """A county administrator's metadata."""
    return bearer(issuer.issue(user=f"admin-{county}", role=Role.COUNTY_ADMIN, scope=county)[0])


def email_config(server: Any, **overrides: str) -> ChannelConfig:
    """E-mail settings pointing at the local SMTP server (no TLS on the loopback)."""
    settings = {"host": server.host, "port": str(server.port), "security": "none", "sender": "notice@jq.example.cn",
                "sender_name": "金桥平台", **overrides}
    return ChannelConfig(channel=Channel.EMAIL, enabled=True, settings=settings)


def outbound(channel: Channel, to: str, key: str = "k-1") -> Outbound:
    """One message in zh-CN."""
    return Outbound(channel=channel, to=to, subject=SUBJECT, body=BODY, tenant=ADAPTERS, idempotency_key=key)


# ---- e-mail ----

async def test_email_arrives_with_a_zh_cn_subject_and_body_that_decode_back(make_deps, smtp_server):
    adapter = channel_service.adapter_for(deps=make_deps(), channel=Channel.EMAIL)
    result = await adapter.send(outbound(Channel.EMAIL, "li.ming@example.cn"), email_config(smtp_server))
    assert result.outcome is Outcome.SENT
    [mail] = smtp_server.received
    assert mail.recipients == ["li.ming@example.cn"] and mail.sender == "notice@jq.example.cn"
    parsed = email.message_from_bytes(mail.data, policy=default_policy)
    assert parsed["Subject"] == SUBJECT
    assert parsed["From"].addresses[0].display_name == "金桥平台"
    assert parsed.get_content().strip() == BODY
    assert parsed["Message-ID"].startswith("<") and parsed["Date"]


async def test_email_resent_for_one_delivery_has_the_same_message_id(make_deps, smtp_server):
    adapter = channel_service.adapter_for(deps=make_deps(), channel=Channel.EMAIL)
    for _ in range(2):
        await adapter.send(outbound(Channel.EMAIL, "li.ming@example.cn", key="same"), email_config(smtp_server))
    ids = {email.message_from_bytes(m.data, policy=default_policy)["Message-ID"] for m in smtp_server.received}
    assert len(smtp_server.received) == 2 and len(ids) == 1


async def test_email_refused_with_451_is_retried_later(make_deps, smtp_server):
    smtp_server.refuse = "451 4.3.0 try later"
    result = await channel_service.adapter_for(deps=make_deps(), channel=Channel.EMAIL).send(
        outbound(Channel.EMAIL, "li.ming@example.cn"), email_config(smtp_server))
    assert result.outcome is Outcome.RETRY and "451" in result.detail
    assert "li.ming" not in result.detail and smtp_server.received == []


async def test_email_refused_with_550_bounces(make_deps, smtp_server):
    smtp_server.refuse = "550 5.1.1 <li.ming@example.cn> no such user"
    result = await channel_service.adapter_for(deps=make_deps(), channel=Channel.EMAIL).send(
        outbound(Channel.EMAIL, "li.ming@example.cn"), email_config(smtp_server))
    assert result.outcome is Outcome.BOUNCED and "550" in result.detail and "li.ming" not in result.detail


async def test_email_to_a_closed_port_is_retried_later(make_deps, smtp_server):
    closed = email_config(smtp_server, port=str(free_port()))
    result = await channel_service.adapter_for(deps=make_deps(), channel=Channel.EMAIL).send(
        outbound(Channel.EMAIL, "li.ming@example.cn"), closed)
    assert result.outcome is Outcome.RETRY


# ---- SMS (a local gateway that keeps the headers too) ----

@dataclass
class Gateway:
    """A local HTTP server recording each request's headers and JSON body."""

    url: str
    requests: list[tuple[dict[str, str], Any]] = field(default_factory=list)
    status: int = 200
    reply: dict[str, Any] = field(default_factory=lambda: {"code": "OK", "message": "成功"})


@pytest.fixture
async def gateway() -> AsyncIterator[Gateway]:
    """One request per connection, HTTP/1.1."""
    port = free_port()
    box = Gateway(url=f"http://127.0.0.1:{port}/sms/send")

    async def serve(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        head = await reader.readuntil(b"\r\n\r\n")
        headers = {k.strip().lower(): v.strip() for k, _, v in
                   (line.partition(":") for line in head.decode("latin-1").split("\r\n")[1:] if line)}
        raw = await reader.readexactly(int(headers.get("content-length", "0")))
        box.requests.append((headers, json.loads(raw) if raw else None))
        payload = json.dumps(box.reply).encode()
        writer.write(f"HTTP/1.1 {box.status} X\r\nContent-Type: application/json\r\nContent-Length: {len(payload)}"
                     "\r\nConnection: close\r\n\r\n".encode() + payload)
        await writer.drain()
        writer.close()

    server = await asyncio.start_server(serve, "127.0.0.1", port)
    yield box
    server.close()
    await server.wait_closed()


def sms_config(url: str, **overrides: str) -> ChannelConfig:
    """SMS settings pointing at the local gateway."""
    return ChannelConfig(channel=Channel.SMS, enabled=True,
                         settings={"sign_name": "金桥党建", "template_code": "SMS_001", **overrides},
                         secrets={"url": url, "api_key": "sms-key-42"})


async def test_sms_posts_the_json_body_with_the_bearer_key(make_deps, gateway):
    result = await channel_service.adapter_for(deps=make_deps(), channel=Channel.SMS).send(
        outbound(Channel.SMS, "13800138000"), sms_config(gateway.url))
    assert result.outcome is Outcome.SENT
    [(headers, body)] = gateway.requests
    assert headers["authorization"] == "Bearer sms-key-42"
    assert body == {"phone": "13800138000", "sign_name": "金桥党建", "content": "【金桥党建】" + BODY,
                    "template_code": "SMS_001"}
    assert "13800138000" not in result.detail


async def test_sms_refused_with_400_bounces_and_503_is_retried(make_deps, gateway):
    adapter = channel_service.adapter_for(deps=make_deps(), channel=Channel.SMS)
    gateway.status = 400
    bounced = await adapter.send(outbound(Channel.SMS, "13800138000"), sms_config(gateway.url))
    gateway.status = 503
    retried = await adapter.send(outbound(Channel.SMS, "13800138000"), sms_config(gateway.url))
    assert (bounced.outcome, retried.outcome) == (Outcome.BOUNCED, Outcome.RETRY)
    assert len(gateway.requests) == 2


async def test_sms_to_nobody_listening_is_retried(make_deps):
    result = await channel_service.adapter_for(deps=make_deps(), channel=Channel.SMS).send(
        outbound(Channel.SMS, "13800138000"), sms_config(f"http://127.0.0.1:{free_port()}/send"))
    assert result.outcome is Outcome.RETRY


# ---- webhook ----

async def test_webhook_json_kind_arrives_with_title_and_body(make_deps, receiver):
    config = ChannelConfig(channel=Channel.WEBHOOK, enabled=True, settings={"kind": "json"},
                           secrets={"url": receiver.url + "/robot?token=t-1"})
    result = await channel_service.adapter_for(deps=make_deps(), channel=Channel.WEBHOOK).send(
        outbound(Channel.WEBHOOK, ""), config)
    assert result.outcome is Outcome.DELIVERED
    [(path, body)] = receiver.requests
    assert path == "/robot?token=t-1" and body["title"] == SUBJECT and body["message"] == BODY


async def test_webhook_answering_500_is_retried(make_deps, receiver):
    receiver.status = 500
    config = ChannelConfig(channel=Channel.WEBHOOK, enabled=True, settings={"kind": "json"},
                           secrets={"url": receiver.url + "/robot"})
    result = await channel_service.adapter_for(deps=make_deps(), channel=Channel.WEBHOOK).send(
        outbound(Channel.WEBHOOK, ""), config)
    assert result.outcome is Outcome.RETRY and len(receiver.requests) == 1


# ---- settings through the service ----

EMAIL_SETTINGS = {"host": "smtp.example.cn", "port": "465", "security": "tls", "username": "notice",
                  "sender": "notice@jq.example.cn", "sender_name": "某县委组织部", "password": "pw-Secret-9"}


async def _update(platform: Any, md: Any, channel: int, settings: dict[str, str], *, enabled: bool = True,
                  rate: int = 0) -> pb.UpdateChannelSettingResponse:
    reply: pb.UpdateChannelSettingResponse = await platform.notifications_stub.UpdateChannelSetting(
        pb.UpdateChannelSettingRequest(channel=channel, enabled=enabled, settings=settings, rate_per_minute=rate),
        metadata=md)
    return reply


async def test_secrets_never_come_back_and_are_sealed_in_the_database(platform, issuer, admin_conn_factory):
    md = admin(issuer, COUNTY)
    reply = await _update(platform, md, pb.CHANNEL_EMAIL, EMAIL_SETTINGS, rate=120)
    assert reply.setting.settings["password"] == "已设置" and reply.setting.rate_per_minute == 120
    listed = await platform.notifications_stub.ListChannelSettings(pb.ListChannelSettingsRequest(), metadata=md)
    assert [s.channel for s in listed.settings] == [pb.CHANNEL_EMAIL, pb.CHANNEL_SMS, pb.CHANNEL_WEBHOOK]
    assert "pw-Secret-9" not in str(listed) and "pw-Secret-9" not in str(reply)
    assert listed.settings[0].settings["host"] == "smtp.example.cn" and listed.settings[0].updated_by
    conn = await admin_conn_factory("notifications")
    row = await conn.fetchrow("SELECT settings::text AS s, secrets_enc FROM channel_settings"
                              " WHERE tenant_id = $1 AND channel = 2", COUNTY)
    assert b"pw-Secret-9" not in bytes(row["secrets_enc"]) and "pw-Secret-9" not in row["s"]
    audit = await conn.fetch("SELECT reason FROM audit_log WHERE tenant_id = $1 AND action = 'channel.update'",
                             COUNTY)
    assert audit and all("pw-Secret-9" not in (a["reason"] or "") for a in audit)


async def test_an_empty_secret_keeps_the_stored_one(platform, issuer, make_deps):
    md = admin(issuer, COUNTY)
    await _update(platform, md, pb.CHANNEL_SMS, {"url": "https://sms.example.cn/send", "sign_name": "金桥党建",
                                                 "api_key": "first-key"})
    await _update(platform, md, pb.CHANNEL_SMS, {"url": "https://sms.example.cn/v2/send?token=t2",
                                                 "sign_name": "金桥党建", "api_key": ""})
    deps = make_deps()
    async with deps.db.unit_of_work(tenant=COUNTY) as uow:
        config = await channel_service.config_for(uow, deps=deps, channel=Channel.SMS)
    assert config is not None and config.secrets == {"api_key": "first-key",
                                                     "url": "https://sms.example.cn/v2/send?token=t2"}
    # The URL shown (host only) sent back unchanged keeps the stored one too.
    reply = await _update(platform, md, pb.CHANNEL_SMS, {"url": "https://sms.example.cn", "sign_name": "金桥党建"})
    assert reply.setting.settings["url"] == "https://sms.example.cn" and "token=t2" not in str(reply)
    async with deps.db.unit_of_work(tenant=COUNTY) as uow:
        config = await channel_service.config_for(uow, deps=deps, channel=Channel.SMS)
    assert config is not None and config.secrets["url"] == "https://sms.example.cn/v2/send?token=t2"


async def test_a_webhook_key_in_the_url_is_never_shown(platform, issuer):
    md = admin(issuer, COUNTY)
    reply = await _update(platform, md, pb.CHANNEL_WEBHOOK, {
        "kind": "wecom", "url": "https://qyapi.weixin.qq.com/cgi-bin/webhook/send?key=robot-key-77"})
    assert reply.setting.settings["url"] == "https://qyapi.weixin.qq.com" and "robot-key-77" not in str(reply)


async def test_bad_settings_answer_field_violations(platform, issuer):
    md = admin(issuer, COUNTY)
    with pytest.raises(grpc.aio.AioRpcError) as err:
        await _update(platform, md, pb.CHANNEL_EMAIL, {"host": "smtp.example.cn", "port": "0", "security": "ssl",
                                                       "sender": "nobody", "bcc": "x"}, rate=100001)
    assert err.value.code() == grpc.StatusCode.INVALID_ARGUMENT
    assert set(field_violations(err.value)) == {"settings.port", "settings.security", "settings.sender",
                                                "settings.bcc", "rate_per_minute"}
    assert "端口" in (err.value.details() or "")
    with pytest.raises(grpc.aio.AioRpcError) as err:
        await _update(platform, md, pb.CHANNEL_WEBHOOK, {"kind": "wecom", "url": "not a url"})
    assert set(field_violations(err.value)) == {"settings.url"}


@pytest.mark.parametrize("channel", [pb.CHANNEL_IN_APP, pb.CHANNEL_UNSPECIFIED])
async def test_in_app_or_unspecified_channel_is_refused(platform, issuer, channel):
    md = admin(issuer, COUNTY)
    with pytest.raises(grpc.aio.AioRpcError) as err:
        await _update(platform, md, channel, {})
    assert err.value.code() == grpc.StatusCode.INVALID_ARGUMENT and set(field_violations(err.value)) == {"channel"}
    with pytest.raises(grpc.aio.AioRpcError) as err:
        await platform.notifications_stub.SendTestNotification(
            pb.SendTestNotificationRequest(channel=channel, to="a@example.cn"), metadata=md)
    assert set(field_violations(err.value)) == {"channel"}


async def test_another_county_admin_sees_its_own_empty_settings(platform, issuer):
    await _update(platform, admin(issuer, COUNTY), pb.CHANNEL_EMAIL, EMAIL_SETTINGS)
    listed = await platform.notifications_stub.ListChannelSettings(pb.ListChannelSettingsRequest(),
                                                                   metadata=admin(issuer, OTHER))
    email_setting = listed.settings[0]
    assert email_setting.channel == pb.CHANNEL_EMAIL and not email_setting.enabled
    assert "host" not in email_setting.settings and email_setting.settings["password"] == ""
    assert not email_setting.updated_by


async def test_a_township_officer_may_not_see_or_set_channels(platform, issuer):
    md = bearer(issuer.issue(user="township-650630", role=Role.TOWNSHIP_OFFICER, scope=COUNTY,
                             org="11111111-2222-4333-8444-555555555555")[0])
    for call in (platform.notifications_stub.ListChannelSettings(pb.ListChannelSettingsRequest(), metadata=md),
                 _update(platform, md, pb.CHANNEL_EMAIL, EMAIL_SETTINGS)):
        with pytest.raises(grpc.aio.AioRpcError) as err:
            await call
        assert err.value.code() == grpc.StatusCode.PERMISSION_DENIED


# ---- test sends ----

async def test_a_test_email_is_sent_and_writes_no_delivery(platform, issuer, smtp_server, admin_conn_factory):
    md = admin(issuer, TESTS)
    await _update(platform, md, pb.CHANNEL_EMAIL, {"host": smtp_server.host, "port": str(smtp_server.port),
                                                   "security": "none", "sender": "notice@jq.example.cn"},
                  enabled=False)
    reply = await platform.notifications_stub.SendTestNotification(
        pb.SendTestNotificationRequest(channel=pb.CHANNEL_EMAIL, to="wang@example.cn"), metadata=md)
    assert reply.status == pb.DELIVERY_STATUS_SENT and reply.detail
    [mail] = smtp_server.received
    assert mail.recipients == ["wang@example.cn"]
    assert "测试消息" in email.message_from_bytes(mail.data, policy=default_policy)["Subject"]
    conn = await admin_conn_factory("notifications")
    assert await conn.fetchval("SELECT count(*) FROM deliveries WHERE tenant_id = $1", TESTS) == 0
    assert await conn.fetchval("SELECT count(*) FROM audit_log WHERE tenant_id = $1 AND action = 'channel.test'",
                               TESTS) >= 1


async def test_a_refused_test_email_answers_bounced(platform, issuer, smtp_server):
    md = admin(issuer, TESTS)
    await _update(platform, md, pb.CHANNEL_EMAIL, {"host": smtp_server.host, "port": str(smtp_server.port),
                                                   "security": "none", "sender": "notice@jq.example.cn"})
    smtp_server.refuse = "550 5.1.1 no such user"
    reply = await platform.notifications_stub.SendTestNotification(
        pb.SendTestNotificationRequest(channel=pb.CHANNEL_EMAIL, to="wang@example.cn"), metadata=md)
    assert reply.status == pb.DELIVERY_STATUS_BOUNCED and "550" in reply.detail


async def test_a_test_send_checks_the_address(platform, issuer):
    md = admin(issuer, TESTS)
    for channel, to in ((pb.CHANNEL_EMAIL, "not-an-address"), (pb.CHANNEL_SMS, "12345")):
        with pytest.raises(grpc.aio.AioRpcError) as err:
            await platform.notifications_stub.SendTestNotification(
                pb.SendTestNotificationRequest(channel=channel, to=to), metadata=md)
        assert err.value.code() == grpc.StatusCode.INVALID_ARGUMENT and set(field_violations(err.value)) == {"to"}


async def test_a_test_send_uses_only_the_callers_county_settings(platform, issuer, smtp_server):
    await _update(platform, admin(issuer, TESTS), pb.CHANNEL_EMAIL, {
        "host": smtp_server.host, "port": str(smtp_server.port), "security": "none", "sender": "n@jq.example.cn"})
    with pytest.raises(grpc.aio.AioRpcError) as err:
        await platform.notifications_stub.SendTestNotification(
            pb.SendTestNotificationRequest(channel=pb.CHANNEL_EMAIL, to="wang@example.cn"),
            metadata=admin(issuer, "650639"))
    assert err.value.code() == grpc.StatusCode.FAILED_PRECONDITION and smtp_server.received == []
