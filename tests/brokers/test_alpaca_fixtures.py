"""Recorded Alpaca payloads, served at the paths alpaca-py requests, through the adapter to engine.models.

Each test answers with the JSON of /work/shared/fixtures/alpaca (or a payload derived from one, said where),
lets the real alpaca-py client parse it and checks the engine value the adapter makes of it, plus what the
adapter sent: the query parameters and order body Alpaca documents.
"""

from __future__ import annotations

import copy
from collections.abc import Callable
from datetime import UTC, date, datetime, timedelta
from typing import Any

import numpy as np
import pytest

from engine.calendar import ET
from engine.clock import SimClock
from engine.errors import AuthError, BrokerError, OrderRejected, UnsafeEndpointError
from engine.models import Account, Intent, Leg, OptionQuote, OrderRequest, OrderStatus, Position, Session, Side

CLOCK_START = datetime(2025, 7, 1, 10, 0, tzinfo=ET)


@pytest.fixture(params=["requests", "loopback"])
def alpaca(stub, adapters_for, request):
    """The adapters pointed at the stub, on a simulated clock (retry sleeps move it, never the wall): on requests,
    as against Alpaca, and on the short way to serve-sim (engine/brokers/loopback_http.py), which must send the same
    parameters and bodies and read the same answers."""
    return adapters_for(stub.url, clock=SimClock(CLOCK_START), loopback=request.param == "loopback", max_retries=2)


# -- account -------------------------------------------------------------------------------------------


def _paper(payload: dict[str, Any]) -> dict[str, Any]:
    """A recorded account given a paper account's number: alpaca-py's test payload has "010203ABCD", not PA..."""
    return {**payload, "account_number": "PA" + payload["account_number"]}


def test_account_from_alpaca_py_test_payload(stub, alpaca, fixture_json, keys) -> None:
    stub.route("GET /v2/account", (200, _paper(fixture_json("trading_account.json"))))
    account = alpaca.broker.account()
    assert account == Account(
        account_id="PA010203ABCD",
        equity=103820.56,
        last_equity=103529.24,
        cash=-23140.2,
        options_buying_power=262113.632,
        options_level=1,  # sent as the string "1": options_trading_level wins over options_approved_level
        paper=True,
        status="ACTIVE",
    )
    sent = stub.requests_to("/v2/account")[0]
    assert sent.headers["APCA-API-KEY-ID"] == keys["ALPACA_API_KEY"]
    assert sent.headers["APCA-API-SECRET-KEY"] == keys["ALPACA_SECRET_KEY"]


@pytest.mark.parametrize("number", ["010203ABCD", "", "APA0123", "pa0123"])
def test_an_account_whose_number_is_not_of_the_paper_form_is_refused(stub, alpaca, fixture_json, number) -> None:
    """The paper flag rests on the account's own number, not on the URL the adapter was given (a loopback URL here):
    alpaca-py's own test account (010203ABCD), a missing number, PA not at the start, are all refused."""
    payload = {**fixture_json("trading_account.json"), "account_number": number}
    stub.route("GET /v2/account", (200, payload))
    named = number or payload["id"]  # without a number, the account is named by its id
    evidence = rf"account '{named}' is not evidently paper: its account number does not start with 'PA'"
    with pytest.raises(UnsafeEndpointError, match=rf"{evidence}.*paper only"):
        alpaca.broker.account()
    assert len(stub.requests_to("/v2/account")) == 1  # a refusal is not retried


def test_account_from_docs_payload_without_approved_level(stub, alpaca, fixture_json) -> None:
    payload = fixture_json("trading_account_docs.json")
    assert "options_approved_level" not in payload
    stub.route("GET /v2/account", (200, payload))
    account = alpaca.broker.account()
    assert account.account_id == "PALPACA_123" and account.paper and account.options_level == 2
    assert account.equity == 123346.11 and account.last_equity == pytest.approx(122011.0975111)
    assert account.cash == 122086.5 and account.options_buying_power == 122716.305
    assert account.equity - account.last_equity == pytest.approx(1335.0124889)  # the day's change


def test_account_level_falls_back_to_the_approved_level(stub, alpaca, fixture_json) -> None:
    payload = _paper(fixture_json("trading_account.json"))  # derived: only the older field is present
    del payload["options_trading_level"]
    payload["options_approved_level"] = "3"
    stub.route("GET /v2/account", (200, payload))
    assert alpaca.broker.account().options_level == 3


