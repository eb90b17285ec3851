"""Exchange sessions from the real XNYS calendar: holidays, weekends, early closes, the next session."""

from __future__ import annotations

from datetime import date, datetime
from zoneinfo import ZoneInfo

import pytest

from engine.calendar import ExchangeCalendar, et

NY = ZoneInfo("America/New_York")


@pytest.fixture(scope="module")
def cal() -> ExchangeCalendar:
    return ExchangeCalendar()


@pytest.mark.parametrize(
    "day",
    [date(2025, 12, 25), date(2025, 7, 4), date(2025, 11, 27), date(2025, 7, 5), date(2025, 7, 6)],
    ids=["christmas", "independence-day", "thanksgiving", "saturday", "sunday"],
)
def test_holidays_and_weekends_have_no_session(cal, day):
    assert cal.session(day) is None


def test_normal_day_runs_0930_to_1600_new_york_time(cal):
    s = cal.session(date(2025, 7, 1))
    assert s.day == date(2025, 7, 1)
    assert s.open == datetime(2025, 7, 1, 9, 30, tzinfo=NY)
    assert s.close == datetime(2025, 7, 1, 16, 0, tzinfo=NY)
    assert s.open.utcoffset() is not None and s.close.utcoffset() is not None


def test_winter_day_is_also_0930_to_1600_new_york_time_across_the_dst_change(cal):
    s = cal.session(date(2025, 12, 1))
    assert (s.open.astimezone(NY).hour, s.open.astimezone(NY).minute) == (9, 30)
    assert s.close == datetime(2025, 12, 1, 16, 0, tzinfo=NY)


@pytest.mark.parametrize("day", [date(2025, 11, 28), date(2025, 7, 3), date(2025, 12, 24)])
def test_early_close_days_close_at_1300_new_york_time(cal, day):
    s = cal.session(day)
    assert s.open == datetime(day.year, day.month, day.day, 9, 30, tzinfo=NY)
    assert s.close == datetime(day.year, day.month, day.day, 13, 0, tzinfo=NY)


@pytest.mark.parametrize(
    "after,expected",
    [
        (date(2025, 7, 3), date(2025, 7, 7)),
        (date(2025, 7, 11), date(2025, 7, 14)),
        (date(2025, 7, 12), date(2025, 7, 14)),
        (date(2025, 12, 24), date(2025, 12, 26)),
        (date(2025, 7, 1), date(2025, 7, 2)),
    ],
    ids=["over-july-4th-and-weekend", "friday", "saturday", "over-christmas", "ordinary"],
)
def test_next_session_skips_weekends_and_holidays(cal, after, expected):
    nxt = cal.next_session(after)
    assert nxt.day == expected
    assert nxt == cal.session(expected)


def test_et_builds_an_aware_new_york_wall_time():
    assert et(date(2025, 7, 1), 15, 15) == datetime(2025, 7, 1, 19, 15, tzinfo=ZoneInfo("UTC"))


def test_sessions_from_skips_weekends_and_holidays_and_starts_at_the_next_session():
    from datetime import date

    from engine.calendar import ExchangeCalendar

    cal = ExchangeCalendar()
    assert cal.sessions_from(date(2025, 7, 3), 3) == [date(2025, 7, 3), date(2025, 7, 7), date(2025, 7, 8)]
    assert cal.sessions_from(date(2025, 7, 4), 1) == [date(2025, 7, 7)]


def test_the_wall_clock_reads_new_york_time() -> None:
    """Paper mode's times are shown and journaled as the README says: US/Eastern, never UTC."""
    from engine.clock import WallClock

    now = WallClock().now()
    assert now.tzinfo is not None and getattr(now.tzinfo, "key", None) == "America/New_York"
    assert now.utcoffset() == now.astimezone(ZoneInfo("America/New_York")).utcoffset()
