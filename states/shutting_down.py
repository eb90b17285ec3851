"""ShuttingDown: cancel what is working, flatten if configured and still possible; then the run is over."""

from __future__ import annotations

from engine.context import STAY, Context, Step
from states.common import cancel_entry, drop_working, work_exit

DONE = Step(reason="shut down", finished=True)


def handle(ctx: Context) -> Step:
    if not cancel_entry(ctx, "shutting down"):
        return STAY
    market_open = ctx.session is not None and ctx.schedule.is_open(ctx.now)
    if ctx.book.open and ctx.cfg.risk.close_positions_on_shutdown and market_open:
        ctx.parts.marks.refresh(ctx.book.held_symbols, ctx.now)
        work_exit(ctx, lambda s: "close_positions_on_shutdown", urgent=True)
        if ctx.book.open:
            return STAY
    if not drop_working(ctx, "shutting down"):
        return STAY
    return DONE
