"""Exchange sessions (holidays, early closes) from the exchange_calendars package, never a hand-written list."""

from __future__ import annotations

from datetime import date, datetime, timedelta
from functools import lru_cache
from zoneinfo import ZoneInfo

from engine.models import Session

ET = ZoneInfo("America/New_York")
CALENDAR_START, CALENDAR_END = "2010-01-01", "2035-12-31"


@lru_cache(maxsize=1)
def _xnys():
    import exchange_calendars as xc

    return xc.get_calendar("XNYS", start=CALENDAR_START, end=CALENDAR_END)


class ExchangeCalendar:
    """XNYS sessions with their real open and close (13:00 ET on early-close days)."""

    first_day = date.fromisoformat(CALENDAR_START)
    last_day = date.fromisoformat(CALENDAR_END)
    """The range the calendar knows."""

    def session(self, day: date) -> Session | None:
        cal = _xnys()
        if not cal.is_session(day):
            return None
        return Session(
            day=day,
            open=cal.session_open(day).to_pydatetime().astimezone(ET),
            close=cal.session_close(day).to_pydatetime().astimezone(ET),
        )

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
