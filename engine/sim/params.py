"""What the simulator needs to be told, as it reads it: the engine's config objects (engine/config.py) fit these
shapes, and so does anything else with the same attributes, so the simulator does not import the engine's config."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime
from pathlib import Path
from typing import Protocol
from zoneinfo import ZoneInfo

from engine.models import Session


class SimSettings(Protocol):
    @property
    def seed(self) -> int: ...
    @property
    def bars(self) -> Path | None: ...
    @property
    def quotes(self) -> Path | None: ...
    @property
    def start_price(self) -> float: ...
    @property
    def annual_vol(self) -> float: ...
    @property
    def vol_source(self) -> str: ...
    @property
    def implied_vol(self) -> float: ...
    @property
    def vol_premium(self) -> float: ...
    @property
    def vol_lookback_days(self) -> int: ...
    @property
    def vol_file(self) -> Path | None: ...
    @property
    def smile_skew_z(self) -> float: ...
    @property
    def smile_curvature_z(self) -> float: ...
    @property
    def late_rise(self) -> float: ...
    @property
    def late_minutes(self) -> float: ...
    @property
    def spread_base(self) -> float: ...
    @property
    def spread_per_premium(self) -> float: ...
    @property
    def spread_max(self) -> float: ...
    @property
    def spread_late(self) -> float: ...
    @property
    def min_bid(self) -> float: ...
    @property
    def chain_width(self) -> int: ...
    @property
    def rate(self) -> float: ...
    @property
    def partial_fill_prob(self) -> float: ...
    @property
    def starting_cash(self) -> float: ...


class InstrumentSettings(Protocol):
    @property
    def root(self) -> str | None: ...
    @property
    def strike_step(self) -> float: ...
    @property
    def tick(self) -> float: ...
    @property
    def tick_above_3(self) -> float: ...
    @property
    def multiplier(self) -> int: ...
    @property
    def exercise(self) -> str: ...
    @property
    def settlement(self) -> str: ...


@dataclass(frozen=True)
class Instrument:
    """SPY's options: the instrument when none is given."""

    root: str | None = None
    strike_step: float = 1.0
    tick: float = 0.01
    tick_above_3: float = 0.01
    multiplier: int = 100
    exercise: str = "american"
    settlement: str = "physical"


class Calendar(Protocol):
    """The exchange's sessions (engine/calendar.py's ExchangeCalendar is one), and the range it knows."""

    first_day: date
    last_day: date

    def session(self, day: date) -> Session | None: ...

    def next_session(self, after: date) -> Session: ...


class Clock(Protocol):
    def now(self) -> datetime: ...


class SimulatedClock(Clock, Protocol):
    """The clock serve-sim moves (engine/clock.py's SimClock is one)."""

    def sleep(self, seconds: float) -> None: ...

    def set(self, when: datetime) -> None: ...


NEW_YORK = ZoneInfo("America/New_York")
"""Where the sessions' days begin and end."""
