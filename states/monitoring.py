"""Monitoring: mark the open condor, close it as one order on target, stop or time exit; halt on the loss limit."""

from __future__ import annotations

from engine.context import STAY, Context, Halt, Step
from engine.data import DataHealth
from states.common import settle_after_close, work_exit


def handle(ctx: Context) -> Step:
    if kill := ctx.kill_switch():
        ctx.halt = Halt(kill, flatten=True, resumable=False)
        return Step("halt", kill)
    assert ctx.session is not None
    if ctx.now >= ctx.session.close:
        if not settle_after_close(ctx):
            return STAY
        return Step("session_end", "session closed; positions left were settled by the broker")
    ctx.parts.bars.refresh(ctx.now)
    verdict = ctx.parts.bars.verdict(ctx.now)
    if verdict.health is DataHealth.OUTAGE and ctx.working is None:
        ctx.halt = Halt(verdict.reason, flatten=False, resumable=True)
        return Step("halt", f"{verdict.reason}; open condors managed from broker marks")
    ctx.marks = ctx.market_data.quotes([leg.symbol for s in ctx.book.open for leg in s.legs])
    ctx.refresh_account()
    if ctx.parts.risk.loss_limit_hit(ctx.daily_pnl):
        reason = f"daily loss limit: P&L {ctx.daily_pnl:.2f} <= -{ctx.cfg.risk.max_daily_loss:.2f}"
        ctx.halt = Halt(reason, flatten=True, resumable=False)
        return Step("halt", reason)
    trade = work_exit(ctx, lambda s: ctx.parts.risk.exit_reason(s, ctx.marks, ctx.now, ctx.hard_exit))
    if ctx.book.open or trade is None:
        return STAY
    last = f"trade {trade.spread.trade_no} closed ({trade.exit_reason}), P&L {trade.pnl:+.2f}"
    if ctx.now >= ctx.hard_exit:
        return Step("session_end", f"{last}; hard exit reached, flat")
    if ctx.book.trades_today >= ctx.cfg.risk.max_daily_trades:
        ctx.halt = Halt(f"max_daily_trades reached ({ctx.book.trades_today})", flatten=False, resumable=False)
        return Step("halt", f"{last}; {ctx.halt.reason}")
    return Step("exited", last)
