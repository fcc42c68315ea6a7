"""The offers context's client of the relations service: `domain.RelationsPort` over gRPC."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Final, TypeVar

import grpc

from cmr.relations.v1 import relations_pb2, relations_pb2_grpc
from kernel import errors
from services.common.server import CHANNEL_OPTIONS
from services.offers.domain import OfferConnection

DEADLINE_S: Final = 10.0
"""Deadline of each call to the relations service."""

T = TypeVar("T")


class RelationsClient:
    """Asks the relations service about the relations that use offers (their connections).

    One channel, opened at construction and shared by every handler thread: `local` (a
    `LocalChannel`) when relations is built in this process, else a gRPC channel to `address`,
    which `close()` closes with the server that owns it.
    """

    def __init__(
        self, address: str, *, local: grpc.Channel | None = None, deadline: float = DEADLINE_S
    ) -> None:
        self.address = address
        self._deadline = deadline
        self._channel = (
            local if local is not None else grpc.insecure_channel(address, options=CHANNEL_OPTIONS)
        )
        self._stub = relations_pb2_grpc.RelationServiceStub(self._channel)

    def connections(self, offer_uuids: Sequence[str]) -> dict[str, tuple[OfferConnection, ...]]:
        """Return the connections of each offer: the offerer's halves of its relations.

        Raises:
            Unavailable: the relations service cannot be reached.
        """
        reply = self._call(
            lambda: self._stub.ListOfferRelations(
                relations_pb2.ListOfferRelationsRequest(offer_uuids=list(offer_uuids)),
                timeout=self._deadline,
            )
        )
        found: dict[str, list[OfferConnection]] = {}
        for r in reply.relations:
            found.setdefault(r.offer_uuid, []).append(
                OfferConnection(
                    offer_uuid=r.offer_uuid,
                    relation_id=r.id,
                    source_model_uuid=r.source_model_uuid,
                    username=r.username,
                    endpoint=r.endpoint,
                    consumer_application=r.consumer_application,
                    ingress_cidrs=tuple(r.subnets),
                    status=r.status,
                    message=r.message,
                )
            )
        return {uuid: tuple(items) for uuid, items in found.items()}

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
                    f"relations service at {self.address} is unavailable",
                    reason=errors.Reason.SERVICE_UNAVAILABLE,
                ) from None
            raise

    def close(self) -> None:
        """Close the channel."""
        self._channel.close()
