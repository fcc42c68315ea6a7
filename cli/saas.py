"""`cmr` commands for the consuming side: consume, remove-saas, and the firewall rules."""

from __future__ import annotations

from typing import Any

import click
import grpc

from cli import render
from cli.client import credentials, gateway, remote_offer, require_model, resolve
from cli.options import FORMATS, model_option, print_data
from cli.relations import parse_cidrs
from cmr.gateway.v1 import gateway_pb2 as pb
from kernel import errors
from kernel.names import APPLICATION_NAME
from services.common.status import reason_of


def _unrecognized(extra: tuple[str, ...]) -> click.ClickException:
    """Juju's `cmd.CheckEmpty` message: `unrecognized args: ["x" "y"]`."""
    quoted = " ".join(f'"{a}"' for a in extra)
    return click.ClickException(f"unrecognized args: [{quoted}]")


@click.command()
@click.argument("args", nargs=-1)
@model_option
def consume(args: tuple[str, ...], model: str | None) -> None:
    """Add a SAAS for an offer to the model: URL [ALIAS]."""
    if not args:
        raise click.ClickException("no remote offer specified")
    if len(args) > 2:
        raise _unrecognized(args[2:])
    url, alias = args[0], args[1] if len(args) > 1 else ""
    target = resolve(model, None)
    ref = require_model(target)
    remote = remote_offer(url, target, ref)
    with gateway(target.controller) as gw:
        reply = gw.cross_model.Consume(
            pb.ConsumeRequest(model=ref, url=url, alias=alias, remote=remote),
            metadata=credentials(target.controller),
            timeout=60,
        )
    click.echo(f"Added {reply.url} as {reply.saas.name}", err=True)


@click.command("remove-saas")
@click.argument("names", nargs=-1)
@click.option("--force", is_flag=True, help="Remove even when the offering side cannot be told.")
@click.option("--no-wait", is_flag=True, help="Do not wait for the removal (with --force).")
@model_option
def remove_saas(names: tuple[str, ...], force: bool, no_wait: bool, model: str | None) -> None:
    """Remove SAAS applications and their relations: NAME..."""
    if not names:
        raise click.ClickException("no SAAS application names specified")
    if no_wait and not force:
        raise click.ClickException("--no-wait requires --force")
    for name in names:
        if not APPLICATION_NAME.fullmatch(name):
            raise click.ClickException(f'invalid SAAS application name "{name}"')
    target = resolve(model, None)
    ref = require_model(target)
    failed = False
    with gateway(target.controller) as gw:
        meta = credentials(target.controller)
        for name in names:
            try:
                gw.cross_model.RemoveSaas(
                    pb.RemoveSaasRequest(model=ref, name=name, force=force),
                    metadata=meta,
                    timeout=60,
                )
            except grpc.RpcError as err:
                if not isinstance(err, grpc.Call):
                    raise
                details = err.details() or ""
                if (
                    err.code() == grpc.StatusCode.UNAVAILABLE
                    and reason_of(err) != errors.Reason.SERVICE_UNAVAILABLE
                ):
                    raise  # the controller is down: one message, from the group
                click.echo(f"ERROR removing SAAS application {name} failed: {details}", err=True)
                failed = True
    if failed:
        raise click.exceptions.Exit(1)


@click.command("set-firewall-rule")
@click.argument("args", nargs=-1)
@click.option("--whitelist", default="", help="Allowed subnets, comma-separated (deprecated).")
@click.option("--allowlist", default="", help="Allowed subnets, comma-separated.")
@model_option
def set_firewall_rule(
    args: tuple[str, ...], whitelist: str, allowlist: str, model: str | None
) -> None:
    """Set the subnets allowed to reach a well-known service: SERVICE --allowlist CIDRS."""
    if not args:
        raise click.ClickException("no well known service specified")
    if whitelist and allowlist:
        raise click.ClickException("cannot specify both whitelist and allowlist")
    cidrs = parse_cidrs(whitelist or allowlist)
    if not cidrs:
        raise click.ClickException("no allowlist subnets specified")
    if len(args) > 1:
        raise _unrecognized(args[1:])
    target = resolve(model, None)
    ref = require_model(target)
    with gateway(target.controller) as gw:
        gw.cross_model.SetFirewallRule(
            pb.SetFirewallRuleRequest(model=ref, service=args[0], allowlist=cidrs),
            metadata=credentials(target.controller),
            timeout=30,
        )


@click.command("list-firewall-rules")
@model_option
@click.option("--format", "fmt", type=FORMATS, default="tabular")
def list_firewall_rules(model: str | None, fmt: str) -> None:
    """List the model's firewall rules: the subnets allowed to reach each well-known service."""
    target = resolve(model, None)
    ref = require_model(target)
    with gateway(target.controller) as gw:
        reply = gw.cross_model.ListFirewallRules(
            pb.ListFirewallRulesRequest(model=ref),
            metadata=credentials(target.controller),
            timeout=30,
        )
    if fmt != "tabular":
        data: list[dict[str, Any]] = [
            {"known-service": r.service, "allowlist-subnets": list(r.allowlist)}
            for r in reply.rules
        ]
        print_data(fmt, data)
        return
    if not reply.rules:
        click.echo("No firewall rules to display.", err=True)
        return
    rows = [[r.service, ",".join(r.allowlist)] for r in reply.rules]
    render.print_tables(render.console(), [render.table(["Service", "Allowlist subnets"], rows)])


COMMANDS = (consume, remove_saas, set_firewall_rule, list_firewall_rules)
ALIASES = {"firewall-rules": list_firewall_rules}
