"""Placement's status-shaped reply: units nested under their principals, machines as status
shows them (the gateway merges both without reading them; see gateway/status.py)."""

from __future__ import annotations

from cmr.placement.v1 import placement_pb2 as pb
from services.placement import domain
from services.placement.server import add_status_machines, add_status_units

ROWS: list[domain.UnitRow] = [
    # by application, then number, as the store reads them
    ("logging/0", "logging", 0, "1", "10.0.0.2", "mysql/1"),
    ("logging/1", "logging", 1, "0", "10.0.0.1", "mysql/0"),
    ("logging/2", "logging", 2, "2", "10.0.0.3", "wiki/4"),
    ("logging/3", "logging", 3, "9", "", "gone/0"),
    ("mysql/0", "mysql", 0, "0", "10.0.0.1", ""),
    ("mysql/1", "mysql", 1, "1", "10.0.0.2", ""),
    ("wiki/4", "wiki", 4, "2", "10.0.0.3", ""),
]


def _shaped() -> dict[str, pb.ApplicationStatusUnits]:
    reply = pb.GetModelStatusResponse()
    leaders = domain.leaders((a, n) for _, a, n, *_ in ROWS)
    add_status_units(reply.status_units, ROWS, leaders)
    return {one.application: one for one in reply.status_units}


def test_leaders_are_the_lowest_numbered_units() -> None:
    assert domain.leaders([("a", 3), ("a", 1), ("b", 7), ("a", 2)]) == {"a": 1, "b": 7}


def test_principal_units_carry_their_subordinates_in_order() -> None:
    shaped = _shaped()
    mysql = shaped["mysql"].status.units
    assert [(u.name, u.machine, u.address, u.leader) for u in mysql] == [
        ("mysql/0", "0", "10.0.0.1", True),
        ("mysql/1", "1", "10.0.0.2", False),
    ]
    assert [[(s.name, s.machine, s.address, s.leader) for s in u.subordinates] for u in mysql] == [
        [("logging/1", "", "10.0.0.1", False)],
        [("logging/0", "", "10.0.0.2", True)],
    ]
    assert [u.name for u in shaped["wiki"].status.units] == ["wiki/4"]
    assert [s.name for s in shaped["wiki"].status.units[0].subordinates] == ["logging/2"]
    every = [u for one in shaped.values() for u in one.status.units]
    every += [s for u in every for s in u.subordinates]
    assert {(u.workload_status.current, u.agent_status.current) for u in every} == {
        ("unknown", "idle")
    }


def test_a_subordinate_application_names_its_principals_and_has_no_units_of_its_own() -> None:
    shaped = _shaped()
    assert list(shaped["logging"].status.units) == []
    assert list(shaped["logging"].principal_applications) == ["mysql", "wiki"]
    assert list(shaped["mysql"].principal_applications) == []
    # logging/3's principal is not in the model: it shows nowhere
    shown = [s.name for one in shaped.values() for u in one.status.units for s in u.subordinates]
    assert "logging/3" not in shown


def test_machines_show_their_address_and_instance() -> None:
    reply = pb.GetModelStatusResponse()
    add_status_machines(reply.status_machines.machines, [("0", "10.0.0.1"), ("7", "")])
    first, second = reply.status_machines.machines
    assert (first.id, first.dns_name, list(first.ip_addresses), first.instance_id) == (
        "0",
        "10.0.0.1",
        ["10.0.0.1"],
        "machine-0",
    )
    assert (second.dns_name, list(second.ip_addresses), second.instance_id) == (
        "",
        [],
        "machine-7",
    )
    for machine in (first, second):
        assert (machine.agent_status.current, machine.instance_status.current) == (
            "started",
            "running",
        )
        assert (machine.base_name, machine.base_channel) == domain.BASE
