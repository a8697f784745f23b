"""Demo notifications (issue 15): at 固始县 the demo logins' choices (免打扰时段, 每日摘要 for 组织生活, a demo e-mail
address for the department and the offices) and the county's channels — e-mail pointed at 127.0.0.1:1025 and a
WeChat Work group robot with an example URL, both DISABLED. All through the NotificationsService gRPC API, as each
login would set them in the console, never its database.

The inbox fills by itself: the demo's flows (临时组织关系, 报到), tickets, meetings and loans are events, and the
notifications service turns them into 站内信 for the offices and members they concern.

A failure prints a warning and goes on (the demo never aborts for notifications).
"""

from __future__ import annotations

from collections.abc import Sequence

import grpc

from jinqiao.demo.flows import bearer
from jinqiao.gateway.accounts import Account
from jinqiao.gateway.settings import GatewaySettings
from jinqiao.kit.auth import Role, TokenIssuer
from jinqiao.kit.channels import open_settings_channel
from jinqiao.notifications.v1 import notifications_pb2 as pb
from jinqiao.notifications.v1 import notifications_pb2_grpc

DEMO_COUNTY = "411525"
# Roles with an inbox (an analyst sees aggregates only and has none).
PERSON_ROLES = frozenset({Role.COUNTY_ADMIN, Role.TOWNSHIP_OFFICER, Role.STATION_STAFF, Role.GUIDANCE_OFFICER,
                          Role.BRANCH_SECRETARY, Role.MEMBER, Role.BANK_OFFICER})
# `make up` runs no mail server: the e-mail channel points at a local one (e.g. `python -m aiosmtpd -n -l
# 127.0.0.1:1025`) and stays disabled until the department enables it in the console.
DEMO_SMTP = {"host": "127.0.0.1", "port": "1025", "security": "none", "sender": "noreply@jinqiao.example.com",
             "sender_name": "金桥工程（演示）"}
# An example WeChat Work group robot: the key is made up, and the channel stays disabled.
DEMO_ROBOT = {"kind": "wecom", "url": "https://qyapi.weixin.qq.com/cgi-bin/webhook/send?key=00000000-demo-0000",
              "categories": "overdue,sla"}


def _choices(account: Account) -> pb.UpdateNotificationPreferencesRequest:
    """What a demo login chose: 组织生活 folded into the 每日摘要 at 08:30, quiet hours 22:00–07:00 (the default),
    and for the offices a demo e-mail address (e-mail is off for the county until the department enables it)."""
    meeting = pb.CategoryPreference(category="meeting", digest=True, channels=[
        pb.ChannelChoice(channel=pb.CHANNEL_IN_APP, enabled=True),
        pb.ChannelChoice(channel=pb.CHANNEL_EMAIL, enabled=True),
        pb.ChannelChoice(channel=pb.CHANNEL_SMS, enabled=False)])
    request = pb.UpdateNotificationPreferencesRequest(
        categories=[meeting], quiet_hours_enabled=True, quiet_start="22:00", quiet_end="07:00", digest_time="08:30")
    if account.role is not Role.MEMBER:
        # example.com is reserved for examples: no real mailbox is ever written to.
        request.email = f"{account.username}@jinqiao.example.com"
    return request


def _token(issuer: TokenIssuer, account: Account) -> str:
    """A token as the login would get it."""
    token, _ = issuer.issue(user=account.username, role=account.role, scope=account.scope,
                            tenant=account.acting_tenant, org=account.acting_org, member=account.acting_member)
    return token


def _warn(what: str, err: BaseException) -> None:
    detail = err.details() if isinstance(err, grpc.aio.AioRpcError) else repr(err)
    print(f"演示通知：{what}未完成 demo notifications: {what} skipped: {detail}")


async def seed_notifications(*, settings: GatewaySettings, issuer: TokenIssuer, accounts: Sequence[Account],
                             county: str = DEMO_COUNTY) -> int:
    """Set the county's demo channels and its logins' choices; return how many logins' choices were set. Never
    raises: the demo goes on."""
    try:
        return await _seed(settings=settings, issuer=issuer, accounts=accounts, county=county)
    except Exception as err:  # a demo nicety must not stop `jinqiao up`
        _warn("通知设置", err)
        return 0


async def _seed(*, settings: GatewaySettings, issuer: TokenIssuer, accounts: Sequence[Account], county: str) -> int:
    people = [a for a in accounts if a.acting_tenant == county and a.role in PERSON_ROLES]
    department = next((a for a in people if a.role is Role.COUNTY_ADMIN), None)
    done = 0
    async with open_settings_channel(settings.target("notifications"), settings) as channel:
        stub: notifications_pb2_grpc.NotificationsServiceAsyncStub = (
            notifications_pb2_grpc.NotificationsServiceStub(channel))
        if department is not None:
            metadata = bearer(_token(issuer, department))
            for kind, values in ((pb.CHANNEL_EMAIL, DEMO_SMTP), (pb.CHANNEL_WEBHOOK, DEMO_ROBOT)):
                try:
                    await stub.UpdateChannelSetting(pb.UpdateChannelSettingRequest(
                        channel=kind, enabled=False, settings=values, rate_per_minute=60),
                        metadata=metadata, timeout=10)
                except grpc.aio.AioRpcError as err:
                    _warn(f"{pb.Channel.Name(kind)} 渠道", err)
        for account in people:
            try:
                await stub.UpdateNotificationPreferences(_choices(account), metadata=bearer(_token(issuer, account)),
                                                         timeout=10)
                done += 1
            except grpc.aio.AioRpcError as err:
                _warn(f"{account.username} 的通知偏好", err)
    print(f"演示通知已就绪 demo notifications seeded: channels and {done} logins' choices at {county}")
    return done
