"""The `cmr` command line: Juju's verbs for a cmr controller, as a client of its gateway."""

from __future__ import annotations

from pathlib import Path
from typing import Any, Final

import click
import grpc

import runtime
from cli import offers, relations, render, saas, state, users
from cli.client import GatewayStubs, credentials, gateway, merge_status, require_model, resolve
from cli.options import (
    FORMATS,
    confirm,
    controller_option,
    model_option,
    print_data,
    read_password,
)
from cmr.gateway.v1 import gateway_pb2 as pb
from kernel import errors
from services.common import config as server_config

CHARMS_DIR: Final = Path(__file__).resolve().parent.parent / "charms"
"""Bundled sample charms, deployable by name (`cmr deploy mysql`)."""


class CmrGroup(click.Group):
    """Gives every failure Juju's form: `ERROR <message>` on stderr and a non-zero exit."""

    def invoke(self, ctx: click.Context) -> Any:
        """Run the command, turning gRPC and usage errors into `ERROR` lines."""
        try:
            return super().invoke(ctx)
        except grpc.RpcError as err:
            details = err.details() if isinstance(err, grpc.Call) else str(err)
            code = err.code() if isinstance(err, grpc.Call) else None
            if code == grpc.StatusCode.UNAVAILABLE and "service at" not in (details or ""):
                details = "cannot connect to the controller: is it running? (cmr bootstrap)"
            click.echo(f"ERROR {details}", err=True)
            ctx.exit(1)
        except errors.CmrError as err:
            click.echo(f"ERROR {err.message}", err=True)
            ctx.exit(1)
        except click.exceptions.Exit:
            raise
        except click.Abort:
            click.echo("ERROR aborted", err=True)
            ctx.exit(1)
        except click.ClickException as err:
            click.echo(f"ERROR {err.format_message()}", err=True)
            ctx.exit(err.exit_code)


@click.group(cls=CmrGroup, context_settings={"help_option_names": ["-h", "--help"]})
def cli() -> None:
    """cmr: cross-model relations and subordinate applications, the Juju way."""


# -- controllers ---------------------------------------------------------------------------


@cli.command()
@click.option("--service", type=click.Choice(server_config.ALL), default=None, help="Run one.")
@click.option("--config", "config_file", type=click.Path(path_type=Path), default=None)
@click.option("--port", type=int, default=None, help="Port of the service (or the gateway).")
@click.option("--data-dir", type=click.Path(path_type=Path), default=None)
@click.option("--host", default=None, help="Address to bind (default 127.0.0.1).")
@click.option("--controller-name", default=None)
@click.option("--bootstrap-password-file", type=click.Path(path_type=Path), default=None)
@click.option("--ready-file", type=click.Path(path_type=Path), default=None, hidden=True)
def serve(
    service: str | None,
    config_file: Path | None,
    port: int | None,
    data_dir: Path | None,
    host: str | None,
    controller_name: str | None,
    bootstrap_password_file: Path | None,
    ready_file: Path | None,
) -> None:
    """Run a controller in the foreground: all five servers, or one with --service."""
    ports = {service or "gateway": port} if port is not None else None
    cfg = server_config.load(
        config_file,
        data_dir=data_dir,
        host=host,
        controller_name=controller_name,
        bootstrap_password_file=bootstrap_password_file,
        ports=ports,
    )
    runtime.serve(cfg, service, ready_file)


@cli.command()
@click.argument("name", default="cmr")
@click.option("--port", type=int, default=17070, show_default=True, help="Gateway port; 0 picks.")
@click.option("--data-dir", type=click.Path(path_type=Path), default=None)
def bootstrap(name: str, port: int, data_dir: Path | None) -> None:
    """Start an embedded controller in the background and log in to it as admin."""
    if name in state.controllers():
        raise click.ClickException(f'controller "{name}" already exists')
    directory = (data_dir or state.data_dir() / "controllers" / name).resolve()
    pid, address, password = runtime.start_background(name=name, data_dir=directory, port=port)
    controller = state.Controller(name=name, address=address, data_dir=str(directory), pid=pid)
    with gateway(controller) as gw:
        reply = gw.session.Login(pb.LoginRequest(user="admin", password=password), timeout=30)
    state.save_controller(
        state.Controller(
            name=name,
            address=address,
            uuid=reply.controller_uuid,
            data_dir=str(directory),
            pid=pid,
        )
    )
    state.save_account(name, state.Account(user=reply.user, token=reply.token))
    state.set_current_model(name, "")
    click.echo(f'Bootstrap complete, controller "{name}" is now available at {address}', err=True)


