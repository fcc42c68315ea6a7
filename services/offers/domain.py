"""Offer rules and use cases: create or update, get, list, find and delete. No gRPC, no SQL.

Each use case checks everything before it writes anything, writes in one store transaction,
appends its change-feed event in that transaction and returns the sequence.

Rules kept here (REFERENCE §2):
- an offer name follows the application-name grammar and defaults to the application's name;
- only global-scope endpoints may be offered, requirers too;
- offering an existing name replaces its endpoint set (and may move it to another application),
  but never drops an endpoint a connection uses;
- an offer used by relations is deleted only with `force`, which removes those relations first
  (the relations context owns them, so it is asked through `RelationsPort`).
"""

from __future__ import annotations

import uuid as uuidlib
from collections.abc import Callable
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Final, Protocol

from services.common import errors
from services.common.events import EventStore
from services.common.paging import decode_token, encode_token, page_size
from services.offers.url import is_application_name


class Role(StrEnum):
    """An endpoint's role (`provides` = provider, `requires` = requirer, `peers` = peer)."""

    PROVIDER = "provider"
    REQUIRER = "requirer"
    PEER = "peer"


class Scope(StrEnum):
    """An endpoint's scope; only global endpoints may be offered."""

    GLOBAL = "global"
    CONTAINER = "container"


class WellKnownService(StrEnum):
    """Services a firewall rule may name (`set-firewall-rule <service> --allowlist ...`)."""

    APPLICATION_OFFER = "juju-application-offer"
    """Every offer of the model."""
    SSH = "ssh"


ALLOW_ALL: Final = ("0.0.0.0/0", "::/0")
"""The allow-list of a service without a rule: Juju 3.x's default for `saas-ingress-allow`."""

JOINED: Final = "joined"
"""The connection status that counts as active."""


@dataclass(frozen=True, kw_only=True, slots=True)
class OfferEndpoint:
    """One offered endpoint; the alias is always the endpoint's name (Juju 3.6)."""

    name: str
    """The application's endpoint name."""
    interface: str
    """Its interface, compared as an exact string when relating."""
    role: Role
    """Any global endpoint may be offered, requirers too."""


@dataclass(frozen=True, kw_only=True, slots=True)
class ApplicationEndpoint:
    """An endpoint of the application to offer, as placement reports it."""

    name: str
    interface: str
    role: Role
    scope: Scope = Scope.GLOBAL
    """Container-scoped endpoints cannot be offered."""


@dataclass(frozen=True, kw_only=True, slots=True)
class OfferConnection:
    """The offerer's record of one cross-model relation to an offer."""

    offer_uuid: str
    """The offer consumed."""
    relation_id: int
    """The relation's id in the offering model (what `cmr offers` shows)."""
    source_model_uuid: str
    """The consuming model."""
    username: str
    """The consuming user; revoking its consume access suspends this relation."""
    endpoint: str
    """The offered endpoint related to."""
    consumer_application: str
    """The consumer proxy, `remote-<32 hex>`: the offerer never learns the consumer's names."""
    ingress_cidrs: tuple[str, ...] = ()
    """Subnets the consumer publishes as its egress; each must lie inside the allow-list."""
    status: str = JOINED
    """The relation's status as the offerer last saw it: `joined`, `suspended`, `error`, ..."""
    message: str = ""
    """Status message, such as the suspend reason or a refused subnet."""
    created_at: str = ""
    """RFC 3339 UTC."""


@dataclass(frozen=True, kw_only=True, slots=True)
class Offer:
    """An application's endpoints published from the offering model."""

    uuid: str
    """Identity of the offer; tokens and connections are keyed on it, never on the app name."""
    model_uuid: str
    """The offering model."""
    owner: str
    """Owner of the offering model: the `owner` of the URL `owner/model.name`."""
    name: str
    """Offer name, unique within its model; defaults to the application name."""
    application: str
    """The offered application; several offers may share one."""
    endpoints: tuple[OfferEndpoint, ...]
    """At least one, by name; only global-scope endpoints. An update replaces the whole set."""
    model_name: str = ""
    """Name of the offering model: the `model` of the URL."""
    charm: str = ""
    """The application's charm, `local:<name>-<revision>`."""
    description: str = ""
    """Defaults to the charm's summary."""
    created_by: str = ""
    """The user who created the offer (it becomes the offer's first admin)."""
    created_at: str = ""
    """RFC 3339 UTC."""
    connections: tuple[OfferConnection, ...] = ()
    """Cross-model relations using the offer, by relation id."""

    @property
    def url(self) -> str:
        """The canonical URL without controller, `owner/model.offer`."""
        return f"{self.owner}/{self.model_name}.{self.name}"

    @property
    def endpoint_names(self) -> list[str]:
        """Names of the offered endpoints, sorted."""
        return sorted(e.name for e in self.endpoints)

    @property
    def total_connected_count(self) -> int:
        """Number of connections."""
        return len(self.connections)

    @property
    def active_connected_count(self) -> int:
        """Number of connections whose relation is `joined`."""
        return sum(1 for c in self.connections if c.status == JOINED)


