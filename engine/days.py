"""The run's sessions: which day it is, how many are left, and the day's session and schedule once loaded.

The runner owns the one Days of a run and moves it on; handlers only read it. Where a run stands is
written into each journal's header as a ResumePoint, so replay can start that file's run where it was.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, datetime
from typing import Any

from engine.config import Config
from engine.journal.codec import decode, encode
from engine.journal.order_history import OrderHistory
from engine.machine import State
from engine.models import Account, Session
from engine.ports import Broker
from engine.schedule import Schedule


@dataclass(frozen=True)
class ResumePoint:
    """Where a run was when it opened a journal: its state, its day and what it knew of it."""

    state: str
    day: date
    days_left: int
    day_closed: bool = False
    skip_day: bool = False
    session_loaded: bool = False
    session: Session | None = None
    account: Account | None = None
    at: datetime | None = None
    """When a run opened the journal mid-way (the next day's file): its clock starts there. None at start-up,
    where the run read its clock first."""
    orders_before: OrderHistory = field(default_factory=OrderHistory)
    """A restart's knowledge of the day's earlier orders, read from the journal before this header."""

    def to_dict(self) -> dict[str, Any]:
        return {
            "state": self.state,
            "day": self.day.isoformat(),
            "days_left": self.days_left,
            "day_closed": self.day_closed,
            "skip_day": self.skip_day,
            "session_loaded": self.session_loaded,
            "session": encode(self.session),
            "account": encode(self.account),
            **({"orders_before": self.orders_before.to_dict()} if self.orders_before.attempts or
               self.orders_before.closed else {}),
        }

    @classmethod
    def from_header(cls, header: dict[str, Any], days: int) -> ResumePoint:
        """A journal header's resume point; `days` is the configured count, for headers written without one."""
        raw = header.get("resume") or {"state": "Initializing", "day": header["session_date"]}
        return cls(
            state=raw["state"],
            day=date.fromisoformat(raw["day"]),
            days_left=raw.get("days_left", days),
            day_closed=raw.get("day_closed", False),
            skip_day=raw.get("skip_day", False),
            session_loaded=raw.get("session_loaded", False),
            session=decode(raw.get("session")),
            account=decode(raw.get("account")),
            at=None if raw["state"] == State.INITIALIZING else datetime.fromisoformat(header["ts"]),
            orders_before=OrderHistory.from_dict(raw.get("orders_before")),
        )


class Days:
    def __init__(self, cfg: Config, first: date, broker: Broker) -> None:
        self._cfg = cfg
        self._broker = broker
        self.day = first
        self.forever = cfg.session.forever
        self.left = cfg.session.count or 1
        """Sessions left, this one included; a run `forever` always has this one and the next."""
        self.session: Session | None = None
        self.schedule: Schedule | None = None
        self.loaded = False
        self.closed = False
        """The session's books are closed (its report written); the journal stays open for its last records."""
        self.skipped = False
        """The day holds no session: move on to the next without counting it."""

    @property
    def more(self) -> bool:
        return self.forever or self.left > 1

    @property
    def at_boundary(self) -> bool:
        return self.closed or self.skipped

    def load(self) -> Session | None:
        """Ask the broker for the day's session (None: not a trading day) and compute its schedule once."""
        self._set(self._broker.session(self.day))
        self.loaded = True
        return self.session

    def advance(self) -> None:
        """On to the next exchange session; a skipped non-session day does not count as one of the days."""
        if not self.skipped and not self.forever:
            self.left -= 1
        self.day = self._broker.next_session(self.day).day
        self.closed = self.skipped = False

    def point(self, state: str, account: Account | None, at: datetime | None = None) -> ResumePoint:
        return ResumePoint(
            state, self.day, self.left, self.closed, self.skipped, self.loaded, self.session, account, at
        )

    def restore(self, point: ResumePoint) -> None:
        self.day, self.left = point.day, point.days_left
        self.closed, self.skipped, self.loaded = point.day_closed, point.skip_day, point.session_loaded
        self._set(point.session)

    def _set(self, session: Session | None) -> None:
        s = self._cfg
        self.session = session
        self.schedule = None if session is None else Schedule.of(session, s.strategy, s.risk)
