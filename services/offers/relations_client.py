"""The offers context's client of the relations service: `domain.RelationsPort` over gRPC."""

from __future__ import annotations

from collections.abc import Callable
from typing import Final, TypeVar

import grpc

from cmr.relations.v1 import relations_pb2, relations_pb2_grpc
from services.common import errors
from services.common.server import CHANNEL_OPTIONS

DEADLINE_S: Final = 10.0
"""Deadline of each call to the relations service."""

T = TypeVar("T")


class RelationsClient:
    """Asks the relations service about the relations that use an offer.

    One channel, opened at construction and shared by every handler thread; `close()` it with
    the server that owns it.
    """

    def __init__(self, address: str, *, deadline: float = DEADLINE_S) -> None:
        self.address = address
        self._deadline = deadline
        self._channel = grpc.insecure_channel(address, options=CHANNEL_OPTIONS)
        self._stub = relations_pb2_grpc.RelationServiceStub(self._channel)

    def offer_relations(self, offer_uuid: str) -> int:
        """Return how many relations use the offer.

        Raises:
            Unavailable: the relations service cannot be reached.
        """
        reply = self._call(
            lambda: self._stub.ListOfferRelations(
                relations_pb2.ListOfferRelationsRequest(offer_uuid=offer_uuid),
                timeout=self._deadline,
            )
        )
        return len(reply.relations)

    def remove_offer_relations(self, offer_uuid: str) -> int:
        """Remove every relation using the offer; return how many went.

        Raises:
            Unavailable: the relations service cannot be reached.
        """
        reply = self._call(
            lambda: self._stub.RemoveOfferRelations(
                relations_pb2.RemoveOfferRelationsRequest(offer_uuid=offer_uuid),
                timeout=self._deadline,
            )
        )
        return reply.removed

    def _call(self, fn: Callable[[], T]) -> T:
        # UNAVAILABLE names the dependency; any other status passes through to the caller.
        try:
            return fn()
        except grpc.RpcError as err:
            if isinstance(err, grpc.Call) and err.code() == grpc.StatusCode.UNAVAILABLE:
                raise errors.Unavailable(
                    f"relations service at {self.address} is unavailable"
                ) from None
            raise

    def close(self) -> None:
        """Close the channel."""
        self._channel.close()
