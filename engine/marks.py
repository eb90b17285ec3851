"""The held legs' quotes, and whether they are fresh enough to decide on, judged by the quotes' own timestamps.

A quote older than `data.max_staleness_s` blocks every decision that rests on its price (profit target,
spread stop, an entry's credit); past `data.outage_tolerance_s` the trading states halt, as they do on
stale bars. A time exit needs no price and is never blocked.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime

from loguru import logger

from engine.config import DataConfig
from engine.data import DataHealth, DataVerdict
from engine.models import OptionQuote
from engine.ports import MarketData

FRESH = DataVerdict(DataHealth.OK, "ok")


def freshness(quotes: Iterable[OptionQuote], now: datetime, cfg: DataConfig) -> DataVerdict:
    """The verdict on the oldest of `quotes` at `now`."""
    oldest = None
    for q in quotes:
        if oldest is None or q.ts < oldest.ts:
            oldest = q
    if oldest is None:
        return FRESH
    age = (now - oldest.ts).total_seconds()
    if age > cfg.outage_tolerance_s:
        return DataVerdict(DataHealth.OUTAGE, f"quote outage: {oldest.symbol} last quoted {age:.0f}s ago")
    if age > cfg.max_staleness_s:
        return DataVerdict(DataHealth.STALE, f"stale quote: {oldest.symbol} last quoted {age:.0f}s ago")
    return FRESH


class Marks:
    def __init__(self, market_data: MarketData, cfg: DataConfig) -> None:
        self._md = market_data
        self.cfg = cfg
        self.quotes: dict[str, OptionQuote] = {}
        self._said = FRESH

    def refresh(self, symbols: list[str], now: datetime) -> DataVerdict:
        """Fetch the quotes of `symbols` (the held legs) and judge them; a change of verdict is logged once."""
        self.quotes = self._md.quotes(symbols)
        verdict = freshness([q for s in symbols if (q := self.quotes.get(s)) is not None], now, self.cfg)
        if verdict.health is not self._said.health:
            (logger.info if verdict.tradable else logger.warning)(
                "marks fresh again" if verdict.tradable else f"{verdict.reason}: no decision rests on it"
            )
        self._said = verdict
        return verdict

    def clear(self) -> None:
        self.quotes = {}
        self._said = FRESH
