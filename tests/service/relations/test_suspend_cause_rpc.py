"""The relations RPCs carry why a relation is suspended, beside the message people read."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import grpc
import pytest

from cmr.relations.v1 import relations_pb2 as pb
from cmr.relations.v1 import relations_pb2_grpc
from services.common import config
from services.relations.server import build_server
from tests.service.relations.test_cross_model_relation_rpc import CONSUMING, OFFERING
from tests.service.relations.test_cross_model_relation_rpc import request as cross_model_request

TIMEOUT = 10


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


def _listed(stub: relations_pb2_grpc.RelationServiceStub, model: str) -> pb.Relation:
    [relation] = stub.ListRelations(
        pb.ListRelationsRequest(model_uuid=model), timeout=TIMEOUT
    ).relations
    return relation


def test_suspend_relation_is_a_users_cause_on_both_halves_until_resumed(
    stub: relations_pb2_grpc.RelationServiceStub,
) -> None:
    added = stub.AddCrossModelRelation(cross_model_request(), timeout=TIMEOUT)
    assert added.offerer.suspend_cause == pb.SUSPEND_CAUSE_UNSPECIFIED
    reply = stub.SuspendRelation(
        pb.SuspendRelationRequest(model_uuid=OFFERING, ids=[added.offerer.id], message="later"),
        timeout=TIMEOUT,
    )
    [offerer] = reply.relations
    assert (offerer.message, offerer.suspend_cause) == ("later", pb.SUSPEND_CAUSE_USER)
    assert _listed(stub, CONSUMING).suspend_cause == pb.SUSPEND_CAUSE_USER
    stub.ResumeRelation(
        pb.ResumeRelationRequest(model_uuid=OFFERING, ids=[added.offerer.id]), timeout=TIMEOUT
    )
    for model in (CONSUMING, OFFERING):
        assert _listed(stub, model).suspend_cause == pb.SUSPEND_CAUSE_UNSPECIFIED


def _remote_consumer_half(stub: relations_pb2_grpc.RelationServiceStub) -> None:
    """The consumer's half of a relation whose offerer is on another controller."""
    half = cross_model_request().consumer
    half.cross_model.peer_controller = "ctrl-2-uuid"
    half.cross_model.peer_address = "10.1.1.1:17070"
    half.cross_model.peer_token = "credential"
    stub.AddRelation(
        pb.AddRelationRequest(
            model_uuid=half.model_uuid, a=half.a, b=half.b, cross_model=half.cross_model
        ),
        timeout=TIMEOUT,
    )


@pytest.mark.parametrize(
    ("sent", "recorded"),
    [
        (pb.SUSPEND_CAUSE_REVOKED, pb.SUSPEND_CAUSE_REVOKED),
        (pb.SUSPEND_CAUSE_USER, pb.SUSPEND_CAUSE_USER),
        (pb.SUSPEND_CAUSE_UNSPECIFIED, pb.SUSPEND_CAUSE_REMOTE),  # the offerer did not say
        (99, pb.SUSPEND_CAUSE_REMOTE),  # a cause this version does not know
    ],
)
def test_mirror_remote_state_records_the_offerers_cause(
    stub: relations_pb2_grpc.RelationServiceStub,
    sent: pb.SuspendCause.ValueType,
    recorded: pb.SuspendCause.ValueType,
) -> None:
    _remote_consumer_half(stub)
    stub.MirrorRemoteState(
        pb.MirrorRemoteStateRequest(
            token="t1", suspended=True, reason="offer permission revoked", suspend_cause=sent
        ),
        timeout=TIMEOUT,
    )
    [half] = stub.ListRemoteHalves(pb.ListRemoteHalvesRequest(token="t1"), timeout=TIMEOUT).halves
    assert (half.relation.status, half.relation.message, half.relation.suspend_cause) == (
        "suspended",
        "offer permission revoked",
        recorded,
    )
    stub.MirrorRemoteState(pb.MirrorRemoteStateRequest(token="t1"), timeout=TIMEOUT)
    assert _listed(stub, CONSUMING).suspend_cause == pb.SUSPEND_CAUSE_UNSPECIFIED
