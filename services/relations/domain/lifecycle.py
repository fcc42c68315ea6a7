"""Adding, removing and listing relations: add-relation, peer relations, cross-model adds."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, replace

from kernel import errors
from kernel.relation import Half, Role, Scope
from services.relations.domain.matching import Candidate, Side, infer_endpoints
from services.relations.domain.scope import clear_scope, sync_scope
from services.relations.domain.store import Relations
from services.relations.domain.values import (
    CrossModel,
    Endpoint,
    Relation,
    RelationStatus,
    cross_attributes,
    in_key_order,
    relation_key,
    require_model,
)


@dataclass(frozen=True, kw_only=True, slots=True)
class Added:
    """What add-relation made (or, for a dry run, would make)."""

    relation: Relation
    """The relation; id -1 for a dry run."""
    candidates: list[Candidate]
    """Every endpoint pair considered, with the verdict."""
    sequence: int = 0
    """Feed sequence of `relation-added`; 0 for a dry run."""


# -- add-relation ---------------------------------------------------------------------------


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
    at its `limit`. The relation takes the model's next id, starts `joined` (cmr runs no agents
    to move it on from `joining`) and is written with its endpoints and a `relation-added` event
    (entity: the id; attributes `key`, `scope`, `interface`, `applications` comma-joined) in one
    transaction. A dry run checks the same and writes nothing.

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
    require_model(model_uuid)
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
            **cross_attributes(relation),
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
    """Give each `peers:` endpoint of an application its relation.

    Made at deploy, keyed `app:endpoint`, with the endpoint's scope; users never add or remove
    them (remove-relation refuses peers), and they go with the application. One that exists is
    left alone, so a repeated call changes nothing.

    Returns:
        The relations made, and the sequence of the last event (0 when none was made).

    Raises:
        Invalid: no model or no application.
    """
    require_model(model_uuid)
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
    """Remove a relation and every other half of it this store holds; the last sequence.

    Within one controller that is both halves of a cross-model relation, in one transaction;
    across controllers the gateways carry the removal to the other half.
    """
    seq = 0
    others = [
        h
        for h in relations.halves(relation.token)
        if (h.model_uuid, h.id) != (relation.model_uuid, relation.id)
    ]
    for half in (relation, *others):
        clear_scope(relations, half)
        relations.remove_relation(half.model_uuid, half.id)
        seq = relations.append_event(
            "relation-removed",
            model_uuid=half.model_uuid,
            entity=str(half.id),
            attributes={
                "key": half.key,
                "scope": str(half.scope),
                "applications": ",".join(e.application for e in half.endpoints),
                **cross_attributes(half),
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
    require_model(model_uuid)
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
    require_model(model_uuid)
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
    require_model(model_uuid)
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


# -- the relations of an offer --------------------------------------------------------------


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
