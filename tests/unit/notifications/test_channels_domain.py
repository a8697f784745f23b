"""The channels' pure rules: settings checked per channel, secrets never shown, what the adapters send."""

from __future__ import annotations

import email
from email.policy import default as default_policy

import pytest

from jinqiao.kit.errors import InvalidArgument
from jinqiao.notifications.channels.adapters import build_email
from jinqiao.notifications.channels.domain import (
    SECRET_SET,
    Channel,
    ChannelConfig,
    Outbound,
    apprise_url,
    configurable,
    display_url,
    draft_setting,
    mask_email,
    message_id,
    robot_token,
    shown_settings,
    sms_content,
)

WECOM = "https://qyapi.weixin.qq.com/cgi-bin/webhook/send?key=abc-123-secret"


def violations(error: pytest.ExceptionInfo[InvalidArgument]) -> dict[str, str]:
    return {v.field: v.description for v in error.value.violations}


def test_in_app_and_unspecified_channels_are_not_configurable():
    for value in (0, 1, 9):
        with pytest.raises(InvalidArgument) as error:
            configurable(value)
        assert list(violations(error)) == ["channel"]
    assert configurable(2) is Channel.EMAIL


def test_email_settings_name_each_bad_field():
    with pytest.raises(InvalidArgument) as error:
        draft_setting(channel=Channel.EMAIL, enabled=True, rate_per_minute=0, stored_secrets={},
                      given={"host": "", "port": "70000", "security": "ssl", "sender": "not-an-address",
                             "colour": "red", "sender_name": "x" * 501})
    found = violations(error)
    assert set(found) == {"settings.host", "settings.port", "settings.security", "settings.sender",
                          "settings.colour", "settings.sender_name"}
    assert "65535" in found["settings.port"] and "启用前须填写" == found["settings.host"]


def test_rate_outside_its_range_is_refused_and_zero_means_the_default():
    with pytest.raises(InvalidArgument) as error:
        draft_setting(channel=Channel.SMS, enabled=False, given={}, rate_per_minute=100001, stored_secrets={})
    assert list(violations(error)) == ["rate_per_minute"]
    assert draft_setting(channel=Channel.SMS, enabled=False, given={}, rate_per_minute=0,
                         stored_secrets={}).rate_per_minute == 60


def test_an_empty_secret_keeps_the_stored_one_and_a_new_one_replaces_it():
    kept = draft_setting(channel=Channel.EMAIL, enabled=True, rate_per_minute=10, stored_secrets={"password": "old"},
                         given={"host": "smtp.example.cn", "port": "465", "security": "tls",
                                "sender": "notice@example.cn", "password": ""})
    assert kept.secrets == {"password": "old"} and "password" not in kept.settings
    replaced = draft_setting(channel=Channel.EMAIL, enabled=False, rate_per_minute=10,
                             stored_secrets={"password": "old"}, given={"password": "new"})
    assert replaced.secrets == {"password": "new"}


def test_a_webhook_url_is_sealed_and_shown_with_its_host_only():
    draft = draft_setting(channel=Channel.WEBHOOK, enabled=True, rate_per_minute=0, stored_secrets={},
                          given={"kind": "wecom", "url": WECOM})
    assert draft.secrets["url"] == WECOM and "url" not in draft.settings
    shown = shown_settings(Channel.WEBHOOK, draft.settings, draft.secrets)
    assert shown["url"] == "https://qyapi.weixin.qq.com" and "abc-123" not in str(shown)
    # The form sent back with the shown URL keeps the stored one.
    again = draft_setting(channel=Channel.WEBHOOK, enabled=True, rate_per_minute=0, stored_secrets=draft.secrets,
                          given={"kind": "wecom", "url": shown["url"]})
    assert again.secrets["url"] == WECOM


