"""The Feed port on alpaca-py's stream clients: StockDataStream (the underlying's minute bars), OptionDataStream
(the followed contracts' quotes) and TradingStream (trade updates), each in a thread of its own.

The threads only put what they receive on one queue (and tell the clock there is news, at most once per
`stream.min_interval_s`, so a busy quote stream does not become a decision step per quote); the machine's thread
takes it all at once with `drain`. alpaca-py reconnects by itself, with backoff and jitter (common/utils.py
reconnect_delay), and with `data_timeout` also drops a data connection that went mute; it reports neither, so the
clients here are alpaca-py's own with two hooks: a connection that authenticated, or one that closed or failed,
becomes a StreamNews on the queue. The trade updates are raw: a fill is booked from the broker's order record,
which an update makes the engine ask for at once, never from the update itself.

Against serve-sim (whose clock moves only when asked) the clock asks `settle` after each move: it waits until
every message serve-sim handed to these connections up to the new time has been read, so a drain right after
holds all that happened before it, as it would on the wall's clock.
"""

from __future__ import annotations

import asyncio
import queue
import threading
import time
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any
from urllib.parse import urlsplit

import numpy as np
from alpaca.data.enums import DataFeed, OptionsFeed
from alpaca.data.live.option import OptionDataStream
from alpaca.data.live.stock import StockDataStream
from alpaca.trading.stream import TradingStream
from loguru import logger

from engine.calendar import ET
from engine.config import AlpacaConfig, StreamConfig
from engine.feed import NOTHING, FeedBatch, Stream, StreamNews
from engine.models import Bars, OptionQuote

SETTLE_TIMEOUT_S = 2.0
"""How long `settle` waits for messages serve-sim says it sent (a held or cut connection never brings them)."""
STOP_TIMEOUT_S = 1.0

Put = Callable[[Any], None]


class _Hooks:
    """What alpaca-py's clients do not tell: a connection made or lost, and how many messages it brought. Mixed
    in before alpaca-py's class, so `super()` is alpaca-py's own method."""

    zdte_stream: Stream
    zdte_put: Put
    zdte_read: int = 0
    zdte_up: bool = False
    zdte_why: str = ""
    zdte_cv: threading.Condition

    def zdte_setup(self, stream: Stream, put: Put, cv: threading.Condition) -> None:
        self.zdte_stream, self.zdte_put, self.zdte_cv = stream, put, cv
        self.zdte_read, self.zdte_up = 0, False

    def zdte_tell(self, up: bool, why: str) -> None:
        """A change is news; so is a new reason a connection keeps failing for (a refused key, a 406), once."""
        if up == self.zdte_up and (up or why == self.zdte_why):
            return
        self.zdte_up, self.zdte_why = up, why
        self.zdte_put(StreamNews(self.zdte_stream, up, why))

    def zdte_count(self) -> None:
        with self.zdte_cv:
            self.zdte_read += 1
            self.zdte_cv.notify_all()

    async def _start_ws(self) -> None:
        with self.zdte_cv:
            self.zdte_read = 0  # counts per connection, as serve-sim's `published` does
        try:
            await super()._start_ws()  # type: ignore[misc]
        except Exception as exc:
            self.zdte_tell(False, f"connection failed: {exc}")
            raise
        self.zdte_tell(True, "connected")

    async def close(self) -> None:
        if self.zdte_up:
            self.zdte_tell(False, "connection closed")
        await super().close()  # type: ignore[misc]


class _Stocks(_Hooks, StockDataStream):
    async def _dispatch(self, msg: dict[str, Any]) -> None:
        if msg.get("T") in ("b", "q", "t"):
            self.zdte_count()
        await super()._dispatch(msg)


