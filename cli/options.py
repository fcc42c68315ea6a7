"""Options and prompts shared by the `cmr` commands."""

from __future__ import annotations

import sys
from typing import Any, Final

import click

from cli import render

FORMATS: Final = click.Choice(["tabular", "yaml", "json"])


def model_option(fn: Any) -> Any:
    """Add `-m [CONTROLLER:][OWNER/]MODEL`."""
    return click.option(
        "-m", "--model", "model", default=None, help="[CONTROLLER:][OWNER/]MODEL to act on."
    )(fn)


def controller_option(fn: Any) -> Any:
    """Add `-c CONTROLLER`."""
    return click.option("-c", "--controller", "controller", default=None, help="Controller name.")(
        fn
    )


def read_password(prompt: str) -> str:
    """Read a password: from a prompt on a terminal, else one line of standard input."""
    if sys.stdin.isatty():
        return str(click.prompt(prompt, hide_input=True))
    line = sys.stdin.readline()
    password = line.rstrip("\n")
    if not password:
        raise click.ClickException("no password given on standard input")
    return password


def confirm(question: str, yes: bool) -> None:
    """Ask a yes/no question on stderr unless `yes`; anything but yes aborts."""
    if yes:
        return
    if not click.confirm(question, default=False, err=True):
        raise click.ClickException("aborted")


def print_data(fmt: str, data: Any) -> None:
    """Print machine-readable output: JSON on one line, or YAML in insertion order."""
    if fmt == "json":
        click.echo(render.to_json(data))
    else:
        click.echo(render.to_yaml(data), nl=False)
