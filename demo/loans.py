"""Demo micro-loans (issue 14): at 固始县 and 潢川县 the three programmes (党员先锋贷 with 固始农商银行, the city's
创业担保贷款 with 贴息, a 小额信用贷款 whose window closed last month) and loans in every state — filed, recommended,
reviewed, approved and with the bank, credit granted, disbursed (one on time, one overdue: disbursed months ago
with missed instalments), settled, refused at the township with a reason, withdrawn — and the demo member's own
disbursed loan and pending application. All through the DeskService gRPC API, never its database.

The desk learns members' facts from registry's MemberProfileChanged: every step that needs them waits with a
deadline, and a failure prints a warning and goes on (the demo never aborts for the loans).
"""

from __future__ import annotations

import asyncio
import calendar
import struct
import zlib
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from typing import TypeVar
from zoneinfo import ZoneInfo

import grpc

from jinqiao.demo.flows import bearer
from jinqiao.desk.v1 import desk_pb2_grpc, loans_pb2
from jinqiao.gateway.accounts import Account
from jinqiao.gateway.settings import GatewaySettings
from jinqiao.kit.auth import Role, TokenIssuer
from jinqiao.kit.channels import open_settings_channel
from jinqiao.kit.regions import name_of
from jinqiao.registry.v1 import registry_pb2, registry_pb2_grpc

LOAN_COUNTIES = ("411525", "411526")  # 固始县 (the bank login, the demo member) and 潢川县
BANK_COUNTY = "411525"
BANK_CODE = "gsrcb"
BANK_NAME = "固始农商银行"
# Each county's partner bank (the bank login exists for 固始县's only; the seed acts for the others' banks by token).
BANKS = {"411525": (BANK_CODE, BANK_NAME), "411526": ("hcrcb", "潢川农商银行")}
WAIT_SECONDS = 20.0  # the whole loan seed stays well under the demo's patience
WAN = 1_000_000  # 1 万元 in 分
BEIJING = ZoneInfo("Asia/Shanghai")
LPR_1Y_BP = 300  # the one-year LPR the demo's 创业担保贷款 is priced from (3.00 %)

STATES = ("submitted", "recommended", "reviewed", "approved", "credit_granted", "disbursed", "overdue", "settled",
          "refused", "withdrawn")
ALL_METHODS = (loans_pb2.REPAYMENT_METHOD_EQUAL_INSTALMENT, loans_pb2.REPAYMENT_METHOD_EQUAL_PRINCIPAL,
               loans_pb2.REPAYMENT_METHOD_INTEREST_ONLY)


@dataclass(frozen=True)
class ProgrammeSpec:
    """One demo programme: its key (request ids), terms and whether it is open today."""

    key: str
    name: str
    product: loans_pb2.LoanProduct.ValueType
    sponsor: loans_pb2.ProgrammeSponsor.ValueType
    cap_fen: int
    max_term_months: int
    rate_bp: int
    subsidy_bp: int
    quota_fen: int
    township_final_up_to_fen: int
    shared_code: str
    description: str
    closed_last_month: bool = False
    allow_probationary: bool = False


