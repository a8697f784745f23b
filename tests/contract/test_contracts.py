"""Contracts integrators rely on: the public HTTP routes and field names, and the protobuf conventions."""

from __future__ import annotations

import re

import pytest
from google.protobuf import descriptor

from jinqiao.events.v1 import (
    gateway_events_pb2,
    handover_pb2,
    meta_pb2,
    organizations_events_pb2,
    registry_events_pb2,
)
from jinqiao.gateway.app import create_app
from jinqiao.gateway.settings import GatewaySettings
from jinqiao.insights.v1 import insights_pb2
from jinqiao.operations.v1 import operations_pb2
from jinqiao.organizations.v1 import organizations_pb2
from jinqiao.registry.v1 import registry_pb2

SERVICE_FILES = [registry_pb2.DESCRIPTOR, insights_pb2.DESCRIPTOR, organizations_pb2.DESCRIPTOR,
                 operations_pb2.DESCRIPTOR]
EVENT_FILES = [registry_events_pb2.DESCRIPTOR, organizations_events_pb2.DESCRIPTOR, gateway_events_pb2.DESCRIPTOR]
FILES = [*SERVICE_FILES, *EVENT_FILES, meta_pb2.DESCRIPTOR, handover_pb2.DESCRIPTOR]
SNAKE = re.compile(r"^[a-z][a-z0-9_]*$")


@pytest.fixture(scope="module")
def openapi() -> dict:
    return create_app(GatewaySettings()).openapi()


@pytest.mark.parametrize(
    ("path", "method"),
    [
        ("/api/v1/auth/token", "post"),
        ("/api/v1/auth/refresh", "post"),
        ("/api/v1/auth/logout", "post"),
        ("/api/v1/auth/client-token", "post"),
        ("/api/v1/me", "get"),
        ("/api/v1/tenants/{tenant}/members", "post"),
        ("/api/v1/tenants/{tenant}/members", "get"),
        ("/api/v1/tenants/{tenant}/members/{member_id}", "get"),
        ("/api/v1/scopes/{scope}/insights/members", "get"),
        ("/api/v1/tenants/{tenant}/orgs", "post"),
        ("/api/v1/tenants/{tenant}/orgs/{org_id}", "get"),
        ("/api/v1/tenants/{tenant}/orgs/{org_id}/subtree", "get"),
        ("/api/v1/tenants/{tenant}/orgs/{org_id}/move", "post"),
        ("/api/v1/tenants/{tenant}/orgs/placement-suggestion", "get"),
        ("/api/v1/tenants/{tenant}/orgs/{org_id}/checklist", "get"),
        ("/api/v1/tenants/{tenant}/ledgers/external-orgs.{fmt}", "get"),
        ("/api/v1/tenants/{tenant}/ledgers/dispatched-officers.{fmt}", "get"),
        ("/api/v1/tenants/{tenant}/orgs/{org_id}/officers", "post"),
        ("/api/v1/tenants/{tenant}/orgs/{org_id}/grids", "post"),
        ("/api/v1/tenants/{tenant}/orgs/{org_id}/meetings", "post"),
        ("/api/v1/tenants/{tenant}/members/{member_id}", "patch"),
        ("/api/v1/tenants/{tenant}/members/{member_id}/flows", "post"),
        ("/api/v1/tenants/{tenant}/members/{member_id}/flows", "get"),
        ("/api/v1/tenants/{tenant}/flows", "get"),
        ("/api/v1/tenants/{tenant}/flows/{flow_id}", "get"),
        ("/api/v1/tenants/{tenant}/flows/{flow_id}/return", "post"),
        ("/api/v1/tenants/{tenant}/flows/{flow_id}/transfer", "post"),
        ("/api/v1/tenants/{tenant}/memberships", "get"),
        ("/api/v1/tenants/{tenant}/memberships/{membership_id}/check-in", "post"),
        ("/api/v1/tenants/{tenant}/members/{member_id}/check-in", "post"),
        ("/api/v1/tenants/{tenant}/members/{member_id}/evaluations", "get"),
        ("/api/v1/tenants/{tenant}/applicants", "post"),
        ("/api/v1/tenants/{tenant}/imports", "post"),
        ("/api/v1/tenants/{tenant}/ledgers/flows.{fmt}", "get"),
        ("/api/v1/scopes/{scope}/insights/flows", "get"),
    ],
)
def test_stable_routes_exist(openapi, path, method):
    assert method in openapi["paths"][path]


def test_every_json_field_is_snake_case(openapi):
    for name, schema in openapi["components"]["schemas"].items():
        for field in schema.get("properties", {}):
            assert SNAKE.match(field), f"{name}.{field}"


def test_token_response_shape(openapi):
    props = openapi["components"]["schemas"]["TokenResponse"]["properties"]
    assert set(props) == {"access_token", "token_type", "expires_in", "refresh_token", "refresh_expires_in"}
    assert props["expires_in"]["type"] == "integer" and props["refresh_expires_in"]["type"] == "integer"


def test_member_output_exposes_only_masked_pii(openapi):
    props = set(openapi["components"]["schemas"]["MemberOut"]["properties"])
    assert {"id_number_masked", "phone_masked"} <= props
    assert not {"id_number", "phone"} & props


def _enums(file: descriptor.FileDescriptor):
    yield from file.enum_types_by_name.values()
    for message in file.message_types_by_name.values():
        yield from message.enum_types


@pytest.mark.parametrize("file", FILES, ids=lambda f: f.name)
def test_enums_start_at_unspecified_zero(file):
    for enum in _enums(file):
        first = enum.values[0]
        assert first.number == 0 and first.name.endswith("_UNSPECIFIED"), enum.full_name


@pytest.mark.parametrize("file", SERVICE_FILES, ids=lambda f: f.name)
def test_each_rpc_has_its_own_request_and_response(file):
    for service in file.services_by_name.values():
        assert service.name.endswith("Service")
        for method in service.methods:
            assert method.input_type.name == f"{method.name}Request"
            assert method.output_type.name == f"{method.name}Response"


@pytest.mark.parametrize("file", EVENT_FILES, ids=lambda f: f.name)
def test_every_event_carries_meta_and_no_clear_pii(file):
    for message in file.message_types_by_name.values():
        assert message.fields_by_name["meta"].message_type.name == "EventMeta"
        assert not {"id_number", "phone"} & set(message.fields_by_name)
