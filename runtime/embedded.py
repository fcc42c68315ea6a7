"""Building a controller: every server in one process (embedded), or one server per process.

Embedded: placement, access, offers and relations start first, each with its own SQLite file in
the data directory; the gateway starts last, pointed at the ports they bound. When the gateway's
port is 0, every service binds port 0 too (tests, parallel controllers); otherwise the services
use their configured ports (17071-17074 by default). Once everything serves, the chosen
addresses are written to a ready file (JSON), which `cmr bootstrap` waits for.
"""

from __future__ import annotations

import json
import logging
import os
import secrets
from collections.abc import Callable
from pathlib import Path
from typing import Final

from services.common.config import SERVICES, Config
from services.common.server import Built, serve_until_signalled

log = logging.getLogger(__name__)

READY_FILE: Final = "ready.json"
PASSWORD_FILE: Final = "admin-password"  # noqa: S105 - a file name, not a password
LOG_FILE: Final = "controller.log"


def _builder(service: str) -> Callable[[Config], Built]:
    # Imported on demand: a single-service process loads only its own context.
    if service == "placement":
        from services.placement.server import build_server as placement

        return placement
    if service == "access":
        from services.access.server import build_server as access

        return access
    if service == "offers":
        from services.offers.server import build_server as offers

        return offers
    if service == "relations":
        from services.relations.server import build_server as relations

        return relations
    from gateway.server import build_server as gateway

    return gateway


def ensure_password_file(cfg: Config) -> Config:
    """Give the controller a bootstrap password file, creating a random one if it has none."""
    if cfg.bootstrap_password_file is not None:
        return cfg
    path = cfg.data_dir / PASSWORD_FILE
    if not path.exists():
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(fd, "w") as out:
            out.write(secrets.token_urlsafe(18) + "\n")
    return cfg.with_changes(bootstrap_password_file=path)


def build_embedded(cfg: Config) -> list[Built]:
    """Build the four services and the gateway of one controller, in start-up order."""
    cfg.data_dir.mkdir(parents=True, exist_ok=True)
    cfg = ensure_password_file(cfg)
    if cfg.ports["gateway"] == 0:
        cfg = cfg.with_changes(ports=dict.fromkeys(cfg.ports, 0))
    built: list[Built] = []
    ports = dict(cfg.ports)
    try:
        for service in SERVICES:
            # each service reaches the ones built before it (offers asks relations)
            peers = {s: f"127.0.0.1:{ports[s]}" for s in SERVICES[: len(built)]}
            one = _builder(service)(cfg.with_changes(addresses={**cfg.addresses, **peers}))
            built.append(one)
            ports[service] = one.port
        gateway_cfg = cfg.with_changes(
            ports=ports,
            addresses={s: f"127.0.0.1:{ports[s]}" for s in SERVICES},
        )
        built.append(_builder("gateway")(gateway_cfg))
        for one in built:
            if one.on_peers is not None:
                one.on_peers(gateway_cfg.addresses)
        local = {
            name: one.local
            for name, one in zip(SERVICES, built, strict=False)
            if one.local is not None
        }
        for one in built:
            if one.on_local is not None:
                one.on_local(local)
    except BaseException:
        for one in built:
            one.stop(None)
        raise
    return built


def write_ready_file(
    path: Path, built: list[Built], host: str, names: list[str] | None = None
) -> None:
    """Record the pid and the address of every server, atomically.

    Args:
        path: the file to write.
        built: the servers, in the order of `names`.
        host: the address they bound.
        names: their service names; None for a whole embedded controller.
    """
    names = names or [*SERVICES, "gateway"]
    connect_host = "127.0.0.1" if host in ("0.0.0.0", "::", "") else host  # noqa: S104
    ports = {name: b.port for name, b in zip(names, built, strict=True)}
    content: dict[str, object] = {"pid": os.getpid(), "ports": ports}
    if "gateway" in ports:
        content["gateway"] = f"{connect_host}:{ports['gateway']}"
    tmp = path.with_suffix(".tmp")
    tmp.write_text(json.dumps(content))
    tmp.replace(path)


def serve(cfg: Config, service: str | None, ready_file: Path | None) -> None:
    """Run one server (`service`) or, when None, a whole embedded controller, until signalled."""
    logging.basicConfig(
        level=logging.INFO, format="%(asctime)s %(name)s %(levelname)s %(message)s"
    )
    if service is None:
        built = build_embedded(cfg)
    else:
        cfg.data_dir.mkdir(parents=True, exist_ok=True)
        # a service alone in its process serves on an event loop (services.common.aio)
        built = [_builder(service)(cfg.with_changes(event_loop=service != "gateway"))]
    for one in built:
        log.info("%s listening on port %d", one.context, one.port)

    def announce() -> None:
        if ready_file is not None:
            write_ready_file(ready_file, built, cfg.host, [service] if service else None)

    serve_until_signalled(built, on_started=announce)
