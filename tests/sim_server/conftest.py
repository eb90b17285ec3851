"""Fixtures of the serve-sim tests: a SimServer on 127.0.0.1 and the real alpaca-py clients pointed at it.

Helpers are handed out as fixtures (a `Sim` bundle), not imported from here: tests/ has several conftest
modules, and `from conftest import ...` would pick whichever was imported last.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from datetime import date, datetime
from pathlib import Path
from typing import Any

import pytest
import requests
from alpaca.data.enums import DataFeed
from alpaca.data.historical.option import OptionHistoricalDataClient
from alpaca.data.historical.stock import StockHistoricalDataClient
from alpaca.data.requests import OptionSnapshotRequest, StockBarsRequest
from alpaca.data.timeframe import TimeFrame
from alpaca.trading.client import TradingClient
from alpaca.trading.enums import OrderClass, OrderSide, PositionIntent, TimeInForce
from alpaca.trading.requests import LimitOrderRequest, OptionLegRequest

from engine.calendar import ET, ExchangeCalendar
from engine.clock import SimClock
from engine.config import SimConfig
from engine.occ import occ_symbol
from engine.sim.transport import SimServer
from engine.sim.venue import SimVenue

DAY = date(2025, 7, 1)
KEY, SECRET = "test-key", "test-secret"
FIXTURES = Path(__file__).resolve().parents[2] / ".." / "shared" / "fixtures" / "alpaca"


class Sim:
    """One server, its clock and the three alpaca-py clients, with the moves the tests keep making."""

    def __init__(self, server: SimServer) -> None:
        self.server = server
        self.url = server.url
        self.headers = {"APCA-API-KEY-ID": KEY, "APCA-API-SECRET-KEY": SECRET}
        self.trading = TradingClient(KEY, SECRET, paper=True, url_override=server.url)
        self.stocks = StockHistoricalDataClient(KEY, SECRET, url_override=server.url)
        self.options = OptionHistoricalDataClient(KEY, SECRET, url_override=server.url)
        self._cid = 0

    def get(self, path: str, **kwargs: Any) -> requests.Response:
        kwargs.setdefault("timeout", 5)
        kwargs.setdefault("headers", self.headers)
        return requests.get(self.url + path, **kwargs)

    def post(self, path: str, **kwargs: Any) -> requests.Response:
        kwargs.setdefault("timeout", 5)
        kwargs.setdefault("headers", self.headers)
        return requests.post(self.url + path, **kwargs)

    def now(self) -> datetime:
        return datetime.fromisoformat(self.get("/sim/info").json()["now"])

    def advance(self, seconds: float) -> datetime:
        r = self.post("/sim/advance", json={"seconds": seconds})
        assert r.status_code == 200, r.text
        return datetime.fromisoformat(r.json()["now"])

    def at_least(self, hh: int, mm: int, ss: int = 0) -> datetime:
        """Move the clock to hh:mm:ss ET on the server's day unless it is already later (time never goes back)."""
        now = self.now()
        target = datetime(now.year, now.month, now.day, hh, mm, ss, tzinfo=ET)
        r = self.post("/sim/advance", json={"until": target.isoformat()})
        assert r.status_code == 200, r.text
        return datetime.fromisoformat(r.json()["now"])

    def cid(self, tag: str = "t") -> str:
        self._cid += 1
        return f"{tag}-{self._cid}"

    def spot(self) -> float:
        bars = self.stocks.get_stock_bars(
            StockBarsRequest(symbol_or_symbols="SPY", timeframe=TimeFrame.Minute, feed=DataFeed.IEX)
        )
        return bars["SPY"][-1].close

    def condor(self, width: int = 5, distance: int = 5, *, open_: bool = True) -> list[tuple[str, OrderSide]]:
        """An iron condor around the spot (symbols and sides of the opening order)."""
        day = self.now().astimezone(ET).date()
        k = round(self.spot())
        sides = [
            (occ_symbol("SPY", day, "P", k - distance - width), OrderSide.BUY),
            (occ_symbol("SPY", day, "P", k - distance), OrderSide.SELL),
            (occ_symbol("SPY", day, "C", k + distance), OrderSide.SELL),
            (occ_symbol("SPY", day, "C", k + distance + width), OrderSide.BUY),
        ]
        return sides if open_ else [(s, OrderSide.SELL if d is OrderSide.BUY else OrderSide.BUY) for s, d in sides]

    def natural(self, legs: list[tuple[str, OrderSide]]) -> float:
        """Net price that fills at once: buy at the ask, sell at the bid (negative = credit)."""
        snaps = self.options.get_option_snapshot(OptionSnapshotRequest(symbol_or_symbols=[s for s, _ in legs]))
        total = 0.0
        for symbol, side in legs:
            q = snaps[symbol].latest_quote
            total += q.ask_price if side is OrderSide.BUY else -q.bid_price
        return round(total, 2)

    def mleg(
        self, legs: list[tuple[str, OrderSide]], limit: float, cid: str, *, closing: bool = False
    ) -> LimitOrderRequest:
        intents = {
            (OrderSide.BUY, False): PositionIntent.BUY_TO_OPEN,
            (OrderSide.SELL, False): PositionIntent.SELL_TO_OPEN,
            (OrderSide.BUY, True): PositionIntent.BUY_TO_CLOSE,
            (OrderSide.SELL, True): PositionIntent.SELL_TO_CLOSE,
        }
        return LimitOrderRequest(
            order_class=OrderClass.MLEG,
            qty=1,
            limit_price=limit,
            time_in_force=TimeInForce.DAY,
            client_order_id=cid,
            legs=[
                OptionLegRequest(symbol=s, ratio_qty=1, side=side, position_intent=intents[(side, closing)])
                for s, side in legs
            ],
        )


def _start(day: date = DAY, **kwargs: Any) -> SimServer:
    clock = SimClock(datetime(day.year, day.month, day.day, 9, 0, tzinfo=ET))
    venue = SimVenue(SimConfig(), "SPY", clock, ExchangeCalendar())
    return SimServer(venue, clock, api_key=KEY, secret_key=SECRET, **kwargs).start()


@pytest.fixture(scope="module")
def sim() -> Iterator[Sim]:
    """One server per test module, at 09:00 ET on 2025-07-01; tests move its clock only forward."""
    server = _start()
    yield Sim(server)
    server.stop()


@pytest.fixture(scope="module")
def stream_sim() -> Iterator[Sim]:
    """One server with its websocket streams per test module, at 09:00 ET on 2025-07-01; time only moves forward."""
    server = _start(streams=True)
    yield Sim(server)
    server.stop()


@pytest.fixture
def make_sim() -> Iterator[Callable[..., Sim]]:
    """Fresh servers for tests that need their own clock or faults: make_sim(day=..., fault_rate=..., streams=True)."""
    started: list[SimServer] = []

    def make(**kwargs: Any) -> Sim:
        server = _start(**kwargs)
        started.append(server)
        return Sim(server)

    yield make
    for server in started:
        server.stop()


@pytest.fixture(scope="session")
def fixture_keys() -> Callable[[str], set[str]]:
    """Top-level keys of a recorded Alpaca payload (the contract); skips when the fixtures are absent."""
    import json

    def keys(name: str) -> set[str]:
        path = FIXTURES / name
        if not path.is_file():
            pytest.skip(f"Alpaca fixture {name} not available")
        data = json.loads(path.read_text())
        return set((data[0] if isinstance(data, list) else data).keys())

    return keys
