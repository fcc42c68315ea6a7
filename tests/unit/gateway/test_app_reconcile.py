"""Keeping cross-controller halves in step over fake ports and fake peer gateways."""

from __future__ import annotations

import grpc
import pytest

from cmr.access.v1 import access_pb2
from cmr.gateway.v1 import gateway_pb2
from cmr.offers.v1 import offers_pb2
from cmr.placement.v1 import placement_pb2
from cmr.relations.v1 import relations_pb2
from gateway.app.reconcile import Reconciler
from kernel import errors
from kernel.relation import REVOKED_MESSAGE, Half
from services.common.deadline import Deadline
from tests.unit.gateway.fakes import FakePeerControllers, Fakes, PeerGateway, rpc_error

SOON = Deadline.after(10)
OFFERING = "offering.example:17070"
"""The offering controller's gateway, the peer of the consumer's half here."""
CONSUMING = "consuming.example:17070"
"""The consuming controller's gateway, the peer of the offerer's half here."""
PROXY = "remote-" + "ab" * 16


def side(
    application: str, name: str, role: str, *, remote: bool = False
) -> relations_pb2.RelationSide:
    return relations_pb2.RelationSide(
        application=application,
        remote=remote,
        endpoints=[relations_pb2.CandidateEndpoint(name=name, role=role, interface="mysql")],
    )


@pytest.fixture
def fakes() -> Fakes:
    """Two halves of two cross-controller relations, each with its peer elsewhere.

    `site` consumes `mysql` from the offering controller (token `c-1`); `prod` offers `mysql`
    to a consumer on the consuming controller (token `o-1`).
    """
    made = Fakes.new()
    site = made.placement.model("site", owner="bob")
    prod = made.placement.model("prod")
    made.offers.saas[(site.uuid, "mysql")] = offers_pb2.Saas(
        model_uuid=site.uuid,
        name="mysql",
        offer_uuid="their-offer",
        source_controller_uuid="offering-uuid",
        source_address=OFFERING,
        status="active",
    )
    made.relations.add_relation(
        relations_pb2.AddRelationRequest(
            model_uuid=site.uuid,
            a=side("wiki", "db", "requirer"),
            b=side("mysql", "db", "provider", remote=True),
            cross_model=relations_pb2.CrossModel(
                token="c-1",
                side=Half.CONSUMER,
                username="bob",
                source_model_uuid=site.uuid,
                peer_controller="offering-uuid",
                peer_address=OFFERING,
                peer_token="relation-token-from-peer",
            ),
        ),
        SOON,
    )
    made.offers.offers["o1"] = offers_pb2.Offer(
        uuid="o1", model_uuid=prod.uuid, name="mysql", application="mysql"
    )
    made.access.levels[("bob", "o1")] = "consume"
    made.relations.add_relation(
        relations_pb2.AddRelationRequest(
            model_uuid=prod.uuid,
            a=side(PROXY, "db", "requirer", remote=True),
            b=side("mysql", "db", "provider"),
            cross_model=relations_pb2.CrossModel(
                token="o-1",
                side=Half.OFFERER,
                offer_uuid="o1",
                username="bob",
                source_model_uuid="their-site",
                peer_controller="consuming-uuid",
                peer_address=CONSUMING,
                peer_token="callback-token-from-peer",
            ),
        ),
        SOON,
    )
    del made.journal.calls[:]
    return made


@pytest.fixture
def peers() -> FakePeerControllers:
    return FakePeerControllers()


@pytest.fixture
def offering(peers: FakePeerControllers) -> PeerGateway:
    """The consumer's half's peer: it answers that its half is there, live."""
    made = PeerGateway(uuid="offering-uuid")
    made.states["c-1"] = gateway_pb2.GetRemoteRelationResponse(
        exists=True, status="joined", application_status="active"
    )
    peers.gateways[OFFERING] = made
    return made


@pytest.fixture
def consuming(peers: FakePeerControllers) -> PeerGateway:
    """The offerer's half's peer: it answers that its half is there."""
    made = PeerGateway(uuid="consuming-uuid")
    made.states["o-1"] = gateway_pb2.GetRemoteRelationResponse(exists=True, status="joined")
    peers.gateways[CONSUMING] = made
    return made


@pytest.fixture
def reconciler(fakes: Fakes, peers: FakePeerControllers) -> Reconciler:
    return Reconciler(fakes.ports, peers)


def consumer_half(fakes: Fakes) -> relations_pb2.Relation | None:
    found = fakes.relations.halves("c-1")
    return found[0][1] if found else None


def offerer_half(fakes: Fakes) -> relations_pb2.Relation | None:
    found = fakes.relations.halves("o-1")
    return found[0][1] if found else None


def saas(fakes: Fakes) -> offers_pb2.Saas:
    return next(iter(fakes.offers.saas.values()))


