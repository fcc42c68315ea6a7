"""The `cmr-load` command: bounded, loopback-only load against a controller or one service.

Usage errors (bad target, bounds, mix, missing options) are click usage errors (exit 2).
A run that cannot start (no server, login refused) prints `ERROR <message>` on stderr and
exits 1; so does a run in which no call succeeded. Otherwise it exits 0, failed calls being
reported by status code rather than fatal.
"""

from __future__ import annotations

import asyncio
import json
from pathlib import Path

import click

from load.driver import MAX_CLIENTS, MAX_DURATION_S, LoadConfig, LoadError, check_config, run_load
from load.mix import DEFAULT_MIX, MixError, parse_mix
from load.ops import OPERATIONS, SERVICES, Params
from load.stats import format_table, to_dict
from load.target import TargetError, check_loopback


def _target(ctx: click.Context, param: click.Parameter, value: str) -> str:
    try:
        check_loopback(value)
    except TargetError as err:
        raise click.BadParameter(str(err), ctx, param) from err
    return value


def _mix_help() -> str:
    ops = "; ".join(f"{service}: {', '.join(ops)}" for service, ops in OPERATIONS.items())
    return f"Operations and weights, NAME=WEIGHT,... (default {DEFAULT_MIX}). By service: {ops}."


def _read_password(path: Path) -> str:
    lines = path.read_text().splitlines()
    password = lines[0] if lines else ""
    if not password:
        raise click.BadParameter(f"{path} holds no password", param_hint="'--password-file'")
    return password


@click.command(context_settings={"help_option_names": ["-h", "--help"]})
@click.option(
    "--target",
    required=True,
    callback=_target,
    help="Server address HOST:PORT; loopback only (localhost, 127.0.0.0/8, [::1]).",
)
@click.option("--service", type=click.Choice(SERVICES), default="gateway", show_default=True)
@click.option(
    "--clients",
    type=click.IntRange(1, MAX_CLIENTS),
    default=16,
    show_default=True,
    help="Concurrent clients, each with its own channel and connection.",
)
@click.option(
    "--duration",
    type=click.FloatRange(0, MAX_DURATION_S, min_open=True),
    default=10.0,
    show_default=True,
    help="Seconds of load.",
)
@click.option("--mix", "mix_text", default=DEFAULT_MIX, help=_mix_help())
@click.option("--user", default="admin", show_default=True, help="Gateway user to log in as.")
@click.option(
    "--password-file",
    type=click.Path(exists=True, dir_okay=False, path_type=Path),
    default=None,
    help="File whose first line is the user's password (gateway operations but ping).",
)
@click.option("--model", default="", help="Model for `status`, [owner/]name.")
@click.option("--offer", default="", help="Offer URL for `show-offer`.")
@click.option("--model-uuid", default="", help="Model UUID for get-model-status, list-relations.")
@click.option(
    "--timeout",
    type=click.FloatRange(0, 60, min_open=True),
    default=5.0,
    show_default=True,
    help="Per-call timeout in seconds.",
)
@click.option("--seed", type=int, default=0, show_default=True, help="Seed of the op choice.")
@click.option(
    "--json",
    "json_out",
    type=click.Path(dir_okay=False, writable=True, path_type=Path),
    default=None,
    help="Also write the report as JSON to this file.",
)
def cmr_load(
    target: str,
    service: str,
    clients: int,
    duration: float,
    mix_text: str,
    user: str,
    password_file: Path | None,
    model: str,
    offer: str,
    model_uuid: str,
    timeout: float,
    seed: int,
    json_out: Path | None,
) -> None:
    """Generate load on a cmr gateway or service and report QPS and latency per operation."""
    try:
        mix = parse_mix(mix_text, service)
    except MixError as err:
        raise click.BadParameter(str(err), param_hint="'--mix'") from err
    cfg = LoadConfig(
        target=target,
        service=service,
        clients=clients,
        duration_s=duration,
        mix=mix,
        params=Params(model=model, offer=offer, model_uuid=model_uuid),
        user=user,
        password=_read_password(password_file) if password_file is not None else None,
        timeout_s=timeout,
        seed=seed,
    )
    try:
        address = check_config(cfg)
    except LoadError as err:
        raise click.UsageError(str(err)) from err
    try:
        summary = asyncio.run(run_load(cfg))
    except LoadError as err:
        click.echo(f"ERROR {err}", err=True)
        raise click.exceptions.Exit(1) from err
    click.echo(
        f"{service} at {address}: {clients} clients, {duration:g} s "
        f"(elapsed {summary.elapsed_s:.2f} s), mix {mix_text}"
    )
    click.echo(format_table(summary), nl=False)
    if json_out is not None:
        run = {
            "target": address,
            "service": service,
            "clients": clients,
            "duration_s": duration,
            "timeout_s": timeout,
            "seed": seed,
            "mix": mix,
        }
        json_out.write_text(json.dumps(to_dict(summary, run), indent=2) + "\n")
    if summary.total.ok == 0:
        codes = ", ".join(f"{code}={n}" for code, n in summary.total.errors.items())
        click.echo(f"ERROR no call succeeded ({codes or 'no calls made'})", err=True)
        raise click.exceptions.Exit(1)


def main() -> None:
    """Entry point of the `cmr-load` console script."""
    cmr_load(prog_name="cmr-load")


if __name__ == "__main__":
    main()
