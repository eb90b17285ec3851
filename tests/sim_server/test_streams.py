"""serve-sim's websocket streams with alpaca-py's own stream clients (StockDataStream, OptionDataStream,
TradingStream, each pointed at the server with `url_override`), and with a bare websocket where the point is a
frame alpaca-py never sends.

One server for the module (its clock only moves forward, so the tests are in time-of-day order); every wait is
bounded and on something the client or the server reports, never a sleep.
"""

from __future__ import annotations

import json
import logging
import queue
import threading
import time
from collections.abc import Callable, Iterator
from datetime import datetime, timedelta
from typing import Any
from urllib.parse import urlsplit

import msgpack
import pytest
import requests
from alpaca.data.live.option import OptionDataStream
from alpaca.data.live.stock import StockDataStream
from alpaca.data.models import Bar, Quote, Trade
from alpaca.data.requests import StockBarsRequest
from alpaca.data.timeframe import TimeFrame
from alpaca.trading.enums import OrderSide, OrderStatus, TimeInForce, TradeEvent
from alpaca.trading.requests import LimitOrderRequest
from alpaca.trading.stream import TradingStream
from websockets.exceptions import ConnectionClosed, InvalidStatus
from websockets.sync.client import ClientConnection, connect

from engine.calendar import ET
from engine.sim.stream_server import AUTH_TIMEOUT_S, SessionView, StreamServer
from engine.sim.transport import FAULT_KINDS
from tests.market_probe import later_fill

WAIT = 5.0
MSGPACK = {"Content-Type": "application/msgpack"}


class Client:
    """An alpaca-py stream client running in its own thread; its handler puts what it is sent on a queue."""

    def __init__(self, stream: Any, path: str, streams: StreamServer) -> None:
        self.stream, self.path, self.streams = stream, path, streams
        self.got: queue.Queue[Any] = queue.Queue()
        stream._reconnect_min_backoff = 0.05  # alpaca-py waits 0.5-1 s before it reconnects: no need here
        self.thread = threading.Thread(target=stream.run, daemon=True)

    async def put(self, item: Any) -> None:
        self.got.put(item)

    def start(self) -> Client:
        self.thread.start()
        return self

    def take(self, n: int) -> list[Any]:
        out = []
        for _ in range(n):
            try:
                out.append(self.got.get(timeout=WAIT))
            except queue.Empty:
                raise AssertionError(f"{self.path}: {len(out)} of {n} messages within {WAIT}s: {out}") from None
        return out

    def stop(self) -> None:
        """alpaca-py looks at its stop flag between messages only, up to 5 s apart: the server cuts the line."""
        if self.thread.is_alive():
            self.stream.stop()
            self.streams.drop(self.path)
            self.thread.join(WAIT)
            assert not self.thread.is_alive()
        assert self.streams.wait_for(lambda vs: all(v.path != self.path for v in vs), WAIT)


class LogTap(logging.Handler):
    """What alpaca-py's stream clients log: the only way they report a refusal (they log it and retry)."""

    NAMES = ("alpaca.data.live.websocket", "alpaca.trading.stream")

    def __init__(self) -> None:
        super().__init__(logging.DEBUG)
        self.lines: queue.Queue[str] = queue.Queue()

    def emit(self, record: logging.LogRecord) -> None:
        self.lines.put(record.getMessage())

    def wait(self, text: str) -> str:
        deadline = time.monotonic() + WAIT
        while (left := deadline - time.monotonic()) > 0:
            try:
                line = self.lines.get(timeout=left)
            except queue.Empty:
                break
            if text in line:
                return line
        raise AssertionError(f"alpaca-py logged no {text!r} within {WAIT}s")


@pytest.fixture
def alpaca_logs() -> Iterator[LogTap]:
    tap = LogTap()
    for name in LogTap.NAMES:
        logging.getLogger(name).addHandler(tap)
    yield tap
    for name in LogTap.NAMES:
        logging.getLogger(name).removeHandler(tap)


