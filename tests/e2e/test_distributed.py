"""Two controllers on two hosts: one controller per network namespace, joined by a veth pair.

The test makes two namespaces of its own, with private addresses of its own choosing
(`10.213.<n>.1` and `.2`), runs `cmr serve` in each (all five servers of one controller, bound
to every address of its namespace and advertising its veth address to the other controller),
and has a non-admin relate across them with the real CLI run inside the namespaces. It skips,
saying why, only where namespaces cannot be made (no root, no `ip`).
"""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any, BinaryIO

import pytest

RUN_TIMEOUT_S = 60
STEP = os.getpid() % 250


def _ip(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        ["ip", *args], capture_output=True, text=True, timeout=RUN_TIMEOUT_S, check=False
    )


def _why_not() -> str:
    """Why namespaces cannot be made here, or empty when they can."""
    if shutil.which("ip") is None:
        return "the ip command (iproute2) is not installed"
    if os.geteuid() != 0:
        return "creating network namespaces needs root"
    probe = f"cmrprobe{os.getpid()}"
    made = _ip("netns", "add", probe)
    if made.returncode != 0:
        return f"ip netns add failed: {made.stderr.strip()}"
    _ip("netns", "del", probe)
    return ""


@dataclass
class Host:
    """One namespace with one controller in it."""

    netns: str
    address: str
    data: Path
    process: subprocess.Popen[bytes] | None = None
    log: BinaryIO | None = None

    @property
    def gateway(self) -> str:
        return f"{self.address}:17070"

    def cmr(
        self, client: Path, *args: str, input: str | None = None, ok: bool = True
    ) -> subprocess.CompletedProcess[str]:
        """Run the CLI inside this namespace with a client state directory."""
        done = subprocess.run(
            ["ip", "netns", "exec", self.netns, sys.executable, "-m", "cli.main", *args],
            input=input,
            capture_output=True,
            text=True,
            timeout=RUN_TIMEOUT_S,
            env={**os.environ, "CMR_DATA": str(client), "NO_COLOR": "1"},
            check=False,
        )
        if ok:
            assert done.returncode == 0, (args, done.stdout, done.stderr)
        return done

    def json(self, client: Path, *args: str) -> Any:
        return json.loads(self.cmr(client, *args, "--format", "json").stdout)


def _start(host: Host, name: str) -> None:
    host.data.mkdir(parents=True)
    (host.data / "admin-password").write_text("pw-admin\n")
    ready = host.data / "ready.json"
    env = {
        **os.environ,
        "CMR_ADVERTISE_ADDRESS": host.gateway,
        "CMR_RECONCILE_SECONDS": "0.3",
    }
    host.log = log = (host.data / "serve.log").open("wb")
    host.process = subprocess.Popen(
        [
            "ip",
            "netns",
            "exec",
            host.netns,
            sys.executable,
            "-m",
            "cli.main",
            "serve",
            "--host",
            "0.0.0.0",  # noqa: S104 - inside a namespace of the test's own
            "--data-dir",
            str(host.data),
            "--controller-name",
            name,
            "--bootstrap-password-file",
            str(host.data / "admin-password"),
            "--ready-file",
            str(ready),
        ],
        env=env,
        stdout=log,
        stderr=subprocess.STDOUT,
    )
    for _ in range(600):
        if ready.exists():
            return
        if host.process.poll() is not None:
            break
        time.sleep(0.1)
    raise AssertionError((host.data / "serve.log").read_text())


