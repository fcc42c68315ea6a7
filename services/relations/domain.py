"""Values and rules of the relations context: relations, their endpoints and units in scope.

The dataclasses the store maps, the relation key rule, endpoint inference for add-relation
(REFERENCE §5.2, §7.1), the store protocol and the use cases: add-relation, remove-relation,
list, and removing the relations of an application or an offer; suspend and resume of
cross-model relations, and the suspension a revoke of consume causes (REFERENCE §3.3).

Cross-model relations (REFERENCE §4.2, §10): one relation per model, two halves sharing a
`token`. The consumer's half relates a local application to a SAAS; the offerer's half relates
the offered application to the consumer proxy `remote-<hex>` and carries the offer connection
(user, consuming model, ingress subnets, `offer_uuid`). Only the offerer's half names the offer,
so a connection is counted once. Within one controller both halves are added together, in one
transaction (`add_cross_model_relation`). Removing, suspending or resuming one half does the
same to every half this store holds with that token: within one controller both halves, in one
transaction; across controllers the gateways carry the change to the other half.

Status of a new relation: REFERENCE §5.4 makes a relation `joined` once a unit on this side is
in scope, and leaves it `joining` while an application has no units. cmr runs no agents and the
AddRelation request carries no unit counts, so a new relation starts `joined`; scope membership
(and `joining` for a subordinate without principal units) arrives with the subordinate issue.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, replace
from enum import StrEnum
from typing import Final, Protocol

from kernel import errors
from kernel.access import Level, ends_consume
from kernel.relation import Half, Role, Scope
from services.common.events import EventStore


class RelationStatus(StrEnum):
    """Juju's relation status values (juju/juju@3.6:state/relation.go)."""

    JOINING = "joining"
    JOINED = "joined"
    SUSPENDING = "suspending"
    SUSPENDED = "suspended"
    BROKEN = "broken"
    """Terminal: nothing leaves it."""
    ERROR = "error"
    """Always with a message (such as a refused ingress subnet)."""


_ROLE_ORDER: Final = {Role.REQUIRER: 0, Role.PROVIDER: 1, Role.PEER: 2}


@dataclass(frozen=True, kw_only=True, slots=True)
class Endpoint:
    """One end of a relation."""

    application: str
    """An application, a SAAS or a consumer proxy (`remote-<hex>`) of this model."""
    name: str
    """The endpoint name in the application's charm."""
    role: Role
    """Provider and requirer pair up; a peer relation has one endpoint."""
    interface: str
    """Compared as an exact string."""
    scope: Scope = Scope.GLOBAL
    """The endpoint's declared scope."""
    remote: bool = False
    """True when `application` is a SAAS or a consumer proxy."""

    def __str__(self) -> str:
        return f"{self.application}:{self.name}"


@dataclass(frozen=True, kw_only=True, slots=True)
class Relation:
    """A relation of one model; a cross-model relation exists once in each model."""

    model_uuid: str
    """The model it belongs to."""
    id: int
    """From a per-model counter starting at 0, never reused; independent in each model."""
    key: str
    """`relation_key(endpoints)`, unique within the model."""
    endpoints: tuple[Endpoint, ...]
    """One (peer) or two."""
    scope: Scope = Scope.GLOBAL
    """Container when either endpoint is container-scoped."""
    status: RelationStatus = RelationStatus.JOINING
    """`joining` until a unit on this side is in scope."""
    message: str = ""
    """Status message: the suspend reason, or the error."""
    suspended: bool = False
    """Set by suspend-relation or a revoke; only resume-relation clears it."""
    suspended_reason: str = ""
    """The suspend message, such as `maintenance`."""
    offer_uuid: str = ""
    """The offer the relation goes through; set on the offerer's half only."""
    via: tuple[str, ...] = ()
    """`--via` subnets (the consumer's half)."""
    token: str = ""
    """Shared by both halves of a cross-model relation; empty within one model."""
    side: str = ""
    """`consumer` or `offerer` for a cross-model half; empty within one model."""
    username: str = ""
    """The consuming user (the offer connection's owner)."""
    source_model_uuid: str = ""
    """The consuming model."""
    subnets: tuple[str, ...] = ()
    """The consumer's egress, which is the offerer's ingress."""
    peer_controller: str = ""
    """UUID of the controller holding the other half; empty when this store holds both."""
    peer_address: str = ""
    """Where that controller's gateway answers."""
    peer_token: str = ""
    """The credential this side presents there (a token that controller issued)."""
    created_at: str = ""
    """RFC 3339 UTC."""

    @property
    def offered_endpoint(self) -> str:
        """On the offerer's half, the offered application's endpoint; else empty."""
        if self.side != Half.OFFERER:
            return ""
        return next((e.name for e in self.endpoints if not e.remote), "")

    @property
    def consumer_application(self) -> str:
        """On the offerer's half, the consumer proxy `remote-<hex>`; else empty."""
        if self.side != Half.OFFERER:
            return ""
        return next((e.application for e in self.endpoints if e.remote), "")

    @property
    def interface(self) -> str:
        """The interface both ends share."""
        return self.endpoints[0].interface if self.endpoints else ""

    @property
    def is_peer(self) -> bool:
        """True for a peer relation (one endpoint); users never add or remove those."""
        return any(e.role is Role.PEER for e in self.endpoints)


@dataclass(frozen=True, kw_only=True, slots=True)
class KnownUnit:
    """A unit as the placement feed reported it; scope membership is decided from these."""

    model_uuid: str
    name: str
    application: str
    machine: str = ""
    principal: str = ""
    """The principal unit whose container a subordinate unit shares; empty for a principal."""

    @property
    def container(self) -> str:
        """The container the unit runs in, named by its principal unit."""
        return self.principal or self.name


FROM_REMOTE: Final = "suspending after update from remote model"
"""The consumer's status message when the offerer suspends without a reason."""
REVOKED: Final = "offer permission revoked"
"""The suspend reason when the consuming user loses consume access."""


