"""Offers: make, list, show, find and remove them; SAAS removal; the offering firewall."""

from __future__ import annotations

from collections.abc import Sequence

from cmr.access.v1 import access_pb2
from cmr.gateway.v1 import gateway_pb2 as pb
from cmr.offers.v1 import offers_pb2
from cmr.placement.v1 import placement_pb2
from cmr.relations.v1 import relations_pb2
from gateway.app.crossmodel import ROLE_NAMES
from gateway.auth import Caller
from gateway.ports import Ports, pages
from gateway.resolve import Held, Resolver, find_application, offer_target, split_model_ref
from kernel import errors
from kernel.offerurl import OfferURL
from services.common.deadline import Deadline

PAGE: int = 1000
"""Offers asked for at a time."""


class Offers:
    """The offer commands, for an authenticated caller."""

    def __init__(self, ports: Ports, resolve: Resolver) -> None:
        self._ports = ports
        self._resolve = resolve

    # -- building blocks -------------------------------------------------------------------

    def of_model(
        self,
        model_uuid: str,
        deadline: Deadline,
        *,
        application: str = "",
        name: str = "",
        interface: str = "",
    ) -> list[offers_pb2.Offer]:
        """Every offer of a model that matches the filters (all pages)."""
        return list(
            pages(
                lambda token: self._ports.offers.list_offers(
                    offers_pb2.ListOffersRequest(
                        model_uuid=model_uuid,
                        application=application,
                        name=name,
                        interface=interface,
                        page_size=PAGE,
                        page_token=token,
                    ),
                    deadline,
                ),
                lambda reply: reply.offers,
            )
        )

    def delete(self, offer: offers_pb2.Offer, *, force: bool, deadline: Deadline) -> int:
        """Remove an offer and every permission on it; return how many relations went."""
        reply = self._ports.offers.delete_offer(
            offers_pb2.DeleteOfferRequest(offer_uuid=offer.uuid, force=force), deadline
        )
        self._ports.access.drop_target(
            access_pb2.DropTargetRequest(target=offer_target(offer)), deadline
        )
        return reply.removed_relations

    def remove_saas(self, model_uuid: str, name: str, deadline: Deadline) -> int:
        """Remove a SAAS with all its relations (both halves); return how many went."""
        reply = self._ports.relations.remove_application_relations(
            relations_pb2.RemoveApplicationRelationsRequest(
                model_uuid=model_uuid, application=name
            ),
            deadline,
        )
        self._ports.offers.remove_saas(
            offers_pb2.RemoveSaasRequest(model_uuid=model_uuid, name=name), deadline
        )
        return reply.removed

    def details(self, caller: Caller, held: Held, deadline: Deadline) -> pb.OfferDetails:
        """An offer as the caller may see it: users and connections only for its admins."""
        entries = list(
            self._ports.access.list_access(
                access_pb2.ListAccessRequest(target=offer_target(held.offer)), deadline
            ).entries
        )
        offer = offers_pb2.Offer()
        offer.CopyFrom(held.offer)
        if held.level != "admin":
            del offer.connections[:]
            entries = [access_pb2.AccessEntry(user=caller.user, level=held.level)]
        return pb.OfferDetails(
            offer=offer,
            url=f"{self._resolve.controller(deadline).name}:{held.offer.url}",
            access=held.level,
            users=entries,
        )

    def url(self, caller: Caller, ref: str, model: str, deadline: Deadline) -> OfferURL:
        """A full offer URL, or a bare offer name in `model` (the current model)."""
        if "." not in ref and ":" not in ref and "/" not in ref:
            owner, name = split_model_ref(model, caller.user)
            ref = f"{owner}/{name}.{ref}"
        return self._resolve.offer_url(caller, ref, deadline)

    # -- commands --------------------------------------------------------------------------

    def offer(
        self,
        caller: Caller,
        ref: str,
        application: str,
        endpoints: Sequence[str],
        offer_name: str,
        deadline: Deadline,
    ) -> pb.OfferResponse:
        """Offer an application's endpoints (model admin only), or change an offer's endpoints.

        An unknown application reaches the offers service as no endpoints at all, so that its
        message names the offer, as Juju's does.
        """
        model = self._resolve.model(caller, ref, "admin", deadline)
        app_endpoints: list[offers_pb2.ApplicationEndpoint] = []
        charm, summary = "", ""
        app = find_application(self._ports, model.uuid, application, deadline)
        if app is not None:
            app_endpoints = [
                offers_pb2.ApplicationEndpoint(
                    name=e.name,
                    interface=e.interface,
                    role=ROLE_NAMES[e.role],
                    scope="container" if e.scope == placement_pb2.SCOPE_CONTAINER else "global",
                )
                for e in app.charm.endpoints
            ]
            charm = f"local:{app.charm.name}-{app.charm.revision}"
            summary = app.charm.summary
        reply = self._ports.offers.create_offer(
            offers_pb2.CreateOfferRequest(
                model_uuid=model.uuid,
                model_name=model.name,
                model_owner=model.owner,
                offer_name=offer_name,
                application=application,
                endpoints=endpoints,
                application_endpoints=app_endpoints,
                charm=charm,
                charm_summary=summary,
                created_by=caller.user,
            ),
            deadline,
        )
        if reply.created:
            self._ports.access.init_target(
                access_pb2.InitTargetRequest(target=offer_target(reply.offer), owner=caller.user),
                deadline,
            )
        details = self.details(caller, Held(offer=reply.offer, level="admin"), deadline)
        return pb.OfferResponse(
            offer=details, created=reply.created, previous_endpoints=reply.previous_endpoints
        )

    def administered(
        self,
        caller: Caller,
        ref: str,
        deadline: Deadline,
        *,
        application: str = "",
        name: str = "",
        interface: str = "",
    ) -> list[pb.OfferDetails]:
        """The model's offers the caller administers.

        An offer admin may list what they administer in a model they cannot read; to anyone
        else such a model stays invisible.
        """
        try:
            model = self._resolve.model(caller, ref, "read", deadline)
        except errors.NotFound:
            model = self._resolve.model(caller, ref, "", deadline)
            hidden = True
        else:
            hidden = False
        found = self.of_model(
            model.uuid, deadline, application=application, name=name, interface=interface
        )
        held = [h for h in self._resolve.readable(caller, found, deadline) if h.level == "admin"]
        if hidden and not held:
            owner, model_name = split_model_ref(ref, caller.user)
            raise errors.NotFound(f'model "{owner}/{model_name}" not found')
        return [self.details(caller, h, deadline) for h in held]

    def show(self, caller: Caller, ref: str, model: str, deadline: Deadline) -> pb.OfferDetails:
        """One offer the caller can read, with its connections."""
        if not ref:
            raise errors.Invalid("must specify endpoint URL")
        url = self.url(caller, ref, model, deadline)
        held = self._resolve.offer(caller, url, "read", deadline, connections=True)
        return self.details(caller, held, deadline)

    def find(
        self,
        caller: Caller,
        term_text: str,
        offer: str,
        interface: str,
        endpoint: str,
        deadline: Deadline,
    ) -> list[pb.OfferDetails]:
        """Offers of this controller the caller can read, matching a URL term and filters."""
        term = OfferURL.parse_filter(term_text) if term_text else None
        name = self._resolve.controller(deadline).name
        if term is not None and term.source and term.source != name:
            raise errors.NotFound(f'controller "{term.source}" not found')
        if term is not None and term.offer and offer:
            raise errors.Invalid("cannot specify both a URL term and offer term")
        found = list(
            pages(
                lambda token: self._ports.offers.find_offers(
                    offers_pb2.FindOffersRequest(
                        model_owner=term.user if term else "",
                        model_name=term.model if term else "",
                        offer_name=(term.offer if term else "") or offer,
                        interface=interface,
                        endpoint=endpoint,
                        page_size=PAGE,
                        page_token=token,
                    ),
                    deadline,
                ),
                lambda reply: reply.offers,
            )
        )
        held = self._resolve.readable(caller, found, deadline)
        return [self.details(caller, h, deadline) for h in held]

    def remove(
        self, caller: Caller, refs: Sequence[str], model: str, force: bool, deadline: Deadline
    ) -> int:
        """Remove offers (admin of each); all are resolved and authorised before any goes."""
        if not refs:
            raise errors.Invalid("no offers specified")
        urls = [self.url(caller, u, model, deadline) for u in refs]
        with_endpoint = [str(u) for u in urls if u.endpoint]
        if with_endpoint:
            lines = "".join(f"\n -{u}" for u in with_endpoint)
            raise errors.Invalid(
                f"These offers contain endpoints. Only specify the offer name itself.{lines}"
            )
        held = [self._resolve.offer(caller, u, "admin", deadline) for u in urls]
        return sum(self.delete(h.offer, force=force, deadline=deadline) for h in held)

    def set_firewall_rule(
        self,
        caller: Caller,
        ref: str,
        service: str,
        allowlist: Sequence[str],
        deadline: Deadline,
    ) -> offers_pb2.FirewallRule:
        """Set the allow-list of a well-known service (model admin only)."""
        model = self._resolve.model(caller, ref, "admin", deadline)
        return self._ports.offers.set_firewall_rule(
            offers_pb2.SetFirewallRuleRequest(
                model_uuid=model.uuid, service=service, allowlist=allowlist
            ),
            deadline,
        ).rule

    def firewall_rules(
        self, caller: Caller, ref: str, deadline: Deadline
    ) -> list[offers_pb2.FirewallRule]:
        """The model's firewall rules."""
        model = self._resolve.model(caller, ref, "read", deadline)
        return list(
            self._ports.offers.list_firewall_rules(
                offers_pb2.ListFirewallRulesRequest(model_uuid=model.uuid), deadline
            ).rules
        )
