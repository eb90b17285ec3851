"""Monitoring: mark the open condor, close it as one order on target, stop or time exit; halt on the loss limit."""

from __future__ import annotations

from engine.context import STAY, Context, Step
from states import guard
from states.common import exit_rule, settle_after_close, work_exit


def handle(ctx: Context) -> Step:
    if step := guard.kill_switch(ctx):
        return step
    s, book = ctx.schedule, ctx.book
    if ctx.now >= s.close:
        if not settle_after_close(ctx):
            return STAY
        return Step("session_end", "session closed; positions left were settled by the broker")
    ctx.parts.bars.refresh(ctx.now)
    bars = ctx.parts.bars.verdict(ctx.now)
    if book.working is None and (
        step := guard.data_outage(bars, then="open condors managed from broker marks")
    ):
        return step
    marks = ctx.parts.marks.refresh(book.held_symbols, ctx.now)
    ctx.refresh_account()
    if step := guard.loss_limit(ctx):
        return step
    if book.working is None and (
        step := guard.data_outage(marks, then="open condors kept, exits on price wait for quotes")
    ):
        return step
    ctx.parts.status.maybe_show(ctx.now, ctx.parts.bars.spot, book, ctx.parts.marks.quotes, s.hard_exit)
    trade = work_exit(ctx, exit_rule(ctx, marks))
    if book.open or trade is None:
        return STAY
    last = f"trade {trade.spread.trade_no} closed ({trade.exit_reason}), P&L {trade.pnl:+.2f}"
    if ctx.now >= s.hard_exit:
        return Step("session_end", f"{last}; hard exit reached, flat")
    if book.trades_today >= ctx.cfg.risk.max_daily_trades:
        reason = f"max_daily_trades reached ({book.trades_today})"
        return Step.halting(reason, flatten=False, resumable=False, say=f"{last}; {reason}")
    return Step("exited", last)
