"""Client state under `$CMR_DATA` (default `~/.local/share/cmr`): controllers, accounts, models.

Three YAML files, as Juju keeps them:

- `controllers.yaml`: `current-controller` and, per controller, its gateway `address`, `uuid`,
  and for an embedded controller started by `cmr bootstrap`, its `data-dir` and `pid`;
- `accounts.yaml` (mode 0600): per controller, the `user` and session `token`;
- `models.yaml`: per controller, the `current-model` (`owner/name`).

Writes go to a temporary file renamed into place, so a crash never leaves half a file.
"""

from __future__ import annotations

import os
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml


def data_dir() -> Path:
    """Return the client state directory (`$CMR_DATA`, else `~/.local/share/cmr`)."""
    if env := os.environ.get("CMR_DATA"):
        return Path(env).expanduser()
    return Path.home() / ".local" / "share" / "cmr"


def _read(name: str) -> dict[str, Any]:
    path = data_dir() / name
    try:
        loaded = yaml.safe_load(path.read_text())
    except FileNotFoundError:
        return {}
    return loaded if isinstance(loaded, dict) else {}


def _write(name: str, content: dict[str, Any], *, private: bool = False) -> None:
    directory = data_dir()
    directory.mkdir(parents=True, exist_ok=True, mode=0o700)
    fd, tmp = tempfile.mkstemp(dir=directory, prefix=f".{name}.")
    try:
        with os.fdopen(fd, "w") as out:
            yaml.safe_dump(content, out, sort_keys=True)
        if not private:
            os.chmod(tmp, 0o644)
        os.replace(tmp, directory / name)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


@dataclass(frozen=True, kw_only=True, slots=True)
class Controller:
    """A controller the client knows."""

    name: str
    """Local name of the controller."""
    address: str
    """Gateway `host:port`."""
    uuid: str = ""
    """Controller UUID as it reported it."""
    data_dir: str = ""
    """Server data directory, for an embedded controller this client started."""
    pid: int = 0
    """Process id of an embedded controller this client started; 0 otherwise."""


def controllers() -> dict[str, Controller]:
    """Return every known controller by name."""
    raw = _read("controllers.yaml").get("controllers") or {}
    return {
        name: Controller(
            name=name,
            address=str(c.get("address", "")),
            uuid=str(c.get("uuid", "")),
            data_dir=str(c.get("data-dir", "")),
            pid=int(c.get("pid", 0) or 0),
        )
        for name, c in raw.items()
    }


def current_controller() -> str:
    """Return the current controller's name, or empty."""
    return str(_read("controllers.yaml").get("current-controller") or "")


def save_controller(controller: Controller, *, make_current: bool = True) -> None:
    """Add or replace a controller, optionally making it current."""
    content = _read("controllers.yaml")
    entries = content.setdefault("controllers", {})
    entry: dict[str, Any] = {"address": controller.address, "uuid": controller.uuid}
    if controller.data_dir:
        entry["data-dir"] = controller.data_dir
    if controller.pid:
        entry["pid"] = controller.pid
    entries[controller.name] = entry
    if make_current:
        content["current-controller"] = controller.name
    _write("controllers.yaml", content)


def set_current_controller(name: str) -> None:
    """Make a known controller current."""
    content = _read("controllers.yaml")
    content["current-controller"] = name
    _write("controllers.yaml", content)


def forget_controller(name: str) -> None:
    """Remove a controller and its account and models."""
    content = _read("controllers.yaml")
    (content.get("controllers") or {}).pop(name, None)
    if content.get("current-controller") == name:
        content.pop("current-controller")
    _write("controllers.yaml", content)
    for file in ("accounts.yaml", "models.yaml"):
        other = _read(file)
        (other.get("controllers") or {}).pop(name, None)
        _write(file, other, private=file == "accounts.yaml")


@dataclass(frozen=True, kw_only=True, slots=True)
class Account:
    """The user logged in to one controller."""

    user: str
    """User name."""
    token: str = ""
    """Session token; empty after logout."""


def account(controller: str) -> Account | None:
    """Return the account for a controller, or None."""
    raw = (_read("accounts.yaml").get("controllers") or {}).get(controller)
    if not raw:
        return None
    return Account(user=str(raw.get("user", "")), token=str(raw.get("token", "")))


def save_account(controller: str, acct: Account) -> None:
    """Store the account for a controller (the file is private to the user)."""
    content = _read("accounts.yaml")
    content.setdefault("controllers", {})[controller] = {"user": acct.user, "token": acct.token}
    _write("accounts.yaml", content, private=True)


def current_model(controller: str) -> str:
    """Return the current model (`owner/name`) of a controller, or empty."""
    raw = (_read("models.yaml").get("controllers") or {}).get(controller) or {}
    return str(raw.get("current-model") or "")


def set_current_model(controller: str, model: str) -> None:
    """Set, or with an empty name clear, the current model of a controller."""
    content = _read("models.yaml")
    entry = content.setdefault("controllers", {}).setdefault(controller, {})
    if model:
        entry["current-model"] = model
    else:
        entry.pop("current-model", None)
    _write("models.yaml", content)
