"""The simulator on a session's recording: its quotes in their own minutes over the model, its bars as the path."""

from __future__ import annotations

from datetime import date, datetime
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest

from engine.app import read_recording
from engine.calendar import ExchangeCalendar
from engine.clock import SimClock
from engine.config import SimConfig
from engine.journal.audit import Journal
from engine.models import Bars, OptionQuote, Right, Session
from engine.occ import occ_symbol
from engine.sim.errors import SimDataError
from engine.sim.market import SimMarket
from engine.sim.underlying import random_walk_bars
from engine.sim.venue import SimVenue

ET = ZoneInfo("America/New_York")
DAY = date(2025, 7, 1)


def at(hh: int, mm: int, ss: int = 0) -> datetime:
    return datetime(DAY.year, DAY.month, DAY.day, hh, mm, ss, tzinfo=ET)


@pytest.fixture
def walk(session: Session) -> Bars:
    return random_walk_bars("SPY", session, 600.3, 0.14, seed=11)


def test_a_recorded_quote_shows_in_its_own_minute_and_the_model_elsewhere(
    walk: Bars, cfg: SimConfig, session: Session
) -> None:
    put = occ_symbol("SPY", DAY, Right.PUT, 595.0)
    model = SimMarket(walk, cfg, session, "SPY")
    shown = OptionQuote(put, 1.11, 1.29, at(10, 0, 30), 0.2, -0.3)
    market = SimMarket(walk, cfg, session, "SPY", recorded=[shown])
    q = market.quote(put, at(10, 0, 45))
    assert q is not None and (q.bid, q.ask, q.ts, q.delta) == (1.11, 1.29, at(10, 0, 30), -0.3)
    assert market.bid_ask(put, market.minute(at(10, 0))) == (1.11, 1.29), "fills meet the recorded quote"
    for t in (at(9, 59, 59), at(10, 1)):
        assert market.quote(put, t) == model.quote(put, t), "the minutes it was not recorded in are the model's"


def test_a_later_quote_of_the_same_minute_wins_and_a_strike_off_the_model_is_listed(
    walk: Bars, cfg: SimConfig, session: Session
) -> None:
    call = occ_symbol("SPY", DAY, Right.CALL, 700.5)
    quotes = [OptionQuote(call, 0.02, 0.05, at(11, 0, 40)), OptionQuote(call, 0.01, 0.04, at(11, 0, 10))]
    market = SimMarket(walk, cfg, session, "SPY", recorded=quotes)
    assert market.contract(call) is not None
    q = market.quote(call, at(11, 0, 50))
    assert q is not None and (q.bid, q.ask, q.ts) == (0.02, 0.05, at(11, 0, 40))
    other_day = occ_symbol("SPY", date(2025, 7, 2), Right.CALL, 600.0)
    assert SimMarket(walk, cfg, session, "SPY", recorded=[OptionQuote(other_day, 1, 2, at(11, 0))]).contract(
        other_day) is None, "a recorded contract of another expiry is not today's chain"


def _journal(path: Path, day: str) -> Path:
    j = Journal(path)
    j.append("header", datetime.fromisoformat(f"{day}T09:00:00-04:00"), session_date=day, broker="alpaca",
             config={"underlying": "SPY"})
    j.close()
    return path


def test_a_journal_without_bars_or_missing_is_a_data_error_naming_it(tmp_path: Path) -> None:
    cal = ExchangeCalendar()
    clock = SimClock(at(9, 0))
    empty = _journal(tmp_path / "audit-20250701.jsonl", "2025-07-01")
    with pytest.raises(SimDataError, match=f"{empty}: the journal holds no bars"):
        SimVenue(SimConfig(bars=empty), "SPY", clock, cal, None, read_recording).check_data([DAY])
    with pytest.raises(SimDataError, match="cannot read"):
        SimVenue(SimConfig(quotes=tmp_path / "gone.jsonl"), "SPY", clock, cal, None, read_recording).check_data([DAY])