@dataclass(frozen=True, kw_only=True, slots=True)
class RemoteApplication:
    """A SAAS: the consuming model's proxy for an offer; shares the applications' name space."""

    model_uuid: str
    """The consuming model."""
    name: str
    """The alias, or else the offer name."""
    offer_uuid: str
    """The offer it stands for."""
    offer_url: str
    """The full URL, `[controller:]owner/model.offer`."""
    source_model_uuid: str
    """The offering model."""
    source_controller: str = ""
    """The offering controller's name; empty when it is this controller."""
    endpoints: tuple[OfferEndpoint, ...] = ()
    """The offer's endpoints as consumed; a second consume merges new ones in."""
    status: str = "unknown"
    """`unknown`, then the offered application's status; `terminated` once the offer is gone."""
    status_message: str = ""
    """Why, for `error` and `terminated`."""


@dataclass(frozen=True, kw_only=True, slots=True)
class FirewallRule:
    """A model's ingress allow-list for a well-known service; no rule means allow all."""

    model_uuid: str
    """The offering model."""
    service: WellKnownService
    """What the rule guards."""
    cidrs: tuple[str, ...]
    """Allowed subnets; rule changes only affect relations set up later."""


@dataclass(frozen=True, kw_only=True, slots=True)
class OfferRequest:
    """What `offer` asks for: the gateway fills in the model and the application's endpoints."""

    model_uuid: str
    model_name: str
    model_owner: str
    offer_name: str
    """Empty means the application's name."""
    application: str
    endpoints: tuple[str, ...]
    """Endpoint names to offer, at least one."""
    application_endpoints: tuple[ApplicationEndpoint, ...]
    """Every endpoint of the application; empty when the application does not exist."""
    charm: str = ""
    description: str = ""
    """Empty for the charm's summary."""
    charm_summary: str = ""
    created_by: str = ""


@dataclass(frozen=True, kw_only=True, slots=True)
class OfferResult:
    """What `create_offer` did."""

    offer: Offer
    """The offer after the change."""
    created: bool
    """True for a new offer, False for an update."""
    previous_endpoints: tuple[str, ...] = ()
    """For an update, the endpoint names before it, sorted."""
    sequence: int = 0
    """Feed sequence of `offer-added` or `offer-updated`."""


@dataclass(frozen=True, kw_only=True, slots=True)
class OfferFilter:
    """Filters of ListOffers and FindOffers; empty fields match everything, the rest exactly."""

    model_uuid: str = ""
    model_owner: str = ""
    model_name: str = ""
    name: str = ""
    application: str = ""
    interface: str = ""
    endpoint: str = ""


@dataclass(frozen=True, kw_only=True, slots=True)
class Deleted:
    """What `delete_offer` did."""

    removed_relations: int
    """Relations removed with the offer (with `force`)."""
    sequence: int
    """Feed sequence of `offer-removed`."""


@dataclass(frozen=True, kw_only=True, slots=True)
class Page:
    """One page of offers and the token of the next (empty on the last page)."""

    offers: list[Offer] = field(default_factory=list)
    next_page_token: str = ""


class Offers(EventStore, Protocol):
    """What use cases need from the offers store; implemented by `store.SqliteOffers`."""

    def add_offer(self, offer: Offer) -> None:
        """Insert an offer and its endpoints."""
        ...

    def replace_offer(self, offer: Offer) -> None:
        """Update an offer's application, charm and description, and replace its endpoints."""
        ...

    def delete_offer(self, uuid: str) -> None:
        """Delete an offer with its endpoints and connections."""
        ...

    def offer(self, uuid: str) -> Offer | None:
        """An offer by UUID, with its endpoints and connections."""
        ...

    def offer_named(self, model_uuid: str, name: str) -> Offer | None:
        """An offer by model and name, with its endpoints and connections."""
        ...

    def model_label(self, model_uuid: str) -> str | None:
        """`owner/model` of a model known from its offers, or None."""
        ...

    def list_offers(self, where: OfferFilter, after: str | None, limit: int) -> list[Offer]:
        """Offers matching `where`, by name, with names after `after`; at most `limit`."""
        ...

    def find_offers(
        self, where: OfferFilter, after: tuple[str, str] | None, limit: int
    ) -> list[Offer]:
        """Offers of every model matching `where`, by (url, uuid) after `after`."""
        ...

    def offers_of_application(self, model_uuid: str, application: str) -> list[str]:
        """Return the names of an application's offers, sorted."""
        ...


