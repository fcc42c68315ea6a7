"""Placement rules and use cases: models, applications, machines, units. No gRPC, no SQL.

Each use case runs in one store transaction, checks everything before it writes anything,
appends its change-feed events in that transaction and returns the last sequence.

Rules kept here:
- unit numbers come from a per-application counter from 0 and are never reused, not even when
  the application is removed and deployed again under the same name (the counter belongs to the
  model); machine numbers come from a per-model counter, likewise;
- each model owns the lowest free /16 of 10.0.0.0/8 (`10.<k>.0.0/16`, k >= 1); machine n has
  the address `10.<k>.0.0 + n + 1`; a unit has its machine's address (a subordinate unit, its
  principal's). Addresses are plain data: nothing connects to them;
- a machine created for a unit (by `deploy` or `add-unit` without `--to`) is removed in the same
  transaction as its last unit (whichever unit that is, including one placed there later with
  `--to`), whether it goes by `remove-unit`, `remove-application` or its principal's removal;
  machines made with `add-machine` stay until `remove-machine`, even when the units placed on
  them with `--to` go. cmr has no `--keep-machine`;
- removing a principal unit removes its subordinate units first; a subordinate
  unit itself is removed only with its relation or its application, never by `remove-unit`;
- a subordinate application has no units of its own: deploying it with units or placement, or
  adding units to it, is refused;
- a container-scoped relation (learned from the relations feed) between a principal and a
  subordinate gives each principal unit exactly one unit of the subordinate, on its machine, with
  its address, numbered from the subordinate's counter; a new principal unit gets one at once;
  when the last container relation between the two applications goes, the subordinate units
  under that principal application go (units under other principals stay). A container
  relation between two subordinates makes no units;
- the leader of an application is its lowest-numbered live unit;
- a request that names several things (units, machines) checks them all before it changes any,
  and names given twice count once.
"""

from __future__ import annotations

import ipaddress
import uuid as uuidlib
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from typing import Final, Protocol, TypeAlias

from kernel import errors
from kernel.names import MACHINE_ID, MAX_MODEL_NAME, MODEL_NAME, UNIT_NAME, USER_NAME
from services.common import paging
from services.common.events import EventStore
from services.common.paging import DEFAULT_PAGE as DEFAULT_PAGE
from services.common.paging import MAX_PAGE as MAX_PAGE
from services.common.paging import encode_token as encode_token
from services.common.paging import page_size as page_size
from services.placement.charm import CharmMeta, check_application_name, parse_metadata

POOL_COUNT: Final = 255
"""Models can hold the /16s 10.1.0.0 to 10.255.0.0 at once."""
MAX_HOSTS: Final = 65533
"""Machines per model: the /16 minus network, broadcast and the gateway-less first host."""
CONFIG_DEFAULTS: Final[Mapping[str, str]] = {"egress-subnets": ""}
BASE: Final = ("ubuntu", "22.04")


@dataclass(frozen=True, kw_only=True, slots=True)
class Model:
    """A model: a namespace of applications, machines and units owned by a user."""

    uuid: str
    """Random UUID; the key other contexts use."""
    name: str
    """Unique per owner."""
    owner: str
    """Owner's user name."""
    pool_index: int
    """k of the model's address pool `10.<k>.0.0/16`."""
    created_at: str
    """RFC 3339 UTC."""
    life: str = "alive"
    """`alive` or `dying`."""

    @property
    def address_pool(self) -> str:
        """The model's CIDR."""
        return f"10.{self.pool_index}.0.0/16"


@dataclass(frozen=True, kw_only=True, slots=True)
class Application:
    """A deployed charm."""

    model_uuid: str
    """Owning model."""
    name: str
    """Unique within the model."""
    charm: CharmMeta
    """Its charm's metadata."""
    charm_revision: int
    """Revision of the charm within the model."""
    unit_count: int = 0
    """Live units."""
    life: str = "alive"
    """`alive` or `dying`."""
    status: str = "unknown"
    """Workload status; `unknown` until the workload reports."""

    @property
    def subordinate(self) -> bool:
        """Subordinates run beside a principal's units and have none of their own."""
        return self.charm.subordinate


@dataclass(frozen=True, kw_only=True, slots=True)
class Machine:
    """A machine of a model."""

    id: str
    """Decimal number, never reused in a model."""
    address: str
    """From the model's pool."""
    auto: bool = False
    """Created for a unit: removed with its last unit."""