class _Options(_Hooks, OptionDataStream):
    async def _dispatch(self, msg: dict[str, Any]) -> None:
        if msg.get("T") in ("q", "t"):
            self.zdte_count()
        await super()._dispatch(msg)

    async def _send_subscribe_msg(self) -> None:
        """On connecting, alpaca-py sends the whole subscription and only then marks the connection running; a
        follow() in between changes the subscription locally and tells the server nothing (alpaca-py sends
        nothing while not running), so a leg no longer held stayed subscribed, and one just followed went
        unstreamed, until the next reconnect. Here the connection is marked running as soon as its subscription
        is out (later changes are sent by alpaca-py itself), and what changed meanwhile is sent at once."""
        sent = set(self._handlers["quotes"])
        await super()._send_subscribe_msg()
        self._running = True
        now = set(self._handlers["quotes"])
        if sent - now:
            await self._send_unsubscribe_msg("quotes", sorted(sent - now))
        if now - sent:
            await super()._send_subscribe_msg()


class _Trading(_Hooks, TradingStream):
    async def _dispatch(self, msg: dict[str, Any]) -> None:
        if msg.get("stream") == "trade_updates":
            self.zdte_count()
        await super()._dispatch(msg)


def _when(t: Any) -> datetime:
    """A message's `t`: a msgpack Timestamp (Alpaca's wire), or already a datetime."""
    when = t.to_datetime() if hasattr(t, "to_datetime") else t
    return when.astimezone(ET)


