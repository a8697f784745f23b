"""Domain errors every service raises; one interceptor maps them to gRPC status codes."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class FieldViolation:
    """One offending field (snake_case path, e.g. ``id_number``) and why, in zh-CN first."""

    field: str
    description: str


class DomainError(Exception):
    """Base of the errors a use case may raise on purpose."""

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


class NotFound(DomainError):
    """The object does not exist or lies outside the caller's tenant (the two look the same)."""


class AlreadyExists(DomainError):
    """A unique fact (e.g. the same ID number in one county) is already recorded."""


class FailedPrecondition(DomainError):
    """The object is not in a state that allows the operation."""


class Unauthenticated(DomainError):
    """No valid credentials."""


class PermissionDenied(DomainError):
    """Valid credentials, but the role may not do this."""


class ForgedEvent(PermissionDenied):
    """An event whose claimed origin disagrees with what the consumer holds: dead-lettered, never applied."""


class InvalidArgument(DomainError):
    """Input that breaks a rule; carries the field violations."""

    def __init__(self, violations: list[FieldViolation] | FieldViolation, message: str = "") -> None:
        found = [violations] if isinstance(violations, FieldViolation) else list(violations)
        super().__init__(message or "请求参数无效：" + "；".join(describe(v) for v in found))
        self.violations = found

    @classmethod
    def field(cls, field: str, description: str) -> InvalidArgument:
        """Shorthand for a single offending field."""
        return cls(FieldViolation(field, description))


# The fields users type, as the forms and the 台账 name them: a message shown to a person never names an API field.
FIELD_LABELS: dict[str, str] = {
    "name": "姓名", "id_number": "身份证号", "phone": "手机号码", "gender": "性别", "birth_date": "出生日期",
    "ethnicity": "民族", "education": "学历", "join_date": "入党日期", "full_member_date": "转正日期",
    "membership_status": "党员类别", "township": "乡镇(街道)", "village": "村(社区)", "household_address": "户籍地址",
    "occupation": "职业", "home_branch_id": "所在党支部", "reason": "理由", "update_mask": "修改的字段",
    "version": "版本", "page_size": "每页条数", "page_token": "分页标记", "page": "页码", "order_by": "排序",
    "name_contains": "姓名", "destination_code": "流入地", "industry": "行业", "address": "地址",
    "employer": "工作单位", "start_date": "开始日期", "end_date": "结束日期", "expected_months": "预计外出月数",
    "return_date": "回归日期", "transfer_date": "转出日期", "report_date": "汇报日期", "note": "备注",
    "title": "标题", "year": "年度", "grade": "等次", "code": "报到码", "home_org_id": "所属党组织",
    "application_date": "申请日期", "org_id": "党组织", "parent_id": "上级党组织",
    # Org forms, notice kinds and template kinds all name it `kind`; each message says which.
    "kind": "类别",
    "position": "职务", "place": "地点", "start_time": "开始时间", "occurred_on": "日期", "member_id": "党员",
    "flow_id": "流动记录", "id": "编号",
    "to_tenant_id": "接收转办的县（区）", "to_org_id": "建议接收的站点", "serving_org_id": "受理站点",
    "since_month": "起始月份", "until_month": "结束月份",
    "date": "日期", "notice": "通知文号", "working": "是否上班",
    "received_time": "受理时间", "member_home_tenant_id": "户籍地",
    "assignee": "处理人", "display_name": "显示名称", "queue": "队列", "content": "附件", "content_type": "文件类型",
    "filename": "文件名",
    # Loan programmes (issue 14): "programme.name" is the programme's, not a person's 姓名 (exact paths win).
    "programme.name": "项目名称", "programme.description": "项目说明", "product": "贷款产品", "sponsor": "项目主体",
    "shared_code": "共享项目代码", "bank_code": "合作银行代码", "bank_name": "合作银行",
    "cap_per_person_fen": "单户（人）贷款上限", "min_amount_fen": "最低申请金额", "max_term_months": "最长期限（月）",
    "methods": "还款方式", "rate_bp": "年利率（基点）", "subsidy_bp": "贴息（基点）", "total_quota_fen": "项目总额度",
    "window_start": "申请开始日期", "window_end": "申请截止日期", "township_final_up_to_fen": "乡镇终审金额上限",
    "review_days": "每级审核时限（工作日）", "bank_days": "银行审批时限（工作日）", "min_party_years": "入党年限",
    "min_grade": "双向评议等次", "min_age": "年龄下限", "max_age": "年龄上限",
    # Loan applications (issue 14).
    "programme_id": "贷款项目", "amount_fen": "金额", "term_months": "贷款期限", "method": "还款方式",
    "purpose": "贷款用途", "business_plan": "经营计划", "decision": "审批意见", "granted_amount_fen": "授信金额",
    "statuses": "贷款状态", "query": "搜索词",
    # Escalations (issue 15).
    "state": "状态",
    # The delivery log (issue 15).
    "status": "投递状态", "delivery_id": "投递记录",
    # Disbursement, repayments and the 贴息 claim list (issue 14).
    "disbursed_on": "放款日期", "first_due_date": "首次还款日", "paid_on": "还款日期", "period": "期间（月份或季度）",
    # Channel settings (issue 15): exact paths, since "settings.kind" is no 组织类别.
    "channel": "渠道", "to": "测试接收地址", "rate_per_minute": "每分钟发送上限", "settings.host": "邮件服务器地址",
    "settings.port": "端口", "settings.security": "加密方式", "settings.username": "登录账号",
    "settings.password": "登录密码", "settings.sender": "发件地址", "settings.sender_name": "发件人名称",
    "settings.url": "接口地址", "settings.sign_name": "短信签名", "settings.template_code": "短信模板编号",
    "settings.api_key": "接口密钥", "settings.kind": "机器人类型", "settings.secret": "签名密钥",
    "settings.categories": "推送的通知类别",
    # Inbox and notification preferences (issue 15).
    "filter": "筛选条件", "ids": "消息", "category": "消息类别", "digest": "每日摘要", "quiet_start": "免打扰开始时间",
    "quiet_end": "免打扰结束时间", "digest_time": "每日摘要时间", "email": "电子邮箱",
    # Notification templates (issue 15).
    "subject": "标题", "body": "内容",
    # The gateway's notification routes (issue 15).
    "escalation_id": "逐级提醒", "quiet_hours_enabled": "免打扰时段", "clear_email": "删除电子邮箱",
    "clear_phone": "删除手机号码", "categories": "各类别的选择", "enabled": "是否启用", "archived": "归档",
    "read": "已读", "all": "全部", "settings": "渠道设置",
}


def field_label(field: str) -> str:
    """The Chinese name of a field path (``mentors.0.name`` → its last known part), or '' when none is known."""
    if field in FIELD_LABELS:
        return FIELD_LABELS[field]
    for part in reversed(field.split(".")):
        if part in FIELD_LABELS:
            return FIELD_LABELS[part]
    return ""


def describe(violation: FieldViolation) -> str:
    """One violation as a person reads it: the field's Chinese name, then what is wrong (never the API's name)."""
    label = field_label(violation.field)
    if not label or violation.description.startswith(label):
        return violation.description
    return f"{label}：{violation.description}"
