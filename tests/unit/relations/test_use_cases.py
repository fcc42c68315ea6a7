"""Relations use cases on the in-memory store: keys, ids, limits, duplicates, removal, events."""

from __future__ import annotations

from dataclasses import replace

import pytest

from kernel import errors
from kernel.relation import Role, Scope
from services.relations import domain
from services.relations.domain import CandidateEndpoint, Endpoint, RelationStatus, Side
from tests.unit.relations.fakes import InMemoryRelations

P, R, PEER = Role.PROVIDER, Role.REQUIRER, Role.PEER
M = "model-1"
JUJU_INFO = CandidateEndpoint(name="juju-info", role=P, interface="juju-info", implicit=True)
ENDPOINTS = {
    "mysql": (
        CandidateEndpoint(name="server", role=P, interface="mysql"),
        CandidateEndpoint(name="cluster", role=PEER, interface="mysql-ha"),
        JUJU_INFO,
    ),
    "wordpress": (
        CandidateEndpoint(name="db", role=R, interface="mysql", limit=1),
        CandidateEndpoint(name="website", role=P, interface="http"),
        CandidateEndpoint(name="logging-dir", role=P, interface="logging", scope=Scope.CONTAINER),
        JUJU_INFO,
    ),
    "logging": (
        CandidateEndpoint(name="info", role=R, interface="juju-info", scope=Scope.CONTAINER),
        CandidateEndpoint(
            name="logging-directory", role=R, interface="logging", scope=Scope.CONTAINER
        ),
        JUJU_INFO,
    ),
    "haproxy": (
        CandidateEndpoint(name="reverseproxy", role=R, interface="http", limit=2),
        JUJU_INFO,
    ),
}


def side(ref: str, *, remote: bool = False) -> Side:
    app, _, endpoint = ref.partition(":")
    charm = app.rstrip("0123456789")
    return Side(
        application=app,
        endpoint=endpoint,
        subordinate=charm == "logging",
        remote=remote,
        endpoints=ENDPOINTS[charm],
    )


def add(store: InMemoryRelations, a: str, b: str, *, dry_run: bool = False) -> domain.Added:
    return domain.add_relation(store, M, side(a), side(b), dry_run=dry_run)


@pytest.fixture
def store() -> InMemoryRelations:
    return InMemoryRelations()


def test_add_relation_stores_the_relation_and_its_event(store: InMemoryRelations) -> None:
    added = add(store, "mysql", "wordpress")
    relation = added.relation
    assert (relation.id, relation.key, relation.scope, relation.status) == (
        0,
        "wordpress:db mysql:server",
        Scope.GLOBAL,
        RelationStatus.JOINED,
    )
    assert relation.interface == "mysql"
    assert [str(e) for e in relation.endpoints] == ["wordpress:db", "mysql:server"]
    stored = store.get_relation(M, 0)
    assert stored is not None
    assert replace(stored, created_at="") == relation  # the store stamps when it was added
    assert added.sequence == 1
    assert store.state.events == [
        (
            "relation-added",
            M,
            "0",
            {
                "key": "wordpress:db mysql:server",
                "scope": "global",
                "interface": "mysql",
                "applications": "wordpress,mysql",
            },
        )
    ]
    assert "chosen" in [c.reason for c in added.candidates]


def test_a_container_end_makes_the_relation_container_scoped(store: InMemoryRelations) -> None:
    relation = add(store, "logging", "mysql").relation
    assert (relation.key, relation.scope) == ("logging:info mysql:juju-info", Scope.CONTAINER)
    assert [e.scope for e in relation.endpoints] == [Scope.CONTAINER, Scope.GLOBAL]
    relation = add(store, "wordpress", "logging").relation
    assert relation.key == "logging:logging-directory wordpress:logging-dir"
    assert store.state.events[-1][3]["applications"] == "logging,wordpress"


def test_ids_count_per_model_and_are_never_reused(store: InMemoryRelations) -> None:
    assert add(store, "wordpress", "mysql").relation.id == 0
    assert add(store, "logging", "mysql").relation.id == 1
    assert domain.add_relation(store, "other", side("wordpress"), side("mysql")).relation.id == 0
    domain.remove_relation(store, M, relation_id=1)
    assert add(store, "logging", "mysql").relation.id == 2


def test_a_dry_run_writes_nothing(store: InMemoryRelations) -> None:
    added = add(store, "wordpress", "mysql", dry_run=True)
    assert (added.relation.id, added.relation.key, added.sequence) == (
        -1,
        "wordpress:db mysql:server",
        0,
    )
    assert store.state.relations == {}
    assert store.state.events == []
    assert add(store, "wordpress", "mysql").relation.id == 0


