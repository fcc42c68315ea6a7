"""Subordinate units from container relations, with the sample charms' shapes.

The relations feed is driven by hand through `domain.apply_relations_event`, as the placement
reactor would, and every test runs on the SQLite store and on the in-memory fake alike.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest

from kernel import errors
from services.placement import domain
from tests.unit.placement.conftest import Store

NOW = "2026-01-01T00:00:00.000000Z"
CHARMS = Path(__file__).resolve().parents[3] / "charms"
SOURCE = "relations"


def _charm(name: str) -> str:
    return (CHARMS / name / "metadata.yaml").read_text()


class Feed:
    """The relations feed as the placement reactor replays it: one increasing sequence."""

    def __init__(self, store: Store, uuid: str) -> None:
        self.store = store
        self.uuid = uuid
        self.sequence = 100
        self.next_id = 0

    def event(
        self,
        kind: str,
        relation_id: int,
        apps: str,
        scope: str = "container",
        *,
        uuid: str | None = None,
        sequence: int | None = None,
    ) -> int:
        """Apply one event; its sequence is the next one unless given."""
        if sequence is None:
            self.sequence += 1
            sequence = self.sequence
        return domain.apply_relations_event(
            self.store,
            SOURCE,
            sequence,
            kind,
            self.uuid if uuid is None else uuid,
            str(relation_id),
            {"scope": scope, "applications": apps, "key": f"relation {relation_id}"},
        )

    def relate(self, apps: str, scope: str = "container") -> tuple[int, int]:
        """A new relation with the next id; its id and what applying it returned."""
        relation_id = self.next_id
        self.next_id += 1
        return relation_id, self.event("relation-added", relation_id, apps, scope)

    def unrelate(self, relation_id: int, apps: str, scope: str = "container") -> int:
        return self.event("relation-removed", relation_id, apps, scope)


def _setup(store: Store, **charms: int) -> tuple[domain.Model, Feed]:
    """A model with each charm deployed (`name=units`; subordinates take 0), and its feed."""
    model, _ = domain.add_model(store, "subs", "admin", now=NOW)
    for charm, units in charms.items():
        name = charm.replace("_", "-")
        domain.deploy(store, model.uuid, _charm(name), "", units, [])
    return model, Feed(store, model.uuid)


def _last(store: Store) -> int:
    events = store.events_after(0)
    return events[-1].sequence if events else 0


def _kinds(store: Store, after: int) -> list[tuple[str, str]]:
    return [(e.kind, e.entity) for e in store.events_after(after)]


def _subs(store: Store, uuid: str, application: str) -> list[tuple[str, str, str, str]]:
    """(unit, principal, machine, address) of a subordinate application's units."""
    status = domain.model_status(store, uuid)
    return [
        (u.name, u.principal, u.machine, u.address)
        for u in status.units
        if u.application == application
    ]


def _names(store: Store, uuid: str, application: str) -> list[str]:
    return [u.name for u in store.units_of(uuid, application)]


def _refused(call: Callable[[], object], kind: type[errors.CmrError], message: str) -> None:
    with pytest.raises(kind) as caught:
        call()
    assert str(caught.value) == message


# -- one subordinate unit per principal unit ---------------------------------------------------


def test_each_principal_unit_gets_one_subordinate_on_its_machine(store: Store) -> None:
    model, feed = _setup(store, postgresql=2, telegraf=0)
    start = _last(store)
    _, seq = feed.relate("telegraf,postgresql")
    assert _subs(store, model.uuid, "telegraf") == [
        ("telegraf/0", "postgresql/0", "0", "10.1.0.1"),
        ("telegraf/1", "postgresql/1", "1", "10.1.0.2"),
    ]
    events = store.events_after(start)
    assert [(e.kind, e.entity) for e in events] == [
        ("unit-added", "telegraf/0"),
        ("unit-added", "telegraf/1"),
    ]
    assert [e.attributes for e in events] == [
        {"application": "telegraf", "machine": "0", "principal": "postgresql/0"},
        {"application": "telegraf", "machine": "1", "principal": "postgresql/1"},
    ]
    assert {e.model_uuid for e in events} == {model.uuid}
    assert seq == events[-1].sequence
    assert store.cursor(SOURCE) == feed.sequence
    # no machine of its own; the application counts its units; the lowest one leads
    status = domain.model_status(store, model.uuid)
    assert [m.id for m in status.machines] == ["0", "1"]
    telegraf = domain.get_application(store, model.uuid, "telegraf")
    assert (telegraf.subordinate, telegraf.unit_count) == (True, 2)
    assert [(u.name, u.leader) for u in status.units if u.application == "telegraf"] == [
        ("telegraf/0", True),
        ("telegraf/1", False),
    ]


