"""Values of the offers context: offers, their connections, SAAS records and firewall rules.

A skeleton: the dataclasses the store maps, and the store protocol, so later issues add the use
cases (offer, remove-offer, consume, remove-saas, set-firewall-rule) against a settled schema.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum
from typing import Final, Protocol

from services.common.events import EventStore


class Role(StrEnum):
    """An endpoint's role (`provides` = provider, `requires` = requirer, `peers` = peer)."""

    PROVIDER = "provider"
    REQUIRER = "requirer"
    PEER = "peer"


class WellKnownService(StrEnum):
    """Services a firewall rule may name (`set-firewall-rule <service> --allowlist ...`)."""

    APPLICATION_OFFER = "juju-application-offer"
    """Every offer of the model."""
    SSH = "ssh"


ALLOW_ALL: Final = ("0.0.0.0/0", "::/0")
"""The allow-list of a service without a rule: Juju 3.x's default for `saas-ingress-allow`."""


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
    """At least one; only global-scope endpoints. An update replaces the whole set."""
    description: str = ""
    """Defaults to the charm's description."""
    created_at: str = ""
    """RFC 3339 UTC."""


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


class Offers(EventStore, Protocol):
    """What use cases need from the offers store; implemented by `store.SqliteOffers`."""

    def add_offer(self, offer: Offer) -> None:
        """Insert an offer and its endpoints."""
        ...

    def offers_of_application(self, model_uuid: str, application: str) -> list[str]:
        """Return the names of an application's offers, sorted."""
        ...
