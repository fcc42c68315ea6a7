"""`cmr` relation commands: add-relation (integrate, relate), remove, suspend and resume."""

from __future__ import annotations

import re
from typing import Final

import click
import grpc

from cli import render
from cli.client import credentials, gateway, remote_offer, require_model, resolve
from cli.options import model_option
from cmr.gateway.v1 import gateway_pb2 as pb

INTEGER: Final = re.compile(r"[+-]?[0-9]+")
"""What Go's `strconv.Atoi` reads as a number: Juju's test for a relation id."""


def parse_cidrs(text: str) -> list[str]:
    """Split comma-separated CIDRs, dropping spaces and empty items."""
    return [part.strip() for part in text.split(",") if part.strip()]


def parse_relation_ids(args: tuple[str, ...] | list[str]) -> list[int]:
    """Read relation ids as Juju does: each a non-negative integer.

    Raises:
        click.ClickException: none is given, or one is not a non-negative integer.
    """
    if not args:
        raise click.ClickException("no relation ids specified")
    ids: list[int] = []
    for arg in args:
        text = arg.strip()
        if not INTEGER.fullmatch(text) or int(text) < 0:
            raise click.ClickException(f'relation ID "{arg}" not valid')
        ids.append(int(text))
    return ids


@click.command("add-relation")
@click.argument("ends", nargs=-1)
@click.option("--via", default="", help="Egress CIDRs of the consuming side, comma-separated.")
@click.option("--dry-run", is_flag=True, help="Explain every endpoint pair; relate nothing.")
@model_option
def add_relation(ends: tuple[str, ...], via: str, dry_run: bool, model: str | None) -> None:
    """Relate two applications: APP[:ENDPOINT] APP[:ENDPOINT]."""
    if len(ends) != 2:
        raise click.ClickException("an integration must involve two applications")
    cidrs = parse_cidrs(via)
    target = resolve(model, None)
    ref = require_model(target)
    remote = next(
        (r for r in (remote_offer(e, target, ref) for e in ends if "." in e) if r is not None),
        None,
    )
    with gateway(target.controller) as gw:
        try:
            reply = gw.models.AddRelation(
                pb.AddRelationRequest(
                    model=ref, a=ends[0], b=ends[1], dry_run=dry_run, via=cidrs, remote=remote
                ),
                metadata=credentials(target.controller),
                timeout=60,
            )
        except grpc.RpcError as err:
            if isinstance(err, grpc.Call) and err.code() == grpc.StatusCode.ALREADY_EXISTS:
                click.echo(f"ERROR {err.details()}", err=True)
                click.echo("Use 'cmr status --relations' to view the current relations.", err=True)
                raise click.exceptions.Exit(1) from None
            raise
    if dry_run:
        rows = [[c.pair, "yes" if c.accepted else "no", c.reason] for c in reply.candidates]
        render.print_tables(render.console(), [render.table(["Pair", "Relates", "Why"], rows)])
        click.echo(f"would add relation {reply.relation.key}", err=True)


@click.command("remove-relation")
@click.argument("ends", nargs=-1)
@click.option("--force", is_flag=True, help="Remove the relation even if a side cannot be told.")
@click.option("--no-wait", is_flag=True, help="Do not wait for the relation to go (with --force).")
@model_option
def remove_relation(ends: tuple[str, ...], force: bool, no_wait: bool, model: str | None) -> None:
    """Remove a relation: APP[:ENDPOINT] APP[:ENDPOINT], or its ID."""
    if no_wait and not force:
        raise click.ClickException("--no-wait requires --force")
    if len(ends) == 1:
        if not ends[0].isdigit():
            raise click.ClickException(f'relation ID "{ends[0]}" not valid')
        request = pb.RemoveRelationRequest(id=int(ends[0]), by_id=True)
    elif len(ends) == 2:
        request = pb.RemoveRelationRequest(a=ends[0], b=ends[1])
    else:
        raise click.ClickException("a relation must involve two applications")
    target = resolve(model, None)
    request.model = require_model(target)
    with gateway(target.controller) as gw:
        gw.models.RemoveRelation(request, metadata=credentials(target.controller), timeout=60)


@click.command("suspend-relation")
@click.argument("args", nargs=-1)
@click.option("--message", "message_option", default=None, help="Reason, shown in status.")
@model_option
def suspend_relation(args: tuple[str, ...], message_option: str | None, model: str | None) -> None:
    """Suspend cross-model relations of the offering model: ID... [MESSAGE]."""
    message = ""
    ids_args = args
    if args and not INTEGER.fullmatch(args[-1].strip()):
        message, ids_args = args[-1], args[:-1]
    ids = parse_relation_ids(ids_args)
    if message and message_option is not None:
        raise click.ClickException(
            "specify the message either as an argument or with --message, not both"
        )
    target = resolve(model, None)
    ref = require_model(target)
    with gateway(target.controller) as gw:
        gw.cross_model.SuspendRelation(
            pb.SuspendRelationRequest(model=ref, ids=ids, message=message or message_option or ""),
            metadata=credentials(target.controller),
            timeout=60,
        )


@click.command("resume-relation")
@click.argument("args", nargs=-1)
@model_option
def resume_relation(args: tuple[str, ...], model: str | None) -> None:
    """Resume suspended cross-model relations of the offering model: ID..."""
    ids = parse_relation_ids(args)
    target = resolve(model, None)
    ref = require_model(target)
    with gateway(target.controller) as gw:
        gw.cross_model.ResumeRelation(
            pb.ResumeRelationRequest(model=ref, ids=ids),
            metadata=credentials(target.controller),
            timeout=60,
        )


COMMANDS = (add_relation, remove_relation, suspend_relation, resume_relation)
ALIASES = {"integrate": add_relation, "relate": add_relation}
