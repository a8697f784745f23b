"""The HTTP API's compatibility gate: the app's OpenAPI document against the committed one, like `buf breaking`.

`--write` regenerates docs/openapi.json; `--check` (the default, run by `make lint`) fails on a breaking change
against the document at git HEAD (or the file on disk outside a checkout) and on a stale file on disk.
There is no maintained OpenAPI diff library for Python on PyPI (oasdiff is Go and cannot be installed here),
so the comparison is hand-written: one walker over (schema before, schema after, request or response).
"""

from __future__ import annotations

import argparse
import json
import re
import subprocess
import sys
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
DOC = ROOT / "docs" / "openapi.json"
WRITE_HINT = "python scripts/openapi_gate.py --write"
METHODS = ("get", "put", "post", "delete", "patch", "head", "options", "trace")
REQUEST, RESPONSE = "request", "response"
# Tightening one of these on a request refuses what old clients send.
UPPER_LIMITS = ("maxLength", "maximum", "exclusiveMaximum", "maxItems")
LOWER_LIMITS = ("minLength", "minimum", "exclusiveMinimum", "minItems")

Schema = dict[str, Any]


def current_document() -> Schema:
    """The app's OpenAPI document; building the app opens nothing (that happens in its lifespan)."""
    from jinqiao.gateway.app import create_app
    from jinqiao.gateway.settings import GatewaySettings

    # model_construct: defaults only, so the environment cannot change the document.
    return create_app(GatewaySettings.model_construct()).openapi()


def render(document: Schema) -> str:
    """Sorted keys, two-space indent, Chinese kept readable, one trailing newline."""
    return json.dumps(document, sort_keys=True, indent=2, ensure_ascii=False) + "\n"


@dataclass
class Findings:
    """What changed: breaking lines fail the gate, warnings are only shown."""

    breaking: list[str] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)


def compare(before: Schema, after: Schema) -> Findings:
    """Every change that would break a client written against ``before``."""
    return _Gate(before, after).run()


