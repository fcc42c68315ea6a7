"""Access rules and use cases on the in-memory store."""

from __future__ import annotations

import base64
import dataclasses
import hashlib
from datetime import UTC, datetime, timedelta

import pytest

from kernel import errors
from services.access import domain
from tests.unit.access.fakes import InMemoryAccess

START = datetime(2025, 1, 1, tzinfo=UTC)


class Clock:
    def __init__(self) -> None:
        self.now = START

    def __call__(self) -> datetime:
        return self.now


@pytest.fixture
def access() -> InMemoryAccess:
    store = InMemoryAccess()
    domain.bootstrap_admin(store, "s3cret", now=lambda: START)
    return store


def test_password_hash_round_trips_and_is_self_describing() -> None:
    encoded = domain.hash_password("correct horse")
    assert encoded.startswith("$argon2id$")
    assert "correct horse" not in encoded
    assert domain.verify_password("correct horse", encoded)
    assert not domain.needs_rehash(encoded)


def _scrypt(password: str) -> str:
    """A hash as stores made before Argon2id kept them."""
    salt = b"0123456789abcdef"
    digest = hashlib.scrypt(password.encode(), salt=salt, n=2**14, r=8, p=1, dklen=32)
    b64 = base64.b64encode
    return f"scrypt$16384$8$1${b64(salt).decode()}${b64(digest).decode()}"


def test_an_older_scrypt_hash_still_verifies_and_is_to_be_replaced() -> None:
    encoded = _scrypt("correct horse")
    assert domain.verify_password("correct horse", encoded)
    assert not domain.verify_password("wrong", encoded)
    assert domain.needs_rehash(encoded)


def test_logging_in_replaces_an_older_hash_with_argon2id(access: InMemoryAccess) -> None:
    with access.transaction():
        access.set_password("admin", _scrypt("s3cret"))
    domain.login(access, "admin", "s3cret", now=lambda: START)
    replaced = access.password_hash("admin")
    assert replaced is not None
    assert replaced.startswith("$argon2id$")
    domain.login(access, "admin", "s3cret", now=lambda: START)
    assert access.password_hash("admin") == replaced


def test_wrong_password_does_not_verify() -> None:
    encoded = domain.hash_password("correct horse")
    assert not domain.verify_password("correct horse ", encoded)
    assert not domain.verify_password("", encoded)


def test_each_hash_has_its_own_salt() -> None:
    assert domain.hash_password("same") != domain.hash_password("same")


@pytest.mark.parametrize(
    "encoded",
    ["", "plain", "bcrypt$1$2$3$AAAA$AAAA", "scrypt$x$8$1$AAAA$AAAA", "scrypt$16384$8$1$!!$AAAA"],
)
def test_malformed_hashes_never_verify(encoded: str) -> None:
    assert not domain.verify_password("anything", encoded)


@pytest.mark.parametrize(
    "name", ["admin", "bob", "b0", "bob.smith+x-y", "bob@external", "a-b@c.d"]
)
def test_valid_user_names(name: str) -> None:
    assert domain.check_user_name(name) == name


@pytest.mark.parametrize("name", ["", "x", "-bob", "bob-", "bob smith", "bob@", "bo_b", "@ext"])
def test_invalid_user_names(name: str) -> None:
    with pytest.raises(errors.Invalid, match=rf'^user name "{name}" not valid$'):
        domain.check_user_name(name)


def test_bootstrap_creates_a_superuser_admin_with_an_event() -> None:
    store = InMemoryAccess()
    seq = domain.bootstrap_admin(store, "s3cret", now=lambda: START)
    assert seq == 1
    admin = store.get_user("admin")
    assert admin is not None
    assert admin.superuser
    assert admin.enabled
    assert store.state.events == [("user-added", "admin", {"superuser": "true"})]


def test_bootstrap_happens_only_once(access: InMemoryAccess) -> None:
    assert domain.bootstrap_admin(access, "other", now=lambda: START) == 0
    domain.login(access, "admin", "s3cret", now=lambda: START)
    with pytest.raises(errors.Unauthenticated):
        domain.login(access, "admin", "other", now=lambda: START)


def test_bootstrap_refuses_an_empty_password() -> None:
    store = InMemoryAccess()
    with pytest.raises(errors.Invalid, match="bootstrap password file is empty"):
        domain.bootstrap_admin(store, "")
    assert store.count_users() == 0


def test_login_opens_a_session_stored_by_digest(access: InMemoryAccess) -> None:
    done = domain.login(access, "admin", "s3cret", now=lambda: START, token=lambda: "tok")
    assert done.token == "tok"
    assert done.session.expires_at == START + domain.SESSION_TTL
    assert done.session.user.name == "admin"
    assert list(access.state.sessions) == [domain.token_digest("tok")]


def test_default_tokens_are_43_url_safe_characters(access: InMemoryAccess) -> None:
    done = domain.login(access, "admin", "s3cret")
    assert len(done.token) == 43