@dataclass(frozen=True, kw_only=True, slots=True)
class Unit:
    """A unit of an application."""

    name: str
    """`<application>/<n>`."""
    application: str
    """Application name."""
    number: int
    """n of the name."""
    machine: str
    """Machine id it runs on."""
    address: str
    """Its machine's address."""
    principal: str = ""
    """For a subordinate unit, the principal unit's name."""
    leader: bool = False
    """Lowest-numbered unit of its application."""


MachineRow: TypeAlias = tuple[str, str]
"""A machine as status reads it: id, address."""

UnitRow: TypeAlias = tuple[str, str, int, str, str, str]
"""A unit as status reads it: name, application, number, machine id, address, principal."""


@dataclass(frozen=True, kw_only=True, slots=True)
class StatusRows:
    """A model's status as plain rows: a model has tens of thousands of units."""

    model: Model
    """The model."""
    machines: Sequence[MachineRow]
    """By number."""
    applications: Sequence[Application]
    """By name."""
    units: Sequence[UnitRow]
    """By application, then number."""
    leaders: Mapping[str, int]
    """Each application's leader's number."""
    config: Mapping[str, str] = field(default_factory=dict)
    """Model configuration, defaults included."""


@dataclass(frozen=True, kw_only=True, slots=True)
class ModelStatus:
    """Everything placement knows of one model."""

    model: Model
    """The model."""
    machines: Sequence[Machine]
    """By number."""
    applications: Sequence[Application]
    """By name."""
    units: Sequence[Unit]
    """By application, then number."""
    config: Mapping[str, str] = field(default_factory=dict)
    """Model configuration, defaults included."""


@dataclass(frozen=True, kw_only=True, slots=True)
class Placed:
    """What a deploy or add-unit created."""

    application: Application
    """The application after the change."""
    units: Sequence[Unit]
    """New units."""
    machines: Sequence[Machine]
    """New machines."""
    sequence: int
    """Feed sequence of the last event written."""


class Placement(EventStore, Protocol):
    """The placement store (SQLite in production)."""

    def model(self, uuid: str) -> Model | None:
        """A model by UUID."""

    def model_named(self, owner: str, name: str) -> Model | None:
        """A model by owner and name."""

    def models(self, owner: str, after: tuple[str, str] | None, limit: int) -> list[Model]:
        """Models ordered by (owner, name), after a key, at most `limit`."""

    def pool_indexes(self) -> set[int]:
        """Address pools in use."""

    def add_model(self, model: Model) -> None:
        """Insert a model."""

    def remove_model(self, uuid: str) -> None:
        """Delete a model and everything in it."""

    def config(self, uuid: str) -> dict[str, str]:
        """Stored configuration keys of a model."""

    def set_config(self, uuid: str, values: Mapping[str, str]) -> None:
        """Store configuration keys."""

    def charm_revision(self, uuid: str, meta: CharmMeta, text: str) -> int:
        """Revision of this charm text in the model, adding it as the next revision if new."""

    def application(self, uuid: str, name: str) -> Application | None:
        """An application with its live unit count."""

    def add_application(self, app: Application) -> None:
        """Insert an application."""

    def remove_application(self, uuid: str, name: str) -> None:
        """Delete an application row."""

    def next_unit_number(self, uuid: str, application: str) -> int:
        """Take the next unit number of the application name; it outlives the application."""

    def next_machine_number(self, uuid: str) -> int:
        """Take the model's next machine number."""

    def take_machine_numbers(self, uuid: str, count: int) -> tuple[Model, int] | None:
        """Take the model's next `count` machine numbers: the model and the first number.

        None when there is no such model. One statement, where a lookup and a take are two.
        """

    def add_machine(self, uuid: str, machine: Machine) -> None:
        """Insert a machine."""

    def machine(self, uuid: str, machine_id: str) -> Machine | None:
        """A machine."""

    def remove_machine(self, uuid: str, machine_id: str) -> None:
        """Delete a machine."""

    def add_unit(self, uuid: str, unit: Unit) -> None:
        """Insert a unit."""

    def unit(self, uuid: str, name: str) -> Unit | None:
        """A unit."""

    def units_of(self, uuid: str, application: str) -> list[Unit]:
        """Units of an application, by number."""

    def units_on(self, uuid: str, machine_id: str) -> list[Unit]:
        """Units on a machine, by application then number."""

    def subordinates_of(self, uuid: str, principal: str) -> list[Unit]:
        """Subordinate units whose principal is the unit `principal`, by application, number."""

    def remove_unit(self, uuid: str, name: str) -> None:
        """Delete a unit."""

    def status(self, uuid: str) -> tuple[list[Machine], list[Application], list[Unit]]:
        """Every machine, application and unit of a model, one query each."""

    def status_rows(self, uuid: str) -> tuple[list[MachineRow], list[Application], list[UnitRow]]:
        """As `status`, machines and units as plain rows (by number; by application, number)."""

    def add_container_relation(self, uuid: str, relation_id: int, app_a: str, app_b: str) -> None:
        """Record a container-scoped relation between two applications (idempotent)."""

    def remove_container_relation(self, uuid: str, relation_id: int) -> tuple[str, str] | None:
        """Forget a container-scoped relation; its two applications, or None if unknown."""

    def container_partners(self, uuid: str, application: str) -> set[str]:
        """The applications in a container-scoped relation with `application`."""

    def cursor(self, source: str) -> int:
        """The last sequence of `source`'s feed applied (0 for none)."""

    def set_cursor(self, source: str, sequence: int) -> None:
        """Record that `source`'s feed is applied up to `sequence`."""


