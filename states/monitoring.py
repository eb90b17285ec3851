"""Monitoring: mark the open condor, close it as one order on target, stop or time exit; halt on the loss limit."""

from __future__ import annotations

from engine.context import STAY, Context, Step
from states import guard
from states.common import settle_after_close, work_exit


def handle(ctx: Context) -> Step:
    if step := guard.kill_switch(ctx):
        return step
    assert ctx.session is not None
    if ctx.now >= ctx.session.close:
        if not settle_after_close(ctx):
            return STAY
        return Step("session_end", "session closed; positions left were settled by the broker")
    ctx.parts.bars.refresh(ctx.now)
    verdict = ctx.parts.bars.verdict(ctx.now)
    if ctx.working is None and (
        step := guard.data_outage(ctx, verdict, say=f"{verdict.reason}; open condors managed from broker marks")
    ):
        return step
    ctx.marks = ctx.market_data.quotes([leg.symbol for s in ctx.book.open for leg in s.legs])
    ctx.refresh_account()
    if step := guard.loss_limit(ctx):
        return step
    trade = work_exit(ctx, lambda s: ctx.parts.risk.exit_reason(s, ctx.marks, ctx.now, ctx.hard_exit))
    if ctx.book.open or trade is None:
        return STAY
    last = f"trade {trade.spread.trade_no} closed ({trade.exit_reason}), P&L {trade.pnl:+.2f}"
    if ctx.now >= ctx.hard_exit:
        return Step("session_end", f"{last}; hard exit reached, flat")
    if ctx.book.trades_today >= ctx.cfg.risk.max_daily_trades:
        reason = f"max_daily_trades reached ({ctx.book.trades_today})"
        return guard.halt(ctx, reason, flatten=False, resumable=False, say=f"{last}; {reason}")
    return Step("exited", last)