@dataclass(frozen=True, kw_only=True, slots=True)
class CrossModel:
    """What makes a new relation one half of a cross-model relation."""

    token: str
    """Shared by both halves."""
    side: str
    """`consumer` or `offerer`."""
    offer_uuid: str = ""
    username: str = ""
    source_model_uuid: str = ""
    subnets: tuple[str, ...] = ()
    status: RelationStatus = RelationStatus.JOINED
    """`joined`, or `error` when the offerer refused the ingress."""
    message: str = ""
    via: tuple[str, ...] = ()
    peer_controller: str = ""
    """Set when the other half is on another controller (its UUID)."""
    peer_address: str = ""
    peer_token: str = ""


def relation_key(endpoints: Iterable[Endpoint]) -> str:
    """Return a relation's key: endpoints by role (requirer, provider, peer), then `app:ep`.

    `wordpress:db mysql:server`, `logging:info mysql:juju-info`, `riak:ring`.
    """
    return " ".join(str(e) for e in in_key_order(endpoints))


def in_key_order(endpoints: Iterable[Endpoint]) -> tuple[Endpoint, ...]:
    """Return endpoints in the relation key's order: requirer, provider, peer, then `app:ep`."""
    return tuple(sorted(endpoints, key=lambda e: (_ROLE_ORDER[e.role], str(e))))


class Relations(EventStore, Protocol):
    """What use cases need from the relations store; implemented by `store.SqliteRelations`."""

    def next_relation_id(self, model_uuid: str) -> int:
        """Take the model's next relation id (0 first); an id is never handed out twice."""
        ...

    def add_relation(self, relation: Relation) -> None:
        """Insert a relation and its endpoints."""
        ...

    def count_relations(self, model_uuid: str, application: str) -> int:
        """Return how many relations of the model have an endpoint on `application`."""
        ...

    def relations_of_offer(self, offer_uuid: str) -> list[Relation]:
        """Return the offering-side halves that go through an offer, by model then id."""
        ...

    def relations_of_offers(self, offer_uuids: Sequence[str]) -> list[Relation]:
        """Return the offering-side halves of several offers, by model then id."""
        ...

    def user_relations_of_offer(self, offer_uuid: str, username: str) -> list[Relation]:
        """Return the offering-side halves of an offer whose connection is `username`'s."""
        ...

    def halves(self, token: str) -> list[Relation]:
        """Return every half of the cross-model relation `token` this store holds."""
        ...

    def set_state(
        self,
        model_uuid: str,
        relation_id: int,
        *,
        status: RelationStatus,
        message: str,
        suspended: bool,
        suspended_reason: str,
    ) -> None:
        """Set a relation's status, message and suspension."""
        ...

    def put_unit(self, unit: KnownUnit) -> None:
        """Record a unit placement reported (idempotent)."""
        ...

    def drop_unit(self, model_uuid: str, unit: str) -> None:
        """Forget a unit."""
        ...

    def drop_model_units(self, model_uuid: str) -> None:
        """Forget every unit of a removed model."""
        ...

    def units_of(self, model_uuid: str, applications: Sequence[str]) -> list[KnownUnit]:
        """The known units of some applications of a model, by name."""
        ...

    def in_scope(self, model_uuid: str, relation_id: int) -> list[str]:
        """The units in a relation's scope, by name."""
        ...

    def in_scope_among(self, model_uuid: str, relation_id: int, names: Iterable[str]) -> set[str]:
        """Which of `names` are in a relation's scope."""
        ...

    def units_in_container(self, model_uuid: str, container: str) -> list[KnownUnit]:
        """The known units in one container: the principal unit and its subordinates."""
        ...

    def enter_scope(self, model_uuid: str, relation_id: int, unit: KnownUnit, role: Role) -> bool:
        """Put a unit in a relation's scope; False when it already was."""
        ...

    def leave_scope(self, model_uuid: str, relation_id: int, unit: str) -> None:
        """Take a unit out of a relation's scope."""
        ...

    def set_subnets(self, model_uuid: str, relation_id: int, subnets: Sequence[str]) -> None:
        """Replace a relation's egress (consumer) or ingress (offerer) subnets."""
        ...

    def remote_halves(self, token: str = "") -> list[Relation]:
        """The halves whose other half is on another controller; only `token`'s if given."""
        ...

    def set_peer_token(self, token: str, peer_token: str) -> None:
        """Replace the credential kept for the peer of the halves with this token."""
        ...

    def cursor(self, source: str) -> int:
        """Return the last sequence of `source`'s feed this context applied (0 for none)."""
        ...

    def set_cursor(self, source: str, sequence: int) -> None:
        """Record that `source`'s feed is applied up to `sequence`."""
        ...

    def remove_relation(self, model_uuid: str, relation_id: int) -> None:
        """Delete a relation with its endpoints and the units in its scope."""
        ...

    def get_relation(self, model_uuid: str, relation_id: int) -> Relation | None:
        """Return a relation with its endpoints, or None."""
        ...

    def relation_with_key(self, model_uuid: str, key: str) -> Relation | None:
        """Return the model's relation with this key, or None."""
        ...

    def count_endpoint_relations(self, model_uuid: str, application: str, endpoint: str) -> int:
        """Return how many relations of the model use the endpoint `application:endpoint`."""
        ...

    def list_relations(self, model_uuid: str, application: str = "") -> list[Relation]:
        """Return the model's relations by id, with endpoints; only `application`'s if given."""
        ...


def offer_relations(relations: Relations, offer_uuids: Sequence[str]) -> list[Relation]:
    """The offering-side halves that use the offers (their connections), by model then id.

    Raises:
        Invalid: no offer UUID.
    """
    if not offer_uuids or not all(offer_uuids):
        raise errors.Invalid("offer_uuid is required")
    if len(offer_uuids) == 1:
        return relations.relations_of_offer(offer_uuids[0])
    return relations.relations_of_offers(offer_uuids)