# -- names and values ------------------------------------------------------------------------


def check_model_name(name: str) -> str:
    """Return a valid model name or raise Invalid."""
    if not MODEL_NAME.fullmatch(name) or len(name) > MAX_MODEL_NAME:
        raise errors.Invalid(
            f'model name "{name}" not valid: use lower-case letters, digits and hyphens, '
            f"at most {MAX_MODEL_NAME} characters"
        )
    return name


def check_owner(owner: str) -> str:
    """Return a valid user name or raise Invalid."""
    if not USER_NAME.fullmatch(owner):
        raise errors.Invalid(f'user name "{owner}" not valid')
    return owner


def parse_unit_name(name: str) -> tuple[str, int]:
    """Split `app/n`, or raise Invalid."""
    match = UNIT_NAME.fullmatch(name)
    if not match:
        raise errors.Invalid(f'unit name "{name}" not valid')
    return match["app"], int(match["n"])


def check_machine_id(machine_id: str) -> str:
    """Return a valid machine id or raise Invalid."""
    if not MACHINE_ID.fullmatch(machine_id):
        raise errors.Invalid(f'machine id "{machine_id}" not valid: use a machine number')
    return machine_id


def machine_address(pool_index: int, number: int) -> str:
    """The address of machine `number` in pool `10.<pool_index>.0.0/16`."""
    if number + 1 > MAX_HOSTS:
        raise errors.Refused(f"the model's address pool is exhausted ({MAX_HOSTS} machines)")
    host = number + 1
    return f"10.{pool_index}.{host >> 8}.{host & 0xFF}"


def free_pool_index(used: set[int]) -> int:
    """The lowest free address pool index, or Refused."""
    for index in range(1, POOL_COUNT + 1):
        if index not in used:
            return index
    raise errors.Refused(
        f"no free address pool: {POOL_COUNT} models exist; destroy one to add another"
    )


def check_config(values: Mapping[str, str]) -> dict[str, str]:
    """Validate model config keys and values; return them normalised.

    Raises:
        Invalid: an unknown key, or `egress-subnets` that is not a comma-separated CIDR list.
    """
    out: dict[str, str] = {}
    for key, value in values.items():
        if key not in CONFIG_DEFAULTS:
            raise errors.Invalid(f'unknown model config key "{key}"')
        cidrs = [c.strip() for c in value.split(",") if c.strip()]
        for cidr in cidrs:
            try:
                ipaddress.ip_network(cidr, strict=False)
            except ValueError:
                raise errors.Invalid(
                    f'invalid egress-subnets value "{cidr}": not a CIDR'
                ) from None
        out[key] = ",".join(cidrs)
    return out


def decode_token(token: str) -> tuple[str, str] | None:
    """Decode a ListModels page token, the last (owner, name) of a page; empty for the first."""
    key = paging.decode_token(token, 2)
    return None if key is None else (key[0], key[1])


