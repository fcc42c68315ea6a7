"""Cross-model halves, suspend/resume, the revoke reactor and scope membership, in memory."""

from __future__ import annotations

import pytest

from kernel import errors
from kernel.relation import REVOKED_MESSAGE, Half, Role, Scope
from services.relations import domain
from services.relations.domain import (
    CandidateEndpoint,
    CrossModel,
    KnownUnit,
    Relation,
    RelationStatus,
    Side,
    SuspendCause,
)
from tests.unit.relations.fakes import InMemoryRelations

P, R = Role.PROVIDER, Role.REQUIRER
OFFERING, CONSUMING = "offering-model", "consuming-model"
MYSQL = (CandidateEndpoint(name="db", role=P, interface="mysql"),)
MEDIAWIKI = (CandidateEndpoint(name="db", role=R, interface="mysql"),)
PROXY = "remote-" + "a" * 32


def _pair(
    store: InMemoryRelations,
    token: str = "t1",  # noqa: S107 - a relation token, not a secret
    user: str = "bob",
) -> tuple[int, int]:
    """Both halves of one cross-model relation; returns (consumer id, offerer id).

    Token `t1` relates from CONSUMING; any other from a consuming model of its own.
    """
    consuming = CONSUMING if token == "t1" else f"{CONSUMING}-{token}"
    consumer = domain.add_relation(
        store,
        consuming,
        Side(application="mediawiki", endpoints=MEDIAWIKI),
        Side(application="mysql", remote=True, endpoints=MYSQL),
        cross=CrossModel(token=token, side=Half.CONSUMER, username=user),
    ).relation
    offerer = domain.add_relation(
        store,
        OFFERING,
        Side(application=PROXY + token[-1], endpoint="db", remote=True, endpoints=MEDIAWIKI),
        Side(application="mysql", endpoint="db", endpoints=MYSQL),
        cross=CrossModel(
            token=token,
            side=Half.OFFERER,
            offer_uuid="offer-1",
            username=user,
            source_model_uuid=consuming,
            subnets=("10.0.0.1/32",),
        ),
    ).relation
    return consumer.id, offerer.id


def _get(store: InMemoryRelations, model: str, relation_id: int) -> Relation:
    found = store.get_relation(model, relation_id)
    assert found is not None
    return found


@pytest.fixture
def store() -> InMemoryRelations:
    return InMemoryRelations()


def test_halves_share_a_token_and_only_the_offerer_names_the_offer(
    store: InMemoryRelations,
) -> None:
    consumer_id, offerer_id = _pair(store)
    consumer, offerer = _get(store, CONSUMING, consumer_id), _get(store, OFFERING, offerer_id)
    assert (consumer.token, offerer.token) == ("t1", "t1")
    assert (consumer.offer_uuid, offerer.offer_uuid) == ("", "offer-1")
    assert consumer.key == "mediawiki:db mysql:db"
    assert offerer.key == f"{PROXY}1:db mysql:db"
    assert offerer.consumer_application == PROXY + "1"
    assert offerer.offered_endpoint == "db"
    assert [r.id for r in domain.offer_relations(store, ["offer-1"])] == [offerer_id]
    added = [e for e in store.state.events if e[0] == "relation-added"]
    assert added[1][3]["offer-uuid"] == "offer-1"
    assert added[1][3]["side"] == "offerer"


@pytest.mark.parametrize(
    ("cross", "message"),
    [
        (CrossModel(token="", side="consumer"), "a cross-model relation needs a token"),
        (CrossModel(token="t", side="sideways"), 'cross-model side "sideways" not valid'),
        (CrossModel(token="t", side="offerer"), "needs an offer"),
        (
            CrossModel(token="t", side="consumer", status=RelationStatus.ERROR),
            'cannot set status "error" without info',
        ),
        (
            CrossModel(token="t", side="consumer", status=RelationStatus.SUSPENDED),
            'a new relation cannot start "suspended"',
        ),
    ],
)
def test_a_malformed_half_is_invalid_and_writes_nothing(
    store: InMemoryRelations, cross: CrossModel, message: str
) -> None:
    with pytest.raises(errors.Invalid, match=message):
        domain.add_relation(
            store,
            CONSUMING,
            Side(application="mediawiki", endpoints=MEDIAWIKI),
            Side(application="mysql", remote=True, endpoints=MYSQL),
            cross=cross,
        )
    assert store.state.relations == {}


def test_a_half_needs_exactly_one_remote_side(store: InMemoryRelations) -> None:
    with pytest.raises(errors.Invalid, match="must be remote"):
        domain.add_relation(
            store,
            CONSUMING,
            Side(application="mediawiki", endpoints=MEDIAWIKI),
            Side(application="mysql", endpoints=MYSQL),
            cross=CrossModel(token="t", side="consumer"),
        )