class _Gate:
    """Walks the operations of two documents side by side, collecting findings."""

    def __init__(self, before: Schema, after: Schema) -> None:
        self.docs = (before, after)
        self.found = Findings()

    def run(self) -> Findings:
        before, after = self.docs
        after_paths = {_template(p): (p, ops) for p, ops in after.get("paths", {}).items()}
        for path, ops in before.get("paths", {}).items():
            if _template(path) not in after_paths:
                self.breaking(path, "", "路径被删除", "path removed")
                continue
            new_path, new_ops = after_paths[_template(path)]
            for method in METHODS:
                if method in ops and method not in new_ops:
                    self.breaking(f"{method.upper()} {path}", "", "方法被删除", "method removed")
                elif method in ops:
                    self.operation(f"{method.upper()} {path}", (path, new_path), ops[method], new_ops[method])
        names = [set(doc.get("components", {}).get("schemas", {})) for doc in self.docs]
        for name in sorted(names[0] - names[1]):
            self.warn("components.schemas", name, "模式名不再存在（生成的客户端类型名会变）",
                      "schema name gone (generated client type names change)")
        return self.found

    def breaking(self, where: str, what: str, zh: str, en: str) -> None:
        self.found.breaking.append(_line(where, what, zh, en))

    def warn(self, where: str, what: str, zh: str, en: str) -> None:
        self.found.warnings.append(_line(where, what, zh, en))

    def operation(self, op: str, paths: tuple[str, str], old: Schema, new: Schema) -> None:
        self.parameters(op, paths, old.get("parameters", []), new.get("parameters", []))
        self.request_body(op, old.get("requestBody"), new.get("requestBody"))
        self.responses(op, old.get("responses", {}), new.get("responses", {}))

    def parameters(self, op: str, paths: tuple[str, str], old: list[Schema], new: list[Schema]) -> None:
        before = {_param_key(paths[0], p): p for p in (self.resolve(0, p)[1] for p in old)}
        after = {_param_key(paths[1], p): p for p in (self.resolve(1, p)[1] for p in new)}
        for key, param in before.items():
            what = f"{param['in']} {param['name']}"
            if key not in after:
                self.breaking(op, what, "参数被删除或改名", "parameter removed or renamed")
            elif after[key].get("required") and not param.get("required"):
                self.breaking(op, what, "参数变为必填", "parameter became required")
            else:
                self.schema(param.get("schema", {}), after[key].get("schema", {}), REQUEST, op, what)
        for key, param in after.items():
            if key not in before and param.get("required"):
                self.breaking(op, f"{param['in']} {param['name']}", "新增必填参数", "new required parameter")

    def request_body(self, op: str, old: Schema | None, new: Schema | None) -> None:
        old = self.resolve(0, old or {})[1]
        new = self.resolve(1, new or {})[1]
        if new.get("required") and not old.get("required"):
            self.breaking(op, "body", "请求体变为必填", "request body became required")
        for ctype, media in old.get("content", {}).items():
            if ctype not in new.get("content", {}):
                self.breaking(op, f"body {ctype}", "不再接受此内容类型", "content type no longer accepted")
            else:
                self.schema(media.get("schema", {}), new["content"][ctype].get("schema", {}), REQUEST, op, "body")

    def responses(self, op: str, old: Schema, new: Schema) -> None:
        old_codes = sorted(c for c in old if c.startswith("2"))
        new_codes = sorted(c for c in new if c.startswith("2"))
        if old_codes != new_codes:
            self.breaking(op, "", f"成功状态码改变 {old_codes} → {new_codes}", "success status code changed")
        for code in set(old_codes) & set(new_codes):
            old_content = self.resolve(0, old[code])[1].get("content", {})
            new_content = self.resolve(1, new[code])[1].get("content", {})
            if sorted(old_content) != sorted(new_content):
                self.breaking(op, f"response {code}", f"内容类型改变 {sorted(old_content)} → {sorted(new_content)}",
                              "content type changed")
            for ctype in set(old_content) & set(new_content):
                old_schema, new_schema = old_content[ctype].get("schema", {}), new_content[ctype].get("schema", {})
                self.schema(old_schema, new_schema, RESPONSE, op, f"response {code}")

    def resolve(self, side: int, schema: Schema) -> tuple[str, Schema]:
        """Follow ``$ref`` (siblings win) and merge ``allOf``; returns the last ref's name, for cycles."""
        name = ""
        while "$ref" in schema:
            name = schema["$ref"]
            target: Any = self.docs[side]
            for part in name.removeprefix("#/").split("/"):
                target = target[part]
            schema = {**target, **{k: v for k, v in schema.items() if k != "$ref"}}
        if "allOf" in schema:
            merged: Schema = {k: v for k, v in schema.items() if k != "allOf"}
            for part in schema["allOf"]:
                part = self.resolve(side, part)[1]
                properties = {**part.get("properties", {}), **merged.get("properties", {})}
                required = sorted({*part.get("required", []), *merged.get("required", [])})
                merged = {**part, **merged, "properties": properties, "required": required}
            schema = merged
        return name, schema

    def branches(self, side: int, schema: Schema) -> tuple[list[tuple[str, Schema]], bool]:
        """The non-null alternatives of a schema (anyOf/oneOf flattened) and whether null is allowed."""
        name, schema = self.resolve(side, schema)
        union = schema.get("anyOf") or schema.get("oneOf")
        if union:
            found, nullable = [], False
            for option in union:
                options, option_nullable = self.branches(side, option)
                found += options
                nullable = nullable or option_nullable
            return found, nullable
        types = schema.get("type")
        if types == "null" or types == ["null"]:
            return [], True
        nullable = bool(schema.get("nullable")) or (isinstance(types, list) and "null" in types)
        if isinstance(types, list):
            schema = {**schema, "type": next(iter(t for t in types if t != "null"), None)}
        return [(name, schema)], nullable

    def schema(self, old: Schema, new: Schema, direction: str, op: str, where: str,
               seen: frozenset[tuple[str, str]] = frozenset()) -> None:
        """Compare two schemas at one place; ``direction`` says who must keep understanding whom."""
        old_options, old_null = self.branches(0, old)
        new_options, new_null = self.branches(1, new)
        if direction == REQUEST and old_null and not new_null:
            self.breaking(op, where, "不再接受 null", "no longer accepts null")
        if direction == RESPONSE and new_null and not old_null:
            self.breaking(op, where, "现在可能为 null", "may now be null")
        old_types = {_type(s): (n, s) for n, s in old_options}
        new_types = {_type(s): (n, s) for n, s in new_options}
        if None not in old_types and None not in new_types and set(old_types) != set(new_types):
            self.breaking(op, where, f"类型改变 {_types(old_types)} → {_types(new_types)}", "type changed")
            return
        if len(old_options) == len(old_types) and len(new_options) == len(new_types):  # pair alternatives by type
            for kind in old_types.keys() & new_types.keys():
                (old_name, old_one), (new_name, new_one) = old_types[kind], new_types[kind]
                if (old_name, new_name) in seen:  # a recursive schema already being compared here
                    continue
                pair = {(old_name, new_name)} if old_name or new_name else set()
                self.one(old_one, new_one, direction, op, where, seen | pair)

    def one(self, old: Schema, new: Schema, direction: str, op: str, where: str,
            seen: frozenset[tuple[str, str]]) -> None:
        """Compare two schemas without alternatives: values, limits, fields, items."""
        self.values(old, new, direction, op, where)
        if direction == REQUEST:
            for key in UPPER_LIMITS + LOWER_LIMITS:
                before, after = old.get(key), new.get(key)
                tighter = after is not None and (before is None or (after < before if key in UPPER_LIMITS
                                                                    else after > before))
                if tighter:
                    self.breaking(op, where, f"限制收紧 {key} {before} → {after}", "constraint tightened")
        old_props, new_props = old.get("properties", {}), new.get("properties", {})
        old_required, new_required = set(old.get("required", [])), set(new.get("required", []))
        for name in old_props:
            here = f"{where}.{name}"
            if name not in new_props:
                zh, en = ("请求字段被删除（旧客户端仍会发送）", "request field removed") if direction == REQUEST \
                    else ("响应字段被删除", "response field removed")
                self.breaking(op, here, zh, en)
                continue
            if direction == RESPONSE and name in old_required and name not in new_required:
                self.breaking(op, here, "响应字段不再总是返回", "response field no longer always present")
            self.schema(old_props[name], new_props[name], direction, op, here, seen)
        if direction == REQUEST:
            for name in sorted(new_required - old_required):
                zh, en = ("字段变为必填", "field became required") if name in old_props \
                    else ("新增必填字段", "new required field")
                self.breaking(op, f"{where}.{name}", zh, en)
        if "items" in old and "items" in new:
            self.schema(old["items"], new["items"], direction, op, f"{where}[]", seen)
        if isinstance(old.get("additionalProperties"), dict) and isinstance(new.get("additionalProperties"), dict):
            self.schema(old["additionalProperties"], new["additionalProperties"], direction, op, f"{where}{{}}", seen)

    def values(self, old: Schema, new: Schema, direction: str, op: str, where: str) -> None:
        """Enumerations: a request must keep accepting old values; a response may grow (a warning)."""
        before, after = _enum(old), _enum(new)
        if direction == REQUEST and before is not None and after is not None and before - after:
            self.breaking(op, where, f"枚举值被删除 {sorted(before - after, key=str)}", "enum values removed")
        elif direction == REQUEST and before is None and after is not None:
            self.breaking(op, where, f"取值被限定为 {sorted(after, key=str)}", "values now restricted to an enum")
        elif direction == RESPONSE and before is not None and after is not None and after - before:
            self.warn(op, where, f"响应新增枚举值 {sorted(after - before, key=str)}", "response enum values added")
        elif direction == RESPONSE and before is not None and after is None:
            self.warn(op, where, "响应取值不再限定为枚举", "response values no longer an enum")


