"""发展党员 over gRPC and HTTP against real PostgreSQL: the pipeline, its rules, tenancy, concurrency, PII at rest."""

from __future__ import annotations

import uuid

import grpc
import pytest
from google.rpc import error_details_pb2, status_pb2

from jinqiao.kit.auth import Role
from jinqiao.organizations.v1 import organizations_pb2 as orgs_pb
from jinqiao.registry.v1 import development_pb2 as pb
from tests.integration.conftest import bearer, eventually
from tests.support import id_number, member_request

HOME_COUNTY = "411523"
OTHER_COUNTY = "411502"
PHONE = "13812345678"
MENTOR_PHONE = "13955556666"


def applicant_request(county: str = HOME_COUNTY, **overrides: object) -> pb.CreateApplicantRequest:
    """A valid application of someone from the county working in Shanghai, with a mentor on each side."""
    fields: dict[str, object] = {
        "name": "周小兵", "id_number": id_number(county), "phone": PHONE, "township": "新集镇", "village": "红光村",
        "destination_code": "310000", "employer": "上海宝冶集团", "application_date": "2021-01-10",
        "mentors": [pb.MentorInput(name="王德胜", phone=MENTOR_PHONE, side="HOME", org_name="红光村党支部"),
                    pb.MentorInput(name="陈立新", side="DESTINATION", org_name="新县驻上海流动党员党支部")],
    }
    fields.update(overrides)
    return pb.CreateApplicantRequest(**fields)


def violations(err: grpc.aio.AioRpcError) -> dict[str, str]:
    """The google.rpc.BadRequest field violations carried by a failed call."""
    for key, value in err.trailing_metadata():
        if key == "grpc-status-details-bin":
            for detail in status_pb2.Status.FromString(value).details:
                bad = error_details_pb2.BadRequest()
                if detail.Unpack(bad):
                    return {v.field: v.description for v in bad.field_violations}
    return {}


@pytest.fixture(scope="module")
async def tree(platform, county_token, admin_conn_factory) -> dict[str, str]:
    """The home county's root, two townships and a branch in each, once the registry's replica knows their parents."""
    md = bearer(county_token(HOME_COUNTY))
    tag = uuid.uuid4().hex[:6]

    async def add(name: str, kind: int, parent: str = "") -> str:
        reply = await platform.organizations_stub.CreateOrg(
            orgs_pb.CreateOrgRequest(parent_id=parent, name=f"{name}{tag}", kind=kind), metadata=md)
        return reply.org.id

    roots = await platform.organizations_stub.ListChildOrgs(orgs_pb.ListChildOrgsRequest(), metadata=md)
    root = roots.orgs[0].id if roots.orgs else await add("中共测试县委员会", orgs_pb.ORG_KIND_COUNTY_COMMITTEE)
    ids = {"root": root}
    for key in ("a", "b"):
        ids[key] = await add(f"{key}镇党委", orgs_pb.ORG_KIND_TOWNSHIP_COMMITTEE, root)
        ids[f"{key}1"] = await add(f"{key}镇红光村党支部", orgs_pb.ORG_KIND_VILLAGE_BRANCH, ids[key])
    conn = await admin_conn_factory("registry")

    async def replicated() -> bool:
        found = await conn.fetchval("SELECT count(*) FROM org_replica WHERE id = ANY($1::uuid[]) AND parent_id IS NOT"
                                    " NULL", [ids["a1"], ids["b1"]])
        return found == 2

    await eventually(replicated)
    return ids


@pytest.fixture(scope="module")
def tokens(county_token, issuer, tree):
    """Callers of the home county, another county and a few roles (township a, the branch under it)."""
    def make(role: Role, scope: str = HOME_COUNTY, org: str | None = None) -> tuple[tuple[str, str], ...]:
        return bearer(issuer.issue(user=f"dev-{role.value}-{scope}", role=role, scope=scope, org=org)[0])

    return {
        "home": bearer(county_token(HOME_COUNTY)), "other": bearer(county_token(OTHER_COUNTY)),
        "township": make(Role.TOWNSHIP_OFFICER, org=tree["a"]), "secretary": make(Role.BRANCH_SECRETARY,
                                                                                   org=tree["a1"]),
        "township_b": make(Role.TOWNSHIP_OFFICER, org=tree["b"]),
        "secretary_b": make(Role.BRANCH_SECRETARY, org=tree["b1"]),
        "guidance_b": make(Role.GUIDANCE_OFFICER, org=tree["b"]),
        "unbound": make(Role.TOWNSHIP_OFFICER),
        "analyst": make(Role.CITY_ANALYST, "4115"), "no_county": make(Role.TOWNSHIP_OFFICER, "4115"),
        "tree": tree,
    }


