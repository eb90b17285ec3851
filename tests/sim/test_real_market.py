"""The market on real quotes: shown as the file shows them, filled only at prices it shows, IV in Alpaca's convention.

Every expected price is a deci-cent figure written into the hand-made quote file here, never read from the market.
"""

from __future__ import annotations

from datetime import datetime
from pathlib import Path

import numpy as np
import pytest

from engine.calendar import ET, ExchangeCalendar
from engine.config import InstrumentConfig, SimConfig
from engine.models import OrderRequest, OrderStatus, Session, Side
from engine.occ import occ_symbol
from engine.pricing import black_scholes, calendar_years, years_to_expiry
from engine.sim.exchange import SimExchange
from engine.sim.lean import read_option_quotes
from engine.sim.market import SimMarket
from tests.sim.conftest import leg, path_bars
from tests.sim.test_lean import DAY, entry, qrow, quote_zip

SPOT = 3750.0
SPXW = InstrumentConfig(root="SPXW", strike_step=5.0, exercise="european", settlement="cash")


def at(hh: int, mm: int, ss: int = 0) -> datetime:
    return datetime(DAY.year, DAY.month, DAY.day, hh, mm, ss, tzinfo=ET)


def sym(right: str, strike: float) -> str:
    return occ_symbol("SPXW", DAY, right, strike)


P3700, C3700, P3800, C3800 = sym("P", 3700), sym("C", 3700), sym("P", 3800), sym("C", 3800)


@pytest.fixture(scope="module")
def session() -> Session:
    found = ExchangeCalendar().session(DAY)
    assert found is not None
    return found


@pytest.fixture
def market(tmp_path: Path, session: Session) -> SimMarket:
    """3700 put two-sided all morning; 3800 call bid-less (0.00 x 0.05); 3800 put offered only from 10:00;
    3700 call quoted once at 09:40 and never again."""
    rows = {
        entry("put", 3700): [qrow(9, 30, (3500, 3500), (5000, 5000)), qrow(9, 59, (4000, 4000), (5500, 5500))],
        entry("call", 3800): [qrow(9, 30, None, (500, 500))],
        entry("put", 3800): [qrow(9, 30, (495000, 495000), None), qrow(9, 59, (495000, 495000), (505000, 505000))],
        entry("call", 3700): [qrow(9, 40, (510000, 510000), (520000, 520000))],
    }
    grid = read_option_quotes(quote_zip(tmp_path, rows)).grid(
        int(session.open.timestamp()), (int(session.close.timestamp()) - int(session.open.timestamp())) // 60, DAY
    )
    bars = path_bars(session, np.full(390, SPOT), SPOT)
    return SimMarket(bars, SimConfig(rate=0.0), session, "SPX", grid, SPXW)


def test_lists_the_files_contracts_under_the_instruments_root(market: SimMarket) -> None:
    assert {c.symbol for c in market.contracts()} == {P3700, C3700, P3800, C3800}
    assert {c.underlying for c in market.contracts()} == {"SPX"}


def test_an_empty_bid_is_a_zero_bid_and_a_contract_nobody_offers_is_not_quoted(market: SimMarket) -> None:
    q = market.quote(C3800, at(9, 45))
    assert q is not None and (q.bid, q.ask) == (0.0, 0.05)
    assert q.iv is None and q.delta is None  # no two-sided mid to solve from
    assert market.quote(P3800, at(9, 45)) is None
    assert P3800 not in {q.symbol for q in market.chain(at(9, 45), 3600, 3900)}
    offered = market.quote(P3800, at(10, 0))
    assert offered is not None and (offered.bid, offered.ask) == (49.5, 50.5)


def test_a_quote_carries_the_time_the_file_set_it(market: SimMarket) -> None:
    q = market.quote(C3700, at(11, 0))
    assert q is not None and (q.bid, q.ask) == (51.0, 52.0)
    assert q.ts == at(9, 41)  # the 09:40 bar closed at 09:41; nothing newer since
    assert market.quote(P3700, at(10, 30)).ts == at(10, 0)