# -- reconcile -----------------------------------------------------------------------------


def test_halves_whose_peers_answer_as_they_are_change_nothing(
    reconciler: Reconciler, fakes: Fakes, offering: PeerGateway, consuming: PeerGateway
) -> None:
    reconciler.reconcile(SOON)
    assert fakes.journal.writes() == [("relations", "mirror_remote_state")]  # nothing to mirror
    assert consumer_half(fakes) is not None
    assert offerer_half(fakes) is not None
    (asked,) = offering.asked(gateway_pb2.GetRemoteRelationRequest)
    assert (asked.credential, asked.token) == ("relation-token-from-peer", "c-1")
    (asked,) = consuming.asked(gateway_pb2.GetRemoteRelationRequest)
    assert (asked.credential, asked.token) == ("callback-token-from-peer", "o-1")


def test_a_peer_half_that_is_gone_removes_the_local_half(
    reconciler: Reconciler, fakes: Fakes, offering: PeerGateway, consuming: PeerGateway
) -> None:
    del offering.states["c-1"]
    reconciler.reconcile(SOON)
    assert consumer_half(fakes) is None
    assert offerer_half(fakes) is not None
    assert fakes.journal.writes() == [("relations", "remove_relation")]


def test_only_the_named_relation_is_reconciled(
    reconciler: Reconciler, fakes: Fakes, offering: PeerGateway, consuming: PeerGateway
) -> None:
    del offering.states["c-1"]
    del consuming.states["o-1"]
    reconciler.reconcile(SOON, "o-1")
    assert offering.requests == []
    assert consumer_half(fakes) is not None
    assert offerer_half(fakes) is None


def test_the_background_pass_spares_a_half_registered_moments_ago_a_nudge_does_not(
    reconciler: Reconciler, fakes: Fakes, offering: PeerGateway, consuming: PeerGateway
) -> None:
    del consuming.states["o-1"]  # its consumer has not written its half yet
    reconciler.registered("o-1")
    reconciler.reconcile(SOON, background=True)
    assert offerer_half(fakes) is not None
    reconciler.reconcile(SOON, "o-1")  # what a nudge does: definitive
    assert offerer_half(fakes) is None


def test_once_its_consumers_half_was_seen_a_registered_half_is_no_longer_spared(
    reconciler: Reconciler, fakes: Fakes, offering: PeerGateway, consuming: PeerGateway
) -> None:
    reconciler.registered("o-1")
    reconciler.reconcile(SOON, background=True)
    del consuming.states["o-1"]
    reconciler.reconcile(SOON, background=True)
    assert offerer_half(fakes) is None


def test_the_background_pass_removes_a_consumer_half_whose_offerer_half_is_gone(
    reconciler: Reconciler, fakes: Fakes, offering: PeerGateway, consuming: PeerGateway
) -> None:
    reconciler.registered("o-1")  # spares only the half registered here
    del offering.states["c-1"]
    reconciler.reconcile(SOON, background=True)
    assert consumer_half(fakes) is None


@pytest.mark.parametrize(
    "code", [grpc.StatusCode.PERMISSION_DENIED, grpc.StatusCode.UNAUTHENTICATED]
)
def test_a_refused_credential_on_the_consumer_side_mirrors_a_revoked_suspension(
    reconciler: Reconciler,
    fakes: Fakes,
    offering: PeerGateway,
    consuming: PeerGateway,
    code: grpc.StatusCode,
) -> None:
    offering.refusals["relation-token-from-peer"] = rpc_error(code, "permission denied")
    reconciler.reconcile(SOON)
    half = consumer_half(fakes)
    assert half is not None
    assert half.suspended
    assert half.suspend_cause == relations_pb2.SUSPEND_CAUSE_REVOKED
    assert (half.status, half.message) == ("suspended", REVOKED_MESSAGE)
    assert (saas(fakes).status, saas(fakes).status_message) == ("error", REVOKED_MESSAGE)


def test_a_renewal_refused_because_consume_was_revoked_is_a_revocation_too(
    reconciler: Reconciler, fakes: Fakes, offering: PeerGateway, consuming: PeerGateway
) -> None:
    offering.expired.add("relation-token-from-peer")
    offering.refusals["relation-token-from-peer"] = rpc_error(
        grpc.StatusCode.PERMISSION_DENIED, "permission denied"
    )
    reconciler.reconcile(SOON)
    half = consumer_half(fakes)
    assert half is not None
    assert half.suspend_cause == relations_pb2.SUSPEND_CAUSE_REVOKED
    assert saas(fakes).status == "error"
    assert ("relations", "set_peer_token") not in fakes.journal.calls


