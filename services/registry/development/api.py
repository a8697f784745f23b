"""Registry gRPC methods for 发展党员 among migrants (mixed into the servicer)."""

from __future__ import annotations

from jinqiao.kit import pii
from jinqiao.kit.auth import Principal
from jinqiao.kit.grpcserver import current_principal
from jinqiao.kit.grpcwrap import Context
from jinqiao.registry.deps import RegistryDeps
from jinqiao.registry.development import domain as dev
from jinqiao.registry.development import service
from jinqiao.registry.v1 import development_pb2 as pb


def applicant_to_proto(a: dev.Applicant, *, principal: Principal) -> pb.Applicant:
    """The wire form of a (masked) applicant as ``principal`` may see it."""
    return pb.Applicant(
        id=a.id, tenant_id=a.tenant_id, name=a.name, id_number_masked=a.id_number_masked,
        phone_masked=a.phone_masked, gender=a.gender,
        # Beside the masked ID number a birth date gives the number back (DESIGN §5): township committees, branch
        # secretaries and guidance officers follow the applicant without it; the county department keeps it.
        birth_date=pii.visible_birth_date(a.birth_date, role=principal.role), township=a.township,
        village=a.village, destination_code=a.destination_code, employer=a.employer,
        stage=pb.DevelopmentStage.ValueType(a.stage),
        stages=[pb.StageDate(stage=pb.DevelopmentStage.ValueType(s), date=on.isoformat()) for s, on in a.stages],
        mentors=[pb.Mentor(name=m.name, phone_masked=m.phone_masked, side=m.side.value, org_name=m.org_name)
                 for m in a.mentors],
        inspections=[pb.Inspection(id=i.id, side=i.side.value, inspected_on=i.inspected_on.isoformat(),
                                   inspector=i.inspector, summary=i.summary) for i in a.inspections],
        delegated=a.delegated, delegated_org_name=a.delegated_org_name, version=a.version,
        home_org_id=a.home_org_id,
    )


class DevelopmentApi:
    """Applicants, their stages, mentors and 双向考察."""

    _deps: RegistryDeps

    async def CreateApplicant(
        self, request: pb.CreateApplicantRequest, context: Context
    ) -> pb.CreateApplicantResponse:
        """Record an application."""
        applicant = await service.create_applicant(
            deps=self._deps, principal=current_principal(),
            data=service.ApplicantInput(
                name=request.name, id_number=request.id_number, phone=request.phone, township=request.township,
                village=request.village, destination_code=request.destination_code, employer=request.employer,
                application_date=request.application_date,
                mentors=[service.MentorInput(name=m.name, phone=m.phone, side=m.side, org_name=m.org_name)
                         for m in request.mentors],
                delegated=request.delegated, delegated_org_name=request.delegated_org_name,
                home_org_id=request.home_org_id,
            ),
            request_id=request.request_id,
        )
        return pb.CreateApplicantResponse(applicant=applicant_to_proto(applicant, principal=current_principal()))

    async def GetApplicant(
        self, request: pb.GetApplicantRequest, context: Context
    ) -> pb.GetApplicantResponse:
        """One applicant."""
        applicant = await service.get_applicant(deps=self._deps, principal=current_principal(),
                                                applicant_id=request.id)
        return pb.GetApplicantResponse(applicant=applicant_to_proto(applicant, principal=current_principal()))

    async def ListApplicants(
        self, request: pb.ListApplicantsRequest, context: Context
    ) -> pb.ListApplicantsResponse:
        """A page of applicants."""
        applicants, next_token = await service.list_applicants(
            deps=self._deps, principal=current_principal(), page_size=request.page_size,
            page_token=request.page_token, stage=request.stage,
        )
        principal = current_principal()
        return pb.ListApplicantsResponse(applicants=[applicant_to_proto(a, principal=principal) for a in applicants],
                                         next_page_token=next_token)

    async def AdvanceApplicant(
        self, request: pb.AdvanceApplicantRequest, context: Context
    ) -> pb.AdvanceApplicantResponse:
        """Move an applicant one stage forward."""
        applicant = await service.advance_applicant(
            deps=self._deps, principal=current_principal(), applicant_id=request.id, stage=request.stage,
            when=request.date, version=request.version,
        )
        return pb.AdvanceApplicantResponse(applicant=applicant_to_proto(applicant, principal=current_principal()))

    async def AddInspection(
        self, request: pb.AddInspectionRequest, context: Context
    ) -> pb.AddInspectionResponse:
        """Record one 双向考察 report."""
        applicant = await service.add_inspection(
            deps=self._deps, principal=current_principal(), applicant_id=request.id,
            data=service.InspectionInput(side=request.side, inspected_on=request.inspected_on,
                                         inspector=request.inspector, summary=request.summary),
        )
        return pb.AddInspectionResponse(applicant=applicant_to_proto(applicant, principal=current_principal()))
