"""Cross-model orchestration over fake ports: consume, relate, egress, resume, register."""

from __future__ import annotations

import re

import pytest

from cmr.access.v1 import access_pb2
from cmr.gateway.v1 import gateway_pb2
from cmr.offers.v1 import offers_pb2
from cmr.placement.v1 import placement_pb2
from cmr.relations.v1 import relations_pb2
from gateway.app.crossmodel import CrossModel, proxy_name, terminated_message
from gateway.app.reconcile import Reconciler
from gateway.resolve import Resolver
from kernel import errors
from kernel.relation import Half
from tests.unit.gateway.fakes import FakePeerControllers, Fakes, PeerGateway
from tests.unit.gateway.world import (
    BOB,
    HERE,
    PEER,
    SOON,
    consumed,
    model,
    offering_world,
)


@pytest.fixture
def fakes() -> Fakes:
    """`admin/prod` offers `mysql` (its `db` endpoint); bob's `site` runs `wiki` on two units."""
    return offering_world()


@pytest.fixture
def peers() -> FakePeerControllers:
    return FakePeerControllers()


@pytest.fixture
def peer(peers: FakePeerControllers) -> PeerGateway:
    """The controller `peer`, reachable."""
    made = PeerGateway()
    peers.gateways[PEER] = made
    return made


@pytest.fixture
def reconciler(fakes: Fakes, peers: FakePeerControllers) -> Reconciler:
    return Reconciler(fakes.ports, peers)


@pytest.fixture
def cmr(fakes: Fakes, peers: FakePeerControllers, reconciler: Reconciler) -> CrossModel:
    return CrossModel(fakes.ports, Resolver(fakes.ports), peers, reconciler, lambda: HERE)


def relate(
    cmr: CrossModel, fakes: Fakes, a: str = "wiki", b: str = "mysql", via: tuple[str, ...] = ()
) -> relations_pb2.Relation:
    """What add-relation does with two names in `site`, one of them the SAAS."""
    site = model(fakes, "site")
    end_a = cmr.side(BOB, site, a, SOON, consume=True)
    end_b = cmr.side(BOB, site, b, SOON, consume=True)
    saas = end_a.saas or end_b.saas
    assert saas is not None
    return cmr.relate(BOB, site, end_a.side, end_b.side, saas, via, SOON)


def half(fakes: Fakes, name: str) -> relations_pb2.Relation:
    """The one relation of model `name`."""
    (found,) = fakes.relations.relations[model(fakes, name).uuid]
    return found


# -- consume -------------------------------------------------------------------------------


def test_consume_makes_a_saas_for_an_offer_the_caller_may_consume(
    cmr: CrossModel, fakes: Fakes
) -> None:
    saas, url = cmr.consume(BOB, model(fakes, "site"), "admin/prod.mysql", "", SOON)
    assert url == "ctrl:admin/prod.mysql"
    assert (saas.name, saas.offer_uuid, saas.offer_url, saas.status) == (
        "mysql",
        "o1",
        "ctrl:admin/prod.mysql",
        "unknown",
    )
    assert saas.source_model_uuid == model(fakes, "prod").uuid
    assert [e.name for e in saas.endpoints] == ["db"]
    assert fakes.journal.writes() == [("offers", "consume")]


def test_consume_without_consume_access_is_refused_and_writes_nothing(
    cmr: CrossModel, fakes: Fakes
) -> None:
    fakes.access.levels[("bob", "o1")] = "read"
    with pytest.raises(errors.Forbidden, match=r"^permission denied$"):
        cmr.consume(BOB, model(fakes, "site"), "admin/prod.mysql", "", SOON)
    assert fakes.journal.writes() == []
    assert fakes.offers.saas == {}


def test_an_offer_the_caller_cannot_read_does_not_exist_for_them(
    cmr: CrossModel, fakes: Fakes
) -> None:
    del fakes.access.levels[("bob", "o1")]
    with pytest.raises(errors.NotFound, match=r'application offer "admin/prod.mysql" not found'):
        cmr.consume(BOB, model(fakes, "site"), "admin/prod.mysql", "", SOON)
    assert fakes.journal.writes() == []