def test_subordinates_follow_principal_units_in_number_order(store: Store) -> None:
    model, feed = _setup(store, postgresql=3, telegraf=0)
    domain.remove_units(store, model.uuid, ["postgresql/1"])
    feed.relate("telegraf,postgresql")
    assert _subs(store, model.uuid, "telegraf") == [
        ("telegraf/0", "postgresql/0", "0", "10.1.0.1"),
        ("telegraf/1", "postgresql/2", "2", "10.1.0.3"),
    ]


def test_numbers_are_never_reused_after_the_relation_goes(store: Store) -> None:
    model, feed = _setup(store, postgresql=2, telegraf=0)
    first, _ = feed.relate("telegraf,postgresql")
    assert _names(store, model.uuid, "telegraf") == ["telegraf/0", "telegraf/1"]
    start = _last(store)
    seq = feed.unrelate(first, "telegraf,postgresql")
    # the principal units keep their machines
    assert _kinds(store, start) == [
        ("unit-removed", "telegraf/0"),
        ("unit-removed", "telegraf/1"),
    ]
    assert store.events_after(start)[0].attributes == {
        "application": "telegraf",
        "machine": "0",
        "principal": "postgresql/0",
    }
    assert seq == _last(store)
    assert _names(store, model.uuid, "telegraf") == []
    assert [m.id for m in domain.model_status(store, model.uuid).machines] == ["0", "1"]
    feed.relate("telegraf,postgresql")
    assert _subs(store, model.uuid, "telegraf") == [
        ("telegraf/2", "postgresql/0", "0", "10.1.0.1"),
        ("telegraf/3", "postgresql/1", "1", "10.1.0.2"),
    ]
    # the counter belongs to the model: removing and redeploying the subordinate keeps it
    removed, _ = domain.remove_application(store, model.uuid, "telegraf")
    assert removed == ["telegraf/2", "telegraf/3"]
    domain.deploy(store, model.uuid, _charm("telegraf"), "", 0, [])
    feed.relate("telegraf,postgresql")
    assert _names(store, model.uuid, "telegraf") == ["telegraf/4", "telegraf/5"]


def test_a_subordinate_of_two_principals_loses_only_one_side(store: Store) -> None:
    model, feed = _setup(store, postgresql=2, keystone=1, telegraf=0)
    with_pg, _ = feed.relate("telegraf,postgresql")
    feed.relate("telegraf,keystone")
    assert _subs(store, model.uuid, "telegraf") == [
        ("telegraf/0", "postgresql/0", "0", "10.1.0.1"),
        ("telegraf/1", "postgresql/1", "1", "10.1.0.2"),
        ("telegraf/2", "keystone/0", "2", "10.1.0.3"),
    ]
    start = _last(store)
    feed.unrelate(with_pg, "telegraf,postgresql")
    assert _kinds(store, start) == [
        ("unit-removed", "telegraf/0"),
        ("unit-removed", "telegraf/1"),
    ]
    assert _subs(store, model.uuid, "telegraf") == [("telegraf/2", "keystone/0", "2", "10.1.0.3")]
    # the new leader is the lowest live unit
    status = domain.model_status(store, model.uuid)
    assert [u.leader for u in status.units if u.name == "telegraf/2"] == [True]