async def create(platform, tokens, **overrides) -> pb.Applicant:
    """Create an applicant of the home county whose home is the branch of township a."""
    overrides.setdefault("home_org_id", tokens["tree"]["a1"])
    reply = await platform.registry_stub.CreateApplicant(applicant_request(**overrides), metadata=tokens["home"])
    return reply.applicant


async def advance(platform, md, applicant: pb.Applicant, stage: int, on: str) -> pb.Applicant:
    """One AdvanceApplicant call with the version last seen."""
    reply = await platform.registry_stub.AdvanceApplicant(
        pb.AdvanceApplicantRequest(id=applicant.id, stage=stage, date=on, version=applicant.version), metadata=md
    )
    return reply.applicant


async def inspect(platform, md, applicant_id: str, side: str, on: str) -> pb.Applicant:
    """One AddInspection call."""
    reply = await platform.registry_stub.AddInspection(
        pb.AddInspectionRequest(id=applicant_id, side=side, inspected_on=on, inspector="考察组",
                                summary="工作表现突出，遵纪守法"), metadata=md,
    )
    return reply.applicant


async def fails(call, code: grpc.StatusCode) -> grpc.aio.AioRpcError:
    """Await a call that must fail with the code; return the error."""
    with pytest.raises(grpc.aio.AioRpcError) as caught:
        await call
    assert caught.value.code() == code, caught.value.details()
    return caught.value


async def stored(admin_conn_factory, applicant_id: str) -> tuple[int, int, int]:
    """Version, stage and number of stage rows as the superuser sees them."""
    conn = await admin_conn_factory("registry")
    row = await conn.fetchrow("SELECT version, stage FROM applicants WHERE id = $1::uuid", applicant_id)
    stages = await conn.fetchval("SELECT count(*) FROM applicant_stages WHERE applicant_id = $1::uuid", applicant_id)
    return row["version"], row["stage"], stages


async def test_the_whole_pipeline_from_application_to_full_membership(platform, tokens):
    md = tokens["home"]
    a = await create(platform, tokens)
    assert (a.stage, a.version) == (pb.DEVELOPMENT_STAGE_APPLICANT, 1) and a.gender in {"male", "female"}
    assert [(s.stage, s.date) for s in a.stages] == [(pb.DEVELOPMENT_STAGE_APPLICANT, "2021-01-10")]
    a = await advance(platform, md, a, pb.DEVELOPMENT_STAGE_ACTIVIST, "2021-03-01")
    a = await inspect(platform, md, a.id, "HOME", "2022-02-01")
    # A township committee may write too.
    a = await inspect(platform, tokens["township"], a.id, "DESTINATION", "2022-02-15")
    a = await advance(platform, md, a, pb.DEVELOPMENT_STAGE_CANDIDATE, "2022-03-01")
    a = await advance(platform, md, a, pb.DEVELOPMENT_STAGE_PROBATIONARY, "2022-09-01")
    a = await advance(platform, tokens["township"], a, pb.DEVELOPMENT_STAGE_FULL, "2023-09-01")
    assert a.stage == pb.DEVELOPMENT_STAGE_FULL
    assert [(s.stage, s.date) for s in a.stages] == [
        (pb.DEVELOPMENT_STAGE_APPLICANT, "2021-01-10"), (pb.DEVELOPMENT_STAGE_ACTIVIST, "2021-03-01"),
        (pb.DEVELOPMENT_STAGE_CANDIDATE, "2022-03-01"), (pb.DEVELOPMENT_STAGE_PROBATIONARY, "2022-09-01"),
        (pb.DEVELOPMENT_STAGE_FULL, "2023-09-01"),
    ]
    assert a.version == 7
    assert {i.side for i in a.inspections} == {"HOME", "DESTINATION"}
    fetched = await platform.registry_stub.GetApplicant(pb.GetApplicantRequest(id=a.id), metadata=tokens["secretary"])
    assert fetched.applicant == a
    await fails(platform.registry_stub.AdvanceApplicant(
        pb.AdvanceApplicantRequest(id=a.id, stage=pb.DEVELOPMENT_STAGE_FULL, date="2024-01-01", version=a.version),
        metadata=md), grpc.StatusCode.INVALID_ARGUMENT)
    await fails(inspect(platform, md, a.id, "HOME", "2024-01-01"), grpc.StatusCode.FAILED_PRECONDITION)


