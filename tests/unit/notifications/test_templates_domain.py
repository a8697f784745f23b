"""The templates' pure part: every default renders on every channel, the sandbox's small language, the PII guard."""

from __future__ import annotations

import pytest

from jinqiao.kit.errors import InvalidArgument
from jinqiao.notifications.channels.domain import Channel
from jinqiao.notifications.templates import domain
from jinqiao.notifications.templates.defaults import DEFAULTS
from jinqiao.notifications.templates.domain import KINDS

ESCALATING = ("check_in_overdue", "ticket_sla_breached", "loan_step_overdue")


def _violations(exc: pytest.ExceptionInfo[InvalidArgument]) -> dict[str, str]:
    return {v.field: v.description for v in exc.value.violations}


def _save(kind: str = "checked_in", channel: int = int(Channel.IN_APP), subject: str = "标题",
          body: str = "正文") -> None:
    domain.validate(kind=KINDS[kind], channel=channel, subject=subject, body=body)


def test_there_is_a_default_for_every_kind_on_every_channel():
    assert set(DEFAULTS) == {(kind, channel) for kind in KINDS for channel in Channel}


@pytest.mark.parametrize(("kind", "channel"), sorted(DEFAULTS, key=lambda k: (k[0], int(k[1]))))
def test_every_default_passes_the_save_checks_and_renders_its_sample(kind, channel):
    subject, body = DEFAULTS[(kind, channel)]
    checked = domain.validate(kind=KINDS[kind], channel=int(channel), subject=subject, body=body)
    rendered = domain.render(kind=KINDS[kind], channel=int(channel), subject=checked[0], body=checked[1],
                             facts=KINDS[kind].sample)
    assert rendered.body
    assert "{{" not in rendered.body and "{%" not in rendered.body
    if channel is Channel.SMS:
        assert rendered.subject == ""
        assert rendered.body.startswith("【金桥】")
        assert len(rendered.body) <= 70, rendered.body
    else:
        assert rendered.subject
    if channel is Channel.EMAIL:
        assert "请登录金桥平台处理" in rendered.body
        assert rendered.subject.startswith("【金桥】")


@pytest.mark.parametrize("kind", ESCALATING)
def test_escalation_defaults_name_the_level(kind):
    subject, _ = DEFAULTS[(kind, Channel.IN_APP)]
    rendered = domain.render(kind=KINDS[kind], channel=1, subject=subject, body="x", facts=KINDS[kind].sample)
    sample = KINDS[kind].sample
    assert f"第{sample['level']}级提醒：{sample['level_label']}" in rendered.subject


def test_missing_facts_render_as_empty_text_not_an_error():
    subject, body = DEFAULTS[("checked_in", Channel.IN_APP)]
    rendered = domain.render(kind=KINDS["checked_in"], channel=1, subject=subject, body=body, facts={})
    assert rendered.subject == "流动党员已报到"


def test_a_member_greeting_falls_back_when_the_name_is_unknown():
    _, body = DEFAULTS[("loan_overdue", Channel.EMAIL)]
    named = domain.render(kind=KINDS["loan_overdue"], channel=2, subject="", body=body, facts={"member_name": "李四"})
    unnamed = domain.render(kind=KINDS["loan_overdue"], channel=2, subject="", body=body, facts={})
    assert named.body.startswith("李四同志：")
    assert unnamed.body.startswith("您好：")


@pytest.mark.parametrize("text", [
    "{{ ''.__class__.__mro__ }}",
    "{{ cycler.__init__.__globals__ }}",
    "{{ member_name.__class__ }}",
    "{{ member_name['__class__'] }}",
    "{{ member_name.upper() }}",
    "{% for c in member_name %}{{ c }}{% endfor %}",
    "{% set x = member_name %}{{ x }}",
    "{{ member_name * 100000000 }}",
    "{% include 'other' %}",
    "{{ member_name|attr('__class__') }}",
])
def test_escapes_from_the_sandbox_are_field_violations(text):
    with pytest.raises(InvalidArgument) as exc:
        _save(body=text)
    assert "body" in _violations(exc)


def test_an_unknown_variable_is_named_with_the_ones_available():
    with pytest.raises(InvalidArgument) as exc:
        _save(subject="{{ member_nmae }}已报到")
    message = _violations(exc)["subject"]
    assert "未知变量：member_nmae" in message
    assert "member_name" in message and "checked_in_at" in message


def test_a_syntax_error_names_the_field():
    with pytest.raises(InvalidArgument) as exc:
        _save(body="{{ member_name 已报到")
    assert "语法错误" in _violations(exc)["body"]


@pytest.mark.parametrize("text", ["请核对身份证号 41152219900307123X", "身份证 411522900307123", "联系 13812341234",
                                  "电话 +86 138-1234-1234"])
def test_identifiers_typed_into_a_template_are_refused(text):
    with pytest.raises(InvalidArgument) as exc:
        _save(body=text)
    assert "不得包含" in _violations(exc)["body"]


def test_a_phone_in_the_facts_comes_out_masked():
    rendered = domain.render(kind=KINDS["checked_in"], channel=1, subject="{{ member_name }}",
                             body="{{ member_name }}：{{ org_name }}", facts={"member_name": "张三 13812341234",
                                                                         "org_name": "41152219900307123X"})
    assert "138****1234" in rendered.subject
    assert "13812341234" not in rendered.body
    assert "4115**********123X" in rendered.body


def test_limits_and_required_texts_per_channel():
    with pytest.raises(InvalidArgument) as exc:
        _save(channel=int(Channel.SMS), subject="标题", body="x" * 301)
    assert set(_violations(exc)) == {"subject", "body"}
    with pytest.raises(InvalidArgument) as exc:
        _save(channel=int(Channel.EMAIL), subject="", body="")
    assert set(_violations(exc)) == {"subject", "body"}
    with pytest.raises(InvalidArgument) as exc:
        _save(subject="标" * 201)
    assert "200" in _violations(exc)["subject"]
    _save(channel=int(Channel.SMS), subject="", body="x" * 300)


def test_whitelisted_filters_work_and_others_are_refused():
    _save(body="{{ member_name|default('某同志', true)|truncate(10) }}（{{ org_name|length }}）")
    with pytest.raises(InvalidArgument) as exc:
        _save(body="{{ member_name|format('%s') }}")
    assert "不支持的过滤器：format" in _violations(exc)["body"]


def test_an_unknown_kind_is_a_field_violation():
    with pytest.raises(InvalidArgument) as exc:
        domain.kind_of("no_such_kind")
    assert "kind" in _violations(exc)