@pytest.fixture
def clients(stream_sim) -> Iterator[Callable[..., Client]]:
    """clients("iex" | "sip" | "indicative" | "opra" | "trading", secret=..., **stream kwargs): not started, so a
    test subscribes first (alpaca-py connects once it has something to subscribe to)."""
    made: list[Client] = []
    streams = stream_sim.server.streams
    key = stream_sim.headers["APCA-API-KEY-ID"]

    def make(feed: str, secret: str | None = None, **kwargs: Any) -> Client:
        url = streams.urls[feed]
        secret = secret or stream_sim.headers["APCA-API-SECRET-KEY"]
        if feed in ("iex", "sip"):
            stream: Any = StockDataStream(key, secret, url_override=url, **kwargs)
        elif feed in ("indicative", "opra"):
            stream = OptionDataStream(key, secret, url_override=url, **kwargs)
        else:
            stream = TradingStream(key, secret, paper=True, url_override=url, **kwargs)
        client = Client(stream, urlsplit(url).path, streams)
        made.append(client)
        return client

    yield make
    for client in made:
        client.stop()


def views(sim, path: str) -> list[SessionView]:
    return sim.server.streams.sessions(path)


def subscribed(sim, path: str, channel: str, *symbols: str) -> SessionView:
    """The session once the server has the subscription (alpaca-py does not tell when it is in effect)."""

    def ok(vs: list[SessionView]) -> bool:
        return any(v.path == path and set(symbols) <= set(v.subscriptions.get(channel, ())) for v in vs)

    assert sim.server.streams.wait_for(ok, WAIT), views(sim, path)
    return next(v for v in views(sim, path) if set(symbols) <= set(v.subscriptions.get(channel, ())))


def listening(sim) -> None:
    assert sim.server.streams.wait_for(lambda vs: any(v.path == "/stream" and v.listening for v in vs), WAIT)


def raw(sim, feed: str, packed: bool = True) -> ClientConnection:
    return connect(sim.server.streams.urls[feed], additional_headers=MSGPACK if packed else None, open_timeout=WAIT)


def send(ws: ClientConnection, message: dict) -> None:
    ws.send(msgpack.packb(message))


def recv(ws: ClientConnection) -> list[dict]:
    return msgpack.unpackb(ws.recv(timeout=WAIT))


def auth(sim) -> dict:
    return {"action": "auth", "key": sim.headers["APCA-API-KEY-ID"], "secret": sim.headers["APCA-API-SECRET-KEY"]}


def closed(ws: ClientConnection) -> bool:
    try:
        ws.recv(timeout=WAIT)
    except ConnectionClosed:
        return True
    return False


CONNECTED = [{"T": "success", "msg": "connected"}]
AUTHENTICATED = [{"T": "success", "msg": "authenticated"}]


# -- anywhere in the day ---------------------------------------------------------------------------------------


def test_sim_info_tells_where_the_streams_are_and_other_paths_are_404(stream_sim, make_sim) -> None:
    urls = stream_sim.get("/sim/info", headers={}).json()["streams"]
    port = urlsplit(urls["iex"]).port
    assert urls == {
        "iex": f"ws://127.0.0.1:{port}/v2/iex",
        "sip": f"ws://127.0.0.1:{port}/v2/sip",
        "indicative": f"ws://127.0.0.1:{port}/v1beta1/indicative",
        "opra": f"ws://127.0.0.1:{port}/v1beta1/opra",
        "trading": f"ws://127.0.0.1:{port}/stream",
    }
    assert port != urlsplit(stream_sim.url).port
    with pytest.raises(InvalidStatus) as err:
        connect(f"ws://127.0.0.1:{port}/v2/nowhere", open_timeout=WAIT)
    assert err.value.response.status_code == 404
    assert make_sim().get("/sim/info").json()["streams"] is None  # streams are asked for


