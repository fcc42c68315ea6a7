"""Building a controller: every server in one process (embedded), or one server per process.

Both go through `build`, in three steps:

1. **Bind.** Every server of the process binds its port (port 0: a free one, read back), so
   every address is known before anything is built, and each service gets its in-process
   endpoint (`services.common.local.LocalTarget`).
2. **Build.** Each part is built once, with every peer's address and the endpoints of the
   services in the same process: stores, servicers and interceptors, the reactors, offers'
   relations client, the gateway's channels and read cache. A part calls a co-located peer
   through its `LocalChannel` from the start, and any other over gRPC; nothing is rewired later.
3. **Start** (`services.common.server.start_all`), in `config.ALL` order (the four services,
   then the gateway): first every server answers, on its port and in-process, then each starts
   its threads (reactors, the cache's feeds, the reconciler) and reports SERVING. So no
   follower finds its source silent and waits out a retry, and the gateway is announced only
   once the services behind it answer. Separate processes start in any order: their
   followers retry a peer that does not answer yet.

Embedded: each service has its own SQLite file in the data directory. When the gateway's port
is 0, every service binds port 0 too (tests, parallel controllers); otherwise the services use
their configured ports (17071-17074 by default). Once everything serves, the chosen addresses
are written to a ready file (JSON), which `cmr bootstrap` waits for.
"""

from __future__ import annotations

import json
import logging
import os
import secrets
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Final, Protocol

from services.common.config import ALL, SERVICES, Config
from services.common.local import LocalTarget
from services.common.server import Bound, Built, bind, serve_until_signalled

log = logging.getLogger(__name__)

READY_FILE: Final = "ready.json"
PASSWORD_FILE: Final = "admin-password"  # noqa: S105 - a file name, not a password
LOG_FILE: Final = "controller.log"


class _Server(Protocol):
    """What the composition root needs of a server's module."""

    @property
    def SERVICE_NAMES(self) -> tuple[str, ...]:  # noqa: N802 - the modules' constant
        """The full proto names of the services it serves on its port."""
        ...

    def build_server(
        self,
        config: Config,
        *,
        bound: Bound | None = ...,
        local: Mapping[str, LocalTarget] | None = ...,
    ) -> Built: ...


def _module(service: str) -> _Server:
    # Imported on demand: a single-service process loads only its own context.
    if service == "placement":
        from services.placement import server as placement

        return placement
    if service == "access":
        from services.access import server as access

        return access
    if service == "offers":
        from services.offers import server as offers

        return offers
    if service == "relations":
        from services.relations import server as relations

        return relations
    from gateway import server as gateway

    return gateway


def build(cfg: Config, names: Sequence[str]) -> list[Built]:
    """Bind the servers `names` (in `ALL` order), then build each; none is started.

    The services among them are called by each other, and by the gateway, in-process. On any
    failure everything already bound or built is closed again.

    Raises:
        RuntimeError: a port cannot be bound.
    """
    names = [name for name in ALL if name in names]
    modules = {name: _module(name) for name in names}
    bound: dict[str, Bound] = {}
    built: list[Built] = []
    try:
        for name in names:
            on_loop = cfg.event_loop and name != "gateway"
            address = cfg.bind_address(name)
            first, *also = modules[name].SERVICE_NAMES
            bound[name] = bind(first, address, also=also, on_loop=on_loop)
        ports = {**cfg.ports, **{name: b.port for name, b in bound.items()}}
        addresses = {**cfg.addresses, **{n: f"127.0.0.1:{b.port}" for n, b in bound.items()}}
        cfg = cfg.with_changes(ports=ports, addresses=addresses)
        local = {name: b.local for name, b in bound.items() if name in SERVICES}
        for name in names:
            one = modules[name].build_server(cfg, bound=bound[name], local=local)
            del bound[name]  # closed with `one` from now on
            built.append(one)
    except BaseException:
        for one in built:
            one.stop(None)
        for left in bound.values():
            left.close()
        raise
    return built


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
    return build(cfg, ALL)


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
        built = build(cfg.with_changes(event_loop=True), [service])
    for one in built:
        log.info("%s listening on port %d", one.context, one.port)

    def announce() -> None:
        if ready_file is not None:
            write_ready_file(ready_file, built, cfg.host, [service] if service else None)

    serve_until_signalled(built, on_started=announce)