def test_a_duplicate_relation_is_refused(store: InMemoryRelations) -> None:
    add(store, "wordpress", "mysql")
    for a, b in (("wordpress", "mysql"), ("mysql:server", "wordpress:db")):
        with pytest.raises(errors.AlreadyExists) as raised:
            add(store, a, b)
        assert str(raised.value) == (
            'cannot add relation "wordpress:db mysql:server": relation wordpress:db '
            "mysql:server already exists"
        )
    with pytest.raises(errors.AlreadyExists):
        add(store, "wordpress", "mysql", dry_run=True)
    assert len(store.state.relations) == 1
    assert len(store.state.events) == 1


def test_an_endpoint_limit_is_enforced(store: InMemoryRelations) -> None:
    add(store, "wordpress", "mysql")
    with pytest.raises(errors.Refused) as raised:
        add(store, "wordpress", "mysql2")
    assert str(raised.value) == (
        'cannot add relation "wordpress:db mysql2:server": establishing a new relation for '
        "wordpress:db would exceed its maximum relation limit of 1"
    )
    # the limit counts relations of that endpoint only, per application
    add(store, "wordpress2", "mysql2")
    add(store, "haproxy", "wordpress")
    add(store, "haproxy", "wordpress2")
    with pytest.raises(errors.Refused, match=r"maximum relation limit of 2$"):
        add(store, "haproxy", "wordpress3")
    assert store.count_endpoint_relations(M, "haproxy", "reverseproxy") == 2
    # removing a relation frees a place
    domain.remove_relation(store, M, ends=("haproxy", "wordpress2"))
    assert add(store, "haproxy", "wordpress3").relation.key == (
        "haproxy:reverseproxy wordpress3:website"
    )


def test_two_saas_applications_cannot_relate(store: InMemoryRelations) -> None:
    with pytest.raises(errors.Refused) as raised:
        domain.add_relation(store, M, side("wordpress", remote=True), side("mysql", remote=True))
    assert str(raised.value) == (
        'cannot add relation "wordpress:db mysql:server": cannot add relation between saas '
        'applications "wordpress" and "mysql"'
    )
    relation = domain.add_relation(store, M, side("wordpress"), side("mysql", remote=True))
    assert [e.remote for e in relation.relation.endpoints] == [False, True]


@pytest.mark.parametrize(
    ("model", "a", "b", "kind", "message"),
    [
        ("", "wordpress", "mysql", errors.Invalid, "model_uuid is required"),
        (M, ":db", "mysql", errors.Invalid, 'invalid endpoint ":db"'),
        (
            M,
            "wordpress",
            "mysql:nope",
            errors.NotFound,
            'application "mysql" has no "nope" relation',
        ),
        (M, "wordpress", "wordpress2", errors.Refused, "no relations found"),
    ],
)
def test_add_relation_refusals_change_nothing(
    store: InMemoryRelations,
    model: str,
    a: str,
    b: str,
    kind: type[errors.CmrError],
    message: str,
) -> None:
    first = side(a) if a[0] != ":" else Side(application="", endpoint="db")
    with pytest.raises(kind) as raised:
        domain.add_relation(store, model, first, side(b))
    assert str(raised.value) == message
    assert store.state.relations == {}
    assert store.state.events == []


def test_remove_relation_by_id(store: InMemoryRelations) -> None:
    add(store, "wordpress", "mysql")
    removed, seq = domain.remove_relation(store, M, relation_id=0)
    assert removed.key == "wordpress:db mysql:server"
    assert seq == 2
    assert store.state.events[-1] == (
        "relation-removed",
        M,
        "0",
        {"key": "wordpress:db mysql:server", "scope": "global", "applications": "wordpress,mysql"},
    )
    assert store.list_relations(M) == []
    with pytest.raises(errors.NotFound) as raised:
        domain.remove_relation(store, M, relation_id=0)
    assert str(raised.value) == "relation 0 not found"
    with pytest.raises(errors.Invalid) as invalid:
        domain.remove_relation(store, M, relation_id=-1)
    assert str(invalid.value) == 'relation ID "-1" not valid'


@pytest.mark.parametrize(
    "ends",
    [
        ("wordpress", "mysql"),
        ("mysql", "wordpress"),
        ("wordpress:db", "mysql"),
        ("mysql:server", "wordpress:db"),
    ],
)
def test_remove_relation_by_ends(store: InMemoryRelations, ends: tuple[str, str]) -> None:
    add(store, "wordpress", "mysql")
    add(store, "logging", "wordpress")
    removed, _ = domain.remove_relation(store, M, ends=ends)
    assert removed.key == "wordpress:db mysql:server"
    assert [r.key for r in store.list_relations(M)] == [
        "logging:logging-directory wordpress:logging-dir"
    ]


