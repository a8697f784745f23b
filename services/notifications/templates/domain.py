"""Template kinds: what each notice is, its category and the facts a template may use. No framework imports.

The platform's default texts live in ``defaults.py``; rendering happens in a sandbox (``render``).
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime
from functools import lru_cache

from jinja2 import StrictUndefined, Template, TemplateError, TemplateSyntaxError, meta, nodes
from jinja2.exceptions import SecurityError
from jinja2.sandbox import ImmutableSandboxedEnvironment

from jinqiao.kit.errors import FieldViolation, InvalidArgument
from jinqiao.kit.pii import scrub
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


# ---------------------------------------------------------------------------------------------------------------------
# The sandbox. Templates are typed by a county's department and run in every send, so they get a deliberately small
# language: the kind's variables, literals, if/else, comparisons and a handful of filters. No attribute access, no
# calls, no loops, no arithmetic: nothing a notice needs, and each is a way out of the sandbox or a way to make one
# render cost minutes or gigabytes. The Jinja sandbox stays underneath as a second wall.

MAX_SUBJECT = 200
MAX_BODY = 4000
MAX_SMS_BODY = 300
# Filters a template may use (each only shortens, pads with a literal or counts).
FILTERS: tuple[str, ...] = ("default", "truncate", "length", "trim")
# Channel numbers as in channels.domain.Channel (kept as ints here so the sandbox needs no other concept).
_SMS = 3
_NO_SUBJECT = frozenset({_SMS})
_SUBJECT_REQUIRED = frozenset({1, 2})  # in-app and e-mail show a title

_ALLOWED_NODES: tuple[type[nodes.Node], ...] = (
    nodes.Template, nodes.Output, nodes.TemplateData, nodes.Name, nodes.Const, nodes.If, nodes.CondExpr,
    nodes.Filter, nodes.Test, nodes.Compare, nodes.Operand, nodes.And, nodes.Or, nodes.Not, nodes.Concat,
    nodes.Keyword,
)
_FORBIDDEN_WHAT: dict[type[nodes.Node], str] = {
    nodes.Getattr: "访问属性", nodes.Getitem: "访问属性", nodes.Call: "调用函数", nodes.For: "循环",
    nodes.Macro: "宏", nodes.CallBlock: "调用块", nodes.Import: "导入", nodes.FromImport: "导入",
    nodes.Include: "引用其他模板", nodes.Extends: "继承模板", nodes.Block: "模板块", nodes.Assign: "赋值",
    nodes.AssignBlock: "赋值", nodes.With: "with 语句", nodes.FilterBlock: "过滤块",
}

# Things that look like a person's identifiers (DESIGN §5): a template is shared text and never carries one.
_ID18 = re.compile(r"(?<![0-9])[0-9]{17}[0-9Xx](?![0-9])")
_ID15 = re.compile(r"(?<![0-9])[0-9]{15}(?![0-9])")


def _environment() -> ImmutableSandboxedEnvironment:
    env = ImmutableSandboxedEnvironment(undefined=StrictUndefined, autoescape=False, keep_trailing_newline=False)
    # Only the whitelisted filters, and no globals at all (range, cycler, joiner, namespace, lipsum, dict).
    env.filters = {name: env.filters[name] for name in FILTERS}
    env.globals = {}
    return env


_ENV = _environment()


@dataclass(frozen=True, slots=True)
class Checked:
    """A template text that passed the checks, compiled (``None`` for an empty text)."""

    source: str
    compiled: Template | None


@dataclass(frozen=True, slots=True)
class TemplateView:
    """One kind × channel as a county sees it: the default (version 0) or one of its versions."""

    kind: str
    channel: int
    subject: str
    body: str
    version: int = 0
    overridden: bool = False
    active: bool = True
    updated_at: datetime | None = None
    updated_by: str = ""


def kind_of(name: str) -> Kind:
    """The kind called ``name``, or InvalidArgument naming ``kind``."""
    found = KINDS.get(name.strip()) if isinstance(name, str) else None
    if found is None:
        raise InvalidArgument.field("kind", f"未知的通知类型：{name or '（空）'}")
    return found


def variables_hint(kind: Kind) -> str:
    """The kind's variable names joined for a message (``member_name、org_name``)."""
    return "、".join(kind.variables)


def pii_problem(text: str) -> str:
    """Why ``text`` may not be kept (an ID number or a full mobile number in it), or ''."""
    if _ID18.search(text) or _ID15.search(text):
        return "模板中不得包含身份证号（请改用变量，身份证号不会出现在任何通知中）"
    if scrub(text) != text:
        return "模板中不得包含完整手机号码"
    return ""


