"""Users: credentials, sessions, registration, and the user management use cases.

Passwords are kept only as Argon2id hashes, session tokens and registration secrets only as
SHA-256 digests, so a copy of the store lets nobody log in.
"""

from __future__ import annotations

import base64
import functools
import hashlib
import hmac
import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Final

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError

from kernel import errors
from kernel.access import Level
from kernel.names import USER_NAME
from services.access.domain.store import Access
from services.access.domain.throttle import LoginThrottle
from services.access.domain.values import (
    CONTROLLER,
    PERMISSION_DENIED,
    AuditEntry,
    Clock,
    Session,
    TokenFactory,
    User,
    decode_cursor,
    encode_cursor,
    new_token,
    quote,
    utc_now,
)
from services.common.paging import page_size

ADMIN: Final = "admin"
"""The superuser created at bootstrap."""

SESSION_TTL: Final = timedelta(hours=24)
"""How long a session token works after Login."""

BAD_CREDENTIALS: Final = "invalid entity name or password"
"""Juju's message for an unknown user, a wrong password or a disabled user alike, so the
answer does not tell which user names exist."""

BAD_TOKEN: Final = "invalid or expired token; log in again"  # noqa: S105 - a message

HASHER: Final = PasswordHasher()
"""Argon2id at argon2-cffi's recommended parameters (RFC 9106's second choice)."""


@dataclass(frozen=True, kw_only=True, slots=True)
class LoggedIn:
    """What Login hands back: the only time the token itself is seen."""

    token: str
    """The bearer token; the store keeps only its digest."""
    session: Session
    """The session it opened."""


def check_user_name(name: str) -> str:
    """Return `name` when it is a valid user name.

    Raises:
        Invalid: it is not.
    """
    if not USER_NAME.fullmatch(name):
        raise errors.Invalid(f"user name {quote(name)} not valid")
    return name


def hash_password(password: str) -> str:
    """Hash a password with Argon2id and a random salt, in its self-describing PHC form."""
    return HASHER.hash(password)


def verify_password(password: str, encoded: str) -> bool:
    """Return True when `password` matches an encoded hash.

    Argon2id hashes, and the scrypt hashes (`scrypt$n$r$p$salt$hash`) of stores made before it;
    a malformed or unknown encoding never matches. The comparison takes constant time.
    """
    if encoded.startswith("scrypt$"):
        return _verify_scrypt(password, encoded)
    try:
        return HASHER.verify(encoded, password)
    except (VerificationError, InvalidHashError):
        return False


def needs_rehash(encoded: str) -> bool:
    """Whether a hash that matched should be replaced: an older scheme, or older parameters."""
    return encoded.startswith("scrypt$") or HASHER.check_needs_rehash(encoded)


def _verify_scrypt(password: str, encoded: str) -> bool:
    try:
        _scheme, n, r, p, salt, expected = encoded.split("$")
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
    throttle: LoginThrottle | None = None,
) -> LoggedIn:
    """Check a user's password and open a session.

    Sessions are not feed events: no other context reacts to them. Expired sessions are purged
    here, so the table stays as small as the number of live sessions.

    Raises:
        Invalid: the user name is malformed or the password empty.
        Unauthenticated: unknown user, wrong password or disabled user (one message for all);
            or, with a `throttle`, too many failed logins of that name lately.
    """
    check_user_name(user)
    if not password:
        raise errors.Invalid("password must not be empty")
    if throttle is not None:
        throttle.check(user, now())
    found = access.get_user(user)
    encoded = access.password_hash(user) if found is not None else None
    # Outside the transaction: hashing takes tens of milliseconds and would hold the store's
    # lock. Hash even for an unknown user, so the answer's timing does not reveal which users
    # exist.
    matches = verify_password(password, encoded or _decoy_hash())
    if found is None or encoded is None or not matches:
        if throttle is not None:
            throttle.failed(user, now())
        raise errors.Unauthenticated(BAD_CREDENTIALS)
    if throttle is not None:
        throttle.succeeded(user)
    # A hash of an older scheme or older parameters is replaced now that the password is known.
    fresh = hash_password(password) if needs_rehash(encoded) else None
    with access.transaction():
        # Checked again under the lock: the user may have been disabled while we hashed.
        found = access.get_user(user)
        if found is None or not found.enabled or access.password_hash(user) != encoded:
            raise errors.Unauthenticated(BAD_CREDENTIALS)
        if fresh is not None:
            access.set_password(found.name, fresh)
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
        raise errors.NotFound(f"user {quote(name)} not found")
    return user


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


def same_user(a: str, b: str) -> bool:
    """Return True when two user names name the same user: Juju keys them case-insensitively."""
    return a.casefold() == b.casefold()


def enabled_user(access: Access, name: str) -> User | None:
    """Return the user of that name when it exists and is enabled, else None."""
    user = access.get_user(name) if name else None
    return user if user is not None and user.enabled else None


def _require_superuser(access: Access, actor: str) -> User:
    me = enabled_user(access, actor)
    if me is None or not me.superuser:
        raise errors.Forbidden(PERMISSION_DENIED)
    return me


def existing_user(access: Access, name: str) -> User:
    """Return the user of that name.

    Raises:
        NotFound: `user "bob" not found`.
    """
    found = access.get_user(name)
    if found is None:
        raise errors.NotFound(f"user {quote(name)} not found")
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
            raise errors.Invalid(f"user name {quote(name)} not valid")
        if access.get_user(name) is not None:
            raise errors.AlreadyExists(f"user {quote(name)} already exists")
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
    refused = errors.Unauthenticated(f"invalid registration secret for user {quote(user)}")
    with access.transaction():
        found = access.get_user(user)
        digest = access.registration(user) if found is not None else None
    if found is None or digest is None or not hmac.compare_digest(token_digest(secret), digest):
        raise refused
    # Outside the transaction: hashing takes tens of milliseconds and would hold the store's lock.
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
    me = enabled_user(access, actor)
    if me is None or (not same_user(me.name, name) and not me.superuser):
        raise errors.Forbidden(PERMISSION_DENIED)
    return me, existing_user(access, name)


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
        if not same_user(me.name, target.name):
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
        found = existing_user(access, user)
        if not enabled and same_user(found.name, me.name):
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


def list_users(
    access: Access, include_disabled: bool, size: int, token: str
) -> tuple[list[tuple[User, str]], str]:
    """One page of users by name, each with its controller level, and the next page's token.

    Raises:
        Invalid: a negative page size or a page token that no previous page returned.
    """
    limit = page_size(size)
    after = decode_cursor(token, str)
    with access.transaction():
        found = access.users(include_disabled, str(after or ""), limit + 1)
    more = len(found) > limit
    found = found[:limit]
    return found, encode_cursor(found[-1][0].name) if more else ""