@pytest.mark.parametrize(("feed", "logged"), [("iex", "auth failed"), ("trading", "failed to authenticate")])
def test_wrong_keys_are_refused_and_the_client_reports_it(stream_sim, clients, alpaca_logs, feed, logged) -> None:
    client = clients(feed, secret="wrong")
    if feed == "trading":
        client.stream.subscribe_trade_updates(client.put)
    else:
        client.stream.subscribe_bars(client.put, "SPY")
    client.start()
    assert "error during websocket communication" in alpaca_logs.wait(logged)
    assert not any(v.authenticated for v in views(stream_sim, client.path))


def test_a_client_that_does_not_authenticate_in_time_gets_404(stream_sim) -> None:
    streams = stream_sim.server.streams
    streams.auth_timeout = 0.2
    try:
        with raw(stream_sim, "sip") as ws:
            assert recv(ws) == CONNECTED
            assert recv(ws) == [{"T": "error", "code": 404, "msg": "auth timeout"}]
            assert closed(ws)
    finally:
        streams.auth_timeout = AUTH_TIMEOUT_S


def test_option_streams_speak_msgpack_only_and_refuse_star_quotes(stream_sim) -> None:
    with raw(stream_sim, "opra", packed=False) as ws:
        assert ws.recv(timeout=WAIT) == (
            '[{"T":"error","code":412,"msg":"option messages are only available in MsgPack format"}]'
        )
        assert closed(ws)
    with raw(stream_sim, "opra") as ws:
        assert recv(ws) == CONNECTED
        send(ws, {"action": "subscribe", "quotes": ["SPY250701C00600000"]})
        assert recv(ws) == [{"T": "error", "code": 401, "msg": "not authenticated"}]
        send(ws, auth(stream_sim))
        assert recv(ws) == AUTHENTICATED
        send(ws, {"action": "subscribe", "quotes": ["*"]})
        assert recv(ws) == [{"T": "error", "code": 413, "msg": "star subscription is not allowed for option quotes"}]
        send(ws, {"action": "subscribe", "trades": ["*"], "quotes": ["SPY250701C00600000"]})
        assert recv(ws) == [{"T": "subscription", "trades": ["*"], "quotes": ["SPY250701C00600000"]}]


def test_a_subscription_sent_in_fragments_is_read_whole(stream_sim) -> None:
    """alpaca-py sends its subscription in frames of 32 KiB at most: a long one arrives in several."""
    symbols = [f"SPY250701C{k:08d}" for k in range(500_000, 503_000)]
    body = msgpack.packb({"action": "subscribe", "quotes": symbols})
    assert len(body) > 32768
    with raw(stream_sim, "indicative") as ws:
        assert recv(ws) == CONNECTED
        send(ws, auth(stream_sim))
        assert recv(ws) == AUTHENTICATED
        ws.send([body[i : i + 1000] for i in range(0, len(body), 1000)])
        assert recv(ws) == [{"T": "subscription", "trades": [], "quotes": symbols}]


def test_a_second_connection_to_an_endpoint_is_refused_with_406(stream_sim, clients) -> None:
    client = clients("iex")
    client.stream.subscribe_bars(client.put, "SPY")
    client.start()
    first = subscribed(stream_sim, "/v2/iex", "bars", "SPY")
    with raw(stream_sim, "iex") as ws:
        assert recv(ws) == CONNECTED
        send(ws, auth(stream_sim))
        assert recv(ws) == [{"T": "error", "code": 406, "msg": "connection limit exceeded"}]
        assert closed(ws)

    def only_the_first(vs: list[SessionView]) -> bool:  # the refused one gone, the first untouched
        return [v.id for v in vs if v.path == "/v2/iex"] == [first.id]

    assert stream_sim.server.streams.wait_for(only_the_first, WAIT)
    with raw(stream_sim, "sip") as ws:  # each endpoint has its own slot
        assert recv(ws) == CONNECTED
        send(ws, auth(stream_sim))
        assert recv(ws) == AUTHENTICATED


# -- market data, from the open ----------------------------------------------------------------------------------


