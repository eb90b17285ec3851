"""Entering: work the Book's plan as one entry order until it fills, or cancel it (confirmed) and scan again."""

from __future__ import annotations

from engine.context import STAY, Context, Step
from engine.orders import OrderKind, Progress, progress_of
from states import guard
from states.common import opened


def handle(ctx: Context) -> Step:
    if step := guard.kill_switch(ctx):
        return step
    book = ctx.book
    if book.working is None:
        plan = book.plan
        assert plan is not None, "Entering without a plan"
        placed = ctx.parts.orders.place(
            OrderKind.ENTRY, book.trades_today + 1, ctx.days.day, plan.legs, plan.qty, ctx.now, hold=book.hold
        )
        progress = progress_of(placed)
    else:
        progress = ctx.parts.orders.poll(book.working, ctx.now)
    w = book.working
    assert w is not None, "the entry being worked is held from the moment it is placed"
    if progress is Progress.FILLED:
        spread = opened(ctx, w)
        book.working = None
        fill = f"{spread.qty}x at {spread.entry_price:+.2f} ({w.order.client_order_id})"
        return Step("filled", f"trade {spread.trade_no} filled {fill}")
    if progress is Progress.DEAD:
        book.working, book.plan = None, None
        return Step("abandoned", f"entry {w.dead_reason}")
    return STAY