PROGRAMMES: tuple[ProgrammeSpec, ...] = (
    ProgrammeSpec(key="pioneer", name="党员先锋贷", product=loans_pb2.LOAN_PRODUCT_PIONEER,
                  sponsor=loans_pb2.PROGRAMME_SPONSOR_COUNTY, cap_fen=30 * WAN, max_term_months=36, rate_bp=435,
                  subsidy_bp=0, quota_fen=3000 * WAN, township_final_up_to_fen=5 * WAN, shared_code="",
                  description="面向先锋指数良好的流动党员和返乡创业党员，纯信用、免抵押，三年期循环授信。"),
    # 创业担保贷款: the borrower pays the part of the rate up to LPR − 150 bp, public finance the rest (贴息).
    ProgrammeSpec(key="startup", name="创业担保贷款", product=loans_pb2.LOAN_PRODUCT_STARTUP_GUARANTEE,
                  sponsor=loans_pb2.PROGRAMME_SPONSOR_CITY, cap_fen=20 * WAN, max_term_months=36,
                  rate_bp=LPR_1Y_BP + 50, subsidy_bp=(LPR_1Y_BP + 50) - (LPR_1Y_BP - 150), quota_fen=2000 * WAN,
                  township_final_up_to_fen=0, shared_code="xy-cydb-2026", allow_probationary=True,
                  description="信阳市统筹的创业担保贷款，财政按 LPR 减 150 个基点以上部分贴息，个人承担其余部分。"),
    ProgrammeSpec(key="micro", name="小额信用贷款", product=loans_pb2.LOAN_PRODUCT_MICRO_CREDIT,
                  sponsor=loans_pb2.PROGRAMME_SPONSOR_COUNTY, cap_fen=5 * WAN, max_term_months=12, rate_bp=480,
                  subsidy_bp=0, quota_fen=500 * WAN, township_final_up_to_fen=5 * WAN, shared_code="",
                  closed_last_month=True, description="上一期小额信用贷款，申请期已结束（已停办）。"),
)


