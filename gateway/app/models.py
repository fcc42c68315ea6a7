"""Models: add, list and configure them, for an authenticated caller."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Protocol

from cmr.access.v1 import access_pb2
from cmr.placement.v1 import placement_pb2
from gateway.auth import Caller
from gateway.ports import Ports
from gateway.resolve import Resolver, model_target
from kernel import errors
from services.common.deadline import Deadline

PAGE: int = 1000
"""Models asked for at a time when the caller's own models are gathered."""


class Egress(Protocol):
    """What changing a model's egress sets off in the cross-model relations of the model."""

    def republish_egress(self, model: placement_pb2.Model, deadline: Deadline) -> None:
        """Publish each consumer half's egress again where it changed."""
        ...


def add_model(
    ports: Ports, resolve: Resolver, caller: Caller, name: str, deadline: Deadline
) -> placement_pb2.Model:
    """Create a model owned by the caller, who becomes its admin.

    Raises:
        Forbidden: the caller lacks `add-model` on the controller.
        Invalid, AlreadyExists: as placement says.
    """
    resolve.require_controller(caller, "add-model", deadline)
    model = ports.placement.add_model(
        placement_pb2.AddModelRequest(name=name, owner=caller.user), deadline
    ).model
    ports.access.init_target(
        access_pb2.InitTargetRequest(target=model_target(model), owner=caller.user), deadline
    )
    return model


def list_models(
    ports: Ports,
    resolve: Resolver,
    caller: Caller,
    page_size: int,
    page_token: str,
    deadline: Deadline,
) -> tuple[list[placement_pb2.Model], str]:
    """The models the caller can see, and the next page's token.

    A superuser pages through every model; anyone else gets every model they can read at once
    (their levels decide, so the pages cannot be placement's).
    """
    if caller.superuser:
        reply = ports.placement.list_models(
            placement_pb2.ListModelsRequest(page_size=page_size, page_token=page_token),
            deadline,
        )
        return list(reply.models), reply.next_page_token
    found: list[placement_pb2.Model] = []
    token = ""
    while True:
        reply = ports.placement.list_models(
            placement_pb2.ListModelsRequest(page_size=PAGE, page_token=token), deadline
        )
        found.extend(reply.models)
        token = reply.next_page_token
        if not token:
            break
    levels = resolve.levels(caller, [model_target(m) for m in found], deadline)
    return [m for m, level in zip(found, levels, strict=True) if level], ""


def model_config(
    ports: Ports,
    resolve: Resolver,
    caller: Caller,
    ref: str,
    keys: Sequence[str],
    deadline: Deadline,
) -> dict[str, str]:
    """The model's configuration, or only `keys` of it.

    Raises:
        NotFound: the model, or one of `keys` (`key "x" not found in model "m"`).
    """
    model = resolve.model(caller, ref, "read", deadline)
    config = dict(
        ports.placement.get_model_config(
            placement_pb2.GetModelConfigRequest(model_uuid=model.uuid), deadline
        ).config
    )
    if not keys:
        return config
    unknown = [k for k in keys if k not in config]
    if unknown:
        raise errors.NotFound(f'key "{unknown[0]}" not found in model "{model.name}"')
    return {k: config[k] for k in keys}


def set_model_config(
    ports: Ports,
    resolve: Resolver,
    egress: Egress,
    caller: Caller,
    ref: str,
    config: Mapping[str, str],
    deadline: Deadline,
) -> dict[str, str]:
    """Set configuration keys (model admin only); a new `egress-subnets` is published again."""
    model = resolve.model(caller, ref, "admin", deadline)
    reply = ports.placement.set_model_config(
        placement_pb2.SetModelConfigRequest(model_uuid=model.uuid, config=dict(config)), deadline
    )
    if "egress-subnets" in config:
        egress.republish_egress(model, deadline)
    return dict(reply.config)
