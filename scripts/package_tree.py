"""Check the `jinqiao` package as Python imports it: `package_tree.py mypy` or `package_tree.py imports`.

The package is stitched from several folders (services/, gateway/, demo/, gen/) by setuptools'
package-dir mapping, which an editable install serves through an import hook that neither mypy nor
import-linter can follow. So this builds a tree of symlinks in that same shape (from the editable
finder's own mapping) and points the checker at it. mypy's settings live in pyproject.toml; the import
contracts are written here from services/catalog.toml, so a new service is covered without an edit.
"""

from __future__ import annotations

import importlib
import os
import shutil
import subprocess
import sys
import tomllib
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
TREE = ROOT / ".venv" / "typecheck"


def mapping() -> dict[str, Path]:
    """Package name → folder, as the editable install maps them."""
    for name in sys.modules.copy():
        if name.startswith("__editable___jinqiao") and name.endswith("_finder"):
            return {k: Path(v) for k, v in sys.modules[name].MAPPING.items()}
    site = next(Path(p) for p in sys.path if p.endswith("site-packages"))
    finder = next(site.glob("__editable___jinqiao_*_finder.py"))
    module = importlib.import_module(finder.stem)
    return {k: Path(v) for k, v in module.MAPPING.items()}


def source_of(name: str, packages: dict[str, Path]) -> Path:
    """The folder of a package: its own mapping, else its nearest mapped ancestor's folder below."""
    parts = name.split(".")
    for cut in range(len(parts), 0, -1):
        base = ".".join(parts[:cut])
        if base in packages:
            return packages[base].joinpath(*parts[cut:])
    raise KeyError(name)


def build_tree(packages: dict[str, Path]) -> Path:
    """Lay out every package at its import path: real folders down to each mapped package, links elsewhere."""
    shutil.rmtree(TREE, ignore_errors=True)
    real = {".".join(n.split(".")[:i]) for n in packages for i in range(1, n.count(".") + 2)}
    for name in sorted(real, key=lambda n: n.count(".")):
        target = TREE.joinpath(*name.split("."))
        target.mkdir(parents=True, exist_ok=True)
        source = source_of(name, packages)
        if not source.is_dir():
            continue
        for entry in source.iterdir():
            if f"{name}.{entry.name}" in real or entry.name == "__pycache__" or entry.name.startswith("."):
                continue
            (target / entry.name).symlink_to(entry)
    return TREE


# Modules a domain module may not import directly: frameworks, generated code and the kit's I/O parts.
DOMAIN_FORBIDDEN = [
    "grpc", "google", "asyncpg", "sqlalchemy", "alembic", "faststream", "nats", "fastapi", "starlette", "pydantic",
    "httpx", "jinqiao.events", "jinqiao.*.v1", "jinqiao.kit.db", "jinqiao.kit.broker", "jinqiao.kit.grpcserver",
    "jinqiao.kit.outbox", "jinqiao.kit.process", "jinqiao.kit.telemetry", "jinqiao.kit.usecases", "jinqiao.kit.audit",
]


def _lines(values: list[str]) -> str:
    return "".join(f"\n    {v}" for v in values)


def contracts() -> str:
    """The import contracts of the house plan (docs/architecture.md), for every catalogued service."""
    catalog = tomllib.loads((ROOT / "services" / "catalog.toml").read_text())["service"]
    packages = [s["package"] for s in catalog]
    services = [p for p in packages if p != "jinqiao.gateway"]
    text = f"""[importlinter]
root_package = jinqiao
include_external_packages = True

[importlinter:contract:concept-layers]
name = Inside a service or concept: entry points → service → repo → models → domain
type = layers
containers ={_lines([c for p in services for c in (p, p + ".*")])}
layers =
    (api) | (consumers) | (timers)
    (service)
    (repo)
    (models)
    (domain)

[importlinter:contract:kit-below-services]
name = The kit imports no service
type = forbidden
source_modules = jinqiao.kit
forbidden_modules ={_lines(packages + ["jinqiao.demo"])}

[importlinter:contract:domain-pure]
name = A domain module imports no framework, no stub and no I/O part of the kit
type = forbidden
source_modules =
    jinqiao.*.domain
    jinqiao.*.*.domain
forbidden_modules ={_lines(DOMAIN_FORBIDDEN)}
allow_indirect_imports = True
"""
    for package in packages:
        who = "The gateway imports" if package == "jinqiao.gateway" else f"{package} imports"
        text += f"""
[importlinter:contract:{package.rsplit(".", 1)[1]}-alone]
name = {who} no other service, only their generated stubs (and the kit)
type = forbidden
source_modules = {package}
forbidden_modules ={_lines([p for p in packages if p != package] + ["jinqiao.demo"])}
ignore_imports =
    {package}.** -> jinqiao.*.v1.**
    {package} -> jinqiao.*.v1.**
unmatched_ignore_imports_alerting = none
"""
    return text


def main() -> int:
    """Build the tree and run the checker named on the command line over it."""
    tool, *rest = sys.argv[1:] or ["mypy"]
    tree = build_tree(mapping())
    env = {**os.environ, "MYPYPATH": str(tree), "PYTHONPATH": str(tree)}
    if tool == "mypy":
        command = [sys.executable, "-m", "mypy", "--config-file", str(ROOT / "pyproject.toml"), "-p", "jinqiao", *rest]
        return subprocess.call(command, cwd=tree, env=env)
    if tool == "imports":
        config = tree.parent / "importlinter.ini"
        config.write_text(contracts())
        linter = Path(sys.executable).with_name("lint-imports")
        return subprocess.call([str(linter), "--no-cache", str(config), *rest], cwd=ROOT, env=env)
    print(f"usage: {sys.argv[0]} mypy|imports [args…]", file=sys.stderr)
    return 2


if __name__ == "__main__":
    sys.exit(main())