def test_stock_bars_quotes_and_trades_follow_the_clock_as_rest_serves_them(stream_sim, clients) -> None:
    s = stream_sim
    s.at_least(9, 30)
    client = clients("iex")
    for subscribe in (client.stream.subscribe_bars, client.stream.subscribe_quotes, client.stream.subscribe_trades):
        subscribe(client.put, "SPY")
    client.start()
    for channel in ("bars", "quotes", "trades"):
        subscribed(s, "/v2/iex", channel, "SPY")
    s.advance(180)  # three bars complete, whatever second the clock was on
    got = client.take(9)
    assert [type(x) for x in got] == [Trade, Quote, Bar] * 3  # in time order: a bar's trade and quote, then the bar
    bars = got[2::3]
    rest = s.stocks.get_stock_bars(StockBarsRequest(symbol_or_symbols="SPY", timeframe=TimeFrame.Minute))["SPY"]
    assert bars == rest[-3:]  # the same values and timestamps as REST's bars of those minutes
    for trade, quote, bar in zip(got[0::3], got[1::3], bars, strict=True):
        assert trade.price == bar.close and round((quote.bid_price + quote.ask_price) / 2, 2) == round(bar.close, 2)
        assert bar.timestamp < trade.timestamp == quote.timestamp < bar.timestamp + timedelta(minutes=1)
    s.advance(60)
    [_, _, following] = client.take(3)
    assert following.timestamp == bars[-1].timestamp + timedelta(minutes=1)
    assert client.got.empty()  # nothing twice


def test_a_stock_client_that_does_not_ask_for_msgpack_gets_json_with_rfc3339_times(stream_sim) -> None:
    s = stream_sim
    with raw(s, "sip", packed=False) as ws:
        assert json.loads(ws.recv(timeout=WAIT)) == CONNECTED
        ws.send(json.dumps(auth(s)))
        assert json.loads(ws.recv(timeout=WAIT)) == AUTHENTICATED
        ws.send(json.dumps({"action": "subscribe", "bars": ["SPY"]}))
        assert json.loads(ws.recv(timeout=WAIT))[0]["bars"] == ["SPY"]
        now = s.advance(60)
        frame = ws.recv(timeout=WAIT)
    assert isinstance(frame, str)  # a text frame
    [bar] = json.loads(frame)
    assert bar["T"] == "b" and bar["S"] == "SPY"
    start = now.replace(second=0, microsecond=0) - timedelta(minutes=1)
    assert datetime.fromisoformat(bar["t"]) == start


def test_option_quotes_are_the_rest_snapshots_with_msgpack_timestamps(stream_sim, clients) -> None:
    s = stream_sim
    s.at_least(10, 0)
    legs = s.condor()
    symbols = sorted({legs[0][0], legs[3][0]})
    client = clients("indicative", raw_data=True)  # raw: the message as it came off the wire
    client.stream.subscribe_quotes(client.put, *symbols)
    client.start()
    subscribed(s, "/v1beta1/indicative", "quotes", *symbols)

    def same_as_rest(messages: list[dict]) -> None:
        snaps = s.get("/v1beta1/options/snapshots", params={"symbols": ",".join(symbols)}).json()["snapshots"]
        for msg in messages:
            assert msg["T"] == "q" and isinstance(msg["t"], msgpack.Timestamp)  # ext type -1, not a string
            latest = snaps[msg["S"]]["latestQuote"]
            assert msg["t"].to_datetime() == datetime.fromisoformat(latest["t"])
            assert {k: v for k, v in msg.items() if k not in ("T", "S", "t")} == {
                k: v for k, v in latest.items() if k != "t"
            }

    now = s.advance(60)
    first = client.take(2)
    assert sorted(m["S"] for m in first) == symbols
    minute = now.replace(second=0, microsecond=0)
    assert {m["t"].to_datetime() for m in first} == {minute}
    same_as_rest(first)
    s.advance(120)
    later = client.take(4)
    assert [m["t"].to_datetime() for m in later] == [minute + timedelta(minutes=k) for k in (1, 1, 2, 2)]
    same_as_rest(later[2:])