def test_a_robot_url_without_its_key_and_a_bad_kind_are_refused():
    with pytest.raises(InvalidArgument) as error:
        draft_setting(channel=Channel.WEBHOOK, enabled=True, rate_per_minute=0, stored_secrets={},
                      given={"kind": "wecom", "url": "https://qyapi.weixin.qq.com/cgi-bin/webhook/send"})
    assert list(violations(error)) == ["settings.url"]
    with pytest.raises(InvalidArgument) as error:
        draft_setting(channel=Channel.WEBHOOK, enabled=False, rate_per_minute=0, stored_secrets={},
                      given={"kind": "slack", "url": "ftp://x"})
    assert set(violations(error)) == {"settings.kind", "settings.url"}


def test_secrets_show_as_set_or_empty_never_their_value():
    shown = shown_settings(Channel.SMS, {"sign_name": "金桥"},
                           {"url": "https://sms.example.cn/send?token=t-9", "api_key": "k-123"})
    assert shown["api_key"] == SECRET_SET and "k-123" not in str(shown) and "t-9" not in str(shown)
    assert shown["url"] == "https://sms.example.cn" and shown["sign_name"] == "金桥"
    assert shown_settings(Channel.EMAIL, {}, {})["password"] == ""


def test_urls_show_in_full_only_without_a_token():
    assert display_url("http://127.0.0.1:8080") == "http://127.0.0.1:8080"
    assert display_url("https://sms.example.cn/send?token=abc") == "https://sms.example.cn"
    assert display_url("https://u:p@sms.example.cn:8443/") == "https://sms.example.cn:8443"


def test_sms_content_carries_the_sign_and_stays_within_500_characters():
    assert sms_content("金桥", "您有一条新的报到提醒") == "【金桥】您有一条新的报到提醒"
    long = sms_content("金桥", "流" * 600)
    assert len(long) == 500 and long.startswith("【金桥】") and long.endswith("…")


def test_robot_urls_become_apprise_urls():
    assert robot_token("wecom", WECOM) == "abc-123-secret"
    assert apprise_url("wecom", WECOM) == "wecombot://abc-123-secret"
    assert apprise_url("dingtalk", "https://oapi.dingtalk.com/robot/send?access_token=tok", "SEC1") \
        == "dingtalk://SEC1@tok/"
    assert apprise_url("feishu", "https://open.feishu.cn/open-apis/bot/v2/hook/tk9") == "feishu://tk9"
    assert apprise_url("json", "http://127.0.0.1:9000/hook?a=1") == "json://127.0.0.1:9000/hook?-a=1"
    assert apprise_url("json", "https://example.cn") == "jsons://example.cn/"


def test_mask_email_keeps_the_first_character_and_the_domain():
    assert mask_email("zhangsan@example.cn") == "z***@example.cn"
    assert mask_email("nonsense") == "********"


def test_the_email_is_utf8_with_a_message_id_from_the_idempotency_key():
    config = ChannelConfig(channel=Channel.EMAIL, enabled=True,
                           settings={"sender": "notice@jq.example.cn", "sender_name": "金桥平台"})
    message = Outbound(channel=Channel.EMAIL, to="li@example.cn", subject="报到提醒：请于三日内报到",
                       body="流动党员同志：您的临时组织关系已转入。", tenant="650630", idempotency_key="k1")
    parsed = email.message_from_bytes(build_email(message, config).as_bytes(), policy=default_policy)
    assert parsed["Subject"] == "报到提醒：请于三日内报到"
    assert parsed["From"].addresses[0].display_name == "金桥平台"
    assert parsed["Message-ID"] == message_id("k1", "notice@jq.example.cn")
    assert parsed["Message-ID"] != message_id("k2", "notice@jq.example.cn")
    assert parsed.get_content().strip() == "流动党员同志：您的临时组织关系已转入。"


def test_a_robot_takes_only_known_categories():
    draft = draft_setting(channel=Channel.WEBHOOK, enabled=False, rate_per_minute=0, stored_secrets={},
                          given={"kind": "json", "categories": "overdue, sla,overdue"}, categories=("overdue", "sla"))
    assert draft.settings["categories"] == "overdue,sla"
    with pytest.raises(InvalidArgument) as error:
        draft_setting(channel=Channel.WEBHOOK, enabled=False, rate_per_minute=0, stored_secrets={},
                      given={"categories": "overdue,gossip"}, categories=("overdue",))
    assert "gossip" in violations(error)["settings.categories"]