def test_two_principal_units_on_one_machine_each_get_a_subordinate(store: Store) -> None:
    model, feed = _setup(store, postgresql=1, telegraf=0)
    domain.deploy(store, model.uuid, _charm("keystone"), "", 1, ["0"])
    feed.relate("telegraf,postgresql")
    feed.relate("telegraf,keystone")
    assert _subs(store, model.uuid, "telegraf") == [
        ("telegraf/0", "postgresql/0", "0", "10.1.0.1"),
        ("telegraf/1", "keystone/0", "0", "10.1.0.1"),
    ]
    # the machine was made for postgresql/0: it stays while keystone/0 and its subordinate live
    start = _last(store)
    domain.remove_units(store, model.uuid, ["postgresql/0"])
    assert _kinds(store, start) == [
        ("unit-removed", "telegraf/0"),
        ("unit-removed", "postgresql/0"),
    ]
    domain.remove_units(store, model.uuid, ["keystone/0"])
    assert _kinds(store, start)[2:] == [
        ("unit-removed", "telegraf/1"),
        ("unit-removed", "keystone/0"),
        ("machine-removed", "0"),
    ]


def test_two_container_relations_between_one_pair_give_one_unit_each(store: Store) -> None:
    model, feed = _setup(store, postgresql=2, nrpe=0)
    checks, _ = feed.relate("nrpe,postgresql")  # nrpe:monitors postgresql:nrpe-external-master
    start = _last(store)
    generic, seq = feed.relate("nrpe,postgresql")  # nrpe:general-info postgresql:juju-info
    assert (seq, _last(store)) == (0, start)
    expected = [
        ("nrpe/0", "postgresql/0", "0", "10.1.0.1"),
        ("nrpe/1", "postgresql/1", "1", "10.1.0.2"),
    ]
    assert _subs(store, model.uuid, "nrpe") == expected
    # a new principal unit still gets exactly one
    domain.add_unit(store, model.uuid, "postgresql", 1, [])
    expected.append(("nrpe/2", "postgresql/2", "2", "10.1.0.3"))
    assert _subs(store, model.uuid, "nrpe") == expected
    # the units stay until the last of the two relations goes
    start = _last(store)
    assert feed.unrelate(checks, "nrpe,postgresql") == 0
    assert _last(store) == start
    assert _subs(store, model.uuid, "nrpe") == expected
    feed.unrelate(generic, "nrpe,postgresql")
    assert _kinds(store, start) == [
        ("unit-removed", "nrpe/0"),
        ("unit-removed", "nrpe/1"),
        ("unit-removed", "nrpe/2"),
    ]


def test_subordinate_to_subordinate_relations_make_no_units(store: Store) -> None:
    model, feed = _setup(store, postgresql=1, telegraf=0, filebeat=0, landscape_client=0)
    start = _last(store)
    agents, seq = feed.relate("filebeat,telegraf")  # filebeat:agent-logs telegraf:filebeat-info
    feed.relate("landscape-client,telegraf")  # landscape-client:container telegraf:juju-info
    assert (seq, _last(store)) == (0, start)
    assert store.cursor(SOURCE) == feed.sequence
    for sub in ("telegraf", "filebeat", "landscape-client"):
        assert _names(store, model.uuid, sub) == []
    # each still gets one unit per principal unit from its own principal relation
    with_telegraf, _ = feed.relate("telegraf,postgresql")
    feed.relate("filebeat,postgresql")
    assert _subs(store, model.uuid, "telegraf") == [
        ("telegraf/0", "postgresql/0", "0", "10.1.0.1")
    ]
    assert _subs(store, model.uuid, "filebeat") == [
        ("filebeat/0", "postgresql/0", "0", "10.1.0.1")
    ]
    assert _names(store, model.uuid, "landscape-client") == []
    # a new principal unit gets its subordinates; the sub-sub relation adds none
    domain.add_unit(store, model.uuid, "postgresql", 1, [])
    assert _names(store, model.uuid, "telegraf") == ["telegraf/0", "telegraf/1"]
    assert _names(store, model.uuid, "filebeat") == ["filebeat/0", "filebeat/1"]
    assert _names(store, model.uuid, "landscape-client") == []
    # removing the sub-sub relation changes no units; removing a principal relation only its own
    start = _last(store)
    assert feed.unrelate(agents, "filebeat,telegraf") == 0
    assert _last(store) == start
    feed.unrelate(with_telegraf, "telegraf,postgresql")
    assert _names(store, model.uuid, "telegraf") == []
    assert _names(store, model.uuid, "filebeat") == ["filebeat/0", "filebeat/1"]


