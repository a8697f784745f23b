"""Rendering the Helm chart offline (Helm's own library through helm-python-sdk) into Kubernetes objects."""

from __future__ import annotations

import importlib.util
from dataclasses import dataclass
from pathlib import Path
from types import ModuleType
from typing import Any

import helm_python
import yaml  # type: ignore[import-untyped]  # no types-PyYAML in the venv

ROOT = Path(__file__).resolve().parents[2]
CHART = ROOT / "deploy" / "helm" / "jinqiao"
PRODUCTION_VALUES = CHART / "ci" / "production-values.yaml"
RELEASE = "jinqiao"
NAMESPACE = "jinqiao"


@dataclass(frozen=True, slots=True)
class Rendered:
    """The objects of one render, by kind and name."""

    objects: list[dict[str, Any]]

    def of_kind(self, kind: str) -> dict[str, dict[str, Any]]:
        """Objects of one kind by metadata.name."""
        return {o["metadata"]["name"]: o for o in self.objects if o["kind"] == kind}

    def one(self, kind: str, name: str) -> dict[str, Any]:
        """One object; a KeyError names what is missing."""
        found = self.of_kind(kind)
        if name not in found:
            raise KeyError(f"no {kind} {name!r}; rendered: {sorted(found)}")
        return found[name]


def production_values() -> dict[str, Any]:
    """The CI file of a province deployment, parsed as Helm parses a ``-f`` file."""
    return helm_python.values_from_yaml(PRODUCTION_VALUES.read_text(encoding="utf-8"))


def render(values: dict[str, Any] | None = None) -> Rendered:
    """Render the chart as ``helm template`` would for an install (schema checked), NOTES left out."""
    with helm_python.Chart.load(CHART) as chart:
        manifests = chart.render(values, name=RELEASE, namespace=NAMESPACE, is_install=True)
    objects = [doc for path, text in sorted(manifests.items()) if not path.endswith(".txt")
               for doc in yaml.safe_load_all(text) if doc]
    return Rendered(objects=objects)


def object_name(component: str) -> str:
    """The name of a process's Deployment, Service, autoscaler, budget and policy for the test release."""
    return f"{RELEASE}-{component}"


def chart_values_script() -> ModuleType:
    """scripts/chart_values.py as a module (scripts/ is not a package)."""
    spec = importlib.util.spec_from_file_location("chart_values", ROOT / "scripts" / "chart_values.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module
