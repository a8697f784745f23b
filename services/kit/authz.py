"""The authorization table: each permission, the roles that hold it and the scope rule of each grant.

Every service and the gateway ask this table instead of keeping role sets of their own (DESIGN §5): every gRPC
method is named in ``METHODS`` (the servers' interceptor refuses a role without a grant before the use case runs),
every HTTP route in the gateway's route table; the use case then applies the grant's scope rule to the object.

A county's own system (role ``county_system``, a service account) holds a grant only where the table names its role
AND its token names the permission (``holds``): its administrator gives each client the few it needs, out of
``GRANTABLE``. County systems call gRPC only; the gateway's HTTP routes refuse them (``require_route``).
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum

from jinqiao.kit.auth import Principal, Role
from jinqiao.kit.errors import PermissionDenied


class Reach(StrEnum):
    """How far a grant reaches inside the county it acts on (its scope rule)."""

    COUNTY = "county"  # the whole tenant
    TOWNSHIP = "township_subtree"  # the caller's township (乡镇党委) and everything under it
    ORG_SUBTREE = "org_subtree"  # the caller's organisation and everything under it
    OWN_ORG = "own_org"  # the caller's organisation only
    SELF = "self"  # the caller's own person
    AGGREGATE = "aggregate"  # counts over a scope inside the caller's, never a person
    BANK = "bank"  # the objects of the caller's partner bank (the loans of its programmes) in the county


class Permission(StrEnum):
    """What a caller may do; the value names it in logs and tests."""

    SESSION = "session"  # who am I (GET /me)
    MEMBERS_READ = "members.read"
    MEMBERS_WRITE = "members.write"
    MEMBERS_REVEAL = "members.reveal"
    MEMBERS_ERASE = "members.erase"
    MEMBERS_END = "members.end"
    FLOWS_WRITE = "flows.write"
    DEVELOPMENT_READ = "development.read"
    DEVELOPMENT_WRITE = "development.write"
    LEDGERS_EXPORT = "ledgers.export"
    ORGS_READ = "orgs.read"
    ORGS_WRITE = "orgs.write"
    ORG_LIFE_WRITE = "org_life.write"
    PLACEMENT_WRITE = "placement.write"
    MEMBERSHIPS_HANDLE = "memberships.handle"
    MEMBERSHIPS_SELF_CHECK_IN = "memberships.self_check_in"
    INSIGHTS_READ = "insights.read"
    # A county department managing its county systems' service accounts (create, rotate, disable).
    INTEGRATIONS_MANAGE = "integrations.manage"
    # Dead letters of the county's consumers: list, inspect and replay (issue 11).
    DEAD_LETTERS_MANAGE = "dead_letters.manage"
    # 预警 cases (overdue 报到 etc.): list, acknowledge and close within the caller's reach (issue 12).
    ALERTS_HANDLE = "alerts.handle"
    # The service desk (issue 13). Filing a request and following it up (messages, files, 回访, reopening); reading
    # tickets; handling them (accept, work, assign, resolve, duty); referring them across counties (转办).
    TICKETS_FILE = "tickets.file"
    TICKETS_READ = "tickets.read"
    TICKETS_HANDLE = "tickets.handle"
    TICKETS_REFER = "tickets.refer"
    # The county's desk settings: categories (forms, queues, SLA policies) and its own calendar days.
    DESK_CONFIGURE = "desk.configure"
    # The working-day calendar: read by every desk office and analyst; the province enters a year's arrangement.
    CALENDAR_READ = "calendar.read"
    CALENDAR_MANAGE = "calendar.manage"
    # Micro-loans (issue 14): the county's programmes; applying (a member for themself, staff on their behalf);
    # reading loans; the public review tiers (支部推荐 → 乡镇审核 → 县级审批); the partner bank's side (credit decision,
    # disbursement, repayments); the 贴息 claim list for the finance department.
    LOAN_PROGRAMMES_READ = "loan_programmes.read"
    LOAN_PROGRAMMES_MANAGE = "loan_programmes.manage"
    LOANS_APPLY = "loans.apply"
    LOANS_READ = "loans.read"
    LOANS_REVIEW = "loans.review"
    LOANS_BANK = "loans.bank"
    LOAN_SUBSIDIES_READ = "loan_subsidies.read"
    # Notifications (issue 15): a person's own inbox, escalations told to them and choices; the county
    # department's delivery log, templates, channel settings and escalations.
    NOTIFICATIONS_INBOX = "notifications.inbox"
    NOTIFICATIONS_ADMIN = "notifications.admin"


# A role's widest reach: how far its org-bound grants go (a role not named here reaches the whole county).
REACH: dict[Role, Reach] = {
    Role.PROVINCE_ANALYST: Reach.AGGREGATE,
    Role.CITY_ANALYST: Reach.AGGREGATE,
    Role.TOWNSHIP_OFFICER: Reach.TOWNSHIP,
    Role.STATION_STAFF: Reach.ORG_SUBTREE,
    Role.GUIDANCE_OFFICER: Reach.ORG_SUBTREE,
    Role.BRANCH_SECRETARY: Reach.OWN_ORG,
    Role.MEMBER: Reach.SELF,
    Role.BANK_OFFICER: Reach.BANK,
}

_COUNTY = {Role.COUNTY_ADMIN: Reach.COUNTY}
_STAFF = {Role.COUNTY_ADMIN: Reach.COUNTY, Role.TOWNSHIP_OFFICER: Reach.TOWNSHIP,
          Role.STATION_STAFF: Reach.ORG_SUBTREE, Role.GUIDANCE_OFFICER: Reach.ORG_SUBTREE,
          Role.BRANCH_SECRETARY: Reach.OWN_ORG}
# A county system works on its own county's records as the county department's systems do, never beyond it; it is
# never given members.reveal (a full ID number is a person's act with a reason), nor the department's own settings.
_SYSTEM = {Role.COUNTY_SYSTEM: Reach.COUNTY}
# The offices that serve members' requests: the county department, a township committee for its township, a
# station (驻城党建工作站, 服务中心, its grid leaders) and a guidance office for the queues in their subtree.
_DESK = {Role.COUNTY_ADMIN: Reach.COUNTY, Role.TOWNSHIP_OFFICER: Reach.TOWNSHIP,
         Role.STATION_STAFF: Reach.ORG_SUBTREE, Role.GUIDANCE_OFFICER: Reach.ORG_SUBTREE}
# The offices a loan application passes (支部推荐 → 乡镇审核 → 县级审批), each over the members of its reach.
_LOAN_PATH = {Role.COUNTY_ADMIN: Reach.COUNTY, Role.TOWNSHIP_OFFICER: Reach.TOWNSHIP,
              Role.BRANCH_SECRETARY: Reach.OWN_ORG}

# Permission → {role: the scope rule of its grant}. A role not named holds no grant (denied by default).
TABLE: dict[Permission, dict[Role, Reach]] = {
    # Who am I (GET /me) is an HTTP session's question; a county system has none.
    Permission.SESSION: {role: Reach.SELF for role in Role if role is not Role.COUNTY_SYSTEM},
    # A member reads its own record (and its flows, notebook) only. Below the county, a township committee, a
    # guidance office and a branch read the roster of their reach (members whose home branch lies in it, masked);
    # county-wide reads (flows, returnees, policy) stay the county department's.
    Permission.MEMBERS_READ: {Role.COUNTY_ADMIN: Reach.COUNTY, Role.TOWNSHIP_OFFICER: Reach.TOWNSHIP,
                              Role.GUIDANCE_OFFICER: Reach.ORG_SUBTREE, Role.BRANCH_SECRETARY: Reach.OWN_ORG,
                              Role.MEMBER: Reach.SELF, **_SYSTEM},
    Permission.MEMBERS_WRITE: {**_COUNTY, **_SYSTEM},
    # Revealing a full ID number is the county department's act alone, always audited with a reason.
    Permission.MEMBERS_REVEAL: _COUNTY,
    # Erasing a departed member's personal fields at once (before the retention period) is the county department's
    # act alone, with a reason, audited; a county system erases only through the scheduled job, never on request.
    Permission.MEMBERS_ERASE: _COUNTY,
    # Ending a record (去世, 退党, 除名, 开除党籍) is the county department's decision, audited with a reason.
    Permission.MEMBERS_END: _COUNTY,
    Permission.FLOWS_WRITE: {**_COUNTY, **_SYSTEM},
    # Applicants are persons: each office sees those whose home organisation lies in its own reach.
    Permission.DEVELOPMENT_READ: {Role.COUNTY_ADMIN: Reach.COUNTY, Role.TOWNSHIP_OFFICER: Reach.TOWNSHIP,
                                  Role.GUIDANCE_OFFICER: Reach.ORG_SUBTREE, Role.BRANCH_SECRETARY: Reach.OWN_ORG,
                                  **_SYSTEM},
    Permission.DEVELOPMENT_WRITE: {Role.COUNTY_ADMIN: Reach.COUNTY, Role.TOWNSHIP_OFFICER: Reach.TOWNSHIP, **_SYSTEM},
    # A township committee exports its own township's rows: each sheet is read through the same gRPC lists,
    # whose scope rule confines every row (a list it may not read refuses the whole sheet).
    Permission.LEDGERS_EXPORT: {Role.COUNTY_ADMIN: Reach.COUNTY, Role.TOWNSHIP_OFFICER: Reach.TOWNSHIP},
    Permission.ORGS_READ: {**_STAFF, **_SYSTEM},
    Permission.ORGS_WRITE: {Role.COUNTY_ADMIN: Reach.COUNTY, Role.TOWNSHIP_OFFICER: Reach.TOWNSHIP},
    # 组织生活 (三会一课, attendance, 七有) is kept by whoever runs the organisation: a branch secretary its own branch,
    # a guidance officer or station its subtree; the tree's shape (ORGS_WRITE) stays with the county and townships.
    Permission.ORG_LIFE_WRITE: dict(_STAFF),
    # The placement rules bind every township of the county: the county department sets them.
    Permission.PLACEMENT_WRITE: _COUNTY,
    Permission.MEMBERSHIPS_HANDLE: {**_STAFF, **_SYSTEM},
    # 扫码报到: the member's own membership, named by the verified token, in the code's organisation.
    Permission.MEMBERSHIPS_SELF_CHECK_IN: {Role.MEMBER: Reach.SELF},
    Permission.INSIGHTS_READ: {Role.PROVINCE_ANALYST: Reach.AGGREGATE, Role.CITY_ANALYST: Reach.AGGREGATE,
                               Role.COUNTY_ADMIN: Reach.AGGREGATE, Role.COUNTY_SYSTEM: Reach.AGGREGATE},
    Permission.INTEGRATIONS_MANAGE: _COUNTY,
    # The county department replays its county's dead letters; the platform's operator (``jinqiao dead-letters``,
    # a short-lived service token for one county) too. Neither a county system nor anyone below the county.
    Permission.DEAD_LETTERS_MANAGE: {Role.COUNTY_ADMIN: Reach.COUNTY, Role.SERVICE: Reach.COUNTY},
    # 预警 are handled by the county department and, for members of its township, by the township committee.
    Permission.ALERTS_HANDLE: {Role.COUNTY_ADMIN: Reach.COUNTY, Role.TOWNSHIP_OFFICER: Reach.TOWNSHIP},
    # A member files and follows up their own requests; the desk offices those of the queues in their reach.
    Permission.TICKETS_FILE: {**_DESK, Role.MEMBER: Reach.SELF},
    Permission.TICKETS_READ: {**_DESK, Role.MEMBER: Reach.SELF},
    Permission.TICKETS_HANDLE: dict(_DESK),
    # 转办 binds the county: the department, or a station for the tickets of its own queue.
    Permission.TICKETS_REFER: {Role.COUNTY_ADMIN: Reach.COUNTY, Role.STATION_STAFF: Reach.ORG_SUBTREE},
    Permission.DESK_CONFIGURE: _COUNTY,
    Permission.CALENDAR_READ: {**_DESK, Role.PROVINCE_ANALYST: Reach.AGGREGATE, Role.CITY_ANALYST: Reach.AGGREGATE},
    # The State Council's notice is entered once, by the province, for every county.
    Permission.CALENDAR_MANAGE: {Role.PROVINCE_ANALYST: Reach.AGGREGATE},
    # Programmes are public terms: every office on the review path, the member and the partner bank read them; the
    # county department sets them.
    Permission.LOAN_PROGRAMMES_READ: {**_LOAN_PATH, Role.MEMBER: Reach.SELF, Role.BANK_OFFICER: Reach.BANK},
    Permission.LOAN_PROGRAMMES_MANAGE: _COUNTY,
    # A member applies for themself; the offices on the review path apply on behalf of members in their reach.
    Permission.LOANS_APPLY: {**_LOAN_PATH, Role.MEMBER: Reach.SELF},
    Permission.LOANS_READ: {**_LOAN_PATH, Role.MEMBER: Reach.SELF, Role.BANK_OFFICER: Reach.BANK},
    # Each office decides its own tier only (the branch recommends, the township reviews, the county approves).
    Permission.LOANS_REVIEW: dict(_LOAN_PATH),
    Permission.LOANS_BANK: {Role.BANK_OFFICER: Reach.BANK},
    # 贴息 is claimed from public finance by the county (with the bank that lent).
    Permission.LOAN_SUBSIDIES_READ: {Role.COUNTY_ADMIN: Reach.COUNTY, Role.BANK_OFFICER: Reach.BANK},
    # Every person acting in a county has an inbox: their own and their office's seat. What a notice names lies in
    # the reach of the office it is addressed to (a county queue's ticket tells the department, a branch's member
    # its secretary), so each grant's rule is the role's own reach. Analysts see no person and are told nothing; a
    # county system is no person.
    Permission.NOTIFICATIONS_INBOX: {Role.COUNTY_ADMIN: Reach.COUNTY, Role.TOWNSHIP_OFFICER: Reach.TOWNSHIP,
                                     Role.STATION_STAFF: Reach.ORG_SUBTREE, Role.GUIDANCE_OFFICER: Reach.ORG_SUBTREE,
                                     Role.BRANCH_SECRETARY: Reach.OWN_ORG, Role.MEMBER: Reach.SELF,
                                     Role.BANK_OFFICER: Reach.BANK},
    # Templates and channel credentials bind the whole county: the department alone.
    Permission.NOTIFICATIONS_ADMIN: _COUNTY,
}

# The permissions a county administrator may give a county system's service account (each in its own county).
GRANTABLE: frozenset[Permission] = frozenset(p for p, roles in TABLE.items() if Role.COUNTY_SYSTEM in roles)
# Roles that call the services' gRPC endpoints only: every HTTP route of the gateway refuses them.
GRPC_ONLY: frozenset[Role] = frozenset({Role.COUNTY_SYSTEM})

_REGISTRY = "/jinqiao.registry.v1.RegistryService/"
_ORGS = "/jinqiao.organizations.v1.OrganizationsService/"
_INSIGHTS = "/jinqiao.insights.v1.InsightsService/"
_DESK_SERVICE = "/jinqiao.desk.v1.DeskService/"
_NOTIFICATIONS = "/jinqiao.notifications.v1.NotificationsService/"
# Served by every service that consumes events (kit/deadletters.py), each over its own dead letters.
_DEAD_LETTERS = "/jinqiao.operations.v1.DeadLetterService/"

# Every gRPC method the services serve → the permission it needs (a method not named here is refused).
METHODS: dict[str, Permission] = {
    **{_REGISTRY + m: p for m, p in {
        "CreateMember": Permission.MEMBERS_WRITE,
        "GetMember": Permission.MEMBERS_READ,
        "ListMembers": Permission.MEMBERS_READ,
        "UpdateMember": Permission.MEMBERS_WRITE,
        "ListMemberHistory": Permission.MEMBERS_READ,
        "RevealIdNumber": Permission.MEMBERS_REVEAL,
        "RecordMemberDeparture": Permission.MEMBERS_END,
        "EraseMemberPersonalData": Permission.MEMBERS_ERASE,
        "RegisterFlow": Permission.FLOWS_WRITE,
        "GetFlow": Permission.MEMBERS_READ,
        "ListFlows": Permission.MEMBERS_READ,
        "RedirectFlow": Permission.FLOWS_WRITE,
        "ReportBack": Permission.FLOWS_WRITE,
        "ReturnFlow": Permission.FLOWS_WRITE,
        "TransferFlow": Permission.FLOWS_WRITE,
        "ListFlowAlerts": Permission.MEMBERS_READ,
        "ListAlerts": Permission.ALERTS_HANDLE,
        "AcknowledgeAlert": Permission.ALERTS_HANDLE,
        "CloseAlert": Permission.ALERTS_HANDLE,
        "GetFlowPolicy": Permission.MEMBERS_READ,
        "UpdateFlowPolicy": Permission.FLOWS_WRITE,
        "ListActivities": Permission.MEMBERS_READ,
        "RecordHomeAssessment": Permission.FLOWS_WRITE,
        "ListEvaluations": Permission.MEMBERS_READ,
        "ListReturnees": Permission.MEMBERS_READ,
        "CreateApplicant": Permission.DEVELOPMENT_WRITE,
        "GetApplicant": Permission.DEVELOPMENT_READ,
        "ListApplicants": Permission.DEVELOPMENT_READ,
        "AdvanceApplicant": Permission.DEVELOPMENT_WRITE,
        "AddInspection": Permission.DEVELOPMENT_WRITE,
        "StartMemberImport": Permission.MEMBERS_WRITE,
        "GetMemberImport": Permission.MEMBERS_WRITE,
        "GetImportTemplate": Permission.MEMBERS_WRITE,
    }.items()},
    **{_ORGS + m: p for m, p in {
        "CreateOrg": Permission.ORGS_WRITE,
        "GetOrg": Permission.ORGS_READ,
        "RenameOrg": Permission.ORGS_WRITE,
        "MoveOrg": Permission.ORGS_WRITE,
        "DissolveOrg": Permission.ORGS_WRITE,
        "ListChildOrgs": Permission.ORGS_READ,
        "ListSubtreeOrgs": Permission.ORGS_READ,
        "ListAncestorOrgs": Permission.ORGS_READ,
        "SuggestTemporaryOrg": Permission.ORGS_READ,
        "GetPlacementRules": Permission.ORGS_READ,
        "UpdatePlacementRules": Permission.PLACEMENT_WRITE,
        "SearchOrgs": Permission.ORGS_READ,
        "AppointOfficer": Permission.ORGS_WRITE,
        "EndAppointment": Permission.ORGS_WRITE,
        "ListAppointments": Permission.ORGS_READ,
        "CreateGrid": Permission.ORGS_WRITE,
        "ListGrids": Permission.ORGS_READ,
        "ScheduleMeeting": Permission.ORG_LIFE_WRITE,
        "RecordAttendance": Permission.ORG_LIFE_WRITE,
        "ListMeetings": Permission.ORGS_READ,
        "ListMemberAttendance": Permission.ORGS_READ,
        "GetChecklist": Permission.ORGS_READ,
        "UpdateChecklistItem": Permission.ORG_LIFE_WRITE,
        "ListMemberships": Permission.MEMBERSHIPS_HANDLE,
        "GetMembership": Permission.MEMBERSHIPS_HANDLE,
        "RefuseMembership": Permission.MEMBERSHIPS_HANDLE,
        "CheckInMembership": Permission.MEMBERSHIPS_HANDLE,
        "CheckInByCode": Permission.MEMBERSHIPS_SELF_CHECK_IN,
        "GetCheckInCode": Permission.MEMBERSHIPS_HANDLE,
        "RecordActivity": Permission.MEMBERSHIPS_HANDLE,
        "AssessMembership": Permission.MEMBERSHIPS_HANDLE,
    }.items()},
    **{_DESK_SERVICE + m: p for m, p in {
        "CreateTicket": Permission.TICKETS_FILE,
        "GetTicket": Permission.TICKETS_READ,
        "ListTickets": Permission.TICKETS_READ,
        "AcceptTicket": Permission.TICKETS_HANDLE,
        "StartTicket": Permission.TICKETS_HANDLE,
        "RequestTicketInfo": Permission.TICKETS_HANDLE,
        "ResumeTicket": Permission.TICKETS_HANDLE,
        "ResolveTicket": Permission.TICKETS_HANDLE,
        "CloseTicket": Permission.TICKETS_HANDLE,
        "RateTicket": Permission.TICKETS_FILE,
        "ReopenTicket": Permission.TICKETS_FILE,
        "AddTicketComment": Permission.TICKETS_FILE,
        "ListTicketHistory": Permission.TICKETS_READ,
        "AssignTicket": Permission.TICKETS_HANDLE,
        "ListQueues": Permission.TICKETS_HANDLE,
        "SetDuty": Permission.TICKETS_HANDLE,
        "ListDuty": Permission.TICKETS_HANDLE,
        "AddTicketAttachment": Permission.TICKETS_FILE,
        "ListTicketAttachments": Permission.TICKETS_READ,
        "GetTicketAttachment": Permission.TICKETS_READ,
        "ListTicketCategories": Permission.TICKETS_READ,
        "UpdateTicketCategory": Permission.DESK_CONFIGURE,
        "ReferTicket": Permission.TICKETS_REFER,
        "AcceptReferral": Permission.TICKETS_REFER,
        "DeclineReferral": Permission.TICKETS_REFER,
        "GetReferral": Permission.TICKETS_REFER,
        "ListReferrals": Permission.TICKETS_REFER,
        "GetWorkCalendar": Permission.CALENDAR_READ,
        "ListCalendarYears": Permission.CALENDAR_READ,
        "SetProvinceCalendar": Permission.CALENDAR_MANAGE,
        "SetCountyCalendarOverrides": Permission.DESK_CONFIGURE,
        "CreateLoanProgramme": Permission.LOAN_PROGRAMMES_MANAGE,
        "UpdateLoanProgramme": Permission.LOAN_PROGRAMMES_MANAGE,
        "GetLoanProgramme": Permission.LOAN_PROGRAMMES_READ,
        "ListLoanProgrammes": Permission.LOAN_PROGRAMMES_READ,
        "CheckLoanEligibility": Permission.LOANS_APPLY,
        "CreateLoanApplication": Permission.LOANS_APPLY,
        "GetLoan": Permission.LOANS_READ,
        "ListLoans": Permission.LOANS_READ,
        "ReviewLoanApplication": Permission.LOANS_REVIEW,
        "WithdrawLoanApplication": Permission.LOANS_APPLY,
        "RecordLoanCreditDecision": Permission.LOANS_BANK,
        "DisburseLoan": Permission.LOANS_BANK,
        "RecordLoanRepayment": Permission.LOANS_BANK,
        "GetLoanSchedule": Permission.LOANS_READ,
        "ListLoanHistory": Permission.LOANS_READ,
        "AddLoanAttachment": Permission.LOANS_APPLY,
        "ListLoanAttachments": Permission.LOANS_READ,
        "GetLoanAttachment": Permission.LOANS_READ,
        "ListLoanSubsidyClaims": Permission.LOAN_SUBSIDIES_READ,
    }.items()},
    _INSIGHTS + "GetMemberCounts": Permission.INSIGHTS_READ,
    _INSIGHTS + "GetFlowMatrix": Permission.INSIGHTS_READ,
    _INSIGHTS + "GetDashboard": Permission.INSIGHTS_READ,
    _INSIGHTS + "GetDashboardVersion": Permission.INSIGHTS_READ,
    _INSIGHTS + "GetTicketStats": Permission.INSIGHTS_READ,
    _INSIGHTS + "GetLoanStats": Permission.INSIGHTS_READ,
    **{_NOTIFICATIONS + m: Permission.NOTIFICATIONS_INBOX for m in (
        "ListInbox", "GetInboxSummary", "MarkInboxRead", "ArchiveInboxItems", "AcknowledgeEscalation",
        "GetNotificationPreferences", "UpdateNotificationPreferences")},
    **{_NOTIFICATIONS + m: Permission.NOTIFICATIONS_ADMIN for m in (
        "ListDeliveries", "RetryDelivery", "ListEscalations", "ListTemplates", "GetTemplate", "SaveTemplate",
        "ResetTemplate", "PreviewTemplate", "ListChannelSettings", "UpdateChannelSetting", "SendTestNotification")},
    **{_DEAD_LETTERS + m: Permission.DEAD_LETTERS_MANAGE
       for m in ("ListDeadLetters", "GetDeadLetter", "ReplayDeadLetter")},
}

# Methods that answer without a token (probes, grpcurl) and so without a permission.
PUBLIC_METHOD_PREFIXES = ("/grpc.health.v1.Health/", "/grpc.reflection.")


@dataclass(frozen=True, slots=True)
class Grant:
    """A permission held by a role, and the scope rule it holds it under."""

    permission: Permission
    role: Role
    reach: Reach


def _role(role: str) -> Role | None:
    try:
        return Role(role)
    except ValueError:
        return None


def scope(role: str, permission: Permission) -> Reach | None:
    """The scope rule under which ``role`` holds ``permission``; None when it holds no grant."""
    known = _role(role)
    return None if known is None else TABLE[permission].get(known)


def allows(role: str, permission: Permission) -> bool:
    """Whether ``role`` holds ``permission`` at all (its scope rule is applied where the object is known)."""
    return scope(role, permission) is not None


def allows_beyond_self(role: str, permission: Permission) -> bool:
    """Whether ``role`` holds ``permission`` over others' records, not only over its own person."""
    return scope(role, permission) not in (None, Reach.SELF)


