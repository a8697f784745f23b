"""The OpenAPI compatibility gate: each breaking class on small documents, additive changes pass, baseline fresh."""

from __future__ import annotations

import copy
import importlib.util
import json
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

ROOT = Path(__file__).resolve().parents[3]


def _load_gate() -> Any:
    spec = importlib.util.spec_from_file_location("openapi_gate", ROOT / "scripts" / "openapi_gate.py")
    assert spec and spec.loader
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # dataclasses look their module up while the class is built
    spec.loader.exec_module(module)
    return module


gate = _load_gate()

NULLABLE_STRING = {"anyOf": [{"type": "string"}, {"type": "null"}]}
BASE: dict[str, Any] = {
    "openapi": "3.1.0",
    "paths": {
        "/items": {
            "post": {
                "requestBody": {"required": True, "content": {"application/json": {
                    "schema": {"$ref": "#/components/schemas/ItemIn"}}}},
                "responses": {"201": {"content": {"application/json": {
                    "schema": {"$ref": "#/components/schemas/ItemOut"}}}}, "422": {}},
            },
            "get": {
                "parameters": [
                    {"name": "q", "in": "query", "required": False, "schema": {"type": "string"}},
                    {"name": "X-Trace", "in": "header", "required": False, "schema": NULLABLE_STRING},
                ],
                "responses": {"200": {"content": {"application/json": {"schema": {
                    "type": "array", "items": {"$ref": "#/components/schemas/ItemOut"}}}}}},
            },
        },
        "/items/{item_id}": {
            "get": {
                "parameters": [{"name": "item_id", "in": "path", "required": True, "schema": {"type": "string"}}],
                "responses": {"200": {"content": {"application/json": {
                    "schema": {"$ref": "#/components/schemas/ItemOut"}}}}},
            },
        },
    },
    "components": {"schemas": {
        "ItemIn": {"type": "object", "required": ["name"], "properties": {
            "name": {"type": "string", "maxLength": 50, "description": "名称"},
            "kind": {"type": "string", "enum": ["a", "b"], "default": "a"},
            "tags": {"type": "array", "items": {"type": "string"}},
            "note": NULLABLE_STRING,
        }},
        "ItemOut": {"type": "object", "required": ["id", "name", "kind"], "properties": {
            "id": {"type": "string"},
            "name": {"type": "string"},
            "kind": {"type": "string", "enum": ["a", "b"]},
            "count": {"type": "integer"},
            "note": {"type": "string"},
        }},
    }},
}


def changed(edit: Callable[[dict[str, Any]], None]) -> Any:
    """Compare BASE with a copy of it changed by ``edit``."""
    after = copy.deepcopy(BASE)
    edit(after)
    return gate.compare(BASE, after)


def _paths(doc: dict[str, Any]) -> dict[str, Any]:
    return doc["paths"]


def _schemas(doc: dict[str, Any]) -> dict[str, Any]:
    return doc["components"]["schemas"]


def _query(doc: dict[str, Any]) -> dict[str, Any]:
    return _paths(doc)["/items"]["get"]["parameters"][0]


BREAKING: dict[str, tuple[Callable[[dict[str, Any]], None], str]] = {
    "removed path": (lambda d: _paths(d).pop("/items/{item_id}"), "/items/{item_id}: 路径被删除 / path removed"),
    "removed method": (lambda d: _paths(d)["/items"].pop("get"), "GET /items: 方法被删除"),
    "removed parameter": (lambda d: _paths(d)["/items"]["get"]["parameters"].pop(0), "query q: 参数被删除或改名"),
    "renamed parameter": (lambda d: _query(d).update(name="query"), "query q: 参数被删除或改名"),
    "parameter became required": (lambda d: _query(d).update(required=True), "query q: 参数变为必填"),
    "new required query parameter": (
        lambda d: _paths(d)["/items"]["get"]["parameters"].append(
            {"name": "page", "in": "query", "required": True, "schema": {"type": "integer"}}),
        "GET /items query page: 新增必填参数"),
    "new required header": (
        lambda d: _paths(d)["/items"]["get"]["parameters"].append(
            {"name": "x-tenant", "in": "header", "required": True, "schema": {"type": "string"}}),
        "GET /items header x-tenant: 新增必填参数"),
    "new required request field": (
        lambda d: _schemas(d)["ItemIn"].update(
            required=["name", "status"],
            properties={**_schemas(d)["ItemIn"]["properties"], "status": {"type": "string"}}),
        "POST /items body.status: 新增必填字段 / new required field"),
    "request field became required": (
        lambda d: _schemas(d)["ItemIn"]["required"].append("kind"), "POST /items body.kind: 字段变为必填"),
    "request field type changed": (
        lambda d: _schemas(d)["ItemIn"]["properties"].update(name={"type": "integer"}),
        "POST /items body.name: 类型改变 string → integer"),
    "request array item type changed": (
        lambda d: _schemas(d)["ItemIn"]["properties"]["tags"].update(items={"type": "integer"}),
        "POST /items body.tags[]: 类型改变 string → integer"),
    "request field removed": (
        lambda d: _schemas(d)["ItemIn"]["properties"].pop("tags"), "POST /items body.tags: 请求字段被删除"),
    "request enum value removed": (
        lambda d: _schemas(d)["ItemIn"]["properties"]["kind"].update(enum=["a"]),
        "POST /items body.kind: 枚举值被删除 ['b']"),
    "request field no longer nullable": (
        lambda d: _schemas(d)["ItemIn"]["properties"].update(note={"type": "string"}),
        "POST /items body.note: 不再接受 null"),
    "request limit tightened": (
        lambda d: _schemas(d)["ItemIn"]["properties"]["name"].update(maxLength=20),
        "POST /items body.name: 限制收紧 maxLength 50 → 20"),
    "response field type changed": (
        lambda d: _schemas(d)["ItemOut"]["properties"].update(count={"type": "string"}),
        "GET /items/{item_id} response 200.count: 类型改变 integer → string"),
    "response field removed": (
        lambda d: _schemas(d)["ItemOut"]["properties"].pop("name"),
        "GET /items response 200[].name: 响应字段被删除 / response field removed"),
    "response field no longer always present": (
        lambda d: _schemas(d)["ItemOut"]["required"].remove("kind"),
        "POST /items response 201.kind: 响应字段不再总是返回"),
    "response field may be null": (
        lambda d: _schemas(d)["ItemOut"]["properties"].update(note=NULLABLE_STRING),
        "POST /items response 201.note: 现在可能为 null"),
    "success status changed": (
        lambda d: _paths(d)["/items"]["post"]["responses"].update({"200": _paths(d)["/items"]["post"]["responses"]
                                                                   .pop("201")}),
        "POST /items: 成功状态码改变 ['201'] → ['200']"),
    "response content type changed": (
        lambda d: _paths(d)["/items/{item_id}"]["get"]["responses"]["200"].update(
            content={"text/csv": {"schema": {"type": "string"}}}),
        "GET /items/{item_id} response 200: 内容类型改变"),
    "request content type dropped": (
        lambda d: _paths(d)["/items"]["post"]["requestBody"].update(
            content={"text/csv": {"schema": {"type": "string"}}}),
        "POST /items body application/json: 不再接受此内容类型"),
    "required field through allOf": (
        lambda d: _schemas(d).update(ItemIn={"allOf": [copy.deepcopy(_schemas(d)["ItemIn"]),
                                                       {"type": "object", "required": ["kind"]}]}),
        "POST /items body.kind: 字段变为必填"),
}


