"""Generate Python, gRPC and typed stubs from proto/ into gen/ (reproducible, run by make)."""

from __future__ import annotations

import os
import shutil
import sys
from pathlib import Path

from grpc_tools import protoc

ROOT = Path(__file__).resolve().parents[1]
PROTO = ROOT / "proto"
OUT = ROOT / "gen"


def main() -> int:
    """Regenerate gen/ from scratch so stale modules never linger."""
    # protoc finds the mypy plugins on PATH; they sit beside this interpreter in the venv.
    os.environ["PATH"] = f"{Path(sys.executable).parent}{os.pathsep}{os.environ.get('PATH', '')}"
    shutil.rmtree(OUT, ignore_errors=True)
    OUT.mkdir()
    files = sorted(str(p.relative_to(PROTO)) for p in PROTO.rglob("*.proto"))
    include = Path(protoc.__file__).parent / "_proto"
    args = [
        "grpc_tools.protoc",
        f"-I{PROTO}",
        f"-I{include}",
        f"--python_out={OUT}",
        f"--grpc_python_out={OUT}",
        f"--mypy_out={OUT}",
        f"--mypy_grpc_out={OUT}",
        *files,
    ]
    code = protoc.main(args)
    if code != 0:
        return code
    for folder in [OUT / "jinqiao", *(d for d in (OUT / "jinqiao").rglob("*") if d.is_dir())]:
        (folder / "__init__.py").touch()
        (folder / "py.typed").touch()
    return 0


if __name__ == "__main__":
    sys.exit(main())