def remove_offer_relations(relations: Relations, offer_uuid: str) -> tuple[int, int]:
    """Remove every relation that uses an offer, in one transaction (`remove-offer --force`).

    Each relation goes with its endpoints and relation units, and gets a `relation-removed`
    event (attributes `offer-uuid`, `key`).

    Returns:
        How many relations went, and the sequence of the last event (0 when none went).

    Raises:
        Invalid: no offer UUID.
    """
    if not offer_uuid:
        raise errors.Invalid("offer_uuid is required")
    seq = 0
    with relations.transaction():
        found = relations.relations_of_offer(offer_uuid)
        for rel in found:
            seq = _remove(relations, rel)
    return len(found), seq


# -- add-relation ---------------------------------------------------------------------------


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
    """Container on either end needs a subordinate and no SAAS (REFERENCE §7.1)."""
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
    """Choose the endpoint pair `add-relation A[:ea] B[:eb]` relates (REFERENCE §5.2).

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


@dataclass(frozen=True, kw_only=True, slots=True)
class Added:
    """What add-relation made (or, for a dry run, would make)."""

    relation: Relation
    """The relation; id -1 for a dry run."""
    candidates: list[Candidate]
    """Every endpoint pair considered, with the verdict."""
    sequence: int = 0
    """Feed sequence of `relation-added`; 0 for a dry run."""


def _require_model(model_uuid: str) -> None:
    if not model_uuid:
        raise errors.Invalid("model_uuid is required")


def _check_side(side: Side) -> None:
    if not side.application:
        raise errors.Invalid(f'invalid endpoint "{side}"')


def _limit(side: Side, endpoint: str) -> int:
    return next((e.limit for e in side.endpoints if e.name == endpoint), 0)


def add_relation(
    relations: Relations,
    model_uuid: str,
    a: Side,
    b: Side,
    *,
    dry_run: bool = False,
    cross: CrossModel | None = None,
) -> Added:
    """Relate two applications of a model (`add-relation A[:ea] B[:eb]`).

    Infers the endpoints, then refuses, in Juju's order: two SAAS, a duplicate key, an endpoint
    at its `limit`. The relation takes the model's next id, starts `joined` (see the module
    docstring) and is written with its endpoints and a `relation-added` event (entity: the id;
    attributes `key`, `scope`, `interface`, `applications` comma-joined) in one transaction.
    A dry run checks the same and writes nothing.

    With `cross`, the relation is one half of a cross-model relation: exactly one side must be
    remote (the SAAS for the consumer's half, `remote-<hex>` for the offerer's), and the half
    starts in `cross.status` (`error` when the offerer refused the ingress).

    Raises:
        Invalid: no model, a side without an application, or a malformed cross-model half.
        NotFound: a named endpoint does not exist.
        AlreadyExists: the relation exists.
        Refused: no pair, several pairs, two SAAS, or a limit reached.
    """
    draft = _draft(model_uuid, a, b, cross)
    with relations.transaction():
        _admit(relations, draft)
        if dry_run:
            return Added(relation=draft.relation, candidates=draft.candidates)
        relation, seq = _write(relations, draft.relation)
    return Added(relation=relation, candidates=draft.candidates, sequence=seq)


@dataclass(frozen=True, kw_only=True, slots=True)
class _Draft:
    """A relation add-relation would make, checked against every rule but the store's."""

    relation: Relation
    """Id -1 until written."""
    candidates: list[Candidate]
    """Every endpoint pair considered, with the verdict."""
    limits: dict[str, int]
    """Each endpoint's relation limit, by `app:ep`; 0 means unlimited."""


def _draft(model_uuid: str, a: Side, b: Side, cross: CrossModel | None) -> _Draft:
    """The rules of add-relation that need no store: sides, the cross-model half, matching.

    Raises:
        Invalid, NotFound, Refused: as `add_relation`, but for what the store decides.
    """
    _require_model(model_uuid)
    _check_side(a)
    _check_side(b)
    if cross is not None:
        _check_cross(cross, a, b)
    ends, candidates = infer_endpoints(a, b)
    key = relation_key(ends)
    if a.remote and b.remote:
        raise errors.Refused(
            f'cannot add relation "{key}": cannot add relation between saas applications '
            f'"{a.application}" and "{b.application}"'
        )
    ordered = in_key_order(ends)
    relation = Relation(
        model_uuid=model_uuid,
        id=-1,
        key=key,
        endpoints=ordered,
        scope=Scope.CONTAINER if Scope.CONTAINER in (e.scope for e in ends) else Scope.GLOBAL,
        status=RelationStatus.JOINED,
    )
    if cross is not None:
        relation = replace(
            relation,
            status=cross.status,
            message=cross.message,
            offer_uuid=cross.offer_uuid if cross.side == Half.OFFERER else "",
            via=cross.via,
            token=cross.token,
            side=cross.side,
            username=cross.username,
            source_model_uuid=cross.source_model_uuid,
            subnets=cross.subnets,
            peer_controller=cross.peer_controller,
            peer_address=cross.peer_address,
            peer_token=cross.peer_token,
        )
    limits = {str(ends[0]): _limit(a, ends[0].name), str(ends[1]): _limit(b, ends[1].name)}
    return _Draft(relation=relation, candidates=candidates, limits=limits)