def parse_placements(directives: Sequence[str], count: int) -> list[str]:
    """Validate `--to` directives: machine ids, at most one per unit."""
    if len(directives) > count:
        raise errors.Invalid(
            f"{len(directives)} placement directives for {count} unit(s): "
            "give at most one per unit"
        )
    return [check_machine_id(d.strip()) for d in directives]


# -- use cases -------------------------------------------------------------------------------


def _model(store: Placement, uuid: str) -> Model:
    if not uuid:
        raise errors.Invalid("model_uuid is required")
    model = store.model(uuid)
    if model is None:
        raise errors.NotFound(f'model "{uuid}" not found')
    return model


def add_model(
    store: Placement,
    name: str,
    owner: str,
    *,
    now: str,
    new_uuid: Callable[[], str] = lambda: str(uuidlib.uuid4()),
) -> tuple[Model, int]:
    """Create a model with a fresh address pool."""
    check_model_name(name)
    check_owner(owner)
    with store.transaction():
        if store.model_named(owner, name) is not None:
            raise errors.AlreadyExists(f'model "{owner}/{name}" already exists')
        model = Model(
            uuid=new_uuid(),
            name=name,
            owner=owner,
            pool_index=free_pool_index(store.pool_indexes()),
            created_at=now,
        )
        store.add_model(model)
        seq = store.append_event(
            "model-added",
            model_uuid=model.uuid,
            entity=name,
            attributes={"owner": owner, "address-pool": model.address_pool},
        )
        return model, seq


def get_model(store: Placement, uuid: str, owner: str, name: str) -> Model:
    """A model by UUID, or by owner and name."""
    if uuid:
        return _model(store, uuid)
    if not owner or not name:
        raise errors.Invalid("give a model uuid, or an owner and a name")
    model = store.model_named(owner, name)
    if model is None:
        raise errors.NotFound(f'model "{owner}/{name}" not found')
    return model


def list_models(store: Placement, owner: str, size: int, token: str) -> tuple[list[Model], str]:
    """One page of models ordered by owner then name, and the next page's token."""
    limit = page_size(size)
    after = decode_token(token)
    found = store.models(owner, after, limit + 1)
    more = len(found) > limit
    found = found[:limit]
    next_token = encode_token((found[-1].owner, found[-1].name)) if more else ""
    return found, next_token


def destroy_model(store: Placement, uuid: str) -> int:
    """Remove a model and everything in it, freeing its address pool."""
    with store.transaction():
        model = _model(store, uuid)
        store.remove_model(uuid)
        return store.append_event(
            "model-removed", model_uuid=uuid, entity=model.name, attributes={"owner": model.owner}
        )


def get_config(store: Placement, uuid: str) -> dict[str, str]:
    """A model's configuration with defaults filled in."""
    _model(store, uuid)
    return {**CONFIG_DEFAULTS, **store.config(uuid)}


def set_config(
    store: Placement, uuid: str, values: Mapping[str, str]
) -> tuple[dict[str, str], int]:
    """Validate and store configuration keys; nothing changes if any is bad."""
    with store.transaction():
        _model(store, uuid)
        clean = check_config(values)
        store.set_config(uuid, clean)
        seq = store.append_event("model-config-changed", model_uuid=uuid, attributes=clean)
        return {**CONFIG_DEFAULTS, **store.config(uuid)}, seq


def _new_machine(store: Placement, model: Model, *, auto: bool) -> tuple[Machine, int]:
    return _machine_numbered(store, model, store.next_machine_number(model.uuid), auto=auto)


def _machine_numbered(
    store: Placement, model: Model, number: int, *, auto: bool
) -> tuple[Machine, int]:
    machine = Machine(id=str(number), address=machine_address(model.pool_index, number), auto=auto)
    store.add_machine(model.uuid, machine)
    seq = store.append_event(
        "machine-added",
        model_uuid=model.uuid,
        entity=machine.id,
        attributes={"address": machine.address},
    )
    return machine, seq