# -- calendar --------------------------------------------------------------------------------------------


def test_calendar_sessions_are_new_york_times(stub, alpaca, fixture_json) -> None:
    stub.route("GET /v2/calendar", (200, fixture_json("trading_calendar.json")))
    session = alpaca.broker.session(date(2022, 5, 16))
    assert session == Session(
        day=date(2022, 5, 16),
        open=datetime(2022, 5, 16, 9, 30, tzinfo=ET),
        close=datetime(2022, 5, 16, 16, 0, tzinfo=ET),
    )
    assert session.open.astimezone(UTC).hour == 13  # EDT: 09:30 in New York is 13:30 UTC
    assert stub.seen[-1].query == {"start": "2022-05-16", "end": "2022-05-16"}
    assert alpaca.broker.session(date(2022, 5, 21)) is None  # a day the answer does not list: no session
    nxt = alpaca.broker.next_session(date(2022, 5, 16))
    assert nxt.day == date(2022, 5, 17) and nxt.close == datetime(2022, 5, 17, 16, 0, tzinfo=ET)
    assert stub.seen[-1].query == {"start": "2022-05-17", "end": "2022-05-31"}


# -- option contracts ------------------------------------------------------------------------------------


def test_contracts_follow_the_recorded_next_page_token(stub, alpaca, fixture_json) -> None:
    first = fixture_json("trading_option_contracts_with_next_page.json")
    last = fixture_json("trading_option_contracts.json")  # derived: the last page lists the 175 call instead
    last["option_contracts"][0].update(symbol="AAPL231103C00175000", strike_price="175")
    assert first["next_page_token"] == "MA==" and last["next_page_token"] is None
    stub.route("GET /v2/options/contracts", lambda seen: (200, last if seen.query.get("page_token") else first))
    contracts = alpaca.broker.contracts("AAPL", date(2023, 11, 3), 160, 180)
    assert [(c.symbol, c.underlying, c.expiry, c.strike, c.right.value) for c in contracts] == [
        ("AAPL231103C00170000", "AAPL", date(2023, 11, 3), 170.0, "C"),
        ("AAPL231103C00175000", "AAPL", date(2023, 11, 3), 175.0, "C"),
    ]
    pages = stub.requests_to("/v2/options/contracts")
    assert [p.query.get("page_token") for p in pages] == [None, "MA=="]
    for page in pages:
        assert page.query["underlying_symbols"] == "AAPL"  # plural: `underlying_symbol` is silently dropped
        assert page.query["expiration_date"] == "2023-11-03"
        assert (page.query["strike_price_gte"], page.query["strike_price_lte"]) == ("160.000", "180.000")


# -- orders --------------------------------------------------------------------------------------------


MLEG_REQUEST = OrderRequest(
    client_order_id="zdte-20241210-1-entry-0",
    legs=(
        Leg("AAPL241213C00250000", Side.BUY, Intent.BUY_TO_OPEN, 3),
        Leg("AAPL241213C00260000", Side.SELL, Intent.SELL_TO_OPEN, 1),
    ),
    qty=1,
    limit_price=10.0,
)


def test_submit_mleg_order_body_and_the_docs_answer(stub, alpaca, fixture_json) -> None:
    stub.route("POST /v2/orders", (200, fixture_json("trading_order_mleg_docs.json")))
    order = alpaca.broker.submit_order(MLEG_REQUEST)
    assert [s.method for s in stub.seen] == ["POST"]  # no look-up, no resend when the first answer arrives
    body = stub.seen[0].body
    assert body["order_class"] == "mleg" and body["type"] == "limit" and body["time_in_force"] == "day"
    assert body["client_order_id"] == MLEG_REQUEST.client_order_id and float(body["limit_price"]) == 10.0
    assert float(body["qty"]) == 1 and "symbol" not in body and "side" not in body
    assert [(leg["symbol"], leg["side"], leg["position_intent"], float(leg["ratio_qty"])) for leg in body["legs"]] == [
        ("AAPL241213C00250000", "buy", "buy_to_open", 3.0),
        ("AAPL241213C00260000", "sell", "sell_to_open", 1.0),
    ]
    assert order.id == "83f37e9f-6b1f-49ed-8fc6-3e6af716323f"
    assert order.client_order_id == "646b1fe6-b212-4f54-94c6-429e7bcdee04"
    assert order.status is OrderStatus.FILLED and (order.qty, order.filled_qty) == (1, 1)
    assert order.limit_price == 10.0 and order.filled_avg_price == 1.28
    assert order.legs == MLEG_REQUEST.legs
    assert order.leg_fill_prices == {"AAPL241213C00250000": 0.43, "AAPL241213C00260000": 0.01}
    assert order.submitted_at == datetime(2024, 12, 10, 16, 15, 53, 684952, tzinfo=UTC)
    assert order.filled_at == datetime(2024, 12, 10, 16, 15, 53, 694000, tzinfo=UTC)
    # the same instants, in New York's time: what the journal, the console and the reports show
    assert [t.isoformat(timespec="seconds") for t in (order.submitted_at, order.filled_at)] == [
        "2024-12-10T11:15:53-05:00",
        "2024-12-10T11:15:53-05:00",
    ]


