"""Rules of the access context: users, credentials, sessions, permissions and their audit log.

Pure Python: the use cases run against the `Access` store protocol, so the SQLite store and the
in-memory fake of the unit tests are interchangeable. Passwords are kept only as scrypt hashes,
session tokens and registration secrets only as SHA-256 digests, so a copy of the store lets
nobody log in.

Permissions (juju/juju@3.6:core/permission/access.go) are held on three kinds of target, each
with its own ladder, lowest first:

- the controller: `login < add-model < superuser`;
- a model: `read < write < admin`;
- an offer: `read < consume < admin`.

A user holds at most one level per target. The controller level is the single source of truth
for "superuser": `User.superuser` is derived from it (the store reads it from the permission row),
so granting controller `superuser` makes a superuser and revoking it unmakes one.

Every change of a permission, user or password happens in one transaction that writes the rows,
one audit entry per permission or user touched, and the change-feed events.
"""

from __future__ import annotations

import base64
import functools
import hashlib
import hmac
import json
import math
import secrets
from collections.abc import Callable, Sequence
from dataclasses import dataclass, replace
from datetime import UTC, datetime, timedelta
from typing import Final, NamedTuple, Protocol

from kernel import errors, tokens
from kernel.access import LADDERS, Level, TargetKind, rank
from kernel.names import CONTROLLER_NAME, USER_NAME
from services.access import signing
from services.common.events import EventStore
from services.common.paging import page_size

Clock = Callable[[], datetime]
"""Returns the current time, timezone-aware; injected so tests never patch time."""

TokenFactory = Callable[[], str]
"""Returns a new, unguessable session token."""

ADMIN: Final = "admin"
"""The superuser created at bootstrap."""

SESSION_TTL: Final = timedelta(hours=24)
"""How long a session token works after Login."""

BAD_CREDENTIALS: Final = "invalid entity name or password"
"""Juju's message for an unknown user, a wrong password or a disabled user alike, so the
answer does not tell which user names exist."""

BAD_TOKEN: Final = "invalid or expired token; log in again"  # noqa: S105 - a message

PERMISSION_DENIED: Final = "permission denied"
"""Juju's answer to a caller who may not make a change."""

EVERYONE: Final = "everyone@external"
"""The group of every external user: not a user row, but a valid offer grantee; an external
user's effective offer level is at least the group's
(juju/juju@3.6:apiserver/common/permissions.go)."""

CONTROLLER_ACTOR: Final = "controller"
"""The actor recorded in the audit log for changes the controller makes itself (DropTarget)."""


SCRYPT_N: Final = 2**14
SCRYPT_R: Final = 8
SCRYPT_P: Final = 1
SALT_BYTES: Final = 16
HASH_BYTES: Final = 32


def utc_now() -> datetime:
    """Return the current time in UTC; the production `Clock`."""
    return datetime.now(UTC)


def new_token() -> str:
    """Return a fresh session token: 32 random bytes, 43 URL-safe characters."""
    return secrets.token_urlsafe(32)


def rfc3339(moment: datetime) -> str:
    """Format a timezone-aware time as RFC 3339 in UTC with microseconds."""
    return moment.astimezone(UTC).isoformat(timespec="microseconds").replace("+00:00", "Z")


# --- values -------------------------------------------------------------------------------


_REVOKE_WRAPPERS: Final[dict[TargetKind, tuple[str, ...]]] = {
    # Juju's wrappers, by the rung revoked: revoking the lowest rung removes the access,
    # revoking a higher one sets the access to the rung below.
    TargetKind.CONTROLLER: (
        "could not revoke controller access",
        "could not set controller access to login",
        "could not set controller access to add-model",
    ),
    TargetKind.MODEL: (
        "could not revoke model access",
        "could not set model access to read-only",
        "could not set model access to read-write",
    ),
    TargetKind.OFFER: (
        "could not revoke offer access",
        "could not set offer access to read-only",
        "could not set offer access to read-consume",
    ),
}


@dataclass(frozen=True, kw_only=True, slots=True)
class Target:
    """What a permission is on: the controller, one model or one offer."""

    kind: TargetKind
    """Controller, model or offer."""
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
    """One user's level on one target, as recorded (implicit admins are not recorded)."""

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


@dataclass(frozen=True, kw_only=True, slots=True)
class User:
    """A user of the controller."""

    name: str
    """Unique, compared without regard to case (Juju keys users by the lower-cased name)."""
    display_name: str = ""
    """Name shown in listings; may be empty."""
    superuser: bool = False
    """Controller superuser: implicitly admin of every model and offer."""
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
class LoggedIn:
    """What Login hands back: the only time the token itself is seen."""

    token: str
    """The bearer token; the store keeps only its digest."""
    session: Session
    """The session it opened."""


@dataclass(frozen=True, kw_only=True, slots=True)
class ControllerInfo:
    """The controller's identity."""

    name: str
    """Set from the configuration at the first start and never changed after."""
    uuid: str
    """Random at the first start and never changed after."""


