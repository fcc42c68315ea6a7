"""One real run: four clients against the gateway of an embedded controller for about 1 s."""

from __future__ import annotations

import asyncio
import json
from collections.abc import Iterator
from pathlib import Path

import pytest
from click.testing import CliRunner

import runtime
from load.driver import LoadConfig, run_load
from load.main import cmr_load
from services.common.config import DEFAULT_PORTS, Config


@pytest.fixture
def gateway(tmp_path: Path) -> Iterator[tuple[str, Path]]:
    """The gateway address of an embedded controller, and its admin password file."""
    password_file = tmp_path / "admin-password"
    password_file.write_text("load-test-pass\n")
    cfg = Config(
        data_dir=tmp_path / "controller",
        controller_name="load",
        bootstrap_password_file=password_file,
        ports=dict.fromkeys(DEFAULT_PORTS, 0),
    )
    built = runtime.build_embedded(cfg)
    for one in built:
        one.start()
    try:
        yield f"127.0.0.1:{built[-1].port}", password_file
    finally:
        for one in reversed(built):
            one.stop(None)


def test_load_against_an_embedded_gateway(gateway: tuple[str, Path], tmp_path: Path) -> None:
    address, password_file = gateway
    cfg = LoadConfig(
        target=address,
        service="gateway",
        clients=4,
        duration_s=1.0,
        mix={"ping": 1, "whoami": 1},
        user="admin",
        password=password_file.read_text().strip(),
    )
    summary = asyncio.run(run_load(cfg))
    assert [row.name for row in summary.rows] == ["ping", "whoami"]
    for row in (*summary.rows, summary.total):
        assert row.count > 0, row
        assert row.ok == row.count, row
        assert row.errors == {}, row
        assert row.p50_ms is not None
        assert row.p99_ms is not None
        assert 0 < row.p50_ms <= row.p99_ms
    assert summary.total.count == sum(row.count for row in summary.rows)
    assert 1.0 <= summary.elapsed_s < 5.0

    # the command around it: table on stdout, the same as JSON, exit 0
    out = tmp_path / "load.json"
    result = CliRunner().invoke(
        cmr_load,
        [
            *("--target", address, "--clients", "2", "--duration", "0.3"),
            *("--mix", "ping=2,list-models=1", "--password-file", str(password_file)),
            *("--json", str(out)),
        ],
    )
    assert result.exit_code == 0, (result.stdout, result.stderr)
    lines = result.stdout.splitlines()
    assert lines[0].startswith(f"gateway at {address}: 2 clients, 0.3 s")
    assert lines[1].split()[:4] == ["op", "count", "ok", "qps"]
    assert [line.split()[0] for line in lines[2:]] == ["ping", "list-models", "total"]
    data = json.loads(out.read_text())
    assert data["mix"] == {"ping": 2, "list-models": 1}
    assert data["total"]["count"] == data["total"]["ok"] > 0
    assert data["total"]["errors"] == {}
    assert set(data["ops"]) == {"ping", "list-models"}