@pytest.mark.parametrize(("stage", "on", "field"), [
    (pb.DEVELOPMENT_STAGE_CANDIDATE, "2021-06-01", "stage"),
    (pb.DEVELOPMENT_STAGE_ACTIVIST, "2021-01-09", "date"),
    (pb.DEVELOPMENT_STAGE_ACTIVIST, "2999-01-01", "date"),
])
async def test_a_refused_advance_names_the_field_and_writes_nothing(platform, tokens, admin_conn_factory, stage, on,
                                                                    field):
    a = await create(platform, tokens)
    before = await stored(admin_conn_factory, a.id)
    err = await fails(advance(platform, tokens["home"], a, stage, on), grpc.StatusCode.INVALID_ARGUMENT)
    assert field in violations(err)
    assert await stored(admin_conn_factory, a.id) == before == (1, pb.DEVELOPMENT_STAGE_APPLICANT, 1)


async def test_an_activist_trained_less_than_a_year_cannot_become_a_candidate(platform, tokens, admin_conn_factory):
    md = tokens["home"]
    a = await advance(platform, md, await create(platform, tokens), pb.DEVELOPMENT_STAGE_ACTIVIST, "2021-03-01")
    await inspect(platform, md, a.id, "HOME", "2021-05-01")
    a = await inspect(platform, md, a.id, "DESTINATION", "2021-06-01")
    before = await stored(admin_conn_factory, a.id)
    err = await fails(advance(platform, md, a, pb.DEVELOPMENT_STAGE_CANDIDATE, "2022-02-28"),
                      grpc.StatusCode.INVALID_ARGUMENT)
    assert "2022-03-01" in violations(err)["date"]
    assert await stored(admin_conn_factory, a.id) == before
    assert (await advance(platform, md, a, pb.DEVELOPMENT_STAGE_CANDIDATE, "2022-03-01")).stage == \
        pb.DEVELOPMENT_STAGE_CANDIDATE


async def test_a_migrant_becomes_a_candidate_only_after_inspections_from_both_sides(platform, tokens,
                                                                                    admin_conn_factory):
    md = tokens["home"]
    a = await advance(platform, md, await create(platform, tokens), pb.DEVELOPMENT_STAGE_ACTIVIST, "2021-03-01")
    err = await fails(advance(platform, md, a, pb.DEVELOPMENT_STAGE_CANDIDATE, "2022-04-01"),
                      grpc.StatusCode.INVALID_ARGUMENT)
    assert "流出地" in violations(err)["inspections"] and "流入地" in violations(err)["inspections"]
    a = await inspect(platform, md, a.id, "HOME", "2022-01-10")
    before = await stored(admin_conn_factory, a.id)
    err = await fails(advance(platform, md, a, pb.DEVELOPMENT_STAGE_CANDIDATE, "2022-04-01"),
                      grpc.StatusCode.INVALID_ARGUMENT)
    assert "流入地" in violations(err)["inspections"]
    assert await stored(admin_conn_factory, a.id) == before


async def test_a_stale_version_is_failed_precondition(platform, tokens, admin_conn_factory):
    md = tokens["home"]
    a = await create(platform, tokens)
    await inspect(platform, md, a.id, "HOME", "2021-02-01")
    before = await stored(admin_conn_factory, a.id)
    await fails(advance(platform, md, a, pb.DEVELOPMENT_STAGE_ACTIVIST, "2021-03-01"),
                grpc.StatusCode.FAILED_PRECONDITION)
    assert await stored(admin_conn_factory, a.id) == before