def test_an_alias_an_application_holds_is_refused_with_jujus_message(
    cmr: CrossModel, fakes: Fakes
) -> None:
    with pytest.raises(
        errors.AlreadyExists,
        match=r'^cannot add saas application "wiki": local application with same name already '
        r"exists$",
    ):
        cmr.consume(BOB, model(fakes, "site"), "admin/prod.mysql", "wiki", SOON)
    assert fakes.journal.writes() == []


def test_an_offer_url_with_an_endpoint_cannot_be_consumed(cmr: CrossModel, fakes: Fakes) -> None:
    with pytest.raises(errors.Invalid, match=r"shouldn't include endpoint"):
        cmr.consume(BOB, model(fakes, "site"), "admin/prod.mysql:db", "", SOON)
    assert fakes.journal.writes() == []


def test_consuming_twice_is_idempotent(cmr: CrossModel, fakes: Fakes) -> None:
    site = model(fakes, "site")
    first, _ = cmr.consume(BOB, site, "admin/prod.mysql", "db", SOON)
    again, _ = cmr.consume(BOB, site, "admin/prod.mysql", "db", SOON)
    assert again == first
    assert list(fakes.offers.saas) == [(site.uuid, "db")]


def remote_offer(**changes: str) -> gateway_pb2.RemoteOffer:
    """What the client fetched from the controller `peer` with its own account."""
    made = gateway_pb2.RemoteOffer(
        controller_name="peer",
        controller_uuid="peer-uuid",
        address=PEER,
        offer=offers_pb2.Offer(
            uuid="their-offer",
            model_uuid="their-prod",
            name="pg",
            url="carol/prod.pg",
            endpoints=[offers_pb2.OfferEndpoint(name="db", role="provider", interface="pgsql")],
        ),
        consume_token="consume-token-from-peer",
    )
    for field, value in changes.items():
        setattr(made, field, value)
    return made


def test_consuming_an_offer_of_another_controller_records_where_it_is(
    cmr: CrossModel, fakes: Fakes, peer: PeerGateway
) -> None:
    saas, url = cmr.consume(
        BOB, model(fakes, "site"), "peer:carol/prod.pg", "", SOON, remote_offer()
    )
    assert url == "peer:carol/prod.pg"
    assert (saas.name, saas.offer_uuid, saas.offer_url) == ("pg", "their-offer", url)
    assert (saas.source_controller, saas.source_controller_uuid, saas.source_address) == (
        "peer",
        "peer-uuid",
        PEER,
    )
    assert saas.consume_token == "consume-token-from-peer"
    assert fakes.journal.writes() == [("offers", "consume")]


def test_a_controller_answering_with_another_identity_is_refused(
    cmr: CrossModel, fakes: Fakes, peer: PeerGateway
) -> None:
    peer.identity.uuid = "impostor-uuid"
    with pytest.raises(errors.Refused, match=r'answers as "peer" \(impostor-uuid\)'):
        cmr.consume(BOB, model(fakes, "site"), "peer:carol/prod.pg", "", SOON, remote_offer())
    assert fakes.journal.writes() == []


def test_an_offer_of_an_unknown_controller_is_not_found(cmr: CrossModel, fakes: Fakes) -> None:
    with pytest.raises(errors.NotFound, match=r'^controller "elsewhere" not found$'):
        cmr.consume(BOB, model(fakes, "site"), "elsewhere:carol/prod.pg", "", SOON)
    with pytest.raises(errors.NotFound, match=r'^controller "elsewhere" not found$'):
        cmr.consume(BOB, model(fakes, "site"), "elsewhere:carol/prod.pg", "", SOON, remote_offer())
    assert fakes.journal.writes() == []


# -- relate within this controller ---------------------------------------------------------