class Access(EventStore, Protocol):
    """What the use cases need from a store; implemented by `store.SqliteAccess`."""

    def controller_info(self) -> ControllerInfo | None:
        """Return the controller's identity, or None before the first start."""
        ...

    def secret(self, name: str) -> bytes:
        """Return the named signing key, creating a random one on first use."""
        ...

    def set_controller_info(self, info: ControllerInfo) -> None:
        """Record the controller's identity (once)."""
        ...

    def count_users(self) -> int:
        """Return how many users exist."""
        ...

    def get_user(self, name: str) -> User | None:
        """Return the user of that name (any case), or None."""
        ...

    def password_hash(self, name: str) -> str | None:
        """Return the user's encoded password hash, or None (no such user, or no password)."""
        ...

    def add_user(self, user: User, password_hash: str | None, created_by: str = "") -> None:
        """Insert a new user. `user.superuser` is ignored: it derives from the controller level."""
        ...

    def set_password(self, name: str, password_hash: str | None) -> None:
        """Replace a user's password hash."""
        ...

    def set_enabled(self, name: str, enabled: bool) -> None:
        """Enable or disable a user."""
        ...

    def delete_user_sessions(self, name: str) -> int:
        """Delete every session of a user; return how many."""
        ...

    def set_registration(self, name: str, digest: str, created_at: datetime) -> None:
        """Record (or replace) the digest of a user's one-time registration secret."""
        ...

    def registration(self, name: str) -> str | None:
        """Return the digest of a user's pending registration secret, or None."""
        ...

    def delete_registration(self, name: str) -> bool:
        """Delete a user's pending registration; return whether there was one."""
        ...

    def users(self, include_disabled: bool, after: str, limit: int) -> list[tuple[User, str]]:
        """Return up to `limit` users named after `after`, by name, with their controller level.

        Names compare without regard to case; the level is empty for none.
        """
        ...

    def level(self, user: str, target: Target) -> str:
        """Return the level recorded for a user (any case) on a target, or empty."""
        ...

    def set_level(self, user: str, target: Target, level: str) -> None:
        """Record a user's level on a target, replacing any; an empty level deletes it."""
        ...

    def holders(self, target: Target) -> list[Permission]:
        """Return every permission recorded on exactly this target, by user name."""
        ...

    def offer_holders_in_model(self, model_uuid: str) -> list[Permission]:
        """Return every permission on the offers whose offering model is `model_uuid`."""
        ...

    def held_by(self, user: str) -> list[Permission]:
        """Return every permission a user (any case) holds."""
        ...

    def add_audit(self, entry: AuditEntry) -> None:
        """Append an entry to the audit log (its `id` is assigned by the store)."""
        ...

    def audit(
        self, scope: AuditScope | None, target: Target | None, before: int, limit: int
    ) -> list[AuditEntry]:
        """Return up to `limit` entries, newest first, with an id below `before` (0: no bound).

        Args:
            scope: the entries a non-superuser may see; None for every entry.
            target: only entries on this target; None for every target.
            before: the id of the last entry of the previous page, or 0.
            limit: the most entries to return.
        """
        ...

    def add_session(self, digest: str, user: str, created_at: datetime, expires: datetime) -> None:
        """Insert a session keyed by the digest of its token."""
        ...

    def get_session(self, digest: str) -> Session | None:
        """Return the session of a token digest, or None."""
        ...

    def delete_session(self, digest: str) -> str | None:
        """Delete a session; return its user's name, or None when there was none."""
        ...

    def delete_sessions_expired_at(self, moment: datetime) -> int:
        """Delete every session that expired at or before `moment`; return how many."""
        ...


# --- rules --------------------------------------------------------------------------------


def check_user_name(name: str) -> str:
    """Return `name` when it is a valid user name.

    Raises:
        Invalid: it is not.
    """
    if not USER_NAME.fullmatch(name):
        raise errors.Invalid(f"user name {_quote(name)} not valid")
    return name


def _quote(value: str) -> str:
    # Go's %q, which Juju's messages use: double quotes.
    return '"' + value.replace("\\", "\\\\").replace('"', '\\"') + '"'


def hash_password(password: str, *, salt: bytes | None = None) -> str:
    """Hash a password with scrypt and a random salt, in a self-describing form.

    Returns:
        `scrypt$<n>$<r>$<p>$<salt base64>$<hash base64>`.
    """
    salt = secrets.token_bytes(SALT_BYTES) if salt is None else salt
    digest = hashlib.scrypt(
        password.encode(), salt=salt, n=SCRYPT_N, r=SCRYPT_R, p=SCRYPT_P, dklen=HASH_BYTES
    )
    b64 = base64.b64encode
    return f"scrypt${SCRYPT_N}${SCRYPT_R}${SCRYPT_P}${b64(salt).decode()}${b64(digest).decode()}"


def verify_password(password: str, encoded: str) -> bool:
    """Return True when `password` matches an encoded hash from `hash_password`.

    A malformed or unknown encoding never matches. The comparison takes constant time.
    """
    try:
        scheme, n, r, p, salt, expected = encoded.split("$")
        if scheme != "scrypt":
            return False
        want = base64.b64decode(expected, validate=True)
        got = hashlib.scrypt(
            password.encode(),
            salt=base64.b64decode(salt, validate=True),
            n=int(n),
            r=int(r),
            p=int(p),
            dklen=len(want),
        )
    except ValueError:
        return False
    return hmac.compare_digest(got, want)


@functools.cache
def _decoy_hash() -> str:
    return hash_password(secrets.token_urlsafe(16))