def _place_units(
    store: Placement, model: Model, app: Application, count: int, directives: Sequence[str]
) -> tuple[list[Unit], list[Machine], int]:
    targets = parse_placements(directives, count)
    existing = []
    for machine_id in targets:
        machine = store.machine(model.uuid, machine_id)
        if machine is None:
            raise errors.NotFound(f"machine {machine_id} not found")
        existing.append(machine)
    units: list[Unit] = []
    machines: list[Machine] = []
    seq = 0
    for index in range(count):
        if index < len(existing):
            machine = existing[index]
        else:
            machine, seq = _new_machine(store, model, auto=True)
            machines.append(machine)
        number = store.next_unit_number(model.uuid, app.name)
        unit = Unit(
            name=f"{app.name}/{number}",
            application=app.name,
            number=number,
            machine=machine.id,
            address=machine.address,
        )
        store.add_unit(model.uuid, unit)
        units.append(unit)
        seq = store.append_event(
            "unit-added",
            model_uuid=model.uuid,
            entity=unit.name,
            attributes={"application": app.name, "machine": machine.id, "principal": ""},
        )
    return units, machines, seq


def deploy(
    store: Placement,
    uuid: str,
    metadata_text: str,
    application: str,
    num_units: int,
    directives: Sequence[str],
) -> Placed:
    """Deploy a charm as a new application with its units."""
    meta = parse_metadata(metadata_text)
    name = check_application_name(application or meta.name)
    if num_units < 0:
        raise errors.Invalid(f"num_units must not be negative, got {num_units}")
    if meta.subordinate and (num_units > 0 or directives):
        raise errors.Invalid("cannot use --num-units or --to with subordinate application")
    count = 0 if meta.subordinate else (num_units or 1)
    with store.transaction():
        model = _model(store, uuid)
        if store.application(uuid, name) is not None:
            raise errors.AlreadyExists(f'application "{name}" already exists')
        revision = store.charm_revision(uuid, meta, metadata_text)
        app = Application(model_uuid=uuid, name=name, charm=meta, charm_revision=revision)
        store.add_application(app)
        seq = store.append_event(
            "application-added",
            model_uuid=uuid,
            entity=name,
            attributes={"charm": meta.name, "subordinate": str(meta.subordinate).lower()},
        )
        units, machines, last = _place_units(store, model, app, count, directives)
        after = store.application(uuid, name)
        assert after is not None  # noqa: S101 - inserted above in this transaction
        return Placed(
            application=after,
            units=_with_leaders(store, uuid, name, units),
            machines=machines,
            sequence=last or seq,
        )


def get_application(store: Placement, uuid: str, name: str) -> Application:
    """An application, or NotFound."""
    _model(store, uuid)
    app = store.application(uuid, name)
    if app is None:
        raise errors.NotFound(f'application "{name}" not found')
    return app


def add_unit(
    store: Placement, uuid: str, application: str, num_units: int, directives: Sequence[str]
) -> Placed:
    """Add units to a principal application."""
    if num_units < 0:
        raise errors.Invalid(f"num_units must not be negative, got {num_units}")
    with store.transaction():
        model = _model(store, uuid)
        app = get_application(store, uuid, application)
        if app.subordinate:
            raise errors.Refused(
                f'cannot add unit to application "{application}": application is a subordinate'
            )
        units, machines, seq = _place_units(store, model, app, num_units or 1, directives)
        for partner in sorted(store.container_partners(uuid, application)):
            seq = reconcile_subordinates(store, uuid, partner) or seq
        after = store.application(uuid, application)
        assert after is not None  # noqa: S101 - checked above in this transaction
        return Placed(
            application=after,
            units=_with_leaders(store, uuid, application, units),
            machines=machines,
            sequence=seq,
        )


def _with_leaders(
    store: Placement, uuid: str, application: str, new: Sequence[Unit]
) -> list[Unit]:
    """The new units, each marked leader if it is the lowest-numbered of the application."""
    marked = {u.name: u for u in mark_leaders(store.units_of(uuid, application))}
    return [marked[u.name] for u in new]


def _drop_unit(store: Placement, uuid: str, unit: Unit) -> int:
    """Remove a unit, its subordinates before it, and its machine if made for it and now empty."""
    for sub in store.subordinates_of(uuid, unit.name):
        _drop_unit(store, uuid, sub)
    store.remove_unit(uuid, unit.name)
    seq = store.append_event(
        "unit-removed",
        model_uuid=uuid,
        entity=unit.name,
        attributes={
            "application": unit.application,
            "machine": unit.machine,
            "principal": unit.principal,
        },
    )
    machine = store.machine(uuid, unit.machine)
    if machine is not None and machine.auto and not store.units_on(uuid, machine.id):
        store.remove_machine(uuid, machine.id)
        seq = store.append_event("machine-removed", model_uuid=uuid, entity=machine.id)
    return seq


