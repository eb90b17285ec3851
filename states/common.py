"""Closing condors, shared by Monitoring, Halted and ShuttingDown: one combo order per condor, never leg by leg."""

from __future__ import annotations

from collections.abc import Callable

from loguru import logger

from engine.book import ClosedTrade, Spread
from engine.context import Context
from engine.data import DataVerdict
from engine.models import Right
from engine.occ import parse_occ
from engine.orders import OrderKind, Progress, Working, progress_of

ExitRule = Callable[[Spread], str | None]


def opened(ctx: Context, w: Working) -> Spread:
    """The entry filled: the plan becomes an open spread, journaled (with spot) for the day's report."""
    spread = ctx.book.open_from(w, ctx.now)
    ctx.record("opened", **spread.to_dict(), strikes=list(spread.strikes), **_terms(spread), spot=ctx.parts.bars.spot)
    return spread


def closed(ctx: Context, trade: ClosedTrade | None) -> ClosedTrade | None:
    """A closed trade (or part of one), journaled with spot for the day's report."""
    if trade is not None:
        ctx.record("closed", **trade.to_dict(), **_terms(trade.spread), spot=ctx.parts.bars.spot)
    return trade


def _terms(spread: Spread) -> dict[str, object]:
    return {"wing_width": spread.wing_width, "multiplier": spread.multiplier}


def exit_rule(ctx: Context, marks: DataVerdict) -> ExitRule:
    """Why a spread must close: every rule on fresh marks; on stale ones only the exits that need no price."""
    risk, hard_exit = ctx.parts.risk, ctx.schedule.hard_exit
    if marks.tradable:
        return lambda s: risk.exit_reason(s, ctx.parts.marks.quotes, ctx.now, hard_exit)
    return lambda s: risk.forced_exit(s, ctx.now, hard_exit)


def work_exit(ctx: Context, why_for: ExitRule, urgent: bool = False) -> ClosedTrade | None:
    """Advance the exit order by one poll, starting one for the first spread that must close; return what closed."""
    book, orders = ctx.book, ctx.parts.orders
    w = book.working
    if w is not None and urgent and w.kind is OrderKind.EXIT and not w.urgent:
        orders.make_urgent(w)
    if w is None:
        for spread in book.open:
            why = why_for(spread)
            if why:
                logger.info(f"exit trade {spread.trade_no}: {why}")
                w = orders.place(
                    OrderKind.EXIT, spread.trade_no, ctx.days.day, spread.closing_legs, spread.qty, ctx.now,
                    hold=book.hold, urgent=urgent, why=why,
                )
                break
        else:
            return None
        progress = progress_of(w)
    else:
        progress = orders.poll(w, ctx.now)
    if progress is Progress.WORKING:
        return None
    book.working = None
    if w.filled_qty == 0:
        logger.error(f"exit of trade {w.trade_no} failed ({w.dead_reason}); retrying next poll")
    return closed(ctx, book.close_exit(w, ctx.now))


def drop_working(ctx: Context, why: str, kinds: tuple[OrderKind, ...] = (OrderKind.ENTRY, OrderKind.EXIT)) -> bool:
    """Cancel the order being worked and book whatever part of it filled: nothing is lost.

    False while the broker has not confirmed the cancel yet: the caller stays and asks again next poll.
    """
    book = ctx.book
    w = book.working
    if w is None or w.kind not in kinds:
        return True
    if not ctx.parts.orders.cancel(w, why, ctx.now):
        return False
    book.working = None
    if w.kind is OrderKind.EXIT:
        closed(ctx, book.close_exit(w, ctx.now))
        return True
    if w.filled_qty:
        opened(ctx, w)
    book.plan = None
    return True


def cancel_entry(ctx: Context, why: str) -> bool:
    return drop_working(ctx, why, kinds=(OrderKind.ENTRY,))


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
        why = "settled by the broker at the close (estimated at intrinsic)"
        closed(ctx, ctx.book.close(spread, value, ctx.now, why))
    return True
