"""Exchange sessions (holidays, early closes) of the NYSE, from its own rules.

The NYSE's calendar is a handful of rules (the holidays with their weekend observance, three early closes at
13:00) plus the rare closure it announces (a hurricane, a president's day of mourning). They are written here,
not read from the exchange_calendars package: importing that package (with pandas and 68 other exchanges) and
building its XNYS calendar cost about 0.4 s, most of a simulated day's start-up, for about fifty lines of rules.
exchange_calendars stays the oracle: tests/test_calendar.py holds these rules to its XNYS calendar for every day
of the range below (sessions, opens and closes), so a rule written wrong here, or a closure announced later and
added there, fails the suite. An announced closure is added to UNSCHEDULED_CLOSURES.
"""

from __future__ import annotations

from datetime import date, datetime, time, timedelta
from functools import lru_cache
from zoneinfo import ZoneInfo

from engine.models import Session

ET = ZoneInfo("America/New_York")
CALENDAR_START, CALENDAR_END = "2010-01-01", "2035-12-31"
OPEN, CLOSE, EARLY_CLOSE = time(9, 30), time(16, 0), time(13, 0)
MON, TUE, WED, THU, FRI, SAT, SUN = range(7)

UNSCHEDULED_CLOSURES = frozenset({
    date(2012, 10, 29), date(2012, 10, 30),  # Hurricane Sandy
    date(2018, 12, 5),  # national day of mourning, President George H. W. Bush
    date(2025, 1, 9),  # national day of mourning, President Jimmy Carter
})
"""Days the exchange closed that no rule gives, within the range."""


def _nth_weekday(year: int, month: int, weekday: int, n: int) -> date:
    """The n-th `weekday` of the month (n=1 the first); a negative n counts from the month's end (-1 the last)."""
    if n > 0:
        first = date(year, month, 1)
        return first + timedelta(days=(weekday - first.weekday()) % 7 + 7 * (n - 1))
    last = date(year + month // 12, month % 12 + 1, 1) - timedelta(days=1)
    return last - timedelta(days=(last.weekday() - weekday) % 7 + 7 * (-n - 1))


def _nearest_weekday(day: date) -> date:
    """The NYSE's observance of a fixed-date holiday: a Saturday's on the Friday before, a Sunday's on the Monday
    after."""
    return day + timedelta(days={SAT: -1, SUN: 1}.get(day.weekday(), 0))


def _easter(year: int) -> date:
    """Western (Gregorian) Easter Sunday: the anonymous Gregorian computus (Meeus/Jones/Butcher)."""
    a, b, c = year % 19, year // 100, year % 100
    d, e = b // 4, b % 4
    g = (8 * b + 13) // 25
    h = (19 * a + b - d - g + 15) % 30
    i, k = c // 4, c % 4
    l = (32 + 2 * e + 2 * i - h - k) % 7  # noqa: E741 - the algorithm's own name
    m = (a + 11 * h + 22 * l) // 451
    month, day = divmod(h + l - 7 * m + 114, 31)
    return date(year, month, day + 1)


@lru_cache(maxsize=64)
def holidays(year: int) -> frozenset[date]:
    """The year's full-day closures on weekdays."""
    new_year = date(year, 1, 1)
    days = {
        # New Year's Day: a Sunday's on the Monday; a Saturday's is not observed, since the exchange does not close
        # on a Friday that ends a yearly accounting period (NYSE Rule 7.2)
        new_year + timedelta(days=1) if new_year.weekday() == SUN else new_year,
        _nth_weekday(year, 1, MON, 3),  # Martin Luther King Jr. Day
        _nth_weekday(year, 2, MON, 3),  # Washington's Birthday
        _easter(year) - timedelta(days=2),  # Good Friday
        _nth_weekday(year, 5, MON, -1),  # Memorial Day
        _nearest_weekday(date(year, 7, 4)),  # Independence Day
        _nth_weekday(year, 9, MON, 1),  # Labor Day
        _nth_weekday(year, 11, THU, 4),  # Thanksgiving
        _nearest_weekday(date(year, 12, 25)),  # Christmas
    }
    if year >= 2022:
        days.add(_nearest_weekday(date(year, 6, 19)))  # Juneteenth, a federal holiday from 2021, at the NYSE from 2022
    days |= {d for d in UNSCHEDULED_CLOSURES if d.year == year}
    return frozenset(d for d in days if d.weekday() < SAT)


@lru_cache(maxsize=64)
def early_closes(year: int) -> frozenset[date]:
    """The year's sessions that close at 13:00 ET."""
    july3, christmas_eve = date(year, 7, 3), date(year, 12, 24)
    days = {_nth_weekday(year, 11, THU, 4) + timedelta(days=1)}  # the day after Thanksgiving
    # July 3rd when the 4th is a weekday (on a Friday the 3rd is Independence Day observed). Before 2013 a Thursday
    # 4th put the early close on Friday the 5th instead; no year of the range before 2013 has a Thursday 4th.
    if july3.weekday() in (MON, TUE, WED, THU):
        days.add(july3)
    if christmas_eve.weekday() in (MON, TUE, WED, THU):  # on a Friday the 24th is Christmas observed
        days.add(christmas_eve)
    return frozenset(days)


class ExchangeCalendar:
    """XNYS sessions with their real open and close (13:00 ET on early-close days)."""

    first_day = date.fromisoformat(CALENDAR_START)
    last_day = date.fromisoformat(CALENDAR_END)
    """The range the calendar knows (and tests/test_calendar.py holds to exchange_calendars)."""

    def session(self, day: date) -> Session | None:
        if not self.first_day <= day <= self.last_day:
            raise ValueError(f"{day}: the exchange calendar covers {self.first_day} .. {self.last_day}")
        if day.weekday() >= SAT or day in holidays(day.year):
            return None
        close = EARLY_CLOSE if day in early_closes(day.year) else CLOSE
        return Session(day=day, open=datetime.combine(day, OPEN, tzinfo=ET), close=datetime.combine(day, close, ET))

    def sessions_from(self, first: date, n: int) -> list[date]:
        """`n` consecutive session dates, starting at `first` or the next session after it."""
        day = first if self.session(first) else self.next_session(first).day
        out = [day]
        while len(out) < n:
            out.append(self.next_session(out[-1]).day)
        return out

    def next_session(self, after: date) -> Session:
        day = after + timedelta(days=1)
        while (found := self.session(day)) is None:
            day += timedelta(days=1)
        return found


def et(day: date, hh: int, mm: int = 0) -> datetime:
    """A wall time on `day` in New York, timezone-aware."""
    return datetime(day.year, day.month, day.day, hh, mm, tzinfo=ET)