class AlpacaFeed:
    """The three streams, started as the first `follow` asks for them; `close` stops them."""

    def __init__(
        self,
        key: str,
        secret: str,
        cfg: AlpacaConfig,
        stream: StreamConfig,
        urls: dict[str, str] | None = None,
        news: Callable[[], None] | None = None,
    ) -> None:
        """`urls`: serve-sim's stream URLs by name (iex, sip, indicative, opra, trading); None: Alpaca's own.
        `news`: told (from a stream thread) that something is waiting, at most once per `min_interval_s`."""
        urls = urls or {}
        self._queue: queue.SimpleQueue[Any] = queue.SimpleQueue()
        self._cv = threading.Condition()
        self._news = news
        self._min_interval = stream.min_interval_s
        self._last_news = 0.0
        self._timer: threading.Timer | None = None
        self._timer_lock = threading.Lock()
        self._stocks = _Stocks(
            key, secret, raw_data=True, feed=DataFeed(cfg.feed), url_override=urls.get(cfg.feed),
            data_timeout=stream.silence_s,
        )
        self._options = _Options(
            key, secret, raw_data=True, feed=OptionsFeed(cfg.options_feed),
            url_override=urls.get(cfg.options_feed), data_timeout=stream.silence_s,
        )
        self._trading = _Trading(key, secret, paper=True, raw_data=True, url_override=urls.get("trading", ""))
        self._clients: dict[Stream, Any] = {
            Stream.STOCKS: self._stocks, Stream.OPTIONS: self._options, Stream.TRADING: self._trading
        }
        for name, client in self._clients.items():
            client.zdte_setup(name, self._put, self._cv)
        self._paths = {urlsplit(c._endpoint).path: c for c in self._clients.values()}
        self._threads: dict[Stream, threading.Thread] = {}
        self._underlying: str | None = None
        self._options_followed: tuple[str, ...] = ()

    # --- the Feed port ---------------------------------------------------------------------------------
    def follow(self, underlying: str, options: tuple[str, ...]) -> None:
        if self._underlying is None:
            self._underlying = underlying
            self._stocks.subscribe_bars(self._on_bar, underlying)
            self._trading.subscribe_trade_updates(self._on_trade_update)
            self._start(Stream.STOCKS)
            self._start(Stream.TRADING)
        gone = sorted(set(self._options_followed) - set(options))
        new = sorted(set(options) - set(self._options_followed))
        self._options_followed = options
        try:
            if gone:
                self._options.unsubscribe_quotes(*gone)
            if new:
                self._options.subscribe_quotes(self._on_quote, *new)
        except Exception as exc:  # noqa: BLE001 - mid-reconnect: the whole subscription is sent again on connect
            logger.warning(f"option stream subscription deferred to the next connection: {exc}")
        if new:
            self._start(Stream.OPTIONS)

    def drain(self) -> FeedBatch:
        items: list[Any] = []
        while True:
            try:
                items.append(self._queue.get_nowait())
            except queue.Empty:
                break
        if not items:
            return NOTHING
        bars = [i for i in items if isinstance(i, tuple)]
        return FeedBatch(
            bars=_bars(self._underlying or "", bars) if bars else None,
            quotes=tuple(i for i in items if isinstance(i, OptionQuote)),
            orders=tuple(i for i in items if isinstance(i, str)),
            news=tuple(i for i in items if isinstance(i, StreamNews)),
        )

    # --- serve-sim's clock ------------------------------------------------------------------------------
    def settle(self, published: dict[str, list[int]], timeout: float = SETTLE_TIMEOUT_S) -> bool:
        """Wait until each of these connections has read what serve-sim says it handed them (False: it did not
        within `timeout`; what is late comes with a later drain)."""
        wanted = [(c, min(counts)) for path, counts in published.items() if (c := self._paths.get(path)) and counts]

        def done() -> bool:
            return all(c.zdte_read >= n for c, n in wanted)

        with self._cv:
            ok = self._cv.wait_for(done, timeout)
        if not ok:
            logger.debug(f"streams: not everything published arrived within {timeout}s")
        return ok

    def close(self) -> None:
        """Stop the streams. alpaca-py looks at its stop flag only between messages (up to 5 s apart), so the
        connection is closed under it as well: its receive fails at once and it sees the flag."""
        for name in self._threads:
            client = self._clients[name]
            loop = client._loop
            try:
                if loop is not None and loop.is_running():
                    asyncio.run_coroutine_threadsafe(client.stop_ws(), loop).result(STOP_TIMEOUT_S)
                    if client._ws is not None:
                        asyncio.run_coroutine_threadsafe(client._ws.close(), loop).result(STOP_TIMEOUT_S)
            except Exception as exc:  # noqa: BLE001 - stopping is best effort; the threads are daemons
                logger.debug(f"{name} stream did not stop cleanly: {exc}")
        for thread in self._threads.values():
            thread.join(STOP_TIMEOUT_S)

    # --- the stream threads ---------------------------------------------------------------------------
    def _start(self, name: Stream) -> None:
        if name in self._threads:
            return
        thread = threading.Thread(target=self._clients[name].run, name=f"zdte-{name}-stream", daemon=True)
        self._threads[name] = thread
        thread.start()

    def _put(self, item: Any) -> None:
        self._queue.put(item)
        self._poke()

    def _poke(self) -> None:
        if self._news is None:
            return
        with self._timer_lock:
            wait = self._last_news + self._min_interval - time.monotonic()
            if wait <= 0:
                self._last_news = time.monotonic()
                self._news()
            elif self._timer is None:
                self._timer = threading.Timer(wait, self._fire)
                self._timer.daemon = True
                self._timer.start()

    def _fire(self) -> None:
        with self._timer_lock:
            self._timer = None
            self._last_news = time.monotonic()
        if self._news is not None:
            self._news()

    async def _on_bar(self, msg: Any) -> None:
        start = _when(msg["t"]).astimezone(UTC)
        self._put((int(start.timestamp()), msg["o"], msg["h"], msg["l"], msg["c"], msg.get("v", 0.0)))

    async def _on_quote(self, msg: Any) -> None:
        bid, ask = msg.get("bp"), msg.get("ap")
        if bid is None or ask is None:
            return  # a quote without both sides is no price
        self._put(OptionQuote(msg["S"], float(bid), float(ask), _when(msg["t"])))

    async def _on_trade_update(self, msg: Any) -> None:
        order = (msg.get("data") or {}).get("order") or {}
        if order.get("id"):
            self._put(str(order["id"]))


def _bars(symbol: str, rows: list[tuple[Any, ...]]) -> Bars:
    rows = sorted(rows)
    cols = list(zip(*rows, strict=True))
    return Bars(symbol, np.array(cols[0], dtype=np.int64), *(np.array(c, dtype=float) for c in cols[1:]))