def token_digest(token: str) -> str:
    """Return the SHA-256 hex digest under which a session token is stored."""
    return hashlib.sha256(token.encode()).hexdigest()


# --- use cases ----------------------------------------------------------------------------


def ensure_controller(access: Access, name: str, new_uuid: Callable[[], str]) -> ControllerInfo:
    """Fix the controller's identity at the first start; later starts keep the stored one.

    Args:
        access: the store.
        name: the configured controller name, used only when the store is new.
        new_uuid: returns a fresh UUID, used only when the store is new.

    Raises:
        Invalid: the store is new and `name` is not a valid controller name.
    """
    with access.transaction():
        if (info := access.controller_info()) is not None:
            return info
        if not CONTROLLER_NAME.fullmatch(name):
            raise errors.Invalid(f"controller name {_quote(name)} not valid")
        info = ControllerInfo(name=name, uuid=new_uuid())
        access.set_controller_info(info)
        return info


def bootstrap_admin(access: Access, password: str, *, now: Clock = utc_now) -> int:
    """Create the `admin` superuser when there are no users yet.

    Args:
        access: the store.
        password: the bootstrap password (already stripped of its trailing newline).
        now: the clock.

    Returns:
        The sequence of the `user-added` event, or 0 when users exist already.

    Raises:
        Invalid: the password is empty and the admin would have to be created.
    """
    with access.transaction():
        if access.count_users():
            return 0
        if not password:
            raise errors.Invalid(
                "the bootstrap password file is empty; write the admin password into it"
            )
        admin = User(name=ADMIN, display_name=ADMIN, superuser=True, created_at=now())
        access.add_user(admin, hash_password(password))
        access.set_level(ADMIN, CONTROLLER, Level.SUPERUSER)
        return access.append_event("user-added", entity=ADMIN, attributes={"superuser": "true"})


def login(
    access: Access,
    user: str,
    password: str,
    *,
    now: Clock = utc_now,
    ttl: timedelta = SESSION_TTL,
    token: TokenFactory = new_token,
) -> LoggedIn:
    """Check a user's password and open a session.

    Sessions are not feed events: no other context reacts to them. Expired sessions are purged
    here, so the table stays as small as the number of live sessions.

    Raises:
        Invalid: the user name is malformed or the password empty.
        Unauthenticated: unknown user, wrong password or disabled user (one message for all).
    """
    check_user_name(user)
    if not password:
        raise errors.Invalid("password must not be empty")
    found = access.get_user(user)
    encoded = access.password_hash(user) if found is not None else None
    # Outside the transaction: scrypt takes tens of milliseconds and would hold the store's lock.
    # Hash even for an unknown user, so the answer's timing does not reveal which users exist.
    matches = verify_password(password, encoded or _decoy_hash())
    if found is None or encoded is None or not matches:
        raise errors.Unauthenticated(BAD_CREDENTIALS)
    with access.transaction():
        # Checked again under the lock: the user may have been disabled while we hashed.
        found = access.get_user(user)
        if found is None or not found.enabled or access.password_hash(user) != encoded:
            raise errors.Unauthenticated(BAD_CREDENTIALS)
        return _open_session(access, found, now(), ttl, token)


def _open_session(
    access: Access, user: User, moment: datetime, ttl: timedelta, token: TokenFactory
) -> LoggedIn:
    # Expired sessions are purged whenever one opens, so the table stays as small as the
    # number of live sessions.
    access.delete_sessions_expired_at(moment)
    secret = token()
    expires = moment + ttl
    access.add_session(token_digest(secret), user.name, moment, expires)
    return LoggedIn(token=secret, session=Session(user=user, expires_at=expires))


def authenticate(access: Access, token: str, *, now: Clock = utc_now) -> Session:
    """Resolve a session token to its session.

    Raises:
        Unauthenticated: the token is empty, unknown or expired, or its user is disabled.
    """
    if not token:
        raise errors.Unauthenticated(BAD_TOKEN)
    with access.transaction():
        session = access.get_session(token_digest(token))
    if session is None or session.expires_at <= now() or not session.user.enabled:
        raise errors.Unauthenticated(BAD_TOKEN)
    return session


def logout(access: Access, token: str) -> int:
    """End a session; ending an unknown one is not an error.

    Returns:
        The sequence of the `logout` event, or 0 when there was no such session.
    """
    if not token:
        return 0
    with access.transaction():
        user = access.delete_session(token_digest(token))
        if user is None:
            return 0
        return access.append_event("logout", entity=user)


def get_user(access: Access, name: str) -> User:
    """Return one user.

    Raises:
        Invalid: the name is malformed.
        NotFound: there is no such user.
    """
    check_user_name(name)
    with access.transaction():
        user = access.get_user(name)
    if user is None:
        raise errors.NotFound(f"user {_quote(name)} not found")
    return user


def controller_info(access: Access) -> ControllerInfo:
    """Return the controller's identity.

    Raises:
        Unavailable: the store has not been initialised (a start-up bug).
    """
    with access.transaction():
        info = access.controller_info()
    if info is None:
        raise errors.Unavailable("the controller identity is not set up yet")
    return info


# --- users --------------------------------------------------------------------------------