def scope_of(principal: Principal, permission: Permission) -> Reach | None:
    """The scope rule under which this caller holds ``permission``: its role's, narrowed to the permissions its
    token names when it names any (a county system); None when it holds no grant."""
    rule = scope(principal.role, permission)
    if rule is None:
        return None
    named = principal.permissions
    if (named is not None or principal.role in GRPC_ONLY) and permission.value not in (named or ()):
        return None
    return rule


def holds(principal: Principal, permission: Permission) -> bool:
    """Whether this caller holds ``permission``: its role has the grant and, for a county system, its token names
    it too."""
    return scope_of(principal, permission) is not None


def require(role: str, permission: Permission, message: str) -> None:
    """Refuse with ``message`` (zh-CN, shown to the caller) unless ``role`` holds ``permission``."""
    if not allows(role, permission):
        raise PermissionDenied(message)


def require_held(principal: Principal, permission: Permission, message: str) -> None:
    """Refuse with ``message`` (zh-CN, shown to the caller) unless this caller holds ``permission``."""
    if not holds(principal, permission):
        raise PermissionDenied(message)


def require_method(method: str, caller: Principal | str) -> None:
    """Refuse a gRPC call whose method names no permission, or whose caller holds no grant for it.

    ``caller`` is the verified principal (a county system is held to the permissions its token names); a bare role
    stands for a person, who names none.
    """
    permission = METHODS.get(method)
    if permission is None:
        raise PermissionDenied("该接口未声明所需权限，已拒绝")
    if isinstance(caller, Principal):
        if not holds(caller, permission):
            raise PermissionDenied("当前角色无权使用该功能" if not allows(caller.role, permission)
                                   else f"该客户端未被授予此权限（{permission.value}）")
        return
    require(caller, permission, "当前角色无权使用该功能")


