"""Offer tokens: signed here, short-lived, scoped, and re-checked against consume access."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import replace
from pathlib import Path

import pytest

from kernel import errors, tokens
from services.access import domain, signing
from services.access.domain import ControllerInfo
from services.access.store import SqliteAccess
from tests.unit.access.fakes import InMemoryAccess
from tests.unit.access.test_permissions import OFFER, World, now

T0 = 1_800_000_000.0
CLAIMS = tokens.Claims(
    issuer="", kind=tokens.CONSUME, user="", offer_uuid="o1", source_model_uuid="consumer-1"
)


@pytest.fixture(params=["memory", "sqlite"])
def world(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[World]:
    store: domain.Access = (
        InMemoryAccess() if request.param == "memory" else SqliteAccess(tmp_path / "access.db")
    )
    if store.controller_info() is None:
        with store.transaction():
            store.set_controller_info(ControllerInfo(name="ctrl", uuid="ctrl-uuid"))
    try:
        yield World(store)
    finally:
        if isinstance(store, SqliteAccess):
            store.close()


def _issue(world: World, user: str, claims: tokens.Claims = CLAIMS) -> str:
    token, expires = domain.issue_offer_token(
        world.store, user=user, offer_model_uuid="m1", claims=claims, now=T0
    )
    assert expires == int(T0) + tokens.LIFETIME_S
    return token


def _verify(world: World, token: str, *, at: float = T0 + 1, **scope: str) -> tokens.Claims:
    wanted = {"kind": tokens.CONSUME, "offer_uuid": "o1", **scope}
    return domain.verify_offer_token(world.store, token, offer_model_uuid="m1", now=at, **wanted)


def test_a_consumer_gets_a_token_that_verifies(world: World) -> None:
    domain.grant(world.store, "admin", "bob", "consume", OFFER, now=now)
    claims = _verify(world, _issue(world, "bob"), source_model_uuid="consumer-1")
    assert (claims.issuer, claims.user, claims.offer_uuid) == ("ctrl-uuid", "bob", "o1")


def test_only_consumers_get_tokens(world: World) -> None:
    with pytest.raises(errors.NotFound):
        _issue(world, "bob")
    domain.grant(world.store, "admin", "bob", "read", OFFER, now=now)
    with pytest.raises(errors.Forbidden, match=r"^permission denied$"):
        _issue(world, "bob")
    # the offering model's admin is an implicit offer admin
    assert _verify(world, _issue(world, "admin")).user == "admin"


def test_a_token_expires(world: World) -> None:
    domain.grant(world.store, "admin", "bob", "consume", OFFER, now=now)
    token = _issue(world, "bob")
    with pytest.raises(errors.Unauthenticated, match="expired"):
        _verify(world, token, at=T0 + tokens.LIFETIME_S)


def test_a_token_lasts_its_whole_lifetime_whenever_in_a_second_it_is_issued(
    world: World,
) -> None:
    domain.grant(world.store, "admin", "bob", "consume", OFFER, now=now)
    issued = T0 + 0.9
    token, expires = domain.issue_offer_token(
        world.store, user="bob", offer_model_uuid="m1", claims=CLAIMS, now=issued
    )
    assert expires >= issued + tokens.LIFETIME_S
    _verify(world, token, at=issued + tokens.LIFETIME_S - 0.01)
    with pytest.raises(errors.Unauthenticated, match="expired"):
        _verify(world, token, at=expires)


def test_a_revoke_bites_at_the_next_use(world: World) -> None:
    domain.grant(world.store, "admin", "bob", "consume", OFFER, now=now)
    token = _issue(world, "bob")
    domain.revoke(world.store, "admin", "bob", "consume", OFFER, now=now)
    with pytest.raises(errors.Forbidden, match=r"^permission denied$"):
        _verify(world, token)
    with pytest.raises(errors.Forbidden):
        _issue(world, "bob")


def test_a_token_is_good_only_within_its_scope(world: World) -> None:
    domain.grant(world.store, "admin", "bob", "consume", OFFER, now=now)
    consume = _issue(world, "bob")
    relation = _issue(world, "bob", replace(CLAIMS, kind=tokens.RELATION, relation="rel-1"))
    with pytest.raises(errors.Forbidden, match="another offer"):
        _verify(world, consume, offer_uuid="o2")
    with pytest.raises(errors.Forbidden, match="another consuming model"):
        _verify(world, consume, source_model_uuid="consumer-2")
    with pytest.raises(errors.Forbidden, match="cannot be used as a relation token"):
        _verify(world, consume, kind=tokens.RELATION, relation="rel-1")
    assert _verify(world, relation, kind=tokens.RELATION, relation="rel-1").relation == "rel-1"
    with pytest.raises(errors.Forbidden, match="another relation"):
        _verify(world, relation, kind=tokens.RELATION, relation="rel-2")


@pytest.mark.parametrize(
    ("mangle", "message"),
    [
        (lambda t: "", "malformed"),
        (lambda t: "x" * 5000, "malformed"),
        (lambda t: t.replace(".", ".."), "malformed"),
        (lambda t: t[:-2] + ("AA" if not t.endswith("AA") else "BB"), "not issued by this"),
        (lambda t: "e30." + t.split(".")[1], "not issued by this"),
    ],
)
def test_forged_or_damaged_tokens_are_refused(world: World, mangle: object, message: str) -> None:
    domain.grant(world.store, "admin", "bob", "consume", OFFER, now=now)
    token = _issue(world, "bob")
    assert callable(mangle)
    with pytest.raises(errors.Unauthenticated, match=message):
        _verify(world, mangle(token))


def test_a_token_signed_by_another_key_or_controller_is_refused(world: World) -> None:
    domain.grant(world.store, "admin", "bob", "consume", OFFER, now=now)
    claims = replace(CLAIMS, issuer="ctrl-uuid", user="bob", expires=int(T0) + 100)
    with pytest.raises(errors.Unauthenticated, match="not issued by this controller"):
        _verify(world, signing.mint(b"another controller's key", claims))
    secret = world.store.secret(domain.TOKEN_KEY)
    with pytest.raises(errors.Unauthenticated, match="another controller"):
        _verify(world, signing.mint(secret, replace(claims, issuer="other-uuid")))


def test_minting_checks_the_kind() -> None:
    with pytest.raises(errors.Invalid, match='token kind "admin" not valid'):
        signing.mint(b"k", replace(CLAIMS, kind="admin"))
    with pytest.raises(errors.Invalid, match="needs its relation"):
        signing.mint(b"k", replace(CLAIMS, kind=tokens.RELATION))


def test_an_expired_token_renews_while_its_user_still_consumes(world: World) -> None:
    domain.grant(world.store, "admin", "bob", "consume", OFFER, now=now)
    old = _issue(world, "bob", replace(CLAIMS, kind=tokens.RELATION, relation="rel-1"))
    later = T0 + tokens.LIFETIME_S + 60
    fresh, expires = domain.renew_offer_token(world.store, old, offer_model_uuid="m1", now=later)
    assert expires == int(later) + tokens.LIFETIME_S
    claims = _verify(world, fresh, at=later + 1, kind=tokens.RELATION, relation="rel-1")
    assert (claims.user, claims.relation) == ("bob", "rel-1")
    domain.revoke(world.store, "admin", "bob", "consume", OFFER, now=now)
    with pytest.raises(errors.Forbidden):
        domain.renew_offer_token(world.store, old, offer_model_uuid="m1", now=later)
    with pytest.raises(errors.Unauthenticated, match="expired"):
        domain.renew_offer_token(
            world.store, old, offer_model_uuid="m1", now=later + tokens.RENEWABLE_S
        )


def test_a_callback_token_needs_no_offer_rights(world: World) -> None:
    callback = replace(CLAIMS, kind=tokens.CALLBACK, relation="rel-1")
    token, _ = domain.issue_offer_token(
        world.store, user="bob", offer_model_uuid="", claims=callback, now=T0
    )
    claims = domain.verify_offer_token(
        world.store,
        token,
        kind=tokens.CALLBACK,
        offer_model_uuid="",
        offer_uuid="o1",
        relation="rel-1",
        now=T0 + 1,
    )
    assert claims.kind == tokens.CALLBACK