def _month_start(day: date, months_back: int) -> date:
    """The first day of the month ``months_back`` months before ``day``'s."""
    index = day.year * 12 + day.month - 1 - months_back
    return date(index // 12, index % 12 + 1, 1)


def add_months(day: date, months: int) -> date:
    """The same day ``months`` later (or earlier), kept within the month (31 Jan + 1 → 28/29 Feb)."""
    index = day.year * 12 + day.month - 1 + months
    year, month = index // 12, index % 12 + 1
    return date(year, month, min(day.day, calendar.monthrange(year, month)[1]))


def window(spec: ProgrammeSpec, *, today: date) -> tuple[str, str]:
    """The application window: open since 1 January (open-ended), or last quarter up to the end of last month."""
    if spec.closed_last_month:
        return _month_start(today, 3).isoformat(), (_month_start(today, 0) - timedelta(days=1)).isoformat()
    return date(today.year, 1, 1).isoformat(), ""


def bank_of(county: str) -> tuple[str, str]:
    """The county's partner bank: code and name (固始农商银行 where the demo names none)."""
    return BANKS.get(county, (BANK_CODE, BANK_NAME))


def programme_proto(spec: ProgrammeSpec, *, today: date, county: str = BANK_COUNTY) -> loans_pb2.LoanProgramme:
    """The programme as CreateLoanProgramme takes it (the county comes from the caller's token)."""
    start, end = window(spec, today=today)
    bank_code, bank_name = bank_of(county)
    rules = loans_pb2.EligibilityRules(allow_probationary=spec.allow_probationary, min_party_years=1,
                                       require_no_overdue=True, min_age=18, max_age=65)
    return loans_pb2.LoanProgramme(
        name=spec.name, product=spec.product, sponsor=spec.sponsor, shared_code=spec.shared_code,
        bank_code=bank_code, bank_name=bank_name, cap_per_person_fen=spec.cap_fen, min_amount_fen=WAN,
        max_term_months=spec.max_term_months, methods=list(ALL_METHODS), rate_bp=spec.rate_bp,
        subsidy_bp=spec.subsidy_bp, total_quota_fen=spec.quota_fen, committed_fen=0, window_start=start,
        window_end=end, rules=rules, township_final_up_to_fen=spec.township_final_up_to_fen, review_days=5,
        bank_days=10, active=True, description=spec.description)


@dataclass(frozen=True)
class PlannedLoan:
    """One demo loan: which programme, how much, for what, the state it ends in, and the disbursement's age."""

    key: str
    county: str
    programme: str
    state: str
    amount_fen: int
    term_months: int
    method: loans_pb2.RepaymentMethod.ValueType
    purpose: str
    business_plan: str
    disbursed_months_ago: int = 0
    paid_periods: int = 0
    own: bool = False  # the demo member's own


# (state, programme, 万元, months, method, purpose, plan, disbursed months ago, periods paid)
_PLAN: tuple[tuple[str, str, int, int, loans_pb2.RepaymentMethod.ValueType, str, str, int, int], ...] = (
    ("submitted", "pioneer", 10, 24, loans_pb2.REPAYMENT_METHOD_EQUAL_INSTALMENT, "扩建蛋鸡养殖棚",
     "现有蛋鸡 3000 羽，计划新建一栋鸡舍扩到 6000 羽，预计年增收 8 万元。", 0, 0),
    ("recommended", "pioneer", 4, 12, loans_pb2.REPAYMENT_METHOD_EQUAL_PRINCIPAL, "购置茶叶杀青机",
     "承包茶园 20 亩，自制信阳毛尖，添置杀青、揉捻设备提高品质。", 0, 0),
    ("reviewed", "pioneer", 15, 36, loans_pb2.REPAYMENT_METHOD_EQUAL_INSTALMENT, "开办农村电商服务站",
     "返乡开办电商服务站，代销固始鹅块、咸鸭蛋等土特产，已有稳定客户 200 余户。", 0, 0),
    ("approved", "startup", 12, 24, loans_pb2.REPAYMENT_METHOD_INTEREST_ONLY, "开办汽车维修店",
     "在城关镇开办汽车维修店，本人有十年修理经验，场地已租好。", 0, 0),
    ("credit_granted", "pioneer", 20, 36, loans_pb2.REPAYMENT_METHOD_EQUAL_INSTALMENT, "稻虾共养基地",
     "流转稻田 80 亩发展稻虾共养，已与合作社签订收购协议。", 0, 0),
    ("disbursed", "startup", 8, 24, loans_pb2.REPAYMENT_METHOD_EQUAL_INSTALMENT, "开办早餐店",
     "夫妻二人在县城开办早餐店，主营豆浆、包子、胡辣汤。", 3, 3),
    ("overdue", "pioneer", 6, 12, loans_pb2.REPAYMENT_METHOD_EQUAL_INSTALMENT, "购买农用运输车",
     "购置一辆农用运输车，为周边农户运送农资和粮食。", 5, 2),
    ("settled", "pioneer", 3, 6, loans_pb2.REPAYMENT_METHOD_EQUAL_PRINCIPAL, "购买秋季化肥种子",
     "种植小麦 50 亩，购买化肥、种子，夏收后还款。", 7, 6),
    ("refused", "pioneer", 3, 12, loans_pb2.REPAYMENT_METHOD_EQUAL_INSTALMENT, "开办棋牌室",
     "在村里开办棋牌室。", 0, 0),
    ("withdrawn", "startup", 5, 12, loans_pb2.REPAYMENT_METHOD_EQUAL_INSTALMENT, "开办家政服务公司",
     "组织村里妇女从事家政服务，已联系县城三家物业公司。", 0, 0),
)
# The demo member's own: a loan being repaid (first instalment paid) and an application with the branch.
_OWN: tuple[tuple[str, str, int, int, loans_pb2.RepaymentMethod.ValueType, str, str, int, int], ...] = (
    ("disbursed", "pioneer", 5, 12, loans_pb2.REPAYMENT_METHOD_EQUAL_INSTALMENT, "返乡开办农资店",
     "在村里开办农资店，经营化肥、种子、农药，服务周边 5 个村。", 1, 1),
    ("submitted", "startup", 10, 24, loans_pb2.REPAYMENT_METHOD_EQUAL_INSTALMENT, "扩大农资店经营",
     "农资店经营稳定，计划增加农机配件和飞防植保服务。", 0, 0),
)
REFUSAL = "经营项目不属于本项目支持的创业方向，建议改选种养殖、农产品加工或农村电商等项目。"
WITHDRAWAL = "已筹到资金，暂不需要贷款。"


def plan_county(county: str, *, own: bool = False) -> list[PlannedLoan]:
    """A county's demo loans, every state once (and the demo member's two when ``own``)."""
    rows = [(f"demo-loan-{county}-{state}", state, p, a, t, m, pu, bp, ago, paid, False)
            for state, p, a, t, m, pu, bp, ago, paid in _PLAN]
    if own:
        rows += [(f"demo-loan-{county}-own-{i}", state, p, a, t, m, pu, bp, ago, paid, True)
                 for i, (state, p, a, t, m, pu, bp, ago, paid) in enumerate(_OWN)]
    return [PlannedLoan(key=key, county=county, programme=p, state=state, amount_fen=a * WAN, term_months=t, method=m,
                        purpose=pu, business_plan=bp, disbursed_months_ago=ago, paid_periods=paid, own=mine)
            for key, state, p, a, t, m, pu, bp, ago, paid, mine in rows]


def demo_plan(counties: Sequence[str] = LOAN_COUNTIES) -> list[PlannedLoan]:
    """Every demo loan (the demo member's at the bank county)."""
    return [loan for c in counties for loan in plan_county(c, own=c == BANK_COUNTY)]


def spec_of(key: str) -> ProgrammeSpec:
    """The programme spec by key."""
    return next(s for s in PROGRAMMES if s.key == key)


def moves(loan: PlannedLoan) -> tuple[str, ...]:
    """The acts that bring a new application to its planned state.

    ``branch``, ``township``, ``county``: a public tier approves (the county tier only above the township's limit);
    ``refuse_township``; ``withdraw``; ``grant`` (the bank); ``disburse``; ``repay`` (the paid periods).
    """
    limit = spec_of(loan.programme).township_final_up_to_fen
    public = ("branch", "township") if 0 < limit and loan.amount_fen <= limit else ("branch", "township", "county")
    steps: dict[str, tuple[str, ...]] = {
        "submitted": (), "recommended": ("branch",), "reviewed": ("branch", "township"),
        "approved": public, "credit_granted": (*public, "grant"), "disbursed": (*public, "grant", "disburse"),
        "overdue": (*public, "grant", "disburse"), "settled": (*public, "grant", "disburse"),
        "refused": ("branch", "refuse_township"), "withdrawn": ("branch", "withdraw"),
    }
    chosen = steps[loan.state]
    return (*chosen, "repay") if loan.paid_periods else chosen


def disbursed_on(loan: PlannedLoan, *, today: date) -> date:
    """The (past) disbursement day: ``disbursed_months_ago`` months and five days back, so the periods it names
    have fallen due and the next one has not."""
    return add_months(today, -loan.disbursed_months_ago) - timedelta(days=5)


def final_status(loan: PlannedLoan) -> loans_pb2.LoanStatus.ValueType:
    """The status the desk should report once the moves are done (an overdue loan is still being repaid)."""
    return {
        "submitted": loans_pb2.LOAN_STATUS_SUBMITTED, "recommended": loans_pb2.LOAN_STATUS_RECOMMENDED,
        "reviewed": loans_pb2.LOAN_STATUS_REVIEWED, "approved": loans_pb2.LOAN_STATUS_APPROVED,
        "credit_granted": loans_pb2.LOAN_STATUS_CREDIT_GRANTED, "disbursed": loans_pb2.LOAN_STATUS_DISBURSED,
        "overdue": loans_pb2.LOAN_STATUS_DISBURSED, "settled": loans_pb2.LOAN_STATUS_SETTLED,
        "refused": loans_pb2.LOAN_STATUS_REFUSED, "withdrawn": loans_pb2.LOAN_STATUS_WITHDRAWN,
    }[loan.state]


def licence_png(width: int = 48, height: int = 32) -> bytes:
    """A small real PNG standing in for the photo of a business licence (red seal on cream)."""
    def chunk(kind: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data) & 0xFFFFFFFF)

    def pixel(x: int, y: int) -> bytes:
        seal = (x - width * 3 // 4) ** 2 + (y - height // 2) ** 2 < (height // 4) ** 2
        return bytes((200, 22, 29)) if seal else bytes((250, 240, 215))

    rows = b"".join(b"\x00" + b"".join(pixel(x, y) for x in range(width)) for y in range(height))
    header = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    return b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", header) + chunk(b"IDAT", zlib.compress(rows)) + chunk(b"IEND", b"")


def bank_logins() -> list[Account]:
    """The partner bank's officer login at the bank county (the token's org is the bank's code)."""
    return [Account(username=f"bank-{BANK_COUNTY}", role=Role.BANK_OFFICER, scope=BANK_COUNTY,
                    acting_tenant=BANK_COUNTY, acting_org=BANK_CODE, display_name=f"{BANK_NAME}信贷员")]


# ---------------------------------------------------------------------------------------------------------------- I/O

T = TypeVar("T")
Meta = tuple[tuple[str, str], ...]


def _warn(what: str, err: BaseException) -> None:
    detail = err.details() if isinstance(err, grpc.aio.AioRpcError) else repr(err)
    print(f"演示贷款：{what}未完成 demo loans: {what} skipped: {detail}")


def _not_synced(err: grpc.aio.AioRpcError) -> bool:
    """The desk's replica does not know the member or their facts yet."""
    return err.code() in (grpc.StatusCode.FAILED_PRECONDITION, grpc.StatusCode.INVALID_ARGUMENT,
                          grpc.StatusCode.NOT_FOUND)


class _Loans:
    """The DeskService stub with the demo actors' tokens and the seed's deadline."""

    def __init__(self, stub: desk_pb2_grpc.DeskServiceAsyncStub, issuer: TokenIssuer, until: float) -> None:
        self.stub = stub
        self.issuer = issuer
        self.until = until

    def admin(self, county: str) -> Meta:
        return bearer(self.issuer.issue(user=f"county-{county}", role=Role.COUNTY_ADMIN, scope=county)[0])

    def bank(self, county: str) -> Meta:
        return bearer(self.issuer.issue(user=f"bank-{county}", role=Role.BANK_OFFICER, scope=county,
                                        org=bank_of(county)[0])[0])

    def branch(self, county: str, org: str) -> Meta:
        return bearer(self.issuer.issue(user=f"branch-{county}", role=Role.BRANCH_SECRETARY, scope=county,
                                        org=org)[0])

    def member(self, county: str, member: str) -> Meta:
        return bearer(self.issuer.issue(user=f"member-{county}", role=Role.MEMBER, scope=county, member=member)[0])

    async def retry(self, call: Callable[[], Awaitable[T]]) -> T:
        """Call until it works, retrying while the desk has not learnt the member (or their facts) yet."""
        while True:
            try:
                return await call()
            except grpc.aio.AioRpcError as err:
                if not _not_synced(err) or asyncio.get_running_loop().time() > self.until:
                    raise
                await asyncio.sleep(0.5)


async def _programmes(desk: _Loans, county: str, today: date) -> dict[str, loans_pb2.LoanProgramme]:
    """The county's demo programmes, created once (by request id; an existing one by name is reused)."""
    meta = desk.admin(county)
    existing = await desk.stub.ListLoanProgrammes(loans_pb2.ListLoanProgrammesRequest(), metadata=meta, timeout=10)
    by_name = {p.name: p for p in existing.programmes}
    found: dict[str, loans_pb2.LoanProgramme] = {}
    for spec in PROGRAMMES:
        if spec.name in by_name:
            found[spec.key] = by_name[spec.name]
            continue
        try:
            reply = await desk.stub.CreateLoanProgramme(loans_pb2.CreateLoanProgrammeRequest(
                programme=programme_proto(spec, today=today, county=county),
                request_id=f"demo-programme-{county}-{spec.key}"), metadata=meta, timeout=10)
            found[spec.key] = reply.programme
        except grpc.aio.AioRpcError as err:
            _warn(f"{name_of(county)}“{spec.name}”项目", err)
    return found


async def _members(registry: registry_pb2_grpc.RegistryServiceAsyncStub, issuer: TokenIssuer, county: str,
                   exclude: str | None) -> list[str]:
    """Full members of a county, those at home first (a loan is for starting a business, mostly at home)."""
    meta = bearer(issuer.issue(user="demo-seed", role=Role.COUNTY_ADMIN, scope=county)[0])
    page = await registry.ListMembers(registry_pb2.ListMembersRequest(page_size=60), metadata=meta, timeout=10)
    full = [m for m in page.members if m.membership_status == registry_pb2.MEMBERSHIP_STATUS_FULL and m.id != exclude]
    return [m.id for m in sorted(full, key=lambda m: bool(m.flow_status))]


async def _eligible(desk: _Loans, county: str, programme: loans_pb2.LoanProgramme, member: str,
                    amount_fen: int, term: int) -> bool:
    """Whether the member passes the programme's rules, once the desk knows their facts."""
    reply = await desk.retry(lambda: desk.stub.CheckLoanEligibility(loans_pb2.CheckLoanEligibilityRequest(
        programme_id=programme.id, member_id=member, amount_fen=amount_fen, term_months=term),
        metadata=desk.admin(county), timeout=10))
    return reply.eligible


async def _act(desk: _Loans, loan: loans_pb2.Loan, step: str, planned: PlannedLoan, today: date
               ) -> loans_pb2.Loan:
    """One act on a loan, with the version it was read at."""
    s, county = desk.stub, loan.tenant_id
    admin = desk.admin(county)
    if step == "branch":
        meta = desk.branch(county, loan.home_org_id) if loan.home_org_id else admin
        return (await s.ReviewLoanApplication(loans_pb2.ReviewLoanApplicationRequest(
            id=loan.id, decision=loans_pb2.LOAN_DECISION_APPROVE, reason="该同志在村里表现突出，同意推荐。",
            version=loan.version), metadata=meta, timeout=10)).loan
    if step in ("township", "county"):
        return (await s.ReviewLoanApplication(loans_pb2.ReviewLoanApplicationRequest(
            id=loan.id, decision=loans_pb2.LOAN_DECISION_APPROVE, reason="材料齐全，同意。", version=loan.version),
            metadata=admin, timeout=10)).loan
    if step == "refuse_township":
        return (await s.ReviewLoanApplication(loans_pb2.ReviewLoanApplicationRequest(
            id=loan.id, decision=loans_pb2.LOAN_DECISION_REFUSE, reason=REFUSAL, version=loan.version),
            metadata=admin, timeout=10)).loan
    if step == "withdraw":
        return (await s.WithdrawLoanApplication(loans_pb2.WithdrawLoanApplicationRequest(
            id=loan.id, reason=WITHDRAWAL, version=loan.version), metadata=admin, timeout=10)).loan
    if step == "grant":
        return (await s.RecordLoanCreditDecision(loans_pb2.RecordLoanCreditDecisionRequest(
            id=loan.id, decision=loans_pb2.LOAN_DECISION_APPROVE, granted_amount_fen=loan.amount_fen,
            version=loan.version), metadata=desk.bank(county), timeout=10)).loan
    if step == "disburse":
        return await _disburse(desk, loan, planned, today)
    if step == "repay":
        return await _repay(desk, loan, planned, today)
    raise ValueError(step)


async def _disburse(desk: _Loans, loan: loans_pb2.Loan, planned: PlannedLoan, today: date) -> loans_pb2.Loan:
    """The bank's disbursement, months back so that instalments have fallen due; a desk that refuses a day before
    the credit decision gets today's (the loan is then simply being repaid, nothing overdue yet)."""
    meta = desk.bank(loan.tenant_id)

    def request(day: date) -> loans_pb2.DisburseLoanRequest:
        return loans_pb2.DisburseLoanRequest(id=loan.id, disbursed_on=day.isoformat(),
                                             request_id=f"{planned.key}-disburse")
    try:
        return (await desk.stub.DisburseLoan(request(disbursed_on(planned, today=today)), metadata=meta,
                                             timeout=10)).loan
    except grpc.aio.AioRpcError as err:
        if err.code() != grpc.StatusCode.INVALID_ARGUMENT:
            raise
        _warn(f"“{planned.purpose}”按历史日期放款（改为今天放款）", err)
    return (await desk.stub.DisburseLoan(request(today), metadata=meta, timeout=10)).loan


async def _repay(desk: _Loans, loan: loans_pb2.Loan, planned: PlannedLoan, today: date) -> loans_pb2.Loan:
    """The bank records the first ``paid_periods`` instalments that have fallen due, each on its due date
    (idempotent by request id)."""
    meta = desk.bank(loan.tenant_id)
    schedule = await desk.stub.GetLoanSchedule(loans_pb2.GetLoanScheduleRequest(id=loan.id), metadata=meta,
                                               timeout=10)
    fallen_due = [i for i in schedule.instalments if i.due_date <= today.isoformat()]
    for instalment in fallen_due[: planned.paid_periods]:
        loan = (await desk.stub.RecordLoanRepayment(loans_pb2.RecordLoanRepaymentRequest(
            id=loan.id, amount_fen=instalment.due_fen, paid_on=instalment.due_date,
            request_id=f"{planned.key}-repay-{instalment.seq}"), metadata=meta, timeout=10)).loan
    return loan


async def _file(desk: _Loans, planned: PlannedLoan, programme: loans_pb2.LoanProgramme, member: str,
                today: date) -> loans_pb2.Loan:
    """File one planned application (the member's own from their phone, others on their behalf) and walk it."""
    own = planned.own
    meta = desk.member(planned.county, member) if own else desk.admin(planned.county)
    request = loans_pb2.CreateLoanApplicationRequest(
        programme_id=programme.id, member_id="" if own else member, amount_fen=planned.amount_fen,
        term_months=planned.term_months, method=planned.method, purpose=planned.purpose,
        business_plan=planned.business_plan, request_id=planned.key)
    loan = (await desk.retry(lambda: desk.stub.CreateLoanApplication(request, metadata=meta, timeout=10))).loan
    if loan.status != loans_pb2.LOAN_STATUS_SUBMITTED or loan.version > 1 or loan.attachment_count:
        return loan  # filed by an earlier seed: left as it is
    try:  # the business licence, as the phone's camera would send it
        await desk.stub.AddLoanAttachment(loans_pb2.AddLoanAttachmentRequest(
            loan_id=loan.id, filename="营业执照.png", content_type="image/png", content=licence_png()),
            metadata=meta, timeout=10)
        # Read again: the walk below acts on the version the desk holds now.
        loan = (await desk.stub.GetLoan(loans_pb2.GetLoanRequest(id=loan.id), metadata=meta, timeout=10)).loan
    except grpc.aio.AioRpcError as err:
        _warn(f"“{planned.purpose}”的营业执照", err)
    for step in moves(planned):
        loan = await _act(desk, loan, step, planned, today)
    return loan


async def _borrower(desk: _Loans, county: str, programme: loans_pb2.LoanProgramme, planned: PlannedLoan,
                    pool: list[str]) -> str:
    """The first unused member who passes the programme's rules (taken from ``pool``); while none does, the desk
    may not have their facts yet: look again until the deadline. "" when nobody qualifies in time."""
    while True:
        for candidate in list(pool):
            if await _eligible(desk, county, programme, candidate, planned.amount_fen, planned.term_months):
                pool.remove(candidate)
                return candidate
        if asyncio.get_running_loop().time() > desk.until:
            return ""
        await asyncio.sleep(1.0)


async def _own_programme(desk: _Loans, county: str, programmes: dict[str, loans_pb2.LoanProgramme],
                         planned: PlannedLoan, member: str) -> loans_pb2.LoanProgramme | None:
    """The planned programme for the demo member's own loan, or the one admitting 预备党员 when they are one."""
    for key in dict.fromkeys((planned.programme, "startup")):
        programme = programmes.get(key)
        if programme is not None and await _eligible(desk, county, programme, member, planned.amount_fen,
                                                     planned.term_months):
            return programme
    return None


async def _seed_county(desk: _Loans, registry: registry_pb2_grpc.RegistryServiceAsyncStub, *, county: str,
                       demo_member: str | None, today: date) -> int:
    """One county's programmes and loans; returns how many loans reached their planned state."""
    programmes = await _programmes(desk, county, today)
    pool = await _members(registry, desk.issuer, county, demo_member)
    done = 0
    for planned in plan_county(county, own=county == BANK_COUNTY and demo_member is not None):
        programme = programmes.get(planned.programme)
        if programme is None:
            continue
        try:
            if planned.own and demo_member:
                member, chosen = demo_member, await _own_programme(desk, county, programmes, planned, demo_member)
                if chosen is None:
                    print("演示贷款：演示党员不符合申请条件 demo loans: the demo member is not eligible")
                    continue
                programme = chosen
            else:
                member = await _borrower(desk, county, programme, planned, pool)
                if not member:
                    print(f"演示贷款：{name_of(county)}没有符合条件的党员 demo loans: no eligible member in {county}")
                    return done
            loan = await _file(desk, planned, programme, member, today)
            done += loan.status == final_status(planned)
        except grpc.aio.AioRpcError as err:
            _warn(f"{name_of(county)}贷款“{planned.purpose}”", err)
    return done


async def seed_loans(*, settings: GatewaySettings, issuer: TokenIssuer, member_login: Account | None,
                     counties: Sequence[str] = LOAN_COUNTIES) -> int:
    """Seed the loans; return how many reached their planned state. Never raises: the demo goes on."""
    started = asyncio.get_running_loop().time()
    try:
        done = await _seed_loans(settings=settings, issuer=issuer, member_login=member_login, counties=counties)
        took = asyncio.get_running_loop().time() - started
        print(f"演示贷款已就绪 demo loans seeded: {done} loans in {took:.1f} s")
        return done
    except Exception as err:  # a demo nicety must not stop `jinqiao up`
        _warn("贷款演示数据", err)
        return 0


async def _seed_loans(*, settings: GatewaySettings, issuer: TokenIssuer, member_login: Account | None,
                      counties: Sequence[str]) -> int:
    today = datetime.now(BEIJING).date()  # the desk's dates are Beijing calendar days
    demo_member = member_login.acting_member if member_login else None
    async with open_settings_channel(settings.target("registry"), settings) as r_channel, \
            open_settings_channel(settings.target("desk"), settings) as d_channel:
        registry: registry_pb2_grpc.RegistryServiceAsyncStub = registry_pb2_grpc.RegistryServiceStub(r_channel)
        desk = _Loans(desk_pb2_grpc.DeskServiceStub(d_channel), issuer,
                      asyncio.get_running_loop().time() + WAIT_SECONDS)

        async def county_run(county: str) -> int:
            try:
                return await _seed_county(desk, registry, county=county, demo_member=demo_member, today=today)
            except grpc.aio.AioRpcError as err:
                _warn(f"{name_of(county)}的贷款", err)
                return 0

        return sum(await asyncio.gather(*(county_run(c) for c in counties)))
