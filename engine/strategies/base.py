"""What a strategy is to the engine: a small interface, chosen by `strategy.kind`.

A strategy decides whether and what to trade; it never sends orders, never sees the broker, and whatever it
proposes still passes the risk gate (engine/risk.py) before an order goes out. Scanning asks it two things:

- `check_volatility(realized_vol)`: a Skip (with the reason, logged) when the day's volatility rules out an
  entry, else None;
- `propose(spot, contracts, quotes, years_left)`: a CondorPlan (four legs, long put / short put / short call /
  long call, each short leg with its wing) or a Skip saying why not. `years_left` is the calendar time to
  expiry, the time Alpaca's IV is quoted in, for quotes that come without a delta.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Protocol

from engine.book import CondorPlan
from engine.models import OptionContract, OptionQuote


@dataclass(frozen=True)
class Skip:
    reason: str


class Strategy(Protocol):
    def check_volatility(self, realized_vol: float) -> Skip | None: ...

    def propose(
        self,
        spot: float,
        contracts: dict[str, OptionContract],
        quotes: dict[str, OptionQuote],
        years_left: float | None = None,
    ) -> CondorPlan | Skip: ...
