"""Every read endpoint of serve-sim round-trips through alpaca-py's own methods and models."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, date, datetime, timedelta

import pytest
import requests
from alpaca.common.exceptions import APIError
from alpaca.data.enums import DataFeed
from alpaca.data.historical.stock import StockHistoricalDataClient
from alpaca.data.requests import OptionChainRequest, OptionSnapshotRequest, StockBarsRequest
from alpaca.data.timeframe import TimeFrame
from alpaca.trading.client import TradingClient
from alpaca.trading.enums import AccountStatus, AssetStatus, ContractType
from alpaca.trading.models import TradeAccount
from alpaca.trading.requests import GetCalendarRequest, GetOptionContractsRequest

from engine.calendar import ET
from engine.occ import parse_occ

DAY = date(2025, 7, 1)
CHAIN_SIZE = 2 * 81  # SimConfig().chain_width = 40 strikes each side of the open, calls and puts


def test_account_parses_as_trade_account(sim, fixture_keys: Callable[[str], set[str]]) -> None:
    account = sim.trading.get_account()
    assert isinstance(account, TradeAccount)
    assert account.status is AccountStatus.ACTIVE
    assert account.options_trading_level == 3 and account.options_approved_level == 3
    assert account.cash == "100000" and account.equity == "100000" and account.last_equity == "100000"
    assert float(account.options_buying_power) == 100_000.0
    assert account.trading_blocked is False and account.pattern_day_trader is False
    assert account.account_number.startswith("PA")  # a paper account's number: the engine trades nothing else
    raw = sim.get("/v2/account").json()
    assert fixture_keys("trading_account_docs.json") <= set(raw)
    assert all(isinstance(raw[k], str) for k in ("cash", "equity", "last_equity", "buying_power"))


def test_clock_follows_sim_time_and_the_calendar(make_sim) -> None:
    s = make_sim()
    clock = s.trading.get_clock()
    assert clock.timestamp == datetime(2025, 7, 1, 9, 0, tzinfo=ET)
    assert clock.is_open is False
    assert clock.next_open == datetime(2025, 7, 1, 9, 30, tzinfo=ET)
    assert clock.next_close == datetime(2025, 7, 1, 16, 0, tzinfo=ET)
    assert s.advance(3600) == datetime(2025, 7, 1, 10, 0, tzinfo=ET)
    clock = s.trading.get_clock()
    assert clock.timestamp == datetime(2025, 7, 1, 10, 0, tzinfo=ET) and clock.is_open is True
    assert clock.next_open == datetime(2025, 7, 2, 9, 30, tzinfo=ET)
    s.at_least(16, 30)
    clock = s.trading.get_clock()
    assert clock.is_open is False and clock.next_close == datetime(2025, 7, 2, 16, 0, tzinfo=ET)


def test_clock_on_an_early_close_and_a_holiday(make_sim) -> None:
    s = make_sim(day=date(2025, 7, 3))
    s.at_least(13, 30)
    clock = s.trading.get_clock()
    assert clock.is_open is False
    assert clock.next_open == datetime(2025, 7, 7, 9, 30, tzinfo=ET)  # July 4th, then a weekend
    s.advance(86_400)  # the holiday itself
    assert s.trading.get_clock().next_close == datetime(2025, 7, 7, 16, 0, tzinfo=ET)


def test_calendar_has_sessions_early_closes_and_settlement(sim, fixture_keys) -> None:
    days = sim.trading.get_calendar(GetCalendarRequest(start=date(2025, 6, 30), end=date(2025, 7, 8)))
    assert [d.date for d in days] == [date(2025, 6, 30), *(date(2025, 7, d) for d in (1, 2, 3, 7, 8))]
    early = next(d for d in days if d.date == date(2025, 7, 3))
    assert early.open == datetime(2025, 7, 3, 9, 30) and early.close == datetime(2025, 7, 3, 13, 0)
    raw = sim.get("/v2/calendar", params={"start": "2025-07-03", "end": "2025-07-03"}).json()
    assert raw == [
        {
            "date": "2025-07-03",
            "open": "09:30",
            "close": "13:00",
            "session_open": "0400",
            "session_close": "1700",
            "settlement_date": "2025-07-07",
        }
    ]
    assert fixture_keys("trading_calendar.json") <= set(raw[0])


def test_option_contracts_page_through_every_contract_once(sim, fixture_keys) -> None:
    seen: list[str] = []
    token, pages = None, 0
    while True:
        page = sim.trading.get_option_contracts(
            GetOptionContractsRequest(underlying_symbols=["SPY"], expiration_date=DAY, limit=10, page_token=token)
        )
        pages += 1
        assert len(page.option_contracts) <= 10
        seen += [c.symbol for c in page.option_contracts]
        token = page.next_page_token
        if not token:
            break
    assert pages == -(-CHAIN_SIZE // 10) and len(seen) == len(set(seen)) == CHAIN_SIZE
    one = page.option_contracts[0]
    assert one.status is AssetStatus.ACTIVE and one.expiration_date == DAY and one.underlying_symbol == "SPY"
    assert one.size == "100" and one.strike_price == parse_occ(one.symbol).strike
    raw = sim.get("/v2/options/contracts", params={"underlying_symbols": "SPY", "limit": 1}).json()
    assert fixture_keys("trading_option_contracts.json") <= set(raw)
    assert fixture_keys("trading_option_contracts.json") <= set(raw)
    assert isinstance(raw["option_contracts"][0]["strike_price"], str)


def test_option_contract_filters(sim) -> None:
    def symbols(**kw) -> list[str]:
        page = sim.trading.get_option_contracts(GetOptionContractsRequest(underlying_symbols=["SPY"], **kw))
        return [c.symbol for c in page.option_contracts or []]

    ranged = symbols(expiration_date=DAY, strike_price_gte="595", strike_price_lte="605", limit=1000)
    assert len(ranged) == 22 and all(595 <= parse_occ(s).strike <= 605 for s in ranged)
    puts = symbols(expiration_date=DAY, type=ContractType.PUT, limit=1000)
    assert len(puts) == CHAIN_SIZE // 2 and all(parse_occ(s).right.value == "P" for s in puts)
    assert symbols(expiration_date=DAY + timedelta(days=1)) == []
    assert symbols(expiration_date=DAY, status=AssetStatus.INACTIVE) == []
    single = sim.trading.get_option_contract(ranged[0])
    assert single.symbol == ranged[0]
    assert sim.trading.get_option_contract(single.id).symbol == ranged[0]


def test_contract_page_token_is_checked(sim) -> None:
    r = sim.get("/v2/options/contracts", params={"page_token": "not-a-token"})
    assert r.status_code == 400 and r.json()["code"] == 40010001


def test_chain_and_snapshots_parse_with_quotes_iv_and_greeks(sim, fixture_keys) -> None:
    sim.at_least(10, 0)
    chain = sim.options.get_option_chain(OptionChainRequest(underlying_symbol="SPY", expiration_date=DAY))
    assert len(chain) == CHAIN_SIZE
    for symbol, snap in chain.items():
        q = snap.latest_quote
        assert 0 <= q.bid_price < q.ask_price and q.timestamp == datetime(2025, 7, 1, 14, 0, tzinfo=UTC)
        assert snap.implied_volatility > 0 and snap.greeks is not None
        # calls have delta in [0, 1], puts in [-1, 0] (a far wing rounds to 0 at 4 decimals, as feeds publish it)
        assert (0 <= snap.greeks.delta <= 1) if symbol[-9] == "C" else (-1 <= snap.greeks.delta <= 0)
        assert snap.greeks.delta != 0 or abs(float(symbol[-8:]) / 1000 - 600) > 10
    atm = max(chain.values(), key=lambda s: s.greeks.gamma)
    assert atm.greeks.theta < 0 < atm.greeks.vega
    narrow = sim.options.get_option_chain(
        OptionChainRequest(
            underlying_symbol="SPY",
            expiration_date=DAY,
            strike_price_gte=598,
            strike_price_lte=602,
            type=ContractType.CALL,
        )
    )
    assert sorted(narrow) == [f"SPY250701C00{k}000" for k in range(598, 603)]
    wanted = sorted(narrow)[:2]
    snaps = sim.options.get_option_snapshot(OptionSnapshotRequest(symbol_or_symbols=[*wanted, "SPY250701C09990000"]))
    assert sorted(snaps) == wanted  # an unlisted symbol is left out, as Alpaca leaves it out
    assert snaps[wanted[0]].latest_quote.ask_price == narrow[wanted[0]].latest_quote.ask_price
    raw = sim.get("/v1beta1/options/snapshots/SPY", params={"limit": 1}).json()
    assert set(raw) == {"snapshots", "next_page_token"}
    snap = next(iter(raw["snapshots"].values()))
    assert {"latestQuote", "greeks", "impliedVolatility"} <= set(snap)
    assert set(snap["latestQuote"]) == {"ap", "as", "ax", "bp", "bs", "bx", "c", "t"}


def test_chain_pages_follow_next_page_token(sim) -> None:
    sim.at_least(10, 0)
    seen: list[str] = []
    params: dict = {"limit": 50}
    while True:
        body = sim.get("/v1beta1/options/snapshots/SPY", params=params).json()
        seen += list(body["snapshots"])
        if not body["next_page_token"]:
            break
        params["page_token"] = body["next_page_token"]
    assert len(seen) == len(set(seen)) == CHAIN_SIZE


def test_no_quotes_before_the_open(make_sim) -> None:
    s = make_sim()
    assert s.options.get_option_chain(OptionChainRequest(underlying_symbol="SPY")) == {}
    assert s.options.get_option_snapshot(OptionSnapshotRequest(symbol_or_symbols=["SPY250701C00600000"])) == {}


def test_bars_never_include_the_future(sim, fixture_keys) -> None:
    now = sim.at_least(10, 0, 30)
    req = StockBarsRequest(symbol_or_symbols="SPY", timeframe=TimeFrame.Minute, feed=DataFeed.IEX)
    bars = sim.stocks.get_stock_bars(req)["SPY"]
    assert all(b.timestamp + timedelta(seconds=60) <= now for b in bars)
    first_open = datetime(2025, 7, 1, 9, 30, tzinfo=ET)
    assert bars[0].timestamp == first_open and bars[-1].timestamp == now.replace(second=0) - timedelta(minutes=1)
    assert len(bars) == 30 and all(b.low <= min(b.open, b.close) <= max(b.open, b.close) <= b.high for b in bars)
    asked_past_now = StockBarsRequest(
        symbol_or_symbols="SPY",
        timeframe=TimeFrame.Minute,
        start=datetime(2025, 7, 1, 13, 0, tzinfo=UTC),
        end=datetime(2025, 7, 1, 20, 0, tzinfo=UTC),
        feed=DataFeed.IEX,
    )
    assert len(sim.stocks.get_stock_bars(asked_past_now)["SPY"]) == 30
    later = sim.advance(300)
    again = sim.stocks.get_stock_bars(asked_past_now)["SPY"]
    assert len(again) == 35 and again[-1].timestamp + timedelta(seconds=60) <= later
    raw = sim.get("/v2/stocks/bars", params={"symbols": "SPY", "timeframe": "1Min", "limit": 1}).json()
    assert fixture_keys("stock_bars.json") == set(raw)
    assert set(raw["bars"]["SPY"][0]) == {"t", "o", "h", "l", "c", "v", "n", "vw"}


def test_bars_paginate_and_limit(sim) -> None:
    sim.at_least(10, 0, 30)
    seen, params = [], {"symbols": "SPY", "timeframe": "1Min", "limit": 7, "feed": "iex"}
    while True:
        body = sim.get("/v2/stocks/bars", params=params).json()
        seen += [b["t"] for b in body["bars"].get("SPY", [])]
        if not body["next_page_token"]:
            break
        params["page_token"] = body["next_page_token"]
    assert len(seen) == len(set(seen)) >= 30 and seen == sorted(seen)
    req = StockBarsRequest(symbol_or_symbols=["SPY", "QQQ"], timeframe=TimeFrame.Minute, limit=12, feed=DataFeed.IEX)
    barset = sim.stocks.get_stock_bars(req)
    assert set(barset.data) == {"SPY"} and len(barset["SPY"]) == 12  # no bars for QQQ: left out
    bad = sim.get("/v2/stocks/bars", params={"symbols": "SPY", "timeframe": "1Day"})
    assert bad.status_code == 400 and "1Min" in bad.json()["message"]


def test_wrong_or_missing_keys_get_alpacas_401(sim) -> None:
    with pytest.raises(APIError) as err:
        TradingClient("test-key", "wrong", paper=True, url_override=sim.url).get_account()
    assert err.value.status_code == 401
    assert err.value.code == 40110000 and err.value.message == "request is not authorized"
    with pytest.raises(APIError) as err:
        StockHistoricalDataClient("nope", "test-secret", url_override=sim.url).get_stock_bars(
            StockBarsRequest(symbol_or_symbols="SPY", timeframe=TimeFrame.Minute)
        )
    assert err.value.status_code == 401
    for path in ("/v2/account", "/v2/nowhere"):
        r = sim.get(path, headers={})
        assert r.status_code == 401 and r.json() == {"code": 40110000, "message": "request is not authorized"}
    r = requests.post(f"{sim.url}/sim/advance", json={"seconds": 60}, timeout=5)
    assert r.status_code == 401  # moving time needs the keys
    info = sim.get("/sim/info", headers={})  # telling a simulator apart does not
    assert info.status_code == 200 and info.json()["simulator"] is True


def test_unknown_paths_and_methods_answer_in_alpacas_error_form(sim) -> None:
    r = sim.get("/v2/nowhere")
    assert r.status_code == 404 and r.json() == {"code": 40410000, "message": "endpoint not found"}
    r = sim.post("/v2/account", json={})
    assert r.status_code == 405 and set(r.json()) == {"code", "message"}


def test_sim_info_and_advance(make_sim) -> None:
    s = make_sim()
    info = s.get("/sim/info").json()
    assert info["simulator"] is True and info["session_date"] == "2025-07-01" and info["is_open"] is False
    assert datetime.fromisoformat(info["now"]) == datetime(2025, 7, 1, 9, 0, tzinfo=ET)
    assert s.advance(90.5) == datetime(2025, 7, 1, 9, 1, 30, 500000, tzinfo=ET)
    back = s.post("/sim/advance", json={"seconds": -5})
    assert back.status_code == 422 and back.json()["code"] == 42210000
    earlier = s.post("/sim/advance", json={"until": "2025-07-01T08:00:00-04:00"})
    assert datetime.fromisoformat(earlier.json()["now"]) == datetime(2025, 7, 1, 9, 1, 30, 500000, tzinfo=ET)
    for bad in ({}, {"seconds": "soon"}, {"until": "later"}):
        assert s.post("/sim/advance", json=bad).status_code in (400, 422)
    assert (
        s.post("/sim/advance", data="{nope", headers={**s.headers, "Content-Type": "application/json"}).status_code
        == 400
    )


def test_request_counts_are_by_path_template(make_sim) -> None:
    s = make_sim()
    s.trading.get_clock()
    s.trading.get_clock()
    for oid in ("00000000-0000-0000-0000-00000000abcd", "00000000-0000-0000-0000-00000000abce"):
        with pytest.raises(APIError) as err:
            s.trading.get_order_by_id(oid)
        assert err.value.status_code == 404 and err.value.code == 40410000
    s.get("/v1beta1/options/snapshots/SPY")
    counts = s.server.request_counts
    assert counts["GET /v2/clock"] == 2
    assert counts["GET /v2/orders/{order_id}"] == 2
    assert counts["GET /v1beta1/options/snapshots/{underlying}"] == 1
    assert not any("abcd" in key for key in counts)
    log = s.server.request_log
    assert [e["status"] for e in log if e["path"] == "GET /v2/orders/{order_id}"] == []  # path is the template
    assert [e["status"] for e in log if e["path"] == "/v2/orders/{order_id}"] == [404, 404]
    assert log[0]["sim_time"] == "2025-07-01T09:00:00-04:00" and log[0]["fault"] is None
    table = s.server.format_counts()
    assert "GET /v2/orders/{order_id}" in table and "total" in table