def test_get_order_by_id_and_by_client_id(stub, alpaca, fixture_json) -> None:
    mleg = fixture_json("trading_order_mleg_docs.json")
    stub.route(f"GET /v2/orders/{mleg['id']}", (200, mleg))
    assert alpaca.broker.get_order(mleg["id"]).leg_fill_prices["AAPL241213C00260000"] == 0.01

    simple = fixture_json("trading_order_by_client_id.json")
    stub.route(
        "GET /v2/orders:by_client_order_id",
        lambda seen: (
            (200, simple)
            if seen.query.get("client_order_id") == simple["client_order_id"]
            else (404, {"code": 40410000, "message": "order not found"})
        ),
    )
    order = alpaca.broker.order_by_client_id(simple["client_order_id"])
    assert order is not None and order.id == simple["id"] and order.client_order_id == simple["client_order_id"]
    assert order.status is OrderStatus.ACCEPTED and order.status.is_open
    # a simple (single-leg) order reads as one leg of that symbol, its side the order's side
    assert [(leg.symbol, leg.side) for leg in order.legs] == [(simple["symbol"], Side(simple["side"]))]
    assert (order.qty, order.filled_qty) == (1, 0)
    assert order.filled_avg_price is None and order.filled_at is None
    assert alpaca.broker.order_by_client_id("never-sent") is None  # 404 means: not there, not an error
    assert stub.seen[-1].query == {"client_order_id": "never-sent"}


def test_open_orders_list(stub, alpaca, fixture_json) -> None:
    stub.route("GET /v2/orders", (200, fixture_json("trading_orders_list.json")))
    (order,) = alpaca.broker.open_orders()
    assert order.id == "0b11f089-722d-4ced-9beb-e2eeed3637dc" and order.status is OrderStatus.NEW
    assert (order.qty, order.filled_qty) == (1, 0)
    assert stub.seen[-1].query == {"status": "open", "nested": "True", "limit": "500"}


def test_orders_since_asks_for_every_status_after_a_time(stub, alpaca, fixture_json) -> None:
    stub.route("GET /v2/orders", (200, [fixture_json("trading_order_mleg_docs.json")]))
    since = datetime(2024, 12, 10, 4, 0, tzinfo=ET)
    (order,) = alpaca.broker.orders_since(since)
    assert order.status is OrderStatus.FILLED
    query = stub.seen[-1].query
    assert query["status"] == "all" and query["direction"] == "asc" and query["limit"] == "500"
    assert datetime.fromisoformat(query["after"]) == since and "-05:00" in query["after"]  # with its offset


def _pages_of(orders: list[dict]) -> Callable[[Any], tuple[int, list[dict]]]:
    """GET /v2/orders as Alpaca pages it: submitted strictly after `after`, oldest first, at most `limit`."""

    def answer(seen: Any) -> tuple[int, list[dict]]:
        after = datetime.fromisoformat(seen.query["after"])
        later = [o for o in orders if datetime.fromisoformat(o["submitted_at"]) > after]
        return 200, sorted(later, key=lambda o: o["submitted_at"])[: int(seen.query["limit"])]

    return answer


def _order_id(i: int) -> str:
    return f"00000000-0000-0000-0000-{i:012d}"


def _orders_at(template: dict, times: list[datetime]) -> list[dict]:
    out = []
    for i, t in enumerate(times):
        o = copy.deepcopy(template)
        o.update(id=_order_id(i), client_order_id=f"other-{i:05d}", submitted_at=t.isoformat())
        out.append(o)
    return out


