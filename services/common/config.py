"""Where each service listens, where its store lives and how it reaches its peers.

One `Config` describes a whole controller. It comes from defaults, then a YAML file
(`cmr serve --config F`), then environment variables, then command-line flags, each overriding
the one before. The embedded runtime runs every service from one `Config`; `cmr serve --service
NAME` runs one, reading its own port and its peers' addresses from the same structure.

YAML form (every key optional)::

    data_dir: /var/lib/cmr
    host: 0.0.0.0
    controller_name: ctrl1
    bootstrap_password_file: /run/secrets/admin-password
    ports: {gateway: 17070, placement: 17071, access: 17072, offers: 17073, relations: 17074}
    addresses: {placement: "placement:17071", access: "access:17072", ...}

Environment: `CMR_<SERVICE>_ADDR` (`CMR_OFFERS_ADDR=offers:17073`), `CMR_<SERVICE>_PORT`,
`CMR_DATA_DIR`, `CMR_HOST`, `CMR_CONTROLLER_NAME`, `CMR_BOOTSTRAP_PASSWORD_FILE`,
`CMR_ADVERTISE_ADDRESS`, `CMR_RECONCILE_SECONDS`.
"""

from __future__ import annotations

import dataclasses
import os
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Final

import yaml

from kernel import errors

SERVICES: Final = ("placement", "access", "relations", "offers")
"""The four bounded contexts, in start-up order."""

ALL: Final = (*SERVICES, "gateway")
"""Every server of a controller; the gateway starts last."""

DEFAULT_PORTS: Final[Mapping[str, int]] = {
    "gateway": 17070,
    "placement": 17071,
    "access": 17072,
    "offers": 17073,
    "relations": 17074,
}


def _default_data_dir() -> Path:
    return Path(os.environ.get("XDG_DATA_HOME", Path.home() / ".local" / "share")) / "cmr-server"


@dataclass(frozen=True, kw_only=True, slots=True)
class Config:
    """Settings of one controller's servers."""

    data_dir: Path = field(default_factory=_default_data_dir)
    """Directory of the SQLite files, one per service: `<service>.db`."""
    host: str = "127.0.0.1"
    """Address every server binds; `0.0.0.0` in containers."""
    controller_name: str = "cmr"
    """Name the controller reports; fixed at first start."""
    bootstrap_password_file: Path | None = None
    """File holding the initial `admin` password, read once, when the access store is new."""
    ports: Mapping[str, int] = field(default_factory=lambda: dict(DEFAULT_PORTS))
    """Port each server binds; 0 picks a free one."""
    addresses: Mapping[str, str] = field(default_factory=dict)
    """`host:port` of peers; a missing entry means `127.0.0.1:<its port>`."""
    advertise_address: str = ""
    """`host:port` other controllers reach this gateway at; empty for its host and port."""
    reconcile_seconds: float = 5.0
    """How often the gateway checks cross-controller relations against their peers (0: never;
    nudges after each command still apply)."""
    event_loop: bool = False
    """Serve a service on `grpc.aio` (`services.common.aio`): set for a service in a process of
    its own (`cmr serve --service`); an embedded controller's services use thread pools."""

    def db_path(self, service: str) -> Path:
        """Return the SQLite file a service owns."""
        return self.data_dir / f"{service}.db"

    def bind_address(self, service: str) -> str:
        """Return `host:port` for a server to bind."""
        return f"{self.host}:{self.ports[service]}"

    def address_of(self, service: str) -> str:
        """Return `host:port` where a peer can reach `service`."""
        return self.addresses.get(service) or f"127.0.0.1:{self.ports[service]}"

    def with_changes(self, **changes: object) -> Config:
        """Return a copy with some fields replaced."""
        return dataclasses.replace(self, **changes)  # type: ignore[arg-type]


def _check_service(name: str) -> str:
    if name not in ALL:
        raise errors.Invalid(f"unknown service {name!r}; expected one of {', '.join(ALL)}")
    return name


def _port(value: object, where: str) -> int:
    try:
        port = int(str(value))
    except ValueError:
        raise errors.Invalid(f"{where}: port {value!r} is not a number") from None
    if not 0 <= port <= 65535:
        raise errors.Invalid(f"{where}: port {port} is out of range 0-65535")
    return port


def load(
    path: Path | None = None,
    env: Mapping[str, str] | None = None,
    **overrides: object,
) -> Config:
    """Build a Config from defaults, a YAML file, the environment and explicit overrides.

    Args:
        path: a YAML config file, or None.
        env: the environment to read (`os.environ` when None).
        overrides: field values that win over everything (None values are ignored).

    Raises:
        Invalid: the file is unreadable or malformed, or a value is out of range.
    """
    env = os.environ if env is None else env
    values: dict[str, object] = {}
    ports = dict(DEFAULT_PORTS)
    addresses: dict[str, str] = {}
    if path is not None:
        try:
            raw = yaml.safe_load(path.read_text()) or {}
        except OSError as err:
            raise errors.Invalid(f"cannot read config file {path}: {err.strerror}") from None
        except yaml.YAMLError as err:
            raise errors.Invalid(f"config file {path} is not valid YAML: {err}") from None
        if not isinstance(raw, dict):
            raise errors.Invalid(f"config file {path} must hold a mapping")
        unknown = set(raw) - {f.name for f in dataclasses.fields(Config)}
        if unknown:
            raise errors.Invalid(f"config file {path}: unknown keys {sorted(unknown)}")
        for name, port in (raw.pop("ports", None) or {}).items():
            ports[_check_service(name)] = _port(port, str(path))
        for name, addr in (raw.pop("addresses", None) or {}).items():
            addresses[_check_service(name)] = str(addr)
        values.update(raw)
    for name in ALL:
        if addr := env.get(f"CMR_{name.upper()}_ADDR"):
            addresses[name] = addr
        if port := env.get(f"CMR_{name.upper()}_PORT"):
            ports[name] = _port(port, f"CMR_{name.upper()}_PORT")
    for key in ("data_dir", "host", "controller_name", "bootstrap_password_file"):
        if env_value := env.get(f"CMR_{key.upper()}"):
            values[key] = env_value
    if env_value := env.get("CMR_ADVERTISE_ADDRESS"):
        values["advertise_address"] = env_value
    if env_value := env.get("CMR_RECONCILE_SECONDS"):
        try:
            values["reconcile_seconds"] = float(env_value)
        except ValueError:
            raise errors.Invalid(
                f'CMR_RECONCILE_SECONDS must be a number of seconds, got "{env_value}"'
            ) from None
    for key, value in overrides.items():
        if value is None:
            continue
        if key == "ports":
            assert isinstance(value, Mapping)  # noqa: S101 - programming error otherwise
            for name, port in value.items():
                ports[_check_service(name)] = _port(port, "flags")
        else:
            values[key] = value
    for key in ("data_dir", "bootstrap_password_file"):
        if values.get(key) is not None:
            values[key] = Path(str(values[key])).expanduser()
    return Config(ports=ports, addresses=addresses, **values)  # type: ignore[arg-type]
