"""Placement's status-shaped units and machines are the gateway's on the wire.

The gateway merges placement's `StatusUnits` into `ApplicationStatus` and `StatusMachines` into
`GetStatusResponse` as bytes (`gateway.status.compose`). That holds only while every field
placement sends has the number, type and cardinality of the gateway's field: checked here.
"""

from __future__ import annotations

import pytest
from google.protobuf.descriptor import Descriptor

from cmr.gateway.v1 import gateway_pb2
from cmr.placement.v1 import placement_pb2


def wire_mismatches(sent: Descriptor, read: Descriptor, path: str = "") -> list[str]:
    """Every field of `sent` that `read` would not parse as the same thing."""
    found: list[str] = []
    fields = {f.number: f for f in read.fields}
    for field in sent.fields:
        where = f"{path}{sent.name}.{field.name}"
        other = fields.get(field.number)
        if other is None:
            found.append(f"{where}: no field {field.number} in {read.full_name}")
            continue
        if (field.type, field.is_repeated) != (other.type, other.is_repeated):
            found.append(f"{where}: type or cardinality differs from {other.full_name}")
        elif field.message_type is sent:
            if other.message_type is not read:
                found.append(f"{where}: recursion differs from {other.full_name}")
        elif field.message_type is not None and other.message_type is not None:
            found.extend(wire_mismatches(field.message_type, other.message_type, f"{where}/"))
    return found


@pytest.mark.parametrize(
    ("sent", "read"),
    [
        (placement_pb2.StatusUnits.DESCRIPTOR, gateway_pb2.ApplicationStatus.DESCRIPTOR),
        (placement_pb2.StatusMachines.DESCRIPTOR, gateway_pb2.GetStatusResponse.DESCRIPTOR),
    ],
)
def test_placement_status_parts_read_as_the_gateways(sent: Descriptor, read: Descriptor) -> None:
    assert wire_mismatches(sent, read) == []


def test_a_mismatch_is_found() -> None:
    # the check itself: a unit is not a machine
    assert wire_mismatches(
        placement_pb2.StatusUnit.DESCRIPTOR, gateway_pb2.MachineStatus.DESCRIPTOR
    )


def test_merged_units_and_machines_keep_every_value() -> None:
    units = placement_pb2.StatusUnits()
    unit = units.units.add(name="mysql/0", leader=True, machine="0", address="10.0.0.1")
    unit.workload_status.current = "unknown"
    unit.agent_status.current = "idle"
    unit.subordinates.add(name="logging/0", address="10.0.0.1").agent_status.current = "idle"
    app = gateway_pb2.ApplicationStatus(name="mysql")
    app.MergeFromString(units.SerializeToString())
    (shown,) = app.units
    assert (shown.name, shown.leader, shown.machine, shown.public_address) == (
        "mysql/0",
        True,
        "0",
        "10.0.0.1",
    )
    assert (shown.workload_status.current, shown.juju_status.current) == ("unknown", "idle")
    assert [(s.name, s.juju_status.current) for s in shown.subordinates] == [("logging/0", "idle")]

    machines = placement_pb2.StatusMachines()
    machines.machines.add(
        id="0", dns_name="10.0.0.1", ip_addresses=["10.0.0.1"], instance_id="machine-0"
    ).instance_status.current = "running"
    status = gateway_pb2.GetStatusResponse()
    status.MergeFromString(machines.SerializeToString())
    (machine,) = status.machines
    assert (machine.id, machine.dns_name, list(machine.ip_addresses), machine.instance_id) == (
        "0",
        "10.0.0.1",
        ["10.0.0.1"],
        "machine-0",
    )
    assert machine.machine_status.current == "running"
