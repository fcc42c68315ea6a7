"""`cmr` commands for users and access: add-user, register, passwords, grant, revoke, audit."""

from __future__ import annotations

import base64
import binascii
import json
import sys
from typing import Any

import click

from cli import render, state
from cli.client import credentials, gateway, resolve
from cli.options import FORMATS, controller_option, print_data, read_password
from cmr.gateway.v1 import gateway_pb2 as pb


def registration_string(user: str, secret: str, controller: str, address: str) -> str:
    """Pack what `cmr register` needs: user, secret, controller name and gateway address.

    The string is URL-safe base64 of a JSON object, without padding, so it pastes as one word.
    """
    raw = json.dumps(
        {"user": user, "secret": secret, "controller": controller, "addresses": [address]},
        separators=(",", ":"),
    )
    return base64.urlsafe_b64encode(raw.encode()).decode().rstrip("=")


def parse_registration(text: str) -> dict[str, object]:
    """Unpack a registration string, or explain that it is not one."""
    try:
        raw = base64.urlsafe_b64decode(text.strip() + "=" * (-len(text.strip()) % 4))
        data = json.loads(raw)
    except (binascii.Error, ValueError):
        raise click.ClickException(
            "invalid registration string: copy it whole from cmr add-user"
        ) from None
    if not isinstance(data, dict) or not {"user", "secret", "controller", "addresses"} <= set(
        data
    ):
        raise click.ClickException("invalid registration string: copy it whole from cmr add-user")
    return data


def _new_password(prompt: str) -> str:
    """Ask twice on a terminal; read one line otherwise."""
    password = read_password(prompt)
    if sys.stdin.isatty() and read_password("type the password again") != password:
        raise click.ClickException("passwords do not match")
    return password


@click.command("add-user")
@click.argument("name")
@click.argument("display_name", required=False, default="")
@controller_option
def add_user(name: str, display_name: str, controller: str | None) -> None:
    """Add a user and print the command that registers them."""
    target = resolve(None, controller)
    with gateway(target.controller) as gw:
        reply = gw.users.AddUser(
            pb.AddUserRequest(name=name, display_name=display_name),
            metadata=credentials(target.controller),
            timeout=30,
        )
    code = registration_string(
        reply.user.name, reply.secret, reply.controller, target.controller.address
    )
    click.echo(f'User "{display_name or reply.user.name}" added')
    click.echo(f"Please send this command to {reply.user.name}:")
    click.echo(f"    cmr register {code}")
    click.echo()
    click.echo(
        f'"{reply.user.name}" has not been granted access to any models. '
        'You can use "cmr grant" to grant access.'
    )


@click.command()
@click.argument("registration")
@controller_option
def register(registration: str, controller: str | None) -> None:
    """Register with a controller using the string from add-user; sets your password."""
    data = parse_registration(registration)
    addresses = data["addresses"]
    assert isinstance(addresses, list)  # noqa: S101 - checked by parse_registration
    address = str(addresses[0])
    name = controller or str(data["controller"])
    known = state.controllers()
    if name in known and known[name].address != address:
        raise click.ClickException(
            f'controller "{name}" already exists at {known[name].address}; '
            "choose another name with -c"
        )
    password = _new_password(f"Enter a new password for {data['user']}")
    with gateway(state.Controller(name=name, address=address)) as gw:
        reply = gw.users.Register(
            pb.RegisterRequest(
                user=str(data["user"]), secret=str(data["secret"]), password=password
            ),
            timeout=30,
        )
    state.save_controller(state.Controller(name=name, address=address, uuid=reply.controller_uuid))
    state.save_account(name, state.Account(user=reply.user, token=reply.token))
    click.echo(f'Welcome, {reply.user}. You are now logged into "{name}".', err=True)


@click.command("change-user-password")
@click.argument("user", required=False, default="")
@controller_option
def change_user_password(user: str, controller: str | None) -> None:
    """Change your password, or another user's as a superuser."""
    target = resolve(None, controller)
    password = _new_password("new password")
    with gateway(target.controller) as gw:
        gw.users.ChangeUserPassword(
            pb.ChangeUserPasswordRequest(user=user, password=password),
            metadata=credentials(target.controller),
            timeout=30,
        )
    click.echo(
        "Your password has been changed."
        if not user
        else f'Password for "{user}" has been changed.',
        err=True,
    )


def _set_enabled(user: str, controller: str | None, enabled: bool) -> None:
    target = resolve(None, controller)
    with gateway(target.controller) as gw:
        gw.users.SetUserEnabled(
            pb.SetUserEnabledRequest(user=user, enabled=enabled),
            metadata=credentials(target.controller),
            timeout=30,
        )
    click.echo(f'User "{user}" {"enabled" if enabled else "disabled"}', err=True)