# -- faults ------------------------------------------------------------------------------------------------------


def test_after_a_drop_alpaca_py_reconnects_resubscribes_and_data_resumes(stream_sim, clients, alpaca_logs) -> None:
    s, streams = stream_sim, stream_sim.server.streams
    client = clients("iex")
    client.stream.subscribe_bars(client.put, "SPY")
    client.start()
    first = subscribed(s, "/v2/iex", "bars", "SPY")
    s.advance(60)
    [bar] = client.take(1)
    streams.refuse("/v2/iex")  # the dropped connection still holds the slot once, as Alpaca is slow to reap it
    streams.drop("/v2/iex")
    alpaca_logs.wait("connection limit exceeded")
    again = subscribed(s, "/v2/iex", "bars", "SPY")
    assert again.id > first.id + 1  # the refused one, then this one
    s.advance(60)
    [resumed] = client.take(1)
    assert resumed.timestamp == bar.timestamp + timedelta(minutes=1)


def test_silence_keeps_the_socket_open_and_loses_what_it_withholds(stream_sim, clients) -> None:
    s, streams = stream_sim, stream_sim.server.streams
    client = clients("iex")
    client.stream.subscribe_bars(client.put, "SPY")
    client.start()
    view = subscribed(s, "/v2/iex", "bars", "SPY")
    s.advance(60)
    [before] = client.take(1)
    streams.silence("/v2/iex")
    s.advance(120)
    assert streams.wait_for(lambda vs: any(v.id == view.id and v.silenced == 2 for v in vs), WAIT)
    assert client.got.empty()  # everything sent before the silence had arrived: nothing is in flight
    streams.clear()
    s.advance(60)
    [after] = client.take(1)
    assert after.timestamp == before.timestamp + timedelta(minutes=3)  # the two silenced bars are lost
    assert [v.id for v in views(s, "/v2/iex")] == [view.id]  # the same connection throughout


def test_hold_delays_frames_until_released_or_for_a_while(stream_sim, clients) -> None:
    s, streams = stream_sim, stream_sim.server.streams
    client = clients("iex")
    client.stream.subscribe_bars(client.put, "SPY")
    client.start()
    view = subscribed(s, "/v2/iex", "bars", "SPY")
    streams.hold("/v2/iex")
    s.advance(60)
    assert streams.wait_for(lambda vs: any(v.id == view.id and v.queued == 1 for v in vs), WAIT)
    assert client.got.empty()
    streams.release("/v2/iex")
    [held] = client.take(1)
    t0 = time.monotonic()
    streams.hold("/v2/iex", seconds=0.3)
    s.advance(60)
    [late] = client.take(1)
    assert time.monotonic() - t0 >= 0.3
    assert late.timestamp == held.timestamp + timedelta(minutes=1)  # nothing lost, in order


# -- trade updates -----------------------------------------------------------------------------------------------


@pytest.fixture
def trade_updates(stream_sim, clients) -> Client:
    client = clients("trading")
    client.stream.subscribe_trade_updates(client.put)
    client.start()
    listening(stream_sim)
    return client


def test_trade_updates_tell_new_fill_and_cancel_of_orders_placed_over_rest(stream_sim, trade_updates) -> None:
    s = stream_sim
    s.at_least(10, 30)
    legs = s.condor()
    order = s.trading.submit_order(s.mleg(legs, s.natural(legs), s.cid("tu")))
    new, fill = trade_updates.take(2)
    rest = s.trading.get_order_by_id(order.id)
    assert new.event == TradeEvent.NEW and new.order.id == order.id and new.timestamp == rest.submitted_at
    assert new.order.status is OrderStatus.NEW and new.order.filled_qty == "0"  # as it was when it was new
    assert fill.event == TradeEvent.FILL and fill.order == rest  # the REST order, field for field
    assert fill.price == float(rest.filled_avg_price) and fill.qty == 1 and fill.timestamp == rest.filled_at
    assert fill.position_qty is None  # a multi-leg order moves four positions

    resting = s.trading.submit_order(s.mleg(legs, s.natural(legs) - 1.5, s.cid("rest")))
    [new] = trade_updates.take(1)
    assert new.event == TradeEvent.NEW and new.order.status is OrderStatus.NEW
    s.trading.cancel_order_by_id(resting.id)
    [canceled] = trade_updates.take(1)
    assert canceled.event == TradeEvent.CANCELED and canceled.order.status is OrderStatus.CANCELED
    assert canceled.timestamp == s.trading.get_order_by_id(resting.id).canceled_at == s.now()