def _line(where: str, what: str, zh: str, en: str) -> str:
    return f"{where} {what}: {zh} / {en}" if what else f"{where}: {zh} / {en}"


def _template(path: str) -> str:
    """``/members/{id}`` and ``/members/{member_id}`` are the same URL to a client."""
    return re.sub(r"\{[^}]*\}", "{}", path)


def _param_key(path: str, param: Schema) -> tuple[str, str | int]:
    if param["in"] == "path":  # a path parameter's name is not on the wire, its position is
        names = re.findall(r"\{([^}]*)\}", path)
        return "path", names.index(param["name"]) if param["name"] in names else param["name"]
    return param["in"], param["name"].lower() if param["in"] == "header" else param["name"]


def _type(schema: Schema) -> str | None:
    """``string``, ``string(date)``, ``object``…; None for a schema that accepts anything."""
    kind = schema.get("type") or ("object" if "properties" in schema else None)
    if kind is None:
        return None
    return f"{kind}({schema['format']})" if "format" in schema else str(kind)


def _types(options: dict[str | None, Any]) -> str:
    return "|".join(sorted(str(t) for t in options))


def _enum(schema: Schema) -> set[Any] | None:
    if "const" in schema:
        return {schema["const"]}
    return set(schema["enum"]) if "enum" in schema else None