@pytest.mark.parametrize(("user", "password"), [("admin", "wrong"), ("nobody", "s3cret")])
def test_login_refuses_bad_credentials_with_one_message(
    access: InMemoryAccess, user: str, password: str
) -> None:
    with pytest.raises(errors.Unauthenticated, match=r"^invalid entity name or password$"):
        domain.login(access, user, password)


def test_login_refuses_a_disabled_user(access: InMemoryAccess) -> None:
    access.disable("admin")
    with pytest.raises(errors.Unauthenticated, match=r"^invalid entity name or password$"):
        domain.login(access, "admin", "s3cret")


def test_login_refuses_a_user_without_a_password(access: InMemoryAccess) -> None:
    with access.transaction():
        access.add_user(domain.User(name="bob", created_at=START), None)
    with pytest.raises(errors.Unauthenticated, match=r"^invalid entity name or password$"):
        domain.login(access, "bob", "anything")


def test_login_validates_its_input(access: InMemoryAccess) -> None:
    with pytest.raises(errors.Invalid, match=r'^user name "x" not valid$'):
        domain.login(access, "x", "s3cret")
    with pytest.raises(errors.Invalid, match=r"^password must not be empty$"):
        domain.login(access, "admin", "")


def test_user_names_are_case_insensitive(access: InMemoryAccess) -> None:
    assert domain.login(access, "ADMIN", "s3cret").session.user.name == "admin"


def test_sessions_expire_after_their_ttl() -> None:
    clock = Clock()
    store = InMemoryAccess()
    domain.bootstrap_admin(store, "s3cret", now=clock)
    done = domain.login(store, "admin", "s3cret", now=clock, ttl=timedelta(hours=1))
    clock.now = START + timedelta(minutes=59)
    assert domain.authenticate(store, done.token, now=clock).user.name == "admin"
    clock.now = START + timedelta(hours=1)
    with pytest.raises(errors.Unauthenticated, match=r"^invalid or expired token; log in again$"):
        domain.authenticate(store, done.token, now=clock)


def test_login_purges_expired_sessions() -> None:
    clock = Clock()
    store = InMemoryAccess()
    domain.bootstrap_admin(store, "s3cret", now=clock)
    old = domain.login(store, "admin", "s3cret", now=clock, ttl=timedelta(hours=1))
    clock.now = START + timedelta(hours=2)
    new = domain.login(store, "admin", "s3cret", now=clock, ttl=timedelta(hours=1))
    assert list(store.state.sessions) == [domain.token_digest(new.token)]
    assert domain.token_digest(old.token) not in store.state.sessions


@pytest.mark.parametrize("token", ["", "never-issued"])
def test_authenticate_refuses_unknown_tokens(access: InMemoryAccess, token: str) -> None:
    with pytest.raises(errors.Unauthenticated, match=r"^invalid or expired token; log in again$"):
        domain.authenticate(access, token)


def test_authenticate_refuses_a_disabled_users_session(access: InMemoryAccess) -> None:
    done = domain.login(access, "admin", "s3cret")
    access.disable("admin")
    with pytest.raises(errors.Unauthenticated):
        domain.authenticate(access, done.token)


def test_logout_ends_the_session_and_emits_an_event(access: InMemoryAccess) -> None:
    done = domain.login(access, "admin", "s3cret")
    assert domain.logout(access, done.token) == 2
    assert access.state.events[-1] == ("logout", "admin", {})
    with pytest.raises(errors.Unauthenticated):
        domain.authenticate(access, done.token)


@pytest.mark.parametrize("token", ["", "never-issued"])
def test_logout_of_an_unknown_session_is_not_an_error(access: InMemoryAccess, token: str) -> None:
    assert domain.logout(access, token) == 0
    assert len(access.state.events) == 1


def test_get_user(access: InMemoryAccess) -> None:
    assert domain.get_user(access, "admin").superuser
    with pytest.raises(errors.NotFound, match=r'^user "bob" not found$'):
        domain.get_user(access, "bob")
    with pytest.raises(errors.Invalid, match=r'^user name "b" not valid$'):
        domain.get_user(access, "b")


def test_controller_identity_is_fixed_at_first_start() -> None:
    store = InMemoryAccess()
    first = domain.ensure_controller(store, "ctrl1", lambda: "uuid-1")
    again = domain.ensure_controller(store, "renamed", lambda: "uuid-2")
    assert first == again == domain.ControllerInfo(name="ctrl1", uuid="uuid-1")
    assert domain.controller_info(store) == first


@pytest.mark.parametrize("name", ["", "a.b", "a:b", "a/b", "-a"])
def test_controller_names_are_validated(name: str) -> None:
    with pytest.raises(errors.Invalid, match=rf'^controller name "{name}" not valid$'):
        domain.ensure_controller(InMemoryAccess(), name, lambda: "u")


def test_controller_info_before_set_up_is_unavailable() -> None:
    with pytest.raises(errors.Unavailable):
        domain.controller_info(InMemoryAccess())


def test_values_are_frozen(access: InMemoryAccess) -> None:
    user = domain.get_user(access, "admin")
    with pytest.raises(dataclasses.FrozenInstanceError):
        user.enabled = False  # type: ignore[misc]