def test_an_error_half_keeps_its_message(store: InMemoryRelations) -> None:
    refused = "subnet 69.32.56.0/24 not in firewall whitelist"
    added = domain.add_relation(
        store,
        CONSUMING,
        Side(application="mediawiki", endpoints=MEDIAWIKI),
        Side(application="mysql", remote=True, endpoints=MYSQL),
        cross=CrossModel(token="t", side="consumer", status=RelationStatus.ERROR, message=refused),
    )
    assert (added.relation.status, added.relation.message) == (RelationStatus.ERROR, refused)


def test_removing_either_half_removes_both(store: InMemoryRelations) -> None:
    consumer_id, _ = _pair(store, "t1")
    _, second = _pair(store, "t2", user="carol")
    domain.remove_relation(store, CONSUMING, relation_id=consumer_id)
    assert [r.token for r in store.state.relations.values()] == ["t2", "t2"]
    domain.remove_relation(store, OFFERING, relation_id=second)
    assert store.state.relations == {}


def test_removing_the_saas_removes_every_half_once(store: InMemoryRelations) -> None:
    _pair(store, "t1")
    removed, _ = domain.remove_application_relations(store, CONSUMING, "mysql")
    assert removed == 1
    assert store.state.relations == {}


def test_suspend_runs_in_the_offering_model_on_both_halves(store: InMemoryRelations) -> None:
    consumer_id, offerer_id = _pair(store)
    with pytest.raises(errors.Refused) as refused:
        domain.suspend_relations(store, CONSUMING, [consumer_id])
    assert str(refused.value) == (
        'cannot set suspend status for "mediawiki:db mysql:db" which is not associated with an '
        "offer"
    )
    before = len(store.state.events)
    changed = domain.suspend_relations(store, OFFERING, [offerer_id], "maintenance")
    [after] = changed.relations
    assert (after.status, after.message, after.suspended) == (
        RelationStatus.SUSPENDED,
        "maintenance",
        True,
    )
    consumer = _get(store, CONSUMING, consumer_id)
    assert (consumer.status, consumer.message) == (RelationStatus.SUSPENDED, "maintenance")
    assert (after.suspend_cause, consumer.suspend_cause) == (SuspendCause.USER, SuspendCause.USER)
    kinds = [e[0] for e in store.state.events[before:]]
    assert kinds.count("relation-suspending") == 2
    assert kinds.count("relation-suspended") == 2
    assert kinds.index("relation-suspending") < kinds.index("relation-suspended")
    # again: a no-op
    assert domain.suspend_relations(store, OFFERING, [offerer_id]).sequence == 0


def test_suspend_without_a_reason_tells_the_consumer_it_came_from_the_offerer(
    store: InMemoryRelations,
) -> None:
    consumer_id, offerer_id = _pair(store)
    domain.suspend_relations(store, OFFERING, [offerer_id])
    assert _get(store, CONSUMING, consumer_id).message == domain.FROM_REMOTE
    assert _get(store, OFFERING, offerer_id).message == ""


def test_resume_clears_the_reason_on_both_halves(store: InMemoryRelations) -> None:
    consumer_id, offerer_id = _pair(store)
    assert domain.resume_relations(store, OFFERING, [offerer_id]).sequence == 0  # not suspended
    domain.suspend_relations(store, OFFERING, [offerer_id], "maintenance")
    before = len(store.state.events)
    domain.resume_relations(store, OFFERING, [offerer_id])
    for model, rid in ((CONSUMING, consumer_id), (OFFERING, offerer_id)):
        got = _get(store, model, rid)
        assert (got.status, got.message, got.suspended) == (RelationStatus.JOINED, "", False)
        assert (got.suspended_reason, got.suspend_cause) == ("", None)
    kinds = [e[0] for e in store.state.events[before:]]
    assert kinds == ["relation-resuming", "relation-resumed"] * 2


@pytest.mark.parametrize(
    ("ids", "kind", "message"),
    [
        ([], errors.Invalid, "no relation ids specified"),
        ([-1], errors.Invalid, 'relation ID "-1" not valid'),
        ([99], errors.NotFound, "relation 99 not found"),
    ],
)
def test_suspend_and_resume_check_every_id_first(
    store: InMemoryRelations, ids: list[int], kind: type[Exception], message: str
) -> None:
    _, offerer_id = _pair(store)
    for use_case in (domain.suspend_relations, domain.resume_relations):
        with pytest.raises(kind, match=message):
            use_case(store, OFFERING, [offerer_id, *ids] if ids else [])
    assert not _get(store, OFFERING, offerer_id).suspended