@cli.command("kill-controller")
@click.argument("name")
@click.option("-y", "--no-prompt", "yes", is_flag=True, help="Do not ask for confirmation.")
def kill_controller(name: str, yes: bool) -> None:
    """Stop an embedded controller started by bootstrap and destroy its data."""
    known = state.controllers()
    if name not in known:
        raise click.ClickException(f'controller "{name}" not found')
    controller = known[name]
    if not controller.pid:
        raise click.ClickException(
            f'controller "{name}" was not started by this client; stop it where it runs'
        )
    confirm(f'This will stop controller "{name}" and destroy all its data. Continue?', yes)
    runtime.stop_process(controller.pid)
    if controller.data_dir:
        runtime.remove_server_files(Path(controller.data_dir))
    state.forget_controller(name)
    click.echo(f'Controller "{name}" destroyed', err=True)


@cli.command()
@click.option("--format", "fmt", type=FORMATS, default="tabular")
def controllers(fmt: str) -> None:
    """List the controllers this client knows."""
    current = state.current_controller()
    known = state.controllers()
    if fmt != "tabular":
        data = {
            "controllers": {
                c.name: {
                    "address": c.address,
                    "uuid": c.uuid,
                    "user": (state.account(c.name) or state.Account(user="")).user,
                    "current-model": state.current_model(c.name),
                }
                for c in known.values()
            },
            "current-controller": current,
        }
        click.echo(
            render.to_json(data) if fmt == "json" else render.to_yaml(data), nl=fmt == "json"
        )
        return
    rows = [
        [
            c.name + ("*" if c.name == current else ""),
            state.current_model(c.name),
            (state.account(c.name) or state.Account(user="")).user,
            c.address,
        ]
        for c in sorted(known.values(), key=lambda c: c.name)
    ]
    render.print_tables(
        render.console(), [render.table(["Controller", "Model", "User", "Address"], rows)]
    )


@cli.command()
@click.argument("target")
def switch(target: str) -> None:
    """Select the current controller and/or model: [CONTROLLER:][MODEL]."""
    known = state.controllers()
    before = state.current_controller()
    old = f"{before}:{state.current_model(before)}" if before else "(none)"
    if ":" in target:
        name, _, model = target.partition(":")
    elif target in known:
        name, model = target, ""
    else:
        name, model = before, target
    if not name or name not in known:
        raise click.ClickException(f'controller "{name or target}" not found')
    if model:
        with gateway(known[name]) as gw:
            who = gw.session.WhoAmI(
                pb.WhoAmIRequest(), metadata=credentials(known[name]), timeout=30
            )
            model = _find_model(gw, known[name], model, who.user)
        state.set_current_model(name, model)
    state.set_current_controller(name)
    click.echo(f"{old} -> {name}:{state.current_model(name)}", err=True)


def _find_model(gw: GatewayStubs, controller: state.Controller, ref: str, user: str) -> str:
    owner, _, name = ref.rpartition("/")
    owner = owner or user
    token = ""
    for _ in range(10_000):
        reply = gw.models.ListModels(
            pb.ListModelsRequest(page_size=1000, page_token=token),
            metadata=credentials(controller),
            timeout=30,
        )
        if any(m.owner == owner and m.name == name for m in reply.models):
            return f"{owner}/{name}"
        token = reply.next_page_token
        if not token:
            break
    raise click.ClickException(f'model "{owner}/{name}" not found')


# -- users -----------------------------------------------------------------------------------


@cli.command()
@click.argument("address", required=False, default=None)
@click.option("-u", "--user", default=None, help="User name (default: the last one used).")
@controller_option
def login(address: str | None, user: str | None, controller: str | None) -> None:
    """Log in to a controller; the password is read from stdin when it is not a terminal.

    With ADDRESS (the gateway's HOST:PORT), log in to a controller this client does not know
    yet and remember it as -c NAME (default: the name the controller reports).
    """
    if address:
        known = state.controllers()
        if controller and controller in known and known[controller].address != address:
            raise click.ClickException(
                f'controller "{controller}" already exists at {known[controller].address}'
            )
        endpoint = state.Controller(name=controller or "", address=address)
        name = user or "admin"
    else:
        endpoint = resolve(None, controller).controller
        acct = state.account(endpoint.name)
        name = user or (acct.user if acct else "") or "admin"
    password = read_password(f"please enter password for {name} on {endpoint.name or address}")
    with gateway(endpoint) as gw:
        reply = gw.session.Login(pb.LoginRequest(user=name, password=password), timeout=30)
    local_name = endpoint.name or reply.controller
    if address:
        state.save_controller(
            state.Controller(name=local_name, address=address, uuid=reply.controller_uuid)
        )
    state.save_account(local_name, state.Account(user=reply.user, token=reply.token))
    state.set_current_controller(local_name)
    click.echo(f'Welcome, {reply.user}. You are now logged into "{local_name}".', err=True)


