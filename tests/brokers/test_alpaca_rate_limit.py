"""429 storms are waited out on the simulated clock, as long as Retry-After says, and never hammered.

The SimServer answers a rate-limited request with 429, Retry-After: 1 and X-RateLimit-Reset; the adapter sleeps
through RemoteSimClock (POST /sim/advance), so the request log's sim-time stamps show the spacing it kept.
"""

from __future__ import annotations

import time
from datetime import datetime

import pytest

from engine.errors import BrokerError
from engine.models import Intent, Leg, OrderRequest, Side

MAX_RETRIES = 4
RETRY_AFTER_S = 1.0  # what the SimServer sends


def _api_entries(server, start: int = 0) -> list[dict]:
    return [e for e in server.request_log[start:] if not e["path"].startswith("/sim/")]


def _at(entry: dict) -> datetime:
    return datetime.fromisoformat(entry["sim_time"])


def _assert_backed_off(entries: list[dict]) -> None:
    """After every 429 the next attempt came at least Retry-After later in simulated time."""
    for prev, nxt in zip(entries, entries[1:], strict=False):
        if prev["status"] == 429:
            gap = (_at(nxt) - _at(prev)).total_seconds()
            assert gap >= RETRY_AFTER_S - 1e-6, f"{nxt['method']} {nxt['path']} {gap:.3f}s after a 429"


@pytest.fixture(params=["loopback", "requests"])
def limited(make_sim, adapters_for, request):
    """On the short way to serve-sim (engine/brokers/loopback_http.py) and on requests: the 429s, their Retry-After
    and the backoff must read alike on both."""
    server = make_sim(fault_kinds=["rate_limit"], seed=5)
    alpaca = adapters_for(server.url, loopback=request.param == "loopback", max_retries=MAX_RETRIES)
    assert type(alpaca.clock).__name__ == "RemoteSimClock"
    alpaca.clock.sleep(60 * 60)  # 10:00 ET, market open
    return server, alpaca


def test_a_request_that_is_always_limited_is_tried_max_retries_plus_one_times(limited) -> None:
    server, alpaca = limited
    server.fault_rate = 1.0
    start = len(server.request_log)
    t0, sim0 = time.monotonic(), alpaca.clock.now()
    with pytest.raises(BrokerError, match="429") as err:
        alpaca.broker.account()
    assert err.value.transient and err.value.status == 429
    entries = _api_entries(server, start)
    assert [(e["path"], e["status"]) for e in entries] == [("/v2/account", 429)] * (MAX_RETRIES + 1)
    gaps = [(_at(b) - _at(a)).total_seconds() for a, b in zip(entries, entries[1:], strict=False)]
    assert gaps == [RETRY_AFTER_S] * MAX_RETRIES  # exactly the hint: no shorter, and no needless backoff on top
    assert (alpaca.clock.now() - sim0).total_seconds() == MAX_RETRIES * RETRY_AFTER_S
    assert time.monotonic() - t0 < 1.0  # slept on the simulator's clock, not the wall's


def test_an_order_in_a_storm_is_looked_up_between_attempts_and_bounded(limited) -> None:
    server, alpaca = limited
    legs = (
        Leg("SPY250701P00590000", Side.BUY, Intent.BUY_TO_OPEN),
        Leg("SPY250701P00595000", Side.SELL, Intent.SELL_TO_OPEN),
    )
    server.fault_rate = 1.0
    start = len(server.request_log)
    with pytest.raises(BrokerError, match="429"):
        alpaca.broker.submit_order(OrderRequest("storm-1", legs, 1, -0.10))
    entries = _api_entries(server, start)
    # one POST, then only look-ups: a failed look-up is retried by the same loop, not by a retry loop of its own
    assert [e["path"] for e in entries] == ["/v2/orders"] + ["/v2/orders:by_client_order_id"] * MAX_RETRIES
    assert all(e["status"] == 429 for e in entries)
    _assert_backed_off(entries)
    assert server.venue.all_orders() == []


def test_a_day_of_calls_in_a_heavy_storm(limited) -> None:
    """80% of requests limited, a mix of the calls a trading day makes: each call ends (answer or transient
    error) within max_retries+1 requests, spaced by Retry-After after every 429."""
    server, alpaca = limited
    b, md = alpaca.broker, alpaca.market_data
    symbols = ["SPY250701P00595000", "SPY250701C00605000"]
    day = alpaca.clock.now().date()
    calls = [
        b.account,
        b.positions,
        b.open_orders,
        lambda: md.quotes(symbols),
        lambda: md.chain("SPY", day, 595, 605),
        lambda: md.bars("SPY", alpaca.clock.now().replace(hour=9, minute=30), alpaca.clock.now()),
        lambda: b.contracts("SPY", day, 595, 605),
        lambda: b.session(day),
    ] * 4
    server.fault_rate = 0.8
    outcomes = []
    for call in calls:
        start = len(server.request_log)
        try:
            call()
            outcomes.append("ok")
        except BrokerError as exc:
            assert exc.transient and exc.status == 429
            outcomes.append("gave up")
        entries = _api_entries(server, start)
        assert 1 <= len(entries) <= MAX_RETRIES + 1
        assert all(e["status"] == 429 for e in entries[:-1])  # retried only while limited
        if outcomes[-1] == "gave up":
            assert len(entries) == MAX_RETRIES + 1 and entries[-1]["status"] == 429
        else:
            assert entries[-1]["status"] == 200
        _assert_backed_off(entries)
    assert "ok" in outcomes and "gave up" in outcomes  # the storm was heavy enough to show both
    limited_count = sum(e["status"] == 429 for e in _api_entries(server))
    assert limited_count >= len(calls)
