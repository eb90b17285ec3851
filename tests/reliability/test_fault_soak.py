"""The fault soak (bench/fault_soak.py) in short: the engine over loopback with the broker failing on purpose.

Two sessions at 5 % faults, one (a half day) at 30 % (retries all the way), and one where half the order posts and
cancels are done by the exchange but their answer is lost. Each must meet every target of the soak: no
crash, no doubled order or trade, >= 95 % of intended orders placed, no risk limit breached. The client
timeout is shorter than the bench's (0.1 s, slow answers 0.15 s) to keep the wall time down.
"""

from __future__ import annotations

from datetime import date

import pytest

from tests.bench_scripts import load_bench

TIMEOUT_S, SLOW_S = 0.1, 0.15


fs = load_bench("fault_soak")


def _soak(days: int, rate: float, seed: int, **kwargs):
    return fs.soak(days, rate, seed, timeout_s=TIMEOUT_S, slow_seconds=SLOW_S, clock="direct", progress=None, **kwargs)


def _assert_targets(result) -> None:
    assert not result.misses(), "\n" + fs.format_figures(result)
    assert len(result.sessions) == result.days and not result.crashes
    assert all(code == 0 for code in result.exit_codes)


@pytest.fixture(scope="module")
def two_days_5pct():
    return _soak(2, 0.05, 1)


@pytest.fixture(scope="module")
def one_day_30pct():
    return _soak(1, 0.30, 2, first=date(2025, 7, 3))  # a half day (13:00 close): fewer slow answers to wait for


def test_two_days_at_5_percent_meet_every_target(two_days_5pct) -> None:
    r = two_days_5pct
    _assert_targets(r)
    assert sum(r.faults.values()) > 50 and r.retries > 0
    assert r.intended and r.placed_share >= fs.PLACED_TARGET
    assert sum(d.trades for d in r.sessions) >= 1, "the soak should trade, or it proves little"
    assert r.days_flat == 2


def test_a_day_at_30_percent_is_retried_through_and_meets_every_target(one_day_30pct) -> None:
    r = one_day_30pct
    _assert_targets(r)
    for kind in ("rate_limit", "server_error", "unavailable", "slow", "drop"):
        assert r.faults[kind] > 0, f"no {kind} fault injected"
    assert r.retries >= 0.8 * sum(r.faults.values()), "transient failures are retried"
    assert sum(d.trades for d in r.sessions) >= 1
    assert r.resumes <= sum(r.halts.values())


def test_answers_lost_after_the_exchange_acted_never_double_an_order() -> None:
    r = _soak(1, 0.5, 3, first=date(2025, 7, 3), fault_kinds=("server_error_after", "drop_after"))
    _assert_targets(r)
    assert r.faults["server_error_after"] + r.faults["drop_after"] >= 5
    assert not r.dup_ids and not r.dup_trades and not r.unbooked_fills


def test_a_missed_target_is_reported() -> None:
    r = fs.SoakResult(days=1, fault_rate=0.05, seed=1)
    r.sessions.append(fs.DayFigures(day=date(2025, 7, 1), flat=True))
    assert r.misses() == []
    r.intended, r.placed = {f"id-{i}" for i in range(20)}, {f"id-{i}" for i in range(18)}
    r.dup_trades.append("2025-07-01 trade 1: two fills")
    misses = r.misses()
    assert any("intended orders placed: 90.0%" in m for m in misses)
    assert any("trades opened more than once: 1" in m for m in misses)
    assert "MISSED" in fs.format_figures(r)


def test_halt_reasons_are_grouped() -> None:
    reason = "trade 3 closed (target), P&L +12.00; max_daily_trades reached (3)"
    assert fs.halt_kind(reason) == "max_daily_trades reached"
    assert fs.halt_kind("broker/data outage for 150s: BrokerError: GET /v2/account: HTTP 503: x").startswith(
        "broker/data outage for Ns"
    )