@click.command("disable-user")
@click.argument("user")
@controller_option
def disable_user(user: str, controller: str | None) -> None:
    """Disable a user: they cannot log in until enabled again."""
    _set_enabled(user, controller, False)


@click.command("enable-user")
@click.argument("user")
@controller_option
def enable_user(user: str, controller: str | None) -> None:
    """Enable a disabled user."""
    _set_enabled(user, controller, True)


@click.command()
@click.option("--all", "include_disabled", is_flag=True, help="Include disabled users.")
@controller_option
@click.option("--format", "fmt", type=FORMATS, default="tabular")
def users(include_disabled: bool, controller: str | None, fmt: str) -> None:
    """List the controller's users."""
    target = resolve(None, controller)
    found: list[Any] = []
    with gateway(target.controller) as gw:
        token = ""
        for _ in range(10_000):
            reply = gw.users.ListUsers(
                pb.ListUsersRequest(
                    include_disabled=include_disabled, page_size=1000, page_token=token
                ),
                metadata=credentials(target.controller),
                timeout=30,
            )
            found.extend(reply.users)
            token = reply.next_page_token
            if not token:
                break
    if fmt != "tabular":
        print_data(
            fmt,
            [
                {
                    "user-name": e.user.name,
                    "display-name": e.user.display_name,
                    "access": e.controller_access,
                    "disabled": not e.user.enabled,
                    "date-created": e.user.created_at,
                }
                for e in found
            ],
        )
        return
    rows = [
        [
            e.user.name
            + (
                "*"
                if e.user.name
                == (state.account(target.controller.name) or state.Account(user="")).user
                else ""
            ),
            e.user.display_name,
            e.controller_access,
            e.user.created_at,
            "" if e.user.enabled else "disabled",
        ]
        for e in found
    ]
    out = render.console()
    out.print(f"Controller: {target.controller.name}")
    out.print()
    render.print_tables(
        out, [render.table(["Name", "Display name", "Access", "Date created", "Status"], rows)]
    )


def _change_access(
    grant: bool, user: str, level: str, targets: tuple[str, ...], model: str | None
) -> None:
    target = resolve(model, None)
    refs = list(targets)
    with gateway(target.controller) as gw:
        meta = credentials(target.controller)
        if grant:
            gw.users.Grant(
                pb.GrantRequest(user=user, level=level, targets=refs), metadata=meta, timeout=30
            )
        else:
            gw.users.Revoke(
                pb.RevokeRequest(user=user, level=level, targets=refs), metadata=meta, timeout=30
            )


@click.command()
@click.argument("user")
@click.argument("level")
@click.argument("targets", nargs=-1)
@click.option("-c", "--controller", "controller", default=None, help="Controller name.")
def grant(user: str, level: str, targets: tuple[str, ...], controller: str | None) -> None:
    """Grant LEVEL to USER on offers (URLs) or models; with no target, on the controller."""
    _change_access(True, user, level, targets, f"{controller}:" if controller else None)


@click.command()
@click.argument("user")
@click.argument("level")
@click.argument("targets", nargs=-1)
@click.option("-c", "--controller", "controller", default=None, help="Controller name.")
def revoke(user: str, level: str, targets: tuple[str, ...], controller: str | None) -> None:
    """Revoke LEVEL from USER: they keep the level below it."""
    _change_access(False, user, level, targets, f"{controller}:" if controller else None)


@click.command()
@click.argument("target", required=False, default="")
@controller_option
@click.option("--format", "fmt", type=FORMATS, default="tabular")
def audit(target: str, controller: str | None, fmt: str) -> None:
    """Show the audit log of access changes (all of it for a superuser)."""
    where = resolve(None, controller)
    with gateway(where.controller) as gw:
        reply = gw.users.ListAudit(
            pb.ListAuditRequest(target=target, page_size=1000),
            metadata=credentials(where.controller),
            timeout=30,
        )
    entries = [
        {
            "time": e.time,
            "actor": e.actor,
            "action": e.action,
            "user": e.user,
            "level": e.level,
            "target": e.target.label,
        }
        for e in reply.entries
    ]
    if fmt != "tabular":
        print_data(fmt, entries)
        return
    rows = [
        [e["time"], e["actor"], e["action"], e["user"], e["level"], e["target"]] for e in entries
    ]
    render.print_tables(
        render.console(),
        [render.table(["Time", "Actor", "Action", "User", "Level", "Target"], rows)],
    )


COMMANDS = (
    add_user,
    register,
    change_user_password,
    disable_user,
    enable_user,
    users,
    grant,
    revoke,
    audit,
)
