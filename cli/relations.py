"""`cmr` commands for relations: add-relation (integrate, relate) and remove-relation."""

from __future__ import annotations

import click
import grpc

from cli import render
from cli.client import credentials, gateway, require_model, resolve
from cli.options import model_option
from cmr.gateway.v1 import gateway_pb2 as pb


@click.command("add-relation")
@click.argument("ends", nargs=-1)
@click.option("--via", default="", help="Egress CIDRs of the consuming side, comma-separated.")
@click.option("--dry-run", is_flag=True, help="Explain every endpoint pair; relate nothing.")
@model_option
def add_relation(ends: tuple[str, ...], via: str, dry_run: bool, model: str | None) -> None:
    """Relate two applications: APP[:ENDPOINT] APP[:ENDPOINT]."""
    if len(ends) != 2:
        raise click.ClickException("an integration must involve two applications")
    if via:
        raise click.ClickException(
            "--via applies to cross-model relations, which need an offer URL"
        )
    target = resolve(model, None)
    ref = require_model(target)
    with gateway(target.controller) as stub:
        try:
            reply = stub.AddRelation(
                pb.AddRelationRequest(model=ref, a=ends[0], b=ends[1], dry_run=dry_run),
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
@model_option
def remove_relation(ends: tuple[str, ...], model: str | None) -> None:
    """Remove a relation: APP[:ENDPOINT] APP[:ENDPOINT], or its ID."""
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
    with gateway(target.controller) as stub:
        stub.RemoveRelation(request, metadata=credentials(target.controller), timeout=60)


COMMANDS = (add_relation, remove_relation)
ALIASES = {"integrate": add_relation, "relate": add_relation}