@pytest.mark.parametrize("count", [499, 500, 1203])
def test_orders_since_walks_every_page(stub, alpaca, fixture_json, count) -> None:
    """An account shared with other programs can list more than Alpaca's 500 a call: all of them come back."""
    since = datetime(2024, 12, 10, 4, 0, tzinfo=ET)
    times = [since + timedelta(seconds=1 + i) for i in range(count)]
    stub.route("GET /v2/orders", _pages_of(_orders_at(fixture_json("trading_order_mleg_docs.json"), times)))
    got = alpaca.broker.orders_since(since)
    assert [o.id for o in got] == [_order_id(i) for i in range(count)]
    assert len(stub.requests_to("/v2/orders")) == count // 500 + 1


def test_orders_since_keeps_orders_tied_at_a_page_edge(stub, alpaca, fixture_json) -> None:
    since = datetime(2024, 12, 10, 4, 0, tzinfo=ET)
    times = [since + timedelta(seconds=1 + i) for i in range(498)] + [since + timedelta(seconds=600)] * 5
    stub.route("GET /v2/orders", _pages_of(_orders_at(fixture_json("trading_order_mleg_docs.json"), times)))
    got = alpaca.broker.orders_since(since)
    assert len(got) == 503 and len({o.id for o in got}) == 503


# -- positions -----------------------------------------------------------------------------------------


def test_positions_signs_and_unknown_unrealized_pl(stub, alpaca, fixture_json) -> None:
    long_equity = fixture_json("trading_positions.json")[0]
    short_option = copy.deepcopy(long_equity)  # derived: a short option leg, Alpaca's negative qty, no P&L yet
    short_option.update(
        symbol="SPY250701P00590000",
        asset_class="us_option",
        qty="-2",
        side="short",
        avg_entry_price="1.25",
        market_value="-150.0",
    )
    del short_option["unrealized_pl"]
    stub.route("GET /v2/positions", (200, [long_equity, short_option]))
    assert alpaca.broker.positions() == [
        Position("AAPL", 5, 100.0, market_value=600.0, unrealized_pl=100.0),
        Position("SPY250701P00590000", -2, 1.25, market_value=-150.0, unrealized_pl=None),
    ]


# -- bars ----------------------------------------------------------------------------------------------


def test_bars_follow_the_sdk_paging_and_keep_completed_minutes(stub, alpaca, fixture_json) -> None:
    first = fixture_json("stock_bars.json")
    assert first["next_page_token"]
    stub.route(
        "GET /v2/stocks/bars",
        lambda seen: (200, {"bars": {}, "next_page_token": None} if seen.query.get("page_token") else first),
    )
    start = datetime(2022, 2, 1, tzinfo=UTC)
    bars = alpaca.market_data.bars("AAPL", start, datetime(2022, 2, 3, tzinfo=UTC))
    assert bars.symbol == "AAPL" and len(bars) == 2
    assert bars.ts.tolist() == [int(datetime(2022, 2, d, 5, tzinfo=UTC).timestamp()) for d in (1, 2)]
    np.testing.assert_allclose(bars.open, [174.0, 174.64])
    np.testing.assert_allclose(bars.high, [174.84, 175.88])
    np.testing.assert_allclose(bars.low, [172.31, 173.33])
    np.testing.assert_allclose(bars.close, [174.61, 175.84])
    np.testing.assert_allclose(bars.volume, [85998033, 84817432])
    pages = stub.requests_to("/v2/stocks/bars")
    assert [p.query.get("page_token") for p in pages] == [None, first["next_page_token"]]
    assert pages[0].query["symbols"] == "AAPL" and pages[0].query["timeframe"] == "1Min"
    assert pages[0].query["feed"] == "iex"

    stub.seen.clear()
    partial_end = datetime(2022, 2, 2, 5, 0, 30, tzinfo=UTC)  # the second minute has not completed yet
    assert alpaca.market_data.bars("AAPL", start, partial_end).close.tolist() == [174.61]


def test_bars_of_one_symbol_from_a_multi_symbol_answer(stub, alpaca, fixture_json) -> None:
    stub.route("GET /v2/stocks/bars", (200, fixture_json("stock_bars_multi.json")))
    end = datetime(2022, 3, 10, tzinfo=UTC)
    tsla = alpaca.market_data.bars("TSLA", datetime(2022, 3, 9, tzinfo=UTC), end)
    assert tsla.close.tolist() == [858.97] and tsla.symbol == "TSLA"
    assert len(alpaca.market_data.bars("SPY", datetime(2022, 3, 9, tzinfo=UTC), end)) == 0  # not in the answer


