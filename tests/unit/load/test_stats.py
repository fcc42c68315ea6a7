"""Percentiles, aggregation and the report, without a server."""

from __future__ import annotations

import json

import pytest

from load.stats import OpRecord, Recorder, format_table, percentile, summarize, to_dict


@pytest.mark.parametrize(
    ("values", "p", "expected"),
    [
        ([1.0], 50, 1.0),
        ([1.0], 99, 1.0),
        (list(range(1, 11)), 50, 5),
        (list(range(1, 11)), 90, 9),
        (list(range(1, 11)), 91, 10),
        (list(range(1, 11)), 100, 10),
        (list(range(1, 21)), 95, 19),
        (list(range(1, 101)), 99, 99),
        (list(range(1, 101)), 7, 7),  # 0.07 * 100 is 7.000000000000001 in floats
        (list(range(1, 1001)), 99.9, 999),
        ([15, 20, 35, 40, 50], 30, 20),  # the textbook nearest-rank example
        ([15, 20, 35, 40, 50], 40, 20),
        ([15, 20, 35, 40, 50], 50, 35),
        ([50, 15, 40, 20, 35], 100, 50),  # order of the input does not matter
        ([3.0, 1.0, 2.0], 0.1, 1.0),
    ],
)
def test_percentile_nearest_rank(values: list[float], p: float, expected: float) -> None:
    assert percentile(values, p) == expected


@pytest.mark.parametrize("p", [0, -1, 100.5])
def test_percentile_rejects_out_of_range(p: float) -> None:
    with pytest.raises(ValueError, match="percentile must be in"):
        percentile([1.0, 2.0], p)


def test_percentile_of_nothing() -> None:
    with pytest.raises(ValueError, match="no values"):
        percentile([], 50)


def _records() -> dict[str, OpRecord]:
    recorder = Recorder()
    for n in range(1, 101):
        recorder.record("ping", float(n), "OK")
    for ms, code in [(10.0, "OK"), (20.0, "UNAVAILABLE"), (30.0, "OK"), (40.0, "NOT_FOUND")]:
        recorder.record("status", ms, code)
    recorder.record("status", 50.0, "UNAVAILABLE")
    return recorder.ops


def test_summarize_rows_and_total() -> None:
    summary = summarize(_records(), elapsed_s=2.0, ops=["status", "ping", "whoami"])
    assert [row.name for row in summary.rows] == ["status", "ping", "whoami"]
    status, ping, whoami = summary.rows
    assert (ping.count, ping.ok, ping.qps) == (100, 100, 50.0)
    assert (ping.p50_ms, ping.p95_ms, ping.p99_ms) == (50.0, 95.0, 99.0)
    assert ping.errors == {}
    assert (status.count, status.ok, status.qps) == (5, 2, 2.5)
    assert (status.p50_ms, status.p99_ms) == (30.0, 50.0)
    assert status.errors == {"NOT_FOUND": 1, "UNAVAILABLE": 2}
    assert list(status.errors) == ["NOT_FOUND", "UNAVAILABLE"]
    # chosen in the mix but never called: a row of zeros without percentiles
    assert (whoami.count, whoami.qps, whoami.p50_ms, whoami.errors) == (0, 0.0, None, {})
    total = summary.total
    assert (total.name, total.count, total.ok, total.qps) == ("total", 105, 102, 52.5)
    assert total.errors == {"NOT_FOUND": 1, "UNAVAILABLE": 2}
    assert total.p50_ms == 49.0  # rank 53 of 1..100 merged with 10, 20, 30, 40, 50


def test_summarize_unlisted_ops_follow_sorted_and_zero_elapsed() -> None:
    summary = summarize(_records(), elapsed_s=0.0)
    assert [row.name for row in summary.rows] == ["ping", "status"]
    assert summary.total.qps == 0.0


def test_summarize_nothing() -> None:
    summary = summarize({}, elapsed_s=1.0, ops=["ping"])
    assert summary.total.count == 0
    assert summary.total.p99_ms is None


def test_format_table() -> None:
    summary = summarize(_records(), elapsed_s=2.0, ops=["ping", "status", "whoami"])
    assert format_table(summary) == (
        "op      count   ok   qps  p50 ms  p95 ms  p99 ms  errors\n"
        "ping      100  100  50.0   50.00   95.00   99.00  -\n"
        "status      5    2   2.5   30.00   50.00   50.00  NOT_FOUND=1, UNAVAILABLE=2\n"
        "whoami      0    0   0.0       -       -       -  -\n"
        "total     105  102  52.5   49.00   95.00   99.00  NOT_FOUND=1, UNAVAILABLE=2\n"
    )


def test_to_dict_is_json_and_matches_the_table() -> None:
    summary = summarize(_records(), elapsed_s=2.0, ops=["ping", "status"])
    data = to_dict(summary, {"service": "gateway", "clients": 4})
    assert json.loads(json.dumps(data)) == {
        "service": "gateway",
        "clients": 4,
        "elapsed_s": 2.0,
        "ops": {
            "ping": {
                "count": 100,
                "ok": 100,
                "qps": 50.0,
                "p50_ms": 50.0,
                "p95_ms": 95.0,
                "p99_ms": 99.0,
                "errors": {},
            },
            "status": {
                "count": 5,
                "ok": 2,
                "qps": 2.5,
                "p50_ms": 30.0,
                "p95_ms": 50.0,
                "p99_ms": 50.0,
                "errors": {"NOT_FOUND": 1, "UNAVAILABLE": 2},
            },
        },
        "total": {
            "count": 105,
            "ok": 102,
            "qps": 52.5,
            "p50_ms": 49.0,
            "p95_ms": 95.0,
            "p99_ms": 99.0,
            "errors": {"NOT_FOUND": 1, "UNAVAILABLE": 2},
        },
    }
