"""Client-side argument errors of the relation and SAAS commands, raised before any call."""

from __future__ import annotations

from pathlib import Path

import pytest
from click.testing import CliRunner

from cli.main import cli


@pytest.fixture
def runner(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> CliRunner:
    """A runner with empty client state: reaching a controller would fail differently."""
    monkeypatch.setenv("CMR_DATA", str(tmp_path))
    return CliRunner()


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["suspend-relation"], "no relation ids specified"),
        (["suspend-relation", "maintenance"], "no relation ids specified"),
        (["suspend-relation", "x", "3"], 'relation ID "x" not valid'),
        (["suspend-relation", "3", "x", "maintenance"], 'relation ID "x" not valid'),
        (["suspend-relation", "3", "--", "-1"], 'relation ID "-1" not valid'),
        (
            ["suspend-relation", "3", "maintenance", "--message", "why"],
            "specify the message either as an argument or with --message, not both",
        ),
        (["resume-relation"], "no relation ids specified"),
        (["resume-relation", "3", "four"], 'relation ID "four" not valid'),
        (["remove-relation", "3", "--no-wait"], "--no-wait requires --force"),
        (["consume"], "no remote offer specified"),
        (["consume", "admin/prod.db", "db", "extra"], 'unrecognized args: ["extra"]'),
        (["consume", "admin/prod.db", "db", "x", "y"], 'unrecognized args: ["x" "y"]'),
        (["remove-saas"], "no SAAS application names specified"),
        (["remove-saas", "mysql", "--no-wait"], "--no-wait requires --force"),
        (["remove-saas", "mysql", "invalid:name"], 'invalid SAAS application name "invalid:name"'),
        (["set-firewall-rule"], "no well known service specified"),
        (["set-firewall-rule", "ssh"], "no allowlist subnets specified"),
        (["set-firewall-rule", "ssh", "--allowlist", " , "], "no allowlist subnets specified"),
        (
            ["set-firewall-rule", "ssh", "--whitelist", "10.0.0.0/8", "--allowlist", "::/0"],
            "cannot specify both whitelist and allowlist",
        ),
    ],
)
def test_argument_errors_come_before_any_controller(
    runner: CliRunner, args: list[str], message: str
) -> None:
    result = runner.invoke(cli, args)
    assert result.exit_code == 1
    assert result.stderr == f"ERROR {message}\n"
    assert result.stdout == ""


@pytest.mark.parametrize(
    "args",
    [
        ["suspend-relation", "3", "4", "maintenance"],
        ["suspend-relation", "3", "--message", "maintenance"],
        ["resume-relation", "3", "4"],
        ["remove-relation", "3", "--force", "--no-wait"],
        ["add-relation", "wordpress", "admin/prod.db", "--via", "10.0.0.0/8, 192.168.0.0/16"],
        ["consume", "admin/prod.db", "db"],
        ["remove-saas", "mysql", "--force", "--no-wait"],
        ["set-firewall-rule", "ssh", "--allowlist", "10.0.0.0/8,::/0"],
        ["list-firewall-rules", "--format", "yaml"],
        ["firewall-rules"],
    ],
)
def test_valid_arguments_go_on_to_the_controller(runner: CliRunner, args: list[str]) -> None:
    result = runner.invoke(cli, args)
    assert result.exit_code == 1
    assert result.stderr.startswith("ERROR no controller selected")
