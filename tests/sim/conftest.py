"""Shared fixtures of the simulator tests: sessions, hand-made bars, markets and exchanges."""

from __future__ import annotations

from collections.abc import Callable
from datetime import date

import numpy as np
import pytest

from engine.calendar import ExchangeCalendar
from engine.config import SimConfig
from engine.models import Bars, Intent, Leg, Session, Side
from engine.sim.exchange import SimExchange
from engine.sim.market import SimMarket

DAY = date(2025, 7, 1)


@pytest.fixture(scope="session")
def calendar() -> ExchangeCalendar:
    return ExchangeCalendar()


@pytest.fixture(scope="session")
def session(calendar: ExchangeCalendar) -> Session:
    return calendar.session(DAY)


@pytest.fixture
def cfg() -> SimConfig:
    return SimConfig()


def path_bars(session: Session, closes: np.ndarray, first_open: float) -> Bars:
    """Regular-session bars whose closes are given; each bar opens at the previous close."""
    n = len(closes)
    opens = np.concatenate(([first_open], closes[:-1]))
    ts = int(session.open.timestamp()) + 60 * np.arange(n, dtype=np.int64)
    return Bars("SPY", ts, opens, np.maximum(opens, closes), np.minimum(opens, closes), closes, np.full(n, 1000.0))


@pytest.fixture
def flat_market(session: Session, cfg: SimConfig) -> Callable[..., SimMarket]:
    """A market whose underlying sits at `price` all day, optionally closing the last bar at `last_close`."""

    def build(price: float = 600.0, last_close: float | None = None, sim: SimConfig | None = None) -> SimMarket:
        minutes = (int(session.close.timestamp()) - int(session.open.timestamp())) // 60
        closes = np.full(minutes, price)
        if last_close is not None:
            closes[-1] = last_close
        return SimMarket(path_bars(session, closes, price), sim or cfg, session, "SPY")

    return build


@pytest.fixture
def bars_from() -> Callable[[Session, np.ndarray, float], Bars]:
    return path_bars


@pytest.fixture
def exchange(flat_market: Callable[..., SimMarket], cfg: SimConfig) -> SimExchange:
    return SimExchange(cfg, flat_market())


def leg(symbol: str, side: Side, opening: bool = True) -> Leg:
    if side is Side.BUY:
        return Leg(symbol, side, Intent.BUY_TO_OPEN if opening else Intent.BUY_TO_CLOSE)
    return Leg(symbol, side, Intent.SELL_TO_OPEN if opening else Intent.SELL_TO_CLOSE)


@pytest.fixture
def make_leg() -> Callable[..., Leg]:
    return leg
