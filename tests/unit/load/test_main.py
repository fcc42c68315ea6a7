"""`cmr-load` argument errors, and a run against a port where nothing listens."""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest
from click.testing import CliRunner

from load.driver import LoadConfig, LoadError, check_config, run_load
from load.main import cmr_load
from load.ops import Params
from tests.conftest import free_port


def _run(*args: str) -> tuple[int, str, str]:
    result = CliRunner().invoke(cmr_load, list(args))
    return result.exit_code, result.stdout, result.stderr


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--duration", "0"], "Invalid value for '--duration'"),
        (["--duration", "600.5"], "Invalid value for '--duration'"),
        (["--duration", "-1"], "Invalid value for '--duration'"),
        (["--clients", "0"], "Invalid value for '--clients'"),
        (["--clients", "1025"], "Invalid value for '--clients'"),
        (["--timeout", "0"], "Invalid value for '--timeout'"),
        (["--service", "nope"], "Invalid value for '--service'"),
        (["--mix", "ping=0"], "weight of 'ping' must be a positive integer"),
        (["--mix", "ping=1,list-users=1"], "unknown operation 'list-users' for service gateway"),
        (["--mix", "status=1"], "missing option --model (for status)"),
        (
            ["--service", "relations", "--mix", "list-relations=1"],
            "missing option --model-uuid (for list-relations)",
        ),
        (["--mix", "whoami=1"], "operation whoami needs a session: give --password-file"),
    ],
)
def test_usage_errors(args: list[str], message: str) -> None:
    code, stdout, stderr = _run("--target", "127.0.0.1:17070", *args)
    assert code == 2
    assert stdout == ""
    assert message in stderr


@pytest.mark.parametrize("target", ["10.1.2.3:17070", "example.com:17070", "0.0.0.0:1"])
def test_non_loopback_target_is_a_usage_error(target: str) -> None:
    code, _, stderr = _run("--target", target)
    assert code == 2
    assert "Invalid value for '--target'" in stderr
    assert "is not a loopback address" in stderr


def test_missing_target() -> None:
    code, _, stderr = _run()
    assert code == 2
    assert "Missing option '--target'" in stderr


def test_empty_password_file(tmp_path: Path) -> None:
    empty = tmp_path / "pw"
    empty.write_text("")
    code, _, stderr = _run("--target", "127.0.0.1:1", "--password-file", str(empty))
    assert code == 2
    assert "holds no password" in stderr


def test_no_server_is_an_error_not_a_report() -> None:
    port = free_port()
    code, stdout, stderr = _run(
        "--target", f"127.0.0.1:{port}", "--duration", "0.2", "--clients", "2", "--timeout", "0.3"
    )
    assert code == 1
    assert stdout == ""
    assert stderr == f"ERROR no server answers at 127.0.0.1:{port} (waited 0.3 s)\n"


def test_driver_refuses_what_the_command_refuses() -> None:
    base = LoadConfig(target="127.0.0.1:1", service="gateway", clients=1, duration_s=1.0)
    assert check_config(base) == "127.0.0.1:1"
    bad = [
        LoadConfig(target="10.0.0.1:1", service="gateway", clients=1, duration_s=1.0),
        LoadConfig(target="127.0.0.1:1", service="gateway", clients=0, duration_s=1.0),
        LoadConfig(target="127.0.0.1:1", service="gateway", clients=1, duration_s=601.0),
        LoadConfig(target="127.0.0.1:1", service="gateway", clients=1, duration_s=0.0),
        LoadConfig(
            target="127.0.0.1:1", service="access", clients=1, duration_s=1.0, mix={"whoami": 1}
        ),
        LoadConfig(
            target="127.0.0.1:1", service="gateway", clients=1, duration_s=1.0, mix={"status": 1}
        ),
        LoadConfig(
            target="127.0.0.1:1",
            service="gateway",
            clients=1,
            duration_s=1.0,
            mix={"status": 1},
            params=Params(model="prod"),
        ),  # a session is needed: no password
    ]
    for cfg in bad:
        with pytest.raises(LoadError):
            asyncio.run(run_load(cfg))
