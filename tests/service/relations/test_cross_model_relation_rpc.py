"""AddCrossModelRelation on port 0: both halves or neither, and the code of each refusal."""

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
CONSUMING, OFFERING = "consuming-model", "offering-model"
PROXY = "remote-" + "c" * 32


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


def request(
    token: str = "t1",  # noqa: S107 - a relation token, not a secret
    *,
    saas: str = "mysql",
    proxy: str = PROXY,
    offered_endpoint: str = "db",
    offered_interface: str = "mysql",
    offered_limit: int = 0,
    consuming: str = CONSUMING,
) -> pb.AddCrossModelRelationRequest:
    """mediawiki ⇄ the SAAS in the consuming model; the proxy ⇄ mysql in the offering model."""
    db = pb.CandidateEndpoint(name="db", role="provider", interface="mysql")
    wiki = pb.CandidateEndpoint(name="db", role="requirer", interface="mysql")
    cross = pb.CrossModel(
        token=token, username="bob", source_model_uuid=consuming, subnets=["10.0.0.1/32"]
    )
    consumer = pb.CrossModelHalf(
        model_uuid=consuming,
        a=pb.RelationSide(application="mediawiki", endpoints=[wiki]),
        b=pb.RelationSide(application=saas, remote=True, endpoints=[db]),
        cross_model=cross,
    )
    consumer.cross_model.side = "consumer"
    offerer = pb.CrossModelHalf(
        model_uuid=OFFERING,
        a=pb.RelationSide(application=proxy, endpoint="db", remote=True, endpoints=[wiki]),
        b=pb.RelationSide(
            application="mysql",
            endpoint=offered_endpoint,
            endpoints=[
                pb.CandidateEndpoint(
                    name="db", role="provider", interface=offered_interface, limit=offered_limit
                )
            ],
        ),
        cross_model=cross,
    )
    offerer.cross_model.side = "offerer"
    offerer.cross_model.offer_uuid = "offer-1"
    return pb.AddCrossModelRelationRequest(consumer=consumer, offerer=offerer)


def keys(stub: relations_pb2_grpc.RelationServiceStub) -> dict[str, list[str]]:
    return {
        model: [
            r.key
            for r in stub.ListRelations(
                pb.ListRelationsRequest(model_uuid=model), timeout=TIMEOUT
            ).relations
        ]
        for model in (CONSUMING, OFFERING)
    }


def test_both_halves_are_made_and_listed(stub: relations_pb2_grpc.RelationServiceStub) -> None:
    reply = stub.AddCrossModelRelation(request(), timeout=TIMEOUT)
    consumer, offerer = reply.consumer, reply.offerer
    assert (consumer.id, consumer.key, consumer.status) == (0, "mediawiki:db mysql:db", "joined")
    assert (consumer.cross_model.side, consumer.cross_model.token) == ("consumer", "t1")
    assert consumer.cross_model.offer_uuid == ""
    assert (offerer.id, offerer.key) == (0, f"{PROXY}:db mysql:db")
    assert (offerer.cross_model.side, offerer.cross_model.offer_uuid) == ("offerer", "offer-1")
    assert (offerer.cross_model.username, offerer.cross_model.source_model_uuid) == (
        "bob",
        CONSUMING,
    )
    assert reply.sequence == 2  # one relation-added per half
    assert keys(stub) == {
        CONSUMING: ["mediawiki:db mysql:db"],
        OFFERING: [f"{PROXY}:db mysql:db"],
    }
    connections = stub.ListOfferRelations(
        pb.ListOfferRelationsRequest(offer_uuid="offer-1"), timeout=TIMEOUT
    ).relations
    assert [(c.model_uuid, c.id, c.consumer_application) for c in connections] == [
        (OFFERING, 0, PROXY)
    ]
    # removing either half removes both, as for halves made one at a time
    stub.RemoveRelation(
        pb.RemoveRelationRequest(model_uuid=CONSUMING, id=0, by_id=True), timeout=TIMEOUT
    )
    assert keys(stub) == {CONSUMING: [], OFFERING: []}