@pytest.mark.parametrize("case", BREAKING)
def test_breaking_change_is_found(case):
    edit, expected = BREAKING[case]
    found = changed(edit)
    assert any(expected in line for line in found.breaking), found.breaking


ADDITIVE: dict[str, Callable[[dict[str, Any]], None]] = {
    "new path": lambda d: _paths(d).update({"/other": copy.deepcopy(_paths(d)["/items/{item_id}"])}),
    "new optional request field": lambda d: _schemas(d)["ItemIn"]["properties"].update(
        colour={"type": "string", "default": ""}),
    "new optional query parameter": lambda d: _paths(d)["/items"]["get"]["parameters"].append(
        {"name": "sort", "in": "query", "required": False, "schema": {"type": "string"}}),
    "new response field": lambda d: _schemas(d)["ItemOut"]["properties"].update(extra={"type": "string"}),
    "description changed": lambda d: _schemas(d)["ItemIn"]["properties"]["name"].update(description="新的说明"),
    "request field became optional": lambda d: _schemas(d)["ItemIn"]["required"].clear(),
    "request field became nullable": lambda d: _schemas(d)["ItemIn"]["properties"].update(name={
        "anyOf": [{"type": "string", "maxLength": 50}, {"type": "null"}]}),
    "request limit loosened": lambda d: _schemas(d)["ItemIn"]["properties"]["name"].update(maxLength=80),
    "path parameter renamed": lambda d: _paths(d).update({"/items/{id}": _renamed_path_parameter(d)}),
    "header name case changed": lambda d: _paths(d)["/items"]["get"]["parameters"][1].update(name="x-trace"),
}


def _renamed_path_parameter(doc: dict[str, Any]) -> dict[str, Any]:
    ops = _paths(doc).pop("/items/{item_id}")
    ops["get"]["parameters"][0]["name"] = "id"
    return ops


@pytest.mark.parametrize("case", ADDITIVE)
def test_additive_change_passes(case):
    found = changed(ADDITIVE[case])
    assert found.breaking == []


def test_added_response_enum_value_is_only_a_warning():
    found = changed(lambda d: _schemas(d)["ItemOut"]["properties"]["kind"]["enum"].append("c"))
    assert found.breaking == []
    assert any("响应新增枚举值 ['c']" in line for line in found.warnings)


def test_identical_documents_have_no_findings():
    found = gate.compare(BASE, copy.deepcopy(BASE))
    assert (found.breaking, found.warnings) == ([], [])


def test_recursive_schemas_terminate():
    children = {"type": "array", "items": {"$ref": "#/components/schemas/Node"}}
    tree = {"type": "object", "properties": {"children": children}}
    doc = {"paths": {"/tree": {"get": {"responses": {"200": {"content": {"application/json": {
        "schema": {"$ref": "#/components/schemas/Node"}}}}}}}}, "components": {"schemas": {"Node": tree}}}
    assert gate.compare(doc, copy.deepcopy(doc)).breaking == []


def test_committed_document_matches_the_app():
    # A stale docs/openapi.json fails the suite as well as `make lint`.
    committed = (ROOT / "docs" / "openapi.json").read_text(encoding="utf-8")
    assert gate.render(gate.current_document()) == committed, "run: python scripts/openapi_gate.py --write"


def test_new_member_status_stays_optional():
    # It was published without membership_status; clients that omit it get 正式党员 (full).
    member_in = json.loads((ROOT / "docs" / "openapi.json").read_text(encoding="utf-8"))["components"]["schemas"][
        "MemberIn"]
    assert "membership_status" not in member_in["required"]
    assert member_in["properties"]["membership_status"]["default"] == "full"
