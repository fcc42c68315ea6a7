"""Pure aggregation and reporting: latencies and status codes in, a table or JSON out."""

from __future__ import annotations

import math
from collections import Counter
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from fractions import Fraction
from typing import Final

OK: Final = "OK"
"""The status recorded for a call that succeeded; failures record `grpc.StatusCode` names."""

PERCENTILES: Final = (50, 95, 99)


def percentile(values: Iterable[float], p: float) -> float:
    """Nearest-rank percentile: the smallest value with at least `p`% of values at or below it.

    `p` is in (0, 100]; the rank is ceil(p/100 * n), computed exactly (no float rounding), so
    p50 of 1..10 is 5, p95 of 1..20 is 19 and p100 is the maximum. ValueError for no values or
    a `p` out of range.
    """
    ordered = sorted(values)
    if not ordered:
        raise ValueError("percentile of no values")
    if not 0 < p <= 100:
        raise ValueError(f"percentile must be in (0, 100], got {p}")
    rank = math.ceil(Fraction(str(p)) * len(ordered) / 100)
    return ordered[max(rank, 1) - 1]


@dataclass
class OpRecord:
    """Everything recorded for one operation: each call's latency and status."""

    latencies_ms: list[float] = field(default_factory=list)
    codes: Counter[str] = field(default_factory=Counter)

    def add(self, latency_ms: float, code: str) -> None:
        """Record one call."""
        self.latencies_ms.append(latency_ms)
        self.codes[code] += 1


class Recorder:
    """Per-operation records of a run (one event loop, so no locking)."""

    def __init__(self) -> None:
        self.ops: dict[str, OpRecord] = {}

    def record(self, op: str, latency_ms: float, code: str) -> None:
        """Record one call of `op` that took `latency_ms` and ended with `code`."""
        self.ops.setdefault(op, OpRecord()).add(latency_ms, code)


@dataclass(frozen=True)
class Row:
    """One line of the report: an operation, or the total."""

    name: str
    count: int
    ok: int
    qps: float
    p50_ms: float | None
    p95_ms: float | None
    p99_ms: float | None
    errors: Mapping[str, int]
    """Failed calls by status code name, sorted by name."""


@dataclass(frozen=True)
class Summary:
    """A run's report: one row per operation, then the total."""

    elapsed_s: float
    rows: tuple[Row, ...]
    total: Row


def _row(name: str, latencies: Sequence[float], codes: Mapping[str, int], elapsed_s: float) -> Row:
    count = len(latencies)
    p50, p95, p99 = (percentile(latencies, p) if latencies else None for p in PERCENTILES)
    return Row(
        name=name,
        count=count,
        ok=codes.get(OK, 0),
        qps=count / elapsed_s if elapsed_s > 0 else 0.0,
        p50_ms=p50,
        p95_ms=p95,
        p99_ms=p99,
        errors={code: n for code, n in sorted(codes.items()) if code != OK and n},
    )


def summarize(
    records: Mapping[str, OpRecord], elapsed_s: float, ops: Sequence[str] = ()
) -> Summary:
    """Aggregate a run: rows in the order of `ops` (even those never called), then the rest.

    QPS is calls (failed ones included) per second of `elapsed_s`; percentiles are over the
    latencies of every call, failed ones included.
    """
    names = [*ops, *sorted(name for name in records if name not in ops)]
    empty = OpRecord()
    rows = tuple(
        _row(name, record.latencies_ms, record.codes, elapsed_s)
        for name in names
        for record in (records.get(name, empty),)
    )
    all_latencies = [ms for record in records.values() for ms in record.latencies_ms]
    all_codes: Counter[str] = Counter()
    for record in records.values():
        all_codes.update(record.codes)
    return Summary(elapsed_s, rows, _row("total", all_latencies, all_codes, elapsed_s))


def _ms(value: float | None) -> str:
    return "-" if value is None else f"{value:.2f}"


def _errors(errors: Mapping[str, int]) -> str:
    return ", ".join(f"{code}={n}" for code, n in errors.items()) or "-"


HEADER: Final = ("op", "count", "ok", "qps", "p50 ms", "p95 ms", "p99 ms", "errors")


def format_table(summary: Summary) -> str:
    """The report as an aligned text table (one line per operation, then `total`)."""
    lines = [
        (
            row.name,
            str(row.count),
            str(row.ok),
            f"{row.qps:.1f}",
            _ms(row.p50_ms),
            _ms(row.p95_ms),
            _ms(row.p99_ms),
            _errors(row.errors),
        )
        for row in (*summary.rows, summary.total)
    ]
    widths = [max(len(line[i]) for line in (HEADER, *lines)) for i in range(len(HEADER))]

    def render(cells: Sequence[str]) -> str:
        # names and errors left-aligned, numbers right-aligned
        parts = [
            cell.ljust(width) if i in (0, len(cells) - 1) else cell.rjust(width)
            for i, (cell, width) in enumerate(zip(cells, widths, strict=True))
        ]
        return "  ".join(parts).rstrip()

    return "\n".join(render(cells) for cells in (HEADER, *lines)) + "\n"


def _round(value: float | None) -> float | None:
    return None if value is None else round(value, 3)


def row_to_dict(row: Row) -> dict[str, object]:
    """One row as JSON-ready data."""
    return {
        "count": row.count,
        "ok": row.ok,
        "qps": round(row.qps, 3),
        "p50_ms": _round(row.p50_ms),
        "p95_ms": _round(row.p95_ms),
        "p99_ms": _round(row.p99_ms),
        "errors": dict(row.errors),
    }


def to_dict(summary: Summary, run: Mapping[str, object] | None = None) -> dict[str, object]:
    """The report as JSON-ready data: the run's settings, then `ops` by name, then `total`."""
    return {
        **(run or {}),
        "elapsed_s": round(summary.elapsed_s, 3),
        "ops": {row.name: row_to_dict(row) for row in summary.rows},
        "total": row_to_dict(summary.total),
    }