def _admit(relations: Relations, draft: _Draft, pending: Sequence[Relation] = ()) -> None:
    """The rules of add-relation the store decides: a duplicate key, an endpoint at its limit.

    `pending` are relations the same transaction is about to write, counted as if they were
    stored. Call inside a transaction.

    Raises:
        AlreadyExists: the relation exists (or is pending).
        Refused: a limit would be exceeded.
    """
    relation = draft.relation
    model_uuid, key = relation.model_uuid, relation.key
    here = [p for p in pending if p.model_uuid == model_uuid]
    if relations.relation_with_key(model_uuid, key) is not None or any(p.key == key for p in here):
        raise errors.AlreadyExists(f'cannot add relation "{key}": relation {key} already exists')
    for end in relation.endpoints:
        limit = draft.limits[str(end)]
        if limit <= 0:
            continue
        taken = relations.count_endpoint_relations(model_uuid, end.application, end.name)
        taken += sum(
            1
            for p in here
            for e in p.endpoints
            if (e.application, e.name) == (end.application, end.name)
        )
        if taken >= limit:
            raise errors.Refused(
                f'cannot add relation "{key}": establishing a new relation for {end} would '
                f"exceed its maximum relation limit of {limit}"
            )


def _write(relations: Relations, draft: Relation) -> tuple[Relation, int]:
    """Write an admitted relation: the model's next id, its endpoints, `relation-added`, scope.

    Call inside the transaction that admitted it.

    Returns:
        The relation as written, and the sequence of its last event.
    """
    relation = replace(draft, id=relations.next_relation_id(draft.model_uuid))
    relations.add_relation(relation)
    seq = relations.append_event(
        "relation-added",
        model_uuid=relation.model_uuid,
        entity=str(relation.id),
        attributes={
            "key": relation.key,
            "scope": str(relation.scope),
            "interface": relation.interface,
            "applications": ",".join(e.application for e in relation.endpoints),
            **_cross_attributes(relation),
        },
    )
    return relation, sync_scope(relations, relation) or seq


def _check_cross(cross: CrossModel, a: Side, b: Side) -> None:
    if not cross.token:
        raise errors.Invalid("a cross-model relation needs a token")
    if cross.side not in (Half.CONSUMER, Half.OFFERER):
        raise errors.Invalid(f'cross-model side "{cross.side}" not valid')
    if cross.side == Half.OFFERER and not cross.offer_uuid:
        raise errors.Invalid("the offerer's half of a cross-model relation needs an offer")
    if cross.status not in (RelationStatus.JOINED, RelationStatus.ERROR):
        raise errors.Invalid(f'a new relation cannot start "{cross.status}"')
    if cross.status is RelationStatus.ERROR and not cross.message:
        raise errors.Invalid('cannot set status "error" without info')
    if a.remote == b.remote:
        raise errors.Invalid("one side of a cross-model relation must be remote")


def _cross_attributes(relation: Relation) -> dict[str, str]:
    out = {"offer-uuid": relation.offer_uuid} if relation.offer_uuid else {}
    if relation.token:
        out.update(token=relation.token, side=relation.side)
    return out


# -- both halves of a cross-model relation --------------------------------------------------


@dataclass(frozen=True, kw_only=True, slots=True)
class NewHalf:
    """One half of a cross-model relation to add, as `add_relation` takes it."""

    model_uuid: str
    """The consuming model for the consumer's half, the offering model for the offerer's."""
    a: Side
    """The first side."""
    b: Side
    """The second side; exactly one of `a` and `b` is remote."""
    cross: CrossModel
    """What makes the relation this half."""


@dataclass(frozen=True, kw_only=True, slots=True)
class AddedHalves:
    """Both halves of a cross-model relation, as `add_cross_model_relation` wrote them."""

    consumer: Relation
    """The consuming model's half (the local application and the SAAS)."""
    offerer: Relation
    """The offering model's half (the offered application and `remote-<hex>`)."""
    sequence: int
    """Feed sequence of the last event written."""


def add_cross_model_relation(
    relations: Relations, consumer: NewHalf, offerer: NewHalf
) -> AddedHalves:
    """Add both halves of a cross-model relation within one controller, or neither.

    Both models' relations are in this store, so one transaction makes the relation. Each half
    is checked as `add_relation` checks it, and the two against each other (one token, the
    consuming model, one starting status, the same endpoints seen from either side), before
    anything is written. Then the consumer's half and the offerer's are written in that order,
    each with its `relation-added` event and its units entering scope. A crash or a concurrent
    command can therefore never leave one half without the other.

    Raises:
        Invalid: a malformed half (as `add_relation`), a half on the wrong side or naming a
            peer controller, or halves that disagree.
        NotFound: a named endpoint does not exist.
        AlreadyExists: either half's relation exists, or another relation has the token.
        Refused: for either half, no pair, several pairs, two SAAS, or a limit reached.
    """
    _check_halves(consumer, offerer)
    mine = _draft(consumer.model_uuid, consumer.a, consumer.b, consumer.cross)
    theirs = _draft(offerer.model_uuid, offerer.a, offerer.b, offerer.cross)
    _check_ends(mine.relation, theirs.relation)
    with relations.transaction():
        if relations.halves(consumer.cross.token):
            raise errors.AlreadyExists(
                f'cannot add relation "{mine.relation.key}": its token is taken by another '
                "cross-model relation"
            )
        _admit(relations, mine)
        # both halves may be in one model (it consumes its own offer): the offerer's is checked
        # as if the consumer's were written already
        _admit(relations, theirs, pending=(mine.relation,))
        made, _ = _write(relations, mine.relation)
        offered, seq = _write(relations, theirs.relation)
    return AddedHalves(consumer=made, offerer=offered, sequence=seq)


def _check_halves(consumer: NewHalf, offerer: NewHalf) -> None:
    """What the two halves must agree on before either is looked at alone."""
    if consumer.cross.side != Half.CONSUMER or offerer.cross.side != Half.OFFERER:
        raise errors.Invalid(
            "a cross-model relation needs the consumer's half and the offerer's half"
        )
    if consumer.cross.token != offerer.cross.token:
        raise errors.Invalid("the two halves of a cross-model relation must share one token")
    for half in (consumer, offerer):
        if half.cross.peer_controller or half.cross.peer_address or half.cross.peer_token:
            raise errors.Invalid(
                "both halves are on this controller: neither may name a peer controller"
            )
    if offerer.cross.source_model_uuid != consumer.model_uuid:
        raise errors.Invalid(
            "the offerer's half must name the consumer's half's model as the consuming model"
        )
    if (consumer.cross.status, consumer.cross.message) != (
        offerer.cross.status,
        offerer.cross.message,
    ):
        raise errors.Invalid("the two halves of a cross-model relation must start in one status")


