"""The session's clock times, computed once when its session is known: every handler reads the same value."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, time, timedelta

from engine.config import RiskConfig, StrategyConfig
from engine.models import Session
from engine.risk import session_time


@dataclass(frozen=True)
class Schedule:
    open: datetime
    close: datetime
    entry_start: datetime
    entry_end: datetime
    hard_exit: datetime

    @classmethod
    def of(cls, session: Session, strategy: StrategyConfig, risk: RiskConfig) -> Schedule:
        """The configured times; on an early-close day the hard exit keeps its distance to the close and the
        entry end its distance to the hard exit, so a 13:00 close neither trades into the bell nor enters late."""

        def at(wall: time) -> datetime:
            return session_time(session.day, wall, session.close)

        hard_exit = min(at(risk.hard_exit), session.close - _between(risk.hard_exit, time(16, 0)))
        entry_end = min(at(strategy.entry_end), hard_exit - _between(strategy.entry_end, risk.hard_exit))
        return cls(session.open, session.close, at(strategy.entry_start), entry_end, hard_exit)

    def is_open(self, now: datetime) -> bool:
        return self.open <= now < self.close


def _between(a: time, b: time) -> timedelta:
    return timedelta(hours=b.hour - a.hour, minutes=b.minute - a.minute)