async def test_another_countys_applicant_is_not_found(platform, tokens):
    a = await create(platform, tokens)
    other = tokens["other"]
    await fails(platform.registry_stub.GetApplicant(pb.GetApplicantRequest(id=a.id), metadata=other),
                grpc.StatusCode.NOT_FOUND)
    await fails(advance(platform, other, a, pb.DEVELOPMENT_STAGE_ACTIVIST, "2021-03-01"), grpc.StatusCode.NOT_FOUND)
    await fails(inspect(platform, other, a.id, "HOME", "2021-03-01"), grpc.StatusCode.NOT_FOUND)
    await fails(platform.registry_stub.GetApplicant(pb.GetApplicantRequest(id="not-a-uuid"), metadata=other),
                grpc.StatusCode.NOT_FOUND)
    listed = await platform.registry_stub.ListApplicants(pb.ListApplicantsRequest(page_size=200), metadata=other)
    assert a.id not in {x.id for x in listed.applicants}
    assert all(x.tenant_id == OTHER_COUNTY for x in listed.applicants)


async def test_roles(platform, tokens):
    a = await create(platform, tokens)
    await platform.registry_stub.GetApplicant(pb.GetApplicantRequest(id=a.id), metadata=tokens["secretary"])
    await fails(platform.registry_stub.CreateApplicant(applicant_request(), metadata=tokens["secretary"]),
                grpc.StatusCode.PERMISSION_DENIED)
    await fails(platform.registry_stub.ListApplicants(pb.ListApplicantsRequest(), metadata=tokens["analyst"]),
                grpc.StatusCode.PERMISSION_DENIED)
    await fails(platform.registry_stub.GetApplicant(pb.GetApplicantRequest(id=a.id), metadata=tokens["no_county"]),
                grpc.StatusCode.NOT_FOUND)


async def test_applicants_of_another_township_look_absent_to_its_officers(platform, tokens):
    a = await create(platform, tokens)
    for who in ("township_b", "secretary_b", "guidance_b", "unbound"):
        md = tokens[who]
        expected = grpc.StatusCode.PERMISSION_DENIED if who == "unbound" else grpc.StatusCode.NOT_FOUND
        await fails(platform.registry_stub.GetApplicant(pb.GetApplicantRequest(id=a.id), metadata=md), expected)
    for who in ("township_b",):
        md = tokens[who]
        await fails(advance(platform, md, a, pb.DEVELOPMENT_STAGE_ACTIVIST, "2021-03-01"), grpc.StatusCode.NOT_FOUND)
        await fails(inspect(platform, md, a.id, "HOME", "2021-03-01"), grpc.StatusCode.NOT_FOUND)
    for who in ("township_b", "secretary_b", "guidance_b"):
        listed = await platform.registry_stub.ListApplicants(pb.ListApplicantsRequest(page_size=200),
                                                             metadata=tokens[who])
        assert a.id not in {x.id for x in listed.applicants}
    # Its own township, its own branch and the county see it.
    for who in ("township", "secretary", "home"):
        listed = await platform.registry_stub.ListApplicants(pb.ListApplicantsRequest(page_size=200),
                                                             metadata=tokens[who])
        assert a.id in {x.id for x in listed.applicants}


async def test_a_township_officer_records_applicants_only_in_its_own_township(platform, tokens):
    tree = tokens["tree"]
    err = await fails(platform.registry_stub.CreateApplicant(
        applicant_request(home_org_id=tree["b1"]), metadata=tokens["township"]), grpc.StatusCode.INVALID_ARGUMENT)
    assert violations(err) == {"home_org_id": "所属党组织不存在"}
    err = await fails(platform.registry_stub.CreateApplicant(applicant_request(), metadata=tokens["township"]),
                      grpc.StatusCode.INVALID_ARGUMENT)
    assert "home_org_id" in violations(err)
    made = await platform.registry_stub.CreateApplicant(applicant_request(home_org_id=tree["a1"]),
                                                        metadata=tokens["township"])
    assert made.applicant.home_org_id == tree["a1"]


async def test_an_applicant_without_a_home_organisation_is_the_county_departments_alone(platform, tokens):
    a = await create(platform, tokens, home_org_id="")
    await platform.registry_stub.GetApplicant(pb.GetApplicantRequest(id=a.id), metadata=tokens["home"])
    await fails(platform.registry_stub.GetApplicant(pb.GetApplicantRequest(id=a.id), metadata=tokens["township"]),
                grpc.StatusCode.NOT_FOUND)


