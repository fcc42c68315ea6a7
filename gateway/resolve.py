"""Turning names in requests into entities the caller may act on, with their access level.

Levels: models `read < write < admin`, offers `read < consume < admin`, the
controller `login < add-model < superuser`. A model or offer the caller cannot read answers
NOT_FOUND with the same message as a missing one, so that its existence never leaks; one the
caller can read but not act on answers PERMISSION_DENIED `permission denied`.
"""

from __future__ import annotations

import threading
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Final

from cmr.access.v1 import access_pb2
from cmr.offers.v1 import offers_pb2
from cmr.placement.v1 import placement_pb2
from gateway.auth import Caller
from gateway.ports import Ports, or_none
from kernel import access, errors
from kernel.access import TargetKind
from kernel.offerurl import OfferURL
from services.common.deadline import Deadline

KINDS: Final[dict[int, TargetKind]] = {
    access_pb2.TARGET_KIND_CONTROLLER: TargetKind.CONTROLLER,
    access_pb2.TARGET_KIND_MODEL: TargetKind.MODEL,
    access_pb2.TARGET_KIND_OFFER: TargetKind.OFFER,
}
"""The kernel's target kind of each wire kind."""
PERMISSION_DENIED: Final = "permission denied"
CONTROLLER_TARGET: Final = access_pb2.Target(
    kind=access_pb2.TARGET_KIND_CONTROLLER, label="controller"
)


def at_least(kind: int, held: str, needed: str) -> bool:
    """True when `held` is `needed` or above on the ladder of the wire kind `kind`."""
    return access.at_least(KINDS[kind], held, needed)


def split_model_ref(ref: str, caller: str) -> tuple[str, str]:
    """Split `[owner/]name` into owner and name; a missing owner means the caller.

    Raises:
        Invalid: the reference is empty or has more than one `/`.
    """
    if not ref:
        raise errors.Invalid("no model specified: pass -m MODEL or run cmr switch MODEL")
    owner, slash, name = ref.rpartition("/")
    if not slash:
        return caller, ref
    if not owner or not name or "/" in owner:
        raise errors.Invalid(f'model name "{ref}" not valid: expected [owner/]name')
    return owner, name


def model_target(model: placement_pb2.Model) -> access_pb2.Target:
    """The access target of a model."""
    return access_pb2.Target(
        kind=access_pb2.TARGET_KIND_MODEL,
        model_uuid=model.uuid,
        label=f"{model.owner}/{model.name}",
    )


def offer_target(offer: offers_pb2.Offer) -> access_pb2.Target:
    """The access target of an offer."""
    return access_pb2.Target(
        kind=access_pb2.TARGET_KIND_OFFER,
        model_uuid=offer.model_uuid,
        offer_uuid=offer.uuid,
        label=offer.url,
    )


def find_application(
    ports: Ports, model_uuid: str, name: str, deadline: Deadline
) -> placement_pb2.Application | None:
    """The model's application of that name, or None."""
    reply = or_none(
        lambda: ports.placement.get_application(
            placement_pb2.GetApplicationRequest(model_uuid=model_uuid, application=name),
            deadline,
        )
    )
    return reply.application if reply is not None else None


def find_saas(
    ports: Ports, model_uuid: str, name: str, deadline: Deadline
) -> offers_pb2.Saas | None:
    """The model's SAAS of that name, or None."""
    reply = or_none(
        lambda: ports.offers.get_saas(
            offers_pb2.GetSaasRequest(model_uuid=model_uuid, name=name), deadline
        )
    )
    return reply.saas if reply is not None else None


def find_offer(ports: Ports, offer_uuid: str, deadline: Deadline) -> offers_pb2.Offer | None:
    """An offer of this controller by UUID (without its connections), or None."""
    reply = or_none(
        lambda: ports.offers.get_offer(
            offers_pb2.GetOfferRequest(offer_uuid=offer_uuid, without_connections=True),
            deadline,
        )
    )
    return reply.offer if reply is not None else None


@dataclass(frozen=True, kw_only=True, slots=True)
class Held:
    """An offer with the caller's level on it."""

    offer: offers_pb2.Offer
    """The offer."""
    level: str
    """The caller's effective level."""