def test_relating_to_a_saas_writes_both_halves_in_one_call_with_one_token(
    cmr: CrossModel, fakes: Fakes
) -> None:
    consumed(fakes)
    made = relate(cmr, fakes)
    assert fakes.journal.writes() == [("relations", "add_cross_model_relation")]
    consumer, offerer = half(fakes, "site"), half(fakes, "prod")
    assert made == consumer
    assert consumer.key == "wiki:db mysql:db"
    assert consumer.cross_model.token
    assert offerer.cross_model.token == consumer.cross_model.token
    assert (consumer.cross_model.side, offerer.cross_model.side) == (Half.CONSUMER, Half.OFFERER)
    assert (consumer.cross_model.username, offerer.cross_model.username) == ("bob", "bob")
    assert offerer.cross_model.offer_uuid == "o1"
    assert offerer.cross_model.source_model_uuid == model(fakes, "site").uuid
    assert (consumer.status, offerer.status) == ("joined", "joined")


def test_the_offerers_half_relates_the_offered_application_to_a_stable_proxy(
    cmr: CrossModel, fakes: Fakes
) -> None:
    consumed(fakes)
    relate(cmr, fakes)
    proxy = next(e for e in half(fakes, "prod").endpoints if e.remote)
    offered = next(e for e in half(fakes, "prod").endpoints if not e.remote)
    assert re.fullmatch(r"remote-[0-9a-f]{32}", proxy.application)
    assert proxy.application == proxy_name(model(fakes, "site").uuid, "wiki")
    assert (proxy.name, proxy.role, proxy.interface) == ("db", "requirer", "mysql")
    assert (offered.application, offered.name, offered.role) == ("mysql", "db", "provider")
    assert proxy_name(model(fakes, "site").uuid, "blog") != proxy.application


def test_both_halves_carry_the_unit_addresses_as_host_subnets(
    cmr: CrossModel, fakes: Fakes
) -> None:
    consumed(fakes)
    relate(cmr, fakes, "mysql", "wiki")  # either order
    expected = ["10.2.0.5/32", "10.2.0.6/32"]
    assert list(half(fakes, "site").cross_model.subnets) == expected
    assert list(half(fakes, "prod").cross_model.subnets) == expected


def test_the_models_egress_subnets_are_published_rather_than_unit_addresses(
    cmr: CrossModel, fakes: Fakes
) -> None:
    consumed(fakes)
    fakes.placement.config[model(fakes, "site").uuid]["egress-subnets"] = (
        "192.168.7.0/24, 10.20.0.0/16"
    )
    relate(cmr, fakes)
    expected = ["192.168.7.0/24", "10.20.0.0/16"]
    assert list(half(fakes, "site").cross_model.subnets) == expected
    assert list(half(fakes, "prod").cross_model.subnets) == expected


def test_an_ingress_the_offerer_refuses_puts_both_halves_in_error_with_its_message(
    cmr: CrossModel, fakes: Fakes
) -> None:
    consumed(fakes)
    fakes.offers.allowlists[model(fakes, "prod").uuid] = ["10.2.0.6/32", "192.168.0.0/16"]
    made = relate(cmr, fakes)
    message = "subnet 10.2.0.5/32 not in firewall whitelist"
    assert (made.status, made.message) == ("error", message)
    assert (half(fakes, "prod").status, half(fakes, "prod").message) == ("error", message)
    assert fakes.journal.writes() == [("relations", "add_cross_model_relation")]


def test_an_ingress_the_allow_list_admits_joins(cmr: CrossModel, fakes: Fakes) -> None:
    consumed(fakes)
    fakes.offers.allowlists[model(fakes, "prod").uuid] = ["10.2.0.0/16"]
    assert relate(cmr, fakes).status == "joined"


def test_a_removed_offered_application_is_refused_and_nothing_is_written(
    cmr: CrossModel, fakes: Fakes
) -> None:
    consumed(fakes)
    del fakes.placement.applications[(model(fakes, "prod").uuid, "mysql")]
    with pytest.raises(errors.Refused, match=r'^application "mysql" has been removed$'):
        relate(cmr, fakes)
    assert fakes.journal.writes() == []