def test_bars_docs_payload(stub, alpaca, fixture_json) -> None:
    docs = fixture_json("stock_bars_docs.json")
    stub.route(
        "GET /v2/stocks/bars",
        lambda seen: (200, {"bars": {}, "next_page_token": None} if seen.query.get("page_token") else docs),
    )
    bars = alpaca.market_data.bars("AAPL", datetime(2022, 1, 3, tzinfo=UTC), datetime(2022, 1, 4, tzinfo=UTC))
    assert bars.close.tolist() == [178.21] and bars.volume.tolist() == [1118.0]


# -- option chain and snapshots --------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("name", "symbol", "bid", "ask", "iv", "delta"),
    [
        ("option_chain.json", "AAPL240503P00155000", 0.32, 0.35, 0.4584478444465036, -0.06962352623019707),
        ("option_chain_docs.json", "AAPL240426C00162500", 4.15, 4.3, 0.3372405712050441, 0.7521304109871954),
    ],
)
def test_chain_snapshots(stub, alpaca, fixture_json, name, symbol, bid, ask, iv, delta) -> None:
    payload = fixture_json(name)
    stub.route("GET /v1beta1/options/snapshots/AAPL", (200, payload))
    quotes = alpaca.market_data.chain("AAPL", date(2024, 5, 3), 150.0, 170.0)
    ts = datetime.fromisoformat(payload["snapshots"][symbol]["latestQuote"]["t"][:26] + "+00:00")
    assert quotes == [OptionQuote(symbol, bid, ask, ts, iv=iv, delta=delta)]
    query = stub.seen[-1].query
    assert "underlying_symbol" not in query  # it is the path
    assert query["expiration_date"] == "2024-05-03"
    assert (float(query["strike_price_gte"]), float(query["strike_price_lte"])) == (150.0, 170.0)
    assert query["feed"] == "indicative", "the configured options feed (alpaca.options_feed), never Alpaca's guess"


def test_snapshot_with_greeks(stub, alpaca, fixture_json) -> None:
    stub.route("GET /v1beta1/options/snapshots", (200, fixture_json("option_snapshots.json")))
    quotes = alpaca.market_data.quotes(["AAPL240126P00050000"])
    q = quotes["AAPL240126P00050000"]
    assert (q.bid, q.ask, q.mid) == (0.48, 0.59, pytest.approx(0.535))
    assert q.iv == 0.3160291785379539 and q.delta == 0.6742666141545315
    assert q.ts == datetime(2024, 2, 2, 20, 59, 59, 731674, tzinfo=UTC)
    assert q.ts.isoformat(timespec="seconds") == "2024-02-02T15:59:59-05:00"
    assert stub.seen[-1].query["symbols"] == "AAPL240126P00050000"
    assert stub.seen[-1].query["feed"] == "indicative"


def test_the_opra_feed_is_asked_for_when_configured(stub, adapters_for, fixture_json) -> None:
    stub.route("GET /v1beta1/options/snapshots", (200, fixture_json("option_snapshots.json")))
    adapters_for(stub.url, clock=SimClock(CLOCK_START), options_feed="opra").market_data.quotes(["AAPL240126P00050000"])
    assert stub.seen[-1].query["feed"] == "opra"


def test_snapshot_with_a_quote_only_has_no_greeks(stub, alpaca, fixture_json) -> None:
    stub.route("GET /v1beta1/options/snapshots", (200, fixture_json("option_snapshot_quote_only.json")))
    q = alpaca.market_data.quotes(["AAPL240126P00050000"])["AAPL240126P00050000"]
    assert (q.bid, q.ask) == (0.48, 0.59)
    assert q.delta is None and q.iv is None  # unknown, never 0


def test_snapshot_without_a_quote_gives_no_price(stub, alpaca, fixture_json) -> None:
    """Derived: the recorded snapshot, plus one of another contract that has a trade and greeks but no quote."""
    payload = fixture_json("option_snapshots.json")
    quoted = payload["snapshots"]["AAPL240126P00050000"]
    payload["snapshots"]["AAPL240126C00050000"] = {k: v for k, v in quoted.items() if k != "latestQuote"}
    stub.route("GET /v1beta1/options/snapshots", (200, payload))
    stub.route("GET /v1beta1/options/snapshots/AAPL", (200, {**payload, "next_page_token": None}))
    quotes = alpaca.market_data.quotes(["AAPL240126P00050000", "AAPL240126C00050000"])
    assert set(quotes) == {"AAPL240126P00050000"}  # the last trade is not turned into a bid/ask
    assert [q.symbol for q in alpaca.market_data.chain("AAPL", date(2024, 1, 26), 40, 60)] == ["AAPL240126P00050000"]


