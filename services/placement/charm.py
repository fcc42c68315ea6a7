"""Charm metadata (`metadata.yaml`): parsing and Juju's rules; each error names its field."""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Final

import yaml

from kernel import errors
from kernel.names import APPLICATION_NAME, ENDPOINT_NAME
from kernel.relation import JUJU_INFO, Role, Scope

MAX_METADATA_BYTES: Final = 1024 * 1024
MAX_LIMIT: Final = 2**31 - 1
"""Largest `limit` the wire format (int32) can carry."""
ENDPOINT_KEYS: Final = frozenset({"interface", "scope", "limit", "optional"})


SECTIONS: Final[Mapping[str, Role]] = {
    "provides": Role.PROVIDER,
    "requires": Role.REQUIRER,
    "peers": Role.PEER,
}


@dataclass(frozen=True, kw_only=True, slots=True)
class Endpoint:
    """One relation endpoint of a charm."""

    name: str
    """Endpoint name, unique within the charm across provides, requires and peers."""
    role: Role
    """Provider, requirer or peer."""
    interface: str
    """Interface name, compared as an exact string when relating."""
    scope: Scope = Scope.GLOBAL
    """Container scope pairs units only within one machine (subordinates)."""
    limit: int = 0
    """Maximum number of relations on this endpoint; 0 means unlimited."""
    optional: bool = False
    """Informational only, as in Juju."""
    implicit: bool = False
    """True for the `juju-info` provider every application has without declaring it."""


@dataclass(frozen=True, kw_only=True, slots=True)
class CharmMeta:
    """A validated charm metadata document."""

    name: str
    """Charm name; also the default application name."""
    subordinate: bool
    """Subordinates have no units of their own; they need a container-scoped requirer."""
    endpoints: tuple[Endpoint, ...]
    """Declared endpoints (provides, requires, peers, each in document order), then the
    implicit `juju-info` provider."""
    summary: str = ""
    """One-line summary, or empty."""


def check_application_name(name: str) -> str:
    """Return `name` if it is a valid application name, else raise Juju's error.

    Raises:
        Invalid: with Juju's messages for the common mistakes (juju/names@v5:application.go).
    """
    if APPLICATION_NAME.fullmatch(name):
        return name
    if any(c.isupper() for c in name):
        raise errors.Invalid(f'invalid application name "{name}", unexpected uppercase character')
    if re.fullmatch(r"[a-z][a-z0-9-]*-[0-9]+", name):
        raise errors.Invalid(
            f'invalid application name "{name}", unexpected number(s) found after last hyphen'
        )
    bad = next((c for c in name if not (c.islower() or c.isdigit() or c == "-")), None)
    if name and name[0].isalpha() and bad is not None:
        raise errors.Invalid(f'invalid application name "{name}", unexpected character {bad}')
    raise errors.Invalid(f'application name "{name}" not valid')


def _reserved(name: str) -> bool:
    return name == "juju" or name.startswith("juju-")


def _endpoint(charm: str, section: str, name: object, spec: object) -> Endpoint:
    where = f"{section}.{name}"
    if not isinstance(name, str) or not ENDPOINT_NAME.fullmatch(name):
        raise errors.Invalid(f'charm "{charm}": endpoint name "{name}" in {section} not valid')
    role = SECTIONS[section]
    if isinstance(spec, str):
        spec = {"interface": spec}
    if not isinstance(spec, dict):
        raise errors.Invalid(
            f'charm "{charm}": {where} must be an interface name or a mapping with "interface"'
        )
    unknown = sorted(str(k) for k in spec if k not in ENDPOINT_KEYS)
    if unknown:
        raise errors.Invalid(f'charm "{charm}": unknown key "{unknown[0]}" in {where}')
    interface = spec.get("interface")
    if interface is None or interface == "":
        raise errors.Invalid(f'charm "{charm}": {where} has no "interface"')
    if not isinstance(interface, str):
        raise errors.Invalid(f'charm "{charm}": {where} interface must be text')
    scope = spec.get("scope", "global")
    if scope not in ("global", "container"):
        raise errors.Invalid(
            f'charm "{charm}": {where} scope "{scope}" not valid: use global or container'
        )
    limit = spec.get("limit", 0)
    if limit is None:
        limit = 0
    if isinstance(limit, bool) or not isinstance(limit, int) or not 0 <= limit <= MAX_LIMIT:
        raise errors.Invalid(f'charm "{charm}": {where} limit "{limit}" must be a number >= 0')
    optional = spec.get("optional", False)
    if not isinstance(optional, bool):
        raise errors.Invalid(f'charm "{charm}": {where} optional must be true or false')
    return Endpoint(
        name=name,
        role=role,
        interface=interface,
        scope=Scope(scope),
        limit=limit,
        optional=optional,
    )