async def test_the_same_id_number_twice_in_one_county_is_already_exists(platform, tokens):
    request = applicant_request()
    await platform.registry_stub.CreateApplicant(request, metadata=tokens["home"])
    await fails(platform.registry_stub.CreateApplicant(request, metadata=tokens["home"]),
                grpc.StatusCode.ALREADY_EXISTS)


async def test_a_member_of_the_county_cannot_apply_again(platform, tokens):
    member = member_request(HOME_COUNTY)
    await platform.registry_stub.CreateMember(member, metadata=tokens["home"])
    err = await fails(platform.registry_stub.CreateApplicant(applicant_request(id_number=member.id_number),
                                                             metadata=tokens["home"]), grpc.StatusCode.ALREADY_EXISTS)
    assert "党员" in err.details()


async def test_a_repeated_request_id_returns_the_first_applicant(platform, tokens, admin_conn_factory):
    conn = await admin_conn_factory("registry")
    request = applicant_request(request_id=f"retry-{uuid.uuid4()}")
    first = await platform.registry_stub.CreateApplicant(request, metadata=tokens["home"])
    second = await platform.registry_stub.CreateApplicant(request, metadata=tokens["home"])
    assert first.applicant == second.applicant
    assert await conn.fetchval("SELECT count(*) FROM applicants WHERE request_id = $1", request.request_id) == 1


async def test_every_bad_field_of_an_application_is_reported_at_once(platform, tokens):
    request = applicant_request(name=" ", phone="12345", application_date="2030-01-01", mentors=[], delegated=True)
    err = await fails(platform.registry_stub.CreateApplicant(request, metadata=tokens["home"]),
                      grpc.StatusCode.INVALID_ARGUMENT)
    assert {"name", "phone", "application_date", "mentors", "delegated_org_name"} <= set(violations(err))


async def test_id_and_phone_numbers_are_encrypted_at_rest_and_masked_in_responses(platform, tokens,
                                                                                  admin_conn_factory):
    request = applicant_request()
    a = await create(platform, tokens, id_number=request.id_number)
    assert a.id_number_masked == request.id_number[:4] + "*" * 10 + request.id_number[-4:]
    assert a.phone_masked == "138****5678"
    assert [m.phone_masked for m in a.mentors] == ["139****6666", ""]
    assert a.birth_date == f"{request.id_number[6:10]}-{request.id_number[10:12]}-{request.id_number[12:14]}"
    for clear in (request.id_number, PHONE, MENTOR_PHONE):
        assert clear not in str(a)
    conn = await admin_conn_factory("registry")
    rows = [await conn.fetchrow("SELECT * FROM applicants WHERE id = $1::uuid", a.id),
            *await conn.fetch("SELECT * FROM applicant_mentors WHERE applicant_id = $1::uuid", a.id)]
    stored_bytes = b"".join(bytes(v) if isinstance(v, bytes | bytearray | memoryview) else str(v).encode()
                            for row in rows for v in row.values() if v is not None)
    for clear in (request.id_number, PHONE, MENTOR_PHONE):
        assert clear.encode() not in stored_bytes


async def test_pages_cover_every_applicant_once_and_filter_by_stage(platform, tokens):
    md = tokens["home"]
    created = [await create(platform, tokens) for _ in range(3)]
    activist = await advance(platform, md, created[0], pb.DEVELOPMENT_STAGE_ACTIVIST, "2021-02-01")
    seen: list[str] = []
    token = ""
    while True:
        page = await platform.registry_stub.ListApplicants(pb.ListApplicantsRequest(page_size=2, page_token=token),
                                                           metadata=md)
        assert len(page.applicants) <= 2
        seen += [x.id for x in page.applicants]
        token = page.next_page_token
        if not token:
            break
    assert len(seen) == len(set(seen))
    assert {c.id for c in created} <= set(seen)
    activists = await platform.registry_stub.ListApplicants(
        pb.ListApplicantsRequest(page_size=200, stage=pb.DEVELOPMENT_STAGE_ACTIVIST), metadata=md)
    assert activist.id in {x.id for x in activists.applicants}
    assert {x.stage for x in activists.applicants} == {pb.DEVELOPMENT_STAGE_ACTIVIST}


# ------------------------------------------------------------------------------------------------ HTTP


def http_headers(county_token, county: str = HOME_COUNTY) -> dict[str, str]:
    """A county_admin's bearer header."""
    return {"Authorization": f"Bearer {county_token(county)}"}