@cli.command()
@controller_option
def logout(controller: str | None) -> None:
    """End the session with a controller."""
    target = resolve(None, controller)
    acct = state.account(target.controller.name)
    if acct is None or not acct.token:
        raise click.ClickException(f'not logged in to controller "{target.controller.name}"')
    with gateway(target.controller) as gw:
        gw.session.Logout(pb.LogoutRequest(), metadata=credentials(target.controller), timeout=30)
    state.save_account(target.controller.name, state.Account(user=acct.user, token=""))
    click.echo(f'Logged out of controller "{target.controller.name}"', err=True)


@cli.command()
@click.option("--format", "fmt", type=FORMATS, default="tabular")
def whoami(fmt: str) -> None:
    """Show the current controller, model and user."""
    target = resolve(None, None)
    with gateway(target.controller) as gw:
        who = gw.session.WhoAmI(
            pb.WhoAmIRequest(), metadata=credentials(target.controller), timeout=30
        )
    data = {"controller": target.controller.name, "model": target.model, "user": who.user}
    if fmt == "json":
        click.echo(render.to_json(data))
    elif fmt == "yaml":
        click.echo(render.to_yaml(data), nl=False)
    else:
        click.echo(f"Controller:  {data['controller']}\nModel:       {data['model'] or '(none)'}")
        click.echo(f"User:        {data['user']}")


# -- models ----------------------------------------------------------------------------------


@cli.command("add-model")
@click.argument("name")
@controller_option
def add_model(name: str, controller: str | None) -> None:
    """Add a model owned by you and make it current."""
    target = resolve(None, controller)
    with gateway(target.controller) as gw:
        reply = gw.models.AddModel(
            pb.AddModelRequest(name=name), metadata=credentials(target.controller), timeout=30
        )
    state.set_current_model(target.controller.name, f"{reply.model.owner}/{reply.model.name}")
    click.echo(f"Added '{reply.model.name}' model for user '{reply.model.owner}'", err=True)


@cli.command()
@controller_option
@click.option("--format", "fmt", type=FORMATS, default="tabular")
def models(controller: str | None, fmt: str) -> None:
    """List the models you can see."""
    target = resolve(None, controller)
    found: list[Any] = []
    token = ""
    with gateway(target.controller) as gw:
        for _ in range(10_000):
            reply = gw.models.ListModels(
                pb.ListModelsRequest(page_size=1000, page_token=token),
                metadata=credentials(target.controller),
                timeout=30,
            )
            found.extend(reply.models)
            token = reply.next_page_token
            if not token:
                break
    current = state.current_model(target.controller.name)
    if fmt != "tabular":
        data = {
            "models": [
                {
                    "name": f"{m.owner}/{m.name}",
                    "short-name": m.name,
                    "model-uuid": m.uuid,
                    "owner": m.owner,
                    "type": "iaas",
                    "life": m.life,
                }
                for m in found
            ],
            "current-model": current,
        }
        click.echo(
            render.to_json(data) if fmt == "json" else render.to_yaml(data), nl=fmt == "json"
        )
        return
    rows = [
        [
            f"{m.owner}/{m.name}" + ("*" if f"{m.owner}/{m.name}" == current else ""),
            "iaas",
            "available" if m.life == "alive" else m.life,
            m.address_pool,
        ]
        for m in found
    ]
    out = render.console()
    out.print(f"Controller: {target.controller.name}")
    out.print()
    render.print_tables(out, [render.table(["Model", "Type", "Status", "Address pool"], rows)])


