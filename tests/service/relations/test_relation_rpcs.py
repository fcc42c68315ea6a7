"""AddRelation, RemoveRelation, ListRelations, RemoveApplicationRelations on port 0."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import grpc
import pytest

from cmr.relations.v1 import relations_pb2 as pb
from cmr.relations.v1 import relations_pb2_grpc
from services.common import config
from services.relations.server import build_server

TIMEOUT = 10
M = "model-1"


@pytest.fixture
def stub(tmp_path: Path) -> Iterator[relations_pb2_grpc.RelationServiceStub]:
    cfg = config.Config(data_dir=tmp_path, ports={**config.DEFAULT_PORTS, "relations": 0})
    built = build_server(cfg)
    built.start()
    try:
        with grpc.insecure_channel(f"127.0.0.1:{built.port}") as channel:
            yield relations_pb2_grpc.RelationServiceStub(channel)
    finally:
        built.stop(None)


def _ep(
    name: str, role: str, interface: str, scope: str = "global", limit: int = 0
) -> pb.CandidateEndpoint:
    return pb.CandidateEndpoint(
        name=name, role=role, interface=interface, scope=scope, limit=limit
    )


JUJU_INFO = pb.CandidateEndpoint(
    name="juju-info", role="provider", interface="juju-info", scope="global", implicit=True
)
CHARMS = {
    "mysql": (False, [_ep("db", "provider", "mysql"), _ep("cluster", "peer", "mysql-ha")]),
    "wordpress": (
        False,
        [
            _ep("db", "requirer", "mysql", limit=1),
            _ep("website", "provider", "http"),
            _ep("logging-dir", "provider", "logging", "container"),
        ],
    ),
    "logging": (
        True,
        [
            _ep("logging-client", "provider", "logging"),
            _ep("info", "requirer", "juju-info", "container"),
            _ep("logging-directory", "requirer", "logging", "container"),
        ],
    ),
}


def side(ref: str, *, remote: bool = False) -> pb.RelationSide:
    app, _, endpoint = ref.partition(":")
    subordinate, endpoints = CHARMS[app.rstrip("0123456789")]
    return pb.RelationSide(
        application=app,
        endpoint=endpoint,
        subordinate=subordinate,
        remote=remote,
        endpoints=[*endpoints, JUJU_INFO],
    )


def add(
    stub: relations_pb2_grpc.RelationServiceStub, a: str, b: str, *, dry_run: bool = False
) -> pb.AddRelationResponse:
    return stub.AddRelation(
        pb.AddRelationRequest(model_uuid=M, a=side(a), b=side(b), dry_run=dry_run),
        timeout=TIMEOUT,
    )


def listed(stub: relations_pb2_grpc.RelationServiceStub) -> list[tuple[int, str]]:
    reply = stub.ListRelations(pb.ListRelationsRequest(model_uuid=M), timeout=TIMEOUT)
    return [(r.id, r.key) for r in reply.relations]


def failure(call: object, request: object) -> tuple[grpc.StatusCode, str]:
    assert callable(call)
    with pytest.raises(grpc.RpcError) as raised:
        call(request, timeout=TIMEOUT)
    err = raised.value
    assert isinstance(err, grpc.Call)
    return err.code(), err.details() or ""


def test_add_relation_returns_the_relation_and_lists_it(
    stub: relations_pb2_grpc.RelationServiceStub,
) -> None:
    reply = add(stub, "mysql", "wordpress")
    relation = reply.relation
    assert (relation.id, relation.key, relation.scope, relation.status, relation.interface) == (
        0,
        "wordpress:db mysql:db",
        "global",
        "joined",
        "mysql",
    )
    assert [(e.application, e.name, e.role, e.interface, e.scope) for e in relation.endpoints] == [
        ("wordpress", "db", "requirer", "mysql", "global"),
        ("mysql", "db", "provider", "mysql", "global"),
    ]
    assert reply.sequence == 1
    assert ("mysql:db wordpress:db", True, "chosen") in [
        (c.pair, c.accepted, c.reason) for c in reply.candidates
    ]
    container = add(stub, "logging", "wordpress").relation
    assert (container.id, container.key, container.scope) == (
        1,
        "logging:logging-directory wordpress:logging-dir",
        "container",
    )
    assert [e.scope for e in container.endpoints] == ["container", "container"]
    fallback = add(stub, "logging", "mysql").relation
    assert (fallback.key, [e.scope for e in fallback.endpoints]) == (
        "logging:info mysql:juju-info",
        ["container", "global"],
    )
    listed_reply = stub.ListRelations(pb.ListRelationsRequest(model_uuid=M), timeout=TIMEOUT)
    assert list(listed_reply.relations) == [relation, container, fallback]
    other = stub.ListRelations(pb.ListRelationsRequest(model_uuid="model-2"), timeout=TIMEOUT)
    assert list(other.relations) == []
    # only the ids asked for, in that order, each once; an id not in the model is left out
    some = stub.ListRelations(
        pb.ListRelationsRequest(model_uuid=M, ids=[2, 0, 2, 99, -1]), timeout=TIMEOUT
    )
    assert list(some.relations) == [fallback, relation]


def test_a_dry_run_explains_and_writes_nothing(
    stub: relations_pb2_grpc.RelationServiceStub,
) -> None:
    reply = add(stub, "logging", "wordpress", dry_run=True)
    assert (reply.relation.id, reply.relation.key, reply.sequence) == (
        -1,
        "logging:logging-directory wordpress:logging-dir",
        0,
    )
    verdicts = {c.pair: (c.accepted, c.reason) for c in reply.candidates}
    assert verdicts["logging:info wordpress:juju-info"] == (
        True,
        "uses the implicit juju-info endpoint; an explicit pair exists",
    )
    assert verdicts["logging:logging-client wordpress:website"] == (
        False,
        "interfaces differ: logging vs http",
    )
    assert listed(stub) == []
    assert add(stub, "logging", "wordpress").relation.id == 0


@pytest.mark.parametrize(
    ("a", "b", "code", "message"),
    [
        ("wordpress", "wordpress", grpc.StatusCode.FAILED_PRECONDITION, "no relations found"),
        (
            "wordpress:db",
            "mysql:nope",
            grpc.StatusCode.NOT_FOUND,
            'application "mysql" has no "nope" relation',
        ),
        (
            "wordpress",
            "mysql",
            grpc.StatusCode.ALREADY_EXISTS,
            'cannot add relation "wordpress:db mysql:db": relation wordpress:db mysql:db '
            "already exists",
        ),
        (
            "wordpress",
            "mysql2",
            grpc.StatusCode.FAILED_PRECONDITION,
            'cannot add relation "wordpress:db mysql2:db": establishing a new relation for '
            "wordpress:db would exceed its maximum relation limit of 1",
        ),
        (
            "logging",
            "logging2",
            grpc.StatusCode.FAILED_PRECONDITION,
            # the pairs using the implicit juju-info are left out
            'ambiguous relation: "logging logging2" could refer to '
            '"logging2:logging-directory logging:logging-client"; '
            '"logging:logging-directory logging2:logging-client"',
        ),
    ],
)
def test_add_relation_refusals_change_nothing(
    stub: relations_pb2_grpc.RelationServiceStub,
    a: str,
    b: str,
    code: grpc.StatusCode,
    message: str,
) -> None:
    add(stub, "wordpress", "mysql")
    for dry_run in (True, False):
        request = pb.AddRelationRequest(model_uuid=M, a=side(a), b=side(b), dry_run=dry_run)
        assert failure(stub.AddRelation, request) == (code, message)
    assert listed(stub) == [(0, "wordpress:db mysql:db")]
    assert add(stub, "logging", "mysql").relation.id == 1


@pytest.mark.parametrize(
    ("request_", "message"),
    [
        (pb.AddRelationRequest(a=side("wordpress"), b=side("mysql")), "model_uuid is required"),
        (
            pb.AddRelationRequest(
                model_uuid=M,
                a=side("wordpress"),
                b=pb.RelationSide(application="x", endpoints=[_ep("e", "boss", "i")]),
            ),
            'unknown endpoint role "boss"',
        ),
        (
            pb.AddRelationRequest(
                model_uuid=M, a=side("wordpress"), b=pb.RelationSide(endpoint="db")
            ),
            'invalid endpoint ":db"',
        ),
    ],
)
def test_malformed_add_relation_requests_are_invalid(
    stub: relations_pb2_grpc.RelationServiceStub, request_: pb.AddRelationRequest, message: str
) -> None:
    assert failure(stub.AddRelation, request_) == (grpc.StatusCode.INVALID_ARGUMENT, message)


def test_two_saas_applications_cannot_relate(
    stub: relations_pb2_grpc.RelationServiceStub,
) -> None:
    request = pb.AddRelationRequest(
        model_uuid=M, a=side("wordpress", remote=True), b=side("mysql", remote=True)
    )
    assert failure(stub.AddRelation, request) == (
        grpc.StatusCode.FAILED_PRECONDITION,
        'cannot add relation "wordpress:db mysql:db": cannot add relation between saas '
        'applications "wordpress" and "mysql"',
    )
    request = pb.AddRelationRequest(
        model_uuid=M, a=side("logging:info"), b=side("mysql:juju-info", remote=True)
    )
    assert failure(stub.AddRelation, request) == (
        grpc.StatusCode.FAILED_PRECONDITION,
        'cannot add relation "logging:info mysql:juju-info": local endpoint must be globally '
        "scoped for remote relations",
    )
    assert listed(stub) == []


def test_remove_relation_by_id_and_by_ends(stub: relations_pb2_grpc.RelationServiceStub) -> None:
    add(stub, "wordpress", "mysql")
    add(stub, "logging", "wordpress")
    add(stub, "logging", "mysql")
    by_id = stub.RemoveRelation(
        pb.RemoveRelationRequest(model_uuid=M, id=1, by_id=True), timeout=TIMEOUT
    )
    assert (by_id.relation.id, by_id.relation.key, by_id.sequence) == (
        1,
        "logging:logging-directory wordpress:logging-dir",
        4,
    )
    by_ends = stub.RemoveRelation(
        pb.RemoveRelationRequest(model_uuid=M, a="mysql", b="wordpress:db"), timeout=TIMEOUT
    )
    assert (by_ends.relation.id, by_ends.relation.key) == (0, "wordpress:db mysql:db")
    assert listed(stub) == [(2, "logging:info mysql:juju-info")]
    # ids are never reused
    assert add(stub, "wordpress", "mysql").relation.id == 3


@pytest.mark.parametrize(
    ("request_", "code", "message"),
    [
        (
            pb.RemoveRelationRequest(model_uuid=M, id=7, by_id=True),
            grpc.StatusCode.NOT_FOUND,
            "relation 7 not found",
        ),
        (
            pb.RemoveRelationRequest(model_uuid=M, id=-1, by_id=True),
            grpc.StatusCode.INVALID_ARGUMENT,
            'relation ID "-1" not valid',
        ),
        (
            pb.RemoveRelationRequest(model_uuid=M, a="wordpress", b="logging"),
            grpc.StatusCode.NOT_FOUND,
            'relation "wordpress logging" not found',
        ),
        (
            pb.RemoveRelationRequest(model_uuid=M, a="mysql:cluster", b="logging"),
            grpc.StatusCode.NOT_FOUND,
            'relation "mysql:cluster logging" not found',
        ),
        (
            pb.RemoveRelationRequest(model_uuid=M, a="logging", b="mysql"),
            grpc.StatusCode.FAILED_PRECONDITION,
            'ambiguous relation: "logging mysql" could refer to '
            '"logging:info mysql:juju-info"; "mysql:db logging:logging-client"',
        ),
        (
            pb.RemoveRelationRequest(model_uuid=M, a="wordpress"),
            grpc.StatusCode.INVALID_ARGUMENT,
            "a relation must involve two applications",
        ),
        (
            pb.RemoveRelationRequest(a="wordpress", b="mysql"),
            grpc.StatusCode.INVALID_ARGUMENT,
            "model_uuid is required",
        ),
    ],
)
def test_remove_relation_refusals_change_nothing(
    stub: relations_pb2_grpc.RelationServiceStub,
    request_: pb.RemoveRelationRequest,
    code: grpc.StatusCode,
    message: str,
) -> None:
    add(stub, "wordpress", "mysql")
    add(stub, "logging", "mysql")
    # an odd charm whose mysql-interface provider relates to logging's requirer too
    stub.AddRelation(
        pb.AddRelationRequest(
            model_uuid=M,
            a=pb.RelationSide(
                application="mysql",
                endpoint="db",
                endpoints=[_ep("db", "requirer", "logging")],
            ),
            b=side("logging:logging-client"),
        ),
        timeout=TIMEOUT,
    )
    before = listed(stub)
    assert failure(stub.RemoveRelation, request_) == (code, message)
    assert listed(stub) == before


def test_remove_application_relations(stub: relations_pb2_grpc.RelationServiceStub) -> None:
    add(stub, "wordpress", "mysql")
    add(stub, "logging", "wordpress")
    add(stub, "logging", "mysql")
    reply = stub.RemoveApplicationRelations(
        pb.RemoveApplicationRelationsRequest(model_uuid=M, application="wordpress"),
        timeout=TIMEOUT,
    )
    assert (reply.removed, reply.sequence) == (2, 5)
    assert listed(stub) == [(2, "logging:info mysql:juju-info")]
    again = stub.RemoveApplicationRelations(
        pb.RemoveApplicationRelationsRequest(model_uuid=M, application="wordpress"),
        timeout=TIMEOUT,
    )
    assert (again.removed, again.sequence) == (0, 0)
    assert failure(
        stub.RemoveApplicationRelations, pb.RemoveApplicationRelationsRequest(model_uuid=M)
    ) == (grpc.StatusCode.INVALID_ARGUMENT, "application is required")


def test_watch_shows_relations_added_and_removed(
    stub: relations_pb2_grpc.RelationServiceStub,
) -> None:
    add(stub, "wordpress", "mysql")
    add(stub, "logging", "mysql")
    stub.RemoveRelation(pb.RemoveRelationRequest(model_uuid=M, id=0, by_id=True), timeout=TIMEOUT)
    stub.RemoveApplicationRelations(
        pb.RemoveApplicationRelationsRequest(model_uuid=M, application="logging"),
        timeout=TIMEOUT,
    )
    stream = stub.Watch(pb.WatchRequest(after_sequence=0), timeout=30)
    try:
        replies = iter(stream)
        events = [next(replies).event for _ in range(4)]
    finally:
        stream.cancel()  # type: ignore[no-untyped-call]  # untyped in grpc-stubs
    assert [(e.sequence, e.kind, e.model_uuid, e.entity) for e in events] == [
        (1, "relation-added", M, "0"),
        (2, "relation-added", M, "1"),
        (3, "relation-removed", M, "0"),
        (4, "relation-removed", M, "1"),
    ]
    assert dict(events[1].attributes) == {
        "key": "logging:info mysql:juju-info",
        "scope": "container",
        "interface": "juju-info",
        "applications": "logging,mysql",
    }
    assert dict(events[3].attributes) == {
        "key": "logging:info mysql:juju-info",
        "scope": "container",
        "applications": "logging,mysql",
    }
