"""Templates on real PostgreSQL through the service: a county's override used for that county only, versions kept
when it goes back to the default, the sandbox refusing escapes as field violations, previews, and the county
department alone. Counties 650640–650649 are this module's alone."""

from __future__ import annotations

import uuid

import grpc
import pytest

from jinqiao.kit.auth import Role
from jinqiao.notifications.channels.domain import Channel
from jinqiao.notifications.templates import service as templates
from jinqiao.notifications.templates.defaults import DEFAULTS
from jinqiao.notifications.templates.domain import KINDS
from jinqiao.notifications.v1 import notifications_pb2 as pb
from tests.integration.conftest import bearer
from tests.support import field_violations

COUNTY, OTHER, THIRD = "650640", "650641", "650642"
IN_APP, SMS = pb.Channel.CHANNEL_IN_APP, pb.Channel.CHANNEL_SMS


async def _save(platform, token: str, *, kind: str = "checked_in", channel: int = IN_APP, subject: str = "",
                body: str = "") -> pb.Template:
    reply = await platform.notifications_stub.SaveTemplate(
        pb.SaveTemplateRequest(kind=kind, channel=channel, subject=subject, body=body), metadata=bearer(token))
    return reply.template


async def _render(make_deps, county: str, kind: str, channel: Channel, facts: dict[str, str]):
    deps = make_deps()
    async with deps.db.unit_of_work(tenant=county) as uow:
        return await templates.render(uow, kind=kind, channel=channel, facts=facts)


async def test_list_shows_every_kind_on_every_channel_with_its_variables(platform, county_token):
    reply = await platform.notifications_stub.ListTemplates(pb.ListTemplatesRequest(),
                                                            metadata=bearer(county_token(THIRD)))
    assert len(reply.templates) == len(KINDS) * len(Channel)
    first = next(t for t in reply.templates if t.kind == "check_in_overdue" and t.channel == IN_APP)
    assert (first.version, first.overridden, first.kind_label) == (0, False, "报到逾期预警")
    assert {v.name: v.label for v in first.variables}["member_name"] == "党员姓名"
    assert "第{{ level }}级提醒：{{ level_label }}" in first.subject


async def test_a_county_override_is_used_for_that_county_only_and_reset_keeps_the_versions(
        platform, county_token, make_deps, admin_conn_factory):
    token = county_token(COUNTY)
    facts = {"member_name": "王五", "org_name": "城南临时党支部", "checked_in_at": "2026-12-01 09:30"}
    first = await _save(platform, token, subject="{{ member_name }}报到了", body="第一版：{{ org_name }}")
    second = await _save(platform, token, subject="{{ member_name }}已到{{ org_name }}报到",
                         body="请核对台账（{{ checked_in_at }}）")
    assert (first.version, second.version) == (1, 2)
    assert second.overridden and second.updated_by == f"admin-{COUNTY}" and second.updated_at

    here = await _render(make_deps, COUNTY, "checked_in", Channel.IN_APP, facts)
    assert (here.subject, here.body) == ("王五已到城南临时党支部报到", "请核对台账（2026-12-01 09:30）")
    there = await _render(make_deps, OTHER, "checked_in", Channel.IN_APP, facts)
    assert there.subject == "流动党员王五已报到"

    listed = await platform.notifications_stub.ListTemplates(pb.ListTemplatesRequest(), metadata=bearer(token))
    mine = next(t for t in listed.templates if t.kind == "checked_in" and t.channel == IN_APP)
    assert (mine.version, mine.overridden) == (2, True)

    reset = await platform.notifications_stub.ResetTemplate(
        pb.ResetTemplateRequest(kind="checked_in", channel=IN_APP), metadata=bearer(token))
    assert (reset.template.version, reset.template.overridden) == (0, False)
    back = await _render(make_deps, COUNTY, "checked_in", Channel.IN_APP, facts)
    assert back.subject == "流动党员王五已报到"

    got = await platform.notifications_stub.GetTemplate(
        pb.GetTemplateRequest(kind="checked_in", channel=IN_APP), metadata=bearer(token))
    assert got.template.version == 0
    assert got.default_template.subject == DEFAULTS[("checked_in", Channel.IN_APP)][0]
    assert [v.version for v in got.versions] == [2, 1]

    third = await _save(platform, token, subject="{{ member_name }}报到", body="第三版")
    assert third.version == 3
    conn = await admin_conn_factory("notifications")
    actions = await conn.fetch("SELECT action FROM audit_log WHERE tenant_id = $1 AND object_type ="
                               " 'notification_template' ORDER BY seq", COUNTY)
    assert [r["action"] for r in actions][-4:] == ["template.save", "template.save", "template.reset",
                                                   "template.save"]