def test_global_relations_make_no_subordinate_units(store: Store) -> None:
    model, feed = _setup(store, postgresql=1, telegraf=0)
    domain.deploy(store, model.uuid, _charm("prometheus"), "", 1, [])
    start = _last(store)
    scrape, seq = feed.relate("prometheus,telegraf", scope="global")
    # placement trusts the feed's scope, even between a subordinate and a principal
    _, seq2 = feed.relate("telegraf,postgresql", scope="global")
    assert (seq, seq2, _last(store)) == (0, 0, start)
    assert store.cursor(SOURCE) == feed.sequence
    assert _names(store, model.uuid, "telegraf") == []
    # nor does adding a principal unit or removing the global relation
    domain.add_unit(store, model.uuid, "postgresql", 1, [])
    domain.add_unit(store, model.uuid, "prometheus", 1, [])
    assert _names(store, model.uuid, "telegraf") == []
    feed.unrelate(scrape, "prometheus,telegraf", scope="global")
    assert _names(store, model.uuid, "telegraf") == []


# -- scaling the principal -------------------------------------------------------------------


def test_scaling_the_principal_up_adds_subordinates_in_the_same_call(store: Store) -> None:
    model, feed = _setup(store, postgresql=1, telegraf=0, nrpe=0)
    feed.relate("telegraf,postgresql")
    feed.relate("nrpe,postgresql")
    start = _last(store)
    placed = domain.add_unit(store, model.uuid, "postgresql", 2, [])
    assert [u.name for u in placed.units] == ["postgresql/1", "postgresql/2"]
    events = store.events_after(start)
    assert [(e.kind, e.entity) for e in events] == [
        ("machine-added", "1"),
        ("unit-added", "postgresql/1"),
        ("machine-added", "2"),
        ("unit-added", "postgresql/2"),
        ("unit-added", "nrpe/1"),
        ("unit-added", "nrpe/2"),
        ("unit-added", "telegraf/1"),
        ("unit-added", "telegraf/2"),
    ]
    assert events[-1].attributes == {
        "application": "telegraf",
        "machine": "2",
        "principal": "postgresql/2",
    }
    assert placed.sequence == events[-1].sequence
    assert _subs(store, model.uuid, "telegraf")[1:] == [
        ("telegraf/1", "postgresql/1", "1", "10.1.0.2"),
        ("telegraf/2", "postgresql/2", "2", "10.1.0.3"),
    ]
    # placed with --to on a machine made earlier, the subordinate goes there too
    domain.add_machines(store, model.uuid, 1)
    domain.add_unit(store, model.uuid, "postgresql", 1, ["3"])
    assert _subs(store, model.uuid, "telegraf")[-1] == (
        "telegraf/3",
        "postgresql/3",
        "3",
        "10.1.0.4",
    )


def test_scaling_the_principal_down_removes_its_subordinates_first(store: Store) -> None:
    model, feed = _setup(store, postgresql=3, telegraf=0, nrpe=0)
    feed.relate("telegraf,postgresql")
    feed.relate("nrpe,postgresql")
    start = _last(store)
    seq = domain.remove_units(store, model.uuid, ["postgresql/1"])
    events = store.events_after(start)
    assert [(e.kind, e.entity) for e in events] == [
        ("unit-removed", "nrpe/1"),
        ("unit-removed", "telegraf/1"),
        ("unit-removed", "postgresql/1"),
        ("machine-removed", "1"),
    ]
    assert [e.attributes.get("principal") for e in events[:3]] == [
        "postgresql/1",
        "postgresql/1",
        "",
    ]
    assert seq == events[-1].sequence
    assert _names(store, model.uuid, "telegraf") == ["telegraf/0", "telegraf/2"]
    # a principal unit added later gets a new number, never the removed one
    domain.add_unit(store, model.uuid, "postgresql", 1, [])
    assert _names(store, model.uuid, "telegraf") == ["telegraf/0", "telegraf/2", "telegraf/3"]
    # down to no principal units and up again
    domain.remove_units(store, model.uuid, ["postgresql/0", "postgresql/2", "postgresql/3"])
    assert _names(store, model.uuid, "telegraf") == []
    domain.add_unit(store, model.uuid, "postgresql", 1, [])
    assert _subs(store, model.uuid, "telegraf") == [
        ("telegraf/4", "postgresql/4", "4", "10.1.0.5")
    ]