@dataclass(frozen=True, kw_only=True, slots=True)
class AddedUser:
    """What AddUser hands back: the only time the registration secret itself is seen."""

    user: User
    """The new user: enabled, controller access `login`, no password yet."""
    secret: str
    """The one-time registration secret; the store keeps only its SHA-256 digest."""
    sequence: int
    """Feed sequence of `user-added`."""


def is_external(name: str) -> bool:
    """Return True for an external user name (`bob@external`): one with a domain."""
    return "@" in name


def _same_user(a: str, b: str) -> bool:
    # User names are compared without regard to case, as Juju keys them.
    return a.casefold() == b.casefold()


def _enabled_user(access: Access, name: str) -> User | None:
    user = access.get_user(name) if name else None
    return user if user is not None and user.enabled else None


def _require_superuser(access: Access, actor: str) -> User:
    me = _enabled_user(access, actor)
    if me is None or not me.superuser:
        raise errors.Forbidden(PERMISSION_DENIED)
    return me


def _existing_user(access: Access, name: str) -> User:
    found = access.get_user(name)
    if found is None:
        raise errors.NotFound(f"user {_quote(name)} not found")
    return found


def _check_password(password: str) -> None:
    if not password:
        raise errors.Invalid("password must not be empty")


def add_user(
    access: Access,
    actor: str,
    name: str,
    display_name: str = "",
    *,
    now: Clock = utc_now,
    secret: TokenFactory = new_token,
) -> AddedUser:
    """Add a local user, with controller access `login` and a one-time registration secret.

    Rules: only an enabled superuser may add users. The user has no password until `register`
    sets one with the secret (`secrets.token_urlsafe(32)`), which is stored only as its SHA-256
    digest. External names (`bob@external`) are not users of this controller and cannot be added.
    Audited as `add-user` (level `login`); feed event `user-added` (attribute `superuser`
    "false", `created-by` the actor).

    Raises:
        Forbidden: `permission denied`: the actor is not a superuser.
        Invalid: the name is not a valid local user name.
        AlreadyExists: `user "bob" already exists` (in any case).
    """
    with access.transaction():
        me = _require_superuser(access, actor)
        check_user_name(name)
        if is_external(name):
            raise errors.Invalid(f"user name {_quote(name)} not valid")
        if access.get_user(name) is not None:
            raise errors.AlreadyExists(f"user {_quote(name)} already exists")
        moment = now()
        user = User(name=name, display_name=display_name, created_at=moment)
        access.add_user(user, None, created_by=me.name)
        access.set_level(name, CONTROLLER, Level.LOGIN)
        plain = secret()
        access.set_registration(name, token_digest(plain), moment)
        access.add_audit(
            AuditEntry(time=moment, actor=me.name, action="add-user", user=name, level="login")
        )
        seq = access.append_event(
            "user-added", entity=name, attributes={"superuser": "false", "created-by": me.name}
        )
        return AddedUser(user=user, secret=plain, sequence=seq)


def register(
    access: Access,
    user: str,
    secret: str,
    password: str,
    *,
    now: Clock = utc_now,
    ttl: timedelta = SESSION_TTL,
    token: TokenFactory = new_token,
) -> LoggedIn:
    """Set a new user's password with the secret from `add_user`, and open a session.

    Rules: the secret works once; registering consumes it. A wrong, used or unknown secret, or
    an unknown user, all get one message. A disabled user gets Login's usual refusal after a
    right secret, and the secret stays unused. Audited as `register`; feed event
    `user-registered`.

    Raises:
        Invalid: the user name is malformed or the password empty.
        Unauthenticated: `invalid registration secret for user "bob"`; or `invalid entity name
            or password` for a disabled user.
    """
    check_user_name(user)
    _check_password(password)
    refused = errors.Unauthenticated(f"invalid registration secret for user {_quote(user)}")
    with access.transaction():
        found = access.get_user(user)
        digest = access.registration(user) if found is not None else None
    if found is None or digest is None or not hmac.compare_digest(token_digest(secret), digest):
        raise refused
    # Outside the transaction: scrypt takes tens of milliseconds and would hold the store's lock.
    encoded = hash_password(password)
    with access.transaction():
        # Checked again under the lock: a concurrent Register may have used the secret.
        found = access.get_user(user)
        if found is None or access.registration(user) != digest:
            raise refused
        if not found.enabled:
            raise errors.Unauthenticated(BAD_CREDENTIALS)
        moment = now()
        access.set_password(found.name, encoded)
        access.delete_registration(found.name)
        access.add_audit(
            AuditEntry(time=moment, actor=found.name, action="register", user=found.name)
        )
        access.append_event("user-registered", entity=found.name)
        return _open_session(access, found, moment, ttl, token)


def _password_change_allowed(access: Access, actor: str, name: str) -> tuple[User, User]:
    me = _enabled_user(access, actor)
    if me is None or (not _same_user(me.name, name) and not me.superuser):
        raise errors.Forbidden(PERMISSION_DENIED)
    return me, _existing_user(access, name)


