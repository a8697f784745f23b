"""Programmes' RPCs (thin: parse, call the use case, map the answer)."""

from __future__ import annotations

from jinqiao.desk.deps import DeskDeps
from jinqiao.desk.programmes import service as programme_service
from jinqiao.desk.programmes.domain import Programme, ProgrammeDraft, Rules
from jinqiao.desk.v1 import loans_pb2
from jinqiao.kit.grpcserver import current_principal
from jinqiao.kit.grpcwrap import Context


def rules_to_proto(r: Rules) -> loans_pb2.EligibilityRules:
    """A programme's rules in their wire form."""
    return loans_pb2.EligibilityRules(
        allow_probationary=r.allow_probationary, min_party_years=r.min_party_years, min_grade=r.min_grade,
        require_no_overdue=r.require_no_overdue, min_age=r.min_age, max_age=r.max_age,
        require_returnee=r.require_returnee)


def programme_to_proto(p: Programme) -> loans_pb2.LoanProgramme:
    """The wire form of a programme (CONTRACT: the loans and repayments concepts use it too)."""
    message = loans_pb2.LoanProgramme(
        id=p.id, tenant_id=p.tenant_id, name=p.name, description=p.description,
        product=loans_pb2.LoanProduct.ValueType(p.product), sponsor=loans_pb2.ProgrammeSponsor.ValueType(p.sponsor),
        shared_code=p.shared_code, bank_code=p.bank_code, bank_name=p.bank_name,
        cap_per_person_fen=p.cap_per_person_fen, min_amount_fen=p.min_amount_fen, max_term_months=p.max_term_months,
        methods=[loans_pb2.RepaymentMethod.ValueType(m) for m in p.methods], rate_bp=p.rate_bp,
        subsidy_bp=p.subsidy_bp, total_quota_fen=p.total_quota_fen, committed_fen=p.committed_fen,
        window_start=p.window_start.isoformat(), window_end=p.window_end.isoformat() if p.window_end else "",
        rules=rules_to_proto(p.rules), township_final_up_to_fen=p.township_final_up_to_fen,
        review_days=p.review_days, bank_days=p.bank_days, active=p.active, version=p.version)
    message.create_time.FromDatetime(p.created_at)
    return message


def draft_from_proto(p: loans_pb2.LoanProgramme) -> ProgrammeDraft:
    """The terms a create or update request carries (ids, quota use, version and times are the desk's own)."""
    r = p.rules
    return ProgrammeDraft(
        name=p.name, description=p.description, product=int(p.product), sponsor=int(p.sponsor),
        shared_code=p.shared_code, bank_code=p.bank_code, bank_name=p.bank_name,
        cap_per_person_fen=p.cap_per_person_fen, min_amount_fen=p.min_amount_fen, max_term_months=p.max_term_months,
        methods=tuple(int(m) for m in p.methods), rate_bp=p.rate_bp, subsidy_bp=p.subsidy_bp,
        total_quota_fen=p.total_quota_fen, window_start=p.window_start, window_end=p.window_end,
        rules=Rules(allow_probationary=r.allow_probationary, min_party_years=r.min_party_years,
                    min_grade=r.min_grade, require_no_overdue=r.require_no_overdue, min_age=r.min_age,
                    max_age=r.max_age, require_returnee=r.require_returnee),
        township_final_up_to_fen=p.township_final_up_to_fen, review_days=p.review_days, bank_days=p.bank_days,
        active=p.active)


class ProgrammesApi:
    """CreateLoanProgramme, UpdateLoanProgramme, GetLoanProgramme, ListLoanProgrammes."""

    _deps: DeskDeps

    async def CreateLoanProgramme(self, request: loans_pb2.CreateLoanProgrammeRequest,
                                  context: Context) -> loans_pb2.CreateLoanProgrammeResponse:
        """Create a programme of the county (the same request_id returns the same programme)."""
        created = await programme_service.create_programme(
            deps=self._deps, principal=current_principal(), draft=draft_from_proto(request.programme),
            request_id=request.request_id)
        return loans_pb2.CreateLoanProgrammeResponse(programme=programme_to_proto(created))

    async def UpdateLoanProgramme(self, request: loans_pb2.UpdateLoanProgrammeRequest,
                                  context: Context) -> loans_pb2.UpdateLoanProgrammeResponse:
        """Replace a programme's terms (version-checked)."""
        updated = await programme_service.update_programme(
            deps=self._deps, principal=current_principal(), programme_id=request.programme.id,
            draft=draft_from_proto(request.programme), version=request.programme.version)
        return loans_pb2.UpdateLoanProgrammeResponse(programme=programme_to_proto(updated))

    async def GetLoanProgramme(self, request: loans_pb2.GetLoanProgrammeRequest,
                               context: Context) -> loans_pb2.GetLoanProgrammeResponse:
        """One programme of the county."""
        found = await programme_service.get_programme(deps=self._deps, principal=current_principal(),
                                                      programme_id=request.id)
        return loans_pb2.GetLoanProgrammeResponse(programme=programme_to_proto(found))

    async def ListLoanProgrammes(self, request: loans_pb2.ListLoanProgrammesRequest,
                                 context: Context) -> loans_pb2.ListLoanProgrammesResponse:
        """The county's programmes (a bank officer: its bank's); optionally only those open today."""
        found = await programme_service.list_programmes(deps=self._deps, principal=current_principal(),
                                                        open_only=request.open_only)
        return loans_pb2.ListLoanProgrammesResponse(programmes=[programme_to_proto(p) for p in found])
