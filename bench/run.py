"""`make bench`: the project's speed targets, each a ratio measured in one run.

Every target compares an operation with an empty unary RPC (`Ping`) to the same kind of server,
measured in the same run, on the same machine, through the same client; P4 compares status
with a raw in-process SQLite read of the same rows. Absolute timings are printed for context
only. The run is serial: warm-up first, at least 2,000 sequential calls for each latency, at
least 7 repetitions for each size.

The controller runs in this process (all five servers, port 0, a temporary data directory), so
that RPCs and SQL statements can be counted (P5): internal RPCs at the gateway's peer calls,
statements with SQLite's trace callback on every store's connection. P10 loads one service, so
it runs that service alone in its own process (`cmr serve --service placement`), as a user
load-testing it would.

Output: a table (target, measured, limit, pass/fail) and JSON (`--json`, default
`bench/results.json`). The exit status is non-zero when a target fails.
"""

from __future__ import annotations

import argparse
import json
import math
import secrets
import socket
import sqlite3
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any, Final, TypeVar

import grpc

import runtime
from cli.client import GatewayStubs, merge_status
from cmr.access.v1 import access_pb2, access_pb2_grpc
from cmr.gateway.v1 import gateway_pb2 as pb
from cmr.gateway.v1 import gateway_pb2_grpc
from cmr.placement.v1 import placement_pb2, placement_pb2_grpc
from cmr.relations.v1 import relations_pb2, relations_pb2_grpc
from gateway import peers as gateway_peers
from gateway.cache import latest_watchers
from gateway.resolve import offer_target
from services.common import db as common_db
from services.common.config import DEFAULT_PORTS, Config
from services.common.server import CHANNEL_OPTIONS, Built

ROOT: Final = Path(__file__).resolve().parent.parent
CHARMS: Final = ROOT / "charms"
T = TypeVar("T")


# -- counting ---------------------------------------------------------------------------------


@dataclass
class Counts:
    """Internal RPCs made by the gateway and SQL statements run by every store."""

    rpcs: int = 0
    statements: int = 0
    lock: threading.Lock = field(default_factory=threading.Lock)

    def rpc(self) -> None:
        """Count one internal RPC."""
        with self.lock:
            self.rpcs += 1

    def statement(self, sql: str) -> None:
        """Count one SQL statement (SQLite's trace callback).

        The change feeds' polling (`outbox`, `feed_cursors`) runs all the time, whatever is
        asked; it is left out, so the count is what requests and reactors do.
        """
        if "outbox" in sql or "feed_cursors" in sql:
            return
        with self.lock:
            self.statements += 1

    def snapshot(self) -> tuple[int, int]:
        """RPCs and statements so far."""
        with self.lock:
            return self.rpcs, self.statements


COUNTS: Final = Counts()


def instrument() -> None:
    """Count every store's SQL statements and every internal RPC the gateway makes."""
    opened = common_db.SqliteStore.__init__

    def traced(self: common_db.SqliteStore, *args: Any, **kwargs: Any) -> None:
        opened(self, *args, **kwargs)
        self.engine.trace(COUNTS.statement)

    common_db.SqliteStore.__init__ = traced  # type: ignore[method-assign]
    called = gateway_peers.Peers.call

    def counted(
        self: gateway_peers.Peers, service: str, fn: Callable[[], T], *, changes: bool = True
    ) -> T:
        COUNTS.rpc()
        return called(self, service, fn, changes=changes)

    gateway_peers.Peers.call = counted  # type: ignore[method-assign]


# -- measuring --------------------------------------------------------------------------------


REACTORS: Final = (("relations", "placement"), ("relations", "access"), ("placement", "relations"))
"""(follower, source) of every reactor."""


