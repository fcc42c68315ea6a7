"""`InMemoryPlacement`: the placement store Protocol in dictionaries, for use-case tests.

The use-case tests run on it and on the SQLite store alike, so the two cannot drift apart. A
failed outermost transaction restores the state it started from, as a rollback would.
"""

from __future__ import annotations

import copy
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass, field, replace
from typing import TypeVar

from services.common.db import Event, now_rfc3339
from services.common.engine import Conflict, Constraint
from services.placement.charm import CharmMeta
from services.placement.domain import Application, Machine, MachineRow, Model, Unit, UnitRow

K = TypeVar("K")
V = TypeVar("V")


@dataclass
class _State:
    models: dict[str, Model] = field(default_factory=dict)
    config: dict[str, dict[str, str]] = field(default_factory=dict)
    charms: dict[tuple[str, str], list[str]] = field(default_factory=dict)
    applications: dict[tuple[str, str], Application] = field(default_factory=dict)
    unit_sequences: dict[tuple[str, str], int] = field(default_factory=dict)
    machine_sequences: dict[str, int] = field(default_factory=dict)
    machines: dict[tuple[str, int], Machine] = field(default_factory=dict)
    units: dict[tuple[str, str], Unit] = field(default_factory=dict)
    events: list[Event] = field(default_factory=list)
    container_relations: dict[tuple[str, int], tuple[str, str]] = field(default_factory=dict)
    cursors: dict[str, int] = field(default_factory=dict)


def _insert(table: dict[K, V], key: K, row: V) -> None:
    """Insert a row under a key no other row has, as a primary key does."""
    if key in table:
        raise Conflict(Constraint.UNIQUE)
    table[key] = row


