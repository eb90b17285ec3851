"""Quote freshness: judged by the quotes' own timestamps against data.max_staleness_s and data.outage_tolerance_s."""

from __future__ import annotations

from datetime import datetime, timedelta

from engine.calendar import ET
from engine.config import DataConfig
from engine.data import DataHealth
from engine.marks import Marks, freshness
from engine.models import OptionQuote
from engine.ports import MarketData

NOW = datetime(2025, 7, 1, 11, 0, tzinfo=ET)
CFG = DataConfig(max_staleness_s=180.0, outage_tolerance_s=600.0)


def quote(symbol: str, age_s: float) -> OptionQuote:
    return OptionQuote(symbol, 1.0, 1.1, NOW - timedelta(seconds=age_s))


def test_fresh_up_to_the_staleness_limit_then_stale_then_an_outage() -> None:
    assert freshness([quote("A", 180.0)], NOW, CFG).health is DataHealth.OK
    assert freshness([quote("A", 181.0)], NOW, CFG).health is DataHealth.STALE
    assert freshness([quote("A", 600.0)], NOW, CFG).health is DataHealth.STALE
    assert freshness([quote("A", 601.0)], NOW, CFG).health is DataHealth.OUTAGE


def test_the_oldest_quote_decides_and_is_named() -> None:
    verdict = freshness([quote("A", 5.0), quote("B", 400.0), quote("C", 30.0)], NOW, CFG)
    assert verdict.health is DataHealth.STALE
    assert verdict.reason == "stale quote: B last quoted 400s ago"


def test_refresh_asks_for_the_held_symbols_and_keeps_what_came_back(mocker) -> None:
    md = mocker.Mock(spec=MarketData)
    md.quotes.return_value = {"A": quote("A", 1.0), "B": quote("B", 700.0)}
    marks = Marks(md, CFG)

    verdict = marks.refresh(["A", "B"], NOW)

    md.quotes.assert_called_once_with(["A", "B"])
    assert set(marks.quotes) == {"A", "B"}
    assert verdict.health is DataHealth.OUTAGE and "B" in verdict.reason
    marks.clear()
    assert marks.quotes == {}


def test_a_missing_quote_is_left_to_the_pricing_not_called_fresh_or_stale(mocker) -> None:
    """Only quotes that came back are judged: a symbol without one makes the mark unknown (Book.unrealized_pnl is
    NaN, a decision on it raises), which is another failure than age."""
    md = mocker.Mock(spec=MarketData)
    md.quotes.return_value = {"A": quote("A", 1.0)}
    assert Marks(md, CFG).refresh(["A", "B"], NOW).health is DataHealth.OK