def remove_units(store: Placement, uuid: str, names: Sequence[str]) -> int:
    """Remove units; every name is checked before any is removed."""
    if not names:
        raise errors.Invalid("no units specified")
    names = list(dict.fromkeys(names))
    for name in names:
        parse_unit_name(name)
    with store.transaction():
        _model(store, uuid)
        units = []
        for name in names:
            unit = store.unit(uuid, name)
            if unit is None:
                raise errors.NotFound(f'unit "{name}" not found')
            if unit.principal:
                raise errors.Refused(
                    f'removing unit {name} failed: unit "{name}" is a subordinate, to remove use '
                    f'remove-relation. Note: this will remove all units of "{unit.application}"'
                )
            units.append(unit)
        seq = 0
        for unit in units:
            seq = _drop_unit(store, uuid, unit)
        return seq


def remove_application(store: Placement, uuid: str, name: str) -> tuple[list[str], int]:
    """Remove an application and its units (and the machines made for them)."""
    with store.transaction():
        get_application(store, uuid, name)
        units = store.units_of(uuid, name)
        for unit in units:
            _drop_unit(store, uuid, unit)
        store.remove_application(uuid, name)
        seq = store.append_event("application-removed", model_uuid=uuid, entity=name)
        return [u.name for u in units], seq


def add_machines(store: Placement, uuid: str, count: int) -> tuple[list[Machine], int]:
    """Add empty machines; they stay until removed."""
    if count < 0:
        raise errors.Invalid(f"count must not be negative, got {count}")
    if not uuid:
        raise errors.Invalid("model_uuid is required")
    wanted = count or 1
    with store.transaction():
        taken = store.take_machine_numbers(uuid, wanted)
        if taken is None:
            raise errors.NotFound(f'model "{uuid}" not found')
        model, first = taken
        machines = []
        seq = 0
        for number in range(first, first + wanted):
            machine, seq = _machine_numbered(store, model, number, auto=False)
            machines.append(machine)
        return machines, seq


def remove_machines(store: Placement, uuid: str, ids: Sequence[str], *, force: bool) -> int:
    """Remove machines; refused while units live on one, unless forced (then they go too)."""
    if not ids:
        raise errors.Invalid("no machines specified")
    ids = list(dict.fromkeys(ids))
    for machine_id in ids:
        check_machine_id(machine_id)
    with store.transaction():
        _model(store, uuid)
        hosted: dict[str, list[Unit]] = {}
        for machine_id in ids:
            if store.machine(uuid, machine_id) is None:
                raise errors.NotFound(f"machine {machine_id} not found")
            hosted[machine_id] = store.units_on(uuid, machine_id)
            if hosted[machine_id] and not force:
                names = ", ".join(f'"{u.name}"' for u in hosted[machine_id])
                raise errors.Refused(
                    f"machine {machine_id} is hosting units {names}; "
                    "remove them first or pass --force"
                )
        seq = 0
        for machine_id, units in hosted.items():
            # Subordinates go before their principals, as `_drop_unit` does.
            for unit in sorted(units, key=lambda u: u.principal == ""):
                store.remove_unit(uuid, unit.name)
                store.append_event(
                    "unit-removed",
                    model_uuid=uuid,
                    entity=unit.name,
                    attributes={
                        "application": unit.application,
                        "machine": machine_id,
                        "principal": unit.principal,
                    },
                )
            store.remove_machine(uuid, machine_id)
            seq = store.append_event("machine-removed", model_uuid=uuid, entity=machine_id)
        return seq


def model_status(store: Placement, uuid: str, application: str = "") -> ModelStatus:
    """Machines, applications and units of a model; leaders marked.

    With `application`, only that application's units (no machines, no applications).
    """
    model = _model(store, uuid)
    if application:
        machines: list[Machine] = []
        applications: list[Application] = []
        units = store.units_of(uuid, application)
    else:
        machines, applications, units = store.status(uuid)
    return ModelStatus(
        model=model,
        machines=machines,
        applications=applications,
        units=mark_leaders(units),
        config={**CONFIG_DEFAULTS, **store.config(uuid)},
    )


