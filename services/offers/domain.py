"""Offer rules and use cases: create or update, get, list, find and delete. No gRPC, no SQL.

Each use case checks everything before it writes anything, writes in one store transaction,
appends its change-feed event in that transaction and returns the sequence.

Rules kept here, as Juju 3.6 has them:
- an offer name follows the application-name grammar and defaults to the application's name;
- only global-scope endpoints may be offered, requirers too;
- offering an existing name replaces its endpoint set (and may move it to another application),
  but never drops an endpoint a connection uses;
- an offer used by relations is deleted only with `force`, which removes those relations first
  (the relations context owns them, so it is asked through `RelationsPort`).
"""

from __future__ import annotations

import ipaddress
import uuid as uuidlib
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field, replace
from enum import StrEnum
from typing import Final, Protocol

from kernel import errors
from kernel.names import is_application_name
from kernel.relation import Role, Scope
from services.common.events import EventStore
from services.common.paging import decode_token, encode_token, page_size


class WellKnownService(StrEnum):
    """Services a firewall rule may name (`set-firewall-rule <service> --allowlist ...`)."""

    APPLICATION_OFFER = "juju-application-offer"
    """Every offer of the model."""
    SSH = "ssh"


ALLOW_ALL: Final = ("0.0.0.0/0", "::/0")
"""The allow-list of a service without a rule: Juju 3.x's default for `saas-ingress-allow`."""

JOINED: Final = "joined"
"""The connection status that counts as active."""
TERMINATED: Final = "terminated"
"""A SAAS whose offer has been removed."""
OFFER_REMOVED: Final = "offer has been removed"
"""The terminated SAAS's status message."""


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
    created_at: str = ""
    """RFC 3339 UTC."""
    source_controller_uuid: str = ""
    """The offering controller's UUID; empty when it is this controller."""
    source_address: str = ""
    """Where the offering controller's gateway answers."""
    consume_token: str = ""
    """The consume token it issued; kept fresh by the gateway."""

    @property
    def terminated(self) -> bool:
        """True once the offer is gone: relating to it is refused until `remove-saas`."""
        return self.status == TERMINATED


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

    def saas(self, model_uuid: str, name: str) -> RemoteApplication | None:
        """A SAAS of a model by name, with its endpoints, or None."""
        ...

    def list_saas(self, model_uuid: str) -> list[RemoteApplication]:
        """A model's SAAS, by name."""
        ...

    def saas_of_offer(self, offer_uuid: str) -> list[RemoteApplication]:
        """Every SAAS of this controller that stands for the offer, by model and name."""
        ...

    def put_saas(self, saas: RemoteApplication) -> None:
        """Insert or replace a SAAS with its endpoints."""
        ...

    def delete_saas(self, model_uuid: str, name: str) -> None:
        """Delete a SAAS with its endpoints."""
        ...

    def firewall_rules(self, model_uuid: str) -> dict[str, tuple[str, ...]]:
        """The model's stored rules, by service; a service without a row allows all."""
        ...

    def set_firewall_rule(self, model_uuid: str, service: str, cidrs: Sequence[str]) -> None:
        """Store a service's allow-list, replacing the one before."""
        ...


class RelationsPort(Protocol):
    """What the offers context asks of the relations context (which owns relations)."""

    def connections(self, offer_uuids: Sequence[str]) -> dict[str, tuple[OfferConnection, ...]]:
        """Return the connections of each offer (the offerer's halves of its relations).

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
    relations: RelationsPort | None = None,
) -> OfferResult:
    """Create an offer, or replace the endpoints of the model's offer of that name (upsert).

    Checks, in Juju's order (juju/juju@3.6:apiserver/facades/client/applicationoffers): the
    offer name, at least one endpoint, the application, each endpoint, global scope; on update,
    no endpoint in use may go.

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
        if existing is not None and relations is not None:
            [existing] = with_connections(relations, [existing])
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
    """Delete an offer; refuse while cross-model relations use it, unless forced.

    The relations are counted, and with `force` removed, by the relations context before the
    offer goes; the offer and its endpoints then go in one transaction, and every SAAS of this
    controller that stands for it turns `terminated` / `offer has been removed` (a
    `saas-terminated` event each).

    Raises:
        Invalid: no UUID.
        NotFound: no such offer.
        Refused: `cannot delete application offer "x": offer has 1 relation` without `force`.
        Unavailable: the relations service cannot be reached; nothing changed.
    """
    if not offer_uuid:
        raise errors.Invalid("offer_uuid is required")
    offer = get_offer(offers, offer_uuid, "", "")
    count = len(relations.connections([offer.uuid]).get(offer.uuid, ()))
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
        for saas in offers.saas_of_offer(offer.uuid):
            offers.put_saas(replace(saas, status=TERMINATED, status_message=OFFER_REMOVED))
            offers.append_event(
                "saas-terminated",
                model_uuid=saas.model_uuid,
                entity=saas.name,
                attributes={"offer-uuid": offer.uuid},
            )
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