def test_a_refused_credential_on_the_offerer_side_changes_nothing_here(
    reconciler: Reconciler, fakes: Fakes, offering: PeerGateway, consuming: PeerGateway
) -> None:
    consuming.refusals["callback-token-from-peer"] = rpc_error(
        grpc.StatusCode.PERMISSION_DENIED, "permission denied"
    )
    reconciler.reconcile(SOON, "o-1")
    assert fakes.journal.writes() == []
    half = offerer_half(fakes)
    assert half is not None
    assert not half.suspended


def test_an_unreachable_offerer_puts_the_saas_in_error_and_keeps_the_half(
    reconciler: Reconciler, fakes: Fakes, offering: PeerGateway, consuming: PeerGateway
) -> None:
    offering.down = True
    reconciler.reconcile(SOON)
    assert consumer_half(fakes) is not None
    assert saas(fakes).status == "error"
    assert saas(fakes).status_message == (
        "cannot connect to external controller: failed to connect to all addresses"
    )
    assert fakes.journal.writes() == [("offers", "set_saas_status")]


def test_when_the_offerer_answers_again_the_saas_mirrors_its_application(
    reconciler: Reconciler, fakes: Fakes, offering: PeerGateway, consuming: PeerGateway
) -> None:
    offering.down = True
    reconciler.reconcile(SOON, "c-1")
    offering.down = False
    offering.states["c-1"].application_status = "blocked"
    reconciler.reconcile(SOON, "c-1")
    assert (saas(fakes).status, saas(fakes).status_message) == ("blocked", "")


def test_a_saas_already_showing_the_offerers_state_is_not_written(
    reconciler: Reconciler, fakes: Fakes, offering: PeerGateway, consuming: PeerGateway
) -> None:
    reconciler.reconcile(SOON, "c-1")
    assert ("offers", "set_saas_status") not in fakes.journal.calls


def test_an_unreachable_consumer_changes_nothing_on_the_offering_side(
    reconciler: Reconciler, fakes: Fakes, offering: PeerGateway, consuming: PeerGateway
) -> None:
    consuming.down = True
    reconciler.reconcile(SOON, "o-1")
    assert fakes.journal.writes() == []
    assert offerer_half(fakes) is not None


def test_the_offerers_suspension_is_mirrored_with_its_cause_then_its_resumption(
    reconciler: Reconciler, fakes: Fakes, offering: PeerGateway, consuming: PeerGateway
) -> None:
    state = offering.states["c-1"]
    state.suspended, state.reason = True, "maintenance"
    state.suspend_cause = relations_pb2.SUSPEND_CAUSE_USER
    reconciler.reconcile(SOON)
    half = consumer_half(fakes)
    assert half is not None
    assert (half.suspended, half.suspend_cause, half.message) == (
        True,
        relations_pb2.SUSPEND_CAUSE_USER,
        "maintenance",
    )
    state.suspended, state.reason = False, ""
    state.suspend_cause = relations_pb2.SUSPEND_CAUSE_UNSPECIFIED
    reconciler.reconcile(SOON)
    half = consumer_half(fakes)
    assert half is not None
    assert (half.suspended, half.status) == (False, "joined")


def test_an_expired_credential_is_renewed_and_kept_on_the_half(
    reconciler: Reconciler, fakes: Fakes, offering: PeerGateway, consuming: PeerGateway
) -> None:
    offering.expired.add("relation-token-from-peer")
    reconciler.reconcile(SOON, "c-1")
    assert [r.credential for r in offering.asked(gateway_pb2.GetRemoteRelationRequest)] == [
        "relation-token-from-peer",
        "renewed-relation-token-from-peer",
    ]
    half = consumer_half(fakes)
    assert half is not None
    assert half.cross_model.peer_token == "renewed-relation-token-from-peer"
    assert not half.suspended


def test_one_half_that_fails_does_not_stop_the_others(
    reconciler: Reconciler, fakes: Fakes, offering: PeerGateway, consuming: PeerGateway
) -> None:
    offering.refusals["relation-token-from-peer"] = rpc_error(
        grpc.StatusCode.INTERNAL, "GetRemoteRelation failed"
    )
    fakes.relations.failing["remove_relation"] = errors.Unavailable("relations is down")
    del offering.states["c-1"]
    del consuming.states["o-1"]
    reconciler.reconcile(SOON)
    assert consumer_half(fakes) is not None  # its peer failed: left as it is
    assert offerer_half(fakes) is not None  # its removal failed: the next pass tries again
    reconciler.reconcile(SOON, "o-1")
    assert offerer_half(fakes) is None


# -- verify --------------------------------------------------------------------------------


def issued(fakes: Fakes, kind: str, relation: str, offer_uuid: str = "o1") -> str:
    return fakes.access.issue_offer_token(
        access_pb2.IssueOfferTokenRequest(
            user="bob",
            offer_model_uuid="prod-uuid",
            offer_uuid=offer_uuid,
            source_model_uuid="their-site",
            kind=kind,
            relation=relation,
        ),
        SOON,
    ).token


