"""What serve-sim's streams publish: everything that happened in the simulated market between the last moment
published and now, in time order.

serve-sim's clock moves only when a client advances it (POST /sim/advance), so nothing happens between two
requests; after each request that can change something, the transport asks for what happened since the last
one: each minute bar completed in the interval (and the trade and quote derived from it), the quote of each
subscribed option for every minute that started in it, and the trade updates of every order (trade_updates.py).
No sockets or threads here (stream_server.py carries the events), so the timeline can be checked by a plain call.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from loguru import logger

from engine.sim import stream_wire as wire
from engine.sim.errors import SimError
from engine.sim.market import SimMarket
from engine.sim.params import Clock
from engine.sim.trade_updates import OrderJson, OrderWatch
from engine.sim.venue import SimVenue

BAR = timedelta(minutes=1)


@dataclass(frozen=True, slots=True)
class Wanted:
    """What the open connections subscribe to, across them: only that is computed ("*" is every symbol)."""

    bars: frozenset[str] = frozenset()
    stock_quotes: frozenset[str] = frozenset()
    stock_trades: frozenset[str] = frozenset()
    option_quotes: frozenset[str] = frozenset()
    trade_updates: bool = False


@dataclass(frozen=True, slots=True)
class StreamEvent:
    """One message to publish: the simulated moment it happened at, where it goes, and the message itself."""

    at: datetime
    feed: str
    """"stocks", "options" or "trading"."""
    channel: str
    """"bars", "quotes", "trades" or "trade_updates"."""
    symbol: str
    message: dict[str, Any]


def _wants(symbols: frozenset[str], symbol: str) -> bool:
    return symbol in symbols or "*" in symbols


class StreamFeed:
    """The simulated market's timeline, told once: each call returns what happened since the previous one."""

    def __init__(self, venue: SimVenue, clock: Clock, order_json: OrderJson) -> None:
        self._venue = venue
        self._clock = clock
        self._at = clock.now()
        self._market = self._current_market()
        self._orders = OrderWatch(venue.exchange, order_json)
        self._orders.until(self._at, self._at)  # the orders there already are history, not news

    def catch_up(self, wanted: Wanted) -> list[StreamEvent]:
        """Everything in (last moment, now], oldest first; at the same moment, market data before trade updates
        (a quote comes before the fill it makes). Trade updates are followed even when nobody listens, so a
        listener that comes later is told only what happens after it came."""
        start, end = self._at, self._clock.now()
        events: list[StreamEvent] = []
        if end > start:
            events += self._market_events(self._market, start, end, wanted)
        updates = self._orders.until(start, end)  # on the session the exchange is on, before the venue rolls on
        if end > start:
            current = self._current_market()
            if current is not None and current is not self._market:
                events += self._market_events(current, start, end, wanted)
            self._market, self._at = current, end
        if wanted.trade_updates:
            events += [StreamEvent(u.at, "trading", "trade_updates", "", u.message) for u in updates]
        events.sort(key=lambda e: e.at)
        return events

    def _current_market(self) -> SimMarket | None:
        """The venue's market of now; a day whose data cannot be read publishes nothing (REST answers the error)."""
        try:
            return self._venue.market()
        except SimError as exc:
            logger.warning(f"streams: no market to publish at {self._clock.now().isoformat()}: {exc}")
            return None

    def _market_events(self, mk: SimMarket | None, lo: datetime, hi: datetime, wanted: Wanted) -> list[StreamEvent]:
        if mk is None:
            return []
        return self._bars(mk, lo, hi, wanted) + self._option_quotes(mk, lo, hi, wanted.option_quotes)

    @staticmethod
    def _bars(mk: SimMarket, lo: datetime, hi: datetime, wanted: Wanted) -> list[StreamEvent]:
        """Each bar completed in (lo, hi], published at its end, after the trade and quote derived from it (one
        round lot at the close, a cent either side of it, a millisecond before the end): the simulator has bars,
        not ticks, and this way the last trade and the quote's mid are the close the engine takes for spot."""
        symbol = mk.underlying
        want_bars, want_quotes = _wants(wanted.bars, symbol), _wants(wanted.stock_quotes, symbol)
        want_trades = _wants(wanted.stock_trades, symbol)
        if not (want_bars or want_quotes or want_trades):
            return []
        first_start = datetime.fromtimestamp(math.floor(lo.timestamp()) - 59, tz=UTC)  # bar start + 60 > lo
        b = mk.bars_between(first_start, hi, hi)
        out: list[StreamEvent] = []
        cols = (b.ts.tolist(), b.open.tolist(), b.high.tolist(), b.low.tolist(), b.close.tolist(), b.volume.tolist())
        for ts, o, h, low, c, v in zip(*cols, strict=True):
            done = datetime.fromtimestamp(int(ts), tz=UTC) + BAR
            last = done - wire.DERIVED_LEAD
            if want_trades:
                trade = wire.stock_trade(symbol, last, c, int(ts) // 60)
                out.append(StreamEvent(last, "stocks", "trades", symbol, trade))
            if want_quotes:
                out.append(StreamEvent(last, "stocks", "quotes", symbol, wire.stock_quote(symbol, last, c)))
            if want_bars:
                out.append(StreamEvent(done, "stocks", "bars", symbol, wire.bar(symbol, ts, o, h, low, c, v)))
        return out

    @staticmethod
    def _option_quotes(mk: SimMarket, lo: datetime, hi: datetime, symbols: frozenset[str]) -> list[StreamEvent]:
        """For each minute starting in (lo, hi], the quote of each listed symbol that is new that minute (its
        timestamp moved: every minute on the model, only when the data shows a new one on real quotes), with the
        market's own timestamp. Nothing outside regular hours, nor for a contract without an ask that minute."""
        listed = sorted(s for s in symbols if mk.contract(s) is not None)
        if not listed:
            return []
        first = max(0, math.floor((lo.timestamp() - mk.open_s) / 60) + 1)
        last = min(mk.minutes - 1, math.floor((hi.timestamp() - mk.open_s) / 60))
        out: list[StreamEvent] = []
        if first > last:
            return out
        before_first = mk.minute_start(first - 1) if first > 0 else None
        previous = {s: None if before_first is None else mk.quote(s, before_first) for s in listed}
        for m in range(first, last + 1):
            t = mk.minute_start(m)
            for symbol in listed:
                q = mk.quote(symbol, t)
                before, previous[symbol] = previous[symbol], q  # each minute's quote is the next one's "before"
                if q is None or (before is not None and before.ts == q.ts):
                    continue
                out.append(StreamEvent(t, "options", "quotes", symbol, wire.option_quote(q)))
        return out