def _check_ends(consumer: Relation, offerer: Relation) -> None:
    """The proxy stands for the consumer's local endpoint, the SAAS for the offered one."""
    local = next(e for e in consumer.endpoints if not e.remote)
    saas = next(e for e in consumer.endpoints if e.remote)
    proxy = next(e for e in offerer.endpoints if e.remote)
    offered = next(e for e in offerer.endpoints if not e.remote)

    def same(x: Endpoint, y: Endpoint) -> bool:
        return (x.name, x.role, x.interface) == (y.name, y.role, y.interface)

    if not (same(proxy, local) and same(offered, saas)):
        raise errors.Invalid(
            f'the halves relate different endpoints: "{consumer.key}" and "{offerer.key}"'
        )


def add_peer_relations(
    relations: Relations, model_uuid: str, side: Side
) -> tuple[list[Relation], int]:
    """Give each `peers:` endpoint of an application its relation (REFERENCE §5.1).

    Made at deploy, keyed `app:endpoint`, with the endpoint's scope; users never add or remove
    them (remove-relation refuses peers), and they go with the application. One that exists is
    left alone, so a repeated call changes nothing.

    Returns:
        The relations made, and the sequence of the last event (0 when none was made).

    Raises:
        Invalid: no model or no application.
    """
    _require_model(model_uuid)
    _check_side(side)
    made: list[Relation] = []
    seq = 0
    with relations.transaction():
        for candidate in side.endpoints:
            if candidate.role is not Role.PEER:
                continue
            end = side.end(candidate)
            key = relation_key([end])
            if relations.relation_with_key(model_uuid, key) is not None:
                continue
            relation = Relation(
                model_uuid=model_uuid,
                id=relations.next_relation_id(model_uuid),
                key=key,
                endpoints=(end,),
                scope=candidate.scope,
                status=RelationStatus.JOINED,
            )
            relations.add_relation(relation)
            seq = relations.append_event(
                "relation-added",
                model_uuid=model_uuid,
                entity=str(relation.id),
                attributes={
                    "key": key,
                    "scope": str(relation.scope),
                    "interface": relation.interface,
                    "applications": side.application,
                },
            )
            seq = sync_scope(relations, relation) or seq
            made.append(relation)
    return made, seq


# -- remove-relation, list ------------------------------------------------------------------


def _remove(relations: Relations, relation: Relation) -> int:
    """Remove a relation and every other half of it this store holds; the last sequence."""
    seq = 0
    others = [
        h
        for h in relations.halves(relation.token)
        if (h.model_uuid, h.id) != (relation.model_uuid, relation.id)
    ]
    for half in (relation, *others):
        _leave_all(relations, half)
        relations.remove_relation(half.model_uuid, half.id)
        seq = relations.append_event(
            "relation-removed",
            model_uuid=half.model_uuid,
            entity=str(half.id),
            attributes={
                "key": half.key,
                "scope": str(half.scope),
                "applications": ",".join(e.application for e in half.endpoints),
                **_cross_attributes(half),
            },
        )
    return seq


def _parse_end(text: str) -> tuple[str, str]:
    application, colon, endpoint = text.partition(":")
    if not application or (colon and not endpoint) or ":" in endpoint:
        raise errors.Invalid(f'invalid endpoint "{text}"')
    return application, endpoint


def _has_end(relation: Relation, application: str, endpoint: str) -> Endpoint | None:
    return next(
        (
            e
            for e in relation.endpoints
            if e.application == application and endpoint in ("", e.name)
        ),
        None,
    )


def _between(relation: Relation, a: tuple[str, str], b: tuple[str, str]) -> bool:
    end_a, end_b = _has_end(relation, *a), _has_end(relation, *b)
    if end_a is None or end_b is None:
        return False
    return end_a is not end_b or relation.is_peer


def remove_relation(
    relations: Relations,
    model_uuid: str,
    *,
    relation_id: int | None = None,
    ends: Sequence[str] = (),
) -> tuple[Relation, int]:
    """Remove a relation named by its id or by its ends `app[:ep]` (`remove-relation`).

    By ends, the relations between the two applications (on the named endpoints, if any) are
    searched: none is NOT_FOUND, several are ambiguous. The relation goes with its endpoints and
    relation units, and a `relation-removed` event (attribute `key`), in one transaction.

    Returns:
        The relation removed and the event's sequence.

    Raises:
        Invalid: no model, a negative id, not two ends, or a malformed end.
        NotFound: no such relation.
        Refused: several relations match, or the relation is a peer relation.
    """
    _require_model(model_uuid)
    with relations.transaction():
        if relation_id is not None:
            if relation_id < 0:
                raise errors.Invalid(f'relation ID "{relation_id}" not valid')
            found = relations.get_relation(model_uuid, relation_id)
            if found is None:
                raise errors.NotFound(f"relation {relation_id} not found")
        else:
            if len(ends) != 2 or not all(ends):
                raise errors.Invalid("a relation must involve two applications")
            a, b = _parse_end(ends[0]), _parse_end(ends[1])
            names = " ".join(ends)
            matches = [
                r
                for r in relations.list_relations(model_uuid, a[0])
                if _between(r, a, b) and (r.is_peer == (a[0] == b[0]))
            ]
            if not matches:
                raise errors.NotFound(f'relation "{names}" not found')
            if len(matches) > 1:
                listed = "; ".join(f'"{r.key}"' for r in sorted(matches, key=lambda r: r.key))
                raise errors.Refused(f'ambiguous relation: "{names}" could refer to {listed}')
            found = matches[0]
        if found.is_peer:
            raise errors.Refused("cannot remove a peer relation")
        return found, _remove(relations, found)