def test_a_removed_offer_is_refused_as_the_saas_being_terminated(
    cmr: CrossModel, fakes: Fakes
) -> None:
    consumed(fakes)
    del fakes.offers.offers["o1"]
    with pytest.raises(errors.Refused) as refused:
        relate(cmr, fakes)
    assert refused.value.message == terminated_message("mysql")
    assert fakes.journal.writes() == []


def test_a_user_without_consume_cannot_relate_to_the_saas(cmr: CrossModel, fakes: Fakes) -> None:
    consumed(fakes)
    fakes.access.levels[("bob", "o1")] = "read"
    with pytest.raises(errors.Forbidden, match=r"^permission denied$"):
        relate(cmr, fakes)
    assert fakes.journal.writes() == []


def test_the_consumers_half_is_checked_before_anything_is_written(
    cmr: CrossModel, fakes: Fakes
) -> None:
    consumed(fakes)
    with pytest.raises(errors.NotFound, match=r'application "wiki" has no "nope" relation'):
        relate(cmr, fakes, "wiki:nope")
    assert fakes.journal.writes() == []


def test_a_terminated_saas_cannot_be_related(cmr: CrossModel, fakes: Fakes) -> None:
    consumed(fakes).status = "terminated"
    with pytest.raises(errors.Refused, match=r'Offer "mysql" has been removed'):
        relate(cmr, fakes)


# -- egress --------------------------------------------------------------------------------


def test_via_wins_over_egress_subnets_and_unit_addresses(cmr: CrossModel, fakes: Fakes) -> None:
    site = model(fakes, "site")
    fakes.placement.config[site.uuid]["egress-subnets"] = "192.168.7.0/24"
    assert cmr.egress(site, "wiki", ["172.16.0.0/12"], SOON) == ["172.16.0.0/12"]
    assert fakes.journal.calls == []


def test_egress_subnets_win_over_unit_addresses(cmr: CrossModel, fakes: Fakes) -> None:
    site = model(fakes, "site")
    fakes.placement.config[site.uuid]["egress-subnets"] = " 192.168.7.0/24 ,,10.9.0.0/16"
    assert cmr.egress(site, "wiki", [], SOON) == ["192.168.7.0/24", "10.9.0.0/16"]
    assert ("placement", "get_model_status") not in fakes.journal.calls


def test_unit_addresses_are_the_applications_own_each_once_as_host_subnets(
    cmr: CrossModel, fakes: Fakes
) -> None:
    site = model(fakes, "site")
    fakes.placement.units[site.uuid] += [
        placement_pb2.Unit(name="wiki/2", application="wiki", address="10.2.0.5"),
        placement_pb2.Unit(name="wiki/3", application="wiki", address="fd00::7"),
        placement_pb2.Unit(name="wiki/4", application="wiki", address=""),
    ]
    assert cmr.egress(site, "wiki", [], SOON) == ["10.2.0.5/32", "10.2.0.6/32", "fd00::7/128"]


def test_a_changed_egress_is_checked_again_and_written(cmr: CrossModel, fakes: Fakes) -> None:
    consumed(fakes)
    relate(cmr, fakes)
    site, prod = model(fakes, "site"), model(fakes, "prod")
    fakes.offers.allowlists[prod.uuid] = ["10.0.0.0/8"]
    fakes.placement.config[site.uuid]["egress-subnets"] = "192.168.7.0/24"
    cmr.republish_egress(site, SOON)
    assert fakes.journal.writes()[1:] == [("relations", "update_egress")]
    message = "subnet 192.168.7.0/24 not in firewall whitelist"
    for name in ("site", "prod"):
        assert list(half(fakes, name).cross_model.subnets) == ["192.168.7.0/24"]
        assert (half(fakes, name).status, half(fakes, name).message) == ("error", message)


def test_an_admitted_egress_takes_a_refused_relation_out_of_error(
    cmr: CrossModel, fakes: Fakes
) -> None:
    consumed(fakes)
    prod, site = model(fakes, "prod"), model(fakes, "site")
    fakes.offers.allowlists[prod.uuid] = ["192.168.0.0/16"]
    assert relate(cmr, fakes).status == "error"
    fakes.placement.config[site.uuid]["egress-subnets"] = "192.168.7.0/24"
    cmr.republish_egress(site, SOON)
    assert (half(fakes, "site").status, half(fakes, "prod").status) == ("joined", "joined")