def baseline(ref: str) -> tuple[str | None, str]:
    """The committed document at ``ref`` when in a git checkout that has it, else the file on disk."""
    try:
        shown = subprocess.run(["git", "-C", str(ROOT), "show", f"{ref}:./{DOC.relative_to(ROOT)}"],
                               capture_output=True, text=True, check=False)
    except FileNotFoundError:  # no git at all
        shown = None
    if shown is not None and shown.returncode == 0:
        return shown.stdout, f"git {ref}"
    return (DOC.read_text(encoding="utf-8") if DOC.exists() else None), str(DOC.relative_to(ROOT))


def main(argv: list[str] | None = None) -> int:
    """Write or check docs/openapi.json; the exit status is what `make lint` sees."""
    parser = argparse.ArgumentParser(description="HTTP API 兼容性检查 / OpenAPI compatibility gate")
    mode = parser.add_mutually_exclusive_group()
    mode.add_argument("--write", action="store_true", help="重新生成 docs/openapi.json / regenerate the document")
    mode.add_argument("--check", action="store_true", help="检查不兼容变更（默认）/ check for breaking changes")
    parser.add_argument("--against", default="HEAD", help="作为基线的 git 版本 / git ref of the baseline")
    args = parser.parse_args(argv)
    text = render(current_document())
    if args.write:
        DOC.parent.mkdir(parents=True, exist_ok=True)
        DOC.write_text(text, encoding="utf-8")
        print(f"已写入 / written: {DOC.relative_to(ROOT)}")
        return 0
    committed, label = baseline(args.against)
    if committed is None:
        print(f"没有已提交的 OpenAPI 文档，请运行 / no committed OpenAPI document, run: {WRITE_HINT}")
        return 1
    found = compare(json.loads(committed), json.loads(text))
    for line in found.warnings:
        print(f"警告 / warning: {line}")
    failed = bool(found.breaking)
    if found.breaking:
        print(f"HTTP API 不兼容的变更（相对 {label}）/ breaking changes against {label}:")
        print("\n".join(f"  - {line}" for line in found.breaking))
    on_disk = DOC.read_text(encoding="utf-8") if DOC.exists() else None
    if on_disk != text:
        print(f"{DOC.relative_to(ROOT)} 与当前应用不一致，请运行 / is stale, run: {WRITE_HINT}")
        failed = True
    if not failed:
        print(f"OpenAPI 文档兼容（相对 {label}）/ OpenAPI document compatible with {label}")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
