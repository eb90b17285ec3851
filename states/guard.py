"""The checks every trading state makes first, written once: the kill switch, the daily loss limit, a data outage.

Each returns the halt Step to take, or None to carry on, so a halt is one statement in a handler:
`if step := guard.kill_switch(ctx): return step`.
"""

from __future__ import annotations

from engine.context import Context, Step
from engine.data import DataHealth, DataVerdict


def kill_switch(ctx: Context) -> Step | None:
    """The kill file or SIGUSR1: stop trading for good and flatten."""
    if kill := ctx.signals.kill():
        return Step.halting(kill, flatten=True, resumable=False)
    return None


def loss_limit(ctx: Context) -> Step | None:
    """The day's P&L (from the account just refreshed) at the loss limit: flatten and stop for the day."""
    if ctx.parts.risk.loss_limit_hit(ctx.daily_pnl):
        reason = f"daily loss limit: P&L {ctx.daily_pnl:.2f} <= -{ctx.cfg.risk.max_daily_loss:.2f}"
        return Step.halting(reason, flatten=True, resumable=False)
    return None


def data_outage(verdict: DataVerdict, then: str | None = None) -> Step | None:
    """No usable bars or quotes for longer than the tolerance: a halt that resumes when data returns, without
    flattening. `then` says what becomes of the open condors, after the reason (put together only on a halt:
    Monitoring asks twice a poll)."""
    if verdict.health is DataHealth.OUTAGE:
        say = f"{verdict.reason}; {then}" if then else None
        return Step.halting(verdict.reason, flatten=False, resumable=True, say=say)
    return None
