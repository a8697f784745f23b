"""Channels and the one interface every adapter implements. No framework imports."""

from __future__ import annotations

import hashlib
import re
from collections.abc import Collection, Mapping
from dataclasses import dataclass, field
from datetime import datetime
from enum import IntEnum, StrEnum
from typing import Protocol
from urllib.parse import parse_qs, parse_qsl, quote, urlencode, urlsplit, urlunsplit

from jinqiao.kit.errors import FieldViolation, InvalidArgument


class Channel(IntEnum):
    """Values match the proto enum ``jinqiao.notifications.v1.Channel``."""

    IN_APP = 1
    EMAIL = 2
    SMS = 3
    WEBHOOK = 4


CHANNEL_LABELS = {Channel.IN_APP: "站内信", Channel.EMAIL: "电子邮件", Channel.SMS: "短信",
                  Channel.WEBHOOK: "群机器人/接口"}
# The channels a county configures (the inbox needs no settings).
CONFIGURABLE = (Channel.EMAIL, Channel.SMS, Channel.WEBHOOK)


class Outcome(StrEnum):
    """What a channel answered for one message."""

    SENT = "sent"  # handed over (an SMTP 250); not yet confirmed at the person
    DELIVERED = "delivered"  # confirmed (in the inbox; a webhook's 2xx with its ok code)
    RETRY = "retry"  # a transient failure (connection refused, 4xx SMTP, 5xx HTTP, timeout): try again later
    BOUNCED = "bounced"  # refused for good (5xx SMTP for the mailbox, an invalid number): never again


@dataclass(frozen=True, slots=True)
class Outbound:
    """One rendered message to one opened address (kept in memory only while sending)."""

    channel: Channel
    to: str
    subject: str
    body: str
    tenant: str
    idempotency_key: str


@dataclass(frozen=True, slots=True)
class SendResult:
    """The channel's answer; ``detail`` goes to the delivery log, so it never carries the address."""

    outcome: Outcome
    detail: str = ""


@dataclass(frozen=True, slots=True)
class ChannelConfig:
    """A county's settings of one channel, secrets opened (in memory only)."""

    channel: Channel
    enabled: bool
    settings: Mapping[str, str] = field(default_factory=dict)
    secrets: Mapping[str, str] = field(default_factory=dict)
    rate_per_minute: int = 60


class Adapter(Protocol):
    """Sends one message on one channel; never raises for the far side's failures (it answers RETRY or BOUNCED)."""

    async def send(self, message: Outbound, config: ChannelConfig) -> SendResult:
        """Send ``message`` with ``config``."""
        ...


# ---- A county's settings: which keys each channel takes, which of them are secrets, and how they are checked. ----

# Shown for a secret that is stored (never the value); "" when none is.
SECRET_SET = "已设置"
# The most characters one setting may hold.
MAX_VALUE = 500
SECURITIES = ("none", "starttls", "tls")
WEBHOOK_KINDS = ("wecom", "dingtalk", "feishu", "json")
# The non-secret keys of each channel and the defaults an unset channel shows.
PLAIN_KEYS: dict[Channel, tuple[str, ...]] = {
    Channel.EMAIL: ("host", "port", "security", "username", "sender", "sender_name"),
    Channel.SMS: ("sign_name", "template_code"),
    # "categories": the notice categories (comma-separated) the robot takes besides urgent ones (deliveries reads it).
    Channel.WEBHOOK: ("kind", "categories"),
}
# Sealed keys. URLs are sealed too: a group robot's URL carries its key (…/send?key=…), a gateway's may carry a token;
# a list shows them host only, and one sent back as shown (or empty) keeps the stored.
SECRET_KEYS: dict[Channel, tuple[str, ...]] = {
    Channel.EMAIL: ("password",),
    Channel.SMS: ("url", "api_key"),
    Channel.WEBHOOK: ("url", "secret"),
}
# What an enabled channel cannot work without.
REQUIRED_KEYS: dict[Channel, tuple[str, ...]] = {
    Channel.EMAIL: ("host", "port", "security", "sender"),
    Channel.SMS: ("url", "sign_name", "api_key"),
    Channel.WEBHOOK: ("kind", "url"),
}
DEFAULTS: dict[Channel, dict[str, str]] = {
    Channel.EMAIL: {"port": "465", "security": "tls", "sender_name": "金桥平台"},
    Channel.SMS: {},
    Channel.WEBHOOK: {"kind": "wecom"},
}
DEFAULT_RATE = 60
MAX_RATE = 100000

_EMAIL = re.compile(r"[A-Za-z0-9.!#$%&'*+/=?^_`{|}~-]+@[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?"
                    r"(?:\.[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?)+")
_HOST = re.compile(r"[A-Za-z0-9](?:[A-Za-z0-9.-]{0,251}[A-Za-z0-9])?")


def configurable(value: int) -> Channel:
    """The configurable channel named on the wire, or InvalidArgument on ``channel`` (unset, in-app, unknown)."""
    try:
        channel = Channel(value)
    except ValueError:
        channel = Channel.IN_APP
    if channel not in CONFIGURABLE:
        raise InvalidArgument.field("channel", "请选择电子邮件、短信或群机器人/接口")
    return channel


