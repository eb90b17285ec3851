"""AwaitingOpen: find today's session on the exchange calendar and wait, without polling, for the entry window."""

from __future__ import annotations

from engine.context import Context, Step


def handle(ctx: Context) -> Step:
    session, day = ctx.session, ctx.days.day
    if session is None:  # never one of the run's sessions: `--date` on a Saturday trades Monday, as `--days 2` does
        return Step(None, f"{day} is not a trading session (weekend or holiday); on to the next", wait=0, skip_day=True)
    s = ctx.schedule
    if (ctx.book.open or ctx.book.working) and s.is_open(ctx.now):
        return Step("market_open", f"session {day} open with positions or orders taken over at start-up")
    if ctx.now >= s.hard_exit:
        return Step("session_end", f"session {day} already past its hard exit {s.hard_exit:%H:%M} ET")
    if ctx.now < s.entry_start:
        return Step(None, "before the entry window", wait=(s.entry_start - ctx.now).total_seconds())
    ctx.refresh_account()
    return Step(
        "market_open",
        f"session {day} {s.open:%H:%M}-{s.close:%H:%M} ET; entries "
        f"{s.entry_start:%H:%M}-{s.entry_end:%H:%M}, hard exit {s.hard_exit:%H:%M}",
    )
