"""Endpoint inference for add-relation, as Juju infers them: a table over metadata shapes."""

from __future__ import annotations

import pytest

from kernel import errors
from kernel.relation import Role, Scope
from services.relations.domain import Candidate, CandidateEndpoint, Side, infer_endpoints

P, R, PEER = Role.PROVIDER, Role.REQUIRER, Role.PEER
C = Scope.CONTAINER


def ep(
    name: str, role: Role, interface: str, scope: Scope = Scope.GLOBAL, limit: int = 0
) -> CandidateEndpoint:
    return CandidateEndpoint(name=name, role=role, interface=interface, scope=scope, limit=limit)


JUJU_INFO = CandidateEndpoint(name="juju-info", role=P, interface="juju-info", implicit=True)

CHARMS: dict[str, tuple[bool, tuple[CandidateEndpoint, ...]]] = {
    # name: (subordinate, endpoints as placement lists them, implicit juju-info last)
    "mysql": (False, (ep("db", P, "mysql"), ep("cluster", PEER, "mysql-ha"), JUJU_INFO)),
    "wordpress": (
        False,
        (
            ep("website", P, "http"),
            ep("logging-dir", P, "logging", C),
            ep("db", R, "mysql", limit=1),
            JUJU_INFO,
        ),
    ),
    "mediawiki": (False, (ep("website", P, "http"), ep("db", R, "mysql"), JUJU_INFO)),
    "logging": (
        True,
        (
            ep("logging-client", P, "logging"),
            ep("info", R, "juju-info", C),
            ep("logging-directory", R, "logging", C),
            JUJU_INFO,
        ),
    ),
    "telegraf": (True, (ep("juju-info", R, "juju-info", C), ep("logs", P, "logging", C))),
    "filebeat": (True, (ep("beats", R, "logging", C), JUJU_INFO)),
    "haproxy": (False, (ep("reverseproxy", R, "http"), JUJU_INFO)),
    "ms": (
        False,
        (ep("dev", P, "mysql"), ep("prod", P, "mysql"), ep("test", P, "mysql"), JUJU_INFO),
    ),
    "wp": (False, (ep("db", R, "mysql"), JUJU_INFO)),
    "nrpe": (False, (ep("monitors", R, "monitors", C), JUJU_INFO)),
    "nagios": (False, (ep("monitors", P, "monitors", C), JUJU_INFO)),
    "web": (False, (ep("proxy", R, "http"), ep("logs", R, "logging", C), JUJU_INFO)),
    "watcher": (False, (ep("info", R, "juju-info"), JUJU_INFO)),
    "both": (True, (ep("info", R, "juju-info", C), ep("also", R, "juju-info", C), JUJU_INFO)),
}


def side(ref: str, *, remote: bool = False) -> Side:
    app, _, endpoint = ref.partition(":")
    subordinate, endpoints = CHARMS[app]
    return Side(
        application=app,
        endpoint=endpoint,
        subordinate=subordinate,
        remote=remote,
        endpoints=endpoints,
    )


@pytest.mark.parametrize(
    ("a", "b", "chosen"),
    [
        ("wordpress", "mysql", "wordpress:db mysql:db"),
        ("mysql", "wordpress", "mysql:db wordpress:db"),
        ("mediawiki", "mysql:db", "mediawiki:db mysql:db"),
        # explicit beats the implicit juju-info
        ("logging", "wordpress", "logging:logging-directory wordpress:logging-dir"),
        ("wordpress", "logging", "wordpress:logging-dir logging:logging-directory"),
        # juju-info is the fallback, and can be forced
        ("logging", "mysql", "logging:info mysql:juju-info"),
        ("logging:info", "wordpress:juju-info", "logging:info wordpress:juju-info"),
        ("logging:info", "wordpress", "logging:info wordpress:juju-info"),
        # subordinate <-> subordinate over a container scope
        ("telegraf", "logging", "telegraf:logs logging:logging-directory"),
        ("telegraf:juju-info", "logging", "telegraf:juju-info logging:juju-info"),
        ("telegraf", "mysql", "telegraf:juju-info mysql:juju-info"),
        ("filebeat", "telegraf", "filebeat:beats telegraf:logs"),
        # a global relation with a principal's implicit juju-info is fine
        ("watcher", "mysql", "watcher:info mysql:juju-info"),
        ("haproxy", "wordpress", "haproxy:reverseproxy wordpress:website"),
    ],
)
def test_infers_the_one_pair(a: str, b: str, chosen: str) -> None:
    ends, _ = infer_endpoints(side(a), side(b))
    assert f"{ends[0]} {ends[1]}" == chosen


def test_candidates_explain_every_pair() -> None:
    _, candidates = infer_endpoints(side("logging"), side("wordpress"))
    by_pair = {c.pair: c for c in candidates}
    assert len(candidates) == 4 * 4
    assert by_pair["logging:logging-directory wordpress:logging-dir"] == Candidate(
        pair="logging:logging-directory wordpress:logging-dir", accepted=True, reason="chosen"
    )
    assert by_pair["logging:info wordpress:juju-info"] == Candidate(
        pair="logging:info wordpress:juju-info",
        accepted=True,
        reason="uses the implicit juju-info endpoint; an explicit pair exists",
    )
    assert by_pair["logging:logging-client wordpress:website"].reason == (
        "interfaces differ: logging vs http"
    )
    assert by_pair["logging:logging-client wordpress:logging-dir"].reason == (
        "roles do not pair: provider and provider"
    )
    assert not any(c.accepted for c in candidates if c.pair.startswith("logging:logging-client"))
    # pairs are listed in the order considered: the first side's endpoints, then the second's
    assert candidates[0].pair == "logging:logging-client wordpress:website"