def is_email(value: str) -> bool:
    """Whether ``value`` looks like one deliverable e-mail address (no display name, at most 254 characters)."""
    return len(value) <= 254 and _EMAIL.fullmatch(value) is not None


def validate_email(value: str, *, field: str) -> str:
    """The address trimmed, or InvalidArgument on ``field``."""
    address = value.strip()
    if not is_email(address):
        raise InvalidArgument.field(field, "电子邮件地址格式错误")
    return address


def mask_email(value: str) -> str:
    """Show the first character of the mailbox and the domain only (``z***@example.cn``)."""
    local, at, domain = value.strip().partition("@")
    if not at or not local:
        return "*" * len(value)
    return f"{local[0]}***@{domain}"


def _url_problem(value: str) -> str:
    """Why ``value`` is no usable http(s) URL, or ''."""
    parts = urlsplit(value)
    if parts.scheme not in ("http", "https"):
        return "应为 http:// 或 https:// 开头的地址"
    if not parts.hostname:
        return "地址中缺少主机名"
    try:
        parts.port  # noqa: B018 - raises on a malformed port
    except ValueError:
        return "地址中的端口无效"
    return ""


def carries_token(url: str) -> bool:
    """Whether a URL holds something beyond the host that may be a credential (a query, user info, a hook path)."""
    parts = urlsplit(url)
    return bool(parts.query or parts.username or parts.password or parts.path.strip("/"))


def display_url(url: str) -> str:
    """A URL as a response may show it: in full when it carries nothing secret, else its scheme and host only."""
    if not url:
        return ""
    if not carries_token(url):
        return url
    parts = urlsplit(url)
    host = parts.hostname or ""
    port = f":{parts.port}" if parts.port else ""
    return f"{parts.scheme}://{host}{port}"


@dataclass(frozen=True, slots=True)
class SettingDraft:
    """A county's settings of one channel after validation, before sealing (secrets merged with the stored)."""

    channel: Channel
    enabled: bool
    settings: dict[str, str]
    secrets: dict[str, str]
    rate_per_minute: int


def draft_setting(*, channel: Channel, enabled: bool, given: Mapping[str, str], rate_per_minute: int,
                  stored_secrets: Mapping[str, str], categories: Collection[str] = ()) -> SettingDraft:
    """Check one update (field violations named ``settings.<key>``): known keys, lengths, per-key rules (a robot's
    ``categories`` among ``categories``); a secret left empty keeps the stored one; an enabled channel has what it
    needs."""
    violations: list[FieldViolation] = []
    plain_keys, secret_keys = PLAIN_KEYS[channel], SECRET_KEYS[channel]
    settings: dict[str, str] = {}
    secrets: dict[str, str] = {k: v for k, v in stored_secrets.items() if k in secret_keys}
    for key in sorted(given):
        value = given[key].strip()
        path = f"settings.{key}"
        if key not in plain_keys and key not in secret_keys:
            violations.append(FieldViolation(path, f"{CHANNEL_LABELS[channel]}没有此设置项"))
            continue
        if len(value) > MAX_VALUE:
            violations.append(FieldViolation(path, f"不能超过{MAX_VALUE}个字符"))
            continue
        if key in secret_keys:
            # Empty keeps the stored secret; so does the masked form a list showed (a form sent back unchanged).
            if value and not (key == "url" and value == display_url(secrets.get("url", ""))):
                secrets[key] = value
            continue
        if value:
            settings[key] = value
    _check_values(channel, settings, secrets, violations)
    if "categories" in settings:
        listed = [c.strip() for c in settings["categories"].split(",") if c.strip()]
        unknown = [c for c in listed if c not in categories]
        if unknown:
            violations.append(FieldViolation("settings.categories", "含有未知的通知类别：" + "、".join(unknown)[:100]))
        else:
            settings["categories"] = ",".join(dict.fromkeys(listed))
    if enabled:
        present = {**settings, **secrets}
        violations.extend(FieldViolation(f"settings.{key}", "启用前须填写")
                          for key in REQUIRED_KEYS[channel] if not present.get(key)
                          and not any(v.field == f"settings.{key}" for v in violations))
    rate = rate_per_minute or DEFAULT_RATE
    if not 1 <= rate <= MAX_RATE:
        violations.append(FieldViolation("rate_per_minute", f"应在1至{MAX_RATE}之间"))
    if violations:
        raise InvalidArgument(violations)
    return SettingDraft(channel=channel, enabled=enabled, settings=settings, secrets=secrets, rate_per_minute=rate)


