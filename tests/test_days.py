"""The run's days and the resume point each journal header carries."""

from __future__ import annotations

from datetime import date, datetime

from engine.calendar import ET, ExchangeCalendar
from engine.config import parse_config
from engine.days import Days, ResumePoint
from engine.models import Session


class CalendarBroker:
    """Only what Days asks of a broker: the exchange calendar."""

    def __init__(self) -> None:
        self.calendar = ExchangeCalendar()

    def session(self, day: date) -> Session | None:
        return self.calendar.session(day)

    def next_session(self, after: date) -> Session:
        return self.calendar.next_session(after)


def days(count: int, first: date = date(2025, 7, 3)) -> Days:
    return Days(parse_config({"session": {"days": count}}, "test"), first, CalendarBroker())  # type: ignore[arg-type]


def test_loading_a_session_computes_its_schedule_and_a_holiday_has_neither() -> None:
    d = days(2)
    assert d.load() is not None and d.schedule is not None
    assert d.schedule.hard_exit == datetime(2025, 7, 3, 12, 15, tzinfo=ET), "July 3 closes at 13:00"
    d.day = date(2025, 7, 4)
    assert d.load() is None and d.schedule is None and d.loaded


def test_a_skipped_day_is_not_counted_a_traded_one_is() -> None:
    d = days(3)
    d.closed = True
    d.advance()
    assert (d.day, d.left, d.closed) == (date(2025, 7, 7), 2, False)
    d.skipped = True
    d.advance()
    assert (d.day, d.left, d.skipped) == (date(2025, 7, 8), 2, False)
    assert d.more and not d.at_boundary


def test_a_resume_point_survives_the_header_and_restores_the_day() -> None:
    d = days(3)
    d.load()
    d.closed = True
    header = {"ts": "2025-07-03T13:00:00-04:00", "session_date": "2025-07-03",
              "resume": d.point("AwaitingOpen", None).to_dict()}

    point = ResumePoint.from_header(header, 3)

    assert point.at == datetime(2025, 7, 3, 13, 0, tzinfo=ET), "a mid-run file starts at its header's time"
    again = days(1, first=date(2025, 7, 1))
    again.restore(point)
    assert (again.day, again.left, again.closed, again.loaded) == (date(2025, 7, 3), 3, True, True)
    assert again.session == d.session and again.schedule == d.schedule


def test_a_header_without_a_resume_point_starts_at_initializing_on_the_clock() -> None:
    point = ResumePoint.from_header({"ts": "2025-07-03T09:00:00-04:00", "session_date": "2025-07-03"}, 5)
    assert (point.state, point.day, point.days_left, point.at) == ("Initializing", date(2025, 7, 3), 5, None)


def test_a_restarts_knowledge_of_earlier_orders_survives_the_header(tmp_path) -> None:
    """What a restart read from the day's journal goes into its header, so replay adopts exactly as the run did."""
    from engine.journal.audit import Journal, read_journal
    from engine.journal.order_history import OrderHistory
    from engine.journal.recording import Recorder
    from engine.journal.sink import AuditSink

    day, t = date(2025, 7, 2), datetime(2025, 7, 2, 10, 0, tzinfo=ET)
    path = tmp_path / "audit-20250702.jsonl"
    j = Journal(path)
    j.append("order", t, event="submit", client_order_id="zdte-20250702-01c-02", trade_no=1, purpose="exit", step=2,
             why="time exit at 15:15 ET")
    j.append("closed", t, trade_no=0, exit_reason="profit target")
    j.close()
    sink = AuditSink(tmp_path, False, Recorder(), lambda d: {"session_date": d.isoformat()}, day_files=False)
    earlier = OrderHistory.from_records(sink.earlier(day))
    assert earlier.closed == {0: "profit target"} and earlier.attempts[0].step == 2
    point = ResumePoint("Initializing", day, 1, orders_before=earlier)
    sink.open(day, t, point)
    sink.close(t)
    header = [r for r in read_journal(path)[0] if r["kind"] == "header"][-1]
    assert ResumePoint.from_header(header, 1).orders_before == earlier
    assert AuditSink(tmp_path, True, Recorder(), lambda d: {}, day_files=False).earlier(day) == [], (
        "a simulated run starts its files afresh: no earlier orders"
    )
