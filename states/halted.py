"""Halted: no new entries. Flatten when the halt demands it; resume only when a transient cause has cleared."""

from __future__ import annotations

from engine.context import STAY, Context, Halt, Step
from engine.data import DataHealth
from states.common import cancel_entry, exit_rule, settle_after_close, work_exit


def handle(ctx: Context) -> Step:
    halt = ctx.halt or Halt("halted", flatten=True, resumable=False)
    if not cancel_entry(ctx, f"halted: {halt.reason}"):
        return STAY
    s = ctx.schedule
    if ctx.now >= s.close:
        if not settle_after_close(ctx):
            return STAY
        return Step("session_end", f"session closed while halted ({halt.reason})")
    escalated = None
    if ctx.book.open:
        marks = ctx.parts.marks.refresh(ctx.book.held_symbols, ctx.now)
        ctx.refresh_account()
        if not halt.flatten and ctx.parts.risk.loss_limit_hit(ctx.daily_pnl):
            halt = escalated = Halt(f"{halt.reason}; then daily loss limit", flatten=True, resumable=False)
            ctx.record("halt_escalated", reason=halt.reason)
        reason = halt.reason
        work_exit(ctx, (lambda _: f"flatten: {reason}") if halt.flatten else exit_rule(ctx, marks), halt.flatten)
        if ctx.book.open:
            return Step(halt=escalated)
    if ctx.now >= s.hard_exit:
        why = f"hard exit {s.hard_exit:%H:%M} ET reached while halted ({halt.reason}), flat"
        return Step("session_end", why, halt=escalated)
    if halt.resumable:
        ctx.refresh_account()
        ctx.parts.bars.refresh(ctx.now)
        if ctx.parts.bars.verdict(ctx.now).health is not DataHealth.OUTAGE:
            return Step("resume", f"cleared: {halt.reason}")
    return Step(halt=escalated)
