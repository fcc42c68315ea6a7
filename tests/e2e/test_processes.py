"""Real processes: five `cmr serve --service` processes, and `cmr bootstrap`/`kill-controller`."""

from __future__ import annotations

import json
import os
import random
import re
import shutil
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
import yaml

from services.common.config import SERVICES
from tests.e2e.conftest import Cmr

CMR = [sys.executable, "-m", "cli.main"]
WAIT_S = 60.0


def _env(client: Path) -> dict[str, str]:
    return {**os.environ, "CMR_DATA": str(client), "GRPC_VERBOSITY": "ERROR", "NO_COLOR": "1"}


def run(client: Path, *args: str, input: str | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [*CMR, *args], input=input, capture_output=True, text=True, env=_env(client), timeout=120
    )


def _wait_ready(path: Path, proc: subprocess.Popen[bytes]) -> dict[str, object]:
    deadline = time.monotonic() + WAIT_S
    while time.monotonic() < deadline:
        if path.exists():
            return dict(json.loads(path.read_text()))
        assert proc.poll() is None, f"server exited with {proc.returncode}"
        time.sleep(0.05)
    raise AssertionError(f"{path} never appeared")


def _free_port() -> int:
    """A free loopback port below the ephemeral range.

    Other tests bind port 0 meanwhile; a port from the ephemeral range could be handed to one
    of them between this check and the service binding it.
    """
    try:
        low = int(Path("/proc/sys/net/ipv4/ip_local_port_range").read_text().split()[0])
    except OSError:
        low = 32_768  # Linux's default
    for _ in range(100):  # bounded
        port = random.randrange(10_000, max(low, 10_001))  # noqa: S311 - not a secret
        with socket.socket() as sock:
            try:
                sock.bind(("127.0.0.1", port))
            except OSError:
                continue
            return port
    raise AssertionError("no free port below the ephemeral range")