@pytest.fixture(scope="module")
def hosts(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Host, Host]]:
    reason = _why_not()
    if reason:
        pytest.skip(f"network namespaces unavailable: {reason}")
    root = tmp_path_factory.mktemp("netns")
    a = Host(f"cmrA{os.getpid()}", f"10.213.{STEP}.1", root / "a")
    b = Host(f"cmrB{os.getpid()}", f"10.213.{STEP}.2", root / "b")
    veth_a, veth_b = f"cva{os.getpid() % 100000}", f"cvb{os.getpid() % 100000}"
    try:
        for cmd in (
            ("netns", "add", a.netns),
            ("netns", "add", b.netns),
            ("link", "add", veth_a, "type", "veth", "peer", "name", veth_b),
            ("link", "set", veth_a, "netns", a.netns),
            ("link", "set", veth_b, "netns", b.netns),
            ("-n", a.netns, "addr", "add", f"{a.address}/24", "dev", veth_a),
            ("-n", b.netns, "addr", "add", f"{b.address}/24", "dev", veth_b),
            ("-n", a.netns, "link", "set", veth_a, "up"),
            ("-n", b.netns, "link", "set", veth_b, "up"),
            ("-n", a.netns, "link", "set", "lo", "up"),
            ("-n", b.netns, "link", "set", "lo", "up"),
        ):
            done = _ip(*cmd)
            assert done.returncode == 0, (cmd, done.stderr)
        _start(a, "ctrl1")
        _start(b, "ctrl2")
        yield a, b
    finally:
        for host in (a, b):
            if host.process is not None and host.process.poll() is None:
                host.process.send_signal(signal.SIGTERM)
                try:
                    host.process.wait(timeout=20)
                except subprocess.TimeoutExpired:
                    host.process.kill()
                    host.process.wait(timeout=10)
        for host in (a, b):
            if host.log is not None:
                host.log.close()
            _ip("netns", "del", host.netns)


def _eventually(probe: Callable[[], Any], expected: Any) -> None:
    got = probe()
    for _ in range(60):
        if got == expected:
            return
        time.sleep(0.25)
        got = probe()
    assert got == expected


def test_a_non_admin_relates_across_two_hosts(hosts: tuple[Host, Host], tmp_path: Path) -> None:
    a, b = hosts
    admin1, admin2, bob = tmp_path / "admin1", tmp_path / "admin2", tmp_path / "bob"
    b.cmr(admin2, "login", b.gateway, "-c", "ctrl2", "-u", "admin", input="pw-admin\n")
    a.cmr(admin1, "login", a.gateway, "-c", "ctrl1", "-u", "admin", input="pw-admin\n")
    b.cmr(admin2, "add-model", "prod")
    b.cmr(admin2, "deploy", "mysql", "-m", "prod")
    b.cmr(admin2, "offer", "prod.mysql:db", "-m", "prod")
    for host, admin in ((b, admin2), (a, admin1)):
        out = host.cmr(admin, "add-user", "bob").stdout
        line = next(word for word in out.split() if len(word) > 40)
        # bob works from host a, and reaches controller b over the veth pair
        a.cmr(bob, "register", line, input="pw-bob\npw-bob\n")
    b.cmr(admin2, "grant", "bob", "consume", "ctrl2:admin/prod.mysql")
    a.cmr(admin1, "grant", "bob", "add-model")
    a.cmr(bob, "add-model", "wiki")
    a.cmr(bob, "deploy", "mediawiki")
    assert "admin/prod.mysql" in a.cmr(bob, "find-offers", "-c", "ctrl2").stdout
    a.cmr(bob, "add-relation", "mediawiki", "ctrl2:admin/prod.mysql")

    status = a.json(bob, "status", "--relations")
    assert status["application-endpoints"]["mysql"]["url"] == "admin/prod.mysql"
    assert [r["status"]["current"] for r in status["relations"]] == ["joined"]
    [connection] = b.json(admin2, "offers", "-m", "prod")["mysql"]["connections"]
    assert connection["username"] == "bob"
    # the consumer's egress is its unit's address in its own model, as a /32
    assert [s.endswith("/32") for s in connection["ingress-subnets"]] == [True]

    def consumer() -> str:
        found: str = a.json(bob, "status", "--relations")["relations"][0]["status"]["current"]
        return found

    b.cmr(admin2, "revoke", "bob", "consume", "ctrl2:admin/prod.mysql")
    _eventually(consumer, "suspended")
    b.cmr(admin2, "grant", "bob", "consume", "ctrl2:admin/prod.mysql")
    b.cmr(admin2, "resume-relation", str(connection["relation-id"]), "-m", "prod")
    _eventually(consumer, "joined")
    a.cmr(bob, "remove-relation", "mediawiki", "mysql")
    _eventually(lambda: b.json(admin2, "offers", "-m", "prod")["mysql"].get("connections", []), [])
