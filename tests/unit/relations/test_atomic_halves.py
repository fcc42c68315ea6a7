"""Both halves of a cross-model relation in one transaction: both, with their events, or none."""

from __future__ import annotations

import copy
from collections.abc import Callable, Mapping
from dataclasses import replace
from typing import Any

import pytest

from kernel import errors
from kernel.relation import Half, Role, Scope
from services.relations import domain
from services.relations.domain import (
    CandidateEndpoint,
    CrossModel,
    KnownUnit,
    NewHalf,
    Relation,
    RelationStatus,
    Side,
)
from tests.unit.relations.fakes import InMemoryRelations

P, R = Role.PROVIDER, Role.REQUIRER
OFFERING, CONSUMING = "offering-model", "consuming-model"
PROXY = "remote-" + "a" * 32
DB = CandidateEndpoint(name="db", role=P, interface="mysql")
WIKI_DB = CandidateEndpoint(name="db", role=R, interface="mysql")


class Recording(InMemoryRelations):
    """Records every write, so that a refusal can be told from a write that was undone."""

    def __init__(self) -> None:
        super().__init__()
        self.writes: list[str] = []

    def next_relation_id(self, model_uuid: str) -> int:
        self.writes.append(f"next_relation_id {model_uuid}")
        return super().next_relation_id(model_uuid)

    def add_relation(self, relation: Relation) -> None:
        self.writes.append(f"add_relation {relation.key}")
        super().add_relation(relation)

    def append_event(
        self,
        kind: str,
        *,
        model_uuid: str = "",
        entity: str = "",
        attributes: Mapping[str, str] | None = None,
    ) -> int:
        self.writes.append(kind)
        return super().append_event(
            kind, model_uuid=model_uuid, entity=entity, attributes=attributes
        )


def halves(
    token: str = "t1",  # noqa: S107 - a relation token, not a secret
    *,
    consuming: str = CONSUMING,
    offering: str = OFFERING,
    saas: str = "mysql",
    local: tuple[CandidateEndpoint, ...] = (WIKI_DB,),
    local_endpoint: str = "",
    offered: tuple[CandidateEndpoint, ...] = (DB,),
    offered_endpoint: str = "db",
    proxy: str = PROXY,
    proxy_endpoint: str = "db",
    refused: str = "",
) -> tuple[NewHalf, NewHalf]:
    """The consumer's half (mediawiki ⇄ SAAS) and the offerer's (proxy ⇄ mysql), as the gateway
    builds them from the consumer's choice of endpoints."""
    status = RelationStatus.ERROR if refused else RelationStatus.JOINED
    consumer = NewHalf(
        model_uuid=consuming,
        a=Side(application="mediawiki", endpoint=local_endpoint, endpoints=local),
        b=Side(application=saas, remote=True, endpoints=(DB,)),
        cross=CrossModel(
            token=token,
            side=Half.CONSUMER,
            username="bob",
            source_model_uuid=consuming,
            subnets=("10.0.0.1/32",),
            status=status,
            message=refused,
        ),
    )
    offerer = NewHalf(
        model_uuid=offering,
        a=Side(
            application=proxy,
            endpoint=proxy_endpoint,
            remote=True,
            endpoints=(replace(WIKI_DB, name=proxy_endpoint),),
        ),
        b=Side(application="mysql", endpoint=offered_endpoint, endpoints=offered),
        cross=CrossModel(
            token=token,
            side=Half.OFFERER,
            offer_uuid="offer-1",
            username="bob",
            source_model_uuid=consuming,
            subnets=("10.0.0.1/32",),
            status=status,
            message=refused,
        ),
    )
    return consumer, offerer


def add(store: InMemoryRelations, pair: tuple[NewHalf, NewHalf]) -> domain.AddedHalves:
    return domain.add_cross_model_relation(store, *pair)


@pytest.fixture
def store() -> Recording:
    return Recording()