def test_the_offerers_half_answers_only_the_relation_token_it_issued_for_it(
    reconciler: Reconciler, fakes: Fakes
) -> None:
    half = reconciler.verify(issued(fakes, "relation", "o-1"), "o-1", SOON)
    assert half is not None
    assert half.relation.cross_model.token == "o-1"
    with pytest.raises(errors.Forbidden, match="cannot be used as a relation token"):
        reconciler.verify(issued(fakes, "callback", "o-1"), "o-1", SOON)
    with pytest.raises(errors.Forbidden, match="another relation"):
        reconciler.verify(issued(fakes, "relation", "o-2"), "o-1", SOON)


def test_the_offerers_half_refuses_a_relation_token_whose_user_lost_consume(
    reconciler: Reconciler, fakes: Fakes
) -> None:
    token = issued(fakes, "relation", "o-1")
    fakes.access.levels[("bob", "o1")] = "read"
    with pytest.raises(errors.Forbidden, match=r"^permission denied$"):
        reconciler.verify(token, "o-1", SOON)


def test_the_consumers_half_answers_only_its_callback_token_for_the_saas_offer(
    reconciler: Reconciler, fakes: Fakes
) -> None:
    callback = issued(fakes, "callback", "c-1", offer_uuid="their-offer")
    half = reconciler.verify(callback, "c-1", SOON)
    assert half is not None
    assert half.relation.cross_model.side == Half.CONSUMER
    with pytest.raises(errors.Forbidden, match="another offer"):
        reconciler.verify(issued(fakes, "callback", "c-1"), "c-1", SOON)


def test_with_no_half_or_for_a_nudge_a_token_signed_here_is_enough(
    reconciler: Reconciler, fakes: Fakes
) -> None:
    callback = issued(fakes, "callback", "c-1", offer_uuid="their-offer")
    assert reconciler.verify(callback, "gone", SOON) is None
    half = reconciler.verify(callback, "o-1", SOON, authentic_only=True)
    assert half is not None
    assert half.relation.cross_model.token == "o-1"
    with pytest.raises(errors.Unauthenticated):
        reconciler.verify("forged", "gone", SOON)


# -- nudges --------------------------------------------------------------------------------


def test_a_command_that_changes_a_half_nudges_its_peer_only(
    reconciler: Reconciler, fakes: Fakes, offering: PeerGateway, consuming: PeerGateway
) -> None:
    with reconciler.nudging(SOON):
        half = offerer_half(fakes)
        assert half is not None
        half.suspended, half.status = True, "suspended"
    (nudged,) = consuming.asked(gateway_pb2.NudgeRequest)
    assert (nudged.credential, nudged.token) == ("callback-token-from-peer", "o-1")
    assert offering.requests == []


def test_a_command_that_removes_a_half_nudges_its_peer(
    reconciler: Reconciler, fakes: Fakes, offering: PeerGateway, consuming: PeerGateway
) -> None:
    with reconciler.nudging(SOON):
        fakes.relations.relations["uuid-bob-site"].clear()
    (nudged,) = offering.asked(gateway_pb2.NudgeRequest)
    assert (nudged.credential, nudged.token) == ("relation-token-from-peer", "c-1")
    assert consuming.requests == []


def test_a_command_that_leaves_the_halves_alone_nudges_nobody(
    reconciler: Reconciler, fakes: Fakes, offering: PeerGateway, consuming: PeerGateway
) -> None:
    with reconciler.nudging(SOON):
        pass
    assert offering.requests == consuming.requests == []


def test_a_nudge_to_an_unreachable_peer_is_not_an_error(
    reconciler: Reconciler, fakes: Fakes
) -> None:
    cross = relations_pb2.CrossModel(peer_address="nowhere:1", peer_token="t")
    reconciler.nudge(cross, "c-1")  # no gateway answers at nowhere:1


# -- what a peer asks of this controller ------------------------------------------------------


def test_a_peer_hears_the_offered_applications_status_with_the_half(
    reconciler: Reconciler, fakes: Fakes
) -> None:
    prod = next(m for m in fakes.placement.models.values() if m.name == "prod")
    fakes.placement.applications[(prod.uuid, "mysql")] = placement_pb2.Application(
        model_uuid=prod.uuid, name="mysql", status="active"
    )
    state = reconciler.state(issued(fakes, "relation", "o-1"), "o-1", SOON)
    assert (state.exists, state.status, state.application_status) == (True, "joined", "active")


def test_a_peer_hears_that_a_half_is_gone(reconciler: Reconciler, fakes: Fakes) -> None:
    token = issued(fakes, "relation", "o-gone")
    assert not reconciler.state(token, "o-gone", SOON).exists