def test_removing_the_principal_application_removes_its_subordinate_units(store: Store) -> None:
    model, feed = _setup(store, postgresql=2, keystone=1, telegraf=0)
    feed.relate("telegraf,postgresql")
    feed.relate("telegraf,keystone")
    start = _last(store)
    removed, _ = domain.remove_application(store, model.uuid, "postgresql")
    assert removed == ["postgresql/0", "postgresql/1"]
    assert _kinds(store, start) == [
        ("unit-removed", "telegraf/0"),
        ("unit-removed", "postgresql/0"),
        ("machine-removed", "0"),
        ("unit-removed", "telegraf/1"),
        ("unit-removed", "postgresql/1"),
        ("machine-removed", "1"),
        ("application-removed", "postgresql"),
    ]
    assert _subs(store, model.uuid, "telegraf") == [("telegraf/2", "keystone/0", "2", "10.1.0.3")]
    # removing the subordinate application leaves the principal's machine
    start = _last(store)
    removed, _ = domain.remove_application(store, model.uuid, "telegraf")
    assert removed == ["telegraf/2"]
    assert _kinds(store, start) == [
        ("unit-removed", "telegraf/2"),
        ("application-removed", "telegraf"),
    ]
    assert [m.id for m in domain.model_status(store, model.uuid).machines] == ["2"]


# -- the feed cursor -------------------------------------------------------------------------


def test_replaying_an_event_changes_nothing(store: Store) -> None:
    model, feed = _setup(store, postgresql=2, telegraf=0)
    relation_id, _ = feed.relate("telegraf,postgresql")
    added_at = feed.sequence
    start = _last(store)
    before = domain.model_status(store, model.uuid)
    again = feed.event("relation-added", relation_id, "telegraf,postgresql", sequence=added_at)
    assert (again, _last(store), store.cursor(SOURCE)) == (0, start, added_at)
    assert domain.model_status(store, model.uuid) == before
    # an older event is skipped too, even a removal
    older = feed.event("relation-removed", relation_id, "telegraf,postgresql", sequence=added_at)
    assert (older, _last(store)) == (0, start)
    assert _names(store, model.uuid, "telegraf") == ["telegraf/0", "telegraf/1"]
    # the removal with its own (new) sequence applies once
    feed.unrelate(relation_id, "telegraf,postgresql")
    removed_at = feed.sequence
    after = _last(store)
    feed.event("relation-removed", relation_id, "telegraf,postgresql", sequence=removed_at)
    assert (_last(store), store.cursor(SOURCE)) == (after, removed_at)
    assert _names(store, model.uuid, "telegraf") == []


