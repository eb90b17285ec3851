"""Today's option contracts for the underlying within the strike range around spot, and their quotes.

Contracts do not change during a session, so they are fetched once per session and again only when
spot has drifted far enough that the range no longer covers what the strategy may pick; their quotes
are asked for on every scan.
"""

from __future__ import annotations

from datetime import date

from engine.models import OptionContract, OptionQuote
from engine.ports import Broker, MarketData


class ContractDiscovery:
    def __init__(
        self, broker: Broker, market_data: MarketData, underlying: str, strike_range: float, wing_width: float
    ) -> None:
        self._broker = broker
        self._md = market_data
        self.underlying = underlying
        self.strike_range = strike_range
        self._margin = strike_range + wing_width
        self._day: date | None = None
        self._center = 0.0
        self._by_symbol: dict[str, OptionContract] = {}

    def contracts(self, day: date, spot: float) -> dict[str, OptionContract]:
        """Contracts expiring `day` with strikes within spot ± range (+ room for the wings), by symbol."""
        if self._day != day or abs(spot - self._center) > self.strike_range / 2:
            found = self._broker.contracts(self.underlying, day, spot - self._margin, spot + self._margin)
            self._by_symbol = {
                c.symbol: c for c in found if c.expiry == day and c.underlying == self.underlying
            }
            self._day, self._center = day, spot
        lo, hi = spot - self._margin, spot + self._margin
        return {s: c for s, c in self._by_symbol.items() if lo <= c.strike <= hi}

    def quotes(self, day: date, contracts: dict[str, OptionContract]) -> dict[str, OptionQuote]:
        """The chain's quotes over the strikes of `contracts` (found by `contracts` for the same spot)."""
        strikes = [c.strike for c in contracts.values()]
        return {q.symbol: q for q in self._md.chain(self.underlying, day, min(strikes), max(strikes))}