def change_password(
    access: Access, actor: str, user: str, password: str, *, now: Clock = utc_now
) -> int:
    """Change a password: one's own, or anyone's for a superuser.

    Rules: when a superuser changes another user's password, every session of that user ends
    and any pending registration secret is void (the password is set now). Changing one's own
    password keeps one's sessions: the request does not say which session is asking, and the
    gateway's caller must not be logged out by their own change. Audited as `change-password`;
    feed event `password-changed` (attribute `actor`).

    Args:
        access: the store.
        actor: who asks.
        user: whose password; empty means the actor's.
        password: the new password.
        now: the clock.

    Returns:
        The sequence of the `password-changed` event.

    Raises:
        Invalid: the password is empty, or the user name malformed.
        Forbidden: `permission denied`: someone else's password, and the actor is not a
            superuser (or the actor is unknown or disabled).
        NotFound: `user "bob" not found`.
    """
    _check_password(password)
    name = user or actor
    check_user_name(name)
    with access.transaction():
        _password_change_allowed(access, actor, name)
    encoded = hash_password(password)  # outside the lock, as in login
    with access.transaction():
        me, target = _password_change_allowed(access, actor, name)
        access.set_password(target.name, encoded)
        access.delete_registration(target.name)
        if not _same_user(me.name, target.name):
            access.delete_user_sessions(target.name)
        access.add_audit(
            AuditEntry(time=now(), actor=me.name, action="change-password", user=target.name)
        )
        return access.append_event(
            "password-changed", entity=target.name, attributes={"actor": me.name}
        )


def set_user_enabled(
    access: Access, actor: str, user: str, enabled: bool, *, now: Clock = utc_now
) -> int:
    """Disable or enable a user (superuser only).

    Rules: a disabled user cannot log in or register, and every session of theirs ends at once.
    Nobody may disable themselves. Setting the state a user is already in changes nothing and
    returns 0. Audited as `disable-user` / `enable-user`; feed events `user-disabled` /
    `user-enabled`.

    Raises:
        Forbidden: `permission denied`: the actor is not a superuser.
        Invalid: the user name is malformed.
        NotFound: `user "bob" not found`.
        Refused: `cannot disable yourself`.
    """
    with access.transaction():
        me = _require_superuser(access, actor)
        check_user_name(user)
        found = _existing_user(access, user)
        if not enabled and _same_user(found.name, me.name):
            raise errors.Refused("cannot disable yourself")
        if found.enabled == enabled:
            return 0
        access.set_enabled(found.name, enabled)
        if not enabled:
            access.delete_user_sessions(found.name)
        verb = "enable" if enabled else "disable"
        access.add_audit(
            AuditEntry(time=now(), actor=me.name, action=f"{verb}-user", user=found.name)
        )
        return access.append_event(f"user-{verb}d", entity=found.name)


def _encode_cursor(value: str | int) -> str:
    return base64.urlsafe_b64encode(json.dumps([value]).encode()).decode()


def _decode_cursor(token: str, kind: type[str] | type[int]) -> str | int | None:
    if not token:
        return None
    try:
        (value,) = json.loads(base64.urlsafe_b64decode(token.encode()))
    except (ValueError, TypeError):
        value = None
    if not isinstance(value, kind) or isinstance(value, bool):
        raise errors.Invalid("page_token not valid: pass the next_page_token of a previous page")
    return value


def list_users(
    access: Access, include_disabled: bool, size: int, token: str
) -> tuple[list[tuple[User, str]], str]:
    """One page of users by name, each with its controller level, and the next page's token.

    Raises:
        Invalid: a negative page size or a page token that no previous page returned.
    """
    limit = page_size(size)
    after = _decode_cursor(token, str)
    with access.transaction():
        found = access.users(include_disabled, str(after or ""), limit + 1)
    more = len(found) > limit
    found = found[:limit]
    return found, _encode_cursor(found[-1][0].name) if more else ""


# --- permissions --------------------------------------------------------------------------


def check_target(target: Target) -> Target:
    """Return the target with only the fields its kind uses (the controller labelled so).

    Raises:
        Invalid: a model without its UUID, or an offer without its UUID or its model's.
    """
    if target.kind is TargetKind.CONTROLLER:
        return CONTROLLER
    if not target.model_uuid:
        raise errors.Invalid(f"{target.kind} target needs the model_uuid")
    if target.kind is TargetKind.MODEL:
        return Target(kind=TargetKind.MODEL, model_uuid=target.model_uuid, label=target.label)
    if not target.offer_uuid:
        raise errors.Invalid("offer target needs the offer_uuid")
    return target


def check_level(target: Target, level: str) -> Level:
    """Return `level` when it is on the ladder of the target's kind.

    Raises:
        Invalid: `"<level>" offer access not valid` (`model access`, `controller access`).
    """
    if level not in LADDERS[target.kind]:
        raise errors.Invalid(f"{_quote(level)} {target.kind} access not valid")
    return Level(level)


def _higher(kind: TargetKind, a: str, b: str) -> str:
    return a if rank(kind, a) >= rank(kind, b) else b