# -- errors ----------------------------------------------------------------------------------------------


def test_refused_keys_are_an_auth_error_naming_the_keys(stub, alpaca) -> None:
    stub.route("GET /v2/account", (401, {"code": 40110000, "message": "request is not authorized"}))
    with pytest.raises(AuthError, match="ALPACA_API_KEY") as err:
        alpaca.broker.account()
    assert err.value.status == 401 and not err.value.transient
    assert len(stub.requests_to("/v2/account")) == 1  # never retried


def test_rejected_order_is_not_retried(stub, alpaca) -> None:
    stub.route("POST /v2/orders", (422, {"code": 42210000, "message": "options market orders are only allowed..."}))
    with pytest.raises(OrderRejected, match="42210000"):
        alpaca.broker.submit_order(MLEG_REQUEST)
    assert [s.method for s in stub.seen] == ["POST"]


def test_a_403_on_an_order_is_a_rejection_not_a_key_failure(stub, alpaca) -> None:
    """Alpaca refuses orders with 403 (buying power, the 15:30 cutoff for 0DTE options, account restrictions):
    the order is rejected, the keys are fine, and trading goes on."""
    stub.route("POST /v2/orders", (403, {"code": 40310000, "message": "insufficient options buying power"}))
    with pytest.raises(OrderRejected, match="insufficient options buying power") as err:
        alpaca.broker.submit_order(MLEG_REQUEST)
    assert not isinstance(err.value, AuthError) and err.value.status == 403 and not err.value.transient
    assert [s.method for s in stub.seen] == ["POST"]


def test_a_403_anywhere_else_is_a_key_failure(stub, alpaca) -> None:
    stub.route("GET /v2/account", (403, {"code": 40310000, "message": "forbidden"}))
    with pytest.raises(AuthError, match="ALPACA_API_KEY"):
        alpaca.broker.account()


def test_malformed_answer_is_a_clear_permanent_error(stub, alpaca) -> None:
    stub.route("GET /v2/account", (200, {"id": "x"}))  # no equity, no cash...
    with pytest.raises(BrokerError, match="malformed response") as err:
        alpaca.broker.account()
    assert not err.value.transient


def test_rate_limit_reset_header_alone_sets_the_wait(stub, alpaca, fixture_json) -> None:
    """Without Retry-After, X-RateLimit-Reset (epoch seconds) says when to come back: waited on the injected clock."""
    reset = CLOCK_START + timedelta(seconds=7)
    limited = {"code": 42910000, "message": "rate limit exceeded"}
    answers = iter(
        [
            (429, limited, {"X-RateLimit-Reset": str(int(reset.timestamp()))}),
            (200, _paper(fixture_json("trading_account.json"))),
        ]
    )
    stub.route("GET /v2/account", lambda seen: next(answers))
    assert alpaca.broker.account().account_id == "PA010203ABCD"
    assert len(stub.requests_to("/v2/account")) == 2
    assert alpaca.clock.now() == reset  # slept exactly until the reset, on the simulated clock


def test_an_order_without_filled_qty_is_a_malformed_answer_never_zero_filled(stub, alpaca, fixture_json) -> None:
    """Read as 0 filled, a filled entry would be entered again and again; it is an error naming the endpoint."""
    mleg = fixture_json("trading_order_mleg_docs.json")
    del mleg["filled_qty"]
    stub.route(f"GET /v2/orders/{mleg['id']}", (200, mleg))
    with pytest.raises(BrokerError, match=rf"GET /v2/orders/{mleg['id']}: malformed response: .*filled_qty"):
        alpaca.broker.get_order(mleg["id"])


def test_an_account_without_equity_is_a_malformed_answer_naming_the_endpoint(stub, alpaca, fixture_json) -> None:
    account = fixture_json("trading_account.json")
    del account["equity"]
    stub.route("GET /v2/account", (200, account))
    with pytest.raises(BrokerError, match="GET /v2/account: malformed response: .*equity"):
        alpaca.broker.account()
