"""The adapters: the inbox, e-mail over SMTP (aiosmtplib), an HTTP SMS gateway (httpx) and group robots (Apprise).

Each answers the far side's failures as RETRY or BOUNCED, never by raising, and its ``detail`` (kept in the delivery
log) never names the address, a secret or the far side's own words (a server's reply may quote the address).
"""

from __future__ import annotations

import asyncio
import logging
from datetime import UTC, datetime
from email.message import EmailMessage
from email.utils import format_datetime, formataddr
from typing import Any

import aiosmtplib
import apprise
import httpx

from jinqiao.notifications.channels.domain import (
    ChannelConfig,
    Outbound,
    Outcome,
    SendResult,
    apprise_url,
    is_email,
    message_id,
    sms_content,
)

log = logging.getLogger(__name__)
# The far side gets this long to answer one message.
TIMEOUT_SECONDS = 10.0
# SMS gateways' "accepted" codes (most Chinese providers answer 0, "0" or "OK").
_OK_CODES = (0, "0", "OK", "ok")


class InAppAdapter:
    """The inbox: the delivery row itself is the message, so it is delivered as soon as it is written."""

    async def send(self, message: Outbound, config: ChannelConfig) -> SendResult:
        """Answer DELIVERED (nothing leaves the platform)."""
        return SendResult(Outcome.DELIVERED, "已送达站内信")


def build_email(message: Outbound, config: ChannelConfig, *, now: datetime | None = None) -> EmailMessage:
    """The MIME message: UTF-8 subject and body, From "sender_name <sender>", To, a Message-ID derived from the
    idempotency key and the Date."""
    sender = config.settings.get("sender", "")
    mail = EmailMessage()
    mail["Subject"] = message.subject
    mail["From"] = formataddr((config.settings.get("sender_name", "") or "金桥平台", sender), charset="utf-8")
    mail["To"] = message.to
    mail["Message-ID"] = message_id(message.idempotency_key, sender)
    mail["Date"] = format_datetime(now or datetime.now(UTC))
    mail.set_content(message.body, charset="utf-8")
    return mail


class EmailAdapter:
    """E-mail through the county's SMTP server (security none, STARTTLS or implicit TLS)."""

    async def send(self, message: Outbound, config: ChannelConfig) -> SendResult:
        """250 → SENT; the mailbox refused with 5xx → BOUNCED; 4xx, refused connections, timeouts → RETRY."""
        settings, secrets = config.settings, config.secrets
        security = settings.get("security", "tls")
        if not is_email(message.to):
            return SendResult(Outcome.BOUNCED, "电子邮件地址无效")
        mail = build_email(message, config)
        try:
            await aiosmtplib.send(
                mail, hostname=settings.get("host", ""), port=int(settings.get("port", "0") or 0) or None,
                username=settings.get("username") or None, password=secrets.get("password") or None,
                use_tls=security == "tls", start_tls=security == "starttls", timeout=TIMEOUT_SECONDS)
        except aiosmtplib.SMTPRecipientsRefused as error:
            codes = [refused.code for refused in error.recipients]
            code = codes[0] if codes else 0
            return _smtp_answer(code, "邮件服务器拒收收件人")
        except (aiosmtplib.SMTPRecipientRefused, aiosmtplib.SMTPDataError) as error:
            return _smtp_answer(error.code, "邮件服务器拒收邮件")
        except aiosmtplib.SMTPAuthenticationError as error:
            # The county's credentials, not the mailbox: worth trying again once they are fixed.
            return SendResult(Outcome.RETRY, f"邮件服务器登录失败（{error.code}），请检查账号和密码")
        except aiosmtplib.SMTPResponseException as error:
            return SendResult(Outcome.RETRY, f"邮件服务器暂时无法接收（{error.code}）")
        except (aiosmtplib.SMTPTimeoutError, TimeoutError):
            return SendResult(Outcome.RETRY, "连接邮件服务器超时")
        except (aiosmtplib.SMTPException, OSError) as error:
            return SendResult(Outcome.RETRY, f"无法连接邮件服务器（{type(error).__name__}）")
        return SendResult(Outcome.SENT, "邮件服务器已接收")