def with_connections(relations: RelationsPort, found: Sequence[Offer]) -> list[Offer]:
    """The offers with their connections, asked of the relations context in one call.

    Raises:
        Unavailable: the relations service cannot be reached.
    """
    if not found:
        return []
    by_offer = relations.connections([o.uuid for o in found])
    return [replace(o, connections=by_offer.get(o.uuid, ())) for o in found]


# -- consume and SAAS -----------------------------------------------------------------------


@dataclass(frozen=True, kw_only=True, slots=True)
class Consumed:
    """What `consume` did."""

    saas: RemoteApplication
    created: bool
    """True for a new SAAS (or one that replaced a terminated SAAS)."""
    sequence: int = 0
    """Feed sequence of `saas-added` or `saas-updated`; 0 when nothing changed."""


def consume(offers: Offers, wanted: RemoteApplication, *, model_name: str = "") -> Consumed:
    """Create the SAAS for an offer in the consuming model, idempotently.

    The same name for the same offer returns the existing SAAS, with new endpoints merged in; a
    terminated one is replaced. The gateway checks the local applications' name space first.

    Raises:
        Invalid: a bad name, or no model, offer or endpoints.
        AlreadyExists: a SAAS of that name from another model or for another offer.
        Refused: an endpoint of that name with another interface or role, or a dying SAAS.
    """
    prefix = f'cannot add saas application "{wanted.name}"'
    if not is_application_name(wanted.name):
        raise errors.Invalid(f'{prefix}: name "{wanted.name}" not valid')
    if not wanted.model_uuid or not wanted.offer_uuid or not wanted.source_model_uuid:
        raise errors.Invalid("model_uuid, offer_uuid and source_model_uuid are required")
    if not wanted.endpoints:
        raise errors.Invalid(f"{prefix}: the offer has no endpoints")
    with offers.transaction():
        existing = offers.saas(wanted.model_uuid, wanted.name)
        if existing is not None and not existing.terminated:
            if existing.source_model_uuid != wanted.source_model_uuid:
                raise errors.AlreadyExists(
                    f'saas application called "{wanted.name}" from a different model already '
                    "exists"
                )
            if existing.offer_uuid != wanted.offer_uuid:
                raise errors.AlreadyExists(f"{prefix}: saas application already exists")
            saas = replace(
                existing,
                endpoints=_merge_endpoints(existing.endpoints, wanted.endpoints),
                consume_token=wanted.consume_token or existing.consume_token,
                source_address=wanted.source_address or existing.source_address,
            )
            if saas == existing:
                return Consumed(saas=existing, created=False)
            offers.put_saas(saas)
            seq = offers.append_event(
                "saas-updated",
                model_uuid=saas.model_uuid,
                entity=saas.name,
                attributes={"offer-uuid": saas.offer_uuid},
            )
            return Consumed(saas=saas, created=False, sequence=seq)
        saas = replace(wanted, status="unknown", status_message="")
        offers.put_saas(saas)
        seq = offers.append_event(
            "saas-added",
            model_uuid=saas.model_uuid,
            entity=saas.name,
            attributes={"offer-uuid": saas.offer_uuid, "url": saas.offer_url},
        )
    return Consumed(saas=saas, created=True, sequence=seq)


def _merge_endpoints(
    have: tuple[OfferEndpoint, ...], new: tuple[OfferEndpoint, ...]
) -> tuple[OfferEndpoint, ...]:
    by_name = {e.name: e for e in have}
    for ep in new:
        old = by_name.get(ep.name)
        if old is not None and old != ep:
            raise errors.Refused(f"conflicting endpoint {ep.name}")
        by_name[ep.name] = ep
    return tuple(sorted(by_name.values(), key=lambda e: e.name))


def get_saas(offers: Offers, model_uuid: str, name: str) -> RemoteApplication:
    """A SAAS by model and name.

    Raises:
        Invalid: no model or name.
        NotFound: `saas application "x" not found`.
    """
    if not model_uuid or not name:
        raise errors.Invalid("model_uuid and name are required")
    found = offers.saas(model_uuid, name)
    if found is None:
        raise errors.NotFound(f'saas application "{name}" not found')
    return found


def set_saas_status(
    offers: Offers, model_uuid: str, name: str, status: str, message: str, consume_token: str = ""
) -> bool:
    """Set a SAAS's status (and keep a renewed consume token); a terminated SAAS stays so.

    Returns:
        True when something changed (a `saas-updated` event was written).

    Raises:
        Invalid: no model, name or status, or `error` without a message.
        NotFound: no such SAAS.
    """
    if not status:
        raise errors.Invalid("status is required")
    if status == "error" and not message:
        raise errors.Invalid('cannot set status "error" without info')
    with offers.transaction():
        saas = get_saas(offers, model_uuid, name)
        if saas.terminated:
            return False
        after = replace(
            saas,
            status=status,
            status_message=message,
            consume_token=consume_token or saas.consume_token,
        )
        if after == saas:
            return False
        offers.put_saas(after)
        offers.append_event(
            "saas-updated",
            model_uuid=model_uuid,
            entity=name,
            attributes={"offer-uuid": saas.offer_uuid, "status": status},
        )
    return True