def parse_metadata(text: str) -> CharmMeta:
    """Parse and validate a charm's `metadata.yaml`.

    Rules (juju/charm@v12:meta.go): the name is an application name;
    `provides`, `requires` and `peers` map endpoint names to an interface or to `{interface,
    scope, limit, optional}`; endpoint names are unique across the three; `juju` and `juju-*`
    names, and provided `juju-*` interfaces, are reserved (except a subordinate's
    container-scoped requirer, and charms named `juju-*`); a subordinate needs a
    container-scoped requirer. Every charm also provides `juju-info` implicitly, after its
    declared endpoints.

    The one endpoint that may be declared as `juju-info` is a subordinate's container-scoped
    requirer. Such a charm gets no implicit `juju-info` provider beside it:
    endpoint names stay unique within an application, and Juju, which keeps both, finds the
    declared one first when an endpoint is named, so `logging:juju-info` means the same in both.

    Raises:
        Invalid: the document breaks a rule; the message names the charm and the field.
    """
    if len(text.encode()) > MAX_METADATA_BYTES:
        raise errors.Invalid("charm metadata is larger than 1 MiB")
    try:
        doc = yaml.safe_load(text)
    except RecursionError:
        raise errors.Invalid("charm metadata is not valid YAML: nested too deeply") from None
    except yaml.YAMLError as err:
        problem = getattr(err, "problem", None) or "cannot parse"
        mark = getattr(err, "problem_mark", None)
        where = f" (line {mark.line + 1}, column {mark.column + 1})" if mark is not None else ""
        raise errors.Invalid(f"charm metadata is not valid YAML: {problem}{where}") from None
    if not isinstance(doc, dict):
        raise errors.Invalid("charm metadata must be a mapping with at least a name")
    name = doc.get("name")
    if name is None:
        raise errors.Invalid('charm metadata has no "name"')
    if not isinstance(name, str) or not APPLICATION_NAME.fullmatch(name):
        raise errors.Invalid(f'charm name "{name}" not valid')
    subordinate = doc.get("subordinate", False)
    if not isinstance(subordinate, bool):
        raise errors.Invalid(f'charm "{name}": "subordinate" must be true or false')
    summary = doc.get("summary", "") or ""
    if not isinstance(summary, str):
        raise errors.Invalid(f'charm "{name}": "summary" must be text')
    endpoints: list[Endpoint] = []
    for section in SECTIONS:
        declared = doc.get(section) or {}
        if not isinstance(declared, dict):
            raise errors.Invalid(f'charm "{name}": "{section}" must be a mapping of endpoints')
        endpoints.extend(_endpoint(name, section, ep, spec) for ep, spec in declared.items())
    seen: set[str] = set()
    for ep in endpoints:
        if ep.name in seen:
            raise errors.Invalid(f'charm "{name}" using a duplicated relation name: "{ep.name}"')
        seen.add(ep.name)
    if not name.startswith("juju-"):
        for ep in endpoints:
            exempt = subordinate and ep.role is Role.REQUIRER and ep.scope is Scope.CONTAINER
            if exempt:
                continue
            if _reserved(ep.name):
                raise errors.Invalid(f'charm "{name}" using a reserved relation name: "{ep.name}"')
            if ep.role is Role.PROVIDER and _reserved(ep.interface):
                raise errors.Invalid(
                    f'charm "{name}" using a reserved relation name: "{ep.interface}"'
                )
    if subordinate and not any(
        ep.role is Role.REQUIRER and ep.scope is Scope.CONTAINER for ep in endpoints
    ):
        raise errors.Invalid(
            f'subordinate charm "{name}" lacks "requires" relation with container scope'
        )
    if JUJU_INFO not in seen:
        endpoints.append(
            Endpoint(name=JUJU_INFO, role=Role.PROVIDER, interface=JUJU_INFO, implicit=True)
        )
    return CharmMeta(
        name=name, subordinate=subordinate, endpoints=tuple(endpoints), summary=summary.strip()
    )
