"""The gateway: its use cases built once over the ports, its services served on one port."""

from __future__ import annotations

from collections.abc import Mapping
from types import SimpleNamespace
from typing import Final

from google.protobuf import descriptor_pool
from google.protobuf.descriptor import MethodDescriptor

from cmr.gateway.v1 import gateway_pb2 as pb
from gateway import adapters
from gateway.app.access import Access
from gateway.app.applications import Applications
from gateway.app.crossmodel import CrossModel
from gateway.app.models import Models
from gateway.app.offers import Offers
from gateway.app.reconcile import Reconciler
from gateway.app.relations import Relations
from gateway.app.status import Status
from gateway.app.users import Users
from gateway.auth import Authenticator
from gateway.cache import CachedCalls, ReadCache, WriteFence
from gateway.peers import Peers
from gateway.remote import PeerControllers
from gateway.resolve import Resolver
from gateway.servicers import (
    CrossControllerServicer,
    CrossModelServicer,
    ModelServicer,
    SessionServicer,
    UserServicer,
)
from services.common.config import Config
from services.common.local import LocalTarget
from services.common.server import Bound, Built, binding

SERVICES: Final = tuple(
    pb.DESCRIPTOR.services_by_name[name].full_name
    for name in (
        "SessionService",
        "UserService",
        "ModelService",
        "CrossModelService",
        "CrossControllerService",
    )
)
"""The public services, in this order; each has one servicer class below."""
DEPRECATED_SERVICE: Final = pb.DESCRIPTOR.services_by_name["GatewayService"].full_name
"""Every method of `SERVICES` in one service, as the first clients knew it: served still."""
SERVICE_NAMES: Final = (*SERVICES, DEPRECATED_SERVICE)
"""Every service the gateway's port answers, as health and reflection list them."""
SERVICE_NAME: Final = SERVICE_NAMES[0]
"""The first of them."""


class Gateway:
    """A controller's gateway: ports, sessions and use cases, built once.

    The servicers of its public services (`gateway.servicers`) share them.
    """

    def __init__(self, peers: Peers, advertise: str = "") -> None:
        calls = CachedCalls(peers, peers.cache) if peers.cache is not None else peers
        self.ports = adapters.over(peers, calls)
        self.auth = Authenticator(self.ports)
        self.resolve = Resolver(self.ports)
        self.advertise = advertise
        """`host:port` other controllers reach this gateway at (set once it is bound)."""
        self.remote = PeerControllers()
        self.reconciler = Reconciler(self.ports, self.remote)
        self.cmr = CrossModel(
            self.ports, self.resolve, self.remote, self.reconciler, lambda: self.advertise
        )
        self.offers = Offers(self.ports, self.resolve)
        self.models = Models(self.ports, self.resolve, self.offers, self.cmr)
        self.applications = Applications(self.ports, self.resolve, self.offers, self.cmr)
        self.access = Access(self.ports, self.resolve)
        self.relations = Relations(self.ports, self.resolve, self.offers, self.cmr)
        self.users = Users(self.ports)
        self.status = Status(self.ports, self.resolve)

    def close(self) -> None:
        """Stop what the use cases run of their own."""
        self.status.close()


def servicers(gateway: Gateway) -> dict[str, object]:
    """The servicer of each public service, and of the deprecated one, over `gateway`."""
    made: dict[str, object] = dict(
        zip(
            SERVICES,
            (
                SessionServicer(gateway),
                UserServicer(gateway),
                ModelServicer(gateway),
                CrossModelServicer(gateway),
                CrossControllerServicer(gateway),
            ),
            strict=True,
        )
    )
    made[DEPRECATED_SERVICE] = served_by(DEPRECATED_SERVICE, made)
    return made


def served_by(old: str, servicers: Mapping[str, object]) -> object:
    """A servicer of service `old`: each method is that of the service that has it now.

    Args:
        old: the full name of a service whose methods moved to other services.
        servicers: the servicer of each of those services, by full service name.

    Raises:
        ValueError: a method of `old` that none of them has, with the same messages.
    """
    pool = descriptor_pool.Default()
    now = {
        method.name: (name, method)
        for name in servicers
        for method in pool.FindServiceByName(name).methods
    }
    methods: dict[str, object] = {}
    for method in pool.FindServiceByName(old).methods:
        name, moved = now.get(method.name, ("", None))
        if moved is None or _shape(moved) != _shape(method):
            raise ValueError(f"{old}/{method.name} is not served by any of {sorted(servicers)}")
        methods[method.name] = getattr(servicers[name], method.name)
    return SimpleNamespace(**methods)


def _shape(method: MethodDescriptor) -> tuple[str, str, bool, bool]:
    """What a client of a method relies on besides its name: its messages, its streaming."""
    return (
        method.input_type.full_name,
        method.output_type.full_name,
        method.client_streaming,
        method.server_streaming,
    )


def build_server(
    config: Config,
    *,
    bound: Bound | None = None,
    local: Mapping[str, LocalTarget] | None = None,
) -> Built:
    """Build the gateway on `bound` or `config.bind_address("gateway")`.

    It calls each service through its target in `local` when the service is built in this
    process, else over a channel to `config.address_of(...)`. Other controllers reach it at
    `config.advertise_address`, or at its host and bound port; it reconciles cross-controller
    relations every `config.reconcile_seconds` seconds once started.
    """
    with binding(
        bound, SERVICE_NAME, config.bind_address("gateway"), also=SERVICE_NAMES[1:]
    ) as bound:
        peers = Peers(config, local)
        cache = peers.cache = ReadCache(peers.addresses, local)
        host = config.host if config.host not in ("", "0.0.0.0", "::") else "127.0.0.1"  # noqa: S104 - comparing, not binding
        gateway = Gateway(peers, config.advertise_address or f"{host}:{bound.port}")

        def close() -> None:
            gateway.reconciler.stop()
            gateway.close()
            cache.stop()
            gateway.remote.close()
            peers.close()

        made = servicers(gateway)
        return bound.build(
            made.pop(SERVICE_NAME),
            others=made,
            interceptors=(WriteFence(peers),),
            starters=(lambda: gateway.reconciler.start(config.reconcile_seconds), cache.start),
            closers=(close,),
        )
