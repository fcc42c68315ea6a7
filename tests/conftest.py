"""Shared test set-up: generated code present, quiet gRPC, free ports."""

from __future__ import annotations

import os
import socket
from pathlib import Path

import pytest

if not (Path(__file__).resolve().parent.parent / "gen" / "cmr").is_dir():
    raise pytest.UsageError("generated protobuf code is missing: run `make gen`")

os.environ.setdefault("GRPC_VERBOSITY", "ERROR")


def free_port() -> int:
    """Return a TCP port that was free on loopback a moment ago."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port