def effective_level(access: Access, user: str, target: Target) -> str:
    """Return a user's effective level on a target, implicit admins included; empty for none.

    Rules (juju/juju@3.6:apiserver/common/crossmodel/auth.go):

    - an unknown local user, or a disabled user, has none;
    - a superuser is `superuser` on the controller and `admin` on every model and offer;
    - on the controller and on a model, the recorded level;
    - on an offer, the highest of the recorded level, `admin` when the user administers the
      offering model (`Target.model_uuid`), and for an external user (`name@domain`, who need
      not be a user row) the level of `everyone@external`.
    """
    found = access.get_user(user)
    if found is None and not is_external(user):
        return ""
    if found is not None:
        if not found.enabled:
            return ""
        if found.superuser:
            return LADDERS[target.kind][-1]
        user = found.name
    level = access.level(user, target)
    if target.kind is TargetKind.OFFER:
        model = Target(kind=TargetKind.MODEL, model_uuid=target.model_uuid)
        if access.level(user, model) == Level.ADMIN:
            level = Level.ADMIN
        if is_external(user):
            level = _higher(target.kind, level, access.level(EVERYONE, target))
    return level


def check_access(access: Access, user: str, targets: Sequence[Target]) -> list[str]:
    """Return the user's effective level on each target, in order (see `effective_level`).

    Raises:
        Invalid: the user name is malformed, or a target lacks its UUIDs.
    """
    check_user_name(user)
    checked = [check_target(t) for t in targets]
    with access.transaction():
        return [effective_level(access, user, t) for t in checked]


def _administrator(access: Access, actor: str, target: Target) -> User:
    # Who may grant and revoke: a superuser on anything; on a model, its admins; on an offer,
    # its admins, implicit ones (admins of the offering model) included. Only superusers
    # change controller levels.
    me = _enabled_user(access, actor)
    if me is not None and (
        me.superuser
        or (
            target.kind is not TargetKind.CONTROLLER
            and effective_level(access, me.name, target) == Level.ADMIN
        )
    ):
        return me
    raise errors.Forbidden(PERMISSION_DENIED)


def _record(
    access: Access,
    *,
    actor: str,
    action: str,
    user: str,
    target: Target,
    level: str,
    previous: str,
    now: Clock,
) -> tuple[int, str]:
    # One audit entry and one feed event per permission changed, in the caller's transaction.
    # Returns the event's sequence and the user's effective level afterwards.
    access.add_audit(
        AuditEntry(time=now(), actor=actor, action=action, user=user, level=level, target=target)
    )
    raised = rank(target.kind, level) > rank(target.kind, previous)
    effective = effective_level(access, user, target)
    sequence = access.append_event(
        "access-granted" if raised else "access-revoked",
        model_uuid=target.model_uuid,
        entity=user,
        attributes={
            "user": user,
            "level": level,
            "previous": previous,
            "target-kind": str(target.kind),
            "model-uuid": target.model_uuid,
            "offer-uuid": target.offer_uuid,
            "label": target.label,
            # The level the user is left with, implicit admin included: the relations reactor
            # suspends only when this is below `consume` (an implicit admin keeps relations).
            "effective": effective,
        },
    )
    return sequence, effective


def grant(
    access: Access, actor: str, user: str, level: str, target: Target, *, now: Clock = utc_now
) -> int:
    """Raise a user's level on a target.

    Rules, checked in this order:

    1. the level must be on the target kind's ladder;
    2. the actor must administer the target (see `_administrator`): superusers anything, model
       admins their models and those models' offers, offer admins their offers; only
       superusers grant controller levels;
    3. nobody changes their own access;
    4. the user must exist; on an offer, `everyone@external` and other external names
       (`name@domain`) need no user row;
    5. grant only raises: holding the level or a higher one already is refused.

    Audited as `grant`; feed event `access-granted`.

    Returns:
        The sequence of the `access-granted` event.

    Raises:
        Invalid: `"superuser" offer access not valid`, a malformed name or target.
        Forbidden: `permission denied`.
        Refused: `cannot change your own access`; `user already has "consume" access or
            greater`.
        NotFound: `could not grant offer access: user "foobar" not found`.
    """
    target = check_target(target)
    wanted = check_level(target, level)
    check_user_name(user)
    with access.transaction():
        me = _administrator(access, actor, target)
        if _same_user(me.name, user):
            raise errors.Refused("cannot change your own access")
        found = access.get_user(user)
        if found is None and not (target.kind is TargetKind.OFFER and is_external(user)):
            raise errors.NotFound(
                f"could not grant {target.kind} access: user {_quote(user)} not found"
            )
        holder = found.name if found is not None else user
        previous = access.level(holder, target)
        if rank(target.kind, previous) >= rank(target.kind, wanted):
            raise errors.Refused(f"user already has {_quote(wanted)} access or greater")
        access.set_level(holder, target, wanted)
        sequence, _ = _record(
            access,
            actor=me.name,
            action="grant",
            user=holder,
            target=target,
            level=wanted,
            previous=previous,
            now=now,
        )
        return sequence


class Revoked(NamedTuple):
    """What a revoke did."""

    level: str
    """The user's recorded level afterwards; empty for none."""
    sequence: int
    """The `access-revoked` event's sequence."""
    previous: str
    """The user's recorded level before."""
    effective: str
    """The user's effective level afterwards, implicit admin included (as the event says)."""