@cli.command("destroy-model")
@click.argument("name")
@click.option("-y", "--no-prompt", "yes", is_flag=True, help="Do not ask for confirmation.")
@controller_option
def destroy_model(name: str, yes: bool, controller: str | None) -> None:
    """Destroy a model and everything in it."""
    target = resolve(name, controller)
    model = require_model(target)
    confirm(f'This will destroy model "{model}" and everything in it. Continue?', yes)
    with gateway(target.controller) as gw:
        gw.models.DestroyModel(
            pb.DestroyModelRequest(model=model),
            metadata=credentials(target.controller),
            timeout=30,
        )
    current = state.current_model(target.controller.name)
    if current and (current == model or current.split("/", 1)[-1] == model):
        state.set_current_model(target.controller.name, "")
    click.echo(f'Destroyed model "{model}"', err=True)


@cli.command("model-config")
@click.argument("settings", nargs=-1)
@model_option
@click.option("--format", "fmt", type=FORMATS, default="tabular")
def model_config(settings: tuple[str, ...], model: str | None, fmt: str) -> None:
    """Show model configuration, or set it with KEY=VALUE arguments."""
    target = resolve(model, None)
    ref = require_model(target)
    assignments = [s for s in settings if "=" in s]
    if assignments and len(assignments) != len(settings):
        raise click.ClickException("cannot set and retrieve model values simultaneously")
    with gateway(target.controller) as gw:
        meta = credentials(target.controller)
        if assignments:
            values = dict(s.split("=", 1) for s in assignments)
            gw.models.SetModelConfig(
                pb.SetModelConfigRequest(model=ref, config=values), metadata=meta, timeout=30
            )
            return
        reply = gw.models.GetModelConfig(
            pb.GetModelConfigRequest(model=ref, keys=list(settings)), metadata=meta, timeout=30
        )
    config = dict(sorted(reply.config.items()))
    if len(settings) == 1 and fmt == "tabular":
        click.echo(config[settings[0]])
    elif fmt == "json":
        click.echo(render.to_json(config))
    elif fmt == "yaml":
        click.echo(render.to_yaml(config), nl=False)
    else:
        rows = [[k, v] for k, v in config.items()]
        render.print_tables(render.console(), [render.table(["Attribute", "Value"], rows)])


# -- applications, units, machines -------------------------------------------------------------


def _charm_metadata(charm: str) -> str:
    """Read a charm's metadata.yaml from a directory, a file, or a bundled sample's name."""
    path = Path(charm).expanduser()
    candidates = [path / "metadata.yaml", path] if path.exists() else []
    if not candidates and "/" not in charm:
        candidates = [CHARMS_DIR / charm / "metadata.yaml"]
    for candidate in candidates:
        if candidate.is_file():
            try:
                return candidate.read_text(encoding="utf-8")
            except (OSError, UnicodeDecodeError) as err:
                raise click.ClickException(f"cannot read {candidate}: {err}") from None
    samples = ", ".join(sorted(p.name for p in CHARMS_DIR.iterdir() if p.is_dir()))
    raise click.ClickException(
        f'charm "{charm}" not found: give a directory holding metadata.yaml '
        f"or a bundled sample ({samples})"
    )


def _placements(to: str | None) -> list[str]:
    return [p.strip() for p in to.split(",")] if to else []


@cli.command()
@click.argument("charm")
@click.argument("application", required=False, default="")
@click.option("-n", "--num-units", type=int, default=None, help="Number of units.")
@click.option("--to", default=None, help="Machine ids, comma-separated, one per unit.")
@model_option
def deploy(
    charm: str, application: str, num_units: int | None, to: str | None, model: str | None
) -> None:
    """Deploy a charm (a directory holding metadata.yaml, or a bundled sample's name)."""
    target = resolve(model, None)
    ref = require_model(target)
    metadata = _charm_metadata(charm)
    if num_units is not None and num_units < 0:
        raise click.ClickException(f"--num-units must be a positive number, got {num_units}")
    with gateway(target.controller) as gw:
        reply = gw.models.Deploy(
            pb.DeployRequest(
                model=ref,
                metadata_yaml=metadata,
                application=application,
                num_units=num_units or 0,
                to=_placements(to),
            ),
            metadata=credentials(target.controller),
            timeout=60,
        )
    app = reply.application
    charm_name, revision = app.charm.name, app.charm.revision
    click.echo(
        f'Deployed "{app.name}" from local charm "{charm_name}", revision {revision}', err=True
    )