def test_published_iv_reprices_the_mid_in_calendar_time_not_trading_time(market: SimMarket) -> None:
    q = market.quote(P3700, at(10, 30))
    assert q is not None and q.iv is not None and q.delta is not None
    left = (at(16, 0) - at(10, 30)).total_seconds()
    mid = (0.40 + 0.55) / 2
    calendar, _ = black_scholes(SPOT, 3700.0, calendar_years(left), q.iv, 0.0, False)
    trading, _ = black_scholes(SPOT, 3700.0, years_to_expiry(left), q.iv, 0.0, False)
    assert float(calendar) == pytest.approx(mid, abs=0.005)  # the IV is published to 4 decimals
    assert abs(float(trading) - mid) > 0.1
    assert -0.5 < q.delta < 0


def test_fills_at_the_files_natural_and_never_against_a_side_it_does_not_show(market: SimMarket) -> None:
    ex = SimExchange(SimConfig(), market)
    buy_put = (leg(P3800, Side.BUY),)
    working = ex.submit(OrderRequest("no-offer", buy_put, 1, 60.0), at(9, 45))
    assert working.status is OrderStatus.NEW  # marketable at any price, but nobody offers the 3800 put yet
    assert ex.get_order(working.id, at(9, 59, 30)).status is OrderStatus.NEW
    filled = ex.get_order(working.id, at(10, 0, 1))
    assert filled.status is OrderStatus.FILLED and filled.filled_avg_price == pytest.approx(50.5)
    assert filled.filled_at == at(10, 0)


def test_selling_into_an_empty_bid_gets_nothing(market: SimMarket) -> None:
    ex = SimExchange(SimConfig(), market)
    opened = ex.get_order(ex.submit(OrderRequest("buy", (leg(C3800, Side.BUY),), 1, 0.05), at(9, 45)).id, at(9, 45))
    assert opened.status is OrderStatus.FILLED and opened.filled_avg_price == pytest.approx(0.05)
    sell = (leg(C3800, Side.SELL, opening=False),)
    closed = ex.get_order(ex.submit(OrderRequest("sell", sell, 1, 0.0), at(9, 46)).id, at(9, 46))
    assert closed.status is OrderStatus.FILLED and closed.filled_avg_price == pytest.approx(0.0)


def test_positions_are_marked_at_the_last_two_sided_mid(market: SimMarket) -> None:
    ex = SimExchange(SimConfig(starting_cash=100_000.0), market)
    ex.submit(OrderRequest("c3700", (leg(C3700, Side.BUY),), 1, 52.0), at(9, 45))
    # The 3700 call was last quoted 51.00 x 52.00 at 09:41; at 15:00 it is still marked at that mid.
    acct = ex.account(at(15, 0))
    assert acct.equity == pytest.approx(100_000.0 - 52.0 * 100 + 51.5 * 100)
    [pos] = ex.positions(at(15, 0))
    assert pos.unrealized_pl == pytest.approx(-50.0)


def test_a_bid_less_long_leg_left_at_the_close_settles_in_cash(market: SimMarket) -> None:
    ex = SimExchange(SimConfig(), market)
    ex.submit(OrderRequest("c3800", (leg(C3800, Side.BUY),), 1, 0.05), at(9, 45))
    ex.account(at(16, 0))
    assert [(e["kind"], e["symbol"], e["price"]) for e in ex.events] == [("settlement", C3800, 0.0)]


def test_the_option_stream_tells_a_real_quote_once_in_the_minute_the_file_set_it(market: SimMarket) -> None:
    """serve-sim's option quotes on real quotes (engine/sim/stream_feed.py): a quote is news only in the minute it
    changed, whatever steps the clock took to get there; one that nobody offers is not told."""
    from engine.sim.stream_feed import StreamFeed

    symbols = frozenset({P3700, C3700, P3800, C3800})

    def told(moments: list[datetime]) -> list[tuple[datetime, str]]:
        events = []
        for lo, hi in zip(moments, moments[1:], strict=False):
            events += StreamFeed._option_quotes(market, lo, hi, symbols)
        return [(e.at, e.symbol) for e in events]

    expected = [(at(9, 31), C3800), (at(9, 31), P3700), (at(9, 41), C3700), (at(10, 0), P3700), (at(10, 0), P3800)]
    assert told([at(9, 30), at(10, 30)]) == expected
    assert told([at(9, 30), at(9, 45, 30), at(9, 59), at(10, 0), at(10, 30)]) == expected
    assert told([at(9, 30) + i * (at(9, 31) - at(9, 30)) for i in range(61)]) == expected
