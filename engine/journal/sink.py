"""The one audit sink: every record of a run (transitions, orders, trades, reconciliation, the port calls they
followed from) goes through it into the day's journal, from which the day's report is built.

It is built first and handed to the runner and the order manager, so nothing climbs up to be written
down again. Port calls gathered by the Recorder are written as one `input` record before the record that
depended on them, so a replay meets every answer in the order the run asked for it.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import date, datetime
from pathlib import Path
from typing import Any

from engine.days import ResumePoint
from engine.journal.audit import Journal, journal_path, read_journal
from engine.journal.recording import Recorder
from engine.logs import open_day_files


class AuditSink:
    def __init__(
        self,
        logs_dir: Path,
        simulated: bool,
        recorder: Recorder,
        header: Callable[[date], dict[str, Any]],
        day_files: bool = True,
    ) -> None:
        """`simulated`: a rerun starts each day's files afresh and fsyncs only at the close (the run is redone
        after a machine crash); a paper session continues its files and fsyncs every decision. `day_files`:
        point the log files at each day (not for a re-simulation inside another run, whose files they are)."""
        self._logs_dir = logs_dir
        self._day_files = day_files
        self._simulated = simulated
        self._recorder = recorder
        self._header = header
        self.journal: Journal | None = None
        self.opened: list[Path] = []
        self.listeners: list[Callable[[str, datetime, dict[str, Any]], None]] = []
        """Told of each record once it is in the journal (the alerts); each must return at once and never raise."""

    def open(self, day: date, now: datetime, resume: ResumePoint) -> None:
        """The day's journal (and log files), headed by what replay needs to start where this run stands."""
        if self._day_files:
            open_day_files(self._logs_dir, day, fresh=self._simulated)
        path = journal_path(self._logs_dir, day)
        if self._simulated and path.exists():
            path.unlink()
        self.journal = Journal(path, durable=not self._simulated)
        self.opened.append(path)
        self.journal.append("header", now, **self._header(day), resume=resume.to_dict())

    def earlier(self, day: date) -> list[dict[str, Any]]:
        """The records a paper session's earlier runs wrote to the day's journal (a restart continues the file;
        a simulated run starts it afresh, so it has none)."""
        path = journal_path(self._logs_dir, day)
        if self._simulated or not path.exists():
            return []
        return read_journal(path)[0]

    def close(self, now: datetime) -> None:
        """The day's last port calls, then the file is fsynced and closed."""
        self.flush_inputs(now, last_of_file=True)
        if self.journal is not None:
            self.journal.close()
        self.journal = None

    def flush(self) -> None:
        """The open journal's gathered records onto the file (a simulated journal groups its writes)."""
        if self.journal is not None:
            self.journal.flush()

    def record(self, kind: str, now: datetime, *, sync: bool = True, **fields: Any) -> None:
        """An audit record in the chain, after the port calls it follows from."""
        if self.journal is not None:
            self.flush_inputs(now)
            self.journal.append(kind, now, sync=sync, **fields)
            for listen in self.listeners:
                listen(kind, now, fields)

    def flush_inputs(self, now: datetime, last_of_file: bool = False) -> None:
        """The port calls made so far, as one `input` record (flushed, not fsynced: the OS keeps it on a crash)."""
        if self.journal is not None and (calls := self._recorder.take(last_of_file)):
            self.journal.append("input", now, sync=False, calls=calls)

    @property
    def pending_inputs(self) -> int:
        return len(self._recorder)

    def abort(self, now: datetime, reason: str) -> None:
        """From a signal handler: one last record, then the process ends."""
        if self.journal is not None:
            self.journal.abort(now, reason)
