"""Market data for a streamed run: what the streams delivered while they are sound, REST while they are not.

The components (bar window, marks, discovery, orders) ask this object exactly as they ask the REST port, so
nothing above it knows whether a price came by websocket or by poll. It is fed once a step, on the machine's
thread, from the Feed port (`pump`), and decides there, from the recorded drains and the recorded clock, which
source answers: so replay takes the same decisions, the switches included, and each switch is journaled.

- The underlying's bars come from the stock stream once it has delivered continuously since the start of what
  is asked; anything older (the first look back, a gap while it was down) comes from REST.
- A followed contract's quote comes from the option stream unless the stream is down or silent, or the quote
  itself is older than `stream.silence_s` (a contract the stream stopped quoting): then from REST. Freshness is
  judged afterwards, whatever the source, by the quotes' own timestamps (engine.marks).
- The chain (scanning: greeks for the strategy) always comes from REST; its contracts are then followed, so the
  legs an entry picks are already streaming when it is priced.
- A stream is silent when it has delivered no data for `stream.silence_s` in market hours: connection messages
  (connected, authenticated, subscribed) are not data. The trading stream is judged by its connection only (it
  says nothing while no order moves); its updates only make the engine ask the broker for the order at once,
  and fills are booked from the broker's order record, so none is missed or counted twice.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import date, datetime

import numpy as np
from loguru import logger

from engine.config import StreamConfig
from engine.feed import FeedBatch, Stream
from engine.models import Bars, OptionQuote
from engine.ports import Feed, MarketData

KEEP_BARS = 480
"""Streamed bars kept: a whole regular session and more, so a look back never needs more than the cache."""

Journal = Callable[..., None]
"""Writes one audit record: (kind, **fields)."""


@dataclass
class _Line:
    """One stream's standing, as the engine judges it from what it was told."""

    up: bool = False
    why: str = "not connected yet"
    up_since: datetime | None = None
    last_data: datetime | None = None
    streaming: bool = False
    """The current source of this stream's data: True the stream, False REST."""


