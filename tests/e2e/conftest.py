"""End-to-end fixtures: one embedded controller per test module, driven through `cmr`."""

from __future__ import annotations

import json
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner, Result

import runtime
from cli.main import cli
from services.common.config import DEFAULT_PORTS, Config
from services.common.server import Built


@dataclass
class Controller:
    """An embedded controller running in this test process."""

    address: str
    password: str
    built: list[Built]
    data_dir: Path


@pytest.fixture(scope="module")
def controller(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Controller]:
    data = tmp_path_factory.mktemp("controller")
    password_file = data / "admin-password"
    password_file.write_text("sekrit-admin-pass\n")
    cfg = Config(
        data_dir=data,
        controller_name="ctrl",
        bootstrap_password_file=password_file,
        ports=dict.fromkeys(DEFAULT_PORTS, 0),
    )
    built = runtime.build_embedded(cfg)
    for one in built:
        one.start()
    try:
        yield Controller(
            address=f"127.0.0.1:{built[-1].port}",
            password="sekrit-admin-pass",
            built=built,
            data_dir=data,
        )
    finally:
        for one in reversed(built):
            one.stop(None)


class Cmr:
    """Runs `cmr` in-process with its own client state directory."""

    def __init__(self, data: Path) -> None:
        self.data = data
        self.runner = CliRunner()

    def __call__(self, *args: str, input: str | None = None) -> Result:
        return self.runner.invoke(
            cli, list(args), input=input, env={"CMR_DATA": str(self.data), "NO_COLOR": "1"}
        )

    def ok(self, *args: str, input: str | None = None) -> str:
        """Run and require success; return standard output."""
        result = self(*args, input=input)
        assert result.exit_code == 0, (args, result.output, result.stderr)
        return result.stdout

    def fails(self, *args: str, input: str | None = None) -> str:
        """Run and require failure in Juju's form; return the error line(s)."""
        result = self(*args, input=input)
        assert result.exit_code != 0, (args, result.stdout)
        assert result.stderr.startswith("ERROR "), result.stderr
        return result.stderr.strip()

    def json(self, *args: str) -> Any:
        return json.loads(self.ok(*args, "--format", "json"))


@pytest.fixture
def cmr(controller: Controller, tmp_path: Path) -> Cmr:
    """A client logged in to the module's controller as admin."""
    client = Cmr(tmp_path / "client")
    client.ok(
        "login", controller.address, "-c", "ctrl", "-u", "admin", input=controller.password + "\n"
    )
    return client
