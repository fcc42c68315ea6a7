"""The load itself: N `grpc.aio` clients calling a weighted mix of operations until a deadline.

Each client is an asyncio task with its own channel, and each channel its own TCP connection
(a local subchannel pool; by default gRPC would let identical channels share one), so N
clients look like N independent callers rather than N streams multiplexed on one HTTP/2
connection. Connections are made, and the gateway session opened, before the clock starts.
A call runs with the full per-call timeout even near the deadline, so the last calls are not
cut short; the elapsed time counts until the last one ends.
"""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import random
import resource
import time
from collections.abc import Mapping
from typing import Final

from grpc import aio

from cmr.gateway.v1 import gateway_pb2, gateway_pb2_grpc
from load.mix import Mix, MixError
from load.ops import OPERATIONS, Invoke, Params, missing_params, needs_session
from load.stats import OK, Recorder, Summary, summarize
from load.target import check_loopback

MAX_CLIENTS: Final = 1024
MAX_DURATION_S: Final = 600.0
CHANNEL_OPTIONS: Final = (("grpc.use_local_subchannel_pool", 1),)


class LoadError(Exception):
    """The run could not start: bad settings, no server, or a refused login."""


@dataclasses.dataclass(frozen=True)
class LoadConfig:
    """Everything one run needs."""

    target: str
    service: str
    clients: int
    duration_s: float
    mix: Mapping[str, int] = dataclasses.field(default_factory=lambda: {"ping": 1})
    params: Params = dataclasses.field(default_factory=Params)
    """Operation targets (`model`, `offer`, `model_uuid`); the session metadata is added here."""
    user: str = "admin"
    password: str | None = None
    timeout_s: float = 5.0
    seed: int = 0


def check_config(cfg: LoadConfig) -> str:
    """Check a run's settings; return the normalized target. LoadError says what is wrong."""
    try:
        target = check_loopback(cfg.target)
    except ValueError as err:
        raise LoadError(str(err)) from err
    if cfg.service not in OPERATIONS:
        raise LoadError(f"unknown service {cfg.service!r}; valid: {', '.join(OPERATIONS)}")
    if not 1 <= cfg.clients <= MAX_CLIENTS:
        raise LoadError(f"clients must be from 1 to {MAX_CLIENTS}, got {cfg.clients}")
    if not 0 < cfg.duration_s <= MAX_DURATION_S:
        raise LoadError(f"duration must be > 0 and <= {MAX_DURATION_S:g} s, got {cfg.duration_s}")
    if not cfg.timeout_s > 0:
        raise LoadError(f"timeout must be > 0 s, got {cfg.timeout_s}")
    unknown = [name for name in cfg.mix if name not in OPERATIONS[cfg.service]]
    if unknown:
        valid = ", ".join(OPERATIONS[cfg.service])
        raise LoadError(
            f"unknown operation {unknown[0]!r} for service {cfg.service}; valid: {valid}"
        )
    try:
        Mix.of(cfg.mix)
    except MixError as err:
        raise LoadError(str(err)) from err
    missing = missing_params(cfg.service, cfg.mix, cfg.params)
    if missing:
        raise LoadError(f"missing option {'; '.join(missing)}")
    if needs_session(cfg.service, cfg.mix) and cfg.password is None:
        needing = [name for name in cfg.mix if OPERATIONS[cfg.service][name].auth]
        raise LoadError(
            f"operation {', '.join(needing)} needs a session: give --password-file "
            f"(the password of --user {cfg.user})"
        )
    return target


def _raise_fd_limit(wanted: int) -> None:
    """Raise the soft open-files limit towards `wanted` (one socket per client), if allowed."""
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if soft != resource.RLIM_INFINITY and soft < wanted:
        new = wanted if hard == resource.RLIM_INFINITY else min(wanted, hard)
        with contextlib.suppress(ValueError, OSError):  # best effort: the run reports failures
            resource.setrlimit(resource.RLIMIT_NOFILE, (new, hard))


async def _ready(channel: aio.Channel, target: str, timeout_s: float) -> None:
    try:
        await asyncio.wait_for(channel.channel_ready(), timeout_s)
    except TimeoutError as err:
        raise LoadError(f"no server answers at {target} (waited {timeout_s:g} s)") from err


async def _login(channel: aio.Channel, cfg: LoadConfig) -> str:
    stub = gateway_pb2_grpc.SessionServiceStub(channel)
    request = gateway_pb2.LoginRequest(user=cfg.user, password=cfg.password or "")
    try:
        response = await stub.Login(request, timeout=cfg.timeout_s)
    except aio.AioRpcError as err:
        raise LoadError(f"cannot log in as {cfg.user}: {err.details()}") from err
    return response.token


async def _client(
    invokes: Mapping[str, Invoke],
    mix: Mix,
    rng: random.Random,
    deadline: float,
    timeout_s: float,
    recorder: Recorder,
) -> None:
    """Call operations one after another until the deadline, recording each."""
    while time.monotonic() < deadline:
        name = mix.pick(rng)
        start = time.perf_counter()
        try:
            await invokes[name](timeout_s)
        except aio.AioRpcError as err:
            code = err.code().name
        else:
            code = OK
        recorder.record(name, (time.perf_counter() - start) * 1000.0, code)


async def run_load(cfg: LoadConfig) -> Summary:
    """Run the load described by `cfg` and return its report.

    LoadError before any load when the settings are bad, no server answers within the
    per-call timeout, or the login is refused. Failed calls are recorded, not raised.
    """
    target = check_config(cfg)
    mix = Mix.of(cfg.mix)
    _raise_fd_limit(cfg.clients + 64)
    channels = [aio.insecure_channel(target, options=CHANNEL_OPTIONS) for _ in range(cfg.clients)]
    try:
        await _ready(channels[0], target, cfg.timeout_s)
        params = cfg.params
        if needs_session(cfg.service, cfg.mix):
            token = await _login(channels[0], cfg)
            params = dataclasses.replace(params, metadata=(("authorization", f"Bearer {token}"),))
        await asyncio.gather(*(_ready(ch, target, cfg.timeout_s) for ch in channels[1:]))
        operations = OPERATIONS[cfg.service]
        seeds = random.Random(cfg.seed)  # noqa: S311 - picks operations, not secrets
        recorder = Recorder()
        clients = []
        for channel in channels:
            invokes = {name: operations[name].build(channel, params) for name in mix.names}
            rng = random.Random(seeds.getrandbits(64))  # noqa: S311 - likewise
            clients.append((invokes, rng))
        start = time.monotonic()
        deadline = start + cfg.duration_s
        await asyncio.gather(
            *(
                _client(invokes, mix, rng, deadline, cfg.timeout_s, recorder)
                for invokes, rng in clients
            )
        )
        elapsed = time.monotonic() - start
    finally:
        await asyncio.gather(*(channel.close(None) for channel in channels))
    return summarize(recorder.ops, elapsed, mix.names)