def _check_values(channel: Channel, settings: Mapping[str, str], secrets: Mapping[str, str],
                  violations: list[FieldViolation]) -> None:
    """Per-key rules of the values given or kept."""
    def bad(key: str, message: str) -> None:
        violations.append(FieldViolation(f"settings.{key}", message))

    if channel is Channel.EMAIL:
        if "host" in settings and not _HOST.fullmatch(settings["host"]):
            bad("host", "应为邮件服务器的域名或 IP 地址")
        if "port" in settings and not (settings["port"].isdigit() and 1 <= int(settings["port"]) <= 65535):
            bad("port", "应为1至65535之间的整数")
        if "security" in settings and settings["security"] not in SECURITIES:
            bad("security", "应为 none、starttls 或 tls")
        if "sender" in settings and not is_email(settings["sender"]):
            bad("sender", "电子邮件地址格式错误")
        if any(c in settings.get("sender_name", "") for c in "\r\n<>\""):
            bad("sender_name", "不能含有换行、尖括号或引号")
    elif channel is Channel.SMS:
        if "url" in secrets and (problem := _url_problem(secrets["url"])):
            bad("url", problem)
    elif channel is Channel.WEBHOOK:
        if "kind" in settings and settings["kind"] not in WEBHOOK_KINDS:
            bad("kind", "应为 wecom（企业微信）、dingtalk（钉钉）、feishu（飞书）或 json（通用接口）")
        if "url" in secrets and (problem := _url_problem(secrets["url"])):
            bad("url", problem)
        elif "url" in secrets and settings.get("kind") in ("wecom", "dingtalk", "feishu") \
                and not robot_token(settings["kind"], secrets["url"]):
            bad("url", "地址中缺少机器人密钥（请粘贴机器人的完整 Webhook 地址）")


def shown_settings(channel: Channel, settings: Mapping[str, str], secrets: Mapping[str, str]) -> dict[str, str]:
    """The settings map a response carries: the plain values (defaults for unset keys), each secret as
    ``已设置`` or '', URLs with their host only when they carry a token."""
    shown = {**DEFAULTS[channel], **{k: v for k, v in settings.items() if k in PLAIN_KEYS[channel]}}
    for key in SECRET_KEYS[channel]:
        if key == "url":
            shown["url"] = display_url(secrets.get("url", ""))
        else:
            shown[key] = SECRET_SET if secrets.get(key) else ""
    return shown


# ---- What the adapters send: pure helpers (no I/O). ----

SMS_MAX = 500


def sms_content(sign_name: str, body: str) -> str:
    """``【sign_name】`` + the body, cut to at most 500 characters (an ellipsis marks the cut)."""
    head = f"【{sign_name}】"
    text = " ".join(body.split())
    if len(head) + len(text) <= SMS_MAX:
        return head + text
    return head + text[: max(SMS_MAX - len(head) - 1, 0)] + "…"


def message_id(idempotency_key: str, sender: str) -> str:
    """A Message-ID derived from the delivery's idempotency key, so a resend of one delivery is recognisable (the key
    is hashed: it names members and events)."""
    digest = hashlib.sha256(idempotency_key.encode()).hexdigest()[:40]
    domain = sender.rpartition("@")[2] or "jinqiao.local"
    return f"<{digest}@{domain}>"


def robot_token(kind: str, url: str) -> str:
    """The robot's key in a vendor's webhook URL (WeCom ``?key=``, DingTalk ``?access_token=``, Feishu
    ``…/hook/<token>``), or ''."""
    parts = urlsplit(url)
    query = parse_qs(parts.query)
    if kind == "wecom":
        return (query.get("key") or [""])[0]
    if kind == "dingtalk":
        return (query.get("access_token") or [""])[0]
    if kind == "feishu":
        segments = [s for s in parts.path.split("/") if s]
        return segments[-1] if len(segments) >= 2 and segments[-2] == "hook" else ""
    return ""


def apprise_url(kind: str, url: str, secret: str = "") -> str:
    """The Apprise URL of a robot: ``wecombot://key``, ``dingtalk://[secret@]token/``, ``feishu://token`` or, for a
    generic JSON receiver, ``json://`` / ``jsons://`` with the URL's host, port, path and query (each argument
    as Apprise's ``-name``, which it sends on as is)."""
    if kind == "json":
        parts = urlsplit(url)
        scheme = "jsons" if parts.scheme == "https" else "json"
        # Apprise's json:// passes on only query arguments marked "-name" (its own options use the plain names).
        query = urlencode([(f"-{name}", value) for name, value in parse_qsl(parts.query, keep_blank_values=True)])
        return urlunsplit((scheme, parts.netloc, parts.path or "/", query, ""))
    token = quote(robot_token(kind, url), safe="")
    if kind == "wecom":
        return f"wecombot://{token}"
    if kind == "dingtalk":
        return f"dingtalk://{quote(secret, safe='')}@{token}/" if secret else f"dingtalk://{token}/"
    if kind == "feishu":
        return f"feishu://{token}"
    raise ValueError(f"unknown webhook kind {kind!r}")


@dataclass(frozen=True, slots=True)
class SettingView:
    """One channel's settings as a response shows them (secrets as ``已设置`` or '', token URLs host only)."""

    channel: Channel
    enabled: bool
    settings: Mapping[str, str]
    rate_per_minute: int
    updated_at: datetime | None = None
    updated_by: str = ""


# A test message's text (zh-CN); it names no person.
TEST_SUBJECT = "【金桥】测试消息"
TEST_BODY = "这是一条来自金桥平台的测试消息，用于确认本县（区）的{label}设置可用。收到即表示设置正确，无需回复。"
