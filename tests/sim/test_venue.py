"""The venue and the in-process Broker/MarketData adapters on top of it, driven by a simulated clock."""

from __future__ import annotations

import inspect
import time
from datetime import date, datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest

from engine import ports
from engine.brokers.sim import SimBroker, SimMarketData
from engine.calendar import ExchangeCalendar
from engine.clock import SimClock
from engine.config import SimConfig
from engine.errors import DataError
from engine.models import Intent, Leg, OrderRequest, OrderStatus, Side
from engine.sim.errors import SimDataError
from engine.sim.venue import SimVenue

ET = ZoneInfo("America/New_York")
DAY = date(2025, 7, 1)
SHARED = Path(__file__).resolve().parents[2] / ".." / "shared"
SPY_CSV = SHARED / "data" / "other" / "pratikdkale_rl_trade_execution" / "data" / "SPY_1min.csv"


def at(hh: int, mm: int, ss: int = 0, day: date = DAY) -> datetime:
    return datetime(day.year, day.month, day.day, hh, mm, ss, tzinfo=ET)


@pytest.fixture
def clock() -> SimClock:
    return SimClock(at(8, 0))


@pytest.fixture
def venue(cfg: SimConfig, clock: SimClock, calendar: ExchangeCalendar) -> SimVenue:
    return SimVenue(cfg, "SPY", clock, calendar)


def _protocol_methods(proto: type) -> dict[str, inspect.Signature]:
    return {n: inspect.signature(f) for n, f in vars(proto).items() if inspect.isfunction(f) and not n.startswith("_")}


@pytest.mark.parametrize(("adapter", "proto"), [(SimBroker, ports.Broker), (SimMarketData, ports.MarketData)])
def test_adapters_implement_the_ports(adapter: type, proto: type) -> None:
    for name, sig in _protocol_methods(proto).items():
        mine = getattr(adapter, name, None)
        assert mine is not None, f"{adapter.__name__} lacks {name}"
        assert list(inspect.signature(mine).parameters) == list(sig.parameters), name


def test_contracts_chain_quotes_and_bars(venue: SimVenue, clock: SimClock) -> None:
    broker, data = SimBroker(venue), SimMarketData(venue)
    listed = broker.contracts("SPY", DAY, 595, 605)
    assert len(listed) == 22 and {c.strike for c in listed} == set(map(float, range(595, 606)))
    assert broker.contracts("SPY", DAY + timedelta(days=1), 0, 10_000) == []
    assert broker.contracts("QQQ", DAY, 0, 10_000) == []
    with pytest.raises(DataError, match="market closed"):
        data.chain("SPY", DAY, 595, 605)  # listed before the open, but nothing is quoted yet

    clock.set(at(10, 0, 30))
    chain = data.chain("SPY", DAY, 598, 602)
    assert [q.symbol for q in chain] == [c.symbol for c in listed if 598 <= c.strike <= 602]
    assert all(q.iv is not None and q.delta is not None for q in chain)
    wanted = [chain[0].symbol, chain[3].symbol, "SPY250702C00600000"]
    quotes = data.quotes(wanted)
    assert set(quotes) == set(wanted[:2]) and quotes[chain[0].symbol] == chain[0]
    bars = data.bars("SPY", at(9, 30), at(10, 1))
    assert len(bars) == 30 and bars.ts[-1] == int(at(9, 59).timestamp())
    with pytest.raises(DataError, match="QQQ"):
        data.bars("QQQ", at(9, 30), at(10, 1))


def test_calendar_and_non_session_days(venue: SimVenue, clock: SimClock, cfg: SimConfig) -> None:
    broker = SimBroker(venue)
    assert broker.session(date(2025, 7, 4)) is None
    assert broker.next_session(date(2025, 7, 3)).day == date(2025, 7, 7)
    early = broker.session(date(2025, 7, 3))
    assert early.close == at(13, 0, day=date(2025, 7, 3))
    clock.set(at(10, 0, day=date(2025, 7, 5)))  # a Saturday
    assert venue.market() is None
    assert broker.contracts("SPY", date(2025, 7, 5), 0, 10_000) == []
    assert len(SimMarketData(venue).bars("SPY", at(9, 30, day=date(2025, 7, 5)), at(16, 0, day=date(2025, 7, 5)))) == 0
    acct = broker.account()
    assert (acct.equity, acct.last_equity, acct.cash, acct.paper) == (cfg.starting_cash,) * 3 + (True,)


def test_market_is_built_once_per_session_day(venue: SimVenue, clock: SimClock) -> None:
    first = venue.market()
    clock.set(at(15, 0))
    assert venue.market() is first
    clock.set(at(9, 0, day=date(2025, 7, 2)))
    second = venue.market()
    assert second is not first and second.session.day == date(2025, 7, 2)
    assert venue.exchange.market is second


def test_a_trading_day_and_the_next_one(venue: SimVenue, clock: SimClock) -> None:
    broker = SimBroker(venue)
    clock.set(at(10, 0, 5))
    mk = venue.market()
    atm_at_1545 = round(mk.spot(at(15, 45)))  # a strike that still has a bid when the liquidation comes
    legs = (Leg(f"SPY250701C00{atm_at_1545}000", Side.BUY, Intent.BUY_TO_OPEN),)
    assert mk.quote(legs[0].symbol, at(15, 45)).bid > 0
    ask = mk.quote(legs[0].symbol, clock.now()).ask
    order = broker.submit_order(OrderRequest("zdte-1", legs, 1, round(ask + 0.5, 2)))
    assert broker.get_order(order.id).status is OrderStatus.FILLED
    assert broker.order_by_client_id("zdte-1").id == order.id
    assert [p.symbol for p in broker.positions()] == [legs[0].symbol]
    assert broker.open_orders() == []
    clock.set(at(15, 50))
    assert broker.positions() == []  # liquidated at 15:45
    [liq] = venue.events()
    assert liq["kind"] == "liquidation" and liq["time"] == at(15, 45)
    day_one_close = 100_000 + (liq["price"] - ask) * 100
    clock.set(at(9, 0, day=date(2025, 7, 2)))
    acct = broker.account()
    assert acct.last_equity == pytest.approx(day_one_close) and acct.cash == pytest.approx(day_one_close)
    assert [o.client_order_id for o in venue.all_orders()] == ["zdte-1"]