def test_an_unchanged_egress_is_not_checked_or_written_again(
    cmr: CrossModel, fakes: Fakes
) -> None:
    consumed(fakes)
    relate(cmr, fakes)
    del fakes.journal.calls[:]
    cmr.republish_egress(model(fakes, "site"), SOON)
    assert fakes.journal.writes() == []
    assert ("offers", "check_ingress") not in fakes.journal.calls


def test_a_relation_made_via_subnets_keeps_them_whatever_the_model_says(
    cmr: CrossModel, fakes: Fakes
) -> None:
    consumed(fakes)
    relate(cmr, fakes, via=("172.16.0.0/12",))
    site = model(fakes, "site")
    fakes.placement.config[site.uuid]["egress-subnets"] = "192.168.7.0/24"
    del fakes.journal.calls[:]
    cmr.republish_egress(site, SOON)
    assert fakes.journal.writes() == []
    assert list(half(fakes, "site").cross_model.via) == ["172.16.0.0/12"]
    assert list(half(fakes, "prod").cross_model.subnets) == ["172.16.0.0/12"]


# -- resume --------------------------------------------------------------------------------


def suspended(cmr: CrossModel, fakes: Fakes) -> int:
    """Relate, then suspend the offerer's half; its id."""
    consumed(fakes)
    relate(cmr, fakes)
    offerer = half(fakes, "prod")
    offerer.suspended, offerer.status = True, "suspended"
    return offerer.id


def test_a_connection_whose_user_lost_consume_cannot_be_resumed(
    cmr: CrossModel, fakes: Fakes
) -> None:
    relation_id = suspended(cmr, fakes)
    fakes.access.levels[("bob", "o1")] = "read"
    with pytest.raises(errors.Forbidden, match=r"^permission denied$"):
        cmr.check_resumable(model(fakes, "prod"), [relation_id], SOON)


def test_resuming_reports_an_ingress_the_allow_list_now_refuses(
    cmr: CrossModel, fakes: Fakes
) -> None:
    relation_id = suspended(cmr, fakes)
    prod = model(fakes, "prod")
    assert cmr.check_resumable(prod, [relation_id], SOON) == {}
    fakes.offers.allowlists[prod.uuid] = ["192.168.0.0/16"]
    assert cmr.check_resumable(prod, [relation_id], SOON) == {
        relation_id: "subnet 10.2.0.5/32 not in firewall whitelist"
    }


def test_a_relation_that_is_not_suspended_is_not_checked(cmr: CrossModel, fakes: Fakes) -> None:
    consumed(fakes)
    relate(cmr, fakes)
    fakes.access.levels[("bob", "o1")] = "read"
    assert cmr.check_resumable(model(fakes, "prod"), [half(fakes, "prod").id, 99], SOON) == {}


# -- across controllers: the consuming side ------------------------------------------------


def remote_saas(fakes: Fakes) -> offers_pb2.Saas:
    return consumed(
        fakes,
        source_controller="peer",
        source_controller_uuid="peer-uuid",
        source_address=PEER,
        consume_token="consume-token-from-peer",
    )


def test_relating_to_a_saas_elsewhere_registers_there_then_writes_the_consumer_half(
    cmr: CrossModel, fakes: Fakes, peer: PeerGateway
) -> None:
    remote_saas(fakes)
    made = relate(cmr, fakes)
    (asked,) = peer.asked(gateway_pb2.RegisterRemoteRelationRequest)
    assert asked.consume_token == "consume-token-from-peer"
    assert (asked.offer_uuid, asked.offer_endpoint) == ("o1", "db")
    assert asked.proxy_name == proxy_name(model(fakes, "site").uuid, "wiki")
    assert list(asked.subnets) == ["10.2.0.5/32", "10.2.0.6/32"]
    assert (asked.consumer_controller_uuid, asked.consumer_address) == ("ctrl-uuid", HERE)
    callback = fakes.access.tokens[asked.callback_token]
    assert (callback.kind, callback.relation) == ("callback", asked.token)
    assert fakes.journal.writes() == [("relations", "add_relation")]
    assert made == half(fakes, "site")
    cross = made.cross_model
    assert cross.token == asked.token
    assert (cross.peer_controller, cross.peer_address, cross.peer_token) == (
        "peer-uuid",
        PEER,
        "relation-token-from-peer",
    )
    assert model(fakes, "prod").uuid not in fakes.relations.relations