class RelationsPort(Protocol):
    """What the offers context asks of the relations context (which owns relations)."""

    def offer_relations(self, offer_uuid: str) -> int:
        """Return how many relations use the offer.

        Raises:
            Unavailable: the relations service cannot be reached.
        """
        ...

    def remove_offer_relations(self, offer_uuid: str) -> int:
        """Remove every relation using the offer; return how many went.

        Raises:
            Unavailable: the relations service cannot be reached.
        """
        ...


# -- paging ----------------------------------------------------------------------------------


# -- use cases -------------------------------------------------------------------------------


def _plural(n: int, noun: str) -> str:
    return f"{n} {noun}" if n == 1 else f"{n} {noun}s"


def create_offer(
    offers: Offers,
    request: OfferRequest,
    *,
    now: str,
    new_uuid: Callable[[], str] = lambda: str(uuidlib.uuid4()),
) -> OfferResult:
    """Create an offer, or replace the endpoints of the model's offer of that name (upsert).

    Checks, in Juju's order (REFERENCE §2.1): the offer name, at least one endpoint, the
    application, each endpoint, global scope; on update, no endpoint in use may go.

    Raises:
        Invalid: a bad offer name, no endpoints, or a container-scoped endpoint.
        NotFound: the application, or one of the endpoints, does not exist.
        Refused: an update would drop an endpoint that a connection uses.
    """
    name = request.offer_name or request.application
    if not is_application_name(name):
        raise errors.Invalid(f'offer name "{name}" not valid')
    wanted = list(dict.fromkeys(request.endpoints))
    if not wanted:
        raise errors.Invalid("an offer must at least specify application endpoint")
    if not request.model_uuid:
        raise errors.Invalid("model_uuid is required")
    with offers.transaction():
        existing = offers.offer_named(request.model_uuid, name)
        verb = "add" if existing is None else "update"
        prefix = f'cannot {verb} application offer "{name}"'
        if not request.application_endpoints:
            raise errors.NotFound(f'{prefix}: application "{request.application}" not found')
        available = {e.name: e for e in request.application_endpoints}
        chosen: list[ApplicationEndpoint] = []
        for ep in wanted:
            if ep not in available:
                missing = f'application "{request.application}" has no "{ep}" relation'
                if existing is not None:
                    missing = (
                        f'getting relation endpoint for relation "{ep}" and application'
                        f' "{request.application}": {missing}'
                    )
                raise errors.NotFound(f"{prefix}: {missing}")
            chosen.append(available[ep])
        for app_ep in chosen:
            if app_ep.scope != Scope.GLOBAL:
                raise errors.Invalid(
                    f'can only offer endpoints with global scope, provided scope "{app_ep.scope}"'
                )
        endpoints = tuple(
            OfferEndpoint(name=e.name, interface=e.interface, role=e.role)
            for e in sorted(chosen, key=lambda e: e.name)
        )
        if existing is not None:
            _check_endpoints_kept(existing, request.application, endpoints, prefix)
        offer = Offer(
            uuid=existing.uuid if existing is not None else new_uuid(),
            model_uuid=request.model_uuid,
            owner=request.model_owner,
            model_name=request.model_name,
            name=name,
            application=request.application,
            endpoints=endpoints,
            charm=request.charm,
            description=request.description or request.charm_summary,
            created_by=existing.created_by if existing is not None else request.created_by,
            created_at=existing.created_at if existing is not None else now,
            connections=existing.connections if existing is not None else (),
        )
        if existing is None:
            offers.add_offer(offer)
        else:
            offers.replace_offer(offer)
        seq = offers.append_event(
            "offer-added" if existing is None else "offer-updated",
            model_uuid=offer.model_uuid,
            entity=offer.name,
            attributes={
                "offer-uuid": offer.uuid,
                "application": offer.application,
                "url": offer.url,
            },
        )
    return OfferResult(
        offer=offer,
        created=existing is None,
        previous_endpoints=tuple(existing.endpoint_names) if existing is not None else (),
        sequence=seq,
    )