def revoke(
    access: Access, actor: str, user: str, level: str, target: Target, *, now: Clock = utc_now
) -> Revoked:
    """Revoke a level: the user steps down to the rung below it.

    Revoking the lowest rung (`read`, `login`) removes the access; revoking a higher one sets
    it to the rung below (`revoke consume` leaves `read`), even from a user who held more
    (`revoke read` from an admin removes everything, as in Juju). Who may: as for `grant`.
    Implicit admins keep what they hold implicitly: only recorded levels change. Audited as
    `revoke`; feed event `access-revoked`.

    Returns:
        The user's recorded level afterwards (empty for none), the event's sequence, the
        recorded level before and the effective level afterwards.

    Raises:
        Invalid: a level not on the kind's ladder, a malformed name or target.
        Forbidden: `permission denied`.
        Refused: `cannot change your own access`; the user holds a lower level than the one
            revoked (`cannot revoke "admin" offer access: user "bob" holds only "consume"`).
        NotFound: the user holds nothing there, with Juju's wrappers:
            `could not revoke offer access: offer user "bob" does not exist`,
            `could not set offer access to read-only: offer user "bob" does not exist`, ...
    """
    target = check_target(target)
    revoked = check_level(target, level)
    check_user_name(user)
    with access.transaction():
        me = _administrator(access, actor, target)
        if _same_user(me.name, user):
            raise errors.Refused("cannot change your own access")
        found = access.get_user(user)
        holder = found.name if found is not None else user
        previous = access.level(holder, target)
        ladder = LADDERS[target.kind]
        rung = ladder.index(revoked)
        if not previous:
            wrapper = _REVOKE_WRAPPERS[target.kind][rung]
            raise errors.NotFound(f"{wrapper}: {target.kind} user {_quote(user)} does not exist")
        if rank(target.kind, previous) <= rung:
            raise errors.Refused(
                f"cannot revoke {_quote(revoked)} {target.kind} access: user {_quote(user)}"
                f" holds only {_quote(previous)}"
            )
        new = ladder[rung - 1] if rung else Level.NONE
        access.set_level(holder, target, new)
        seq, effective = _record(
            access,
            actor=me.name,
            action="revoke",
            user=holder,
            target=target,
            level=new,
            previous=previous,
            now=now,
        )
        return Revoked(level=str(new), sequence=seq, previous=str(previous), effective=effective)


def _owned_target(target: Target) -> Target:
    target = check_target(target)
    if target.kind is TargetKind.CONTROLLER:
        raise errors.Invalid("target must be a model or an offer")
    return target


def init_target(access: Access, target: Target, owner: str, *, now: Clock = utc_now) -> int:
    """Record the owner of a new model or offer as its admin.

    Rules: the owner gets `admin`; on an offer `everyone@external` also gets `read`. Levels
    already at or above those stay, so a retried call changes nothing. Audited as
    `init-target` with the owner as actor; feed events `access-granted`.

    Returns:
        The sequence of the last event written, or 0 when nothing changed.

    Raises:
        Invalid: the target is the controller or lacks its UUIDs; the owner name is malformed.
        NotFound: `user "bob" not found`: the owner.
    """
    target = _owned_target(target)
    check_user_name(owner)
    with access.transaction():
        found = _existing_user(access, owner)
        wanted = [(found.name, Level.ADMIN)]
        if target.kind is TargetKind.OFFER:
            wanted.append((EVERYONE, Level.READ))
        seq = 0
        for holder, level in wanted:
            previous = access.level(holder, target)
            if rank(target.kind, previous) >= rank(target.kind, level):
                continue
            access.set_level(holder, target, level)
            seq, _ = _record(
                access,
                actor=found.name,
                action="init-target",
                user=holder,
                target=target,
                level=level,
                previous=previous,
                now=now,
            )
        return seq


def drop_target(access: Access, target: Target, *, now: Clock = utc_now) -> int:
    """Delete every permission on a removed model or offer.

    Rules: for a model, the permissions on the offers of that model (those whose
    `Target.model_uuid` is it) go too. Each deletion is audited as `drop-target` with actor
    `controller` and is a feed event `access-revoked` with an empty level.

    Returns:
        The sequence of the last event written, or 0 when nothing was held.

    Raises:
        Invalid: the target is the controller or lacks its UUIDs.
    """
    target = _owned_target(target)
    with access.transaction():
        held = access.holders(target)
        if target.kind is TargetKind.MODEL:
            held += access.offer_holders_in_model(target.model_uuid)
        seq = 0
        for permission in held:
            access.set_level(permission.user, permission.target, Level.NONE)
            seq, _ = _record(
                access,
                actor=CONTROLLER_ACTOR,
                action="drop-target",
                user=permission.user,
                target=permission.target,
                level=Level.NONE,
                previous=permission.level,
                now=now,
            )
        return seq


def list_access(access: Access, target: Target) -> list[Permission]:
    """Return who holds which level on a target, by user name (implicit admins not listed).

    Raises:
        Invalid: the target lacks its UUIDs.
    """
    target = check_target(target)
    with access.transaction():
        return access.holders(target)


def _audit_scope(access: Access, user: User) -> AuditScope:
    held = [p for p in access.held_by(user.name) if p.level == Level.ADMIN]
    return AuditScope(
        user=user.name,
        model_uuids=frozenset(
            p.target.model_uuid for p in held if p.target.kind is TargetKind.MODEL
        ),
        offer_uuids=frozenset(
            p.target.offer_uuid for p in held if p.target.kind is TargetKind.OFFER
        ),
    )


