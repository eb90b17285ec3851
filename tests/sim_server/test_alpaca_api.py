"""serve-sim's Alpaca API called directly, with sockets forbidden: every answer here is the API's alone.

The HTTP transport (and its faults) is tested in test_transport_faults.py; these tests would catch an endpoint,
its paging or its auth breaking even if the transport hid it.
"""

from __future__ import annotations

import json
import socket
from datetime import date, datetime
from typing import Any

import pytest

from engine.calendar import ET, ExchangeCalendar
from engine.clock import SimClock
from engine.config import SimConfig
from engine.sim.alpaca_api import AlpacaApi
from engine.sim.api_call import Reply
from engine.sim.venue import SimVenue

DAY = date(2025, 7, 1)
KEY, SECRET = "api-test-key", "api-test-secret"
AUTH = {"APCA-API-KEY-ID": KEY, "APCA-API-SECRET-KEY": SECRET}


@pytest.fixture
def api(monkeypatch: pytest.MonkeyPatch) -> AlpacaApi:
    """An API over a fresh venue at 10:00 ET (the market open), with any socket use failing the test."""

    def no_socket(*args: Any, **kwargs: Any) -> None:
        raise AssertionError(f"the API used a socket: {args}")

    for name in ("connect", "bind", "listen"):
        monkeypatch.setattr(socket.socket, name, no_socket)
    monkeypatch.setattr(socket, "create_connection", no_socket)
    clock = SimClock(datetime(DAY.year, DAY.month, DAY.day, 10, 0, tzinfo=ET))
    venue = SimVenue(SimConfig(), "SPY", clock, ExchangeCalendar())
    return AlpacaApi(venue, clock, api_key=KEY, secret_key=SECRET)


def call(
    api: AlpacaApi, method: str, path: str, query: str = "", body: Any = None, headers: dict[str, str] = AUTH
) -> Reply:
    raw = b"" if body is None else json.dumps(body).encode()
    return api.handle(method, path, query, headers, raw)


def _contract_symbols(api: AlpacaApi, limit: int) -> tuple[list[str], int]:
    """Every listed contract symbol, walked page by page as a client would; and how many pages it took."""
    symbols: list[str] = []
    query, pages = f"limit={limit}", 0
    while True:
        reply = call(api, "GET", "/v2/options/contracts", query)
        assert reply.status == 200, reply.body
        page = reply.body["option_contracts"]
        pages += 1
        assert 1 <= len(page) <= limit
        symbols += [c["symbol"] for c in page]
        token = reply.body["next_page_token"]
        if token is None:
            return symbols, pages
        query = f"limit={limit}&page_token={token}"


def _limit_buy(symbol: str, cid: str) -> dict[str, Any]:
    return {
        "symbol": symbol,
        "qty": "1",
        "side": "buy",
        "type": "limit",
        "limit_price": "0.01",
        "time_in_force": "day",
        "client_order_id": cid,
    }


def test_an_order_submitted_is_found_by_its_client_order_id(api: AlpacaApi) -> None:
    symbol = call(api, "GET", "/v2/options/contracts", "limit=1").body["option_contracts"][0]["symbol"]
    placed = call(api, "POST", "/v2/orders", body=_limit_buy(symbol, "api-order-1"))
    assert placed.status == 200, placed.body
    assert placed.body["client_order_id"] == "api-order-1" and placed.body["symbol"] == symbol

    found = call(api, "GET", "/v2/orders:by_client_order_id", "client_order_id=api-order-1")
    assert found.status == 200
    assert found.body["id"] == placed.body["id"] and found.body["symbol"] == symbol
    assert float(found.body["qty"]) == 1.0 and found.body["side"] == "buy"
    by_id = call(api, "GET", f"/v2/orders/{placed.body['id']}")
    assert by_id.body["client_order_id"] == "api-order-1"
    at_exchange = api.venue.order_by_client_id("api-order-1")
    assert at_exchange is not None and at_exchange.id == placed.body["id"]


def _assert_alpaca_error(reply: Reply, status: int) -> None:
    """Alpaca's error body: exactly a numeric code whose first three digits are the HTTP status, and a message."""
    assert reply.status == status
    assert set(reply.body) == {"code", "message"}
    assert isinstance(reply.body["code"], int) and str(reply.body["code"]).startswith(str(status))
    assert isinstance(reply.body["message"], str) and reply.body["message"]


def test_errors_have_alpacas_body_and_change_nothing(api: AlpacaApi) -> None:
    _assert_alpaca_error(call(api, "GET", "/v2/orders:by_client_order_id", "client_order_id=never-sent"), 404)
    _assert_alpaca_error(call(api, "GET", "/v2/no-such-endpoint"), 404)
    _assert_alpaca_error(call(api, "PATCH", "/v2/account"), 405)

    symbol = call(api, "GET", "/v2/options/contracts", "limit=1").body["option_contracts"][0]["symbol"]
    assert call(api, "POST", "/v2/orders", body=_limit_buy(symbol, "twice")).status == 200
    _assert_alpaca_error(call(api, "POST", "/v2/orders", body=_limit_buy(symbol, "twice")), 422)
    _assert_alpaca_error(call(api, "POST", "/v2/orders", body={**_limit_buy(symbol, "no-qty"), "qty": "0"}), 422)
    assert [o.client_order_id for o in api.venue.all_orders()] == ["twice"]

    unreadable = api.handle("POST", "/v2/orders", "", AUTH, b"{not json")
    _assert_alpaca_error(unreadable, 400)


def test_contracts_page_through_todays_listing_once_each(api: AlpacaApi) -> None:
    market = api.venue.market()
    assert market is not None
    listed = sorted(c.symbol for c in market.contracts())
    assert len(listed) > 7

    symbols, pages = _contract_symbols(api, limit=7)
    assert sorted(symbols) == listed and len(set(symbols)) == len(symbols)
    assert pages == -(-len(listed) // 7)
    assert _contract_symbols(api, limit=len(listed)) == (symbols, 1)

    forged = call(api, "GET", "/v2/options/contracts", "limit=7&page_token=not-a-token")
    _assert_alpaca_error(forged, 400)


def test_wrong_or_missing_keys_are_refused_before_anything_happens(api: AlpacaApi) -> None:
    wrong = {**AUTH, "APCA-API-SECRET-KEY": "not-the-secret"}
    _assert_alpaca_error(call(api, "GET", "/v2/account", headers=wrong), 401)
    _assert_alpaca_error(call(api, "GET", "/v2/account", headers={}), 401)
    symbol = call(api, "GET", "/v2/options/contracts", "limit=1").body["option_contracts"][0]["symbol"]
    _assert_alpaca_error(call(api, "POST", "/v2/orders", body=_limit_buy(symbol, "no-keys"), headers=wrong), 401)
    assert api.venue.all_orders() == []
    before = api.clock.now()
    _assert_alpaca_error(call(api, "POST", "/sim/advance", body={"seconds": 60}, headers={}), 401)
    assert api.clock.now() == before

    # header names are case-insensitive in HTTP; /sim/info answers without keys, so a client can tell a simulator
    lower = {k.lower(): v for k, v in AUTH.items()}
    assert call(api, "GET", "/v2/account", headers=lower).status == 200
    info = call(api, "GET", "/sim/info", headers={})
    assert info.status == 200 and info.body["simulator"] is True
