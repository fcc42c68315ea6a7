"""The access service's user-management and permission RPCs over gRPC on port 0."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import grpc
import pytest

from cmr.access.v1 import access_pb2, access_pb2_grpc
from services.access.server import build_server
from services.common import config

START = datetime(2025, 1, 1, tzinfo=UTC)
PASSWORD = "s3cret"
pb = access_pb2

CONTROLLER = pb.Target(kind=pb.TARGET_KIND_CONTROLLER, label="controller")
MODEL = pb.Target(kind=pb.TARGET_KIND_MODEL, model_uuid="m1", label="admin/prod")
OFFER = pb.Target(
    kind=pb.TARGET_KIND_OFFER, model_uuid="m1", offer_uuid="o1", label="admin/prod.mysql"
)
OTHER_OFFER = pb.Target(
    kind=pb.TARGET_KIND_OFFER, model_uuid="m2", offer_uuid="o2", label="admin/test.pg"
)


@dataclass
class Svc:
    stub: access_pb2_grpc.AccessServiceStub
    secrets: dict[str, str]
    probes: int = 0

    def grant(self, user: str, level: str, target: pb.Target, actor: str = "admin") -> int:
        req = pb.GrantRequest(actor=actor, user=user, level=level, target=target)
        return self.stub.Grant(req, timeout=10).sequence

    def revoke(
        self, user: str, level: str, target: pb.Target, actor: str = "admin"
    ) -> pb.RevokeResponse:
        req = pb.RevokeRequest(actor=actor, user=user, level=level, target=target)
        return self.stub.Revoke(req, timeout=10)

    def level(self, user: str, target: pb.Target = OFFER) -> str:
        req = pb.CheckAccessRequest(user=user, targets=[target])
        return self.stub.CheckAccess(req, timeout=10).levels[0]

    def holders(self, target: pb.Target = OFFER) -> list[tuple[str, str, str]]:
        reply = self.stub.ListAccess(pb.ListAccessRequest(target=target), timeout=10)
        return [(e.user, e.display_name, e.level) for e in reply.entries]

    def register(self, user: str, password: str = "pw") -> str:  # noqa: S107 - a test value
        req = pb.RegisterRequest(user=user, secret=self.secrets[user], password=password)
        return self.stub.Register(req, timeout=10).session.token

    def login(self, user: str, password: str) -> str:
        req = pb.LoginRequest(user=user, password=password)
        return self.stub.Login(req, timeout=10).token

    def event(self, sequence: int) -> Any:
        stream = self.stub.Watch(pb.WatchRequest(after_sequence=sequence - 1), timeout=10)
        try:
            return next(iter(stream)).event
        finally:
            stream.cancel()  # type: ignore[no-untyped-call]  # untyped in grpc-stubs

    def state(self) -> object:
        """What an error must leave unchanged (the feed is checked by `next_sequence_is`)."""
        audit = self.stub.ListAudit(pb.ListAuditRequest(actor="admin", page_size=1000), timeout=10)
        users = self.stub.ListUsers(pb.ListUsersRequest(include_disabled=True), timeout=10)
        return (
            [self.holders(t) for t in (CONTROLLER, MODEL, OFFER)],
            list(audit.entries),
            list(users.users),
        )


@pytest.fixture
def svc(tmp_path: Path) -> Iterator[Svc]:
    password_file = tmp_path / "admin-password"
    password_file.write_text(PASSWORD + "\n")
    cfg = config.Config(
        data_dir=tmp_path,
        controller_name="ctrl1",
        bootstrap_password_file=password_file,
        ports={**config.DEFAULT_PORTS, "access": 0},
    )
    built = build_server(cfg, now=lambda: START, session_ttl=timedelta(hours=1))
    built.start()
    try:
        with grpc.insecure_channel(f"127.0.0.1:{built.port}") as channel:
            stub = access_pb2_grpc.AccessServiceStub(channel)
            secrets = {}
            for name in ("bob", "carol", "dave"):
                req = pb.AddUserRequest(actor="admin", name=name, display_name=name.title())
                secrets[name] = stub.AddUser(req, timeout=10).secret
            for target in (MODEL, OFFER):
                stub.InitTarget(pb.InitTargetRequest(target=target, owner="admin"), timeout=10)
            yield Svc(stub, secrets)
    finally:
        built.stop(None)


def refused(call: Callable[[], object], code: grpc.StatusCode, message: str) -> None:
    with pytest.raises(grpc.RpcError) as caught:
        call()
    err = caught.value
    assert isinstance(err, grpc.Call)
    assert (err.code(), err.details()) == (code, message)


def _probe(svc: Svc) -> int:
    # A harmless change on a model of its own: its sequence is the feed's newest.
    svc.probes += 1
    target = pb.Target(kind=pb.TARGET_KIND_MODEL, model_uuid=f"probe-{svc.probes}")
    req = pb.InitTargetRequest(target=target, owner="admin")
    return svc.stub.InitTarget(req, timeout=10).sequence


def last_sequence(svc: Svc) -> int:
    """The newest sequence, read by making one harmless change (returns its sequence)."""
    return _probe(svc)


def unchanged(svc: Svc, before: object, last: int) -> None:
    """Nothing moved: same listings, and the next event follows `last` directly."""
    assert svc.state() == before
    assert _probe(svc) == last + 1


C = grpc.StatusCode


# --- users --------------------------------------------------------------------------------


def test_register_round_trip(svc: Svc) -> None:
    assert len(svc.secrets["bob"]) == 43
    refused(lambda: svc.login("bob", "pw"), C.UNAUTHENTICATED, "invalid entity name or password")
    reply = svc.stub.Register(
        pb.RegisterRequest(user="bob", secret=svc.secrets["bob"], password="pw"), timeout=10
    )
    assert reply.session.user.name == "bob"
    assert reply.session.expires_at == "2025-01-01T01:00:00.000000Z"
    who = svc.stub.Authenticate(pb.AuthenticateRequest(token=reply.session.token), timeout=10)
    assert who.user.name == "bob"
    assert svc.login("bob", "pw")
    refused(
        lambda: svc.register("bob", "again"),
        C.UNAUTHENTICATED,
        'invalid registration secret for user "bob"',
    )
    svc.secrets["carol"] = "wrong"
    refused(
        lambda: svc.register("carol"),
        C.UNAUTHENTICATED,
        'invalid registration secret for user "carol"',
    )


def test_add_user(svc: Svc) -> None:
    reply = svc.stub.AddUser(pb.AddUserRequest(actor="admin", name="erin"), timeout=10)
    assert (reply.user.name, reply.user.enabled, reply.user.superuser) == ("erin", True, False)
    assert reply.user.created_at == "2025-01-01T00:00:00.000000Z"
    event = svc.event(reply.sequence)
    assert (event.kind, event.entity, event.attributes["superuser"]) == (
        "user-added",
        "erin",
        "false",
    )
    assert svc.level("erin", CONTROLLER) == "login"


@pytest.mark.parametrize(
    ("actor", "name", "code", "message"),
    [
        ("bob", "erin", C.PERMISSION_DENIED, "permission denied"),
        ("nobody", "erin", C.PERMISSION_DENIED, "permission denied"),
        ("admin", "Bob", C.ALREADY_EXISTS, 'user "Bob" already exists'),
        ("admin", "e", C.INVALID_ARGUMENT, 'user name "e" not valid'),
    ],
)
def test_add_user_refusals(svc: Svc, actor: str, name: str, code: C, message: str) -> None:
    seq = last_sequence(svc)
    before = svc.state()
    refused(
        lambda: svc.stub.AddUser(pb.AddUserRequest(actor=actor, name=name), timeout=10),
        code,
        message,
    )
    unchanged(svc, before, seq)


def test_change_password(svc: Svc) -> None:
    token = svc.register("bob")
    req = pb.ChangePasswordRequest(actor="bob", user="carol", password="x")
    refused(
        lambda: svc.stub.ChangePassword(req, timeout=10), C.PERMISSION_DENIED, "permission denied"
    )
    req = pb.ChangePasswordRequest(actor="bob", password="")
    refused(
        lambda: svc.stub.ChangePassword(req, timeout=10),
        C.INVALID_ARGUMENT,
        "password must not be empty",
    )
    seq = svc.stub.ChangePassword(
        pb.ChangePasswordRequest(actor="bob", password="mine"), timeout=10
    ).sequence
    assert svc.event(seq).kind == "password-changed"
    assert svc.login("bob", "mine")
    svc.stub.Authenticate(pb.AuthenticateRequest(token=token), timeout=10)
    svc.stub.ChangePassword(
        pb.ChangePasswordRequest(actor="admin", user="bob", password="reset"), timeout=10
    )
    refused(
        lambda: svc.stub.Authenticate(pb.AuthenticateRequest(token=token), timeout=10),
        C.UNAUTHENTICATED,
        "invalid or expired token; log in again",
    )
    assert svc.login("bob", "reset")


def test_disabled_user_cannot_log_in_and_their_token_stops(svc: Svc) -> None:
    token = svc.register("bob")
    seq = svc.stub.SetUserEnabled(
        pb.SetUserEnabledRequest(actor="admin", user="bob", enabled=False), timeout=10
    ).sequence
    assert (svc.event(seq).kind, svc.event(seq).entity) == ("user-disabled", "bob")
    refused(
        lambda: svc.stub.Authenticate(pb.AuthenticateRequest(token=token), timeout=10),
        C.UNAUTHENTICATED,
        "invalid or expired token; log in again",
    )
    refused(lambda: svc.login("bob", "pw"), C.UNAUTHENTICATED, "invalid entity name or password")
    users = svc.stub.ListUsers(pb.ListUsersRequest(), timeout=10).users
    assert [u.user.name for u in users] == ["admin", "carol", "dave"]
    svc.stub.SetUserEnabled(
        pb.SetUserEnabledRequest(actor="admin", user="bob", enabled=True), timeout=10
    )
    assert svc.login("bob", "pw")


@pytest.mark.parametrize(
    ("actor", "user", "code", "message"),
    [
        ("admin", "admin", C.FAILED_PRECONDITION, "cannot disable yourself"),
        ("admin", "bobby", C.NOT_FOUND, 'user "bobby" not found'),
        ("bob", "carol", C.PERMISSION_DENIED, "permission denied"),
    ],
)
def test_set_user_enabled_refusals(svc: Svc, actor: str, user: str, code: C, message: str) -> None:
    seq = last_sequence(svc)
    before = svc.state()
    req = pb.SetUserEnabledRequest(actor=actor, user=user, enabled=False)
    refused(lambda: svc.stub.SetUserEnabled(req, timeout=10), code, message)
    unchanged(svc, before, seq)


def test_list_users_with_controller_access_and_pages(svc: Svc) -> None:
    svc.grant("carol", "superuser", CONTROLLER)
    first = svc.stub.ListUsers(pb.ListUsersRequest(page_size=3), timeout=10)
    assert [(u.user.name, u.user.display_name, u.controller_access) for u in first.users] == [
        ("admin", "admin", "superuser"),
        ("bob", "Bob", "login"),
        ("carol", "Carol", "superuser"),
    ]
    assert first.users[2].user.superuser
    rest = svc.stub.ListUsers(pb.ListUsersRequest(page_token=first.next_page_token), timeout=10)
    assert ([u.user.name for u in rest.users], rest.next_page_token) == (["dave"], "")


# --- permissions --------------------------------------------------------------------------


def test_init_target_and_list_access(svc: Svc) -> None:
    assert svc.holders(OFFER) == [("admin", "admin", "admin"), ("everyone@external", "", "read")]
    assert svc.holders(MODEL) == [("admin", "admin", "admin")]
    again = svc.stub.InitTarget(pb.InitTargetRequest(target=OFFER, owner="admin"), timeout=10)
    assert again.sequence == 0


def test_full_revoke_ladder_with_feed_events(svc: Svc) -> None:
    seq = svc.grant("bob", "admin", OFFER)
    event = svc.event(seq)
    assert (event.kind, event.entity, event.model_uuid) == ("access-granted", "bob", "m1")
    assert dict(event.attributes) | {"label": ""} == {
        "user": "bob",
        "level": "admin",
        "previous": "",
        "target-kind": "offer",
        "model-uuid": "m1",
        "offer-uuid": "o1",
        "effective": "admin",
        "label": "",
    }
    steps = []
    for level in ("admin", "consume", "read"):
        reply = svc.revoke("bob", level, OFFER)
        event = svc.event(reply.sequence)
        assert event.kind == "access-revoked"
        steps.append((reply.level, event.attributes["previous"], svc.level("bob")))
    assert steps == [
        ("consume", "admin", "consume"),
        ("read", "consume", "read"),
        ("", "read", ""),
    ]
    assert ("bob", "Bob", "read") not in svc.holders()
    refused(
        lambda: svc.revoke("bob", "read", OFFER),
        C.NOT_FOUND,
        'could not revoke offer access: offer user "bob" does not exist',
    )


@pytest.mark.parametrize(
    ("actor", "user", "level", "target", "code", "message"),
    [
        ("admin", "bob", "write", OFFER, C.INVALID_ARGUMENT, '"write" offer access not valid'),
        ("admin", "bob", "consume", MODEL, C.INVALID_ARGUMENT, '"consume" model access not valid'),
        (
            "admin",
            "bob",
            "admin",
            CONTROLLER,
            C.INVALID_ARGUMENT,
            '"admin" controller access not valid',
        ),
        (
            "admin",
            "foobar",
            "consume",
            OFFER,
            C.NOT_FOUND,
            'could not grant offer access: user "foobar" not found',
        ),
        (
            "admin",
            "foobar",
            "read",
            MODEL,
            C.NOT_FOUND,
            'could not grant model access: user "foobar" not found',
        ),
        (
            "admin",
            "foobar",
            "login",
            CONTROLLER,
            C.NOT_FOUND,
            'could not grant controller access: user "foobar" not found',
        ),
        (
            "admin",
            "carol",
            "consume",
            OFFER,
            C.FAILED_PRECONDITION,
            'user already has "consume" access or greater',
        ),
        (
            "admin",
            "carol",
            "read",
            OFFER,
            C.FAILED_PRECONDITION,
            'user already has "read" access or greater',
        ),
        ("admin", "admin", "read", OFFER, C.FAILED_PRECONDITION, "cannot change your own access"),
        ("carol", "dave", "read", OFFER, C.PERMISSION_DENIED, "permission denied"),
        ("carol", "dave", "add-model", CONTROLLER, C.PERMISSION_DENIED, "permission denied"),
        ("carol", "dave", "read", MODEL, C.PERMISSION_DENIED, "permission denied"),
        (
            "admin",
            "dave",
            "read",
            pb.Target(),
            C.INVALID_ARGUMENT,
            "target kind must be controller, model or offer",
        ),
        (
            "admin",
            "dave",
            "read",
            pb.Target(kind=pb.TARGET_KIND_OFFER, model_uuid="m1"),
            C.INVALID_ARGUMENT,
            "offer target needs the offer_uuid",
        ),
    ],
)
def test_grant_refusals(
    svc: Svc, actor: str, user: str, level: str, target: pb.Target, code: C, message: str
) -> None:
    svc.grant("carol", "consume", OFFER)
    seq = last_sequence(svc)
    before = svc.state()
    refused(lambda: svc.grant(user, level, target, actor=actor), code, message)
    unchanged(svc, before, seq)


@pytest.mark.parametrize(
    ("actor", "user", "level", "target", "code", "message"),
    [
        (
            "admin",
            "carol",
            "admin",
            OFFER,
            C.FAILED_PRECONDITION,
            'cannot revoke "admin" offer access: user "carol" holds only "consume"',
        ),
        (
            "admin",
            "dave",
            "consume",
            OFFER,
            C.NOT_FOUND,
            'could not set offer access to read-only: offer user "dave" does not exist',
        ),
        (
            "admin",
            "dave",
            "admin",
            OFFER,
            C.NOT_FOUND,
            'could not set offer access to read-consume: offer user "dave" does not exist',
        ),
        (
            "admin",
            "dave",
            "read",
            MODEL,
            C.NOT_FOUND,
            'could not revoke model access: model user "dave" does not exist',
        ),
        ("carol", "admin", "read", OFFER, C.PERMISSION_DENIED, "permission denied"),
        (
            "admin",
            "admin",
            "superuser",
            CONTROLLER,
            C.FAILED_PRECONDITION,
            "cannot change your own access",
        ),
    ],
)
def test_revoke_refusals(
    svc: Svc, actor: str, user: str, level: str, target: pb.Target, code: C, message: str
) -> None:
    svc.grant("carol", "consume", OFFER)
    seq = last_sequence(svc)
    before = svc.state()
    refused(lambda: svc.revoke(user, level, target, actor=actor), code, message)
    unchanged(svc, before, seq)


def test_model_admins_administer_the_models_offers(svc: Svc) -> None:
    svc.grant("bob", "admin", MODEL)
    assert svc.level("bob", OFFER) == "admin"
    svc.grant("carol", "consume", OFFER, actor="bob")
    assert svc.revoke("carol", "consume", OFFER, actor="bob").level == "read"
    refused(
        lambda: svc.grant("carol", "read", OTHER_OFFER, actor="bob"),
        C.PERMISSION_DENIED,
        "permission denied",
    )
    # An offer admin may grant on the offer, not on its model.
    svc.grant("dave", "admin", OFFER)
    svc.grant("carol", "consume", OFFER, actor="dave")
    refused(
        lambda: svc.grant("carol", "read", MODEL, actor="dave"),
        C.PERMISSION_DENIED,
        "permission denied",
    )


def test_check_access(svc: Svc) -> None:
    svc.grant("bob", "write", MODEL)
    svc.grant("carol", "add-model", CONTROLLER)
    targets = [CONTROLLER, MODEL, OFFER]
    levels = {
        user: list(
            svc.stub.CheckAccess(
                pb.CheckAccessRequest(user=user, targets=targets), timeout=10
            ).levels
        )
        for user in ("admin", "bob", "carol", "nobody", "someone@external")
    }
    assert levels == {
        "admin": ["superuser", "admin", "admin"],
        "bob": ["login", "write", ""],
        "carol": ["add-model", "", ""],
        "nobody": ["", "", ""],
        "someone@external": ["", "", "read"],
    }


def test_external_users_inherit_everyone_at_external(svc: Svc) -> None:
    svc.grant("everyone@external", "consume", OFFER)
    assert svc.level("fred@external") == "consume"
    svc.grant("fred@external", "admin", OFFER)
    assert svc.level("fred@external") == "admin"
    assert svc.revoke("everyone@external", "read", OFFER).level == ""
    assert svc.level("jane@external") == ""


def test_drop_target_removes_a_models_and_its_offers_permissions(svc: Svc) -> None:
    svc.grant("bob", "consume", OFFER)
    reply = svc.stub.DropTarget(pb.DropTargetRequest(target=MODEL), timeout=10)
    event = svc.event(reply.sequence)
    assert (event.kind, event.attributes["level"]) == ("access-revoked", "")
    assert svc.holders(MODEL) == svc.holders(OFFER) == []
    assert svc.stub.DropTarget(pb.DropTargetRequest(target=MODEL), timeout=10).sequence == 0


def test_audit_log_visibility_and_pages(svc: Svc) -> None:
    svc.grant("bob", "admin", MODEL)
    svc.grant("carol", "consume", OFFER, actor="bob")
    svc.stub.InitTarget(pb.InitTargetRequest(target=OTHER_OFFER, owner="admin"), timeout=10)
    svc.grant("dave", "read", OTHER_OFFER)

    def audit(actor: str, **kw: Any) -> pb.ListAuditResponse:
        return svc.stub.ListAudit(pb.ListAuditRequest(actor=actor, **kw), timeout=10)

    everything = audit("admin").entries
    assert [(e.action, e.user) for e in everything][:2] == [
        ("grant", "dave"),
        ("init-target", "everyone@external"),
    ]
    assert everything[0].time == "2025-01-01T00:00:00.000000Z"
    assert everything[0].target.label == "admin/test.pg"
    bobs = audit("bob").entries
    assert all(e.target.label != "admin/test.pg" for e in bobs)
    assert ("grant", "bob", "carol", "consume") in [
        (e.action, e.actor, e.user, e.level) for e in bobs
    ]
    assert [(e.action, e.user) for e in audit("dave").entries] == [
        ("grant", "dave"),
        ("add-user", "dave"),
    ]
    assert [e.user for e in audit("bob", target=OFFER).entries] == [
        "carol",
        "everyone@external",
        "admin",
    ]
    pages, token = [], ""
    while True:
        page = audit("admin", page_size=4, page_token=token)
        pages += list(page.entries)
        token = page.next_page_token
        if not token:
            break
    assert pages == list(everything)
    refused(
        lambda: audit("admin", page_size=-1),
        C.INVALID_ARGUMENT,
        "page_size must not be negative, got -1",
    )
    refused(
        lambda: audit("admin", page_token="x"),
        C.INVALID_ARGUMENT,
        "page_token not valid: pass the next_page_token of a previous page",
    )
    refused(lambda: audit("nobody"), C.PERMISSION_DENIED, "permission denied")
