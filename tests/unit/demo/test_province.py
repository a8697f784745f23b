"""The synthetic province's plan: Henan's codes, its proportions, valid ID numbers, a seed's determinism, growth."""

from __future__ import annotations

import csv
import io
from datetime import date

from jinqiao.demo import province
from jinqiao.kit import pii
from jinqiao.kit.regions import name_of
from jinqiao.kit.tenancy import parse_tenant
from jinqiao.organizations.v1 import organizations_pb2 as pb_orgs

TODAY = date(2026, 12, 1)


def test_the_counties_are_henans_under_its_18_cities() -> None:
    assert 150 <= len(province.COUNTIES) <= 165
    assert len(province.CITIES) == 18 and "4190" in province.CITIES  # 17 prefecture-level cities and 济源
    assert "419001" in province.COUNTIES and "411525" in province.COUNTIES
    for county in province.COUNTIES:
        assert parse_tenant(county) == county and county.startswith("41")
        assert name_of(county) != county, county  # every county has its name
    assert all(name_of(city) != city for city in province.CITIES)
    assert name_of("419001") == "济源市" and name_of("410105") == "金水区"


def test_shares_add_up_and_never_shrink_as_the_province_grows() -> None:
    for total in (10_000, 100_000, 1_000_000):
        shares = province.shares(total)
        assert sum(shares.values()) == total
        assert max(shares.values()) <= 3.5 * min(shares.values())
    small, large = province.shares(10_000), province.shares(100_000)
    assert all(large[c] >= small[c] for c in province.COUNTIES)


def test_members_have_valid_distinct_id_numbers_of_their_county() -> None:
    numbers = set()
    for index in range(3000):
        m = province.member("411525", index, seed=7)
        assert pii.validate_id_number(m.id_number, today=TODAY) == m.id_number
        assert m.id_number.startswith("411525")
        assert m.gender == ("男" if int(m.id_number[16]) % 2 else "女")
        assert m.join_date.year - m.birth.year >= 18
        numbers.add(m.id_number)
    assert len(numbers) == 3000
    # Far indices reach other 顺序码, still distinct from the first ones.
    assert province.member("411525", province.BIRTH_DAYS, seed=7).id_number not in numbers


def test_the_plan_is_fixed_by_the_seed() -> None:
    assert province.member("410102", 42, seed=7) == province.member("410102", 42, seed=7)
    assert province.member("410102", 42, seed=7).name != province.member("410102", 42, seed=8).name or \
        province.member("410102", 42, seed=7).phone != province.member("410102", 42, seed=8).phone
    assert province.flow("410102", 42, seed=7, today=TODAY) == province.flow("410102", 42, seed=7, today=TODAY)
    assert list(province.csv_rows("410102", 0, 50, seed=7)) == list(province.csv_rows("410102", 0, 50, seed=7))


def test_proportions_of_away_members_and_their_fates() -> None:
    indices = [(c, i) for c in province.COUNTIES[:20] for i in range(1000)]
    away = [(c, i) for c, i in indices if province.away(c, i, seed=7)]
    assert 0.13 < len(away) / len(indices) < 0.17
    plans = [province.flow(c, i, seed=7, today=TODAY) for c, i in away]
    outside = sum(p.destination in province.OUTSIDE for p in plans) / len(plans)
    assert 0.35 < outside < 0.45
    assert all(p.destination != c for (c, _), p in zip(away, plans, strict=True))
    assert all(p.destination in province.OUTSIDE or p.destination in province.COUNTIES for p in plans)
    assert all(0 < (TODAY - p.start_date).days <= 365 for p in plans)  # a year of flows
    assert 0.17 < sum(p.ticket for p in plans) / len(plans) < 0.23
    assert 0.02 < sum(p.loan for p in plans) / len(plans) < 0.04
    assert 0.08 < sum(p.returned for p in plans) / len(plans) < 0.12


def test_the_csv_holds_the_members_at_home_with_the_import_headers() -> None:
    content, rows = province.csv_file(province.csv_rows("411525", 0, 400, seed=7))
    read = list(csv.reader(io.StringIO(content.decode("gb18030"))))
    assert read[0] == province.HEADERS and len(read) == rows + 1
    at_home = [i for i in range(400) if not province.away("411525", i, seed=7)]
    assert rows == len(at_home)
    assert [r[4] for r in read[1:]] == [province.member("411525", i, seed=7).id_number for i in at_home]


def test_organisations_one_per_twenty_members_at_full_size() -> None:
    total = sum(len(province.org_plan(c, n)) for c, n in province.shares(1_000_000).items())
    assert 48_000 <= total <= 52_000
    plan = province.org_plan("411525", 6000)
    names = [o.name for o in plan]
    assert len(names) == len(set(names))
    assert plan[0].kind == pb_orgs.ORG_KIND_COUNTY_COMMITTEE and plan[0].parent == ""
    known = set()
    for org in plan:  # parents come first
        assert org.parent == "" or org.parent in known
        known.add(org.name)
    kinds = {o.kind for o in plan}
    assert {pb_orgs.ORG_KIND_TOWN_STATION, pb_orgs.ORG_KIND_ONLINE_BRANCH, pb_orgs.ORG_KIND_TOWNSHIP_COMMITTEE,
            pb_orgs.ORG_KIND_EXTERNAL_GENERAL_BRANCH, pb_orgs.ORG_KIND_VILLAGE_BRANCH} <= kinds


def test_growth_adds_rather_than_repeats() -> None:
    small, large = province.org_plan("411525", 600), province.org_plan("411525", 6000)
    assert large[: len(small)] == small
    assert list(province.chunks(0, 4500)) == [(0, 2000), (2000, 4000), (4000, 4500)]
    # A grown county continues where it stopped, and its files line up with a fresh county's.
    assert list(province.chunks(4500, 8100)) == [(4500, 6000), (6000, 8000), (8000, 8100)]
    first = [r[4] for r in province.csv_rows("411525", 0, 500, seed=7)]
    then = [r[4] for r in province.csv_rows("411525", 500, 1000, seed=7)]
    assert not set(first) & set(then)
    assert first + then == [r[4] for r in province.csv_rows("411525", 0, 1000, seed=7)]


def test_check_ins_are_fixed_by_the_flow() -> None:
    ids = [f"00000000-0000-0000-0000-{i:012d}" for i in range(2000)]
    assert [province.checks_in(i) for i in ids] == [province.checks_in(i) for i in ids]
    assert 0.8 < sum(map(province.checks_in, ids)) / len(ids) < 0.9