@pytest.mark.parametrize(
    ("ends", "kind", "message"),
    [
        (("wordpress", "mysql2"), errors.NotFound, 'relation "wordpress mysql2" not found'),
        (
            ("wordpress:website", "mysql"),
            errors.NotFound,
            'relation "wordpress:website mysql" not found',
        ),
        (("wordpress", "wordpress"), errors.NotFound, 'relation "wordpress wordpress" not found'),
        (
            ("logging", "wordpress"),
            errors.Refused,
            'ambiguous relation: "logging wordpress" could refer to "logging:info '
            'wordpress:juju-info"; "logging:logging-directory wordpress:logging-dir"',
        ),
        (("wordpress", ""), errors.Invalid, "a relation must involve two applications"),
        (("wordpress:", "mysql"), errors.Invalid, 'invalid endpoint "wordpress:"'),
        (("mysql:cluster", "mysql:cluster"), errors.Refused, "cannot remove a peer relation"),
    ],
)
def test_remove_relation_refusals_change_nothing(
    store: InMemoryRelations,
    ends: tuple[str, str],
    kind: type[errors.CmrError],
    message: str,
) -> None:
    add(store, "wordpress", "mysql")
    add(store, "logging", "wordpress")
    add(store, "logging:info", "wordpress:juju-info")
    _add_peer(store)
    before = (dict(store.state.relations), list(store.state.events))
    with pytest.raises(kind) as raised:
        domain.remove_relation(store, M, ends=ends)
    assert str(raised.value) == message
    assert (store.state.relations, store.state.events) == before


def _add_peer(store: InMemoryRelations) -> domain.Relation:
    ring = Endpoint(application="mysql", name="cluster", role=PEER, interface="mysql-ha")
    with store.transaction():
        relation = domain.Relation(
            model_uuid=M,
            id=store.next_relation_id(M),
            key="mysql:cluster",
            endpoints=(ring,),
            created_at="2024-05-01T12:00:00.000000Z",
        )
        store.add_relation(relation)
    return relation


def test_a_peer_relation_cannot_be_removed_by_id(store: InMemoryRelations) -> None:
    peer = _add_peer(store)
    with pytest.raises(errors.Refused, match=r"^cannot remove a peer relation$"):
        domain.remove_relation(store, M, relation_id=peer.id)
    assert store.get_relation(M, peer.id) == peer


def test_list_relations_by_id(store: InMemoryRelations) -> None:
    add(store, "wordpress", "mysql")
    add(store, "logging", "mysql")
    domain.add_relation(store, "other", side("haproxy"), side("wordpress"))
    assert [(r.id, r.key) for r in domain.list_relations(store, M)] == [
        (0, "wordpress:db mysql:server"),
        (1, "logging:info mysql:juju-info"),
    ]
    with pytest.raises(errors.Invalid, match=r"^model_uuid is required$"):
        domain.list_relations(store, "")


def test_remove_application_relations(store: InMemoryRelations) -> None:
    add(store, "wordpress", "mysql")
    add(store, "logging", "mysql")
    add(store, "logging", "wordpress")
    _add_peer(store)
    removed, seq = domain.remove_application_relations(store, M, "mysql")
    assert (removed, seq) == (3, 6)
    assert [e[2] for e in store.state.events[-3:]] == ["0", "1", "3"]
    assert {e[0] for e in store.state.events[-3:]} == {"relation-removed"}
    assert [r.key for r in store.list_relations(M)] == [
        "logging:logging-directory wordpress:logging-dir"
    ]
    assert domain.remove_application_relations(store, M, "mysql") == (0, 0)
    with pytest.raises(errors.Invalid, match=r"^application is required$"):
        domain.remove_application_relations(store, M, "")


def test_relation_keys_put_requirers_first() -> None:
    ends = [
        Endpoint(application="mysql", name="server", role=P, interface="mysql"),
        Endpoint(application="wordpress", name="db", role=R, interface="mysql"),
    ]
    assert domain.relation_key(ends) == "wordpress:db mysql:server"
    assert [str(e) for e in domain.in_key_order(ends)] == ["wordpress:db", "mysql:server"]


@pytest.mark.parametrize(
    ("parse", "text", "message"),
    [
        (domain.parse_role, "boss", 'unknown endpoint role "boss"'),
        (domain.parse_scope, "machine", 'unknown endpoint scope "machine"'),
    ],
)
def test_unknown_roles_and_scopes_are_invalid(parse: object, text: str, message: str) -> None:
    assert callable(parse)
    with pytest.raises(errors.Invalid) as raised:
        parse(text)
    assert str(raised.value) == message
    assert domain.parse_scope("") is Scope.GLOBAL


def test_peer_endpoints_get_their_relation_once(store: InMemoryRelations) -> None:
    made, seq = domain.add_peer_relations(store, M, side("mysql"))
    assert [(r.key, r.id, r.scope) for r in made] == [("mysql:cluster", 0, Scope.GLOBAL)]
    assert seq == len(store.state.events)
    again, seq = domain.add_peer_relations(store, M, side("mysql"))
    assert (again, seq) == ([], 0)
    # never removed by hand, but with the application
    with pytest.raises(errors.Refused, match="cannot remove a peer relation"):
        domain.remove_relation(store, M, relation_id=0)
    assert domain.remove_application_relations(store, M, "mysql")[0] == 1
    # an application without peers gets none
    assert domain.add_peer_relations(store, M, side("wordpress")) == ([], 0)