def test_both_halves_are_written_with_their_events(store: Recording) -> None:
    added = add(store, halves())
    consumer, offerer = added.consumer, added.offerer
    assert (consumer.model_uuid, consumer.key, consumer.side, consumer.token) == (
        CONSUMING,
        "mediawiki:db mysql:db",
        Half.CONSUMER,
        "t1",
    )
    assert (offerer.model_uuid, offerer.key, offerer.side, offerer.token) == (
        OFFERING,
        f"{PROXY}:db mysql:db",
        Half.OFFERER,
        "t1",
    )
    # only the offerer's half names the offer and carries the connection
    assert (consumer.offer_uuid, offerer.offer_uuid) == ("", "offer-1")
    assert (offerer.username, offerer.source_model_uuid) == ("bob", CONSUMING)
    assert offerer.subnets == ("10.0.0.1/32",)
    assert (consumer.status, offerer.status) == (RelationStatus.JOINED, RelationStatus.JOINED)
    # the store stamps when each was added
    stored = (store.get_relation(CONSUMING, consumer.id), store.get_relation(OFFERING, offerer.id))
    assert [replace(r, created_at="") if r else None for r in stored] == [consumer, offerer]
    assert [(e[0], e[1], e[2], e[3]["side"], e[3]["key"]) for e in store.state.events] == [
        ("relation-added", CONSUMING, str(consumer.id), "consumer", consumer.key),
        ("relation-added", OFFERING, str(offerer.id), "offerer", offerer.key),
    ]
    assert store.state.events[1][3]["offer-uuid"] == "offer-1"
    assert added.sequence == len(store.state.events)


def test_known_units_enter_the_scope_of_both_halves(store: Recording) -> None:
    with store.transaction():
        store.put_unit(
            KnownUnit(model_uuid=CONSUMING, name="mediawiki/0", application="mediawiki")
        )
        store.put_unit(KnownUnit(model_uuid=OFFERING, name="mysql/0", application="mysql"))
    added = add(store, halves())
    assert store.in_scope(CONSUMING, added.consumer.id) == ["mediawiki/0"]
    assert store.in_scope(OFFERING, added.offerer.id) == ["mysql/0"]
    assert [(e[0], e[1]) for e in store.state.events] == [
        ("relation-added", CONSUMING),
        ("unit-entered-scope", CONSUMING),
        ("relation-added", OFFERING),
        ("unit-entered-scope", OFFERING),
    ]
    assert added.sequence == 4


def test_a_refused_ingress_starts_both_halves_in_error(store: Recording) -> None:
    refused = "subnet 10.0.0.1/32 not in firewall whitelist"
    added = add(store, halves(refused=refused))
    for half in (added.consumer, added.offerer):
        assert (half.status, half.message) == (RelationStatus.ERROR, refused)


def test_a_model_may_consume_its_own_offer(store: Recording) -> None:
    added = add(store, halves(consuming=OFFERING, saas="db2"))
    assert (added.consumer.model_uuid, added.offerer.model_uuid) == (OFFERING, OFFERING)
    assert [r.key for r in store.list_relations(OFFERING)] == [
        "mediawiki:db db2:db",
        f"{PROXY}:db mysql:db",
    ]
    assert (added.consumer.id, added.offerer.id) == (0, 1)


def _nothing(store: Recording) -> None:
    """No relation before the refused one."""


def _first_pair_through_another_saas(store: Recording) -> None:
    """The same consuming application related through another SAAS of the same offer: the proxy
    and the offered endpoint are the same, so the offerer's half exists already."""
    add(store, halves("t0", saas="mysql-b"))


def _offered_endpoint_in_use(store: Recording) -> None:
    """Another consumer's relation on mysql:db."""
    add(
        store,
        halves(
            "t0",
            consuming="other-consumer",
            proxy="remote-" + "b" * 32,
            offered=(replace(DB, limit=1),),
        ),
    )


def _same_relation(store: Recording) -> None:
    add(store, halves("t0"))


def _token_taken(store: Recording) -> None:
    add(store, halves("t1", consuming="other-consumer"))


@pytest.mark.parametrize(
    ("before", "pair", "kind", "message"),
    [
        (
            _nothing,
            halves(offered=(replace(DB, interface="pgsql"),)),
            errors.Refused,
            "no relations found",
        ),
        (
            _nothing,
            halves(offered_endpoint="nope"),
            errors.NotFound,
            'application "mysql" has no "nope" relation',
        ),
        (
            _nothing,
            halves(offered=(replace(DB, scope=Scope.CONTAINER),)),
            errors.Refused,
            f'cannot add relation "{PROXY}:db mysql:db": local endpoint must be globally scoped '
            "for remote relations",
        ),
        (
            _first_pair_through_another_saas,
            halves(),
            errors.AlreadyExists,
            f'cannot add relation "{PROXY}:db mysql:db": relation {PROXY}:db mysql:db already '
            "exists",
        ),
        (
            _offered_endpoint_in_use,
            halves(offered=(replace(DB, limit=1),)),
            errors.Refused,
            f'cannot add relation "{PROXY}:db mysql:db": establishing a new relation for '
            "mysql:db would exceed its maximum relation limit of 1",
        ),
        (
            _first_pair_through_another_saas,
            halves(local=(replace(WIKI_DB, limit=1),)),
            errors.Refused,
            'cannot add relation "mediawiki:db mysql:db": establishing a new relation for '
            "mediawiki:db would exceed its maximum relation limit of 1",
        ),
        (
            _same_relation,
            halves(),
            errors.AlreadyExists,
            'cannot add relation "mediawiki:db mysql:db": relation mediawiki:db mysql:db already '
            "exists",
        ),
        (
            _token_taken,
            halves(),
            errors.AlreadyExists,
            'cannot add relation "mediawiki:db mysql:db": its token is taken by another '
            "cross-model relation",
        ),
    ],
)
def test_a_refusal_of_either_half_is_decided_before_anything_is_written(
    store: Recording,
    before: Callable[[Recording], None],
    pair: tuple[NewHalf, NewHalf],
    kind: type[Exception],
    message: str,
) -> None:
    before(store)
    state = copy.deepcopy(store.state)
    store.writes.clear()
    with pytest.raises(kind) as refused:
        add(store, pair)
    assert str(refused.value) == message
    assert store.writes == []
    assert store.state == state


