"""User management and permission rules, on the in-memory fake and the SQLite store alike."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import pytest

from kernel import errors
from kernel.access import TargetKind
from services.access import domain
from services.access.domain import Target
from services.access.store import SqliteAccess
from tests.unit.access.fakes import InMemoryAccess

START = datetime(2025, 1, 1, tzinfo=UTC)
MODEL = Target(kind=TargetKind.MODEL, model_uuid="m1", label="admin/prod")
OFFER = Target(kind=TargetKind.OFFER, model_uuid="m1", offer_uuid="o1", label="admin/prod.mysql")
OTHER_OFFER = Target(
    kind=TargetKind.OFFER, model_uuid="m2", offer_uuid="o2", label="admin/test.pg"
)
CONTROLLER = domain.CONTROLLER


def now() -> datetime:
    return START


class World:
    """A store with `admin`, registered users bob, carol and dave, a model and its offer."""

    def __init__(self, store: domain.Access) -> None:
        self.store = store
        domain.bootstrap_admin(store, "s3cret", now=now)
        self.secrets: dict[str, str] = {}
        for name in ("bob", "carol", "dave"):
            added = domain.add_user(store, "admin", name, name.title(), now=now)
            self.secrets[name] = added.secret
        domain.init_target(store, MODEL, "admin", now=now)
        domain.init_target(store, OFFER, "admin", now=now)

    def events(self) -> list[tuple[str, str, dict[str, str]]]:
        if isinstance(self.store, InMemoryAccess):
            return self.store.state.events
        assert isinstance(self.store, SqliteAccess)
        return [(e.kind, e.entity, dict(e.attributes)) for e in self.store.events_after(0)]

    def snapshot(self) -> object:
        """Everything an error must leave unchanged."""
        return (
            self.events(),
            [domain.list_access(self.store, t) for t in (CONTROLLER, MODEL, OFFER)],
            domain.list_audit(self.store, "admin", None, 1000, ""),
            domain.list_users(self.store, True, 1000, ""),
        )

    def level(self, user: str, target: Target = OFFER) -> str:
        return domain.check_access(self.store, user, [target])[0]


@pytest.fixture(params=["memory", "sqlite"])
def world(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[World]:
    if request.param == "memory":
        yield World(InMemoryAccess())
        return
    store = SqliteAccess(tmp_path / "access.db")
    try:
        yield World(store)
    finally:
        store.close()


# --- users --------------------------------------------------------------------------------


def test_add_user_gives_login_and_a_secret_but_no_password(world: World) -> None:
    bob = domain.get_user(world.store, "bob")
    assert (bob.display_name, bob.superuser, bob.enabled) == ("Bob", False, True)
    assert world.level("bob", CONTROLLER) == "login"
    assert len(world.secrets["bob"]) == 43
    assert world.store.password_hash("bob") is None
    assert world.store.registration("bob") == domain.token_digest(world.secrets["bob"])
    assert ("user-added", "bob", {"superuser": "false", "created-by": "admin"}) in world.events()


def test_only_a_superuser_adds_users(world: World) -> None:
    before = world.snapshot()
    with pytest.raises(errors.Forbidden, match=r"^permission denied$"):
        domain.add_user(world.store, "bob", "erin")
    assert world.snapshot() == before


@pytest.mark.parametrize("name", ["bob", "BOB"])
def test_add_user_refuses_an_existing_name(world: World, name: str) -> None:
    with pytest.raises(errors.AlreadyExists, match=rf'^user "{name}" already exists$'):
        domain.add_user(world.store, "admin", name)


@pytest.mark.parametrize("name", ["x", "bob@external"])
def test_add_user_refuses_invalid_and_external_names(world: World, name: str) -> None:
    with pytest.raises(errors.Invalid, match=rf'^user name "{name}" not valid$'):
        domain.add_user(world.store, "admin", name)


def test_register_sets_the_password_once_and_logs_in(world: World) -> None:
    with pytest.raises(errors.Unauthenticated, match=r"^invalid entity name or password$"):
        domain.login(world.store, "bob", "pw")
    done = domain.register(world.store, "bob", world.secrets["bob"], "pw", now=now)
    assert done.session.user.name == "bob"
    assert domain.authenticate(world.store, done.token, now=now).user.name == "bob"
    assert domain.login(world.store, "bob", "pw").session.user.name == "bob"
    with pytest.raises(
        errors.Unauthenticated, match=r'^invalid registration secret for user "bob"$'
    ):
        domain.register(world.store, "bob", world.secrets["bob"], "other", now=now)
    assert world.events()[-1] == ("user-registered", "bob", {})


@pytest.mark.parametrize(
    ("user", "secret"), [("bob", "wrong"), ("bob", ""), ("carol", "bob"), ("nobody", "bob")]
)
def test_register_refuses_a_wrong_secret(world: World, user: str, secret: str) -> None:
    secret = world.secrets["bob"] if secret == "bob" else secret
    before = world.snapshot()
    with pytest.raises(
        errors.Unauthenticated, match=rf'^invalid registration secret for user "{user}"$'
    ):
        domain.register(world.store, user, secret, "pw")
    assert world.snapshot() == before


def test_register_refuses_a_disabled_user(world: World) -> None:
    domain.set_user_enabled(world.store, "admin", "bob", False)
    with pytest.raises(errors.Unauthenticated, match=r"^invalid entity name or password$"):
        domain.register(world.store, "bob", world.secrets["bob"], "pw")


def test_change_own_password_keeps_sessions(world: World) -> None:
    done = domain.register(world.store, "bob", world.secrets["bob"], "pw")
    seq = domain.change_password(world.store, "bob", "", "new")
    assert world.events()[seq - 1] == ("password-changed", "bob", {"actor": "bob"})
    assert domain.login(world.store, "bob", "new").session.user.name == "bob"
    assert domain.authenticate(world.store, done.token).user.name == "bob"


def test_a_superuser_changing_a_password_ends_that_users_sessions(world: World) -> None:
    done = domain.register(world.store, "bob", world.secrets["bob"], "pw")
    domain.change_password(world.store, "admin", "bob", "reset")
    with pytest.raises(errors.Unauthenticated):
        domain.authenticate(world.store, done.token)
    assert domain.login(world.store, "bob", "reset").session.user.name == "bob"


def test_change_password_refusals(world: World) -> None:
    before = world.snapshot()
    with pytest.raises(errors.Forbidden, match=r"^permission denied$"):
        domain.change_password(world.store, "bob", "carol", "pw")
    with pytest.raises(errors.Invalid, match=r"^password must not be empty$"):
        domain.change_password(world.store, "bob", "", "")
    with pytest.raises(errors.NotFound, match=r'^user "erin" not found$'):
        domain.change_password(world.store, "admin", "erin", "pw")
    assert world.snapshot() == before


def test_disabling_ends_sessions_and_enabling_restores_login(world: World) -> None:
    done = domain.register(world.store, "bob", world.secrets["bob"], "pw")
    assert domain.set_user_enabled(world.store, "admin", "bob", False) > 0
    with pytest.raises(errors.Unauthenticated):
        domain.authenticate(world.store, done.token)
    with pytest.raises(errors.Unauthenticated, match=r"^invalid entity name or password$"):
        domain.login(world.store, "bob", "pw")
    assert world.level("bob", MODEL) == ""
    assert domain.set_user_enabled(world.store, "admin", "bob", False) == 0
    domain.set_user_enabled(world.store, "admin", "bob", True)
    assert domain.login(world.store, "bob", "pw").session.user.enabled
    assert [e[0] for e in world.events()[-2:]] == ["user-disabled", "user-enabled"]


def test_set_user_enabled_refusals(world: World) -> None:
    before = world.snapshot()
    with pytest.raises(errors.Refused, match=r"^cannot disable yourself$"):
        domain.set_user_enabled(world.store, "admin", "ADMIN", False)
    with pytest.raises(errors.NotFound, match=r'^user "erin" not found$'):
        domain.set_user_enabled(world.store, "admin", "erin", False)
    with pytest.raises(errors.Forbidden, match=r"^permission denied$"):
        domain.set_user_enabled(world.store, "bob", "carol", False)
    assert world.snapshot() == before


def test_list_users_pages_by_name_with_controller_access(world: World) -> None:
    domain.set_user_enabled(world.store, "admin", "dave", False)
    first, token = domain.list_users(world.store, False, 2, "")
    assert [(u.name, lv) for u, lv in first] == [("admin", "superuser"), ("bob", "login")]
    rest, last = domain.list_users(world.store, False, 2, token)
    assert ([u.name for u, _ in rest], last) == (["carol"], "")
    everyone, _ = domain.list_users(world.store, True, 0, "")
    assert [u.name for u, _ in everyone] == ["admin", "bob", "carol", "dave"]
    with pytest.raises(errors.Invalid, match=r"^page_token not valid"):
        domain.list_users(world.store, False, 2, "garbage")
    with pytest.raises(errors.Invalid, match=r"^page_size must not be negative, got -1$"):
        domain.list_users(world.store, False, -1, "")


# --- levels and who may change them -------------------------------------------------------


@pytest.mark.parametrize(
    ("target", "level", "message"),
    [
        (OFFER, "write", '"write" offer access not valid'),
        (OFFER, "superuser", '"superuser" offer access not valid'),
        (MODEL, "consume", '"consume" model access not valid'),
        (CONTROLLER, "admin", '"admin" controller access not valid'),
        (OFFER, "", '"" offer access not valid'),
    ],
)
def test_levels_are_valid_per_kind(world: World, target: Target, level: str, message: str) -> None:
    for change in (domain.grant, domain.revoke):
        with pytest.raises(errors.Invalid, match=f"^{message}$"):
            change(world.store, "admin", "bob", level, target)


def test_the_full_offer_revoke_ladder(world: World) -> None:
    store = world.store
    domain.grant(store, "admin", "bob", "admin", OFFER)
    assert domain.revoke(store, "admin", "bob", "admin", OFFER)[0] == "consume"
    assert domain.revoke(store, "admin", "bob", "consume", OFFER)[0] == "read"
    level, seq, *_ = domain.revoke(store, "admin", "bob", "read", OFFER)
    assert level == ""
    assert world.level("bob") == ""
    assert world.events()[seq - 1] == (
        "access-revoked",
        "bob",
        {
            "user": "bob",
            "level": "",
            "previous": "read",
            "target-kind": "offer",
            "model-uuid": "m1",
            "offer-uuid": "o1",
            "label": "admin/prod.mysql",
            "effective": "",
        },
    )
    before = world.snapshot()
    for level, wrapper in [
        ("read", "could not revoke offer access"),
        ("consume", "could not set offer access to read-only"),
        ("admin", "could not set offer access to read-consume"),
    ]:
        with pytest.raises(errors.NotFound, match=f'^{wrapper}: offer user "bob" does not exist$'):
            domain.revoke(store, "admin", "bob", level, OFFER)
    assert world.snapshot() == before


def test_revoke_read_from_an_admin_removes_everything(world: World) -> None:
    domain.grant(world.store, "admin", "bob", "admin", OFFER)
    assert domain.revoke(world.store, "admin", "bob", "read", OFFER)[0] == ""


def test_revoking_a_level_not_held_is_refused(world: World) -> None:
    domain.grant(world.store, "admin", "bob", "consume", OFFER)
    before = world.snapshot()
    with pytest.raises(
        errors.Refused,
        match=r'^cannot revoke "admin" offer access: user "bob" holds only "consume"$',
    ):
        domain.revoke(world.store, "admin", "bob", "admin", OFFER)
    assert world.snapshot() == before


def test_model_revoke_ladder_and_messages(world: World) -> None:
    with pytest.raises(
        errors.NotFound, match=r'^could not revoke model access: model user "bob" does not exist$'
    ):
        domain.revoke(world.store, "admin", "bob", "read", MODEL)
    domain.grant(world.store, "admin", "bob", "admin", MODEL)
    assert domain.revoke(world.store, "admin", "bob", "admin", MODEL)[0] == "write"
    assert domain.revoke(world.store, "admin", "bob", "write", MODEL)[0] == "read"


@pytest.mark.parametrize(
    ("held", "wanted"), [("consume", "consume"), ("consume", "read"), ("admin", "consume")]
)
def test_grant_only_raises(world: World, held: str, wanted: str) -> None:
    domain.grant(world.store, "admin", "bob", held, OFFER)
    before = world.snapshot()
    with pytest.raises(errors.Refused, match=rf'^user already has "{wanted}" access or greater$'):
        domain.grant(world.store, "admin", "bob", wanted, OFFER)
    assert world.snapshot() == before


def test_grant_emits_access_granted_and_audits(world: World) -> None:
    seq = domain.grant(world.store, "admin", "bob", "consume", OFFER, now=now)
    kind, entity, attrs = world.events()[seq - 1]
    assert (kind, entity) == ("access-granted", "bob")
    assert (attrs["level"], attrs["previous"], attrs["effective"]) == ("consume", "", "consume")
    newest = domain.list_audit(world.store, "admin", None, 1, "")[0][0]
    assert (newest.actor, newest.action, newest.user, newest.level) == (
        "admin",
        "grant",
        "bob",
        "consume",
    )
    assert newest.target.same(OFFER)
    assert newest.time == START


@pytest.mark.parametrize(
    ("target", "kind"), [(OFFER, "offer"), (MODEL, "model"), (CONTROLLER, "controller")]
)
def test_grant_to_an_unknown_user(world: World, target: Target, kind: str) -> None:
    with pytest.raises(
        errors.NotFound, match=rf'^could not grant {kind} access: user "foobar" not found$'
    ):
        domain.grant(
            world.store, "admin", "foobar", "read" if kind != "controller" else "add-model", target
        )


def test_non_admins_may_not_grant_or_revoke(world: World) -> None:
    domain.grant(world.store, "admin", "bob", "consume", OFFER)
    domain.grant(world.store, "admin", "carol", "write", MODEL)
    before = world.snapshot()
    for actor, target in [("bob", OFFER), ("carol", MODEL), ("carol", OFFER), ("bob", CONTROLLER)]:
        for change in (domain.grant, domain.revoke):
            level = "add-model" if target is CONTROLLER else "read"
            with pytest.raises(errors.Forbidden, match=r"^permission denied$"):
                change(world.store, actor, "dave", level, target)
    with pytest.raises(errors.Forbidden):
        domain.grant(world.store, "nobody", "dave", "read", OFFER)
    assert world.snapshot() == before


def test_offer_admins_and_model_admins_may_grant_on_the_offer(world: World) -> None:
    domain.grant(world.store, "admin", "bob", "admin", OFFER)
    domain.grant(world.store, "bob", "carol", "consume", OFFER)
    domain.grant(world.store, "admin", "dave", "admin", MODEL)
    assert world.level("dave") == "admin"
    domain.revoke(world.store, "dave", "carol", "consume", OFFER)
    assert world.level("carol") == "read"
    # A model admin administers only that model's offers.
    with pytest.raises(errors.Forbidden):
        domain.grant(world.store, "dave", "carol", "read", OTHER_OFFER)


def test_nobody_changes_their_own_access(world: World) -> None:
    domain.grant(world.store, "admin", "bob", "admin", OFFER)
    for actor, target in [("bob", OFFER), ("admin", MODEL), ("admin", CONTROLLER)]:
        level = "login" if target is CONTROLLER else "read"
        with pytest.raises(errors.Refused, match=r"^cannot change your own access$"):
            domain.revoke(world.store, actor, actor.upper(), level, target)


def test_controller_superuser_is_granted_and_revoked(world: World) -> None:
    domain.grant(world.store, "admin", "bob", "superuser", CONTROLLER)
    assert domain.get_user(world.store, "bob").superuser
    assert world.level("bob", OTHER_OFFER) == "admin"
    domain.grant(world.store, "bob", "carol", "add-model", CONTROLLER)
    assert domain.revoke(world.store, "admin", "bob", "superuser", CONTROLLER)[0] == "add-model"
    assert not domain.get_user(world.store, "bob").superuser
    assert world.level("bob", OTHER_OFFER) == ""


# --- effective levels ---------------------------------------------------------------------


def test_check_access_effective_levels(world: World) -> None:
    domain.grant(world.store, "admin", "bob", "admin", MODEL)
    domain.grant(world.store, "admin", "carol", "consume", OFFER)
    targets = [CONTROLLER, MODEL, OFFER, OTHER_OFFER]
    check = domain.check_access
    assert check(world.store, "admin", targets) == ["superuser", "admin", "admin", "admin"]
    assert check(world.store, "bob", targets) == ["login", "admin", "admin", ""]
    assert check(world.store, "carol", targets) == ["login", "", "consume", ""]
    assert check(world.store, "nobody", targets) == ["", "", "", ""]


def test_external_users_inherit_everyone_at_external(world: World) -> None:
    assert world.level("someone@external") == "read"
    assert world.level("bob") == ""  # local users need an explicit grant
    domain.grant(world.store, "admin", domain.EVERYONE, "consume", OFFER)
    assert world.level("someone@external") == "consume"
    domain.grant(world.store, "admin", "ext@external", "admin", OFFER)
    assert world.level("ext@external") == "admin"
    with pytest.raises(errors.NotFound, match=r"^could not grant model access"):
        domain.grant(world.store, "admin", domain.EVERYONE, "read", MODEL)


# --- targets, listings, audit -------------------------------------------------------------


def test_init_target_records_owner_and_everyone_once(world: World) -> None:
    held = [(p.user, p.display_name, p.level) for p in domain.list_access(world.store, OFFER)]
    assert held == [("admin", "admin", "admin"), ("everyone@external", "", "read")]
    assert domain.init_target(world.store, OFFER, "admin") == 0
    with pytest.raises(errors.NotFound, match=r'^user "erin" not found$'):
        domain.init_target(world.store, OTHER_OFFER, "erin")
    with pytest.raises(errors.Invalid):
        domain.init_target(world.store, CONTROLLER, "admin")


def test_drop_model_drops_its_offers_permissions(world: World) -> None:
    domain.init_target(world.store, OTHER_OFFER, "admin")
    domain.grant(world.store, "admin", "bob", "consume", OFFER)
    seq = domain.drop_target(world.store, MODEL)
    assert seq > 0
    assert domain.list_access(world.store, MODEL) == []
    assert domain.list_access(world.store, OFFER) == []
    assert len(domain.list_access(world.store, OTHER_OFFER)) == 2
    assert domain.drop_target(world.store, MODEL) == 0
    newest = domain.list_audit(world.store, "admin", None, 1, "")[0][0]
    assert (newest.actor, newest.action, newest.level) == ("controller", "drop-target", "")


def test_audit_visibility_and_paging(world: World) -> None:
    domain.init_target(world.store, OTHER_OFFER, "admin")
    domain.grant(world.store, "admin", "bob", "admin", MODEL)
    domain.grant(world.store, "admin", "carol", "consume", OTHER_OFFER)
    everything, _ = domain.list_audit(world.store, "admin", None, 0, "")
    bobs, _ = domain.list_audit(world.store, "bob", None, 0, "")
    carols, _ = domain.list_audit(world.store, "carol", None, 0, "")
    assert len(everything) == 10
    assert [e.id for e in everything] == sorted((e.id for e in everything), reverse=True)
    # bob administers the model, so sees it and its offer, and what is about him.
    assert {(e.action, e.target.label) for e in bobs} == {
        ("add-user", "controller"),
        ("init-target", "admin/prod"),
        ("init-target", "admin/prod.mysql"),
        ("grant", "admin/prod"),
    }
    assert [(e.action, e.user) for e in carols] == [("grant", "carol"), ("add-user", "carol")]
    page, token = domain.list_audit(world.store, "admin", None, 5, "")
    rest, last = domain.list_audit(world.store, "admin", None, 100, token)
    assert (page + rest, last) == (everything, "")
    only, _ = domain.list_audit(world.store, "bob", MODEL, 0, "")
    assert [e.action for e in only] == ["grant", "init-target"]
    with pytest.raises(errors.Forbidden):
        domain.list_audit(world.store, "nobody", None, 0, "")
    with pytest.raises(errors.Invalid, match=r"^page_token not valid"):
        domain.list_audit(world.store, "admin", None, 0, "bm90LWpzb24=")
