"""A SAAS's status in `status`: `error` while a revoke keeps one of its relations suspended."""

from __future__ import annotations

import pytest

from cmr.gateway.v1 import gateway_pb2 as pb
from cmr.offers.v1 import offers_pb2
from cmr.placement.v1 import placement_pb2
from cmr.relations.v1 import relations_pb2
from gateway.status import compose
from kernel.relation import REVOKED_MESSAGE


def _saas_status(relation: relations_pb2.Relation) -> pb.StatusValue:
    placement = placement_pb2.GetModelStatusResponse(
        model=placement_pb2.Model(uuid="m1", name="prod", owner="admin")
    )
    saas = offers_pb2.Saas(
        model_uuid="m1", name="mysql", offer_url="admin/db.mysql", status="active"
    )
    status = compose(placement, [], [relation], controller="c", saas=[saas])
    [shown] = status.saas
    return shown.application_status


def _consumer_half(
    message: str, cause: relations_pb2.SuspendCause.ValueType
) -> relations_pb2.Relation:
    return relations_pb2.Relation(
        id=0,
        key="mediawiki:db mysql:db",
        status="suspended",
        message=message,
        suspended=True,
        suspended_reason=message,
        suspend_cause=cause,
        endpoints=[
            relations_pb2.RelationEndpoint(application="mediawiki", name="db"),
            relations_pb2.RelationEndpoint(application="mysql", name="db", remote=True),
        ],
        cross_model=relations_pb2.CrossModel(token="t1", side="consumer"),
    )


def test_a_revoked_relation_puts_its_saas_in_error() -> None:
    shown = _saas_status(_consumer_half(REVOKED_MESSAGE, relations_pb2.SUSPEND_CAUSE_REVOKED))
    assert (shown.current, shown.message) == ("error", REVOKED_MESSAGE)


@pytest.mark.parametrize(
    "cause", [relations_pb2.SUSPEND_CAUSE_USER, relations_pb2.SUSPEND_CAUSE_REMOTE]
)
def test_the_cause_decides_not_the_message(cause: relations_pb2.SuspendCause.ValueType) -> None:
    # an offer admin may write any reason, Juju's revoke text included: the SAAS stays as it is
    shown = _saas_status(_consumer_half(REVOKED_MESSAGE, cause))
    assert (shown.current, shown.message) == ("active", "")
