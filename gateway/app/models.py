"""Models: add, list, configure and destroy them."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Protocol

from cmr.access.v1 import access_pb2
from cmr.offers.v1 import offers_pb2
from cmr.placement.v1 import placement_pb2
from cmr.relations.v1 import relations_pb2
from gateway.app.offers import Offers
from gateway.auth import Caller
from gateway.ports import Ports, pages
from gateway.resolve import Resolver, model_target
from kernel import errors
from services.common.deadline import Deadline

PAGE: int = 1000
"""Models asked for at a time when a caller's own models are gathered."""


class Egress(Protocol):
    """What a change of a model's egress sets off in its cross-model relations."""

    def republish_egress(self, model: placement_pb2.Model, deadline: Deadline) -> None:
        """Publish each consumer half's egress again where it changed."""
        ...


class Models:
    """The model commands, for an authenticated caller."""

    def __init__(self, ports: Ports, resolve: Resolver, offers: Offers, egress: Egress) -> None:
        self._ports = ports
        self._resolve = resolve
        self._offers = offers
        self._egress = egress

    def add(self, caller: Caller, name: str, deadline: Deadline) -> placement_pb2.Model:
        """Create a model owned by the caller, who becomes its admin.

        Raises:
            Forbidden: the caller lacks `add-model` on the controller.
        """
        self._resolve.require_controller(caller, "add-model", deadline)
        model = self._ports.placement.add_model(
            placement_pb2.AddModelRequest(name=name, owner=caller.user), deadline
        ).model
        self._ports.access.init_target(
            access_pb2.InitTargetRequest(target=model_target(model), owner=caller.user), deadline
        )
        return model

    def visible(
        self, caller: Caller, page_size: int, page_token: str, deadline: Deadline
    ) -> tuple[list[placement_pb2.Model], str]:
        """The models the caller can see, and the next page's token.

        A superuser pages through every model; anyone else gets every model they can read at
        once (their levels decide, so the pages cannot be placement's).
        """
        if caller.superuser:
            reply = self._ports.placement.list_models(
                placement_pb2.ListModelsRequest(page_size=page_size, page_token=page_token),
                deadline,
            )
            return list(reply.models), reply.next_page_token
        found = list(
            pages(
                lambda token: self._ports.placement.list_models(
                    placement_pb2.ListModelsRequest(page_size=PAGE, page_token=token), deadline
                ),
                lambda reply: reply.models,
            )
        )
        levels = self._resolve.levels(caller, [model_target(m) for m in found], deadline)
        return [m for m, level in zip(found, levels, strict=True) if level], ""

    def config(
        self, caller: Caller, ref: str, keys: Sequence[str], deadline: Deadline
    ) -> dict[str, str]:
        """The model's configuration, or only `keys` of it.

        Raises:
            NotFound: the model, or one of `keys` (`key "x" not found in model "m"`).
        """
        model = self._resolve.model(caller, ref, "read", deadline)
        config = dict(
            self._ports.placement.get_model_config(
                placement_pb2.GetModelConfigRequest(model_uuid=model.uuid), deadline
            ).config
        )
        if not keys:
            return config
        unknown = [k for k in keys if k not in config]
        if unknown:
            raise errors.NotFound(f'key "{unknown[0]}" not found in model "{model.name}"')
        return {k: config[k] for k in keys}

    def set_config(
        self, caller: Caller, ref: str, config: Mapping[str, str], deadline: Deadline
    ) -> dict[str, str]:
        """Set keys (model admin only); a new `egress-subnets` is published again."""
        model = self._resolve.model(caller, ref, "admin", deadline)
        reply = self._ports.placement.set_model_config(
            placement_pb2.SetModelConfigRequest(model_uuid=model.uuid, config=dict(config)),
            deadline,
        )
        if "egress-subnets" in config:
            self._egress.republish_egress(model, deadline)
        return dict(reply.config)

    def destroy(self, caller: Caller, ref: str, deadline: Deadline) -> None:
        """Destroy the model's offers and SAAS (with their relations), then the model.

        Offers go as with `--force`: the consumers' halves go too and their SAAS turn
        `terminated`. Each SAAS goes with its relations, whose offering halves go with them.
        """
        model = self._resolve.model(caller, ref, "admin", deadline)
        for offer in self._offers.of_model(model.uuid, deadline):
            self._offers.delete(offer, force=True, deadline=deadline)
        saas = self._ports.offers.list_saas(
            offers_pb2.ListSaasRequest(model_uuid=model.uuid), deadline
        ).saas
        for one in saas:
            self._offers.remove_saas(model.uuid, one.name, deadline)
        relations = self._ports.relations.list_relations(
            relations_pb2.ListRelationsRequest(model_uuid=model.uuid), deadline
        ).relations
        # by application: that takes peer relations too, and both halves of cross-model ones
        for application in sorted(
            {e.application for r in relations for e in r.endpoints if not e.remote}
        ):
            self._ports.relations.remove_application_relations(
                relations_pb2.RemoveApplicationRelationsRequest(
                    model_uuid=model.uuid, application=application
                ),
                deadline,
            )
        self._ports.placement.destroy_model(
            placement_pb2.DestroyModelRequest(model_uuid=model.uuid), deadline
        )
        self._ports.access.drop_target(
            access_pb2.DropTargetRequest(target=model_target(model)), deadline
        )
