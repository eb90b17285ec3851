"""Closing condors, shared by Monitoring, Halted and ShuttingDown: one combo order per condor, never leg by leg."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import replace

from loguru import logger

from engine.book import ClosedTrade, Spread
from engine.context import Context
from engine.models import Right
from engine.occ import parse_occ
from engine.orders import Progress, Working, progress_of


def work_exit(ctx: Context, why_for: Callable[[Spread], str | None], urgent: bool = False) -> ClosedTrade | None:
    """Advance the exit order by one poll, starting one for the first spread that must close; return what closed."""
    w = ctx.working
    if w is not None and urgent and w.kind == "exit" and not w.urgent:
        ctx.parts.orders.make_urgent(w)
    if w is None:
        for spread in ctx.book.open:
            why = why_for(spread)
            if why:
                logger.info(f"exit trade {spread.trade_no}: {why}")
                w = ctx.parts.orders.place(
                    "exit", spread.trade_no, ctx.day, spread.closing_legs, spread.qty, ctx.now,
                    hold=ctx.hold_working, urgent=urgent,
                )
                w.why = why
                break
        else:
            return None
        progress = progress_of(w)
    else:
        progress = ctx.parts.orders.poll(w, ctx.now)
    if progress is Progress.WORKING:
        return None
    ctx.working = None
    if w.filled_qty == 0:
        logger.error(f"exit of trade {w.trade_no} failed ({w.dead_reason}); retrying next poll")
    return book_exit(ctx, w)


def book_exit(ctx: Context, w: Working) -> ClosedTrade | None:
    """Book what an exit filled as a closed trade; a partial fill splits the spread, the rest stays open."""
    if w.filled_qty == 0:
        return None
    spread = ctx.spread_of(w)
    if w.filled_qty < spread.qty:
        part = replace(spread, qty=w.filled_qty)
        spread.qty -= w.filled_qty
        ctx.book.open.append(part)
        spread = part
    return ctx.close_spread(spread, w.avg_price, w.why or "exit")


def drop_working(ctx: Context, why: str, kinds: tuple[str, ...] = ("entry", "exit")) -> bool:
    """Cancel the order being worked and book whatever part of it filled: nothing is lost.

    False while the broker has not confirmed the cancel yet: the caller stays and asks again next poll.
    """
    w = ctx.working
    if w is None or w.kind not in kinds:
        return True
    if not ctx.parts.orders.cancel(w, why):
        return False
    ctx.working = None
    if w.kind == "exit":
        book_exit(ctx, w)
        return True
    if w.filled_qty:
        ctx.open_spread_from(w)
    ctx.plan = None
    return True


def cancel_entry(ctx: Context, why: str) -> bool:
    return drop_working(ctx, why, kinds=("entry",))


def settle_after_close(ctx: Context) -> bool:
    """After the close nothing can be traded: spreads the broker no longer holds were liquidated or settled.

    Their exit is valued at intrinsic against the last known spot (marked as an estimate in the reason);
    the day's true P&L is still the account's equity change. False while a cancel is still pending.
    """
    if not drop_working(ctx, "session closed"):
        return False
    ctx.parts.bars.refresh(ctx.now)
    held = {p.symbol for p in ctx.broker.positions()}
    spot = ctx.parts.bars.spot
    for spread in list(ctx.book.open):
        if any(leg.symbol in held for leg in spread.legs):
            logger.error(f"trade {spread.trade_no} still held at the broker after the close")
            continue
        value = 0.0
        if spot is not None:
            for leg in spread.closing_legs:
                c = parse_occ(leg.symbol)
                intrinsic = max(spot - c.strike, 0.0) if c.right is Right.CALL else max(c.strike - spot, 0.0)
                value += intrinsic if leg.side == "buy" else -intrinsic
        ctx.close_spread(spread, value, "settled by the broker at the close (estimated at intrinsic)")
    return True