def list_saas(offers: Offers, model_uuid: str) -> list[RemoteApplication]:
    """A model's SAAS, by name.

    Raises:
        Invalid: no model.
    """
    if not model_uuid:
        raise errors.Invalid("model_uuid is required")
    return offers.list_saas(model_uuid)


def remove_saas(offers: Offers, model_uuid: str, name: str) -> int:
    """Remove a SAAS record; its relations are removed first (the gateway asks relations).

    Returns:
        The sequence of `saas-removed`.

    Raises:
        Invalid: no model or name.
        NotFound: no such SAAS.
    """
    with offers.transaction():
        saas = get_saas(offers, model_uuid, name)
        offers.delete_saas(model_uuid, name)
        return offers.append_event(
            "saas-removed",
            model_uuid=model_uuid,
            entity=name,
            attributes={"offer-uuid": saas.offer_uuid},
        )


# -- firewall -------------------------------------------------------------------------------

Network = ipaddress.IPv4Network | ipaddress.IPv6Network


def parse_cidr(text: str) -> Network:
    """A CIDR such as `10.0.0.0/8`; host bits may be set, as Go's `net.ParseCIDR` allows.

    Raises:
        Invalid: `<text> not valid`.
    """
    if "/" not in text:
        raise errors.Invalid(f'"{text}" not valid: a CIDR needs a prefix length')
    try:
        return ipaddress.ip_network(text.strip(), strict=False)
    except ValueError:
        raise errors.Invalid(f'"{text}" not valid') from None


def _service(name: str) -> WellKnownService:
    if not name:
        raise errors.Invalid("no well known service specified")
    if name == "juju-controller":
        raise errors.Invalid('service "juju-controller" not supported')
    try:
        return WellKnownService(name)
    except ValueError:
        raise errors.Invalid(f'well known service type "{name}" not valid') from None


def set_firewall_rule(
    offers: Offers, model_uuid: str, service: str, cidrs: Sequence[str]
) -> FirewallRule:
    """Set a model's allow-list for a well-known service (`set-firewall-rule`).

    Existing relations are not touched: the allow-list is checked when a relation is set up.

    Raises:
        Invalid: no model, an unknown service, no subnets or a bad CIDR.
    """
    if not model_uuid:
        raise errors.Invalid("model_uuid is required")
    kind = _service(service)
    wanted = [c.strip() for c in cidrs if c.strip()]
    if not wanted:
        raise errors.Invalid("no allowlist subnets specified")
    for cidr in wanted:
        parse_cidr(cidr)
    clean = tuple(dict.fromkeys(wanted))
    with offers.transaction():
        offers.set_firewall_rule(model_uuid, str(kind), clean)
        offers.append_event(
            "firewall-rule-set",
            model_uuid=model_uuid,
            entity=str(kind),
            attributes={"allowlist": ",".join(clean)},
        )
    return FirewallRule(model_uuid=model_uuid, service=kind, cidrs=clean)


def firewall_rules(offers: Offers, model_uuid: str) -> list[FirewallRule]:
    """Both well-known services' allow-lists, the default (allow all) where none was set.

    Raises:
        Invalid: no model.
    """
    if not model_uuid:
        raise errors.Invalid("model_uuid is required")
    stored = offers.firewall_rules(model_uuid)
    return [
        FirewallRule(model_uuid=model_uuid, service=s, cidrs=stored.get(str(s), ALLOW_ALL))
        for s in sorted(WellKnownService, key=str)
    ]


def check_ingress(offers: Offers, model_uuid: str, subnets: Sequence[str]) -> str:
    """Check a consumer's ingress against the offering model's offer allow-list.

    Every subnet must lie inside some allowed subnet of its IP version; an empty allow-list
    checks nothing (juju/juju@3.6:apiserver/common/crossmodel/crossmodel.go
    `validateIngressNetworks`).

    Returns:
        Empty when allowed, else `subnet <cidr> not in firewall whitelist` for the first one
        outside.

    Raises:
        Invalid: no model or a bad CIDR.
    """
    if not model_uuid:
        raise errors.Invalid("model_uuid is required")
    allowed = [
        parse_cidr(c)
        for c in offers.firewall_rules(model_uuid).get(
            str(WellKnownService.APPLICATION_OFFER), ALLOW_ALL
        )
    ]
    if not allowed:
        return ""
    for text in subnets:
        net = parse_cidr(text)
        if not any(
            net.version == a.version and net.subnet_of(a)  # type: ignore[arg-type]
            for a in allowed
        ):
            return f"subnet {text} not in firewall whitelist"
    return ""