def test_events_for_unknown_models_or_applications_only_move_the_cursor(store: Store) -> None:
    model, feed = _setup(store, postgresql=1, telegraf=0)
    start = _last(store)
    assert feed.event("relation-added", 0, "telegraf,postgresql", uuid="no-such-model") == 0
    assert feed.event("relation-removed", 0, "telegraf,postgresql", uuid="no-such-model") == 0
    assert (_last(store), store.cursor(SOURCE)) == (start, feed.sequence)
    assert _names(store, model.uuid, "telegraf") == []
    # an application removed before its relation's event arrives
    domain.remove_application(store, model.uuid, "postgresql")
    start = _last(store)
    gone, seq = feed.relate("telegraf,postgresql")
    assert (seq, _last(store), store.cursor(SOURCE)) == (0, start, feed.sequence)
    feed.unrelate(gone, "telegraf,postgresql")
    # a subordinate removed before its relation's event arrives
    domain.deploy(store, model.uuid, _charm("keystone"), "", 1, [])
    domain.remove_application(store, model.uuid, "telegraf")
    start = _last(store)
    gone, seq = feed.relate("telegraf,keystone")
    assert (seq, _last(store), store.cursor(SOURCE)) == (0, start, feed.sequence)
    feed.unrelate(gone, "telegraf,keystone")
    assert _names(store, model.uuid, "keystone") == ["keystone/0"]
    # a removal nobody knows of, and an event naming fewer than two applications
    assert feed.unrelate(99, "telegraf,keystone") == 0
    assert feed.event("relation-added", 98, "keystone") == 0
    assert (_last(store), store.cursor(SOURCE)) == (start, feed.sequence)


def test_a_removed_relation_is_forgotten_when_the_application_comes_back(store: Store) -> None:
    model, feed = _setup(store, postgresql=1, telegraf=0)
    relation_id, _ = feed.relate("telegraf,postgresql")
    # remove-application: the relations go first, then the application
    feed.unrelate(relation_id, "telegraf,postgresql")
    domain.remove_application(store, model.uuid, "postgresql")
    domain.deploy(store, model.uuid, _charm("postgresql"), "", 1, [])
    domain.add_unit(store, model.uuid, "postgresql", 1, [])
    assert _names(store, model.uuid, "telegraf") == []


# -- refusals --------------------------------------------------------------------------------


def test_subordinate_units_are_not_removed_or_added_directly(store: Store) -> None:
    model, feed = _setup(store, postgresql=2, hacluster=0)
    feed.relate("hacluster,postgresql")
    before = (_last(store), domain.model_status(store, model.uuid))
    _refused(
        lambda: domain.remove_units(store, model.uuid, ["hacluster/1"]),
        errors.Refused,
        'removing unit hacluster/1 failed: unit "hacluster/1" is a subordinate, to remove use '
        'remove-relation. Note: this will remove all units of "hacluster"',
    )
    # checked before anything goes, even when a principal unit is named first
    _refused(
        lambda: domain.remove_units(store, model.uuid, ["postgresql/0", "hacluster/1"]),
        errors.Refused,
        'removing unit hacluster/1 failed: unit "hacluster/1" is a subordinate, to remove use '
        'remove-relation. Note: this will remove all units of "hacluster"',
    )
    _refused(
        lambda: domain.add_unit(store, model.uuid, "hacluster", 1, []),
        errors.Refused,
        'cannot add unit to application "hacluster": application is a subordinate',
    )
    _refused(
        lambda: domain.add_unit(store, model.uuid, "hacluster", 0, ["0"]),
        errors.Refused,
        'cannot add unit to application "hacluster": application is a subordinate',
    )
    for n, to in ((2, []), (0, ["0"]), (1, ["1"])):
        _refused(
            lambda n=n, to=to: domain.deploy(  # type: ignore[misc]
                store, model.uuid, _charm("hacluster"), "ha2", n, to
            ),
            errors.Invalid,
            "cannot use --num-units or --to with subordinate application",
        )
    assert (_last(store), domain.model_status(store, model.uuid)) == before


@pytest.mark.parametrize(
    "charm", ["telegraf", "nrpe", "hacluster", "filebeat", "landscape-client"]
)
def test_every_sample_subordinate_deploys_without_units(store: Store, charm: str) -> None:
    model, _ = domain.add_model(store, "subs", "admin", now=NOW)
    placed = domain.deploy(store, model.uuid, _charm(charm), "", 0, [])
    app = placed.application
    assert (app.name, app.subordinate, app.unit_count) == (charm, True, 0)
    assert (placed.units, placed.machines) == ([], [])
    assert any(e.role == "requirer" and e.scope == "container" for e in app.charm.endpoints)
