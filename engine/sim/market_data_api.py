"""Alpaca's market data endpoints (stock bars, option snapshots and chains) over a SimVenue.

Only what the venue knows at the simulated moment is served: bars up to now, quotes of today's listed
contracts in regular hours. Symbols without data are left out, as Alpaca leaves them out, rather than refused.
Not thread-safe: the transport serializes every call.
"""

from __future__ import annotations

import math
from datetime import datetime
from datetime import time as dtime
from typing import Any

from engine.models import OptionQuote
from engine.occ import parse_occ
from engine.sim import alpaca_json as aj
from engine.sim.api_call import Reply, Request
from engine.sim.errors import SimDataError
from engine.sim.params import NEW_YORK as ET
from engine.sim.params import SimulatedClock
from engine.sim.query import bad
from engine.sim.venue import SimVenue

_FEEDS = frozenset({"iex", "sip", "delayed_sip", "otc", "boats", "overnight"})
_OPTION_FEEDS = frozenset({"indicative", "opra"})
_TIMEFRAMES = frozenset({"1Min", "1T"})


class MarketDataApi:
    """The market data endpoints, each a handler from a Request to a Reply."""

    def __init__(self, venue: SimVenue, clock: SimulatedClock) -> None:
        self.venue = venue
        self.clock = clock

    def bars(self, req: Request) -> Reply:
        q = req.query
        symbols = sorted(set(q.items("symbols")))
        if not symbols:
            raise bad("symbols", "required")
        if q.get("timeframe") not in _TIMEFRAMES:
            raise bad("timeframe", f"{q.get('timeframe')!r}: the simulator serves 1Min bars only")
        q.choice("feed", _FEEDS, "sip")
        limit = q.integer("limit", 1000, 1, 10_000)
        descending = q.choice("sort", ("asc", "desc"), "asc") == "desc"
        now = self.clock.now()
        start = q.moment("start") or datetime.combine(now.astimezone(ET).date(), dtime(0), tzinfo=ET)
        end = q.moment("end", end=True) or now
        rows: list[tuple[str, dict[str, Any]]] = []
        for symbol in symbols:
            try:
                bars = self.venue.bars(symbol, start, end)
            except SimDataError:
                continue  # Alpaca leaves symbols without bars out
            cols = (bars.ts.tolist(), bars.open.tolist(), bars.high.tolist(), bars.low.tolist())
            one = [aj.bar_json(*r) for r in zip(*cols, bars.close.tolist(), bars.volume.tolist(), strict=True)]
            rows.extend((symbol, b) for b in (one[::-1] if descending else one))
        page, token = q.page(rows, limit)
        out: dict[str, list[dict[str, Any]]] = {}
        for symbol, bar in page:
            out.setdefault(symbol, []).append(bar)
        return Reply(200, {"bars": out, "next_page_token": token})

    def _snapshot_map(self, quotes: list[OptionQuote]) -> dict[str, Any]:
        mk = self.venue.market()
        ordered = sorted(quotes, key=lambda x: x.symbol)
        if mk is None:
            return {qt.symbol: aj.snapshot_json(qt, None) for qt in ordered}
        listed = [(qt, mk.contract(qt.symbol)) for qt in ordered]
        rows = [(qt, c, mk.spot(qt.ts)) for qt, c in listed if c is not None]
        computed = aj.greeks(rows, mk.session.close, self.venue.cfg.rate)
        found = {qt.symbol: g for (qt, _, _), g in zip(rows, computed, strict=True)}
        return {qt.symbol: aj.snapshot_json(qt, found.get(qt.symbol)) for qt in ordered}

    def chain(self, req: Request) -> Reply:
        """The chain of today's expiry; empty outside regular hours, when the simulator has no live quotes."""
        q = req.query
        q.choice("feed", _OPTION_FEEDS, "indicative")
        limit = q.integer("limit", 100, 1, 1000)
        kind = q.choice("type", ("call", "put"), None)
        mk = self.venue.market()
        quotes: list[OptionQuote] = []
        root = q.get("root_symbol")
        underlying = req.params["underlying"]
        if mk is not None and underlying == self.venue.underlying and root in (None, underlying):
            day = mk.session.day
            lo, hi = q.number("strike_price_gte"), q.number("strike_price_lte")
            if q.covers_expiry(day):
                try:
                    quotes = self.venue.chain(
                        underlying, day, -math.inf if lo is None else lo, math.inf if hi is None else hi
                    )
                except SimDataError:
                    quotes = []
        if kind is not None:
            quotes = [x for x in quotes if (parse_occ(x.symbol).right.value == "C") == (kind == "call")]
        quotes.sort(key=lambda x: x.symbol)
        page, token = q.page(quotes, limit)
        return Reply(200, {"snapshots": self._snapshot_map(page), "next_page_token": token})

    def snapshots(self, req: Request) -> Reply:
        """Snapshots of listed symbols; unknown ones are left out, as Alpaca leaves them out."""
        q = req.query
        symbols = q.items("symbols")
        if not symbols:
            raise bad("symbols", "required")
        q.choice("feed", _OPTION_FEEDS, "indicative")
        limit = q.integer("limit", 100, 1, 1000)
        try:
            quotes = list(self.venue.quotes(symbols).values())
        except SimDataError:
            quotes = []
        quotes.sort(key=lambda x: x.symbol)
        page, token = q.page(quotes, limit)
        return Reply(200, {"snapshots": self._snapshot_map(page), "next_page_token": token})