def test_an_ingress_the_offering_controller_refuses_leaves_the_consumer_half_in_error(
    cmr: CrossModel, fakes: Fakes, peer: PeerGateway
) -> None:
    remote_saas(fakes)
    peer.registered.status, peer.registered.message = "error", "subnet 10.2.0.5/32 not in x"
    made = relate(cmr, fakes)
    assert (made.status, made.message) == ("error", "subnet 10.2.0.5/32 not in x")


def test_an_unreachable_offering_controller_makes_nothing(
    cmr: CrossModel, fakes: Fakes, peer: PeerGateway
) -> None:
    remote_saas(fakes)
    peer.down = True
    with pytest.raises(errors.Unavailable, match=r"^cannot connect to external controller: "):
        relate(cmr, fakes)
    assert fakes.journal.writes() == []


def test_an_expired_consume_token_is_renewed_and_kept_on_the_saas(
    cmr: CrossModel, fakes: Fakes, peer: PeerGateway
) -> None:
    remote_saas(fakes)
    peer.expired.add("consume-token-from-peer")
    relate(cmr, fakes)
    assert [r.consume_token for r in peer.asked(gateway_pb2.RegisterRemoteRelationRequest)] == [
        "consume-token-from-peer",
        "renewed-consume-token-from-peer",
    ]
    saas = fakes.offers.saas[(model(fakes, "site").uuid, "mysql")]
    assert saas.consume_token == "renewed-consume-token-from-peer"


def test_when_the_consumer_half_cannot_be_written_the_offerer_is_nudged_to_drop_its_own(
    cmr: CrossModel, fakes: Fakes, peer: PeerGateway
) -> None:
    remote_saas(fakes)
    fakes.relations.failing["add_relation"] = errors.Unavailable("relations is down")
    with pytest.raises(errors.Unavailable, match=r"relations is down"):
        relate(cmr, fakes)
    (registered,) = peer.asked(gateway_pb2.RegisterRemoteRelationRequest)
    (nudged,) = peer.asked(gateway_pb2.NudgeRequest)
    assert (nudged.token, nudged.credential) == (registered.token, "relation-token-from-peer")


# -- across controllers: the offering side -------------------------------------------------


def registration(fakes: Fakes, **changes: str) -> gateway_pb2.RegisterRemoteRelationRequest:
    """What a consuming controller sends, with a consume token this controller issued to bob."""
    consume = fakes.access.issue_offer_token(
        access_pb2.IssueOfferTokenRequest(
            user="bob",
            offer_model_uuid=model(fakes, "prod").uuid,
            offer_uuid="o1",
            source_model_uuid="their-site",  # on the other controller
            kind="consume",
        ),
        SOON,
    ).token
    request = gateway_pb2.RegisterRemoteRelationRequest(
        consume_token=consume,
        offer_uuid="o1",
        source_model_uuid="their-site",
        token="relation-1",
        consumer_endpoint=gateway_pb2.RemoteEndpoint(
            name="db", role="requirer", interface="mysql"
        ),
        offer_endpoint="db",
        subnets=["10.7.0.5/32"],
        consumer_controller_uuid="consumer-uuid",
        consumer_address="consumer.example:17070",
        callback_token="callback-from-consumer",
        proxy_name="remote-" + "ab" * 16,
    )
    for field, value in changes.items():
        setattr(request, field, value)
    del fakes.journal.calls[:]
    return request


