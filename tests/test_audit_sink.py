"""The audit sink: every record in the day's journal after the port calls it follows from, a paper day continued
after a restart, a simulated one started afresh, and nothing written once the day's file is closed."""

from __future__ import annotations

from datetime import date, datetime, timedelta

import pytest

from engine.calendar import ET
from engine.days import ResumePoint
from engine.journal.audit import journal_path, read_journal
from engine.journal.recording import Recorder
from engine.journal.sink import AuditSink
from engine.logs import close_day_files

DAY = date(2025, 7, 1)
T0 = datetime(2025, 7, 1, 9, 0, tzinfo=ET)


@pytest.fixture
def sink(tmp_path):
    recorder = Recorder()
    s = AuditSink(tmp_path, True, recorder, lambda d: {"session_date": d.isoformat()})
    yield s, recorder, tmp_path
    close_day_files()


def at(minutes: float) -> datetime:
    return T0 + timedelta(minutes=minutes)


def test_port_calls_are_written_before_the_record_that_followed_them(sink) -> None:
    s, recorder, logs = sink
    s.open(DAY, T0, ResumePoint("Initializing", DAY, 1))
    recorder.rows.append(["account", [], {"equity": 1}])
    s.record("transition", at(1), trigger="ready", source="Initializing", dest="AwaitingOpen")
    s.close(at(2))
    records = read_journal(journal_path(logs, DAY))[0]
    assert [r["kind"] for r in records] == ["header", "input", "transition"]
    assert records[1]["calls"] == [["account", [], {"equity": 1}]]
    assert records[0]["resume"]["state"] == "Initializing" and records[0]["session_date"] == "2025-07-01"


def test_a_reopened_paper_journal_continues_the_day_after_its_last_record(tmp_path) -> None:
    recorder = Recorder()
    paper = AuditSink(tmp_path, False, recorder, lambda d: {})
    paper.open(DAY, T0, ResumePoint("Initializing", DAY, 1))
    paper.record("order", at(1), event="submit", client_order_id="x")
    paper.close(at(2))
    again = AuditSink(tmp_path, False, recorder, lambda d: {})
    again.open(DAY, at(5), ResumePoint("Initializing", DAY, 1))
    again.record("order", at(6), event="submit", client_order_id="y")
    again.close(at(7))
    close_day_files()
    assert [r["kind"] for r in read_journal(journal_path(tmp_path, DAY))[0]] == ["header", "order", "header", "order"]


def test_a_simulated_rerun_starts_the_days_journal_afresh(sink) -> None:
    s, recorder, logs = sink
    for _ in range(2):
        s.open(DAY, T0, ResumePoint("Initializing", DAY, 1))
        s.record("order", at(1), event="submit", client_order_id="x")
        s.close(at(2))
    assert [r["kind"] for r in read_journal(journal_path(logs, DAY))[0]] == ["header", "order"]


def test_nothing_is_written_after_the_day_is_closed(sink) -> None:
    s, recorder, logs = sink
    s.open(DAY, T0, ResumePoint("Initializing", DAY, 1))
    s.close(at(1))
    recorder.rows.append(["account", [], {}])
    s.record("late", at(2))
    s.flush_inputs(at(2))
    assert [r["kind"] for r in read_journal(journal_path(logs, DAY))[0]] == ["header"]
    assert s.opened == [journal_path(logs, DAY)]