class StreamedMarket:
    """The MarketData port of a streamed run's components, over the REST port and the Feed port."""

    def __init__(self, rest: MarketData, feed: Feed, underlying: str, cfg: StreamConfig, journal: Journal) -> None:
        self._rest = rest
        self._feed = feed
        self.underlying = underlying
        self.cfg = cfg
        self._journal = journal
        self.lines = {s: _Line() for s in Stream}
        self._following: tuple[str, ...] | None = None
        self._bars: dict[int, tuple[float, float, float, float, float]] = {}
        self._covered_from: int | None = None
        """Start (epoch s) of the first bar of the stock stream's current unbroken run of bars."""
        self._quotes: dict[str, OptionQuote] = {}
        self._now: datetime | None = None

    # --- fed by the runner, once a step --------------------------------------------------------------
    def pump(self, now: datetime, in_hours: bool) -> FeedBatch:
        """Take what the streams delivered and judge each one; `in_hours` says whether data is due at all."""
        self._now = now
        if self._following is None:
            self._follow(())
        batch = self._feed.drain()
        for news in batch.news:
            line = self.lines[news.stream]
            line.up, line.why = news.up, news.why
            if news.up:
                line.up_since = now
            elif news.stream is Stream.STOCKS:
                self._covered_from = None  # what comes after a gap starts a new run
        if batch.bars is not None and len(batch.bars):
            self._add_bars(batch.bars)
            self.lines[Stream.STOCKS].last_data = now
        if batch.quotes:
            for q in batch.quotes:
                held = self._quotes.get(q.symbol)
                if held is None or q.ts >= held.ts:
                    self._quotes[q.symbol] = q
            self.lines[Stream.OPTIONS].last_data = now
        for stream, line in self.lines.items():
            self._judge(stream, line, now, in_hours)
        return batch

    def new_day(self, day: date) -> None:
        """A new session: yesterday's bars and quotes answer nothing today."""
        self._bars.clear()
        self._covered_from = None
        self._quotes.clear()
        logger.debug(f"streamed data cleared for {day}")

    def close(self) -> None:
        """Stop the streams (a replayed feed has nothing to stop)."""
        stop = getattr(self._feed, "close", None)
        if stop is not None:
            stop()

    def streaming(self, stream: Stream) -> bool:
        return self.lines[stream].streaming

    def _judge(self, stream: Stream, line: _Line, now: datetime, in_hours: bool) -> None:
        if not line.up:
            sound, why = False, line.why
        elif stream is Stream.TRADING:
            sound, why = True, "connected"
        elif stream is Stream.OPTIONS and not self._following:
            sound, why = line.streaming, "nothing followed"  # nothing is due: it stays as it was
        elif not in_hours:
            sound, why = line.streaming, "outside market hours"
        else:
            heard = line.last_data if line.last_data and line.up_since and line.last_data >= line.up_since else None
            if heard is None:
                sound, why = False, "connected; no data yet"
            else:
                quiet = (now - heard).total_seconds()
                sound = quiet <= self.cfg.silence_s
                why = "delivering" if sound else f"connected but silent for {quiet:.0f}s"
        if sound == line.streaming:
            return
        line.streaming = sound
        source = "stream" if sound else "poll"
        (logger.info if sound else logger.warning)(f"{stream} data: {source} ({why})")
        self._journal("feed", stream=stream.value, source=source, reason=why)

    # --- the MarketData port -------------------------------------------------------------------------
    def bars(self, symbol: str, start: datetime, end: datetime) -> Bars:
        lo, hi = int(start.timestamp()), int(end.timestamp())
        covered = self._covered_from
        if symbol != self.underlying or not self.streaming(Stream.STOCKS) or covered is None or lo < covered:
            return self._rest.bars(symbol, start, end)
        rows = [(ts, *v) for ts, v in sorted(self._bars.items()) if lo <= ts < hi]
        if not rows:
            return Bars.empty(symbol)
        cols = list(zip(*rows, strict=True))
        return Bars(symbol, np.array(cols[0], dtype=np.int64), *(np.array(c, dtype=float) for c in cols[1:]))

    def chain(self, underlying: str, expiry: date, strike_min: float, strike_max: float) -> list[OptionQuote]:
        quotes = self._rest.chain(underlying, expiry, strike_min, strike_max)
        self._follow(tuple(sorted(q.symbol for q in quotes)))
        return quotes

    def quotes(self, symbols: Sequence[str]) -> dict[str, OptionQuote]:
        wanted = tuple(symbols)
        self._follow(tuple(sorted(set(wanted))))
        if not self.streaming(Stream.OPTIONS):
            return self._rest.quotes(wanted)
        got: dict[str, OptionQuote] = {}
        ask: list[str] = []
        now = self._now
        for s in wanted:
            q = self._quotes.get(s)
            if q is None or now is None or (now - q.ts).total_seconds() > self.cfg.silence_s:
                ask.append(s)
            else:
                got[s] = q
        if ask:
            got.update(self._rest.quotes(ask))
        return got

    # --- internals -----------------------------------------------------------------------------------
    def _follow(self, options: tuple[str, ...]) -> None:
        if options == self._following:
            return
        self._feed.follow(self.underlying, options)
        self._following = options

    def _add_bars(self, bars: Bars) -> None:
        cols = (bars.open.tolist(), bars.high.tolist(), bars.low.tolist(), bars.close.tolist(), bars.volume.tolist())
        for ts, *v in zip(bars.ts.tolist(), *cols, strict=True):
            self._bars[int(ts)] = (v[0], v[1], v[2], v[3], v[4])
        if self._covered_from is None:
            self._covered_from = int(bars.ts[0])
        while len(self._bars) > KEEP_BARS:
            del self._bars[min(self._bars)]