def test_candidates_name_peer_and_requirer_refusals() -> None:
    _, candidates = infer_endpoints(side("wordpress"), side("mysql"))
    reasons = {c.pair: c.reason for c in candidates}
    assert reasons["wordpress:db mysql:cluster"] == (
        "peer endpoints are never related by add-relation"
    )
    assert reasons["wordpress:db mysql:db"] == "chosen"
    assert reasons["wordpress:juju-info mysql:juju-info"] == (
        "roles do not pair: provider and provider"
    )


def test_container_candidates_say_a_subordinate_is_needed() -> None:
    _, candidates = infer_endpoints(side("web"), side("wordpress"))
    reasons = {c.pair: c.reason for c in candidates}
    assert reasons["web:logs wordpress:logging-dir"] == "container scope needs a subordinate"
    assert reasons["web:proxy wordpress:website"] == "chosen"


@pytest.mark.parametrize(
    ("a", "b"),
    [
        ("mediawiki", "wordpress"),  # requirer/requirer, provider/provider only
        ("wp", "mediawiki"),
        ("mysql", "mysql"),  # same application on both sides
        ("wordpress", "wordpress"),
        ("mysql:cluster", "wordpress"),  # peers never match
        ("nrpe", "nagios"),  # principal <-> principal over a container scope, inferred
        ("nrpe:monitors", "nagios"),  # one side named is still inference
        ("wordpress:website", "mysql:db"),  # named, but interfaces differ
        ("wordpress:db", "mediawiki:db"),  # named, roles do not pair
    ],
)
def test_no_relations_found(a: str, b: str) -> None:
    with pytest.raises(errors.Refused) as raised:
        infer_endpoints(side(a), side(b))
    assert str(raised.value) == "no relations found"


def test_explicit_container_pair_between_principals_needs_a_subordinate() -> None:
    with pytest.raises(errors.Refused) as raised:
        infer_endpoints(side("nrpe:monitors"), side("nagios:monitors"))
    assert str(raised.value) == (
        'cannot add relation "nrpe:monitors nagios:monitors": container scoped relation '
        "requires at least one subordinate application"
    )


def test_a_saas_never_joins_a_container_relation() -> None:
    with pytest.raises(errors.Refused, match=r"^no relations found$"):
        infer_endpoints(side("logging"), side("wordpress", remote=True))
    # logging falls back to nothing: its global logging-client is a provider
    with pytest.raises(errors.Refused) as raised:
        infer_endpoints(side("logging:info"), side("mysql:juju-info", remote=True))
    assert str(raised.value) == (
        'cannot add relation "logging:info mysql:juju-info": local endpoint must be globally '
        "scoped for remote relations"
    )
    # a global pair with a SAAS is fine
    ends, _ = infer_endpoints(side("wordpress"), side("mysql", remote=True))
    assert [e.remote for e in ends] == [False, True]


def test_several_pairs_are_ambiguous() -> None:
    with pytest.raises(errors.Refused) as raised:
        infer_endpoints(side("ms"), side("wp"))
    assert str(raised.value) == (
        'ambiguous relation: "ms wp" could refer to "wp:db ms:dev"; "wp:db ms:prod"; '
        '"wp:db ms:test"'
    )
    ends, _ = infer_endpoints(side("ms:prod"), side("wp"))
    assert f"{ends[0]} {ends[1]}" == "ms:prod wp:db"


def test_several_implicit_pairs_stay_ambiguous() -> None:
    with pytest.raises(errors.Refused) as raised:
        infer_endpoints(side("both"), side("mysql:juju-info"))
    assert str(raised.value) == (
        'ambiguous relation: "both mysql:juju-info" could refer to "both:also mysql:juju-info"; '
        '"both:info mysql:juju-info"'
    )


@pytest.mark.parametrize(
    ("a", "remote", "message"),
    [
        ("mysql:foo", False, 'application "mysql" has no "foo" relation'),
        ("mysql:foo", True, 'saas application "mysql" has no "foo" relation'),
    ],
)
def test_a_named_endpoint_must_exist(a: str, remote: bool, message: str) -> None:
    with pytest.raises(errors.NotFound) as raised:
        infer_endpoints(side(a, remote=remote), side("wordpress"))
    assert str(raised.value) == message
    with pytest.raises(errors.NotFound) as raised:
        infer_endpoints(side("wordpress"), side(a, remote=remote))
    assert str(raised.value) == message


def test_scope_of_the_chosen_ends_is_their_own() -> None:
    ends, _ = infer_endpoints(side("logging"), side("mysql"))
    assert [(str(e), e.scope, e.role) for e in ends] == [
        ("logging:info", Scope.CONTAINER, R),
        ("mysql:juju-info", Scope.GLOBAL, P),
    ]