class Resolver:
    """Resolves models and offers for a caller, asking placement, offers and access."""

    def __init__(self, ports: Ports) -> None:
        self._ports = ports
        self._identity: access_pb2.GetControllerInfoResponse | None = None
        self._identity_lock = threading.Lock()

    def controller(self, deadline: Deadline) -> access_pb2.GetControllerInfoResponse:
        """This controller's name and UUID (asked once, then remembered)."""
        with self._identity_lock:
            if self._identity is None:
                self._identity = self._ports.access.get_controller_info(
                    access_pb2.GetControllerInfoRequest(), deadline
                )
            return self._identity

    def levels(
        self, caller: Caller, targets: Sequence[access_pb2.Target], deadline: Deadline
    ) -> list[str]:
        """The caller's effective level on each target (one call for all)."""
        if not targets:
            return []
        reply = self._ports.access.check_access(
            access_pb2.CheckAccessRequest(user=caller.user, targets=list(targets)), deadline
        )
        return list(reply.levels)

    def require_controller(self, caller: Caller, needed: str, deadline: Deadline) -> None:
        """Refuse unless the caller holds `needed` on the controller."""
        (level,) = self.levels(caller, [CONTROLLER_TARGET], deadline)
        if not at_least(access_pb2.TARGET_KIND_CONTROLLER, level, needed):
            raise errors.Forbidden(PERMISSION_DENIED)

    def find_model(self, owner: str, name: str, deadline: Deadline) -> placement_pb2.Model | None:
        """The model `owner/name`, or None."""
        try:
            return self._ports.placement.get_model(
                placement_pb2.GetModelRequest(owner=owner, name=name), deadline
            ).model
        except errors.NotFound:
            return None

    def model(
        self, caller: Caller, ref: str, needed: str, deadline: Deadline
    ) -> placement_pb2.Model:
        """Resolve `[owner/]name` to a model on which the caller holds `needed` or more.

        With `needed` empty, the model is returned whatever the caller's level.
        """
        owner, name = split_model_ref(ref, caller.user)
        missing = errors.NotFound(f'model "{owner}/{name}" not found')
        model = self.find_model(owner, name, deadline)
        if model is None:
            raise missing
        if not needed:
            return model  # existence only: the caller decides what to reveal
        (level,) = self.levels(caller, [model_target(model)], deadline)
        if not level:
            raise missing
        if not at_least(access_pb2.TARGET_KIND_MODEL, level, needed):
            raise errors.Forbidden(PERMISSION_DENIED)
        return model

    def offer_url(self, caller: Caller, text: str, deadline: Deadline) -> OfferURL:
        """Parse an offer URL and fill in its defaults: this controller, the caller as owner.

        Raises:
            Invalid: the URL is malformed.
            NotFound: it names another controller (cross-controller offers come later).
        """
        url = OfferURL.parse(text)
        name = self.controller(deadline).name
        if url.source and url.source != name:
            raise errors.NotFound(f'controller "{url.source}" not found')
        return url.with_defaults(name, caller.user)

    def offer(
        self,
        caller: Caller,
        url: OfferURL,
        needed: str,
        deadline: Deadline,
        *,
        connections: bool = False,
    ) -> Held:
        """Resolve an offer URL to an offer on which the caller holds `needed` or more.

        The offer's connections (a question to the relations context) only when asked for.
        """
        label = f"{url.user}/{url.model}.{url.offer}"
        missing = errors.NotFound(f'application offer "{label}" not found')
        in_model = self.find_model(url.user, url.model, deadline)
        if in_model is None:
            raise missing
        try:
            offer = self._ports.offers.get_offer(
                offers_pb2.GetOfferRequest(
                    model_uuid=in_model.uuid, name=url.offer, without_connections=not connections
                ),
                deadline,
            ).offer
        except errors.NotFound:
            raise missing from None
        (level,) = self.levels(caller, [offer_target(offer)], deadline)
        if not level:
            raise missing
        if not at_least(access_pb2.TARGET_KIND_OFFER, level, needed):
            raise errors.Forbidden(PERMISSION_DENIED)
        return Held(offer=offer, level=level)

    def readable(
        self, caller: Caller, offers: Sequence[offers_pb2.Offer], deadline: Deadline
    ) -> list[Held]:
        """The offers the caller can at least read, with their levels."""
        levels = self.levels(caller, [offer_target(o) for o in offers], deadline)
        return [Held(offer=o, level=lv) for o, lv in zip(offers, levels, strict=True) if lv]