def list_audit(
    access: Access, actor: str, target: Target | None, size: int, token: str
) -> tuple[list[AuditEntry], str]:
    """One page of the audit log, newest first, and the next page's token.

    Rules: a superuser reads every entry. Anyone else reads the entries about them or made by
    them, and those on the models and offers they administer now (explicitly; a model's
    admins also read its offers' entries). `target` narrows either to one target.

    Raises:
        Forbidden: `permission denied`: the actor is unknown or disabled.
        Invalid: a negative page size, a page token no previous page returned, a target
            without its UUIDs.
    """
    limit = page_size(size)
    before = _decode_cursor(token, int)
    if target is not None:
        target = check_target(target)
    with access.transaction():
        me = _enabled_user(access, actor)
        if me is None:
            raise errors.Forbidden(PERMISSION_DENIED)
        scope = None if me.superuser else _audit_scope(access, me)
        found = access.audit(scope, target, int(before or 0), limit + 1)
    more = len(found) > limit
    found = found[:limit]
    return found, _encode_cursor(found[-1].id) if more else ""


# -- offer tokens -----------------------------------------------------------------------------

TOKEN_KEY: Final = "offer-tokens"  # noqa: S105 - the name of a key, not a key
"""Name of the signing key of offer tokens."""


def _offer_level(access: Access, user: str, model_uuid: str, offer_uuid: str) -> str:
    return effective_level(
        access, user, Target(kind=TargetKind.OFFER, model_uuid=model_uuid, offer_uuid=offer_uuid)
    )


def issue_offer_token(
    access: Access,
    *,
    user: str,
    offer_model_uuid: str,
    claims: tokens.Claims,
    now: float,
) -> tuple[str, int]:
    """Sign a consume or relation token for `user`, who must have consume on the offer now.

    Issuing again is how a token is renewed, so a revoke stops renewals at once.

    Returns:
        The token and its expiry (Unix seconds).

    Raises:
        Invalid: missing offer, model or user, or a bad kind.
        NotFound: the user cannot see the offer.
        Forbidden: `permission denied`: the user can only read it.
    """
    if not user or not claims.offer_uuid or not claims.source_model_uuid:
        raise errors.Invalid("user, offer and consuming model are required")
    if claims.kind != tokens.CALLBACK and not offer_model_uuid:
        raise errors.Invalid("the offering model is required")
    with access.transaction():
        info = access.controller_info()
        if info is None:
            raise errors.Unavailable("the controller identity is not set up yet")
        if claims.kind != tokens.CALLBACK:
            level = _offer_level(access, user, offer_model_uuid, claims.offer_uuid)
            if not level:
                raise errors.NotFound(f'application offer "{claims.offer_uuid}" not found')
            if rank(TargetKind.OFFER, level) < rank(TargetKind.OFFER, Level.CONSUME):
                raise errors.Forbidden("permission denied")
        # whole seconds, rounded up: a token lasts at least LIFETIME_S (truncating took up
        # to a second off it, all of it with a short lifetime)
        expires = math.ceil(now) + tokens.LIFETIME_S
        signed = signing.mint(
            access.secret(TOKEN_KEY),
            replace(claims, issuer=info.uuid, user=user, expires=expires),
        )
    return signed, expires


def verify_offer_token(
    access: Access,
    token: str,
    *,
    kind: str,
    offer_model_uuid: str,
    offer_uuid: str,
    relation: str = "",
    source_model_uuid: str = "",
    now: float,
) -> tokens.Claims:
    """Accept a token only if this controller signed it for this use, and its user may consume.

    With no `kind`, only its authenticity is checked (signed here, unexpired).

    Raises:
        Unauthenticated: malformed, forged, from another controller, or expired.
        Forbidden: used for another offer, relation or model, or the user lost consume.
    """
    with access.transaction():
        info = access.controller_info()
        if info is None:
            raise errors.Unavailable("the controller identity is not set up yet")
        claims = signing.read(access.secret(TOKEN_KEY), token, issuer=info.uuid, now=now)
        if not kind:
            return claims  # authenticity only: signed here and unexpired
        signing.check(
            claims,
            kind=kind,
            offer_uuid=offer_uuid,
            relation=relation,
            source_model_uuid=source_model_uuid,
        )
        if kind != tokens.CALLBACK:
            level = _offer_level(access, claims.user, offer_model_uuid, offer_uuid)
            if rank(TargetKind.OFFER, level) < rank(TargetKind.OFFER, Level.CONSUME):
                raise errors.Forbidden("permission denied")
    return claims


def renew_offer_token(
    access: Access, token: str, *, offer_model_uuid: str, now: float
) -> tuple[str, int]:
    """A fresh token for one this controller signed, even expired.

    Consume and relation tokens are re-authorised: their user must still have consume on the
    offer, so a revoke stops renewals at once.

    Returns:
        The new token and its expiry.

    Raises:
        Unauthenticated: not a token signed here, or too long expired.
        Forbidden: the user no longer has consume.
        NotFound: the user can no longer see the offer.
    """
    with access.transaction():
        info = access.controller_info()
        if info is None:
            raise errors.Unavailable("the controller identity is not set up yet")
        claims = signing.read(
            access.secret(TOKEN_KEY), token, issuer=info.uuid, now=now, renewing=True
        )
    return issue_offer_token(
        access, user=claims.user, offer_model_uuid=offer_model_uuid, claims=claims, now=now
    )