@pytest.fixture
def separate(tmp_path: Path) -> Iterator[str]:
    """Five OS processes on free ports; yields the gateway address.

    Each service is told every other's address up front: placement follows relations, which
    follows placement and access, so no start order gives each its peers' ephemeral ports.
    """
    password = tmp_path / "pw"
    password.write_text("separate-secret\n")
    procs: list[subprocess.Popen[bytes]] = []
    ports = {service: _free_port() for service in SERVICES}
    env = {
        **os.environ,
        "GRPC_VERBOSITY": "ERROR",
        **{f"CMR_{s.upper()}_ADDR": f"127.0.0.1:{ports[s]}" for s in SERVICES},
    }
    try:
        for service in SERVICES:
            ready = tmp_path / f"{service}.ready"
            proc = subprocess.Popen(
                [
                    *CMR,
                    "serve",
                    "--service",
                    service,
                    "--port",
                    str(ports[service]),
                    "--data-dir",
                    str(tmp_path / service),
                    "--controller-name",
                    "split",
                    "--bootstrap-password-file",
                    str(password),
                    "--ready-file",
                    str(ready),
                ],
                env=env,
                stdout=subprocess.DEVNULL,
                stderr=subprocess.DEVNULL,
            )
            procs.append(proc)
            assert _wait_ready(ready, proc)["ports"] == {service: ports[service]}
        ready = tmp_path / "gateway.ready"
        # the gateway finds its peers through a config file, the services through the environment
        addresses = {s: env.pop(f"CMR_{s.upper()}_ADDR") for s in SERVICES}
        config_file = tmp_path / "gateway.yaml"
        config_file.write_text(yaml.safe_dump({"addresses": addresses, "ports": {"gateway": 0}}))
        proc = subprocess.Popen(
            [
                *CMR,
                "serve",
                "--service",
                "gateway",
                "--config",
                str(config_file),
                "--data-dir",
                str(tmp_path / "gateway"),
                "--ready-file",
                str(ready),
            ],
            env=env,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        procs.append(proc)
        bound = _wait_ready(ready, proc)["ports"]
        assert isinstance(bound, dict)
        yield f"127.0.0.1:{bound['gateway']}"
    finally:
        for proc in procs:
            proc.terminate()
        for proc in procs:
            try:
                proc.wait(timeout=20)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()


def test_five_separate_processes_serve_the_cli(separate: str, tmp_path: Path) -> None:
    client = tmp_path / "client"
    login = run(client, "login", separate, "-u", "admin", input="separate-secret\n")
    assert login.returncode == 0, login.stderr
    assert run(client, "add-model", "prod").returncode == 0
    deployed = run(client, "deploy", "mysql", "-n", "2")
    assert deployed.returncode == 0, deployed.stderr
    status = run(client, "status", "--format", "json")
    assert status.returncode == 0, status.stderr
    data = json.loads(status.stdout)
    assert data["model"]["controller"] == "split"
    assert sorted(data["applications"]["mysql"]["units"]) == ["mysql/0", "mysql/1"]
    # each service keeps its own file in its own directory and opens no other
    for service in SERVICES:
        assert [p.name for p in (tmp_path / service).glob("*.db")] == [f"{service}.db"]
    bad = run(client, "deploy", "mysql")
    assert bad.returncode != 0
    assert bad.stderr.startswith('ERROR application "mysql" already exists')


def test_bootstrap_then_kill_controller(tmp_path: Path) -> None:
    client = tmp_path / "client"
    boot = run(client, "bootstrap", "local", "--port", "0")
    assert boot.returncode == 0, boot.stderr
    assert "Bootstrap complete" in boot.stderr
    listed = run(client, "controllers", "--format", "json")
    info = json.loads(listed.stdout)
    assert info["current-controller"] == "local"
    assert run(client, "add-model", "m").returncode == 0
    assert run(client, "deploy", "wordpress").returncode == 0
    status = json.loads(run(client, "status", "--format", "json").stdout)
    assert "wordpress/0" in status["applications"]["wordpress"]["units"]
    again = run(client, "bootstrap", "local", "--port", "0")
    assert again.returncode != 0
    assert again.stderr.strip() == 'ERROR controller "local" already exists'

    data_dir = client / "controllers" / "local"
    pid = json.loads((data_dir / "ready.json").read_text())["pid"]
    killed = run(client, "kill-controller", "local", "-y")
    assert killed.returncode == 0, killed.stderr
    assert not data_dir.exists()
    deadline = time.monotonic() + WAIT_S
    while time.monotonic() < deadline and _alive(pid):
        time.sleep(0.05)
    assert not _alive(pid)
    gone = run(client, "status")
    assert gone.returncode != 0
    assert gone.stderr.startswith("ERROR ")


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    # a zombie (exited, not yet reaped by its parent) counts as gone
    stat = Path(f"/proc/{pid}/stat")
    return not (stat.exists() and stat.read_text().split()[2] == "Z")


def test_cmr_console_script_is_installed() -> None:
    assert shutil.which("cmr", path=str(Path(sys.executable).parent)) is not None


def test_separate_processes_carry_relations_subordinates_and_revoke(
    separate: str, tmp_path: Path
) -> None:
    # Every service alone in its process serves on an event loop (services.common.aio): feeds
    # cross processes, Sync waits off the loop, offers asks relations off the loop.
    admin = Cmr(tmp_path / "admin")
    admin.ok("login", separate, "-u", "admin", input="separate-secret\n")
    admin.ok("add-model", "shared")
    admin.ok("deploy", "mysql", "-m", "shared")
    admin.ok("offer", "shared.mysql:db", "-m", "shared")
    # a container relation returns once placement has made the subordinate units
    admin.ok("deploy", "logging", "-m", "shared")
    admin.ok("relate", "logging", "mysql", "-m", "shared")
    mysql = admin.json("status", "-m", "shared")["applications"]["mysql"]
    assert list(mysql["units"]["mysql/0"]["subordinates"]) == ["logging/0"]

    out = admin.ok("add-user", "bob")
    match = re.search(r"cmr register (\S+)", out)
    assert match, out
    bob = Cmr(tmp_path / "bob")
    bob.ok("register", match.group(1), input="bob-password\n")
    admin.ok("grant", "bob", "consume", "admin/shared.mysql")
    admin.ok("add-model", "wiki")
    admin.ok("grant", "bob", "write", "wiki")
    bob.ok("deploy", "mediawiki", "-m", "admin/wiki")
    bob.ok("relate", "mediawiki", "admin/shared.mysql", "-m", "admin/wiki")
    [connection] = admin.json("offers", "-m", "shared")["mysql"]["connections"]
    assert (connection["username"], connection["status"]) == ("bob", {"current": "joined"})

    relation = str(connection["relation-id"])
    admin.ok("suspend-relation", relation, "-m", "shared")
    [connection] = admin.json("offers", "-m", "shared")["mysql"]["connections"]
    assert connection["status"]["current"] == "suspended"
    admin.ok("resume-relation", relation, "-m", "shared")
    [connection] = admin.json("offers", "-m", "shared")["mysql"]["connections"]
    assert connection["status"] == {"current": "joined"}

    # revoking consume suspends bob's relation by the time revoke returns (relations' Sync)
    admin.ok("revoke", "bob", "consume", "admin/shared.mysql")
    [connection] = admin.json("offers", "-m", "shared")["mysql"]["connections"]
    assert connection["status"] == {
        "current": "suspended",
        "message": "offer permission revoked",
    }
