"""Bad input through the CLI: `ERROR <message>`, a non-zero exit, and nothing changed."""

from __future__ import annotations

from pathlib import Path

import grpc
import pytest

from cli.client import GatewayStubs
from cmr.gateway.v1 import gateway_pb2 as pb
from tests.e2e.conftest import Cmr, Controller


def test_wrong_password_is_refused(controller: Controller, tmp_path: Path) -> None:
    client = Cmr(tmp_path)
    message = client.fails("login", controller.address, "-u", "admin", input="wrong\n")
    assert message == "ERROR invalid entity name or password"


def test_gateway_refuses_calls_without_or_with_bad_credentials(controller: Controller) -> None:
    with grpc.insecure_channel(controller.address) as channel:
        stub = GatewayStubs.over(channel)
        for metadata in [(), (("authorization", "Bearer nonsense"),), (("authorization", "x"),)]:
            with pytest.raises(grpc.RpcError) as caught:
                stub.models.ListModels(pb.ListModelsRequest(), metadata=metadata, timeout=10)
            assert caught.value.code() == grpc.StatusCode.UNAUTHENTICATED


def test_bad_input_is_an_error_and_changes_nothing(cmr: Cmr, tmp_path: Path) -> None:
    cmr.ok("add-model", "bad")
    cmr.ok("deploy", "mysql")
    before = cmr.json("status")
    assert cmr.fails("add-model", "Bad_Name").startswith("ERROR ")
    assert "already exists" in cmr.fails("add-model", "bad")
    assert 'application "mysql" already exists' in cmr.fails("deploy", "mysql")
    assert "not found" in cmr.fails("add-unit", "wooble")
    assert "not found" in cmr.fails("remove-unit", "mysql/7")
    assert "not valid" in cmr.fails("remove-unit", "mysql")
    assert "not found" in cmr.fails("deploy", "no-such-sample")
    assert "not found" in cmr.fails("deploy", "mysql", "db2", "--to", "42")
    broken = tmp_path / "broken"
    broken.mkdir()
    (broken / "metadata.yaml").write_text("name: broken\nrequires:\n  db: {scope: container}\n")
    assert "broken" in cmr.fails("deploy", str(broken))
    assert "not found" in cmr.fails("status", "-m", "nope")
    assert cmr.json("status")["applications"] == before["applications"]
    assert cmr.json("status")["machines"] == before["machines"]


def test_unknown_controller_and_no_model(cmr: Cmr) -> None:
    assert 'controller "elsewhere" not found' in cmr.fails("status", "-m", "elsewhere:x")
    assert "no current model" in cmr.fails("status")
