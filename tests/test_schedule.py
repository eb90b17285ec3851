"""The session's schedule: entry window and hard exit, on a normal and an early-close day, computed once."""

from __future__ import annotations

from datetime import date, datetime

import pytest

from engine.calendar import ET, ExchangeCalendar
from engine.config import Config, parse_config
from engine.schedule import Schedule


def schedule(day: date, cfg: Config | None = None) -> Schedule:
    cfg = cfg or Config()
    session = ExchangeCalendar().session(day)
    assert session is not None
    return Schedule.of(session, cfg.strategy, cfg.risk)


def et(day: date, hh: int, mm: int) -> datetime:
    return datetime(day.year, day.month, day.day, hh, mm, tzinfo=ET)


def test_a_normal_day_keeps_the_configured_times() -> None:
    day = date(2025, 7, 1)
    s = schedule(day)
    assert (s.entry_start, s.entry_end, s.hard_exit) == (et(day, 10, 0), et(day, 14, 30), et(day, 15, 15))
    assert (s.open, s.close) == (et(day, 9, 30), et(day, 16, 0))


@pytest.mark.parametrize("day", [date(2025, 11, 28), date(2025, 7, 3), date(2015, 12, 24)])
def test_an_early_close_pulls_the_hard_exit_and_the_entry_end_in_by_the_same_margins(day: date) -> None:
    """A 13:00 close: the hard exit stays 45 minutes before it (12:15) and entries still end 45 minutes before
    the hard exit (11:30), not at the close."""
    s = schedule(day)
    assert s.close == et(day, 13, 0)
    assert s.hard_exit == et(day, 12, 15)
    assert s.entry_end == et(day, 11, 30)
    assert s.entry_start == et(day, 10, 0)


def test_other_configured_times_keep_their_own_margins_on_an_early_close() -> None:
    """Entries end 13:00 and the exit is 15:45 (15 minutes before the close): on a 13:00 close the exit moves to
    12:45 and the entry end to 10:00, the configured 2h45 before it."""
    cfg = parse_config({"strategy": {"entry_start": "09:45", "entry_end": "13:00"}, "risk": {"hard_exit": "15:45"}},
                       "test")
    day = date(2025, 11, 28)
    s = schedule(day, cfg)
    assert (s.entry_start, s.entry_end, s.hard_exit) == (et(day, 9, 45), et(day, 10, 0), et(day, 12, 45))


def test_is_open_from_the_open_until_before_the_close() -> None:
    day = date(2025, 7, 1)
    s = schedule(day)
    assert not s.is_open(et(day, 9, 29)) and s.is_open(et(day, 9, 30)) and not s.is_open(et(day, 16, 0))