def _revoke(user: str, effective: str, offer: str = "offer-1") -> dict[str, str]:
    return {
        "user": user,
        "level": "consume",
        "previous": "consume",
        "target-kind": "offer",
        "offer-uuid": offer,
        "effective": effective,
    }


def test_revoking_consume_suspends_only_that_users_relations_to_that_offer(
    store: InMemoryRelations,
) -> None:
    _, bobs = _pair(store, "t1", user="bob")
    _, carols = _pair(store, "t2", user="carol")
    applied = domain.apply_access_event(
        store, "access", 5, "access-revoked", _revoke("bob", "read")
    )
    assert applied == 1
    bob = _get(store, OFFERING, bobs)
    assert (bob.status, bob.suspended_reason) == (RelationStatus.SUSPENDED, REVOKED_MESSAGE)
    assert bob.suspend_cause is SuspendCause.REVOKED
    assert not _get(store, OFFERING, carols).suspended
    assert store.cursor("access") == 5
    # replayed: nothing happens twice
    assert domain.apply_access_event(store, "access", 5, "access-revoked", _revoke("bob", "")) == 0
    # a grant resumes nothing
    domain.apply_access_event(store, "access", 6, "access-granted", _revoke("bob", "consume"))
    assert _get(store, OFFERING, bobs).suspended


@pytest.mark.parametrize(
    "attributes",
    [
        _revoke("bob", "consume"),  # admin -> consume: still consumes
        _revoke("bob", "admin"),  # an implicit admin keeps everything
        _revoke("bob", "", offer="offer-2"),  # another offer
        {**_revoke("bob", ""), "target-kind": "model"},
        {**_revoke("bob", ""), "level": "", "previous": "read"},  # read -> nothing
    ],
)
def test_other_revokes_suspend_nothing(
    store: InMemoryRelations, attributes: dict[str, str]
) -> None:
    _, bobs = _pair(store)
    assert domain.apply_access_event(store, "access", 1, "access-revoked", attributes) == 0
    assert not _get(store, OFFERING, bobs).suspended
    assert store.cursor("access") == 1


def _unit(name: str, machine: str = "0", principal: str = "") -> dict[str, str]:
    return {"application": name.split("/")[0], "machine": machine, "principal": principal}


def test_units_enter_and_leave_the_scope_of_global_relations(store: InMemoryRelations) -> None:
    consumer_id, offerer_id = _pair(store)
    domain.apply_placement_event(
        store, "placement", 1, "unit-added", CONSUMING, "mediawiki/0", _unit("mediawiki/0")
    )
    domain.apply_placement_event(
        store, "placement", 2, "unit-added", OFFERING, "mysql/0", _unit("mysql/0")
    )
    assert store.in_scope(CONSUMING, consumer_id) == ["mediawiki/0"]
    assert store.in_scope(OFFERING, offerer_id) == ["mysql/0"]
    entered = [e for e in store.state.events if e[0] == "unit-entered-scope"]
    assert [(e[2], e[3]["relation-id"]) for e in entered] == [
        ("mediawiki/0", str(consumer_id)),
        ("mysql/0", str(offerer_id)),
    ]
    # suspension empties both scopes; resume fills them again
    domain.suspend_relations(store, OFFERING, [offerer_id])
    assert store.in_scope(CONSUMING, consumer_id) == []
    assert store.in_scope(OFFERING, offerer_id) == []
    domain.resume_relations(store, OFFERING, [offerer_id])
    assert store.in_scope(OFFERING, offerer_id) == ["mysql/0"]
    domain.apply_placement_event(
        store, "placement", 3, "unit-removed", OFFERING, "mysql/0", _unit("mysql/0")
    )
    assert store.in_scope(OFFERING, offerer_id) == []
    assert store.state.events[-1][0] == "unit-left-scope"
    assert store.cursor("placement") == 3


def test_a_new_relation_takes_in_the_units_already_known(store: InMemoryRelations) -> None:
    domain.apply_placement_event(
        store, "placement", 1, "unit-added", CONSUMING, "mediawiki/0", _unit("mediawiki/0")
    )
    consumer_id, _ = _pair(store)
    assert store.in_scope(CONSUMING, consumer_id) == ["mediawiki/0"]


