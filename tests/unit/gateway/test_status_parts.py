"""A status cut into parts for `StreamStatus` and merged back by the CLI is the same status."""

from __future__ import annotations

import pytest

from cli.client import merge_status
from cmr.gateway.v1 import gateway_pb2 as pb
from gateway.status import split


def _status(units: int) -> pb.GetStatusResponse:
    status = pb.GetStatusResponse(model=pb.ModelInfo(name="big", uuid="u"), timestamp="t")
    status.offers.add(name="mysql", application="mysql")
    status.saas.add(name="remote", url="admin/other.db")
    for n in range(units):
        status.machines.add(id=str(n), dns_name=f"10.1.{n // 250}.{n % 250}")
    app = status.applications.add(name="mysql", charm="mysql", scale=units)
    for n in range(units):
        unit = app.units.add(name=f"mysql/{n}", machine=str(n), public_address="10.1.0.1")
        unit.subordinates.add(name=f"logging/{n}", public_address="10.1.0.1")
    status.applications.add(name="logging", charm="logging", subordinate=True)
    status.applications.add(name="wordpress", charm="wordpress")
    return status


@pytest.mark.parametrize(("units", "limit"), [(0, 1 << 20), (5, 200), (3000, 16_000)])
def test_parts_merge_back_to_the_whole(units: int, limit: int) -> None:
    whole = _status(units)
    parts = list(split(whole, limit))
    assert merge_status(pb.StreamStatusResponse(part=p) for p in parts) == whole
    # every part but an oversized single item stays under the limit
    assert all(p.ByteSize() <= limit + 400 for p in parts)
    if units >= 3000:
        assert len(parts) > 10


def test_the_first_part_has_the_model_and_sections() -> None:
    first = next(iter(split(_status(100), 2_000)))
    assert first.model.name == "big"
    assert [o.name for o in first.offers] == ["mysql"]
    assert [s.name for s in first.saas] == ["remote"]
