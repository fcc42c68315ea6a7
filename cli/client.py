"""The CLI's connection to a controller's gateway: address, token, model resolution."""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Final

import click
import grpc

from cli import state
from cmr.gateway.v1 import gateway_pb2, gateway_pb2_grpc
from kernel import errors
from kernel.offerurl import OfferURL
from services.common.server import CHANNEL_OPTIONS

TIMEOUT_S: Final = 30.0
"""Deadline of one CLI call."""


@dataclass(frozen=True, kw_only=True, slots=True)
class Target:
    """Which controller, and which model on it, a command acts on."""

    controller: state.Controller
    """The controller."""
    model: str
    """Model as `[owner/]name`; empty when the command needs none."""


def resolve(model_flag: str | None, controller_flag: str | None) -> Target:
    """Resolve `-m [CONTROLLER:][OWNER/]MODEL` and `-c CONTROLLER` against the client state.

    Raises:
        click.ClickException: no controller is known or selected, or it is unknown.
    """
    model = model_flag or ""
    controller_name = controller_flag or ""
    if ":" in model:
        controller_name, _, model = model.partition(":")
    if not controller_name:
        controller_name = state.current_controller()
    if not controller_name:
        raise click.ClickException(
            "no controller selected: run cmr bootstrap, or cmr switch CONTROLLER"
        )
    known = state.controllers()
    if controller_name not in known:
        raise click.ClickException(f'controller "{controller_name}" not found')
    if not model:
        model = state.current_model(controller_name)
    return Target(controller=known[controller_name], model=model)


def require_model(target: Target) -> str:
    """Return the target's model or explain how to choose one."""
    if not target.model:
        raise click.ClickException(
            "no current model, use cmr switch to select a model on which to operate"
        )
    return target.model


@dataclass(frozen=True, slots=True)
class GatewayStubs:
    """A controller's public services, over one channel to its gateway."""

    session: gateway_pb2_grpc.SessionServiceStub
    """Log in and out, who the caller is."""
    users: gateway_pb2_grpc.UserServiceStub
    """Users and their access."""
    models: gateway_pb2_grpc.ModelServiceStub
    """Models, applications, units, machines, relations, status."""
    cross_model: gateway_pb2_grpc.CrossModelServiceStub
    """Offers, consume and SAAS, suspend and resume, firewall rules."""
    cross_controller: gateway_pb2_grpc.CrossControllerServiceStub
    """What one controller asks another."""

    @classmethod
    def over(cls, channel: grpc.Channel) -> GatewayStubs:
        """The stubs of every public service over `channel`."""
        return cls(
            session=gateway_pb2_grpc.SessionServiceStub(channel),
            users=gateway_pb2_grpc.UserServiceStub(channel),
            models=gateway_pb2_grpc.ModelServiceStub(channel),
            cross_model=gateway_pb2_grpc.CrossModelServiceStub(channel),
            cross_controller=gateway_pb2_grpc.CrossControllerServiceStub(channel),
        )


@contextmanager
def gateway(controller: state.Controller) -> Iterator[GatewayStubs]:
    """Open a channel to a controller's gateway."""
    # a private subchannel pool: a command never inherits another channel's backoff to an
    # address that was down a moment ago (several commands may run in one process)
    options = [*CHANNEL_OPTIONS, ("grpc.use_local_subchannel_pool", 1)]
    with grpc.insecure_channel(controller.address, options=options) as channel:
        yield GatewayStubs.over(channel)


def credentials(controller: state.Controller) -> tuple[tuple[str, str | bytes], ...]:
    """Return the call metadata carrying the stored token for a controller.

    Raises:
        click.ClickException: the client is not logged in to it.
    """
    acct = state.account(controller.name)
    if acct is None or not acct.token:
        raise click.ClickException(
            f'not logged in to controller "{controller.name}": run cmr login'
        )
    return (("authorization", f"Bearer {acct.token}"),)


def offer_controller(url: str) -> str:
    """The controller an offer URL names (`ctrl:owner/model.offer`), or empty for none."""
    try:
        return OfferURL.parse(url).source
    except errors.CmrError:
        return ""  # the controller reports the bad URL


def remote_offer(url: str, target: Target, model_ref: str) -> gateway_pb2.RemoteOffer | None:
    """For an offer on another controller, fetch it there with this client's account.

    The other controller hands out the offer and a consume token scoped to the consuming
    model, as Juju's consume does; the consuming controller checks that the controller it reaches
    at the address answers with the UUID this client registered.

    Returns:
        None when the URL names no controller or the target's own.

    Raises:
        click.ClickException: the controller is unknown, or this client is not logged in.
    """
    source = offer_controller(url)
    if not source or source == target.controller.name:
        return None
    known = state.controllers()
    if source not in known:
        raise click.ClickException(f'controller "{source}" not found')
    other = known[source]
    owner, _, name = model_ref.rpartition("/")
    acct = state.account(target.controller.name)
    owner = owner or (acct.user if acct is not None else "")
    with gateway(target.controller) as gw:
        models = gw.models.ListModels(
            gateway_pb2.ListModelsRequest(page_size=1000),
            metadata=credentials(target.controller),
            timeout=TIMEOUT_S,
        ).models
    model = next((m for m in models if (m.owner, m.name) == (owner, name)), None)
    if model is None:
        raise click.ClickException(f'model "{owner}/{name}" not found')
    with gateway(other) as gw:
        details = gw.cross_model.GetConsumeDetails(
            gateway_pb2.GetConsumeDetailsRequest(url=url, source_model_uuid=model.uuid),
            metadata=credentials(other),
            timeout=TIMEOUT_S,
        )
    return gateway_pb2.RemoteOffer(
        controller_name=source,
        controller_uuid=other.uuid or details.controller_uuid,
        address=other.address,
        offer=details.offer,
        consume_token=details.consume_token,
    )


def merge_status(
    parts: Iterable[gateway_pb2.StreamStatusResponse],
) -> gateway_pb2.GetStatusResponse:
    """Put a streamed status back together: parts in order, an application's units appended."""
    whole = gateway_pb2.GetStatusResponse()
    apps: dict[str, gateway_pb2.ApplicationStatus] = {}
    for index, item in enumerate(parts):
        part = item.part
        if index == 0:
            whole.CopyFrom(part)
            del whole.machines[:]
            del whole.applications[:]
        whole.machines.extend(part.machines)
        for piece in part.applications:
            known = apps.get(piece.name)
            if known is None:
                known = whole.applications.add()
                known.CopyFrom(piece)
                apps[piece.name] = known
            else:
                known.units.extend(piece.units)
    return whole