def test_a_fill_while_the_clock_jumps_is_told_at_its_own_minute(stream_sim, trade_updates) -> None:
    s = stream_sim
    mk = s.server.venue.market()
    assert mk is not None
    symbol, limit, k = later_fill(mk, s.now())
    request = LimitOrderRequest(
        symbol=symbol, qty=1, side=OrderSide.BUY, time_in_force=TimeInForce.DAY, limit_price=limit, client_order_id="x1"
    )
    order = s.trading.submit_order(request)
    [new] = trade_updates.take(1)
    assert new.event == TradeEvent.NEW
    s.advance(26 * 60)
    [fill] = trade_updates.take(1)
    rest = s.trading.get_order_by_id(order.id)
    assert fill.event == TradeEvent.FILL and fill.timestamp == rest.filled_at == mk.minute_start(k)
    assert fill.price == limit and fill.qty == 1 and fill.position_qty == 1


def test_trade_updates_tell_an_order_whose_rest_answer_was_lost(stream_sim, trade_updates) -> None:
    s = stream_sim
    legs = s.condor()
    request = s.mleg(legs, s.natural(legs), s.cid("lost"))
    s.server.fault_kinds, s.server.fault_rate = ("drop_after",), 1.0
    try:
        with pytest.raises(requests.ConnectionError):
            s.trading.submit_order(request)
    finally:
        s.server.fault_kinds, s.server.fault_rate = FAULT_KINDS, 0.0
    new, fill = trade_updates.take(2)
    assert (new.event, fill.event) == (TradeEvent.NEW, TradeEvent.FILL)
    assert new.order.client_order_id == fill.order.client_order_id == request.client_order_id


def test_a_working_order_expires_at_the_close(stream_sim, trade_updates) -> None:
    s = stream_sim
    s.at_least(15, 0)
    legs = s.condor()
    resting = s.trading.submit_order(s.mleg(legs, s.natural(legs) - 1.5, s.cid("expire")))
    [new] = trade_updates.take(1)
    s.at_least(16, 1)
    [expired] = trade_updates.take(1)
    close = datetime(2025, 7, 1, 16, 0, tzinfo=ET)
    assert (new.order.id, expired.order.id) == (resting.id, resting.id)
    assert expired.event == TradeEvent.EXPIRED and expired.timestamp == close
    assert expired.order.status is OrderStatus.EXPIRED and expired.order.expired_at == close


# -- a server of its own -------------------------------------------------------------------------------------------


def test_a_slow_client_is_cut_off_with_407_and_never_holds_up_the_clock(make_sim) -> None:
    s = make_sim(streams=True)
    streams = s.server.streams
    streams.queue_frames = 2
    with raw(s, "iex") as ws:
        assert recv(ws) == CONNECTED
        send(ws, auth(s))
        assert recv(ws) == AUTHENTICATED
        send(ws, {"action": "subscribe", "bars": ["SPY"]})
        assert recv(ws)[0]["T"] == "subscription"
        streams.hold("/v2/iex")  # the client reads nothing more: frames pile up
        t0 = time.monotonic()
        s.at_least(9, 31)
        for _ in range(4):
            s.advance(60)  # a frame each: one held by the sender, two queued, then no room
        assert time.monotonic() - t0 < 2.0
        assert recv(ws) == [{"T": "error", "code": 407, "msg": "slow client"}]
        assert closed(ws)
    assert streams.wait_for(lambda vs: not vs, WAIT)
