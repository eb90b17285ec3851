"""The risk gate every order passes, and the rules that end a trade or the day.

Kept apart from the strategy so that no strategy, however configured, can trade around it. Daily
P&L is realized + unrealized (account equity against the previous close), never unrealized alone.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime, time

from engine.book import CondorPlan, Spread
from engine.calendar import ET
from engine.config import RiskConfig, StrategyConfig
from engine.models import Account, Intent, Leg, OptionQuote, Right, Side
from engine.occ import parse_occ


@dataclass(frozen=True)
class RiskView:
    """What the gate looks at, gathered by the caller so the checks stay pure."""

    now: datetime
    entry_start: datetime
    entry_end: datetime
    daily_pnl: float
    trades_today: int
    open_spreads: int
    account: Account


def daily_pnl(account: Account) -> float:
    return account.equity - account.last_equity


def session_time(day: date, wall: time, close: datetime) -> datetime:
    """A configured ET wall time on the session's day, never later than the session's close."""
    return min(datetime.combine(day, wall, tzinfo=ET), close.astimezone(ET))


class RiskGate:
    def __init__(self, cfg: RiskConfig, strategy: StrategyConfig) -> None:
        self.cfg = cfg
        self.strategy = strategy

    def entries_allowed(self, v: RiskView) -> list[str]:
        """Reasons no new trade may start now (empty: entries allowed)."""
        c, why = self.cfg, []
        if not v.entry_start <= v.now < v.entry_end:
            why.append(f"outside the entry window {v.entry_start:%H:%M}-{v.entry_end:%H:%M} ET")
        if v.trades_today >= c.max_daily_trades:
            why.append(f"max_daily_trades reached ({v.trades_today}/{c.max_daily_trades})")
        if v.open_spreads >= c.max_open_spreads:
            why.append(f"max_open_spreads reached ({v.open_spreads})")
        if v.daily_pnl <= -c.max_daily_loss:
            why.append(f"daily loss {v.daily_pnl:.2f} at or beyond max_daily_loss {c.max_daily_loss:.2f}")
        if v.daily_pnl >= c.target_daily_profit:
            why.append(f"target_daily_profit reached ({v.daily_pnl:.2f} >= {c.target_daily_profit:.2f})")
        return why

    def pre_trade(self, plan: CondorPlan, v: RiskView) -> list[str]:
        """Every check an entry order must pass; the reasons it fails (empty: it may be sent)."""
        c = self.cfg
        why = self.entries_allowed(v)
        why += structure_problems(plan)
        if plan.max_loss > c.max_loss_per_trade:
            why.append(f"max loss {plan.max_loss:.2f} above max_loss_per_trade {c.max_loss_per_trade:.2f}")
        budget = c.max_daily_loss + min(v.daily_pnl, 0.0)
        if plan.max_loss > budget:
            why.append(f"max loss {plan.max_loss:.2f} above the day's remaining loss budget {budget:.2f}")
        if plan.max_loss > v.account.options_buying_power:
            why.append(
                f"max loss {plan.max_loss:.2f} above options buying power {v.account.options_buying_power:.2f}"
            )
        gap, room = plan.natural - plan.mid, c.spread_stop_pct * abs(plan.natural)
        if gap > c.max_entry_gap * room + 1e-9:
            why.append(
                f"bid-ask gap: natural {plan.natural:+.2f} is {gap:.2f} from mid {plan.mid:+.2f}, more than "
                f"{c.max_entry_gap:.0%} of the spread stop's {room:.2f} (the gap alone could stop it out)"
            )
        if v.account.options_level < 3:
            why.append(f"options level {v.account.options_level} < 3: spreads not allowed")
        return why

    def order_problems(self, kind: str, legs: tuple[Leg, ...], qty: int) -> list[str]:
        return order_problems(kind, legs, qty, self.strategy.contracts)

    def loss_limit_hit(self, pnl: float) -> bool:
        return pnl <= -self.cfg.max_daily_loss

    @staticmethod
    def forced_exit(spread: Spread, now: datetime, hard_exit: datetime) -> str | None:
        """The exits that need no price: a spread reconciliation found broken, and the time exit."""
        if spread.force_exit:
            return spread.force_exit
        if now >= hard_exit:
            return f"time exit at {hard_exit:%H:%M} ET"
        return None

    def exit_reason(
        self, spread: Spread, quotes: dict[str, OptionQuote], now: datetime, hard_exit: datetime
    ) -> str | None:
        """Why this spread must be closed now (None: keep it); `quotes` must be fresh enough to decide on."""
        if why := self.forced_exit(spread, now, hard_exit):
            return why
        pnl = spread.pnl(quotes)
        if pnl >= self.cfg.profit_target_pct * spread.max_profit:
            return f"profit target: {pnl:.2f} >= {self.cfg.profit_target_pct:.0%} of max profit {spread.max_profit:.2f}"
        stop = self.cfg.spread_stop_pct * spread.premium * spread.multiplier * spread.qty
        if pnl <= -stop:
            return f"spread stop: {pnl:.2f} <= -{stop:.2f}"
        return None


def order_problems(kind: str, legs: tuple[Leg, ...], qty: int, max_qty: int) -> list[str]:
    """The gate in the order path, for every attempt of every order whatever sent it (engine/orders.py asks it
    before anything reaches the broker): an entry only opens a defined-risk position of at most `max_qty`
    contracts, every sold leg covered by a bought leg of the same right and size; an exit or a flatten only
    reduces, every leg a closing leg."""
    if kind == "exit":
        opening = [leg.symbol for leg in legs if leg.intent not in (Intent.BUY_TO_CLOSE, Intent.SELL_TO_CLOSE)]
        return [f"an exit may only reduce: {', '.join(opening)} would open"] if opening else []
    why = []
    if qty > max_qty:
        why.append(f"{qty} contracts above strategy.contracts {max_qty}")
    if any(leg.intent not in (Intent.BUY_TO_OPEN, Intent.SELL_TO_OPEN) for leg in legs):
        why.append("entry legs must all be opening legs")
    for right in (Right.PUT, Right.CALL):
        on_side = [leg for leg in legs if parse_occ(leg.symbol).right is right]
        sold = sum(leg.ratio_qty for leg in on_side if leg.side is Side.SELL)
        bought = sum(leg.ratio_qty for leg in on_side if leg.side is Side.BUY)
        if sold > bought:
            why.append(f"{sold - bought} sold {right.name.lower()}(s) without a wing")
    return why


def structure_problems(plan: CondorPlan) -> list[str]:
    """Four distinct opening legs, strikes in order, and on each side one bought and one sold leg of equal size:
    so every short leg has its wing and the position's loss is bounded by the wing width."""
    why = []
    if len(plan.legs) != 4 or len({leg.symbol for leg in plan.legs}) != 4:
        why.append("an iron condor needs four distinct legs")
        return why
    lp, sp, sc, lc = plan.strikes
    if not lp < sp <= sc < lc:
        why.append(f"strikes out of order: {plan.strikes}")
    if any(leg.intent not in (Intent.BUY_TO_OPEN, Intent.SELL_TO_OPEN) for leg in plan.legs):
        why.append("entry legs must all be opening legs")
    for side_legs in (plan.legs[:2], plan.legs[2:]):
        a, b = side_legs
        if a.side == b.side or a.ratio_qty != b.ratio_qty:
            why.append(f"{a.symbol}/{b.symbol}: a short leg without its wing")
    return why
