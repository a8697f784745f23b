"""Template kinds: what each notice is, its category and the facts a template may use. No framework imports.

The platform's default texts live in ``defaults.py``; rendering happens in a sandbox (``render``).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field

from jinqiao.notifications.preferences.domain import Category


@dataclass(frozen=True, slots=True)
class Kind:
    """One kind of notice: its label, category, the facts it may use (name → meaning) and sample facts."""

    name: str
    label: str
    category: Category
    variables: Mapping[str, str]
    sample: Mapping[str, str] = field(default_factory=dict)
    urgent: bool = False


_MEMBER = {"member_name": "党员姓名"}
_ORG = {"org_name": "组织名称"}
_TICKET = {"ticket_id": "工单编号", "category_label": "诉求类别", "org_name": "受理站点"}
_LOAN = {"member_name": "申请人姓名", "amount_yuan": "金额（元）", "programme_name": "贷款产品"}
_LEVEL = {"level": "逐级提醒的级别（1 起）", "level_label": "当前提醒的层级"}

KINDS: dict[str, Kind] = {k.name: k for k in (
    Kind("membership_offered", "临时组织关系待报到（工作站）", Category.FLOW,
         {**_MEMBER, **_ORG, "home_county": "流出县", "rule": "安排依据"},
         {"member_name": "张三", "org_name": "福安市城南驻城党建工作站", "home_county": "固始县",
          "rule": "雇主党组织"}),
    Kind("membership_offered_member", "临时组织关系已安排（党员）", Category.FLOW,
         {**_MEMBER, **_ORG, "destination": "流入地"},
         {"member_name": "张三", "org_name": "福安市城南驻城党建工作站临时党支部", "destination": "福安市"}),
    Kind("checked_in", "已报到（流出地支部）", Category.FLOW,
         {**_MEMBER, **_ORG, "checked_in_at": "报到时间"},
         {"member_name": "张三", "org_name": "福安市城南临时党支部", "checked_in_at": "2026-12-01 09:30"}),
    Kind("check_in_overdue", "报到逾期预警", Category.OVERDUE,
         {**_MEMBER, **_LEVEL, "due_date": "应报到日期", "destination": "流入地", "org_name": "接收提醒的组织"},
         {"member_name": "张三", "level": "1", "level_label": "村（社区）联络员", "due_date": "2026-11-20",
          "destination": "福安市", "org_name": "段集镇某村党支部"}, urgent=True),
    Kind("certificate_expiring", "流动党员活动证到期", Category.REMINDER,
         {**_MEMBER, "due_date": "到期日期"}, {"member_name": "张三", "due_date": "2026-12-31"}),
    Kind("report_back_due", "年度向流出地党组织汇报", Category.REMINDER,
         {**_MEMBER, "due_date": "应汇报日期"}, {"member_name": "张三", "due_date": "2026-12-31"}),
    Kind("transfer_due", "应转尽转提醒", Category.REMINDER,
         {**_MEMBER, "due_date": "外出满六个月日期", "destination": "流入地"},
         {"member_name": "张三", "due_date": "2026-12-01", "destination": "福安市"}),
    Kind("meeting_scheduled", "组织生活通知", Category.MEETING,
         {**_ORG, "title": "会议名称", "meeting_type": "会议类型", "start_time": "开始时间"},
         {"org_name": "福安市城南临时党支部", "title": "十二月主题党日", "meeting_type": "主题党日",
          "start_time": "2026-12-10 19:30"}),
    Kind("ticket_opened", "新工单进入队列", Category.TICKET, {**_TICKET, "priority": "优先级"},
         {"ticket_id": "GS-2026-000123", "category_label": "讨薪", "org_name": "城南工作站", "priority": "普通"}),
    Kind("ticket_replied", "工单有新回复", Category.TICKET, {**_TICKET, "title": "工单标题", "reply_kind": "回复类型"},
         {"ticket_id": "GS-2026-000123", "category_label": "讨薪", "org_name": "城南工作站",
          "title": "追讨 2026 年 10 月工资", "reply_kind": "办理回复"}),
    Kind("ticket_sla_warned", "工单即将超时", Category.SLA, {**_TICKET, "clock": "时限", "due_at": "到期时间"},
         {"ticket_id": "GS-2026-000123", "category_label": "讨薪", "org_name": "城南工作站", "clock": "首次响应",
          "due_at": "2026-12-02 17:30"}, urgent=True),
    Kind("ticket_sla_breached", "工单已超时（逐级提醒）", Category.SLA,
         {**_TICKET, **_LEVEL, "clock": "时限", "due_at": "到期时间"},
         {"ticket_id": "GS-2026-000123", "category_label": "讨薪", "org_name": "城南工作站", "clock": "办结",
          "due_at": "2026-12-02 17:30", "level": "2", "level_label": "乡镇党委"}, urgent=True),
    Kind("loan_review_pending", "贷款申请待审核", Category.LOAN,
         {**_LOAN, "tier_label": "审核环节", "due_at": "办理时限"},
         {"member_name": "张三", "amount_yuan": "50,000.00", "programme_name": "党员先锋贷", "tier_label": "支部推荐",
          "due_at": "2026-12-08 17:30"}),
    Kind("loan_step_overdue", "贷款审核超时（逐级提醒）", Category.LOAN,
         {**_LOAN, **_LEVEL, "tier_label": "审核环节", "due_at": "办理时限"},
         {"member_name": "张三", "amount_yuan": "50,000.00", "programme_name": "党员先锋贷", "tier_label": "乡镇审核",
          "due_at": "2026-12-08 17:30", "level": "1", "level_label": "乡镇党委"}, urgent=True),
    Kind("loan_instalment_due", "还款提醒", Category.REPAYMENT,
         {"member_name": "借款人姓名", "seq": "期数", "due_date": "应还日期", "due_yuan": "应还金额（元）",
          "bank_name": "放款银行"},
         {"member_name": "张三", "seq": "3", "due_date": "2026-12-20", "due_yuan": "1,458.33",
          "bank_name": "固始农商银行"}),
    Kind("loan_overdue", "贷款逾期提醒", Category.REPAYMENT,
         {"member_name": "借款人姓名", "days_past_due": "逾期天数", "overdue_yuan": "逾期金额（元）",
          "since": "最早未还日期", "bank_name": "放款银行"},
         {"member_name": "张三", "days_past_due": "7", "overdue_yuan": "1,458.33", "since": "2026-11-20",
          "bank_name": "固始农商银行"}, urgent=True),
)}


@dataclass(frozen=True, slots=True)
class Rendered:
    """A template's output for one channel."""

    subject: str
    body: str
