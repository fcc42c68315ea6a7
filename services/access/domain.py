"""Rules of the access context: users, password hashes, sessions and the controller's identity.

Pure Python: the use cases run against the `Access` store protocol, so the SQLite store and the
in-memory fake of the unit tests are interchangeable. Passwords are kept only as scrypt hashes
and session tokens only as SHA-256 digests, so a copy of the store lets nobody log in.
"""

from __future__ import annotations

import base64
import functools
import hashlib
import hmac
import re
import secrets
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Final, Protocol

from services.common import errors
from services.common.events import EventStore

Clock = Callable[[], datetime]
"""Returns the current time, timezone-aware; injected so tests never patch time."""

TokenFactory = Callable[[], str]
"""Returns a new, unguessable session token."""

USER_NAME: Final = re.compile(
    r"[a-zA-Z0-9][a-zA-Z0-9.+-]*[a-zA-Z0-9](?:@[a-zA-Z0-9][a-zA-Z0-9.+-]*[a-zA-Z0-9])?"
)
"""Juju's user name (juju/names@v5:user.go): at least two characters, `bob` or `bob@external`."""

CONTROLLER_NAME: Final = re.compile(r"[a-zA-Z0-9][a-zA-Z0-9_-]*")
"""cmr's controller name: no `.`, `:` or `/`, so offer URLs stay unambiguous."""

ADMIN: Final = "admin"
"""The superuser created at bootstrap."""

SESSION_TTL: Final = timedelta(hours=24)
"""How long a session token works after Login."""

BAD_CREDENTIALS: Final = "invalid entity name or password"
"""Juju's message for an unknown user, a wrong password or a disabled user alike, so the
answer does not tell which user names exist."""

BAD_TOKEN: Final = "invalid or expired token; log in again"  # noqa: S105 - a message

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

    def add_user(self, user: User, password_hash: str | None) -> None:
        """Insert a new user."""
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
        moment = now()
        access.delete_sessions_expired_at(moment)
        secret = token()
        expires = moment + ttl
        access.add_session(token_digest(secret), found.name, moment, expires)
        return LoggedIn(token=secret, session=Session(user=found, expires_at=expires))


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