def test_container_scope_pairs_units_in_one_container_only() -> None:
    relation = Relation(
        model_uuid="m",
        id=0,
        key="logging:info mysql:juju-info",
        endpoints=(
            domain.Endpoint(
                application="logging",
                name="info",
                role=R,
                interface="juju-info",
                scope=Scope.CONTAINER,
            ),
            domain.Endpoint(application="mysql", name="juju-info", role=P, interface="juju-info"),
        ),
        scope=Scope.CONTAINER,
    )
    units = [
        KnownUnit(model_uuid="m", name="mysql/0", application="mysql", machine="0"),
        KnownUnit(model_uuid="m", name="mysql/1", application="mysql", machine="1"),
        KnownUnit(model_uuid="m", name="logging/0", application="logging", principal="mysql/0"),
        KnownUnit(
            model_uuid="m", name="logging/1", application="logging", principal="wordpress/0"
        ),
    ]
    members = [u.name for u in domain.scope_members(relation, units)]
    assert members == ["mysql/0", "logging/0"]


def test_an_id_given_twice_is_suspended_and_resumed_once(store: InMemoryRelations) -> None:
    _, offerer_id = _pair(store)
    changed = domain.suspend_relations(store, OFFERING, [offerer_id, offerer_id])
    assert [r.id for r in changed.relations] == [offerer_id, offerer_id]
    assert changed.relations[0] == _get(store, OFFERING, offerer_id)  # the state stored
    assert changed.relations[0].suspended
    kinds = [e[0] for e in store.state.events]
    assert kinds.count("relation-suspended") == 2  # one per half, not per id given
    resumed = domain.resume_relations(store, OFFERING, [offerer_id, offerer_id])
    assert [(r.status, r.suspended) for r in resumed.relations] == [
        (RelationStatus.JOINED, False)
    ] * 2
    assert [e[0] for e in store.state.events].count("relation-resumed") == 2
    # the reply is the state stored
    assert resumed.relations[0] == _get(store, OFFERING, offerer_id)


def test_a_revoke_marks_both_halves_revoked_and_resume_clears_it(
    store: InMemoryRelations,
) -> None:
    consumer_id, offerer_id = _pair(store)
    domain.apply_access_event(store, "access", 1, "access-revoked", _revoke("bob", "read"))
    for model, rid in ((CONSUMING, consumer_id), (OFFERING, offerer_id)):
        got = _get(store, model, rid)
        assert (got.suspend_cause, got.message) == (SuspendCause.REVOKED, REVOKED_MESSAGE)
    domain.resume_relations(store, OFFERING, [offerer_id])
    for model, rid in ((CONSUMING, consumer_id), (OFFERING, offerer_id)):
        assert _get(store, model, rid).suspend_cause is None


def _remote_consumer_half(store: InMemoryRelations) -> int:
    """The consumer's half of a relation whose offerer is on another controller."""
    return domain.add_relation(
        store,
        CONSUMING,
        Side(application="mediawiki", endpoints=MEDIAWIKI),
        Side(application="mysql", remote=True, endpoints=MYSQL),
        cross=CrossModel(
            token="t9",
            side=Half.CONSUMER,
            username="bob",
            peer_controller="ctrl-2",
            peer_address="10.1.1.1:17070",
            peer_token="credential",
        ),
    ).relation.id


@pytest.mark.parametrize(
    ("cause", "recorded"),
    [
        (SuspendCause.REVOKED, SuspendCause.REVOKED),
        (SuspendCause.USER, SuspendCause.USER),
        (None, SuspendCause.REMOTE),  # the offerer did not say why
    ],
)
def test_a_mirrored_suspension_records_the_offerers_cause(
    store: InMemoryRelations, cause: SuspendCause | None, recorded: SuspendCause
) -> None:
    rid = _remote_consumer_half(store)
    assert domain.mirror_remote_state(store, "t9", True, "why", cause) > 0
    got = _get(store, CONSUMING, rid)
    assert (got.status, got.message, got.suspend_cause) == (
        RelationStatus.SUSPENDED,
        "why",
        recorded,
    )
    # the same state again changes nothing
    assert domain.mirror_remote_state(store, "t9", True, "why", cause) == 0
    domain.mirror_remote_state(store, "t9", False, "")
    got = _get(store, CONSUMING, rid)
    assert (got.suspended, got.suspended_reason, got.suspend_cause) == (False, "", None)


def test_a_mirrored_suspension_follows_a_new_cause_with_the_same_message(
    store: InMemoryRelations,
) -> None:
    rid = _remote_consumer_half(store)
    domain.mirror_remote_state(store, "t9", True, REVOKED_MESSAGE, SuspendCause.USER)
    assert domain.mirror_remote_state(store, "t9", True, REVOKED_MESSAGE, SuspendCause.REVOKED)
    assert _get(store, CONSUMING, rid).suspend_cause is SuspendCause.REVOKED