def _walk(node: nodes.Node) -> str:
    """Why the parsed template is outside the small language, or ''."""
    for child in node.iter_child_nodes():
        kind = type(child)
        if kind in _FORBIDDEN_WHAT or not isinstance(child, _ALLOWED_NODES):
            what = _FORBIDDEN_WHAT.get(kind, "该语法")
            return (f"模板不支持{what}：只能使用变量（{{{{ 变量名 }}}}）、条件（{{% if %}}）"
                    f"和过滤器 {'、'.join(FILTERS)}")
        if isinstance(child, nodes.Name) and child.ctx != "load":
            return "模板不支持赋值"
        if isinstance(child, nodes.Filter | nodes.Test) and child.name.startswith("_"):
            return "模板不支持该过滤器"
        if isinstance(child, nodes.Filter) and child.name not in FILTERS:
            return f"不支持的过滤器：{child.name}（可用：{'、'.join(FILTERS)}）"
        found = _walk(child)
        if found:
            return found
    return ""


def check(text: str, *, kind: Kind, field: str, limit: int) -> Checked:
    """Compile-check one template text for ``kind``: length, PII, syntax, the small language, known variables."""
    if len(text) > limit:
        raise InvalidArgument.field(field, f"长度不能超过{limit}个字符（当前{len(text)}个）")
    problem = pii_problem(text)
    if problem:
        raise InvalidArgument.field(field, problem)
    if not text.strip():
        return Checked(text, None)
    try:
        tree = _ENV.parse(text)
    except TemplateSyntaxError as exc:
        raise InvalidArgument.field(field, f"模板语法错误（第{exc.lineno}行）：请检查 {{{{ }}}} 与 {{% %}} 是否成对、"
                                           "语句是否完整") from None
    problem = _walk(tree)
    if problem:
        raise InvalidArgument.field(field, problem)
    unknown = sorted(meta.find_undeclared_variables(tree) - set(kind.variables))
    if unknown:
        raise InvalidArgument.field(field, f"未知变量：{'、'.join(unknown)}（可用：{variables_hint(kind)}）")
    try:
        compiled = _ENV.from_string(tree)
        # A trial run with the sample facts: whatever the sandbox or a filter refuses shows up here, not at send.
        compiled.render(_facts(kind, kind.sample))
    except (TemplateError, SecurityError, TypeError, ValueError, ArithmeticError) as exc:
        raise InvalidArgument.field(field, f"模板无法渲染：{type(exc).__name__}") from None
    return Checked(text, compiled)


def validate(*, kind: Kind, channel: int, subject: str, body: str) -> tuple[Checked, Checked]:
    """Both texts of a county's version checked (every problem reported at once, by field)."""
    violations: list[FieldViolation] = []
    checked: dict[str, Checked] = {}
    subject_limit = MAX_SUBJECT
    body_limit = MAX_SMS_BODY if channel == _SMS else MAX_BODY
    if channel in _NO_SUBJECT and subject.strip():
        violations.append(FieldViolation("subject", "短信没有标题，请把内容写在正文中"))
    elif channel in _SUBJECT_REQUIRED and not subject.strip():
        violations.append(FieldViolation("subject", "标题不能为空"))
    if not body.strip():
        violations.append(FieldViolation("body", "正文不能为空"))
    for name, text, limit in (("subject", subject, subject_limit), ("body", body, body_limit)):
        try:
            checked[name] = check(text, kind=kind, field=name, limit=limit)
        except InvalidArgument as exc:
            violations.extend(exc.violations)
    if violations:
        raise InvalidArgument(violations)
    return checked["subject"], checked["body"]


def _facts(kind: Kind, facts: Mapping[str, str]) -> dict[str, str]:
    """Every variable of the kind (missing ones as ''), values as text; facts of other names are dropped."""
    return {name: "" if facts.get(name) is None else str(facts.get(name)) for name in kind.variables}


@lru_cache(maxsize=1024)
def _compiled(text: str) -> Template | None:
    """A stored text compiled once (kept in the small language even if it was saved under older rules)."""
    if not text.strip():
        return None
    tree = _ENV.parse(text)
    problem = _walk(tree)
    if problem:
        raise ValueError("template outside the sandbox's language")
    return _ENV.from_string(tree)


def _clip(text: str, limit: int) -> str:
    return text if len(text) <= limit else text[: limit - 1] + "…"


def render(*, kind: Kind, channel: int, subject: Checked | str, body: Checked | str,
           facts: Mapping[str, str]) -> Rendered:
    """Render both texts with ``facts`` in the sandbox; phones and ID numbers in the output come out masked.

    Raises the sandbox's or Jinja's error for a text that fails (the caller falls back to the default)."""
    values = _facts(kind, facts)
    out: list[str] = []
    for text in (subject, body):
        compiled = text.compiled if isinstance(text, Checked) else _compiled(text)
        out.append("" if compiled is None else scrub(compiled.render(values)).strip())
    body_limit = MAX_SMS_BODY if channel == _SMS else MAX_BODY
    return Rendered(subject=_clip(" ".join(out[0].split()), MAX_SUBJECT), body=_clip(out[1], body_limit))