def status_rows(store: Placement, uuid: str) -> StatusRows:
    """A model's status as plain rows, for the status reply (tens of thousands of units)."""
    model = _model(store, uuid)
    machines, applications, units = store.status_rows(uuid)
    return StatusRows(
        model=model,
        machines=machines,
        applications=applications,
        units=units,
        leaders=leaders((application, number) for _, application, number, *_ in units),
        config={**CONFIG_DEFAULTS, **store.config(uuid)},
    )


def leaders(units: Iterable[tuple[str, int]]) -> dict[str, int]:
    """The leader of each application: its lowest-numbered unit. From (application, number)."""
    lowest: dict[str, int] = {}
    for application, number in units:
        if number < lowest.get(application, number + 1):
            lowest[application] = number
    return lowest


def mark_leaders(units: Sequence[Unit]) -> list[Unit]:
    """Mark the leader of each application (see `leaders`)."""
    lowest = leaders((u.application, u.number) for u in units)
    # only the leaders and any unit marked wrongly are new objects: a model has tens of
    # thousands of units and a handful of leaders
    return [
        u if u.leader == (lowest[u.application] == u.number) else replace(u, leader=not u.leader)
        for u in units
    ]


# -- subordinate units ------------------------------------------------------------------------


def reconcile_subordinates(store: Placement, uuid: str, application: str) -> int:
    """Give a subordinate application exactly the units its container relations call for.

    One unit under each unit of every principal application it has a container relation with
    (created in unit-number order of the principals, by application name); its units under
    principals it no longer has such a relation with go. A principal application, or one that
    is gone, is left alone.

    Returns:
        The sequence of the last event, or 0 when nothing changed.
    """
    sub = store.application(uuid, application)
    if sub is None or not sub.subordinate:
        return 0
    principals: list[Application] = []
    for name in sorted(store.container_partners(uuid, application)):
        other = store.application(uuid, name)
        if other is not None and not other.subordinate:
            principals.append(other)
    wanted = {p.name for p in principals}
    have: dict[str, Unit] = {u.principal: u for u in store.units_of(uuid, application)}
    seq = 0
    for unit in list(have.values()):
        host = store.unit(uuid, unit.principal)
        if host is None or host.application not in wanted:
            seq = _drop_unit(store, uuid, unit)
            del have[unit.principal]
    for principal in principals:
        for host in store.units_of(uuid, principal.name):
            if host.name in have:
                continue
            number = store.next_unit_number(uuid, application)
            unit = Unit(
                name=f"{application}/{number}",
                application=application,
                number=number,
                machine=host.machine,
                address=host.address,
                principal=host.name,
            )
            store.add_unit(uuid, unit)
            have[host.name] = unit
            seq = store.append_event(
                "unit-added",
                model_uuid=uuid,
                entity=unit.name,
                attributes={
                    "application": application,
                    "machine": host.machine,
                    "principal": host.name,
                },
            )
    return seq


def relations_event_matters(kind: str, attributes: Mapping[str, str]) -> bool:
    """Whether a relations event can change placement: a container relation added or removed."""
    return attributes.get("scope") == "container" and kind in (
        "relation-added",
        "relation-removed",
    )


def apply_relations_event(
    store: Placement,
    source: str,
    sequence: int,
    kind: str,
    model_uuid: str,
    entity: str,
    attributes: Mapping[str, str],
) -> int:
    """Apply one event of the relations feed, idempotently, moving the cursor with it.

    A container-scoped `relation-added` is recorded and its subordinate side gets its units; a
    `relation-removed` of one is forgotten and the subordinate units it alone called for go.
    Everything happens in one transaction with the cursor, so a crash between the event and
    the units leaves neither, and a restart makes them exactly once.

    Returns:
        The sequence of the last event written, or 0.
    """
    seq = 0
    with store.transaction():
        if sequence <= store.cursor(source):
            return 0
        if relations_event_matters(kind, attributes) and store.model(model_uuid) is not None:
            apps: tuple[str, ...] = ()
            if kind == "relation-added":
                named = [a for a in attributes.get("applications", "").split(",") if a]
                if len(named) == 2:
                    store.add_container_relation(model_uuid, int(entity), named[0], named[1])
                    apps = (named[0], named[1])
            elif kind == "relation-removed":
                apps = store.remove_container_relation(model_uuid, int(entity)) or ()
            for app in sorted(set(apps)):
                seq = reconcile_subordinates(store, model_uuid, app) or seq
        store.set_cursor(source, sequence)
    return seq
