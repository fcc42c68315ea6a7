"""A Node.js client (clients/node) drives the gateway over gRPC: any language can use cmr."""

from __future__ import annotations

import json
import shutil
import subprocess
from pathlib import Path

import pytest

from tests.e2e.conftest import Controller

ROOT = Path(__file__).resolve().parents[2]
CLIENT = ROOT / "clients" / "node"


def test_node_client_runs_the_cross_model_scenario(controller: Controller) -> None:
    node = shutil.which("node")
    if node is None:
        pytest.skip("Node.js is not installed: `node` is not on PATH")
    version = subprocess.run(
        [node, "--version"], capture_output=True, text=True, timeout=30, check=True
    ).stdout.strip()
    if int(version.lstrip("v").split(".")[0]) < 18:
        pytest.skip(f"Node.js {version} is too old for clients/node: it needs 18 or newer")
    if not (CLIENT / "node_modules").is_dir():
        pytest.skip("Node.js client dependencies not installed: run make install")

    result = subprocess.run(
        [
            node,
            str(CLIENT / "scenario.mjs"),
            controller.address,
            controller.password,
            str(ROOT / "protos"),
            str(ROOT / "charms"),
        ],
        cwd=CLIENT,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert result.returncode == 0, (result.stdout, result.stderr)
    summary = json.loads(result.stdout)

    assert {s["name"]: s["url"] for s in summary["saas"]} == {"mysql": "admin/node-offer.mysql"}
    assert summary["relations"] == [{"key": "mediawiki:db mysql:db", "status": "joined"}]
    assert summary["offers"] == [
        {"name": "mysql", "total_connected_count": 1, "active_connected_count": 1}
    ]
    assert summary["not_found"] == 'application offer "admin/node-offer.nope" not found'
