"""Iron condor: short (credit, profits if SPY stays in a range) or long (debit, profits on a big move).

Short strikes are picked by delta (closest to the configured delta on each side) or by distance from
spot; wings sit `wing_width` further out. A volatility filter on realized volatility gates entries.
"""

from __future__ import annotations

from engine.book import CondorPlan
from engine.combo import natural, net_mid
from engine.config import StrategyConfig
from engine.errors import DataError
from engine.models import CONTRACT_MULTIPLIER, Intent, Leg, OptionContract, OptionQuote, Right, Side
from engine.pricing import black_scholes
from engine.strategies.base import Skip


class IronCondor:
    def __init__(self, cfg: StrategyConfig, multiplier: int = CONTRACT_MULTIPLIER) -> None:
        self.cfg = cfg
        self.multiplier = multiplier

    def check_volatility(self, realized_vol: float) -> Skip | None:
        c = self.cfg
        if not c.min_realized_vol <= realized_vol <= c.max_realized_vol:
            return Skip(
                f"volatility filter: realized vol {realized_vol:.3f} outside "
                f"[{c.min_realized_vol:.3f}, {c.max_realized_vol:.3f}]"
            )
        return None

    def propose(
        self,
        spot: float,
        contracts: dict[str, OptionContract],
        quotes: dict[str, OptionQuote],
        years_left: float | None = None,
    ) -> CondorPlan | Skip:
        """`years_left`, calendar years to expiry (`calendar_years`, the time Alpaca's IV is quoted in), lets a
        quote without greeks get its delta from its own IV."""
        by_key = {(c.right, c.strike): c for c in contracts.values() if c.symbol in quotes}
        shorts = self._short_strikes(spot, by_key, quotes, years_left)
        if isinstance(shorts, Skip):
            return shorts
        sp, sc = shorts
        w = self.cfg.wing_width
        lp, lc = sp - w, sc + w
        wanted = [(Right.PUT, lp), (Right.PUT, sp), (Right.CALL, sc), (Right.CALL, lc)]
        missing = [f"{r}{k:g}" for r, k in wanted if (r, k) not in by_key]
        if missing:
            return Skip(f"no quoted contract for {', '.join(missing)}")
        inner = Side.SELL if self.cfg.direction == "short" else Side.BUY
        outer = Side.BUY if inner is Side.SELL else Side.SELL
        sides = [outer, inner, inner, outer]
        legs = tuple(
            Leg(by_key[key].symbol, side, Intent.BUY_TO_OPEN if side is Side.BUY else Intent.SELL_TO_OPEN)
            for key, side in zip(wanted, sides, strict=True)
        )
        try:
            mid, nat = net_mid(legs, quotes), natural(legs, quotes)
        except DataError as exc:
            return Skip(str(exc))
        if self.cfg.direction == "short" and -mid < self.cfg.min_credit:
            return Skip(f"credit {-mid:.2f} below min_credit {self.cfg.min_credit:.2f}")
        if self.cfg.direction == "long" and mid >= w:
            return Skip(f"debit {mid:.2f} not below the wing width {w:g}")
        return CondorPlan(
            direction=self.cfg.direction,
            legs=legs,
            strikes=(lp, sp, sc, lc),
            wing_width=w,
            qty=self.cfg.contracts,
            mid=mid,
            natural=nat,
            multiplier=self.multiplier,
        )

    def _short_strikes(
        self,
        spot: float,
        by_key: dict[tuple[Right, float], OptionContract],
        quotes: dict[str, OptionQuote],
        years_left: float | None,
    ) -> tuple[float, float] | Skip:
        if self.cfg.short_strike_rule == "distance":
            d = self.cfg.short_distance
            puts = [k for (r, k) in by_key if r is Right.PUT and k <= spot - d]
            calls = [k for (r, k) in by_key if r is Right.CALL and k >= spot + d]
            if not puts or not calls:
                return Skip(f"no strikes {d:g} points from spot {spot:.2f}")
            return max(puts), min(calls)
        target = self.cfg.short_delta
        best: dict[Right, tuple[float, float]] = {}
        for (right, strike), c in by_key.items():
            if (right is Right.PUT and strike >= spot) or (right is Right.CALL and strike <= spot):
                continue
            wing = strike - self.cfg.wing_width if right is Right.PUT else strike + self.cfg.wing_width
            if (right, wing) not in by_key:
                continue
            delta = _delta(quotes[c.symbol], spot, strike, right, years_left)
            if delta is None:
                continue
            gap = abs(abs(delta) - target)
            if gap > self.cfg.short_delta_tolerance:
                continue
            if right not in best or gap < best[right][0]:
                best[right] = (gap, strike)
        if Right.PUT not in best or Right.CALL not in best:
            return Skip(
                f"no out-of-the-money strike with its wing quoted and a |delta| within "
                f"{self.cfg.short_delta_tolerance:g} of {target:g}"
            )
        return best[Right.PUT][1], best[Right.CALL][1]


def _delta(q: OptionQuote, spot: float, strike: float, right: Right, years_left: float | None) -> float | None:
    """The quote's own delta; else Black-Scholes from the quote's IV (Alpaca omits greeks on some snapshots).

    The IV is Alpaca's, quoted in calendar time, so `years_left` must be calendar years too: read over
    trading time (about 5.3 times as many years intraday) the same IV makes sigma sqrt(T) 2.3 times too
    large, overstates every out-of-the-money delta and pushes the short strikes too far out.
    """
    if q.delta is not None:
        return q.delta
    if q.iv is None or years_left is None or q.iv <= 0:
        return None
    _, delta = black_scholes(spot, strike, years_left, q.iv, 0.0, right is Right.CALL)
    return float(delta)
