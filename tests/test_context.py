"""The session's clock times the Context derives: entry window and hard exit, on a normal and an early-close day."""

from __future__ import annotations

from datetime import date, datetime

import pytest

from engine.calendar import ET, ExchangeCalendar
from engine.config import Config
from engine.context import Context


def context(day: date, cfg: Config | None = None) -> Context:
    ctx = Context(
        cfg=cfg or Config(),
        clock=None,  # type: ignore[arg-type] - the clock times need none of the ports
        broker=None,  # type: ignore[arg-type]
        market_data=None,  # type: ignore[arg-type]
        ids=None,  # type: ignore[arg-type]
        signals=None,  # type: ignore[arg-type]
        parts=None,  # type: ignore[arg-type]
        open_journal=None,  # type: ignore[arg-type]
        write_report=None,  # type: ignore[arg-type]
        days_left=1,
        day=day,
    )
    ctx.session = ExchangeCalendar().session(day)
    return ctx


def et(day: date, hh: int, mm: int) -> datetime:
    return datetime(day.year, day.month, day.day, hh, mm, tzinfo=ET)


def test_a_normal_day_keeps_the_configured_times() -> None:
    day = date(2025, 7, 1)
    ctx = context(day)
    assert (ctx.entry_start, ctx.entry_end, ctx.hard_exit) == (et(day, 10, 0), et(day, 14, 30), et(day, 15, 15))


@pytest.mark.parametrize("day", [date(2025, 11, 28), date(2025, 7, 3), date(2015, 12, 24)])
def test_an_early_close_pulls_the_hard_exit_and_the_entry_end_in_by_the_same_margins(day: date) -> None:
    """A 13:00 close: the hard exit stays 45 minutes before it (12:15) and entries still end 45 minutes before
    the hard exit (11:30), not at the close."""
    ctx = context(day)
    assert ctx.session is not None and ctx.session.close == et(day, 13, 0)
    assert ctx.hard_exit == et(day, 12, 15)
    assert ctx.entry_end == et(day, 11, 30)
    assert ctx.entry_start == et(day, 10, 0)
