"""AwaitingOpen: find today's session on the exchange calendar and wait, without polling, for the entry window."""

from __future__ import annotations

from engine.context import Context, Step


def handle(ctx: Context) -> Step:
    if not ctx.session_loaded:
        ctx.load_session()
    if ctx.session is None:
        if ctx.more_sessions:
            ctx.skip_day = True
            return Step(None, f"{ctx.day} is not a trading session; on to the next", wait=0)
        return Step("no_session", f"{ctx.day} is not a trading session (weekend or holiday)")
    if (ctx.book.open or ctx.working) and ctx.session.open <= ctx.now < ctx.session.close:
        return Step("market_open", f"session {ctx.day} open with positions or orders taken over at start-up")
    if ctx.now >= ctx.hard_exit:
        return Step("session_end", f"session {ctx.day} already past its hard exit {ctx.hard_exit:%H:%M} ET")
    if ctx.now < ctx.entry_start:
        return Step(None, "before the entry window", wait=(ctx.entry_start - ctx.now).total_seconds())
    ctx.refresh_account()
    return Step(
        "market_open",
        f"session {ctx.day} {ctx.session.open:%H:%M}-{ctx.session.close:%H:%M} ET; entries "
        f"{ctx.entry_start:%H:%M}-{ctx.entry_end:%H:%M}, hard exit {ctx.hard_exit:%H:%M}",
    )
