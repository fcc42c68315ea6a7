"""The relations context's domain: its values, its store's protocol and its use cases.

Modules, each importing only those before it: `values`, `store`, `matching`, `scope`, then
`lifecycle` and `halves`, then `reactions`.
"""

from __future__ import annotations

from services.relations.domain.halves import (
    FROM_REMOTE,
    Changed,
    mirror_remote_state,
    resume_relations,
    suspend_relations,
    update_egress,
)
from services.relations.domain.lifecycle import (
    Added,
    AddedHalves,
    NewHalf,
    add_cross_model_relation,
    add_peer_relations,
    add_relation,
    list_relations,
    offer_relations,
    remove_application_relations,
    remove_offer_relations,
    remove_relation,
)
from services.relations.domain.matching import (
    Candidate,
    CandidateEndpoint,
    Side,
    infer_endpoints,
    parse_role,
    parse_scope,
)
from services.relations.domain.reactions import (
    access_event_matters,
    apply_access_event,
    apply_placement_event,
    placement_event_matters,
)
from services.relations.domain.scope import scope_members, sync_scope
from services.relations.domain.store import Relations
from services.relations.domain.values import (
    CrossModel,
    Endpoint,
    KnownUnit,
    Relation,
    RelationStatus,
    SuspendCause,
    in_key_order,
    relation_key,
)

__all__ = [
    "FROM_REMOTE",
    "Added",
    "AddedHalves",
    "Candidate",
    "CandidateEndpoint",
    "Changed",
    "CrossModel",
    "Endpoint",
    "KnownUnit",
    "NewHalf",
    "Relation",
    "RelationStatus",
    "Relations",
    "Side",
    "SuspendCause",
    "access_event_matters",
    "add_cross_model_relation",
    "add_peer_relations",
    "add_relation",
    "apply_access_event",
    "apply_placement_event",
    "in_key_order",
    "infer_endpoints",
    "list_relations",
    "mirror_remote_state",
    "offer_relations",
    "parse_role",
    "parse_scope",
    "placement_event_matters",
    "relation_key",
    "remove_application_relations",
    "remove_offer_relations",
    "remove_relation",
    "resume_relations",
    "scope_members",
    "suspend_relations",
    "sync_scope",
    "update_egress",
]
