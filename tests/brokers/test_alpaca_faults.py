"""Idempotent order submission through AlpacaBroker over HTTP, with the SimServer's faults on POST /v2/orders.

Whatever is lost (the request, the answer, or both, by a timeout), the server ends with exactly one order per
client order id, and submit_order returns that order: an answer that may hide an accepted order is followed by
a look-up by client id before anything is sent again.
"""

from __future__ import annotations

import time
from collections import Counter
from datetime import datetime

import pytest

from engine.calendar import ET
from engine.errors import BrokerError
from engine.models import Intent, Leg, OrderRequest, OrderStatus, Side
from engine.occ import occ_symbol

TIMEOUT_S = 0.3
SLOW_S = 0.6
SLACK = 0.30
"""Paid over the natural price, so the order still fills at once after the quotes moved while it was retried."""
STRIKES = ((590, "P", Side.BUY), (595, "P", Side.SELL), (605, "C", Side.SELL), (610, "C", Side.BUY))


class FaultsOffOnFirstSleep:
    """The adapter's clock, which switches the server's faults off when the adapter first waits to retry:
    the first attempt is faulted, everything after it is clean, so the test controls what was lost."""

    def __init__(self, clock, server) -> None:
        self._clock, self._server, self.sleeps = clock, server, []

    def now(self) -> datetime:
        return self._clock.now()

    def sleep(self, seconds: float) -> None:
        self._server.fault_rate = 0.0
        self.sleeps.append(seconds)
        self._clock.sleep(seconds)


def _condor(alpaca, cid: str, closing: bool = False) -> OrderRequest:
    """A marketable 590/595/605/610 iron condor (fills at once), or the order closing it."""
    legs = []
    for strike, right, side in STRIKES:
        if closing:
            side = Side.SELL if side is Side.BUY else Side.BUY
            intent = Intent.BUY_TO_CLOSE if side is Side.BUY else Intent.SELL_TO_CLOSE
        else:
            intent = Intent.BUY_TO_OPEN if side is Side.BUY else Intent.SELL_TO_OPEN
        legs.append(Leg(occ_symbol("SPY", datetime(2025, 7, 1).date(), right, strike), side, intent))
    quotes = alpaca.market_data.quotes([leg.symbol for leg in legs])
    natural = sum(quotes[leg.symbol].ask if leg.side is Side.BUY else -quotes[leg.symbol].bid for leg in legs)
    return OrderRequest(client_order_id=cid, legs=tuple(legs), qty=1, limit_price=round(natural + SLACK, 2))


@pytest.fixture(params=["loopback", "requests"])
def faulty(make_sim, adapters_for, request):
    """faulty(kind or kinds, **server kwargs) -> (server, adapters) at 10:00 ET, faults not yet on; the adapters
    sleep through the server's clock (RemoteSimClock) and time out after TIMEOUT_S. Each test runs twice: on the
    short way to serve-sim that `run.py` takes (engine/brokers/loopback_http.py), and on requests, as against
    Alpaca: a lost request or answer must surface alike on both."""
    loopback = request.param == "loopback"

    def make(kinds, *, switch_off: bool = False, max_retries: int = 4, **kwargs):
        kinds = [kinds] if isinstance(kinds, str) else kinds
        server = make_sim(fault_kinds=kinds, slow_seconds=SLOW_S, **kwargs)
        probe = adapters_for(server.url)  # finds the simulator's clock, as `run.py` does
        assert type(probe.clock).__name__ == "RemoteSimClock"
        probe.clock.sleep(60 * 60)
        clock = FaultsOffOnFirstSleep(probe.clock, server) if switch_off else None
        alpaca = adapters_for(
            server.url, clock=clock, loopback=loopback, timeout_s=TIMEOUT_S, max_retries=max_retries
        )
        assert (type(alpaca.broker._tc._session).__name__ == "LoopbackSession") is loopback
        return server, alpaca

    return make


def _orders_at_server(server, cid: str):
    return [o for o in server.venue.all_orders() if o.client_order_id == cid]


def _trading_log(server, cid: str):
    """(method, path, fault, status) of the order's POSTs and look-ups, in order."""
    return [
        (e["method"], e["path"], e["fault"], e["status"])
        for e in server.request_log
        if e["client_order_id"] == cid or cid in e["full_path"]
    ]


def _check_one_filled_order(server, alpaca, returned, cid: str) -> None:
    (placed,) = _orders_at_server(server, cid)
    assert returned.id == placed.id and returned.client_order_id == cid and returned.legs == placed.legs
    assert placed.status is OrderStatus.FILLED and placed.filled_qty == 1
    # the adapter's own view over GET /v2/orders?status=all agrees (faults are off by now or never hit GETs)
    server.fault_rate = 0.0
    listed = [o for o in alpaca.broker.orders_since(datetime(2025, 7, 1, tzinfo=ET)) if o.client_order_id == cid]
    assert [o.id for o in listed] == [placed.id]
    assert sorted(abs(p.qty) for p in alpaca.broker.positions()) == [1, 1, 1, 1]  # filled once, not twice


@pytest.mark.parametrize("kind", ["drop_after", "server_error_after"])
def test_answer_lost_after_the_order_was_placed_is_found_not_resent(faulty, kind) -> None:
    server, alpaca = faulty(kind)
    request = _condor(alpaca, f"{kind}-1")
    server.fault_rate = 1.0  # every POST is answered with a fault after the exchange took it; GETs are clean
    returned = alpaca.broker.submit_order(request)
    _check_one_filled_order(server, alpaca, returned, request.client_order_id)
    assert _trading_log(server, request.client_order_id) == [
        ("POST", "/v2/orders", kind, 500 if kind == "server_error_after" else None),
        ("GET", "/v2/orders:by_client_order_id", None, 200),
    ]