async def test_another_county_sees_none_of_this_countys_versions(platform, county_token):
    await _save(platform, county_token("650643"), kind="ticket_opened", subject="新工单{{ ticket_id }}",
                body="请受理")
    got = await platform.notifications_stub.GetTemplate(
        pb.GetTemplateRequest(kind="ticket_opened", channel=IN_APP), metadata=bearer(county_token("650644")))
    assert list(got.versions) == []
    assert got.template.version == 0 and not got.template.overridden


@pytest.mark.parametrize("body", ["{{ ''.__class__.__mro__ }}", "{{ cycler.__init__.__globals__ }}",
                                  "{{ org_name.__class__.__base__.__subclasses__() }}"])
async def test_sandbox_escapes_are_invalid_argument_not_internal(platform, county_token, body):
    with pytest.raises(grpc.aio.AioRpcError) as err:
        await _save(platform, county_token("650645"), subject="标题", body=body)
    assert err.value.code() == grpc.StatusCode.INVALID_ARGUMENT
    assert "body" in field_violations(err.value)


async def test_an_unknown_variable_is_named_and_an_id_number_is_refused(platform, county_token):
    token = county_token("650645")
    with pytest.raises(grpc.aio.AioRpcError) as err:
        await _save(platform, token, subject="{{ membr_name }}已报到", body="身份证号 41152219900307123X")
    violations = field_violations(err.value)
    assert err.value.code() == grpc.StatusCode.INVALID_ARGUMENT
    assert "未知变量：membr_name" in violations["subject"] and "member_name" in violations["subject"]
    assert "身份证号" in violations["body"]


async def test_unknown_kind_and_unspecified_channel_are_field_violations(platform, county_token):
    token = county_token("650645")
    for call, request in ((platform.notifications_stub.GetTemplate, pb.GetTemplateRequest(kind="nope", channel=0)),
                          (platform.notifications_stub.PreviewTemplate,
                           pb.PreviewTemplateRequest(kind="nope", channel=0, body="x"))):
        with pytest.raises(grpc.aio.AioRpcError) as err:
            await call(request, metadata=bearer(token))
        assert err.value.code() == grpc.StatusCode.INVALID_ARGUMENT
        assert set(field_violations(err.value)) == {"kind", "channel"}


async def test_preview_renders_the_sample_and_masks_a_phone(platform, county_token, make_deps):
    token = county_token("650646")
    draft = await platform.notifications_stub.PreviewTemplate(
        pb.PreviewTemplateRequest(kind="loan_overdue", channel=SMS,
                                  body="【金桥】{{ member_name }}逾期{{ days_past_due }}天"), metadata=bearer(token))
    assert (draft.subject, draft.body) == ("", "【金桥】张三逾期7天")
    in_use = await platform.notifications_stub.PreviewTemplate(
        pb.PreviewTemplateRequest(kind="loan_overdue", channel=SMS), metadata=bearer(token))
    assert in_use.body == "【金桥】您的贷款已逾期7天，逾期金额1,458.33元，请尽快还款。"
    with pytest.raises(grpc.aio.AioRpcError) as err:
        await platform.notifications_stub.PreviewTemplate(
            pb.PreviewTemplateRequest(kind="loan_overdue", channel=SMS, subject="标题", body="{{ x }}"),
            metadata=bearer(token))
    assert set(field_violations(err.value)) == {"subject", "body"}
    rendered = await _render(make_deps, "650646", "checked_in", Channel.SMS,
                             {"member_name": "张三（13812341234）", "org_name": "城南", "checked_in_at": "今天"})
    assert "138****1234" in rendered.body and "13812341234" not in rendered.body


async def test_a_broken_county_version_falls_back_to_the_default_at_send_time(platform, make_deps,
                                                                                admin_conn_factory):
    conn = await admin_conn_factory("notifications")
    # Saved under some older rule: now outside the sandbox's language.
    await conn.execute("INSERT INTO templates (tenant_id, kind, channel, version, subject, body, active)"
                       " VALUES ($1, 'checked_in', 1, 1, '{{ member_name.__class__ }}', 'x', true)", "650647")
    rendered = await _render(make_deps, "650647", "checked_in", Channel.IN_APP, {"member_name": "赵六"})
    assert rendered.subject == "流动党员赵六已报到"


async def test_a_township_officer_may_not_touch_templates(platform, issuer):
    token = issuer.issue(user="township-650648", role=Role.TOWNSHIP_OFFICER, scope="650648",
                         org=str(uuid.uuid4()))[0]
    for call, request in ((platform.notifications_stub.ListTemplates, pb.ListTemplatesRequest()),
                          (platform.notifications_stub.SaveTemplate,
                           pb.SaveTemplateRequest(kind="checked_in", channel=IN_APP, subject="a", body="b"))):
        with pytest.raises(grpc.aio.AioRpcError) as err:
            await call(request, metadata=bearer(token))
        assert err.value.code() == grpc.StatusCode.PERMISSION_DENIED
