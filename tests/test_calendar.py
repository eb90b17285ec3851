"""Exchange sessions by the NYSE's rules, held to exchange_calendars' XNYS: holidays, weekends, early closes, the
next session."""

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


def test_the_rules_give_exchange_calendars_xnys_for_every_day_of_the_range(cal):
    """exchange_calendars is the oracle of our NYSE rules: every day 2010-2035, session or not, open and close."""
    xc = pytest.importorskip("exchange_calendars", reason="the oracle comes with the dev extra: pip install -e .[dev]")
    import pandas as pd

    xnys = xc.get_calendar("XNYS", start=str(cal.first_day), end=str(cal.last_day))
    expected = {
        ts.date(): (o.to_pydatetime().astimezone(NY), c.to_pydatetime().astimezone(NY))
        for ts, o, c in zip(xnys.schedule.index, xnys.schedule["open"], xnys.schedule["close"], strict=True)
    }
    got = {}
    for ts in pd.date_range(cal.first_day, cal.last_day, freq="D"):
        s = cal.session(ts.date())
        if s is not None:
            got[s.day] = (s.open, s.close)
    assert sorted(set(got) ^ set(expected)) == []
    assert {d: v for d, v in got.items() if expected[d] != v} == {}
    early = [d for d, (_, close) in got.items() if close.hour == 13]
    assert len(early) > 50 and len(expected) > 6500  # the comparison covered early closes and 26 years of sessions


@pytest.mark.parametrize(
    "day,closed",
    [
        (date(2021, 12, 31), False),  # New Year on a Saturday: no Friday closure
        (date(2023, 1, 2), True),  # a Sunday New Year: closed the Monday
        (date(2027, 6, 18), True),  # Juneteenth on a Saturday: the Friday
        (date(2021, 6, 18), False),  # Juneteenth only from 2022
        (date(2012, 10, 29), True), (date(2012, 10, 30), True),  # Hurricane Sandy
        (date(2018, 12, 5), True), (date(2025, 1, 9), True),  # days of mourning
        (date(2026, 4, 3), True), (date(2035, 3, 23), True),  # Good Friday
        (date(2021, 12, 24), True),  # Christmas on a Saturday: the Friday
    ],
)
def test_observance_rules_and_unscheduled_closures(cal, day, closed):
    assert (cal.session(day) is None) == closed


def test_days_outside_the_range_are_refused_not_guessed(cal):
    with pytest.raises(ValueError, match="covers 2010-01-01 .. 2035-12-31"):
        cal.session(date(2036, 1, 2))