def settle(bench: Bench, limit_s: float = 300.0) -> None:
    """Wait until the reactors have caught up, then until the stores are quiet (bounded).

    Each reactor's `Sync` is asked to reach its source's newest event (the `head` of a
    `from_latest` Watch); then no store may run a statement for 0.3 s.
    """
    deadline = time.perf_counter() + limit_s
    ports = {b.context: b.port for b in bench.built}
    watch = latest_watchers()
    for follower, source in REACTORS:
        with grpc.insecure_channel(f"127.0.0.1:{ports[source]}") as channel:
            stream = watch[source](channel)
            head = next(iter(stream)).head
            stream.cancel()  # type: ignore[attr-defined]
        with grpc.insecure_channel(f"127.0.0.1:{ports[follower]}") as channel:
            while True:
                try:
                    _sync(channel, follower, source, head)
                    break
                except grpc.RpcError:
                    if time.perf_counter() > deadline:
                        raise
    last = COUNTS.snapshot()
    while time.perf_counter() < deadline:
        time.sleep(0.3)
        now = COUNTS.snapshot()
        if now[1] == last[1]:
            return
        last = now


def _sync(channel: grpc.Channel, follower: str, source: str, sequence: int) -> None:
    """Wait until `follower`'s reactor on `source` has applied `sequence`."""
    if follower == "relations":
        relations_pb2_grpc.RelationServiceStub(channel).Sync(
            relations_pb2.SyncRequest(source=source, sequence=sequence), timeout=35
        )
    else:
        placement_pb2_grpc.PlacementServiceStub(channel).Sync(
            placement_pb2.SyncRequest(source=source, sequence=sequence), timeout=35
        )


def percentile(values: Sequence[float], q: float) -> float:
    """Nearest-rank percentile of `values` (q in 0..100)."""
    ordered = sorted(values)
    rank = max(1, math.ceil(q / 100 * len(ordered)))
    return ordered[rank - 1]


def latencies(call: Callable[[], object], count: int, warmup: int) -> list[float]:
    """Milliseconds of `count` sequential calls, after `warmup` unmeasured ones."""
    for _ in range(warmup):
        call()
    out = []
    for _ in range(count):
        start = time.perf_counter()
        call()
        out.append((time.perf_counter() - start) * 1000)
    return out


def throughput(call: Callable[[], object], clients: int, seconds: float) -> tuple[float, int]:
    """Calls per second of `clients` threads calling for `seconds`; and the failures."""
    stop = time.perf_counter() + seconds
    done = [0] * clients
    failed = [0] * clients

    def worker(i: int) -> None:
        while time.perf_counter() < stop:
            try:
                call()
                done[i] += 1
            except grpc.RpcError:
                failed[i] += 1

    threads = [threading.Thread(target=worker, args=(i,)) for i in range(clients)]
    begin = time.perf_counter()
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    return sum(done) / (time.perf_counter() - begin), sum(failed)


def fitted_exponent(small: float, large: float, ratio: float) -> float:
    """The exponent k of time ~ size^k between two sizes `ratio` apart."""
    return math.log(large / small) / math.log(ratio)


@dataclass
class Result:
    """One target's verdict."""

    target: str
    description: str
    measured: float
    limit: float
    higher_is_better: bool = False
    detail: str = ""

    @property
    def passed(self) -> bool:
        """Whether the measurement meets the limit."""
        return (
            self.measured >= self.limit if self.higher_is_better else self.measured <= self.limit
        )


@dataclass
class Note:
    """A context row: measured in the same run to explain a target, with no verdict."""

    target: str
    description: str
    measured: float


# -- the controller under test ------------------------------------------------------------------


@dataclass
class Bench:
    """A running controller and an admin session on it."""

    built: list[Built]
    gateway: GatewayStubs
    auth: tuple[tuple[str, str], ...]
    data: Path
    address: str

    def call(self, method: Callable[..., T], request: object) -> T:
        """Call the gateway as admin."""
        return method(request, metadata=self.auth, timeout=300)


@contextmanager
def controller(data: Path) -> Iterator[Bench]:
    """An embedded controller in this process, with an admin session."""
    password = secrets.token_urlsafe(12)
    (data / "admin-password").write_text(password + "\n")
    cfg = Config(
        data_dir=data,
        controller_name="bench",
        bootstrap_password_file=data / "admin-password",
        ports=dict.fromkeys(DEFAULT_PORTS, 0),
        reconcile_seconds=0,
    )
    built = runtime.build_embedded(cfg)
    runtime.start_all(built)
    address = f"127.0.0.1:{built[-1].port}"
    channel = grpc.insecure_channel(address, options=CHANNEL_OPTIONS)
    try:
        stubs = GatewayStubs.over(channel)
        login = pb.LoginRequest(user="admin", password=password)
        token = stubs.session.Login(login, timeout=30).token
        yield Bench(
            built=built,
            gateway=stubs,
            auth=(("authorization", f"Bearer {token}"),),
            data=data,
            address=address,
        )
    finally:
        channel.close()
        for one in reversed(built):
            one.stop(None)


