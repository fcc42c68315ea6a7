"""Regenerates the Python code for every proto under `protos/` into `gen/` (git-ignored)."""

from __future__ import annotations

import shutil
import sys
from importlib import resources
from pathlib import Path

from grpc_tools import protoc

ROOT = Path(__file__).resolve().parent.parent
PROTOS = ROOT / "protos"
OUT = ROOT / "gen"
BIN = Path(sys.executable).parent


def main() -> int:
    """Delete `gen/` and generate it anew, so a removed proto leaves nothing behind."""
    shutil.rmtree(OUT, ignore_errors=True)
    OUT.mkdir()
    args = [
        "protoc",
        f"-I{PROTOS}",
        f"-I{resources.files('grpc_tools') / '_proto'}",
        f"--plugin=protoc-gen-mypy={BIN / 'protoc-gen-mypy'}",
        f"--plugin=protoc-gen-mypy_grpc={BIN / 'protoc-gen-mypy_grpc'}",
        f"--python_out={OUT}",
        f"--grpc_python_out={OUT}",
        f"--mypy_out=quiet:{OUT}",
        f"--mypy_grpc_out=quiet:{OUT}",
        *sorted(str(p) for p in PROTOS.rglob("*.proto")),
    ]
    return int(protoc.main(args))


if __name__ == "__main__":
    sys.exit(main())
