"""The CLI's connection to a controller's gateway: address, token, model resolution."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Final

import click
import grpc

from cli import state
from cmr.gateway.v1 import gateway_pb2_grpc
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


@contextmanager
def gateway(controller: state.Controller) -> Iterator[gateway_pb2_grpc.GatewayServiceStub]:
    """Open a channel to a controller's gateway."""
    with grpc.insecure_channel(controller.address, options=CHANNEL_OPTIONS) as channel:
        yield gateway_pb2_grpc.GatewayServiceStub(channel)


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