def applicant_json(**overrides: object) -> dict[str, object]:
    """A valid JSON body for POST /applicants."""
    body: dict[str, object] = {
        "name": "吴春梅", "id_number": id_number(HOME_COUNTY), "phone": "139 0000 1234", "township": "新集镇",
        "village": "箭厂河村", "destination_code": "440100", "employer": "广州白云电器",
        "application_date": "2021-01-10",
        "mentors": [{"name": "胡德明", "phone": MENTOR_PHONE, "side": "home"},
                    {"name": "黄海", "side": "destination", "org_name": "新县驻广州流动党员党支部"}],
        "delegated": True,
    }
    body.update(overrides)
    return body


async def test_the_pipeline_over_http(platform, county_token):
    h = http_headers(county_token)
    base = f"/api/v1/tenants/{HOME_COUNTY}/applicants"
    body = applicant_json()
    created = await platform.http.post(base, json=body, headers=h)
    assert created.status_code == 201, created.text
    a = created.json()
    assert created.headers["location"] == f"{base}/{a['id']}"
    assert (a["stage"], a["destination_name"]) == ("applicant", "广州市") and a["gender"] in {"male", "female"}
    assert a["phone_masked"] == "139****1234" and a["mentors"][0]["phone_masked"] == "139****6666"
    assert a["mentors"][1]["side"] == "destination"
    assert body["id_number"] not in created.text and MENTOR_PHONE not in created.text
    step = await platform.http.post(f"{base}/{a['id']}/advance", headers=h,
                                    json={"stage": "activist", "date": "2021-03-01", "version": a["version"]})
    assert step.status_code == 200, step.text
    a = step.json()
    for side, on in (("home", "2022-01-05"), ("destination", "2022-01-20")):
        added = await platform.http.post(f"{base}/{a['id']}/inspections", headers=h, json={
            "side": side, "inspected_on": on, "inspector": "县委组织部考察组", "summary": "表现良好"})
        assert added.status_code == 201, added.text
        a = added.json()
    step = await platform.http.post(f"{base}/{a['id']}/advance", headers=h,
                                    json={"stage": "candidate", "date": "2022-03-01", "version": a["version"]})
    assert step.json()["stage"] == "candidate"
    assert [s["stage"] for s in step.json()["stages"]] == ["applicant", "activist", "candidate"]
    fetched = await platform.http.get(f"{base}/{a['id']}", headers=h)
    assert fetched.json() == step.json()
    listed = await platform.http.get(f"{base}?stage=candidate&page_size=200", headers=h)
    assert a["id"] in {x["id"] for x in listed.json()["applicants"]}


async def test_http_problems(platform, county_token):
    h = http_headers(county_token)
    base = f"/api/v1/tenants/{HOME_COUNTY}/applicants"
    a = (await platform.http.post(base, json=applicant_json(), headers=h)).json()
    skipped = await platform.http.post(f"{base}/{a['id']}/advance", headers=h,
                                       json={"stage": "candidate", "date": "2021-03-01", "version": a["version"]})
    assert skipped.status_code == 422
    assert skipped.headers["content-type"].startswith("application/problem+json")
    assert "stage" in {e["field"] for e in skipped.json()["errors"]}
    stale = await platform.http.post(f"{base}/{a['id']}/advance", headers=h,
                                     json={"stage": "activist", "date": "2021-03-01", "version": a["version"] + 1})
    assert stale.status_code == 409
    other = http_headers(county_token, OTHER_COUNTY)
    assert (await platform.http.get(f"{base}/{a['id']}", headers=other)).status_code == 404
    as_own_path = await platform.http.get(f"/api/v1/tenants/{OTHER_COUNTY}/applicants/{a['id']}", headers=other)
    assert as_own_path.status_code == 404
    foreign_advance = await platform.http.post(
        f"/api/v1/tenants/{OTHER_COUNTY}/applicants/{a['id']}/advance", headers=other,
        json={"stage": "activist", "date": "2021-03-01", "version": a["version"]})
    assert foreign_advance.status_code == 404
    bad_side = await platform.http.post(f"{base}/{a['id']}/inspections", headers=h,
                                        json={"side": "abroad", "inspected_on": "2021-03-01", "inspector": "x",
                                              "summary": "y"})
    assert bad_side.status_code == 422 and "side" in {e["field"] for e in bad_side.json()["errors"]}