@pytest.mark.skipif(not SPY_CSV.is_file(), reason=f"shared SPY minute data not found at {SPY_CSV}")
def test_venue_on_csv_bars(cfg: SimConfig, clock: SimClock, calendar: ExchangeCalendar) -> None:
    venue = SimVenue(cfg.model_copy(update={"bars": SPY_CSV}), "SPY", clock, calendar)
    clock.set(at(9, 45))
    bars = SimMarketData(venue).bars("SPY", at(4, 0), at(9, 45))
    assert bars.ts[0] == int(at(4, 0).timestamp()) and bars.ts[-1] == int(at(9, 44).timestamp())
    assert venue.market().spot(at(9, 45)) == bars.close[-1]
    clock.set(at(9, 0, day=date(2025, 8, 1)))  # not in the file
    with pytest.raises(SimDataError, match="2025-08-01"):
        venue.market()


def test_a_day_of_polling_costs_milliseconds(venue: SimVenue, clock: SimClock) -> None:
    broker, data = SimBroker(venue), SimMarketData(venue)
    clock.set(at(9, 30))
    venue.market()  # building the day (bars + quote grid) is measured separately by the benchmark
    start = time.perf_counter()
    while clock.now() < at(16, 0):
        now = clock.now()
        data.bars("SPY", now - timedelta(minutes=60), now)
        chain = data.chain("SPY", DAY, 590, 610)
        data.quotes([q.symbol for q in chain[:4]])
        broker.account()
        broker.positions()
        broker.open_orders()
        clock.sleep(30)
    assert time.perf_counter() - start < 0.25  # 780 polls x 6 calls


def test_the_adapters_turn_the_simulators_errors_into_the_engines(venue: SimVenue, clock: SimClock) -> None:
    from engine.errors import BrokerError, OrderRejected
    from engine.models import Intent, Leg, OrderRequest, Side

    broker = SimBroker(venue)
    clock.set(at(10, 0))
    leg = Leg("SPY250701C00600000", Side.BUY, Intent.BUY_TO_OPEN)
    broker.submit_order(OrderRequest("dup", (leg,), 1, 0.01))
    with pytest.raises(OrderRejected, match="unique") as rejected:
        broker.submit_order(OrderRequest("dup", (leg,), 1, 0.01))
    assert rejected.value.status == 422 and not rejected.value.transient
    with pytest.raises(BrokerError, match="not found") as missing:
        broker.get_order("no-such-order")
    assert missing.value.status == 404


def test_the_simulator_imports_only_the_models_it_serves() -> None:
    """engine/sim stands on its own: its own parameters (params.py) and errors (errors.py); from the engine only
    the plain data it serves (models, OCC symbols), the pricing math and the time math (epoch seconds).
    serve-sim's command, which reads the engine's config, is engine/serve_cli.py."""
    import ast

    allowed = {"engine.models", "engine.occ", "engine.pricing", "engine.epoch", "engine"}
    sim_dir = Path(__file__).resolve().parents[2] / "engine" / "sim"
    paths = sorted(sim_dir.glob("*.py"))
    serve_sim = {"alpaca_api.py", "api_call.py", "market_data_api.py", "query.py", "trading_api.py", "transport.py"}
    assert serve_sim <= {p.name for p in paths}, "serve-sim's modules moved: check them here under their new names"
    for path in paths:
        tree = ast.parse(path.read_text())
        for node in ast.walk(tree):
            if isinstance(node, ast.ImportFrom) and node.module and node.module.startswith("engine"):
                module = node.module
                if module == "engine":
                    assert [a.name for a in node.names] == ["pricing"], f"{path.name}: from engine import {node.names}"
                assert module.startswith("engine.sim") or module in allowed, f"{path.name} imports {module}"


def test_serve_sims_api_answers_without_sockets_threads_or_wall_time() -> None:
    """serve-sim's Alpaca API is request in, reply out: the network, threads, sleeping and seeded faults are the
    transport's (engine/sim/transport.py, engine/sim/stream_server.py), so the API, and what its streams say and
    publish, can be called and tested as plain functions."""
    import ast

    transport_only = {"socket", "socketserver", "http", "threading", "time", "random", "asyncio", "websockets"}
    sim_dir = Path(__file__).resolve().parents[2] / "engine" / "sim"
    rest = ("alpaca_api.py", "api_call.py", "market_data_api.py", "query.py", "trading_api.py", "alpaca_json.py")
    streams = ("stream_feed.py", "stream_protocol.py", "stream_wire.py", "trade_updates.py")
    for name in rest + streams:
        imported: set[str] = set()
        for node in ast.walk(ast.parse((sim_dir / name).read_text())):
            if isinstance(node, ast.Import):
                imported |= {a.name for a in node.names}
            elif isinstance(node, ast.ImportFrom) and node.module:
                imported.add(node.module)
        transports = ("engine.sim.transport", "engine.sim.stream_server")
        found = {m for m in imported if m.split(".")[0] in transport_only or m in transports}
        assert not found, f"{name} imports {sorted(found)}"
