"""serve-sim's stream timeline (engine/sim/stream_feed.py), without sockets: what happened between two moments,
in time order, whatever steps the clock took to get there."""

from __future__ import annotations

import json
import random
from datetime import UTC, date, datetime, timedelta

from engine.calendar import ET, ExchangeCalendar
from engine.clock import SimClock
from engine.config import SimConfig
from engine.sim.alpaca_api import AlpacaApi
from engine.sim.stream_feed import StreamEvent, StreamFeed, Wanted
from engine.sim.venue import SimVenue
from tests.market_probe import later_fill

DAY, NEXT = date(2025, 7, 1), date(2025, 7, 2)
HEADERS = {"APCA-API-KEY-ID": "k", "APCA-API-SECRET-KEY": "s"}


def at(hh: int, mm: int, day: date = DAY) -> datetime:
    return datetime(day.year, day.month, day.day, hh, mm, tzinfo=ET)


class World:
    """A venue at 15:00 on 2025-07-01 with serve-sim's API over it and a feed following both."""

    def __init__(self, cfg: SimConfig | None = None) -> None:
        self.clock = SimClock(at(15, 0))
        self.venue = SimVenue(cfg or SimConfig(), "SPY", self.clock, ExchangeCalendar())
        self.api = AlpacaApi(self.venue, self.clock, api_key="k", secret_key="s")
        self.feed = StreamFeed(self.venue, self.clock, self.api.trading.order_json)

    def atm_call(self) -> str:
        """The call nearest the money: a bid of 0.01 for it rests."""
        mk = self.venue.market()
        assert mk is not None
        spot = mk.spot(self.clock.now())
        return min((c for c in mk.contracts() if c.right.value == "C"), key=lambda c: abs(c.strike - spot)).symbol

    def buy(self, symbol: str, limit: float, cid: str, qty: int = 1) -> dict:
        body = {"symbol": symbol, "side": "buy", "type": "limit", "limit_price": limit, "time_in_force": "day"}
        raw = json.dumps({**body, "qty": qty, "client_order_id": cid}).encode()
        reply = self.api.handle("POST", "/v2/orders", "", HEADERS, raw)
        assert reply.status == 200, reply.body
        return reply.body


def _run(steps: list[float]) -> tuple[World, list[StreamEvent], tuple[str, float, int]]:
    """Two orders at 15:00 (one to fill later, one never), then the clock moved by `steps` to 10:00 the next day,
    the feed caught up after each move."""
    w = World()
    mk = w.venue.market()
    assert mk is not None
    symbol, limit, k = later_fill(mk, w.clock.now())
    wanted = Wanted(frozenset({"SPY"}), frozenset({"SPY"}), frozenset({"SPY"}), frozenset({symbol}), True)
    events = w.feed.catch_up(wanted)
    w.buy(symbol, limit, "later")
    events += w.feed.catch_up(wanted)
    w.buy(symbol, 0.01, "never")
    events += w.feed.catch_up(wanted)
    for s in steps:
        w.clock.sleep(s)
        events += w.feed.catch_up(wanted)
    assert w.clock.now() == at(10, 0, NEXT)
    return w, events, (symbol, limit, k)


def _wire(events: list[StreamEvent]) -> list[tuple]:
    return [(e.at, e.feed, e.channel, e.symbol, json.dumps(e.message, default=str, sort_keys=True)) for e in events]