def _smtp_answer(code: int, what: str) -> SendResult:
    """A refusal: 5xx is for good (BOUNCED), anything else is transient."""
    if 500 <= code < 600:
        return SendResult(Outcome.BOUNCED, f"{what}（{code}）")
    return SendResult(Outcome.RETRY, f"{what}，稍后重试（{code}）")


class SmsAdapter:
    """A generic HTTP SMS gateway: POST JSON {phone, sign_name, content, template_code?} with a Bearer key."""

    def __init__(self) -> None:
        self._client: httpx.AsyncClient | None = None

    def client(self) -> httpx.AsyncClient:
        """The kept client (built on first use, inside the running loop)."""
        if self._client is None or self._client.is_closed:
            self._client = httpx.AsyncClient(timeout=TIMEOUT_SECONDS)
        return self._client

    async def aclose(self) -> None:
        """Close the kept client."""
        if self._client is not None:
            await self._client.aclose()

    async def send(self, message: Outbound, config: ChannelConfig) -> SendResult:
        """2xx with an accepted (or no) code → SENT; 4xx → BOUNCED (bad number or sign); 5xx, timeouts → RETRY."""
        settings = config.settings
        payload: dict[str, Any] = {"phone": message.to, "sign_name": settings.get("sign_name", ""),
                                   "content": sms_content(settings.get("sign_name", ""), message.body)}
        if settings.get("template_code"):
            payload["template_code"] = settings["template_code"]
        headers = {"Authorization": f"Bearer {config.secrets.get('api_key', '')}"}
        try:
            response = await self.client().post(config.secrets.get("url", ""), json=payload, headers=headers)
        except httpx.TimeoutException:
            return SendResult(Outcome.RETRY, "短信网关响应超时")
        except (httpx.HTTPError, OSError, ValueError) as error:
            return SendResult(Outcome.RETRY, f"无法连接短信网关（{type(error).__name__}）")
        status = response.status_code
        if 400 <= status < 500:
            return SendResult(Outcome.BOUNCED, f"短信网关拒绝（HTTP {status}）：号码或签名无效")
        if not 200 <= status < 300:
            return SendResult(Outcome.RETRY, f"短信网关暂时不可用（HTTP {status}）")
        try:
            body: Any = response.json()
        except ValueError:
            body = None
        code = body.get("code") if isinstance(body, dict) else None
        if code is None or code in _OK_CODES:
            return SendResult(Outcome.SENT, "短信网关已接收")
        # A 2xx with a refusal code: providers use it for throttling as well as for bad numbers; try again.
        return SendResult(Outcome.RETRY, f"短信网关未受理（代码 {str(code)[:40]}）")


class WebhookAdapter:
    """Group robots (WeCom, DingTalk, Feishu) and a generic JSON receiver, through Apprise.

    The generic kind also goes through Apprise's ``json://`` (it reaches a plain http 127.0.0.1 receiver); it posts
    {"version", "title", "message", "type"}. Apprise does not retry by default (``service_retry = 0``): the
    delivery worker's back-off does.
    """

    async def send(self, message: Outbound, config: ChannelConfig) -> SendResult:
        """The robot took it → DELIVERED; anything else (Apprise answers no success) → RETRY."""
        kind, url = config.settings.get("kind", ""), config.secrets.get("url", "")
        try:
            target = apprise_url(kind, url, config.secrets.get("secret", ""))
        except ValueError:
            return SendResult(Outcome.RETRY, "群机器人类型无效，请检查设置")
        notifier = apprise.Apprise()
        if not notifier.add(target):
            return SendResult(Outcome.RETRY, "群机器人地址无效，请检查设置")
        try:
            result = await asyncio.wait_for(notifier.async_notify(title=message.subject, body=message.body),
                                            timeout=TIMEOUT_SECONDS * 2)
        except TimeoutError:
            return SendResult(Outcome.RETRY, "群机器人响应超时")
        except Exception as error:  # noqa: BLE001 - a plugin's failure is the far side's, never ours to raise
            log.warning("webhook send failed: %s", type(error).__name__)
            return SendResult(Outcome.RETRY, f"群机器人发送失败（{type(error).__name__}）")
        if bool(result):
            return SendResult(Outcome.DELIVERED, "群机器人已接收")
        return SendResult(Outcome.RETRY, "群机器人未接收，稍后重试")