def list_relations(
    relations: Relations, model_uuid: str, ids: Sequence[int] = ()
) -> list[Relation]:
    """The model's relations by id, each with its endpoints in key order.

    With `ids`, only those, in the order given and each once (an id not in the model is left
    out): what one command acts on, whatever the model's size.

    Raises:
        Invalid: no model.
    """
    _require_model(model_uuid)
    if not ids:
        return relations.list_relations(model_uuid)
    found = (relations.get_relation(model_uuid, i) for i in dict.fromkeys(ids))
    return [r for r in found if r is not None]


def remove_application_relations(
    relations: Relations, model_uuid: str, application: str
) -> tuple[int, int]:
    """Remove every relation with an endpoint on `application`, in one transaction.

    Used when the application is removed, peer relations included; each relation gets a
    `relation-removed` event (attribute `key`).

    Returns:
        How many relations went, and the sequence of the last event (0 when none went).

    Raises:
        Invalid: no model or no application.
    """
    _require_model(model_uuid)
    if not application:
        raise errors.Invalid("application is required")
    seq = 0
    with relations.transaction():
        found = relations.list_relations(model_uuid, application)
        for relation in found:
            # a half may already have gone as the other half of an earlier one
            if relations.get_relation(relation.model_uuid, relation.id) is not None:
                seq = _remove(relations, relation)
    return len(found), seq


# -- suspend, resume, revoke ----------------------------------------------------------------


@dataclass(frozen=True, kw_only=True, slots=True)
class Changed:
    """Relations after suspend or resume, with the feed sequence of the last event."""

    relations: list[Relation]
    sequence: int = 0
    """0 when nothing changed (every relation was already in the asked state)."""


def _offered(relations: Relations, model_uuid: str, ids: Sequence[int]) -> list[Relation]:
    """The offering-side halves with these ids, all checked before any change."""
    _require_model(model_uuid)
    if not ids:
        raise errors.Invalid("no relation ids specified")
    found: list[Relation] = []
    for relation_id in ids:
        if relation_id < 0:
            raise errors.Invalid(f'relation ID "{relation_id}" not valid')
        relation = relations.get_relation(model_uuid, relation_id)
        if relation is None:
            raise errors.NotFound(f"relation {relation_id} not found")
        if relation.side != Half.OFFERER:
            raise errors.Refused(
                f'cannot set suspend status for "{relation.key}" which is not associated with '
                "an offer"
            )
        found.append(relation)
    return found


def _transition(
    relations: Relations,
    half: Relation,
    steps: Sequence[tuple[str, RelationStatus]],
    *,
    message: str,
    suspended: bool,
    write: bool = True,
) -> tuple[int, Relation]:
    """Move one half through `steps` (event name, status), one event each.

    Only the last step's state is written (`write=False`: none): the steps between are seen
    on the feed, never in the store, since they all commit together.

    Returns:
        The last event's sequence, and the half as it now is.
    """
    seq = 0
    status = half.status
    for event, status in steps:
        seq = relations.append_event(
            event,
            model_uuid=half.model_uuid,
            entity=str(half.id),
            attributes={"key": half.key, "status": str(status), **_cross_attributes(half)},
        )
    reason = message if suspended else ""
    if write:
        relations.set_state(
            half.model_uuid,
            half.id,
            status=status,
            message=message,
            suspended=suspended,
            suspended_reason=reason,
        )
    return seq, replace(
        half, status=status, message=message, suspended=suspended, suspended_reason=reason
    )


_SUSPEND: Final = (
    ("relation-suspending", RelationStatus.SUSPENDING),
    ("relation-suspended", RelationStatus.SUSPENDED),
)
_RESUME: Final = (
    ("relation-resuming", RelationStatus.JOINING),
    ("relation-resumed", RelationStatus.JOINED),
)


def _suspend_halves(relations: Relations, offered: Relation, reason: str) -> tuple[int, Relation]:
    """Suspend the offerer's half and its consumer half (`suspending`, then `suspended`).

    cmr runs no agents, so the departed and broken hooks that end `suspending` in Juju are
    done at once; the feed still shows both steps. The consumer's half shows the reason, or
    Juju's `suspending after update from remote model` when there is none.

    Returns:
        The last event's sequence, and the offerer's half as it now is.
    """
    seq = 0
    now = offered
    for half in relations.halves(offered.token) or [offered]:
        text = reason if half.side == Half.OFFERER else (reason or FROM_REMOTE)
        seq, done = _suspend_half(relations, half, text)
        if half.id == offered.id and half.model_uuid == offered.model_uuid:
            now = done
    return seq, now


def _suspend_half(relations: Relations, half: Relation, text: str) -> tuple[int, Relation]:
    """One half: `suspending` (on the feed only), its units leave scope, then `suspended`."""
    _transition(relations, half, _SUSPEND[:1], message=text, suspended=True, write=False)
    _leave_all(relations, half)
    return _transition(relations, half, _SUSPEND[1:], message=text, suspended=True)


def _resume_half(relations: Relations, half: Relation) -> tuple[int, Relation]:
    """One half: `joining`, then `joined`, and its units enter scope again."""
    seq, now = _transition(relations, half, _RESUME, message="", suspended=False)
    return sync_scope(relations, now) or seq, now


def _once(relations: Sequence[Relation]) -> list[Relation]:
    """Each relation once, in order (an id given twice is changed once)."""
    return list({r.id: r for r in relations}.values())


