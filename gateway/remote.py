"""Other controllers' gateways, as this one calls them: channels, credentials, renewal.

Each controller keeps only its own half of a cross-controller relation, with the other
controller's UUID, gateway address and a credential it issued (`peer_*` on the half):

- the consumer holds a **relation token** the offerer signed (scoped to the offer, the consuming
  model, the user and the relation);
- the offerer holds a **callback token** the consumer signed (scoped to the relation).

Tokens last 3 minutes; an expired one is renewed at its issuer, which re-checks consume access.
`gateway.app.reconcile` keeps the halves in step through this client.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from typing import Final, TypeVar

import grpc

from cmr.gateway.v1 import gateway_pb2 as pb
from cmr.gateway.v1 import gateway_pb2_grpc
from kernel import errors
from services.common.server import CHANNEL_OPTIONS
from services.common.status import reason_of

CALL_TIMEOUT_S: Final = 10.0
"""Deadline of one call to another controller."""
PEER_CHANNEL_OPTIONS: Final = [
    *CHANNEL_OPTIONS,
    # another controller may be down for a while: retry the connection every few seconds at
    # most, rather than gRPC's default backoff of up to two minutes
    ("grpc.initial_reconnect_backoff_ms", 200),
    ("grpc.max_reconnect_backoff_ms", 3000),
]

T = TypeVar("T")
log = logging.getLogger(__name__)


class PeerControllers:
    """Channels to other controllers' gateways, one per address, opened on first use."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._channels: dict[str, grpc.Channel] = {}

    def stub(self, address: str) -> gateway_pb2_grpc.CrossControllerServiceStub:
        """A stub for what the gateway at `address` answers other controllers."""
        with self._lock:
            channel = self._channels.get(address)
            if channel is None:
                channel = grpc.insecure_channel(address, options=PEER_CHANNEL_OPTIONS)
                self._channels[address] = channel
        return gateway_pb2_grpc.CrossControllerServiceStub(channel)

    def call(
        self,
        address: str,
        fn: Callable[[gateway_pb2_grpc.CrossControllerServiceStub, str], T],
        credential: str,
        *,
        renewed: Callable[[str], None] | None = None,
    ) -> T:
        """Call another controller with a credential it issued, renewing it once if expired.

        Raises:
            Unavailable: `cannot connect to external controller: <why>`.
            grpc.RpcError: any other refusal, as the peer said it.
        """
        stub = self.stub(address)
        try:
            try:
                return fn(stub, credential)
            except grpc.RpcError as err:
                if reason_of(err) != errors.Reason.TOKEN_EXPIRED:
                    raise
            fresh = stub.RenewToken(
                pb.RenewTokenRequest(token=credential), timeout=CALL_TIMEOUT_S
            ).token
            if renewed is not None:
                renewed(fresh)
            return fn(stub, fresh)
        except grpc.RpcError as err:
            if isinstance(err, grpc.Call) and err.code() in (
                grpc.StatusCode.UNAVAILABLE,
                grpc.StatusCode.DEADLINE_EXCEEDED,
            ):
                raise errors.Unavailable(
                    f"cannot connect to external controller: {err.details()}",
                    reason=errors.Reason.PEER_UNAVAILABLE,
                ) from None
            raise

    def identity(self, address: str) -> pb.GetControllerIdentityResponse:
        """Who answers at `address`.

        Raises:
            Unavailable: nobody does.
        """
        return self.call(
            address,
            lambda stub, _: stub.GetControllerIdentity(
                pb.GetControllerIdentityRequest(), timeout=CALL_TIMEOUT_S
            ),
            "",
        )

    def close(self) -> None:
        """Close every channel."""
        with self._lock:
            for channel in self._channels.values():
                channel.close()
            self._channels.clear()