def test_the_timeline_is_the_same_however_the_clock_gets_there() -> None:
    """One jump of 19 hours or many random steps publish the same events at the same moments: nothing is
    published twice at the edge of two intervals, nothing is missed, a fill is stamped with its own minute."""
    total = (at(10, 0, NEXT) - at(15, 0)).total_seconds()
    rng = random.Random(5)
    steps: list[float] = []
    while sum(steps) < total:
        steps.append(min(rng.choice([0.5, 1, 30, 59, 60, 61, 137.5, 600, 3600]), total - sum(steps)))
    _, jump, (symbol, limit, k) = _run([total])
    _, stepped, _ = _run(steps)
    assert _wire(stepped) == _wire(jump)

    assert [e.at for e in jump] == sorted(e.at for e in jump)
    bars = [e for e in jump if e.channel == "bars"]
    starts = [e.message["t"] for e in bars]
    day1 = [at(15, 0) + timedelta(minutes=i) for i in range(60)]
    day2 = [at(9, 30, NEXT) + timedelta(minutes=i) for i in range(30)]
    assert starts == [t.astimezone(UTC) for t in day1 + day2]
    assert all(e.at == e.message["t"] + timedelta(minutes=1) for e in bars)
    trades = [e for e in jump if e.channel == "trades"]
    assert [t.message["p"] for t in trades] == [b.message["c"] for b in bars]

    quotes = [e for e in jump if e.channel == "quotes" and e.feed == "options"]
    assert [q.at for q in quotes] == [at(15, 0) + timedelta(minutes=i) for i in range(1, 60)]  # none on day 2
    assert all(q.symbol == symbol and q.message["t"] == q.at for q in quotes)

    updates = [
        (e.at, e.message["data"]["event"], e.message["data"]["order"]["client_order_id"])
        for e in jump
        if e.channel == "trade_updates"
    ]
    fill_at = at(9, 30) + timedelta(minutes=k)
    assert updates == [
        (at(15, 0), "new", "later"),
        (at(15, 0), "new", "never"),
        (fill_at, "fill", "later"),
        (at(16, 0), "expired", "never"),
    ]
    fill = next(e.message["data"] for e in jump if e.message.get("data", {}).get("event") == "fill")
    assert float(fill["price"]) <= limit and fill["qty"] == "1" and fill["position_qty"] == "1"
    assert fill["order"]["status"] == "filled" and fill["order"]["filled_at"] == fill["timestamp"]


def test_nobody_listening_is_told_nothing_and_a_later_listener_only_what_comes_after() -> None:
    w = World()
    w.buy(w.atm_call(), 0.01, "unheard")
    assert w.feed.catch_up(Wanted()) == []
    w.clock.sleep(120)
    assert w.feed.catch_up(Wanted()) == []
    w.buy(w.atm_call(), 0.01, "heard")
    events = w.feed.catch_up(Wanted(trade_updates=True))
    assert [(e.message["data"]["event"], e.message["data"]["order"]["client_order_id"]) for e in events] == [
        ("new", "heard")
    ]


def test_orders_placed_before_the_feed_are_history() -> None:
    w = World()
    w.buy(w.atm_call(), 0.01, "before")
    feed = StreamFeed(w.venue, w.clock, w.api.trading.order_json)
    assert feed.catch_up(Wanted(trade_updates=True)) == []
    reply = w.api.handle("DELETE", "/v2/orders", "", HEADERS)
    assert reply.status == 207
    [canceled] = feed.catch_up(Wanted(trade_updates=True))
    data = canceled.message["data"]
    assert (data["event"], data["order"]["status"], canceled.at) == ("canceled", "canceled", at(15, 0))


def test_partial_fills_are_told_one_execution_at_a_time() -> None:
    """Each execution's own quantity and price (out of the order's running average), the position after it, and the
    order as partially filled until the last one."""
    w = World(SimConfig(partial_fill_prob=1.0))
    symbol = w.atm_call()
    w.buy(symbol, 50.0, "parts", qty=5)
    updates = w.feed.catch_up(Wanted(trade_updates=True))
    for _ in range(10):
        w.clock.sleep(60)
        updates += w.feed.catch_up(Wanted(trade_updates=True))
    data = [u.message["data"] for u in updates]
    assert data[0]["event"] == "new" and data[-1]["event"] == "fill"
    fills = data[1:]
    assert len(fills) >= 2 and all(d["event"] == "partial_fill" for d in fills[:-1])
    assert all(d["order"]["status"] == "partially_filled" for d in fills[:-1])
    qtys = [int(d["qty"]) for d in fills]
    assert sum(qtys) == 5 and [int(d["position_qty"]) for d in fills] == [sum(qtys[: i + 1]) for i in range(len(qtys))]
    mk = w.venue.market()
    assert mk is not None
    for d in fills:  # each at the ask of its own minute
        assert float(d["price"]) == mk.bid_ask(symbol, mk.minute(datetime.fromisoformat(d["timestamp"])))[1]
    final = fills[-1]["order"]
    paid = sum(float(d["price"]) * int(d["qty"]) for d in fills) / 5
    assert abs(float(final["filled_avg_price"]) - paid) < 1e-6