def suspend_relations(
    relations: Relations, model_uuid: str, ids: Sequence[int], message: str = ""
) -> Changed:
    """Suspend cross-model relations of the offering model (`suspend-relation`, §5.3).

    Every id is checked first; one already suspended is left as it is.

    Raises:
        Invalid: no ids or a negative one.
        NotFound: no such relation in the model.
        Refused: a relation that is not the offerer's half of a cross-model relation.
    """
    seq = 0
    after: dict[int, Relation] = {}
    with relations.transaction():
        for relation in _once(_offered(relations, model_uuid, ids)):
            if relation.suspended:
                after[relation.id] = relation
            else:
                seq, after[relation.id] = _suspend_halves(relations, relation, message)
    return Changed(relations=[after[i] for i in ids], sequence=seq)


def resume_relations(
    relations: Relations,
    model_uuid: str,
    ids: Sequence[int],
    refused: Mapping[int, str] | None = None,
) -> Changed:
    """Resume suspended cross-model relations, both halves (`joining`, then `joined`).

    A relation that is not suspended is left as it is. Whether the connection's user may still
    consume, and whether the offerer's allow-list still admits its ingress, are the gateway's
    checks (access and offers own them), made before this is called: an id in `refused`
    resumes into `error` with its message, and its units stay out of scope.

    Raises:
        Invalid, NotFound, Refused: as `suspend_relations`.
    """
    seq = 0
    refused = refused or {}
    after: dict[int, Relation] = {}
    with relations.transaction():
        for relation in _once(_offered(relations, model_uuid, ids)):
            after[relation.id] = relation
            if not relation.suspended:
                continue
            why = refused.get(relation.id, "")
            for half in relations.halves(relation.token) or [relation]:
                if why:
                    steps = (_RESUME[0], ("relation-error", RelationStatus.ERROR))
                    seq, now = _transition(relations, half, steps, message=why, suspended=False)
                else:
                    seq, now = _resume_half(relations, half)
                if half.id == relation.id and half.model_uuid == relation.model_uuid:
                    after[relation.id] = now
    return Changed(relations=[after[i] for i in ids], sequence=seq)


def update_egress(
    relations: Relations,
    model_uuid: str,
    relation_id: int,
    subnets: Sequence[str],
    refused: str = "",
) -> Changed:
    """Record the consumer's new egress on both halves, with the offerer's verdict (§6.3).

    Refused, a live relation goes to `error` with the message (units leave scope); admitted, a
    relation in `error` goes back to `joined` (units enter scope). A suspended relation only
    records the subnets: resume checks them again.

    Raises:
        Invalid: no model or a negative id.
        NotFound: no such relation.
        Refused: not the consumer's half of a cross-model relation.
    """
    _require_model(model_uuid)
    if relation_id < 0:
        raise errors.Invalid(f'relation ID "{relation_id}" not valid')
    seq = 0
    with relations.transaction():
        relation = relations.get_relation(model_uuid, relation_id)
        if relation is None:
            raise errors.NotFound(f"relation {relation_id} not found")
        if relation.side != Half.CONSUMER:
            raise errors.Refused(
                f'relation "{relation.key}" does not consume an offer: it has no egress'
            )
        for half in relations.halves(relation.token) or [relation]:
            if list(half.subnets) != list(subnets):
                relations.set_subnets(half.model_uuid, half.id, subnets)
                seq = relations.append_event(
                    "relation-subnets-changed",
                    model_uuid=half.model_uuid,
                    entity=str(half.id),
                    attributes={"key": half.key, "subnets": ",".join(subnets)},
                )
            if half.suspended:
                continue
            if refused and (half.status, half.message) != (RelationStatus.ERROR, refused):
                seq, _ = _transition(
                    relations,
                    half,
                    (("relation-error", RelationStatus.ERROR),),
                    message=refused,
                    suspended=False,
                )
                seq = _leave_all(relations, half) or seq
            elif not refused and half.status is RelationStatus.ERROR:
                seq, now = _transition(
                    relations,
                    half,
                    (("relation-joined", RelationStatus.JOINED),),
                    message="",
                    suspended=False,
                )
                seq = sync_scope(relations, now) or seq
        after = relations.get_relation(model_uuid, relation_id) or relation
    return Changed(relations=[after], sequence=seq)


def mirror_remote_state(relations: Relations, token: str, suspended: bool, reason: str) -> int:
    """Make the local half of a cross-controller relation follow the offerer's suspension.

    Only a consumer's half mirrors (the offerer decides suspension). Suspended, it shows the
    offerer's reason, or Juju's `suspending after update from remote model`; resumed, it goes
    `joining` then `joined`. Nothing changes when it already matches.

    Returns:
        The sequence of the last event, or 0 when nothing changed.

    Raises:
        NotFound: no such half here.
    """
    seq = 0
    with relations.transaction():
        halves = [h for h in relations.remote_halves(token) if h.side == Half.CONSUMER]
        if not halves:
            raise errors.NotFound(f'relation with token "{token}" not found')
        for half in halves:
            text = reason or FROM_REMOTE
            if suspended and not (half.suspended and half.message == text):
                seq, _ = _suspend_half(relations, half, text)
            elif not suspended and half.suspended:
                seq, _ = _resume_half(relations, half)
    return seq


def access_event_matters(kind: str, attributes: Mapping[str, str]) -> bool:
    """Whether an access event can change relations: an offer revoke that ends consume.

    That is a revoke on an offer that takes a user from consume or more (`previous`, recorded)
    to below it (`effective`, implicit admin included). A user whose recorded level was
    already below consume had nothing that kept relations going but implicit admin, which an
    offer revoke does not take away.

    The gateway asks the same of a revoke's reply, to know whether to wait for this context.
    """
    return (
        kind == "access-revoked"
        and attributes.get("target-kind") == "offer"
        and bool(attributes.get("offer-uuid"))
        and ends_consume(
            attributes.get("previous", Level.CONSUME), attributes.get("effective", "")
        )
    )


def placement_event_matters(kind: str, attributes: Mapping[str, str]) -> bool:
    """Whether a placement event can change relations: a unit added or removed, a model gone."""
    return (
        kind in ("unit-added", "unit-removed") and bool(attributes.get("application"))
    ) or kind == "model-removed"