class FailsOnOfferersHalf(Recording):
    """A store that breaks down while writing the offerer's half, after the consumer's."""

    def add_relation(self, relation: Relation) -> None:
        if relation.side == Half.OFFERER:
            raise OSError("disk I/O error")
        super().add_relation(relation)


def test_a_failure_while_writing_the_offerers_half_undoes_the_consumers() -> None:
    store = FailsOnOfferersHalf()
    with pytest.raises(OSError, match="disk I/O error"):
        add(store, halves())
    assert "add_relation mediawiki:db mysql:db" in store.writes  # written, then rolled back
    assert store.state.relations == {}
    assert store.state.events == []
    assert store.state.counters == {}


def _swapped() -> tuple[NewHalf, NewHalf]:
    consumer, offerer = halves()
    return offerer, consumer


def _with_cross(*which: int, **changes: Any) -> tuple[NewHalf, NewHalf]:
    pair = list(halves())
    for i in which:
        pair[i] = replace(pair[i], cross=replace(pair[i].cross, **changes))
    return pair[0], pair[1]


TWO_DB = (WIKI_DB, replace(WIKI_DB, name="db2"))
TWO_OFFERED = (DB, replace(DB, name="admin"))


@pytest.mark.parametrize(
    ("pair", "message"),
    [
        (_swapped(), "needs the consumer's half and the offerer's half"),
        (_with_cross(1, side=Half.CONSUMER), "needs the consumer's half and the offerer's half"),
        (_with_cross(1, token="t2"), "must share one token"),
        (_with_cross(0, peer_controller="ctrl-2-uuid"), "neither may name a peer controller"),
        (_with_cross(1, peer_token="credential"), "neither may name a peer controller"),
        (_with_cross(1, source_model_uuid="elsewhere"), "as the consuming model"),
        (
            _with_cross(0, status=RelationStatus.ERROR, message="refused"),
            "must start in one status",
        ),
        (_with_cross(1, offer_uuid=""), "the offerer's half of a cross-model relation needs"),
        (_with_cross(0, 1, token=""), "a cross-model relation needs a token"),
        (_with_cross(0, 1, status=RelationStatus.SUSPENDED), 'cannot start "suspended"'),
        (
            halves(local=TWO_DB, local_endpoint="db2"),
            f'the halves relate different endpoints: "mediawiki:db2 mysql:db" and '
            f'"{PROXY}:db mysql:db"',
        ),
        (
            halves(offered=TWO_OFFERED, offered_endpoint="admin"),
            f'the halves relate different endpoints: "mediawiki:db mysql:db" and '
            f'"{PROXY}:db mysql:admin"',
        ),
    ],
)
def test_halves_that_do_not_make_one_relation_are_invalid(
    store: Recording, pair: tuple[NewHalf, NewHalf], message: str
) -> None:
    with pytest.raises(errors.Invalid, match=message):
        add(store, pair)
    assert store.writes == []
    assert store.state.relations == {}


def test_halves_in_one_model_are_checked_as_if_the_other_were_written(
    store: Recording,
) -> None:
    """Whatever the sides claim, one transaction never writes past a limit or a key."""
    limited = CandidateEndpoint(name="db", role=R, interface="mysql", limit=1)
    consumer, offerer = halves(consuming=OFFERING, local=(limited,))
    # the offered application claims the consumer's local endpoint, with the same limit
    offerer = replace(
        offerer,
        b=Side(application="mediawiki", endpoint="db", endpoints=(replace(DB, limit=1),)),
    )
    with pytest.raises(errors.Refused, match="mediawiki:db would exceed its maximum relation"):
        domain.add_cross_model_relation(store, consumer, offerer)
    assert store.writes == []
