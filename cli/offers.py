"""`cmr` commands for offers: offer, offers, show-offer, find-offers, remove-offer."""

from __future__ import annotations

import re
import sys
from typing import Any, Final

import click

from cli import render
from cli.client import credentials, gateway, require_model, resolve
from cli.options import FORMATS, model_option, print_data
from cmr.gateway.v1 import gateway_pb2 as pb
from kernel.names import APPLICATION_NAME, MODEL_NAME

OFFER_ARG: Final = re.compile(r"/?(?:(?P<model>[^.]*)\.)?(?P<app>[^:]*)(?::(?P<endpoints>.*))?")


def parse_offer_arg(text: str) -> tuple[str, str, list[str]]:
    """Split `[model.]app:ep[,ep...]` as Juju does, with its messages."""
    match = OFFER_ARG.fullmatch(text)
    if match is None or match["endpoints"] is None:
        raise click.ClickException(
            'endpoints must conform to format "<application-name>:<endpoint-name>[,...]" '
        )
    model, app = match["model"] or "", match["app"]
    if not APPLICATION_NAME.fullmatch(app):
        raise click.ClickException(f'application name "{app}" not valid')
    if model and not MODEL_NAME.fullmatch(model.rpartition("/")[2]):
        raise click.ClickException(f'model name "{model}" not valid')
    endpoints = [e.strip() for e in match["endpoints"].split(",") if e.strip()]
    if not endpoints:
        raise click.ClickException(f'specify endpoints for "{app}"')
    return model, app, endpoints


def _endpoints(details: pb.OfferDetails) -> dict[str, Any]:
    return {e.name: {"interface": e.interface, "role": e.role} for e in details.offer.endpoints}


def _users(details: pb.OfferDetails) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for entry in sorted(details.users, key=lambda e: e.user):
        item: dict[str, Any] = {}
        if entry.display_name:
            item["display-name"] = entry.display_name
        item["access"] = entry.level
        out[entry.user] = item
    return out


def _store(details: pb.OfferDetails) -> str:
    return details.url.partition(":")[0]


@click.command()
@click.argument("args", nargs=-1)
@model_option
def offer(args: tuple[str, ...], model: str | None) -> None:
    """Offer application endpoints to other models: [MODEL.]APP:EP[,EP...] [OFFER-NAME]."""
    if not args:
        raise click.ClickException("an offer must at least specify application endpoint")
    if len(args) > 2:
        extra = ", ".join(f'"{a}"' for a in args[2:])
        raise click.ClickException(f"unrecognized args: [{extra}]")
    model_part, app, endpoints = parse_offer_arg(args[0])
    target = resolve(model_part or model, None)
    ref = require_model(target)
    with gateway(target.controller) as gw:
        reply = gw.cross_model.Offer(
            pb.OfferRequest(
                model=ref,
                application=app,
                endpoints=endpoints,
                offer_name=args[1] if len(args) > 1 else "",
            ),
            metadata=credentials(target.controller),
            timeout=30,
        )
    names = " ".join(e.name for e in reply.offer.offer.endpoints)
    line = f'Application "{app}" endpoints [{names}] available at "{reply.offer.offer.url}"'
    if not reply.created:
        before = " ".join(reply.previous_endpoints)
        line += f" (was [{before}])" if before != names else " (unchanged)"
    click.echo(line, err=True)


@click.command()
@click.argument("name", required=False, default="")
@click.option("--application", default="", help="Only offers of this application.")
@click.option("--interface", default="", help="Only offers with this interface.")
@model_option
@click.option(
    "--format", "fmt", type=click.Choice(["tabular", "summary", "yaml", "json"]), default="tabular"
)
def offers(name: str, application: str, interface: str, model: str | None, fmt: str) -> None:
    """List the model's offers you administer, with their connections and relation ids."""
    target = resolve(model, None)
    ref = require_model(target)
    with gateway(target.controller) as gw:
        reply = gw.cross_model.ListOffers(
            pb.ListOffersRequest(
                model=ref, name=name, application=application, interface=interface
            ),
            metadata=credentials(target.controller),
            timeout=30,
        )
    if fmt in ("yaml", "json"):
        data = {}
        for details in reply.offers:
            o = details.offer
            item: dict[str, Any] = {
                "application": o.application,
                "store": _store(details),
                "charm": o.charm,
                "offer-url": details.url,
                "endpoints": _endpoints(details),
            }
            if o.connections:
                item["connections"] = [
                    {
                        "source-model-uuid": c.source_model_uuid,
                        "username": c.username,
                        "relation-id": c.relation_id,
                        "endpoint": c.endpoint,
                        "status": {
                            "current": c.status,
                            **({"message": c.message} if c.message else {}),
                        },
                        **(
                            {"ingress-subnets": list(c.ingress_subnets)}
                            if c.ingress_subnets
                            else {}
                        ),
                    }
                    for c in o.connections
                ]
            item["users"] = _users(details)
            data[o.name] = item
        print_data(fmt, data)
        return
    if fmt == "summary":
        rows = [
            [
                d.offer.name,
                d.offer.application,
                d.offer.charm,
                f"{d.offer.active_connected_count}/{d.offer.total_connected_count}",
                ", ".join(e.name for e in d.offer.endpoints),
            ]
            for d in reply.offers
        ]
        render.print_tables(
            render.console(),
            [render.table(["Offer", "Application", "Charm", "Connected", "Endpoints"], rows)],
        )
        return
    table_rows: list[list[str]] = []
    for details in reply.offers:
        o = details.offer
        if not o.connections:
            table_rows.append([o.name, "-", "", "", "", "", "", ""])
        ep_by_name = {e.name: e for e in o.endpoints}
        for index, c in enumerate(o.connections):
            ep = ep_by_name.get(c.endpoint)
            table_rows.append(
                [
                    o.name if index == 0 else "",
                    c.username,
                    str(c.relation_id),
                    c.status,
                    c.endpoint,
                    ep.interface if ep else "",
                    ep.role if ep else "",
                    ",".join(c.ingress_subnets),
                ]
            )
    if not table_rows:
        click.echo("No offers to display.", err=True)
        return
    render.print_tables(
        render.console(),
        [
            render.table(
                [
                    "Offer",
                    "User",
                    "Relation ID",
                    "Status",
                    "Endpoint",
                    "Interface",
                    "Role",
                    "Ingress subnets",
                ],
                table_rows,
            )
        ],
    )


