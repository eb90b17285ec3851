"""Iron butterfly: an iron condor whose two short strikes are one, the strike nearest spot.

Short (credit): the most premium an iron structure collects, lost fastest when spot moves; long (debit): a
cheap bet on a move. The wings sit `wing_width` either side, and everything else (the volatility filter,
the credit and debit limits, the legs' order and sides) is the iron condor's.
"""

from __future__ import annotations

from engine.models import OptionContract, OptionQuote, Right
from engine.strategies.base import Skip
from engine.strategies.iron_condor import IronCondor


class IronButterfly(IronCondor):
    def _short_strikes(
        self,
        spot: float,
        by_key: dict[tuple[Right, float], OptionContract],
        quotes: dict[str, OptionQuote],
        years_left: float | None,
    ) -> tuple[float, float] | Skip:
        w = self.cfg.wing_width
        candidates = [
            k
            for (right, k) in by_key
            if right is Right.PUT and (Right.CALL, k) in by_key and (Right.PUT, k - w) in by_key
            and (Right.CALL, k + w) in by_key
        ]  # fmt: skip
        if not candidates:
            return Skip(f"no strike near {spot:.2f} with its put, its call and both {w:g}-point wings quoted")
        center = min(candidates, key=lambda k: (abs(k - spot), k))
        return center, center
