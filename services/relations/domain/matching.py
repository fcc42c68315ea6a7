"""Which endpoints `add-relation A[:ea] B[:eb]` relates (juju/juju@3.6:state/state.go)."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from typing import Final

from kernel import errors
from kernel.relation import Role, Scope
from services.relations.domain.values import Endpoint, relation_key


def parse_role(text: str) -> Role:
    """Return the role named `text`.

    Raises:
        Invalid: not `provider`, `requirer` or `peer`.
    """
    try:
        return Role(text)
    except ValueError:
        raise errors.Invalid(f'unknown endpoint role "{text}"') from None


def parse_scope(text: str) -> Scope:
    """Return the scope named `text`; empty means `global`.

    Raises:
        Invalid: not `global` or `container`.
    """
    try:
        return Scope(text or Scope.GLOBAL)
    except ValueError:
        raise errors.Invalid(f'unknown endpoint scope "{text}"') from None


@dataclass(frozen=True, kw_only=True, slots=True)
class CandidateEndpoint:
    """An endpoint an application has, as placement knows it from the charm."""

    name: str
    """Endpoint name."""
    role: Role
    """Only provider↔requirer pairs relate; peers never do through add-relation."""
    interface: str
    """Both ends of a pair must have the same, compared as an exact string."""
    scope: Scope = Scope.GLOBAL
    """Container on either end needs a subordinate and no SAAS."""
    limit: int = 0
    """Maximum relations on the endpoint; 0 means unlimited."""
    implicit: bool = False
    """The implicit `juju-info` provider; dropped when an explicit pair also matches."""


@dataclass(frozen=True, kw_only=True, slots=True)
class Side:
    """One side of `add-relation A[:ea] B[:eb]`: an application with all its endpoints."""

    application: str
    """Application or SAAS name."""
    endpoint: str = ""
    """The endpoint the user named, or empty to infer."""
    subordinate: bool = False
    """A subordinate application can take part in a container-scoped relation."""
    remote: bool = False
    """A SAAS: never in a container-scoped relation."""
    endpoints: tuple[CandidateEndpoint, ...] = ()
    """Every endpoint of the application, implicit `juju-info` included."""

    def __str__(self) -> str:
        return f"{self.application}:{self.endpoint}" if self.endpoint else self.application

    def candidates(self) -> list[CandidateEndpoint]:
        """The named endpoint, or every endpoint.

        Raises:
            NotFound: the named endpoint does not exist.
        """
        if not self.endpoint:
            return list(self.endpoints)
        found = [e for e in self.endpoints if e.name == self.endpoint]
        if not found:
            kind = "saas application" if self.remote else "application"
            raise errors.NotFound(f'{kind} "{self.application}" has no "{self.endpoint}" relation')
        return found[:1]

    def end(self, candidate: CandidateEndpoint) -> Endpoint:
        """The relation endpoint `candidate` gives on this side."""
        return Endpoint(
            application=self.application,
            name=candidate.name,
            role=candidate.role,
            interface=candidate.interface,
            scope=candidate.scope,
            remote=self.remote,
        )


@dataclass(frozen=True, kw_only=True, slots=True)
class Candidate:
    """One endpoint pair add-relation considered, with the verdict."""

    pair: str
    """`a:x b:y`, the first side's endpoint first."""
    accepted: bool
    """True when the pair can relate (whether or not it was chosen)."""
    reason: str
    """Why it was refused, or chosen, or set aside."""


@dataclass(frozen=True, kw_only=True, slots=True)
class _Pair:
    a: CandidateEndpoint
    b: CandidateEndpoint
    ends: tuple[Endpoint, Endpoint]
    refusal: str
    """Empty when the pair relates."""
    container_only: bool = False
    """Refused only because a container scope has no subordinate (or meets a SAAS)."""

    @property
    def pair(self) -> str:
        return f"{self.ends[0]} {self.ends[1]}"

    @property
    def key(self) -> str:
        return relation_key(self.ends)

    @property
    def implicit(self) -> bool:
        return self.a.implicit or self.b.implicit


_CONTAINER_NO_SUBORDINATE: Final = "container scope needs a subordinate"
_CONTAINER_SAAS: Final = "container scope cannot include a saas application"


def _judge(a: Side, ea: CandidateEndpoint, b: Side, eb: CandidateEndpoint) -> _Pair:
    """Decide whether one endpoint pair relates (Juju's `CanRelateTo` and `containerScopeOk`)."""
    ends = (a.end(ea), b.end(eb))
    refusal, container_only = "", False
    if a.application == b.application:
        refusal = "an application cannot relate to itself"
    elif Role.PEER in (ea.role, eb.role):
        refusal = "peer endpoints are never related by add-relation"
    elif ea.interface != eb.interface:
        refusal = f"interfaces differ: {ea.interface} vs {eb.interface}"
    elif {ea.role, eb.role} != {Role.PROVIDER, Role.REQUIRER}:
        refusal = f"roles do not pair: {ea.role} and {eb.role}"
    elif Scope.CONTAINER in (ea.scope, eb.scope):
        if a.remote or b.remote:
            refusal, container_only = _CONTAINER_SAAS, True
        elif not (a.subordinate or b.subordinate):
            refusal, container_only = _CONTAINER_NO_SUBORDINATE, True
    return _Pair(a=ea, b=eb, ends=ends, refusal=refusal, container_only=container_only)


def _quoted_keys(pairs: Iterable[_Pair]) -> str:
    return "; ".join(f'"{key}"' for key in sorted(p.key for p in pairs))


def infer_endpoints(a: Side, b: Side) -> tuple[tuple[Endpoint, Endpoint], list[Candidate]]:
    """Choose the endpoint pair `add-relation A[:ea] B[:eb]` relates (Juju's `InferEndpoints`).

    Every pair of candidate endpoints (the named one, or all, implicit juju-info included) is
    judged; of several compatible pairs, those using the implicit juju-info are dropped.

    Returns:
        The chosen endpoints (the first side's first), and every pair considered, in order.

    Raises:
        NotFound: a named endpoint does not exist.
        Refused: no pair relates (`no relations found`; the container-scope message when both
            endpoints were named), or several do (`ambiguous relation: ...`).
    """
    pairs = [_judge(a, ea, b, eb) for ea in a.candidates() for eb in b.candidates()]
    good = [p for p in pairs if not p.refusal]
    if not good:
        if a.endpoint and b.endpoint and len(pairs) == 1 and pairs[0].container_only:
            suffix = (
                "container scoped relation requires at least one subordinate application"
                if pairs[0].refusal == _CONTAINER_NO_SUBORDINATE
                else "local endpoint must be globally scoped for remote relations"
            )
            raise errors.Refused(f'cannot add relation "{pairs[0].key}": {suffix}')
        raise errors.Refused("no relations found")
    explicit = [p for p in good if not p.implicit]
    chosen: _Pair
    if len(good) == 1:
        chosen = good[0]
    elif len(explicit) == 1:
        chosen = explicit[0]
    else:
        remaining = explicit or good
        raise errors.Refused(
            f'ambiguous relation: "{a} {b}" could refer to {_quoted_keys(remaining)}'
        )
    candidates = []
    for p in pairs:
        if p is chosen:
            reason = "chosen"
        elif p.refusal:
            reason = p.refusal
        else:
            reason = "uses the implicit juju-info endpoint; an explicit pair exists"
        candidates.append(Candidate(pair=p.pair, accepted=not p.refusal, reason=reason))
    return chosen.ends, candidates
