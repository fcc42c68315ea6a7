"""The placement server as production builds it: port 0, a fresh SQLite file per test."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import grpc
import pytest

from cmr.placement.v1 import placement_pb2_grpc
from services.common.config import DEFAULT_PORTS, Config
from services.common.server import Built
from services.placement.server import build_server


@dataclass(frozen=True)
class Served:
    """A started placement server and a channel to it."""

    built: Built
    channel: grpc.Channel
    stub: placement_pb2_grpc.PlacementServiceStub


@pytest.fixture
def served(tmp_path: Path) -> Iterator[Served]:
    built = build_server(Config(data_dir=tmp_path, ports={**DEFAULT_PORTS, "placement": 0}))
    built.start()
    try:
        with grpc.insecure_channel(f"127.0.0.1:{built.port}") as channel:
            yield Served(built, channel, placement_pb2_grpc.PlacementServiceStub(channel))
    finally:
        built.stop(None)


@pytest.fixture
def stub(served: Served) -> placement_pb2_grpc.PlacementServiceStub:
    return served.stub
