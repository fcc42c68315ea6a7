"""A controller as a background process: start it, stop it, remove its files."""

from __future__ import annotations

import json
import logging
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

from kernel import errors
from runtime.embedded import LOG_FILE, PASSWORD_FILE, READY_FILE, ensure_password_file
from services.common.config import Config

log = logging.getLogger(__name__)


def start_background(
    *, name: str, data_dir: Path, port: int, wait_s: float = 60.0
) -> tuple[int, str, str]:
    """Start an embedded controller as a detached process and wait until it serves.

    Returns:
        The process id, the gateway address and the admin password.

    Raises:
        Refused: the process exited or did not become ready in time (with its log's tail).
    """
    data_dir.mkdir(parents=True, exist_ok=True)
    ready = data_dir / READY_FILE
    ready.unlink(missing_ok=True)
    password_file = data_dir / PASSWORD_FILE
    cfg = ensure_password_file(Config(data_dir=data_dir, bootstrap_password_file=None))
    assert cfg.bootstrap_password_file == password_file  # noqa: S101 - set just above
    args = [
        sys.executable,
        "-m",
        "cli.main",
        "serve",
        "--data-dir",
        str(data_dir),
        "--port",
        str(port),
        "--controller-name",
        name,
        "--bootstrap-password-file",
        str(password_file),
        "--ready-file",
        str(ready),
    ]
    with open(data_dir / LOG_FILE, "ab") as logfile:
        proc = subprocess.Popen(  # noqa: S603 - our own interpreter and module
            args,
            stdin=subprocess.DEVNULL,
            stdout=logfile,
            stderr=subprocess.STDOUT,
            start_new_session=True,
            env={**os.environ, "GRPC_VERBOSITY": "ERROR"},
        )
    deadline = time.monotonic() + wait_s
    while time.monotonic() < deadline:
        if ready.exists():
            info = json.loads(ready.read_text())
            return proc.pid, str(info["gateway"]), password_file.read_text().strip()
        if proc.poll() is not None:
            break
        time.sleep(0.05)
    else:
        proc.terminate()
    tail = (data_dir / LOG_FILE).read_text(errors="replace").strip().splitlines()[-5:]
    raise errors.Refused(
        "controller did not start: " + (" | ".join(tail) or f"see {data_dir / LOG_FILE}")
    )


def stop_process(pid: int, wait_s: float = 15.0) -> bool:
    """Send SIGTERM, wait for the process to go, then SIGKILL it. Returns False if none."""
    try:
        os.kill(pid, signal.SIGTERM)
    except ProcessLookupError:
        return False
    deadline = time.monotonic() + wait_s
    while time.monotonic() < deadline:
        try:
            finished, _ = os.waitpid(pid, os.WNOHANG)
            if finished:
                return True
        except ChildProcessError:
            pass  # not our child: probe with signal 0 instead
        try:
            os.kill(pid, 0)
        except ProcessLookupError:
            return True
        time.sleep(0.05)
    os.kill(pid, signal.SIGKILL)
    return True


def remove_server_files(data_dir: Path) -> None:
    """Delete the files an embedded controller keeps; the directory too when left empty."""
    if not data_dir.is_dir():
        return
    patterns = ("*.db", "*.db-wal", "*.db-shm", READY_FILE, PASSWORD_FILE, LOG_FILE)
    for pattern in patterns:
        for path in data_dir.glob(pattern):
            path.unlink(missing_ok=True)
    try:
        data_dir.rmdir()
    except OSError:
        log.info("kept %s: it holds other files", data_dir)
