"""A model's status: four owners read at once, composed as `juju status` shows it."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from concurrent import futures
from typing import Final, TypeVar

from cmr.gateway.v1 import gateway_pb2 as pb
from cmr.offers.v1 import offers_pb2
from cmr.placement.v1 import placement_pb2
from cmr.relations.v1 import relations_pb2
from gateway import status as view
from gateway.auth import Caller
from gateway.ports import Ports
from gateway.resolve import Resolver, find_application
from kernel import errors
from services.common.deadline import Deadline

THREADS: Final = 16
"""Reads of status in flight at once, across every caller."""

T = TypeVar("T")


class Status:
    """The status command, for an authenticated caller who can read the model."""

    def __init__(self, ports: Ports, resolve: Resolver) -> None:
        self._ports = ports
        self._resolve = resolve
        self._pool = futures.ThreadPoolExecutor(THREADS, thread_name_prefix="gateway-status")

    def close(self) -> None:
        """Stop the reading threads."""
        self._pool.shutdown(wait=False, cancel_futures=True)

    def _soon(self, read: Callable[[], T]) -> futures.Future[T]:
        return self._pool.submit(read)

    def model(
        self, caller: Caller, ref: str, patterns: Sequence[str], deadline: Deadline
    ) -> pb.GetStatusResponse:
        """The model's status, or only what `patterns` (applications or units) name.

        Placement's part comes in the gateway's own wire shape; offers, relations and SAAS are
        read alongside it.
        """
        model = self._resolve.model(caller, ref, "read", deadline)
        ports = self._ports
        placement = self._soon(
            lambda: ports.placement.get_model_status(
                placement_pb2.GetModelStatusRequest(model_uuid=model.uuid, for_status=True),
                deadline,
            )
        )
        offers = self._soon(
            lambda: ports.offers.list_offers(
                offers_pb2.ListOffersRequest(model_uuid=model.uuid, page_size=1000), deadline
            )
        )
        relations = self._soon(
            lambda: ports.relations.list_relations(
                relations_pb2.ListRelationsRequest(model_uuid=model.uuid), deadline
            )
        )
        saas = ports.offers.list_saas(
            offers_pb2.ListSaasRequest(model_uuid=model.uuid), deadline
        ).saas
        composed = view.compose(
            placement.result(),
            offers.result().offers,
            relations.result().relations,
            controller=self._resolve.controller(deadline).name,
            saas=saas,
            saas_status={s.name: self._saas_status(s, deadline) for s in saas},
        )
        return view.filtered(composed, patterns)

    def _saas_status(self, saas: offers_pb2.Saas, deadline: Deadline) -> pb.StatusValue:
        """A SAAS mirrors the offered application's status once it is known."""
        if saas.status != "unknown" or saas.source_controller:
            return pb.StatusValue(current=saas.status, message=saas.status_message)
        try:  # the SAAS's own word stands when the offer cannot be read
            offer = self._ports.offers.get_offer(
                offers_pb2.GetOfferRequest(offer_uuid=saas.offer_uuid), deadline
            ).offer
        except errors.CmrError:
            return pb.StatusValue(current=saas.status, message=saas.status_message)
        app = find_application(self._ports, offer.model_uuid, offer.application, deadline)
        status = app.status if app is not None else ""
        if not status or status == "unknown":
            return pb.StatusValue(current="unknown")
        return pb.StatusValue(current=status)