@pytest.mark.parametrize(
    ("refused", "code", "message"),
    [
        (
            request(token="t2", saas="mysql-b"),  # the offerer's half repeats the first one
            grpc.StatusCode.ALREADY_EXISTS,
            f'cannot add relation "{PROXY}:db mysql:db": relation {PROXY}:db mysql:db already '
            "exists",
        ),
        (
            request(token="t1", saas="mysql-b"),
            grpc.StatusCode.ALREADY_EXISTS,
            'cannot add relation "mediawiki:db mysql-b:db": its token is taken by another '
            "cross-model relation",
        ),
        (
            request(token="t2"),  # both halves repeat the first relation
            grpc.StatusCode.ALREADY_EXISTS,
            'cannot add relation "mediawiki:db mysql:db": relation mediawiki:db mysql:db already '
            "exists",
        ),
        (
            request(token="t2", saas="mysql-b", offered_interface="pgsql"),
            grpc.StatusCode.FAILED_PRECONDITION,
            "no relations found",
        ),
        (
            request(token="t2", saas="mysql-b", proxy="remote-" + "d" * 32, offered_limit=1),
            grpc.StatusCode.FAILED_PRECONDITION,
            f'cannot add relation "remote-{"d" * 32}:db mysql:db": establishing a new relation '
            "for mysql:db would exceed its maximum relation limit of 1",
        ),
        (
            request(token="t2", saas="mysql-b", offered_endpoint="nope"),
            grpc.StatusCode.NOT_FOUND,
            'application "mysql" has no "nope" relation',
        ),
        (
            pb.AddCrossModelRelationRequest(),
            grpc.StatusCode.INVALID_ARGUMENT,
            "a cross-model relation needs the consumer's half and the offerer's half",
        ),
    ],
)
def test_a_refused_half_makes_neither_and_no_event(
    stub: relations_pb2_grpc.RelationServiceStub,
    refused: pb.AddCrossModelRelationRequest,
    code: grpc.StatusCode,
    message: str,
) -> None:
    first = stub.AddCrossModelRelation(request(), timeout=TIMEOUT)
    before = keys(stub)
    with pytest.raises(grpc.RpcError) as raised:
        stub.AddCrossModelRelation(refused, timeout=TIMEOUT)
    err = raised.value
    assert isinstance(err, grpc.Call)
    assert (err.code(), err.details()) == (code, message)
    assert keys(stub) == before
    # no event was appended in between: the next relation's two events follow the first's
    other = request(token="t3", consuming="third-model", proxy="remote-" + "e" * 32)
    assert stub.AddCrossModelRelation(other, timeout=TIMEOUT).sequence == first.sequence + 2


def test_halves_that_disagree_are_invalid(stub: relations_pb2_grpc.RelationServiceStub) -> None:
    mismatched = request()
    mismatched.offerer.cross_model.token = "t2"
    unknown = request()
    unknown.consumer.cross_model.status = "sideways"
    apart = request()
    apart.consumer.cross_model.status = "error"
    apart.consumer.cross_model.message = "subnet 10.0.0.1/32 not in firewall whitelist"
    peer = request()
    peer.offerer.cross_model.peer_controller = "ctrl-2-uuid"
    for bad, message in (
        (mismatched, "the two halves of a cross-model relation must share one token"),
        (unknown, 'relation status "sideways" not valid'),
        (apart, "the two halves of a cross-model relation must start in one status"),
        (peer, "both halves are on this controller: neither may name a peer controller"),
    ):
        with pytest.raises(grpc.RpcError) as raised:
            stub.AddCrossModelRelation(bad, timeout=TIMEOUT)
        err = raised.value
        assert isinstance(err, grpc.Call)
        assert (err.code(), err.details()) == (grpc.StatusCode.INVALID_ARGUMENT, message)
    assert keys(stub) == {CONSUMING: [], OFFERING: []}
