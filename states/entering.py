"""Entering: work the entry order until it fills, or cancel it (confirmed) and go back to scanning."""

from __future__ import annotations

from engine.context import STAY, Context, Step
from engine.orders import Progress, progress_of
from states import guard


def handle(ctx: Context) -> Step:
    if step := guard.kill_switch(ctx):
        return step
    if ctx.working is None:
        plan = ctx.plan
        assert plan is not None, "Entering without a plan"
        placed = ctx.parts.orders.place(
            "entry", ctx.book.trades_today + 1, ctx.day, plan.legs, plan.qty, ctx.now, hold=ctx.hold_working
        )
        progress = progress_of(placed)
    else:
        progress = ctx.parts.orders.poll(ctx.working, ctx.now)
    w = ctx.working
    assert w is not None, "the entry being worked is held from the moment it is placed"
    if progress is Progress.FILLED:
        spread = ctx.open_spread_from(w)
        ctx.working = None
        fill = f"{spread.qty}x at {spread.entry_price:+.2f} ({w.order.client_order_id})"
        return Step("filled", f"trade {spread.trade_no} filled {fill}")
    if progress is Progress.DEAD:
        ctx.working, ctx.plan = None, None
        return Step("abandoned", f"entry {w.dead_reason}")
    return STAY