def apply_access_event(
    relations: Relations, source: str, sequence: int, kind: str, attributes: dict[str, str]
) -> int:
    """Apply one event of the access feed, idempotently, and advance the cursor with it.

    An `access-revoked` event on an offer whose `effective` level (implicit admins included)
    is below consume suspends every relation to that offer whose connection is that user's,
    with the reason `offer permission revoked` (REFERENCE §3.3). Relations already suspended
    stay as they are, and a later grant resumes nothing. Other events only move the cursor.

    Returns:
        The number of relations suspended.
    """
    count = 0
    with relations.transaction():
        if sequence <= relations.cursor(source):
            return 0
        if access_event_matters(kind, attributes):
            for relation in relations.user_relations_of_offer(
                attributes["offer-uuid"], attributes.get("user", "")
            ):
                if not relation.suspended:
                    _suspend_halves(relations, relation, REVOKED)
                    count += 1
        relations.set_cursor(source, sequence)
    return count


# -- scope ----------------------------------------------------------------------------------


def scope_members(relation: Relation, units: Sequence[KnownUnit]) -> list[KnownUnit]:
    """The local units that belong in a relation's scope (REFERENCE §5.6, §7.2).

    None while the relation is suspended or in error. In a global relation, every unit of a
    local end. In a container-scoped one, a unit only with a counterpart of the other
    application in its own container (a principal and its subordinate, or two subordinates of
    one principal).
    """
    if relation.suspended or relation.status is RelationStatus.ERROR:
        return []
    local = {e.application for e in relation.endpoints if not e.remote}
    mine = [u for u in units if u.application in local]
    if relation.scope is Scope.GLOBAL or relation.is_peer:
        return mine
    return [
        u
        for u in mine
        if any(v.container == u.container and v.application != u.application for v in mine)
    ]


def _scope_event(relations: Relations, kind: str, relation: Relation, unit: str) -> int:
    return relations.append_event(
        kind,
        model_uuid=relation.model_uuid,
        entity=unit,
        attributes={"relation-id": str(relation.id), "key": relation.key},
    )


def _leave_all(relations: Relations, relation: Relation) -> int:
    seq = 0
    for unit in relations.in_scope(relation.model_uuid, relation.id):
        relations.leave_scope(relation.model_uuid, relation.id, unit)
        seq = _scope_event(relations, "unit-left-scope", relation, unit)
    return seq


def _resync(
    relations: Relations, relation: Relation, units: Sequence[KnownUnit], in_scope: Iterable[str]
) -> int:
    """Bring the scope among `units` (those of `in_scope` included) to `scope_members`.

    Returns:
        The sequence of the last event, or 0 when nothing changed.
    """
    roles = {e.application: e.role for e in relation.endpoints if not e.remote}
    wanted = {u.name: u for u in scope_members(relation, units)}
    seq = 0
    for name in sorted(in_scope):
        if name not in wanted:
            relations.leave_scope(relation.model_uuid, relation.id, name)
            seq = _scope_event(relations, "unit-left-scope", relation, name)
    for unit in wanted.values():
        if relations.enter_scope(relation.model_uuid, relation.id, unit, roles[unit.application]):
            seq = _scope_event(relations, "unit-entered-scope", relation, unit.name)
    return seq


def sync_scope(relations: Relations, relation: Relation) -> int:
    """Make a relation's scope match `scope_members`; one event per unit entering or leaving.

    Returns:
        The sequence of the last event, or 0 when nothing changed.
    """
    local = sorted({e.application for e in relation.endpoints if not e.remote})
    units = relations.units_of(relation.model_uuid, local)
    return _resync(
        relations, relation, units, relations.in_scope(relation.model_uuid, relation.id)
    )


def _sync_unit(relations: Relations, relation: Relation, unit: KnownUnit) -> int:
    """`sync_scope` for the part of a relation's scope one unit's arrival or departure touches.

    In a global relation, that unit alone; in a container-scoped one, the units of its
    container. The work is bounded by the container, not by the application's size.

    Returns:
        The sequence of the last event, or 0 when nothing changed.
    """
    local = {e.application for e in relation.endpoints if not e.remote}
    container = relation.scope is Scope.CONTAINER and not relation.is_peer
    around = [
        u
        for u in relations.units_in_container(
            relation.model_uuid, unit.container if container else unit.name
        )
        if u.application in local and (container or u.name == unit.name)
    ]
    names = {u.name for u in around} | {unit.name}
    in_scope = relations.in_scope_among(relation.model_uuid, relation.id, names)
    return _resync(relations, relation, around, in_scope)


def apply_placement_event(
    relations: Relations,
    source: str,
    sequence: int,
    kind: str,
    model_uuid: str,
    entity: str,
    attributes: dict[str, str],
) -> int:
    """Apply one event of the placement feed, idempotently, and advance the cursor with it.

    `unit-added` records the unit and brings it (and, in container scope, its counterpart)
    into the scope of its application's relations; `unit-removed` takes it out of every scope
    and forgets it; `model-removed` forgets the model's units. Other events only move the
    cursor.

    Returns:
        The number of relations whose scope changed.
    """
    changed = 0
    with relations.transaction():
        if sequence <= relations.cursor(source):
            return 0
        if kind == "model-removed":
            relations.drop_model_units(model_uuid)
        elif placement_event_matters(kind, attributes):
            application = attributes["application"]
            unit = KnownUnit(
                model_uuid=model_uuid,
                name=entity,
                application=application,
                machine=attributes.get("machine", ""),
                principal=attributes.get("principal", ""),
            )
            if kind == "unit-added":
                relations.put_unit(unit)
            else:
                relations.drop_unit(model_uuid, entity)
            for relation in relations.list_relations(model_uuid, application):
                if _sync_unit(relations, relation, unit):
                    changed += 1
        relations.set_cursor(source, sequence)
    return changed