def _check_endpoints_kept(
    existing: Offer, application: str, endpoints: tuple[OfferEndpoint, ...], prefix: str
) -> None:
    """Refuse an update that drops an endpoint some connection uses.

    Moving the offer to another application drops every endpoint, whatever their names.
    """
    kept = {e.name for e in endpoints} if application == existing.application else set()
    in_use = sorted({c.endpoint for c in existing.connections} - kept)
    if not in_use:
        return
    quoted = ", ".join(in_use)
    what = (
        f'endpoint "{quoted}" which has'
        if len(in_use) == 1
        else f'endpoints "{quoted}" which have'
    )
    new = ",".join(e.name for e in endpoints)
    raise errors.Refused(
        f"{prefix}: updating offer {application}:{new} would remove {what} active consumers"
    )


def get_offer(offers: Offers, offer_uuid: str, model_uuid: str, name: str) -> Offer:
    """An offer by UUID, or by model UUID and name.

    Raises:
        Invalid: neither the UUID nor both model UUID and name are given.
        NotFound: `application offer "admin/prod.mysql" not found` (the UUID when only it is
            known).
    """
    if offer_uuid:
        found = offers.offer(offer_uuid)
        if found is None:
            raise errors.NotFound(f'application offer "{offer_uuid}" not found')
        return found
    if not model_uuid or not name:
        raise errors.Invalid("specify offer_uuid, or model_uuid and name")
    found = offers.offer_named(model_uuid, name)
    if found is None:
        label = offers.model_label(model_uuid)
        raise errors.NotFound(
            f'application offer "{label}.{name}" not found'
            if label
            else f'application offer "{name}" not found'
        )
    return found


def list_offers(offers: Offers, where: OfferFilter, size: int, token: str) -> Page:
    """One page of a model's offers by name, filtered exactly.

    Raises:
        Invalid: no model UUID, a negative page size or a bad token.
    """
    if not where.model_uuid:
        raise errors.Invalid("model_uuid is required")
    limit = page_size(size)
    after = decode_token(token, 1)
    found = offers.list_offers(where, after[0] if after else None, limit + 1)
    more = len(found) > limit
    found = found[:limit]
    return Page(offers=found, next_page_token=encode_token([found[-1].name]) if more else "")


def find_offers(offers: Offers, where: OfferFilter, size: int, token: str) -> Page:
    """One page of the offers of every model, by URL, filtered exactly.

    Raises:
        Invalid: a negative page size or a bad token.
    """
    limit = page_size(size)
    after = decode_token(token, 2)
    found = offers.find_offers(where, (after[0], after[1]) if after else None, limit + 1)
    more = len(found) > limit
    found = found[:limit]
    last = found[-1] if found else None
    token = encode_token([last.url, last.uuid]) if more and last else ""
    return Page(offers=found, next_page_token=token)


def delete_offer(
    offers: Offers, relations: RelationsPort, offer_uuid: str, *, force: bool
) -> Deleted:
    """Delete an offer; refuse while relations use it, unless forced (REFERENCE §2.3).

    The relations are counted, and with `force` removed, by the relations context before the
    offer goes; the offer, its endpoints and its connections then go in one transaction.

    Raises:
        Invalid: no UUID.
        NotFound: no such offer.
        Refused: `cannot delete application offer "x": offer has 1 relation` without `force`.
        Unavailable: the relations service cannot be reached; nothing changed.
    """
    if not offer_uuid:
        raise errors.Invalid("offer_uuid is required")
    offer = get_offer(offers, offer_uuid, "", "")
    count = relations.offer_relations(offer.uuid)
    if count and not force:
        raise errors.Refused(
            f'cannot delete application offer "{offer.name}": offer has'
            f" {_plural(count, 'relation')}"
        )
    # With force, ask even when none were counted: one may have appeared since.
    removed = relations.remove_offer_relations(offer.uuid) if force else 0
    with offers.transaction():
        if offers.offer(offer.uuid) is None:
            raise errors.NotFound(f'application offer "{offer.uuid}" not found')
        offers.delete_offer(offer.uuid)
        seq = offers.append_event(
            "offer-removed",
            model_uuid=offer.model_uuid,
            entity=offer.name,
            attributes={
                "offer-uuid": offer.uuid,
                "application": offer.application,
                "url": offer.url,
            },
        )
    return Deleted(removed_relations=removed, sequence=seq)