@pytest.mark.parametrize("kind", ["drop", "server_error", "unavailable"])
def test_request_lost_before_the_exchange_is_looked_up_then_sent_once_more(faulty, kind) -> None:
    server, alpaca = faulty(kind, switch_off=True)
    request = _condor(alpaca, f"{kind}-1")
    server.fault_rate = 1.0
    returned = alpaca.broker.submit_order(request)
    _check_one_filled_order(server, alpaca, returned, request.client_order_id)
    status = {"drop": None, "server_error": 500, "unavailable": 503}[kind]
    assert _trading_log(server, request.client_order_id) == [
        ("POST", "/v2/orders", kind, status),
        ("GET", "/v2/orders:by_client_order_id", None, 404),
        ("POST", "/v2/orders", None, 200),
    ]


def test_timed_out_order_arriving_late_is_refused_as_a_duplicate(faulty) -> None:
    """The worst case: the slow POST is still on its way when the look-up says "not there", so the order is sent
    again; when the first copy finally reaches the exchange, the client id is already taken."""
    server, alpaca = faulty("slow", switch_off=True)
    request = _condor(alpaca, "slow-1")
    cid = request.client_order_id
    server.fault_rate = 1.0
    returned = alpaca.broker.submit_order(request)
    assert alpaca.clock.sleeps and alpaca.clock.sleeps[0] > 0  # after the timeout it waited on the simulated clock

    def slow_copy() -> list[dict]:
        return [e for e in server.request_log if e["client_order_id"] == cid and e["fault"] == "slow"]

    deadline = time.monotonic() + 5
    while not slow_copy() and time.monotonic() < deadline:
        time.sleep(0.02)  # the slow handler sleeps SLOW_S on the server side before the exchange sees the order
    _check_one_filled_order(server, alpaca, returned, cid)
    (late,) = slow_copy()
    log = _trading_log(server, cid)
    assert log[0] == ("GET", "/v2/orders:by_client_order_id", None, 404) or log[0][:3] == ("POST", "/v2/orders", "slow")
    lookup = next(status for method, _, _, status in log if method == "GET")
    resends = [(fault, status) for method, _, fault, status in log if method == "POST" and fault is None]
    if lookup == 404:  # the usual order of events: TIMEOUT_S + a quick look-up < SLOW_S
        assert resends == [(None, 200)] and late["status"] == 422  # the late copy was refused: client id taken
    else:  # a slow machine: the late copy landed before the look-up, which found it, so nothing was resent
        assert lookup == 200 and resends == [] and late["status"] == 200


def test_resubmitting_a_placed_order_adopts_it(faulty) -> None:
    """A second submit of the same client id (e.g. after a restart) gets Alpaca's 422 and adopts the order."""
    server, alpaca = faulty("drop")
    request = _condor(alpaca, "twice-1")
    first = alpaca.broker.submit_order(request)
    second = alpaca.broker.submit_order(request)
    assert (second.id, second.client_order_id) == (first.id, first.client_order_id)
    assert len(_orders_at_server(server, request.client_order_id)) == 1
    assert [(method, status) for method, _, _, status in _trading_log(server, request.client_order_id)] == [
        ("POST", 200),
        ("POST", 422),
        ("GET", 200),
    ]


def test_mixed_fault_storm_leaves_one_order_per_client_id(faulty) -> None:
    """Half of all requests faulted (seeded), every kind but slow: open and close a condor three times."""
    kinds = ["drop", "drop_after", "server_error", "server_error_after", "unavailable"]
    server, alpaca = faulty(kinds, seed=3, max_retries=12)
    server.fault_rate = 0.5  # quotes and look-ups are faulted too
    requests, returned = [], []
    for n in range(3):
        for leg in ("open", "close"):
            requests.append(_condor(alpaca, f"storm-{n}-{leg}", closing=leg == "close"))
            returned.append(alpaca.broker.submit_order(requests[-1]))
    server.fault_rate = 0.0
    assert [o.client_order_id for o in returned] == [r.client_order_id for r in requests]
    by_cid = Counter(o.client_order_id for o in server.venue.all_orders())
    assert by_cid == Counter(r.client_order_id for r in requests)  # exactly one each
    assert {o.id for o in returned} == {o.id for o in server.venue.all_orders()}
    assert all(o.status is OrderStatus.FILLED for o in server.venue.all_orders())
    assert alpaca.broker.positions() == []  # three opens and three closes: flat, so nothing filled twice
    faults_on_posts = Counter(
        e["fault"] for e in server.request_log if e["method"] == "POST" and e["path"] == "/v2/orders"
    )
    assert faults_on_posts["drop_after"] + faults_on_posts["server_error_after"] >= 1  # the hard case happened
    assert faults_on_posts["drop"] + faults_on_posts["server_error"] + faults_on_posts["unavailable"] >= 1
    assert alpaca.broker._retry.retries > 0


def test_gives_up_after_max_retries_without_placing_anything(faulty) -> None:
    server, alpaca = faulty("unavailable", max_retries=3)
    request = _condor(alpaca, "down-1")
    server.fault_rate = 1.0
    with pytest.raises(BrokerError) as err:
        alpaca.broker.submit_order(request)
    assert err.value.transient and "503" in str(err.value)
    assert _orders_at_server(server, request.client_order_id) == []
    log = _trading_log(server, request.client_order_id)
    assert log[0][:2] == ("POST", "/v2/orders")
    assert [e[:2] for e in log[1:]] == [("GET", "/v2/orders:by_client_order_id")] * 3  # look-ups, never a resend
    assert len(log) == 3 + 1