def require_route(principal: Principal, permission: Permission) -> None:
    """Refuse an HTTP route to a caller that holds no grant for it, and to a county system whatever it holds."""
    if principal.role in GRPC_ONLY:
        raise PermissionDenied("县级系统请使用 gRPC 接口，网关的 HTTP 接口不对其开放")
    require_held(principal, permission, "当前角色无权使用该功能")


def reach(role: str) -> Reach:
    """How far a role's org-bound grants reach; unknown roles reach nothing wider than themselves."""
    known = _role(role)
    return Reach.SELF if known is None else REACH.get(known, Reach.COUNTY)


def confined_to_org(role: str) -> bool:
    """Roles that see only their organisation (and, for most, what lies under it)."""
    return reach(role) in (Reach.TOWNSHIP, Reach.ORG_SUBTREE, Reach.OWN_ORG)


def covers(rule: Reach | None, relation: str) -> bool:
    """Whether a grant's scope rule reaches an object in ``relation`` to the caller: own, sibling or foreign.

    ``own``: inside the caller's own reach (its org or subtree, its person, its scope); ``sibling``: the same county,
    another township or org; ``foreign``: another county. Only a county-wide grant reaches a sibling; nothing
    reaches a foreign object through a county's routes.
    """
    if rule is None or relation == "foreign":
        return False
    return relation == "own" or rule is Reach.COUNTY


def grants() -> list[Grant]:
    """Every (permission, role) pair the table grants, with its scope rule, for the route × role matrix test."""
    return [Grant(permission=p, role=r, reach=rule) for p, roles in TABLE.items() for r, rule in sorted(roles.items())]
