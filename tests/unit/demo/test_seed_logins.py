"""The demo has a login for every role, each org-bound one bound to the organisation it serves."""

from __future__ import annotations

import tomllib
from pathlib import Path

from jinqiao.demo.loans import bank_logins
from jinqiao.demo.seed import demo_accounts, org_logins
from jinqiao.kit.auth import Role

ORGS = {"township": "t", "branch": "b", "station": "s", "external": "e"}


def test_every_role_but_the_service_account_has_a_demo_login():
    accounts = [*demo_accounts(), *org_logins("411525", ORGS), *bank_logins()]
    # A county system is no login: the demo registers one as a service account (demo/seed.py DEMO_CLIENT_ID).
    assert {a.role for a in accounts} | {Role.MEMBER, Role.COUNTY_SYSTEM} == set(Role) - {Role.SERVICE}


def test_org_bound_logins_act_on_their_county_and_organisation():
    bound = {a.username: (a.role, a.acting_org) for a in org_logins("411525", ORGS)}
    assert bound == {
        "township-411525": (Role.TOWNSHIP_OFFICER, "t"), "branch-411525": (Role.BRANCH_SECRETARY, "b"),
        "guidance-411525": (Role.GUIDANCE_OFFICER, "e"), "station-411525": (Role.STATION_STAFF, "s"),
        "grid-411525": (Role.STATION_STAFF, "s"),
    }


def test_the_runner_prints_every_org_bound_login():
    config = tomllib.loads((Path(__file__).parents[3] / "deploy" / "embedded.toml").read_text())
    listed = set(config["demo"]["logins"])
    assert {a.username for a in org_logins("411525", ORGS)} | {"member-411525", "province"} <= listed
