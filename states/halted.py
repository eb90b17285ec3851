"""Halted: no new entries. Flatten when the halt demands it; resume only when a transient cause has cleared."""

from __future__ import annotations

from engine.context import STAY, Context, Halt, Step
from engine.data import DataHealth
from states.common import cancel_entry, settle_after_close, work_exit


def handle(ctx: Context) -> Step:
    halt = ctx.halt or Halt("halted", flatten=True, resumable=False)
    assert ctx.session is not None
    if not cancel_entry(ctx, f"halted: {halt.reason}"):
        return STAY
    if ctx.now >= ctx.session.close:
        if not settle_after_close(ctx):
            return STAY
        return Step("session_end", f"session closed while halted ({halt.reason})")
    if ctx.book.open:
        ctx.marks = ctx.market_data.quotes([leg.symbol for s in ctx.book.open for leg in s.legs])
        ctx.refresh_account()
        if not halt.flatten and ctx.parts.risk.loss_limit_hit(ctx.daily_pnl):
            halt = ctx.halt = Halt(f"{halt.reason}; then daily loss limit", flatten=True, resumable=False)
            ctx.record("halt_escalated", reason=halt.reason)
        if halt.flatten:
            work_exit(ctx, lambda s: f"flatten: {halt.reason}", urgent=True)
        else:
            work_exit(ctx, lambda s: ctx.parts.risk.exit_reason(s, ctx.marks, ctx.now, ctx.hard_exit))
        if ctx.book.open:
            return STAY
    if ctx.now >= ctx.hard_exit:
        return Step("session_end", f"hard exit {ctx.hard_exit:%H:%M} ET reached while halted ({halt.reason}), flat")
    if halt.resumable:
        ctx.refresh_account()
        ctx.parts.bars.refresh(ctx.now)
        if ctx.parts.bars.verdict(ctx.now).health is not DataHealth.OUTAGE:
            ctx.halt = None
            return Step("resume", f"cleared: {halt.reason}")
    return STAY
