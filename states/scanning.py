"""Scanning: look for an entry; only a plan that passes every pre-trade risk check becomes a signal.

It asks the components (bars, discovery, strategy, risk) and hands the plan on to Entering in the Book.
"""

from __future__ import annotations

from engine.context import STAY, Context, Step
from engine.marks import freshness
from engine.orders import OrderKind
from engine.pricing import calendar_years
from engine.strategies.base import Skip
from states import guard


def handle(ctx: Context) -> Step:
    book, s = ctx.book, ctx.schedule
    if book.open:
        return Step("adopted", f"{len(book.open)} open condor(s) taken over from the broker")
    if book.working is not None and book.working.kind is OrderKind.ENTRY:
        return Step("adopted_entry", f"working entry {book.working.order.client_order_id} taken over from the broker")
    if ctx.now >= s.hard_exit:
        return Step("session_end", f"hard exit {s.hard_exit:%H:%M} ET reached, flat")
    if step := guard.kill_switch(ctx):
        return step
    if ctx.now >= s.entry_end:
        ctx.parts.declines.note("entry window over; flat until the hard exit")
        return Step(None, "entry window over; flat", wait=(s.hard_exit - ctx.now).total_seconds())
    p = ctx.parts
    p.bars.refresh(ctx.now)
    verdict = p.bars.verdict(ctx.now)
    if step := guard.data_outage(verdict):
        return step
    ctx.refresh_account()
    if step := guard.loss_limit(ctx):
        return step
    view = ctx.risk_view()
    if blocked := p.risk.entries_allowed(view):
        return _wait(ctx, "; ".join(blocked))
    if not verdict.tradable:
        return _wait(ctx, verdict.reason)
    if skip := p.strategy.check_volatility(p.bars.realized_vol()):
        return _wait(ctx, skip.reason)
    spot = p.bars.spot
    assert spot is not None
    contracts = p.discovery.contracts(ctx.days.day, spot)
    if not contracts:
        return _wait(ctx, f"no contracts expiring {ctx.days.day} near {spot:.2f}")
    quotes = p.discovery.quotes(ctx.days.day, contracts)
    years_left = float(calendar_years((s.close - ctx.now).total_seconds()))
    plan = p.strategy.propose(spot, contracts, quotes, years_left)
    if isinstance(plan, Skip):
        return _wait(ctx, plan.reason)
    if not (fresh := freshness((quotes[leg.symbol] for leg in plan.legs), ctx.now, ctx.cfg.data)).tradable:
        return _wait(ctx, fresh.reason)
    if failed := p.risk.pre_trade(plan, view):
        return _wait(ctx, "risk gate: " + "; ".join(failed))
    book.plan = plan
    p.declines.clear()
    kind = "credit" if plan.mid < 0 else "debit"
    return Step(
        "signal",
        f"{plan.direction} iron condor {'/'.join(f'{k:g}' for k in plan.strikes)} x{plan.qty}, "
        f"mid {kind} {abs(plan.mid):.2f}, max loss {plan.max_loss:.0f}, spot {spot:.2f}",
    )


def _wait(ctx: Context, why: str) -> Step:
    ctx.parts.declines.note(why)
    return STAY