@cli.command("add-unit")
@click.argument("application")
@click.option("-n", "--num-units", type=int, default=1, show_default=True)
@click.option("--to", default=None, help="Machine ids, comma-separated, one per unit.")
@model_option
def add_unit(application: str, num_units: int, to: str | None, model: str | None) -> None:
    """Add units to an application."""
    target = resolve(model, None)
    ref = require_model(target)
    if num_units < 1:
        raise click.ClickException(f"--num-units must be a positive number, got {num_units}")
    with gateway(target.controller) as gw:
        reply = gw.models.AddUnit(
            pb.AddUnitRequest(
                model=ref, application=application, num_units=num_units, to=_placements(to)
            ),
            metadata=credentials(target.controller),
            timeout=60,
        )
    for unit in reply.units:
        click.echo(f"added unit {unit.name} on machine {unit.machine}", err=True)


@cli.command("remove-unit")
@click.argument("units", nargs=-1, required=True)
@model_option
def remove_unit(units: tuple[str, ...], model: str | None) -> None:
    """Remove units."""
    target = resolve(model, None)
    ref = require_model(target)
    with gateway(target.controller) as gw:
        gw.models.RemoveUnit(
            pb.RemoveUnitRequest(model=ref, units=list(units)),
            metadata=credentials(target.controller),
            timeout=60,
        )
    for unit in units:
        click.echo(f"removing unit {unit}", err=True)


@cli.command("remove-application")
@click.argument("application")
@click.option("--force", is_flag=True, help="Remove even where other rules would refuse.")
@model_option
def remove_application(application: str, force: bool, model: str | None) -> None:
    """Remove an application and its units."""
    target = resolve(model, None)
    ref = require_model(target)
    with gateway(target.controller) as gw:
        reply = gw.models.RemoveApplication(
            pb.RemoveApplicationRequest(model=ref, application=application, force=force),
            metadata=credentials(target.controller),
            timeout=60,
        )
    click.echo(f"removing application {application}", err=True)
    for unit in reply.removed_units:
        click.echo(f"- will remove unit {unit}", err=True)


@cli.command("add-machine")
@click.option("-n", "count", type=int, default=1, show_default=True, help="Number of machines.")
@model_option
def add_machine(count: int, model: str | None) -> None:
    """Add empty machines."""
    target = resolve(model, None)
    ref = require_model(target)
    if count < 1:
        raise click.ClickException(f"-n must be a positive number, got {count}")
    with gateway(target.controller) as gw:
        reply = gw.models.AddMachine(
            pb.AddMachineRequest(model=ref, count=count),
            metadata=credentials(target.controller),
            timeout=60,
        )
    for machine in reply.machines:
        click.echo(f"created machine {machine.id}", err=True)


@cli.command("remove-machine")
@click.argument("machines", nargs=-1, required=True)
@click.option("--force", is_flag=True, help="Remove the units on them too.")
@model_option
def remove_machine(machines: tuple[str, ...], force: bool, model: str | None) -> None:
    """Remove machines."""
    target = resolve(model, None)
    ref = require_model(target)
    with gateway(target.controller) as gw:
        gw.models.RemoveMachine(
            pb.RemoveMachineRequest(model=ref, machines=list(machines), force=force),
            metadata=credentials(target.controller),
            timeout=60,
        )
    for machine in machines:
        click.echo(f"removing machine {machine}", err=True)


# -- status ----------------------------------------------------------------------------------


@cli.command()
@click.argument("patterns", nargs=-1)
@model_option
@click.option("--format", "fmt", type=FORMATS, default="tabular")
@click.option("--relations", "--integrations", "relations", is_flag=True, help="Show relations.")
def status(patterns: tuple[str, ...], model: str | None, fmt: str, relations: bool) -> None:
    """Show the status of a model, or of some applications and units: [APP|UNIT ...]."""
    target = resolve(model, None)
    ref = require_model(target)
    with gateway(target.controller) as gw:
        reply = merge_status(
            gw.models.StreamStatus(
                pb.StreamStatusRequest(model=ref, patterns=patterns),
                metadata=credentials(target.controller),
                timeout=300,
            )
        )
    if fmt == "tabular":
        render.print_tables(render.console(), render.status_tables(reply, relations=relations))
    else:
        print_data(fmt, render.status_dict(reply, relations=relations))


for _command in (*users.COMMANDS, *offers.COMMANDS, *relations.COMMANDS, *saas.COMMANDS):
    cli.add_command(_command)
for _alias, _command in {**offers.ALIASES, **relations.ALIASES, **saas.ALIASES}.items():
    cli.add_command(_command, _alias)


def main() -> None:
    """Entry point of the `cmr` console script."""
    cli(prog_name="cmr")


if __name__ == "__main__":
    main()
