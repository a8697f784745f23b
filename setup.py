"""Packages and their folders, computed from services/catalog.toml so a new service needs no edit here.

The rest of the metadata is in pyproject.toml. This runs at build time and imports nothing of jinqiao.
"""

from __future__ import annotations

import tomllib
from pathlib import Path

from setuptools import find_namespace_packages, setup

ROOT = Path(__file__).resolve().parent
# Packages that are not services: the shared kit and the demo seed.
SUPPORT = {"jinqiao.kit": "services/kit", "jinqiao.demo": "demo"}


def _tree(package: str, folder: str) -> tuple[dict[str, str], list[str]]:
    """A package, its folder and every folder under it (a new subpackage needs no edit).

    Data folders (migrations/versions, web) count as packages too, which is how setuptools wants them shipped.
    """
    found = find_namespace_packages(str(ROOT / folder), exclude=["*__pycache__*", "__pycache__"])
    subpackages = [f"{package}.{sub}" for sub in found]
    return {package: folder}, [package, *subpackages]


def _generated() -> tuple[dict[str, str], list[str]]:
    """Every proto package (``jinqiao.<name>.v1``) as generated into gen/."""
    dirs: dict[str, str] = {}
    for proto in sorted((ROOT / "proto").rglob("*.proto")):
        folder = proto.parent.relative_to(ROOT / "proto")
        dirs[".".join(folder.parts)] = f"gen/{folder.as_posix()}"
    return dirs, list(dirs)


def package_layout() -> tuple[dict[str, str], list[str]]:
    """``package_dir`` and ``packages`` for setuptools."""
    catalog = tomllib.loads((ROOT / "services" / "catalog.toml").read_text(encoding="utf-8"))
    package_dir, packages = {"jinqiao": "services"}, ["jinqiao"]
    trees = [(s["package"], s["path"]) for s in catalog["service"]] + list(SUPPORT.items())
    for package, folder in trees:
        dirs, found = _tree(package, folder)
        package_dir.update(dirs)
        packages += found
    dirs, found = _generated()
    package_dir.update(dirs)
    packages += found
    # A proto package's parent that no service owns (jinqiao.events) is a package of gen/ too.
    for name in found:
        parent = name.rpartition(".")[0]
        if parent not in packages:
            package_dir[parent] = package_dir[name].rpartition("/")[0]
            packages.append(parent)
    return package_dir, packages


PACKAGE_DIR, PACKAGES = package_layout()
setup(package_dir=PACKAGE_DIR, packages=PACKAGES)
