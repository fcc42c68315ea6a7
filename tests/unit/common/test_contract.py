"""What the contracts say of each method: reads, waits, and the retry config built from them."""

from __future__ import annotations

import json

from services.common import contract

PLACEMENT = "cmr.placement.v1.PlacementService"
RELATIONS = "cmr.relations.v1.RelationService"


def test_reads_are_the_methods_marked_free_of_side_effects() -> None:
    reads = contract.reads(PLACEMENT)
    assert {"GetModel", "ListModels", "GetModelStatus", "Watch", "Ping"} <= reads
    assert not reads & {"AddModel", "Deploy", "AddUnit", "RemoveUnit", "Sync"}
    assert contract.is_read(f"/{PLACEMENT}/GetModel")
    assert not contract.is_read(f"/{PLACEMENT}/AddModel")


def test_only_methods_marked_so_may_wait() -> None:
    assert contract.waits(PLACEMENT) == {"Sync"}
    assert contract.waits(RELATIONS) == {"Sync"}
    assert {"CreateOffer", "DeleteOffer"} <= contract.waits("cmr.offers.v1.OfferService")
    assert contract.waits("cmr.access.v1.AccessService") == frozenset()


def test_the_channel_retries_unary_reads_only() -> None:
    config = json.loads(contract.retry_config([PLACEMENT, RELATIONS]))
    names = {(n["service"], n["method"]) for n in config["methodConfig"][0]["name"]}
    assert (PLACEMENT, "GetModelStatus") in names
    assert (RELATIONS, "ListRelations") in names
    assert (PLACEMENT, "Watch") not in names  # a stream resumes from its cursor instead
    assert (PLACEMENT, "AddUnit") not in names
    assert config["methodConfig"][0]["retryPolicy"]["retryableStatusCodes"] == ["UNAVAILABLE"]
