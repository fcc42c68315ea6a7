"""The values the access store reads and writes, the clock, and helpers every use case shares."""

from __future__ import annotations

import base64
import json
import secrets
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Final

from kernel import errors
from kernel.access import TargetKind

Clock = Callable[[], datetime]
"""Returns the current time, timezone-aware; injected so tests never patch time."""

TokenFactory = Callable[[], str]
"""Returns a new, unguessable session token."""

PERMISSION_DENIED: Final = "permission denied"
"""Juju's answer to a caller who may not make a change."""


def utc_now() -> datetime:
    """Return the current time in UTC; the production `Clock`."""
    return datetime.now(UTC)


def new_token() -> str:
    """Return a fresh session token: 32 random bytes, 43 URL-safe characters."""
    return secrets.token_urlsafe(32)


def rfc3339(moment: datetime) -> str:
    """Format a timezone-aware time as RFC 3339 in UTC with microseconds."""
    return moment.astimezone(UTC).isoformat(timespec="microseconds").replace("+00:00", "Z")


def quote(value: str) -> str:
    """Quote a name for a message as Go's %q does, which Juju's messages use: double quotes."""
    return '"' + value.replace("\\", "\\\\").replace('"', '\\"') + '"'


def encode_cursor(value: str | int) -> str:
    """Return the opaque page token holding the sort key of a page's last item."""
    return base64.urlsafe_b64encode(json.dumps([value]).encode()).decode()


def decode_cursor(token: str, kind: type[str] | type[int]) -> str | int | None:
    """Return the sort key a page token holds; None for the first page (an empty token).

    Raises:
        Invalid: the token was not made by `encode_cursor` with a key of that type.
    """
    if not token:
        return None
    try:
        (value,) = json.loads(base64.urlsafe_b64decode(token.encode()))
    except (ValueError, TypeError):
        value = None
    if not isinstance(value, kind) or isinstance(value, bool):
        raise errors.Invalid("page_token not valid: pass the next_page_token of a previous page")
    return value


@dataclass(frozen=True, kw_only=True, slots=True)
class ControllerInfo:
    """The controller's identity."""

    name: str
    """Set from the configuration at the first start and never changed after."""
    uuid: str
    """Random at the first start and never changed after."""


@dataclass(frozen=True, kw_only=True, slots=True)
class User:
    """A user of the controller."""

    name: str
    """Unique, compared without regard to case (Juju keys users by the lower-cased name)."""
    display_name: str = ""
    """Name shown in listings; may be empty."""
    superuser: bool = False
    """Controller superuser: implicitly admin of every model and offer. Derived from the user's
    controller level (`superuser`), the single source of truth: granting that level makes a
    superuser, revoking it unmakes one."""
    enabled: bool = True
    """A disabled user cannot log in, and its open sessions stop working."""
    created_at: datetime
    """When the user was added."""


@dataclass(frozen=True, kw_only=True, slots=True)
class Session:
    """An open session, known to the store only by the digest of its token."""

    user: User
    """Whose session it is."""
    expires_at: datetime
    """When the token stops working."""


@dataclass(frozen=True, kw_only=True, slots=True)
class Target:
    """What a permission is on: the controller, one model or one offer."""

    kind: TargetKind
    """Controller, model or offer; each kind has its own ladder of levels (`kernel.access`)."""
    model_uuid: str = ""
    """The model; for an offer, the offering model, whose admins are the offer's admins.
    Required for models and offers, ignored for the controller."""
    offer_uuid: str = ""
    """The offer; required for offers, ignored otherwise."""
    label: str = ""
    """How messages and the audit log name it (`admin/prod`, `admin/prod.mysql`); not part of
    its identity."""

    @property
    def key(self) -> str:
        """The target's identity within its kind: empty, the model UUID or the offer UUID."""
        if self.kind is TargetKind.MODEL:
            return self.model_uuid
        if self.kind is TargetKind.OFFER:
            return self.offer_uuid
        return ""

    def same(self, other: Target) -> bool:
        """True when both name the same target, whatever their labels."""
        return (self.kind, self.key) == (other.kind, other.key)


CONTROLLER: Final = Target(kind=TargetKind.CONTROLLER, label="controller")
"""The controller, the one target of its kind."""


@dataclass(frozen=True, kw_only=True, slots=True)
class Permission:
    """One user's level on one target, as recorded (implicit admins are not recorded).

    A user holds at most one level per target.
    """

    user: str
    """The holder: a user name, or `everyone@external` and other external names on offers."""
    level: str
    """A level of the target's ladder; never empty (no access means no row)."""
    target: Target
    """What it is on, with the label recorded when it was last written."""
    display_name: str = ""
    """The holder's display name; empty for external names."""


@dataclass(frozen=True, kw_only=True, slots=True)
class AuditEntry:
    """One access change in the audit log."""

    time: datetime
    """When it happened (the injected clock)."""
    actor: str
    """Who made it: a user, or `controller`."""
    action: str
    """`grant`, `revoke`, `add-user`, `disable-user`, `enable-user`, `change-password`,
    `register`, `init-target` or `drop-target`."""
    user: str
    """Whom it concerns."""
    level: str = ""
    """The level after the change, where one applies; empty for none."""
    target: Target = CONTROLLER
    """What it is on; user changes are on the controller."""
    id: int = 0
    """Position in the log, set by the store: larger is newer."""


@dataclass(frozen=True, kw_only=True, slots=True)
class AuditScope:
    """The part of the audit log a user who is not a superuser may read."""

    user: str
    """Entries about this user, or made by them."""
    model_uuids: frozenset[str] = frozenset()
    """Entries on these models and on their offers (the models the user administers)."""
    offer_uuids: frozenset[str] = frozenset()
    """Entries on these offers (the offers the user administers explicitly)."""