def test_a_consumer_elsewhere_registers_the_offerers_half_alone(
    cmr: CrossModel, fakes: Fakes
) -> None:
    reply = cmr.register_remote(registration(fakes), SOON)
    assert fakes.journal.writes() == [("relations", "add_relation")]
    offerer = half(fakes, "prod")
    assert offerer.id == reply.relation_id
    assert (reply.status, reply.message) == ("joined", "")
    assert offerer.key == f"remote-{'ab' * 16}:db mysql:db"
    cross = offerer.cross_model
    assert (cross.side, cross.token, cross.offer_uuid, cross.username) == (
        Half.OFFERER,
        "relation-1",
        "o1",
        "bob",
    )
    assert (cross.peer_controller, cross.peer_address, cross.peer_token) == (
        "consumer-uuid",
        "consumer.example:17070",
        "callback-from-consumer",
    )
    claims = fakes.access.tokens[reply.relation_token]
    assert (claims.kind, claims.user, claims.relation) == ("relation", "bob", "relation-1")


def test_a_registration_the_allow_list_refuses_is_made_in_error(
    cmr: CrossModel, fakes: Fakes
) -> None:
    fakes.offers.allowlists[model(fakes, "prod").uuid] = ["192.168.0.0/16"]
    reply = cmr.register_remote(registration(fakes), SOON)
    message = "subnet 10.7.0.5/32 not in firewall whitelist"
    assert (reply.status, reply.message) == ("error", message)
    assert (half(fakes, "prod").status, half(fakes, "prod").message) == ("error", message)


def test_a_registration_whose_user_lost_consume_is_refused_and_writes_nothing(
    cmr: CrossModel, fakes: Fakes
) -> None:
    request = registration(fakes)
    fakes.access.levels[("bob", "o1")] = "read"
    with pytest.raises(errors.Forbidden, match=r"^permission denied$"):
        cmr.register_remote(request, SOON)
    assert fakes.journal.writes() == []


def test_a_registration_needs_a_token_and_a_proxy_name(cmr: CrossModel, fakes: Fakes) -> None:
    with pytest.raises(errors.Invalid, match=r"proxy name"):
        cmr.register_remote(registration(fakes, proxy_name="wiki"), SOON)
    with pytest.raises(errors.Invalid, match=r"UUID and address"):
        cmr.register_remote(registration(fakes, consumer_address=""), SOON)
    assert fakes.journal.writes() == []


def test_a_registration_for_a_removed_offered_application_is_refused(
    cmr: CrossModel, fakes: Fakes
) -> None:
    request = registration(fakes)
    del fakes.placement.applications[(model(fakes, "prod").uuid, "mysql")]
    with pytest.raises(errors.Refused, match=r'^application "mysql" has been removed$'):
        cmr.register_remote(request, SOON)
    assert fakes.journal.writes() == []


def test_a_registered_half_is_spared_while_its_consumer_writes_its_own(
    cmr: CrossModel, fakes: Fakes, peers: FakePeerControllers, reconciler: Reconciler
) -> None:
    cmr.register_remote(registration(fakes), SOON)
    peers.gateways["consumer.example:17070"] = PeerGateway()  # no consumer half there yet
    reconciler.reconcile(SOON, background=True)
    assert half(fakes, "prod").cross_model.token == "relation-1"


# -- what a client consuming from another controller asks ---------------------------------------


def test_consume_details_give_the_offer_and_a_consume_token_for_the_consuming_model(
    cmr: CrossModel, fakes: Fakes
) -> None:
    details = cmr.consume_details(BOB, "admin/prod.mysql", "their-model", SOON)
    assert (details.offer.uuid, details.controller_name) == ("o1", "ctrl")
    claims = fakes.access.tokens[details.consume_token]
    assert (claims.kind, claims.user, claims.source_model_uuid) == (
        "consume",
        "bob",
        "their-model",
    )
    with pytest.raises(errors.Invalid, match="consuming model's UUID is required"):
        cmr.consume_details(BOB, "admin/prod.mysql", "", SOON)
    fakes.access.levels[("bob", "o1")] = "read"
    with pytest.raises(errors.Forbidden):
        cmr.consume_details(BOB, "admin/prod.mysql", "their-model", SOON)
