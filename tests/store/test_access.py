"""The access store contract: `SqliteAccess` and `InMemoryAccess` answer alike."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime, timedelta

import pytest

from kernel.access import TargetKind
from services.access.domain import (
    CONTROLLER,
    AuditEntry,
    AuditScope,
    ControllerInfo,
    Permission,
    Target,
    User,
)
from tests.store.conftest import REFUSED, AccessStore, Boom

T0 = datetime(2024, 5, 1, 12, 0, 0, 123456, tzinfo=UTC)


def model(uuid: str, label: str = "") -> Target:
    return Target(kind=TargetKind.MODEL, model_uuid=uuid, label=label)


def offer(model_uuid: str, offer_uuid: str, label: str = "") -> Target:
    return Target(kind=TargetKind.OFFER, model_uuid=model_uuid, offer_uuid=offer_uuid, label=label)


def add(
    store: AccessStore,
    name: str,
    *,
    password: str | None = None,
    display_name: str = "",
    enabled: bool = True,
    superuser: bool = False,
) -> User:
    user = User(
        name=name,
        display_name=display_name,
        enabled=enabled,
        superuser=superuser,
        created_at=T0,
    )
    with store.transaction():
        store.add_user(user, password)
    return user


def set_level(store: AccessStore, user: str, target: Target, level: str) -> None:
    with store.transaction():
        store.set_level(user, target, level)


# -- controller identity and secrets ------------------------------------------------------------


def test_the_controller_identity_is_none_until_set_and_set_once(access: AccessStore) -> None:
    assert access.controller_info() is None
    info = ControllerInfo(name="ctrl", uuid="c0ffee")
    with access.transaction():
        access.set_controller_info(info)
    assert access.controller_info() == info

    with pytest.raises(REFUSED), access.transaction():
        access.set_controller_info(ControllerInfo(name="other", uuid="beef"))
    assert access.controller_info() == info


def test_a_secret_is_made_on_first_use_and_kept(access: AccessStore) -> None:
    with access.transaction():
        first = access.secret("offer-tokens")
        again = access.secret("offer-tokens")
        other = access.secret("other")
    assert len(first) == 32
    assert again == first
    assert other != first


# -- users ---------------------------------------------------------------------------------------


def test_a_user_reads_back_as_added_in_any_case_of_its_name(access: AccessStore) -> None:
    added = add(access, "Bob", display_name="Bob Smith", enabled=False)
    assert access.count_users() == 1
    assert access.get_user("Bob") == added
    assert access.get_user("bob") == added
    assert access.get_user("BOB") == added
    assert access.get_user("alice") is None


def test_a_user_name_is_taken_in_any_case(access: AccessStore) -> None:
    add(access, "bob", display_name="first")
    with pytest.raises(REFUSED):
        add(access, "BOB", display_name="second")
    assert access.count_users() == 1
    found = access.get_user("bob")
    assert found is not None
    assert (found.name, found.display_name) == ("bob", "first")


def test_superuser_derives_from_the_controller_level_not_from_the_user_row(
    access: AccessStore,
) -> None:
    add(access, "bob", superuser=True)
    assert access.get_user("bob") == User(name="bob", created_at=T0)

    set_level(access, "bob", CONTROLLER, "superuser")
    found = access.get_user("BOB")
    assert found is not None
    assert found.superuser

    set_level(access, "bob", CONTROLLER, "login")
    found = access.get_user("bob")
    assert found is not None
    assert not found.superuser


def test_a_password_hash_reads_back_until_replaced(access: AccessStore) -> None:
    add(access, "bob", password="scrypt$1")
    add(access, "carol")
    assert access.password_hash("BOB") == "scrypt$1"
    assert access.password_hash("carol") is None
    assert access.password_hash("nobody") is None

    with access.transaction():
        access.set_password("bob", "scrypt$2")
        access.set_password("carol", "scrypt$3")
    assert access.password_hash("bob") == "scrypt$2"
    assert access.password_hash("carol") == "scrypt$3"

    with access.transaction():
        access.set_password("bob", None)
    assert access.password_hash("bob") is None


def test_disabling_a_user_reads_back(access: AccessStore) -> None:
    add(access, "bob")
    with access.transaction():
        access.set_enabled("bob", False)
    found = access.get_user("bob")
    assert found is not None
    assert not found.enabled
    with access.transaction():
        access.set_enabled("bob", True)
    found = access.get_user("bob")
    assert found is not None
    assert found.enabled


def test_users_page_by_name_in_any_case_with_their_controller_level(
    access: AccessStore,
) -> None:
    for name in ("carol", "Alice", "dave", "bob"):
        add(access, name)
    set_level(access, "alice", CONTROLLER, "superuser")
    set_level(access, "bob", CONTROLLER, "login")
    with access.transaction():
        access.set_enabled("dave", False)

    every = access.users(include_disabled=True, after="", limit=10)
    assert [(u.name, level) for u, level in every] == [
        ("Alice", "superuser"),
        ("bob", "login"),
        ("carol", ""),
        ("dave", ""),
    ]
    assert every[0][0].superuser
    assert [u.name for u, _ in access.users(include_disabled=False, after="", limit=10)] == [
        "Alice",
        "bob",
        "carol",
    ]
    assert [u.name for u, _ in access.users(include_disabled=True, after="ALICE", limit=2)] == [
        "bob",
        "carol",
    ]
    assert access.users(include_disabled=True, after="dave", limit=10) == []


# -- registrations -------------------------------------------------------------------------------


def test_a_registration_is_kept_replaced_and_deleted_once(access: AccessStore) -> None:
    add(access, "bob")
    assert access.registration("bob") is None
    with access.transaction():
        access.set_registration("bob", "digest-1", T0)
    assert access.registration("BOB") == "digest-1"
    with access.transaction():
        access.set_registration("bob", "digest-2", T0)
    assert access.registration("bob") == "digest-2"

    with access.transaction():
        assert access.delete_registration("Bob")
        assert not access.delete_registration("bob")
    assert access.registration("bob") is None


# -- sessions ------------------------------------------------------------------------------------


def test_a_session_reads_back_with_its_user_as_the_user_is_now(access: AccessStore) -> None:
    add(access, "bob")
    expires = T0 + timedelta(hours=24)
    with access.transaction():
        access.add_session("d1", "bob", T0, expires)
    session = access.get_session("d1")
    assert session is not None
    assert session.expires_at == expires
    assert session.user == User(name="bob", created_at=T0)
    assert access.get_session("d2") is None

    set_level(access, "bob", CONTROLLER, "superuser")
    with access.transaction():
        access.set_enabled("bob", False)
    session = access.get_session("d1")
    assert session is not None
    assert session.user.superuser
    assert not session.user.enabled


def test_deleting_a_session_returns_its_user_once(access: AccessStore) -> None:
    add(access, "bob")
    with access.transaction():
        access.add_session("d1", "bob", T0, T0 + timedelta(hours=1))
        assert access.delete_session("d1") == "bob"
        assert access.delete_session("d1") is None
    assert access.get_session("d1") is None


def test_sessions_expired_at_or_before_a_moment_are_deleted(access: AccessStore) -> None:
    add(access, "bob")
    with access.transaction():
        access.add_session("old", "bob", T0, T0 + timedelta(minutes=1))
        access.add_session("edge", "bob", T0, T0 + timedelta(minutes=2))
        access.add_session("live", "bob", T0, T0 + timedelta(minutes=3))
        assert access.delete_sessions_expired_at(T0 + timedelta(minutes=2)) == 2
    assert access.get_session("old") is None
    assert access.get_session("edge") is None
    assert access.get_session("live") is not None


def test_a_users_sessions_are_deleted_together(access: AccessStore) -> None:
    add(access, "bob")
    add(access, "carol")
    with access.transaction():
        access.add_session("b1", "bob", T0, T0 + timedelta(hours=1))
        access.add_session("b2", "bob", T0, T0 + timedelta(hours=1))
        access.add_session("c1", "carol", T0, T0 + timedelta(hours=1))
        assert access.delete_user_sessions("bob") == 2
        assert access.delete_user_sessions("bob") == 0
    assert access.get_session("b1") is None
    assert access.get_session("c1") is not None


# -- permissions ---------------------------------------------------------------------------------


def test_a_level_reads_back_for_the_user_in_any_case_and_only_on_its_target(
    access: AccessStore,
) -> None:
    add(access, "bob")
    set_level(access, "bob", model("m1"), "write")
    assert access.level("bob", model("m1")) == "write"
    assert access.level("BOB", model("m1", label="any label")) == "write"
    assert access.level("bob", model("m2")) == ""
    assert access.level("bob", offer("m1", "o1")) == ""
    assert access.level("bob", CONTROLLER) == ""
    assert access.level("carol", model("m1")) == ""


def test_a_user_holds_one_level_per_target_and_an_empty_level_deletes_it(
    access: AccessStore,
) -> None:
    add(access, "bob")
    set_level(access, "bob", offer("m1", "o1", "admin/prod.db"), "read")
    set_level(access, "BOB", offer("m1", "o1", "admin/prod.db"), "consume")
    assert [(p.user, p.level) for p in access.holders(offer("m1", "o1"))] == [("bob", "consume")]

    set_level(access, "bob", offer("m1", "o1"), "")
    assert access.level("bob", offer("m1", "o1")) == ""
    assert access.holders(offer("m1", "o1")) == []


def test_a_level_written_without_a_label_keeps_the_label_recorded(access: AccessStore) -> None:
    add(access, "bob")
    set_level(access, "bob", model("m1", "admin/prod"), "read")
    set_level(access, "bob", model("m1"), "write")
    (held,) = access.holders(model("m1"))
    assert held.target.label == "admin/prod"

    set_level(access, "bob", model("m1", "admin/renamed"), "admin")
    (held,) = access.holders(model("m1"))
    assert (held.level, held.target.label) == ("admin", "admin/renamed")


def test_holders_of_a_target_by_user_name_as_recorded_with_display_names(
    access: AccessStore,
) -> None:
    add(access, "carol", display_name="Carol")
    add(access, "Bob", display_name="Bob")
    target = offer("m1", "o1", "admin/prod.db")
    for user, level in (("carol", "consume"), ("everyone@external", "read"), ("bob", "admin")):
        set_level(access, user, target, level)
    set_level(access, "bob", offer("m1", "o2"), "read")
    set_level(access, "bob", model("m1"), "admin")

    assert access.holders(offer("m1", "o1")) == [
        Permission(user="bob", level="admin", target=target, display_name="Bob"),
        Permission(user="carol", level="consume", target=target, display_name="Carol"),
        Permission(user="everyone@external", level="read", target=target),
    ]
    assert access.holders(offer("m9", "o9")) == []


def test_the_offer_holders_of_a_model_are_those_on_its_offers_only(access: AccessStore) -> None:
    add(access, "bob")
    set_level(access, "bob", model("m1"), "admin")
    set_level(access, "bob", offer("m1", "o2"), "read")
    set_level(access, "bob", offer("m1", "o1"), "consume")
    set_level(access, "bob", offer("m2", "o3"), "consume")

    found = access.offer_holders_in_model("m1")
    assert [(p.target.offer_uuid, p.level) for p in found] == [("o1", "consume"), ("o2", "read")]
    assert all(p.target.model_uuid == "m1" for p in found)


def test_what_a_user_holds_by_kind_then_target(access: AccessStore) -> None:
    add(access, "bob")
    set_level(access, "bob", offer("m1", "o1"), "consume")
    set_level(access, "bob", model("m2"), "read")
    set_level(access, "bob", model("m1"), "admin")
    set_level(access, "bob", CONTROLLER, "login")
    set_level(access, "carol@external", model("m1"), "read")

    held = access.held_by("BOB")
    assert [(p.target.kind, p.target.key, p.level) for p in held] == [
        (TargetKind.CONTROLLER, "", "login"),
        (TargetKind.MODEL, "m1", "admin"),
        (TargetKind.MODEL, "m2", "read"),
        (TargetKind.OFFER, "o1", "consume"),
    ]
    assert access.held_by("nobody") == []


# -- audit ---------------------------------------------------------------------------------------


def audit(store: AccessStore, *entries: AuditEntry) -> None:
    with store.transaction():
        for entry in entries:
            store.add_audit(entry)


def entry(actor: str, user: str, target: Target = CONTROLLER, level: str = "") -> AuditEntry:
    return AuditEntry(time=T0, actor=actor, action="grant", user=user, level=level, target=target)


def test_audit_entries_read_back_newest_first_with_increasing_ids(access: AccessStore) -> None:
    first = entry("admin", "bob", offer("m1", "o1", "admin/prod.db"), "read")
    second = AuditEntry(time=T0 + timedelta(seconds=1), actor="admin", action="add-user", user="x")
    audit(access, first, second)

    assert access.audit(None, None, before=0, limit=10) == [
        replace(second, id=2),
        replace(first, id=1),
    ]


def test_audit_pages_go_back_from_an_id(access: AccessStore) -> None:
    audit(access, *(entry("admin", f"u{n}") for n in range(5)))
    assert [e.id for e in access.audit(None, None, before=0, limit=2)] == [5, 4]
    assert [e.id for e in access.audit(None, None, before=4, limit=2)] == [3, 2]
    assert [e.id for e in access.audit(None, None, before=2, limit=2)] == [1]


def test_audit_narrows_to_one_target(access: AccessStore) -> None:
    audit(
        access,
        entry("admin", "bob", model("m1"), "read"),
        entry("admin", "bob", offer("m1", "o1"), "read"),
        entry("admin", "bob", model("m2"), "read"),
    )
    assert [e.id for e in access.audit(None, model("m1"), before=0, limit=10)] == [1]
    assert [e.id for e in access.audit(None, offer("m1", "o1"), before=0, limit=10)] == [2]


def test_an_audit_scope_shows_its_users_entries_and_those_on_the_targets_it_names(
    access: AccessStore,
) -> None:
    audit(
        access,
        entry("admin", "bob"),  # 1: about bob
        entry("bob", "carol", model("m9"), "read"),  # 2: made by bob
        entry("admin", "carol", model("m1"), "read"),  # 3: on a model bob administers
        entry("admin", "carol", offer("m1", "o1"), "read"),  # 4: on an offer of that model
        entry("admin", "carol", offer("m2", "o2"), "read"),  # 5: on an offer bob administers
        entry("admin", "carol", offer("m3", "o3"), "read"),  # 6: nothing of bob's
        entry("admin", "carol", model("m2"), "read"),  # 7: the model of bob's offer only
        entry("admin", "carol"),  # 8: the controller
    )
    scope = AuditScope(user="bob", model_uuids=frozenset({"m1"}), offer_uuids=frozenset({"o2"}))
    assert [e.id for e in access.audit(scope, None, before=0, limit=10)] == [5, 4, 3, 2, 1]
    assert [e.id for e in access.audit(scope, model("m1"), before=0, limit=10)] == [3]
    bare = AuditScope(user="bob")
    assert [e.id for e in access.audit(bare, None, before=0, limit=10)] == [2, 1]


# -- transactions --------------------------------------------------------------------------------


def test_a_failed_transaction_leaves_no_user_level_session_or_audit_entry(
    access: AccessStore,
) -> None:
    add(access, "admin")

    def fail() -> None:
        with access.transaction():
            access.add_user(User(name="bob", created_at=T0), "scrypt$1")
            access.set_level("bob", model("m1"), "admin")
            access.set_level("admin", CONTROLLER, "superuser")
            access.add_session("d1", "bob", T0, T0 + timedelta(hours=1))
            access.set_registration("bob", "digest", T0)
            access.add_audit(entry("admin", "bob"))
            access.append_event("user-added", entity="bob")
            raise Boom

    with pytest.raises(Boom):
        fail()
    assert access.get_user("bob") is None
    assert access.count_users() == 1
    assert access.held_by("bob") == []
    assert access.level("admin", CONTROLLER) == ""
    assert access.get_session("d1") is None
    assert access.registration("bob") is None
    assert access.audit(None, None, before=0, limit=10) == []
    assert access.last_sequence() == 0