@click.command("show-offer")
@click.argument("url", required=False, default="")
@model_option
@click.option("--format", "fmt", type=FORMATS, default="tabular")
def show_offer(url: str, model: str | None, fmt: str) -> None:
    """Show an offer you can read: URL or a bare offer name in the current model."""
    if not url:
        raise click.ClickException("must specify endpoint URL")
    target = resolve(model, None)
    with gateway(target.controller) as gw:
        reply = gw.cross_model.ShowOffer(
            pb.ShowOfferRequest(url=url, model=target.model),
            metadata=credentials(target.controller),
            timeout=30,
        )
    details = reply.offer
    if fmt != "tabular":
        print_data(
            fmt,
            {
                details.url: {
                    "description": details.offer.description,
                    "access": details.access,
                    "endpoints": _endpoints(details),
                    "users": _users(details),
                }
            },
        )
        return
    rows = [
        [
            _store(details) if i == 0 else "",
            details.offer.url if i == 0 else "",
            details.access if i == 0 else "",
            details.offer.description if i == 0 else "",
            e.name,
            e.interface,
            e.role,
        ]
        for i, e in enumerate(details.offer.endpoints)
    ]
    render.print_tables(
        render.console(),
        [
            render.table(
                ["Store", "URL", "Access", "Description", "Endpoint", "Interface", "Role"], rows
            )
        ],
    )


@click.command("find-offers")
@click.argument("url", required=False, default="")
@click.option("--url", "url_option", default="", help="A (partial) offer URL.")
@click.option("--offer", "offer_name", default="", help="Offer name.")
@click.option("--interface", default="", help="Interface name.")
@click.option("--endpoint", default="", help="Endpoint name.")
@click.option("-c", "--controller", "controller", default=None, help="Controller name.")
@click.option("--format", "fmt", type=FORMATS, default="tabular")
def find_offers(
    url: str,
    url_option: str,
    offer_name: str,
    interface: str,
    endpoint: str,
    controller: str | None,
    fmt: str,
) -> None:
    """Find offers you can read across the controller's models."""
    if url and url_option:
        raise click.ClickException("URL term cannot be specified twice")
    # a URL naming a controller asks that controller (`find-offers ctrl2:admin/`)
    named = (url or url_option).partition(":")[0] if ":" in (url or url_option) else ""
    if named and not controller and "/" not in named and "." not in named:
        controller = named
    target = resolve(None, controller)
    with gateway(target.controller) as gw:
        reply = gw.cross_model.FindOffers(
            pb.FindOffersRequest(
                url=url or url_option, offer=offer_name, interface=interface, endpoint=endpoint
            ),
            metadata=credentials(target.controller),
            timeout=30,
        )
    if not reply.offers:
        raise click.ClickException("no matching application offers found")
    if fmt != "tabular":
        print_data(
            fmt,
            {
                d.url: {"access": d.access, "endpoints": _endpoints(d), "users": _users(d)}
                for d in reply.offers
            },
        )
        return
    rows = [
        [
            _store(d),
            d.offer.url,
            d.access,
            ", ".join(f"{e.interface}:{e.name}" for e in d.offer.endpoints),
        ]
        for d in reply.offers
    ]
    render.print_tables(
        render.console(), [render.table(["Store", "URL", "Access", "Interfaces"], rows)]
    )


@click.command("remove-offer")
@click.argument("urls", nargs=-1)
@click.option("--force", is_flag=True, help="Remove the relations using the offers too.")
@click.option("-y", "--no-prompt", "yes", is_flag=True, help="Do not ask for confirmation.")
@model_option
def remove_offer(urls: tuple[str, ...], force: bool, yes: bool, model: str | None) -> None:
    """Remove offers; refused while relations use one, unless --force."""
    if not urls:
        raise click.ClickException("no offers specified")
    target = resolve(model, None)
    if force and not yes:
        click.echo(f"WARNING! This command will remove offers: {', '.join(urls)}", err=True)
        click.echo("This includes all relations to those offers.\n", err=True)
        click.echo("Continue [y/N]? ", err=True, nl=False)
        answer = sys.stdin.readline().strip().lower()
        if not sys.stdin.isatty():
            click.echo(err=True)  # a terminal echoed the answer's newline; a pipe did not
        if answer not in ("y", "yes"):
            raise click.ClickException("offer removal: aborted")
    with gateway(target.controller) as gw:
        gw.cross_model.RemoveOffer(
            pb.RemoveOfferRequest(urls=list(urls), model=target.model, force=force),
            metadata=credentials(target.controller),
            timeout=60,
        )


COMMANDS = (offer, offers, show_offer, find_offers, remove_offer)
ALIASES = {"list-offers": offers}
