"""ShuttingDown: cancel what is working, flatten if configured and still possible, write the report, close."""

from __future__ import annotations

from engine.context import STAY, Context, Step
from states.common import cancel_entry, drop_working, work_exit


def handle(ctx: Context) -> Step:
    if not cancel_entry(ctx, "shutting down"):
        return STAY
    market_open = ctx.session is not None and ctx.session.open <= ctx.now < ctx.session.close
    if ctx.book.open and ctx.cfg.risk.close_positions_on_shutdown and market_open:
        ctx.marks = ctx.market_data.quotes([leg.symbol for s in ctx.book.open for leg in s.legs])
        work_exit(ctx, lambda s: "close_positions_on_shutdown", urgent=True)
        if ctx.book.open:
            return STAY
    if not drop_working(ctx, "shutting down"):
        return STAY
    ctx.finish()
    return STAY
