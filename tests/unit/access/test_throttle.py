"""Failed logins: a name that fails too often is refused for a while, whether or not it exists."""

from __future__ import annotations

from datetime import timedelta

import pytest

from kernel import errors
from services.access import domain
from services.access.domain import throttle
from tests.unit.access.fakes import InMemoryAccess
from tests.unit.access.test_domain import START, Clock


@pytest.fixture
def access() -> InMemoryAccess:
    store = InMemoryAccess()
    domain.bootstrap_admin(store, "s3cret", now=lambda: START)
    return store


def _fail(access: InMemoryAccess, user: str, guard: domain.LoginThrottle, clock: Clock) -> None:
    with pytest.raises(errors.Unauthenticated, match="invalid entity name or password"):
        domain.login(access, user, "wrong", now=clock, throttle=guard)


@pytest.mark.parametrize("user", ["admin", "nobody"])
def test_a_name_that_fails_too_often_is_refused_then_let_in_again(
    access: InMemoryAccess, user: str
) -> None:
    guard, clock = domain.LoginThrottle(), Clock()
    for _ in range(throttle.FREE_FAILURES):
        _fail(access, user, guard, clock)
    with pytest.raises(errors.Unauthenticated, match="try again in 5 minutes") as refused:
        domain.login(access, user, "s3cret", now=clock, throttle=guard)
    assert refused.value.reason == errors.Reason.TOO_MANY_ATTEMPTS
    clock.now += throttle.LOCKOUT + timedelta(seconds=1)
    if user == "admin":
        assert domain.login(access, user, "s3cret", now=clock, throttle=guard).token


def test_the_lockout_is_per_name_in_any_case(access: InMemoryAccess) -> None:
    guard, clock = domain.LoginThrottle(), Clock()
    for _ in range(throttle.FREE_FAILURES):
        _fail(access, "Admin", guard, clock)
    with pytest.raises(errors.Unauthenticated, match="too many failed logins"):
        domain.login(access, "admin", "s3cret", now=clock, throttle=guard)
    domain.bootstrap_admin(access, "s3cret", now=clock)  # already there: nothing changes
    guard.check("bob", clock.now)  # another name is not affected


def test_old_failures_and_a_success_are_forgotten(access: InMemoryAccess) -> None:
    guard, clock = domain.LoginThrottle(), Clock()
    for _ in range(throttle.FREE_FAILURES - 1):
        _fail(access, "admin", guard, clock)
    clock.now += throttle.WINDOW
    _fail(access, "admin", guard, clock)
    assert domain.login(access, "admin", "s3cret", now=clock, throttle=guard).token
    for _ in range(throttle.FREE_FAILURES - 1):
        _fail(access, "admin", guard, clock)
    assert domain.login(access, "admin", "s3cret", now=clock, throttle=guard).token