def _charm(name: str) -> str:  # the bundled sample charm's metadata
    return (CHARMS / name / "metadata.yaml").read_text()


def deploy(bench: Bench, model: str, charm: str, units: int, name: str = "") -> None:
    """Deploy a bundled charm with units."""
    bench.call(
        bench.gateway.models.Deploy,
        pb.DeployRequest(
            model=model, metadata_yaml=_charm(charm), application=name, num_units=units
        ),
    )


def big_model(bench: Bench, name: str, units: int) -> None:
    """A model with `units` principal units and as many subordinate units."""
    bench.call(bench.gateway.models.AddModel, pb.AddModelRequest(name=name))
    deploy(bench, name, "mysql", units)
    deploy(bench, name, "logging", 0)
    bench.call(
        bench.gateway.models.AddRelation, pb.AddRelationRequest(model=name, a="logging", b="mysql")
    )


# -- the targets --------------------------------------------------------------------------------


def run(quick: bool) -> tuple[list[Result], list[Note], dict[str, Any]]:
    """Measure every target; return the verdicts, the context rows and the raw numbers."""
    n = 300 if quick else 2000
    warm = 50 if quick else 200
    reps = 7
    seconds = 1.0 if quick else 3.0
    sizes = (200, 800, 1600) if quick else (1000, 10000, 16000)
    biggest = 2000 if quick else 40000
    raw: dict[str, Any] = {}
    results: list[Result] = []
    notes: list[Note] = []
    with tempfile.TemporaryDirectory(prefix="cmr-bench-") as tmp, controller(Path(tmp)) as b:
        ping = latencies(lambda: b.gateway.session.Ping(pb.PingRequest(), timeout=10), n, warm)
        ping50 = statistics.median(ping)
        raw["ping_ms"] = {"p50": ping50, "p99": percentile(ping, 99)}

        b.call(b.gateway.models.AddModel, pb.AddModelRequest(name="offering"))
        deploy(b, "offering", "mysql", 1)
        b.call(
            b.gateway.cross_model.Offer,
            pb.OfferRequest(model="offering", application="mysql", endpoints=["db"]),
        )
        url = "admin/offering.mysql"

        # P1: a point read through the gateway
        show = latencies(
            lambda: b.call(b.gateway.cross_model.ShowOffer, pb.ShowOfferRequest(url=url)), n, warm
        )
        raw["show_offer_ms"] = {"p50": statistics.median(show)}
        results.append(
            Result("P1", "show-offer p50 / Ping p50", statistics.median(show) / ping50, 1.5)
        )

        # P2: single writes: grant and revoke, suspend and resume
        b.call(b.gateway.users.AddUser, pb.AddUserRequest(name="benchuser"))
        b.call(b.gateway.models.AddModel, pb.AddModelRequest(name="consuming"))
        deploy(b, "consuming", "mediawiki", 1)
        b.call(
            b.gateway.models.AddRelation,
            pb.AddRelationRequest(model="consuming", a="mediawiki", b=url),
        )
        offer = b.call(b.gateway.cross_model.ShowOffer, pb.ShowOfferRequest(url=url)).offer.offer
        relation_id = offer.connections[0].relation_id
        flip = iter(range(10**9))

        def access_write() -> None:
            kind = b.gateway.users.Grant if next(flip) % 2 == 0 else b.gateway.users.Revoke
            request_type = pb.GrantRequest if kind is b.gateway.users.Grant else pb.RevokeRequest
            b.call(kind, request_type(user="benchuser", level="read", targets=[url]))

        def relation_write() -> None:
            if next(flip) % 2 == 0:
                b.call(
                    b.gateway.cross_model.SuspendRelation,
                    pb.SuspendRelationRequest(model="offering", ids=[relation_id]),
                )
            else:
                b.call(
                    b.gateway.cross_model.ResumeRelation,
                    pb.ResumeRelationRequest(model="offering", ids=[relation_id]),
                )

        writes = latencies(access_write, n // 2, warm // 2) + latencies(
            relation_write, n // 2, warm // 2
        )
        raw["write_ms"] = {"p50": statistics.median(writes)}
        results.append(
            Result(
                "P2",
                "grant/revoke/suspend/resume p50 / Ping p50",
                statistics.median(writes) / ping50,
                2.0,
            )
        )

        # Context for P2 (no target): the same writes' floor. One write made directly on its
        # owner (access, no gateway) and the Ping of a service; a write through the gateway
        # costs the gateway's own RPC on top of the owner's.
        with grpc.insecure_channel(f"127.0.0.1:{b.built[1].port}", options=CHANNEL_OPTIONS) as ch:
            access = access_pb2_grpc.AccessServiceStub(ch)
            target = offer_target(offer)

            held = access.CheckAccess(
                access_pb2.CheckAccessRequest(user="benchuser", targets=[target]), timeout=10
            ).levels[0]
            turn = iter(range(1 if held else 0, 10**9))

            def owner_write() -> None:
                if next(turn) % 2 == 0:
                    access.Grant(
                        access_pb2.GrantRequest(
                            actor="admin", user="benchuser", level="read", target=target
                        ),
                        timeout=10,
                    )
                else:
                    access.Revoke(
                        access_pb2.RevokeRequest(
                            actor="admin", user="benchuser", level="read", target=target
                        ),
                        timeout=10,
                    )

            owner = latencies(owner_write, n // 2, warm // 2)
            access_ping = latencies(
                lambda: access.Ping(access_pb2.PingRequest(), timeout=10), n, warm
            )
        raw["p2_context_ms"] = {
            "owner_write_p50": statistics.median(owner),
            "service_ping_p50": statistics.median(access_ping),
        }
        notes.append(
            Note(
                "P2",
                "grant/revoke made on the access service itself (no gateway) p50 / Ping p50",
                statistics.median(owner) / ping50,
            )
        )
        notes.append(
            Note(
                "P2",
                "a service's Ping p50 / gateway Ping p50",
                statistics.median(access_ping) / ping50,
            )
        )

        # P3: consume + relate, end to end
        b.call(b.gateway.models.AddModel, pb.AddModelRequest(name="relating"))
        deploy(b, "relating", "mediawiki", 1)

        relate_ms: list[float] = []
        for i in range(max(n // 10, 50) + warm // 10):
            start = time.perf_counter()
            b.call(
                b.gateway.models.AddRelation,
                pb.AddRelationRequest(model="relating", a="mediawiki", b=url),
            )
            if i >= warm // 10:
                relate_ms.append((time.perf_counter() - start) * 1000)
            b.call(
                b.gateway.cross_model.RemoveSaas,
                pb.RemoveSaasRequest(model="relating", name="mysql"),
            )
        raw["consume_relate_ms"] = {
            "p50": statistics.median(relate_ms),
            "p99": percentile(relate_ms, 99),
        }
        results.append(
            Result("P3", "consume+relate p50 / Ping p50", statistics.median(relate_ms) / ping50, 8)
        )
        results.append(
            Result("P3", "consume+relate p99 / Ping p50", percentile(relate_ms, 99) / ping50, 16)
        )

        # P9 and P10: throughput
        ping_qps, _ = throughput(
            lambda: b.gateway.session.Ping(pb.PingRequest(), timeout=10), 16, seconds
        )
        read_qps, read_failed = throughput(
            lambda: b.call(b.gateway.cross_model.ShowOffer, pb.ShowOfferRequest(url=url)),
            16,
            seconds,
        )
        raw["gateway_qps"] = {"ping": ping_qps, "show_offer": read_qps, "failed": read_failed}
        results.append(
            Result(
                "P9",
                "gateway reads QPS (16 clients) / Ping max QPS",
                read_qps / ping_qps,
                0.3,
                higher_is_better=True,
            )
        )
        write_qps, service_ping, write_failed, locked = placement_writes(seconds)
        raw["placement_qps"] = {
            "ping": service_ping,
            "add_machine": write_qps,
            "failed": write_failed,
            "database_is_locked": locked,
        }
        results.append(
            Result(
                "P10",
                "placement writes QPS (8 writers) / Ping max QPS",
                write_qps / service_ping,
                0.5,
                higher_is_better=True,
            )
        )
        results.append(Result("P10", '"database is locked" errors reaching a client', locked, 0))

        # P4, P5: status at scale
        timings: dict[int, float] = {}
        counts: dict[int, tuple[int, int]] = {}
        for size in sizes:
            name = f"big-{size}"
            big_model(b, name, size)
            settle(b)
            b.call(b.gateway.models.GetStatus, pb.GetStatusRequest(model=name))  # warm
            runs = []
            seen: list[tuple[int, int]] = []
            for _ in range(reps):
                before = COUNTS.snapshot()
                start = time.perf_counter()
                b.call(b.gateway.models.GetStatus, pb.GetStatusRequest(model=name))
                runs.append((time.perf_counter() - start) * 1000)
                after = COUNTS.snapshot()
                seen.append((after[0] - before[0], after[1] - before[1]))
            # background work (reactors) only ever adds: the fewest seen is the request's own
            counts[size] = min(seen)
            timings[size] = statistics.median(runs)
        raw["status_ms"] = timings
        raw["status_counts"] = {k: {"rpcs": v[0], "statements": v[1]} for k, v in counts.items()}
        mid = sizes[1]
        sqlite_ms = raw_read_ms(b.data / "placement.db", f"big-{mid}", reps)
        raw["raw_sqlite_read_ms"] = sqlite_ms
        results.append(
            Result(
                "P4",
                f"status of {mid} + {mid} units / raw SQLite read",
                timings[mid] / sqlite_ms,
                6,
            )
        )
        small, large = sizes[0], sizes[-1]
        results.append(
            Result(
                "P5",
                f"status RPCs {small} vs {large} units (difference)",
                abs(counts[large][0] - counts[small][0]),
                0,
            )
        )
        results.append(
            Result(
                "P5",
                f"status SQL statements {small} vs {large} units (difference)",
                abs(counts[large][1] - counts[small][1]),
                0,
            )
        )
        results.append(
            Result(
                "P5",
                f"status time exponent {small} -> {large} units",
                fitted_exponent(timings[small], timings[large], large / small),
                1.15,
            )
        )

        # P7: the biggest status through a default-configured client (StreamStatus parts)
        big_model(b, "biggest", biggest)
        ok = 0.0
        detail = ""
        with grpc.insecure_channel(b.address) as plain:
            stub = gateway_pb2_grpc.ModelServiceStub(plain)
            try:
                merged = merge_status(
                    stub.StreamStatus(
                        pb.StreamStatusRequest(model="biggest"), metadata=b.auth, timeout=300
                    )
                )
                units = sum(len(a.units) for a in merged.applications)
                ok = 1.0 if units == biggest else 0.0
                detail = "" if ok else f"{units} of {biggest} units came back"
            except grpc.RpcError as err:
                detail = err.details() if isinstance(err, grpc.Call) else str(err)
        results.append(
            Result(
                "P7",
                f"{biggest}-unit status with a default client (1 = ok)",
                ok,
                1,
                higher_is_better=True,
                detail=detail or "",
            )
        )
    return results, notes, raw


ROUNDS: Final = 3
"""P10 measures Ping and writes this many times each, alternating, and keeps each's best."""


def placement_writes(seconds: float, writers: int = 8) -> tuple[float, float, int, int]:
    """P10 against the placement service alone, in its own process, as a user load-tests it.

    `cmr serve --service placement` on a free loopback port with its own data directory: the
    service's writes are measured without the other servers' reactors sharing its interpreter.
    Returns AddMachine QPS, Ping max QPS, failed writes and "database is locked" errors.
    """
    with tempfile.TemporaryDirectory(prefix="cmr-bench-p10-") as data:
        port = free_port()
        process = subprocess.Popen(  # noqa: S603 - our own command, fixed arguments
            [
                *(sys.executable, "-m", "cli.main", "serve", "--service", "placement"),
                *("--port", str(port), "--data-dir", data),
            ],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        try:
            with grpc.insecure_channel(f"127.0.0.1:{port}", options=CHANNEL_OPTIONS) as channel:
                grpc.channel_ready_future(channel).result(timeout=60)
                stub = placement_pb2_grpc.PlacementServiceStub(channel)
                model = stub.AddModel(
                    placement_pb2.AddModelRequest(name="load", owner="admin"), timeout=30
                ).model.uuid
                locked = [0]

                def write_machine() -> None:
                    try:
                        stub.AddMachine(
                            placement_pb2.AddMachineRequest(model_uuid=model, count=1), timeout=30
                        )
                    except grpc.RpcError as err:
                        if isinstance(err, grpc.Call) and "database is locked" in (
                            err.details() or ""
                        ):
                            locked[0] += 1
                        raise

                for _ in range(200):  # warm-up
                    write_machine()
                    stub.Ping(placement_pb2.PingRequest(), timeout=10)
                # rounds alternate, and each side keeps its best: a slow spell of the machine
                # (the client shares it) then lowers neither alone
                pings: list[float] = []
                writes: list[float] = []
                failed = 0
                for _ in range(ROUNDS):
                    pings.append(
                        throughput(
                            lambda: stub.Ping(placement_pb2.PingRequest(), timeout=10),
                            writers,
                            seconds,
                        )[0]
                    )
                    qps, errors = throughput(write_machine, writers, seconds)
                    writes.append(qps)
                    failed += errors
                return max(writes), max(pings), failed, locked[0]
        finally:
            process.terminate()
            process.wait(timeout=30)


def free_port() -> int:
    """A TCP port free on loopback now."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def raw_read_ms(path: Path, model: str, reps: int) -> float:
    """Median time to read the model's unit, machine and application rows, in process."""
    runs = []
    with sqlite3.connect(f"file:{path}?mode=ro", uri=True) as conn:
        (uuid,) = conn.execute("SELECT uuid FROM models WHERE name = ?", (model,)).fetchone()
        for _ in range(reps + 1):
            start = time.perf_counter()
            for table in ("units", "machines", "applications"):
                conn.execute(
                    f"SELECT * FROM {table} WHERE model_uuid = ?",  # noqa: S608 - fixed names
                    (uuid,),
                ).fetchall()
            runs.append((time.perf_counter() - start) * 1000)
    return statistics.median(runs[1:])


def table(results: Sequence[Result]) -> str:
    """The verdicts as a text table."""
    rows = [("Target", "What", "Measured", "Limit", "Result")]
    for r in results:
        bound = f">= {r.limit:g}" if r.higher_is_better else f"<= {r.limit:g}"
        rows.append(
            (r.target, r.description, f"{r.measured:.3g}", bound, "pass" if r.passed else "FAIL")
        )
    widths = [max(len(row[i]) for row in rows) for i in range(5)]
    return "\n".join(
        "  ".join(c.ljust(w) for c, w in zip(row, widths, strict=True)).rstrip() for row in rows
    )


def main(argv: Sequence[str] | None = None) -> int:
    """Run the benchmarks; 0 when every target passes."""
    parser = argparse.ArgumentParser(prog="cmr-bench", description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="Small sizes: a smoke run only.")
    parser.add_argument("--json", type=Path, default=ROOT / "bench" / "results.json")
    args = parser.parse_args(argv)
    instrument()
    results, notes, raw = run(args.quick)
    print(table(results))
    if notes:
        print("\nContext (no verdict)")
        width = max(len(n.description) for n in notes)
        for n in notes:
            print(f"{n.target:<6}  {n.description.ljust(width)}  {n.measured:.3g}")
    for r in results:
        if r.detail:
            print(f"{r.target}: {r.detail}")
    args.json.parent.mkdir(parents=True, exist_ok=True)
    args.json.write_text(
        json.dumps(
            {
                "quick": args.quick,
                "results": [{**asdict(r), "passed": r.passed} for r in results],
                "context": [asdict(n) for n in notes],
                "raw": raw,
            },
            indent=2,
            default=str,
        )
        + "\n"
    )
    return 0 if all(r.passed for r in results) else 1


if __name__ == "__main__":
    sys.exit(main())