class InMemoryPlacement:
    """Implements `domain.Placement` (and the feed reads the tests use) without SQLite.

    What the SQLite store's constraints refuse, it refuses too (a typed `Conflict`).
    """

    def __init__(self) -> None:
        self._s = _State()
        self._depth = 0

    @contextmanager
    def transaction(self) -> Iterator[None]:
        saved = copy.deepcopy(self._s) if self._depth == 0 else None
        self._depth += 1
        try:
            yield
        except BaseException:
            if saved is not None:
                self._s = saved
            raise
        finally:
            self._depth -= 1

    def append_event(
        self,
        kind: str,
        *,
        model_uuid: str = "",
        entity: str = "",
        attributes: Mapping[str, str] | None = None,
    ) -> int:
        if self._depth == 0:
            raise RuntimeError("append_event must run inside transaction()")
        sequence = len(self._s.events) + 1
        self._s.events.append(
            Event(
                sequence=sequence,
                kind=kind,
                model_uuid=model_uuid,
                entity=entity,
                attributes=dict(attributes or {}),
                time=now_rfc3339(),
            )
        )
        return sequence

    def events_after(self, sequence: int) -> list[Event]:
        return [e for e in self._s.events if e.sequence > sequence]

    def last_sequence(self) -> int:
        return len(self._s.events)

    def close(self) -> None:
        pass

    # -- models ---------------------------------------------------------------------------

    def model(self, uuid: str) -> Model | None:
        return self._s.models.get(uuid)

    def model_named(self, owner: str, name: str) -> Model | None:
        return next(
            (m for m in self._s.models.values() if (m.owner, m.name) == (owner, name)), None
        )

    def models(self, owner: str, after: tuple[str, str] | None, limit: int) -> list[Model]:
        found = sorted(
            (m for m in self._s.models.values() if not owner or m.owner == owner),
            key=lambda m: (m.owner, m.name),
        )
        return [m for m in found if after is None or (m.owner, m.name) > after][:limit]

    def pool_indexes(self) -> set[int]:
        return {m.pool_index for m in self._s.models.values()}

    def add_model(self, model: Model) -> None:
        for other in self._s.models.values():
            if model.uuid == other.uuid or model.pool_index == other.pool_index:
                raise Conflict(Constraint.UNIQUE)
            if (model.owner, model.name) == (other.owner, other.name):
                raise Conflict(Constraint.UNIQUE)
        self._s.models[model.uuid] = model
        self._s.machine_sequences[model.uuid] = 0

    def remove_model(self, uuid: str) -> None:
        del self._s.models[uuid]
        self._s.config.pop(uuid, None)
        self._s.machine_sequences.pop(uuid, None)
        s = self._s
        s.charms = {k: v for k, v in s.charms.items() if k[0] != uuid}
        s.applications = {k: v for k, v in s.applications.items() if k[0] != uuid}
        s.unit_sequences = {k: v for k, v in s.unit_sequences.items() if k[0] != uuid}
        s.machines = {k: v for k, v in s.machines.items() if k[0] != uuid}
        s.units = {k: v for k, v in s.units.items() if k[0] != uuid}
        s.container_relations = {k: v for k, v in s.container_relations.items() if k[0] != uuid}

    def config(self, uuid: str) -> dict[str, str]:
        return dict(self._s.config.get(uuid, {}))

    def set_config(self, uuid: str, values: Mapping[str, str]) -> None:
        self._s.config.setdefault(uuid, {}).update(values)

    # -- charms and applications ----------------------------------------------------------

    def charm_revision(self, uuid: str, meta: CharmMeta, text: str) -> int:
        texts = self._s.charms.setdefault((uuid, meta.name), [])
        if text not in texts:
            texts.append(text)
        return texts.index(text) + 1

    def application(self, uuid: str, name: str) -> Application | None:
        app = self._s.applications.get((uuid, name))
        if app is None:
            return None
        count = sum(
            1 for (u, _), unit in self._s.units.items() if u == uuid and unit.application == name
        )
        return replace(app, unit_count=count)

    def add_application(self, app: Application) -> None:
        _insert(self._s.applications, (app.model_uuid, app.name), app)

    def remove_application(self, uuid: str, name: str) -> None:
        del self._s.applications[(uuid, name)]

    def next_unit_number(self, uuid: str, application: str) -> int:
        number = self._s.unit_sequences.get((uuid, application), 0)
        self._s.unit_sequences[(uuid, application)] = number + 1
        return number

    # -- machines and units ---------------------------------------------------------------

    def next_machine_number(self, uuid: str) -> int:
        number = self._s.machine_sequences[uuid]
        self._s.machine_sequences[uuid] = number + 1
        return number

    def take_machine_numbers(self, uuid: str, count: int) -> tuple[Model, int] | None:
        model = self._s.models.get(uuid)
        if model is None:
            return None
        first = self._s.machine_sequences[uuid]
        self._s.machine_sequences[uuid] = first + count
        return model, first

    def add_machine(self, uuid: str, machine: Machine) -> None:
        _insert(self._s.machines, (uuid, int(machine.id)), machine)

    def machine(self, uuid: str, machine_id: str) -> Machine | None:
        return self._s.machines.get((uuid, int(machine_id)))

    def remove_machine(self, uuid: str, machine_id: str) -> None:
        self._s.machines.pop((uuid, int(machine_id)), None)

    def add_unit(self, uuid: str, unit: Unit) -> None:
        _insert(self._s.units, (uuid, unit.name), unit)

    def _with_address(self, uuid: str, unit: Unit) -> Unit:
        # A unit's address is its machine's, as the SQLite store reads it.
        return replace(unit, address=self._s.machines[(uuid, int(unit.machine))].address)

    def _units(self, uuid: str) -> list[Unit]:
        units = [self._with_address(m, u) for (m, _), u in self._s.units.items() if m == uuid]
        return sorted(units, key=lambda u: (u.application, u.number))

    def unit(self, uuid: str, name: str) -> Unit | None:
        found = self._s.units.get((uuid, name))
        return None if found is None else self._with_address(uuid, found)

    def units_of(self, uuid: str, application: str) -> list[Unit]:
        return [u for u in self._units(uuid) if u.application == application]

    def units_on(self, uuid: str, machine_id: str) -> list[Unit]:
        return [u for u in self._units(uuid) if u.machine == machine_id]

    def subordinates_of(self, uuid: str, principal: str) -> list[Unit]:
        return [u for u in self._units(uuid) if u.principal == principal]

    def remove_unit(self, uuid: str, name: str) -> None:
        self._s.units.pop((uuid, name), None)

    def status(self, uuid: str) -> tuple[list[Machine], list[Application], list[Unit]]:
        machines = [m for (u, n), m in sorted(self._s.machines.items()) if u == uuid]
        apps = [
            a
            for (u, name), _ in sorted(self._s.applications.items())
            if u == uuid and (a := self.application(uuid, name)) is not None
        ]
        return machines, apps, self._units(uuid)

    def status_rows(self, uuid: str) -> tuple[list[MachineRow], list[Application], list[UnitRow]]:
        machines, apps, units = self.status(uuid)
        return (
            [(m.id, m.address) for m in machines],
            apps,
            [(u.name, u.application, u.number, u.machine, u.address, u.principal) for u in units],
        )

    def add_container_relation(self, uuid: str, relation_id: int, app_a: str, app_b: str) -> None:
        self._s.container_relations.setdefault((uuid, relation_id), (app_a, app_b))

    def remove_container_relation(self, uuid: str, relation_id: int) -> tuple[str, str] | None:
        return self._s.container_relations.pop((uuid, relation_id), None)

    def container_partners(self, uuid: str, application: str) -> set[str]:
        out: set[str] = set()
        for (model, _), (a, b) in self._s.container_relations.items():
            if model == uuid and application in (a, b):
                out.add(b if a == application else a)
        return out

    def cursor(self, source: str) -> int:
        return self._s.cursors.get(source, 0)

    def set_cursor(self, source: str, sequence: int) -> None:
        self._s.cursors[source] = sequence
