"""serve-sim's streams: Alpaca's market data and trading websockets on 127.0.0.1, with injectable faults.

The real alpaca-py stream clients (StockDataStream, OptionDataStream, TradingStream, each with `url_override`
set to one of `urls`) run against it unchanged. It serves on its own port, in its own thread and event loop
(the websockets library's asyncio server), beside the REST transport's threaded HTTP server: the two cannot
share a socket without handing a half-read HTTP connection from one to the other.

It publishes what the transport hands it (stream_feed.py's events, after each request that moved the clock or
an order) and never reads the venue itself, so publishing costs the REST handler one thread-safe call. Each
connection has a bounded queue of frames: a client that falls that far behind is told 407 (slow client) and cut
off, as Alpaca does, so nothing a client does can hold up the simulation. The faults are calls a test (or a
harness) makes while it runs: drop, silence, hold, refuse; they act per path, or on every path.
"""

from __future__ import annotations

import asyncio
import contextlib
import hmac
import threading
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from http import HTTPStatus
from itertools import count
from typing import Any

from loguru import logger
from websockets.asyncio.server import Server, ServerConnection, serve
from websockets.exceptions import ConnectionClosed
from websockets.http11 import Request, Response

from engine.sim import stream_wire as wire
from engine.sim.stream_feed import StreamEvent, Wanted
from engine.sim.stream_protocol import ENDPOINTS, FEED_NAMES, DataSession, Endpoint, Step, TradingSession

QUEUE_FRAMES = 1024
"""Frames a connection may have waiting before it is a slow client (alpaca-py's own receive queue is as long)."""
FRAME_MESSAGES = 200
"""Data messages per frame at most: a day's quotes published at once go out in frames of this many."""
AUTH_TIMEOUT_S = 10.0
"""Alpaca gives a data-stream client ten seconds to authenticate, then answers 404 and closes."""
CLOSE_GRACE_S = 2.0
"""How long a connection told to close (after a 402, 406, 407, 412) may take to flush and close before it is cut."""

PUBLISH_TIMEOUT_S = 5.0
"""How long publishing may wait for the event loop to queue the frames (it only queues: milliseconds)."""

_CLOSE = object()
"""Queued after a connection's last frame: the sender closes the connection once the frames before it are out."""


@dataclass(frozen=True, slots=True)
class SessionView:
    """One open connection as a test or a harness sees it (sessions(), wait_for())."""

    id: int
    """Counts up from 1 in the order connections opened: a reconnect has a new id."""
    path: str
    authenticated: bool
    subscriptions: dict[str, tuple[str, ...]]
    """Every channel of a data stream, with its symbols; empty on the trading stream."""
    listening: bool
    """The trading stream listens to trade_updates."""
    published: int
    """Data messages and trade updates handed to this connection (the withheld ones not counted)."""
    delivered: int
    """Messages written to the socket."""
    silenced: int
    """Messages withheld by the silence fault."""
    queued: int
    """Frames waiting to be written (held, or not yet sent)."""


@dataclass(slots=True)
class _Connection:
    id: int
    ws: ServerConnection
    endpoint: Endpoint
    session: DataSession | TradingSession
    packed: bool
    queue: asyncio.Queue[Any]
    pending: int = 0
    """Frames queued and not yet written, the one the sender holds included."""
    published: int = 0
    delivered: int = 0
    silenced: int = 0
    slow: bool = False

    def wants(self, event: StreamEvent) -> bool:
        if event.feed != self.endpoint.feed or not self.session.authenticated:
            return False
        if isinstance(self.session, TradingSession):
            return self.session.listening
        return self.session.wants(event.channel, event.symbol)

    def view(self) -> SessionView:
        subs = self.session.subscriptions if isinstance(self.session, DataSession) else {}
        return SessionView(
            id=self.id,
            path=self.endpoint.path,
            authenticated=self.session.authenticated,
            subscriptions={c: tuple(sorted(s)) for c, s in subs.items()},
            listening=isinstance(self.session, TradingSession) and self.session.listening,
            published=self.published,
            delivered=self.delivered,
            silenced=self.silenced,
            queued=self.pending,
        )


@dataclass(slots=True)
class _PathFaults:
    """One path's faults; only the event loop's thread touches them (the public calls schedule onto it)."""

    gate: asyncio.Event
    """Set: frames flow. Cleared: they are held."""
    silent: bool = False
    refusals: int = 0
    release_at: asyncio.TimerHandle | None = None


def _path(target: str) -> str:
    return target.split("?", 1)[0]


class StreamServer:
    """Alpaca's five stream paths on one port: /v2/iex and /v2/sip (stocks), /v1beta1/indicative and
    /v1beta1/opra (options), /stream (trade updates). One authenticated connection per data path (406 beyond);
    any number on /stream."""

    def __init__(
        self,
        *,
        api_key: str,
        secret_key: str,
        host: str = "127.0.0.1",
        port: int = 0,
        queue_frames: int = QUEUE_FRAMES,
        auth_timeout: float = AUTH_TIMEOUT_S,
    ) -> None:
        self.host = host
        self.queue_frames = queue_frames
        """Read as each connection opens, so a test may shorten it on a running server."""
        self.auth_timeout = auth_timeout
        """Read as each connection opens."""
        self._api_key = api_key
        self._secret_key = secret_key
        self._port = port
        self._bound: int | None = None
        self._error: OSError | None = None
        self._thread: threading.Thread | None = None
        self._loop: asyncio.AbstractEventLoop | None = None
        self._stopping: asyncio.Event | None = None
        self._state = threading.Condition()
        """Guards what other threads read: what is wanted, and the connections' views."""
        self._wanted = Wanted()
        self._views: dict[int, SessionView] = {}
        self._ids = count(1)
        # the event loop's thread only:
        self._conns: dict[int, _Connection] = {}
        self._slots: dict[str, int] = {}
        self._faults: dict[str, _PathFaults] = {}
        self._cutting: set[asyncio.Task[None]] = set()

    # -- lifecycle ---------------------------------------------------------------------------------

    def start(self) -> StreamServer:
        """Bind and serve in a daemon thread; OSError when the port cannot be bound."""
        if self._thread is not None:
            raise RuntimeError("stream server already started")
        self._bound, self._error = None, None
        ready = threading.Event()
        self._thread = threading.Thread(target=self._run, args=(ready,), name="zdte-sim-streams", daemon=True)
        self._thread.start()
        ready.wait()
        if self._bound is None:
            self._thread.join()
            self._thread = None
            raise self._error or RuntimeError("stream server did not start (see the log)")
        return self

    def stop(self) -> None:
        """Close every connection (1001, going away), stop serving and end the thread."""
        thread, loop, stopping = self._thread, self._loop, self._stopping
        if thread is None:
            return
        if loop is not None and stopping is not None:
            with contextlib.suppress(RuntimeError):  # the loop already ended
                loop.call_soon_threadsafe(stopping.set)
        thread.join(timeout=10)
        self._thread = None

    @property
    def url(self) -> str:
        """ws://127.0.0.1:port, without a path."""
        if self._bound is None:
            raise RuntimeError("stream server not started")
        return f"ws://{self.host}:{self._bound}"

    @property
    def urls(self) -> dict[str, str]:
        """Each stream's full URL, for alpaca-py's `url_override` (which it uses as is, adding no path): by feed
        name (iex, sip, indicative, opra) and "trading"."""
        return {name: self.url + path for path, name in FEED_NAMES.items()} | {"trading": self.url + "/stream"}

    def _run(self, ready: threading.Event) -> None:
        try:
            asyncio.run(self._main(ready))
        finally:
            ready.set()  # start() must not wait forever on a loop that died before serving

    async def _main(self, ready: threading.Event) -> None:
        self._loop = asyncio.get_running_loop()
        self._stopping = asyncio.Event()
        self._faults = {path: _PathFaults(asyncio.Event()) for path in ENDPOINTS}
        for faults in self._faults.values():
            faults.gate.set()
        try:
            server: Server = await serve(
                self._serve, self.host, self._port, process_request=self._check_path, close_timeout=1
            )
        except OSError as exc:
            self._error = exc
            ready.set()
            return
        self._bound = int(server.sockets[0].getsockname()[1])
        ready.set()
        await self._stopping.wait()
        for faults in self._faults.values():
            faults.gate.set()  # a held connection must not keep its close waiting
        server.close()
        await server.wait_closed()

    # -- what the transport calls ------------------------------------------------------------------

    def wanted(self) -> Wanted:
        """What the open connections subscribe to now (any thread)."""
        with self._state:
            return self._wanted

    def publish(self, events: Sequence[StreamEvent]) -> int:
        """Hand events to the connections that want them (any thread): how many messages were handed over.

        It returns once they are queued on the connections, never waiting on a client to read them, so what
        `published()` says right after includes them.
        """
        loop = self._loop
        if not events or loop is None:
            return 0

        async def deliver() -> int:
            return self._deliver(list(events))

        try:
            return asyncio.run_coroutine_threadsafe(deliver(), loop).result(PUBLISH_TIMEOUT_S)
        except (RuntimeError, TimeoutError):  # stopped (nobody is left to tell), or stopping
            return 0

    def published(self) -> dict[str, list[int]]:
        """Per path, the messages handed so far to each open authenticated connection (a client that has read as
        many has everything published until now: serve-sim's clock tells a streamed client how far to read)."""
        with self._state:
            out: dict[str, list[int]] = {}
            for _, v in sorted(self._views.items()):
                if v.authenticated:
                    out.setdefault(v.path, []).append(v.published)
            return out

    # -- faults (any thread; each takes effect in order with what is published after it) ----------------

    def drop(self, path: str | None = None) -> None:
        """Cut the connections of a path (None: every path) without a close frame, as a network failure does."""
        self._schedule(lambda: self._drop(path))

    def silence(self, path: str | None = None) -> None:
        """Keep the connections open and answering (auth, subscriptions, pings), but withhold every data
        message and trade update published until clear(): they are lost, as from a feed gone mute."""
        self._schedule(lambda: self._each(path, lambda f: setattr(f, "silent", True)))

    def hold(self, path: str | None = None, seconds: float | None = None) -> None:
        """Hold every frame (control ones too) of a path until release(), or for `seconds` of wall time:
        nothing is lost, everything arrives late and in order."""
        self._schedule(lambda: self._each(path, lambda f: self._hold(f, seconds)))

    def release(self, path: str | None = None) -> None:
        """End a hold: what was held goes out."""
        self._schedule(lambda: self._each(path, self._release))

    def refuse(self, path: str, times: int = 1) -> None:
        """Answer the next `times` authentications on a data path with 406, as if a dropped connection still held
        the slot (Alpaca is slow to reap one)."""
        if ENDPOINTS[path].feed == "trading":
            raise ValueError("the trading stream has no connection limit to refuse with")
        self._schedule(lambda: setattr(self._faults[path], "refusals", times))

    def clear(self) -> None:
        """Every fault off on every path: sound, released, no refusals."""

        def off(f: _PathFaults) -> None:
            f.silent, f.refusals = False, 0
            self._release(f)

        self._schedule(lambda: self._each(None, off))

    def _schedule(self, fn: Callable[[], None]) -> None:
        if self._loop is None:
            raise RuntimeError("stream server not started")
        self._loop.call_soon_threadsafe(fn)

    def _each(self, path: str | None, fn: Callable[[_PathFaults], object]) -> None:
        for p, faults in self._faults.items():
            if path is None or p == path:
                fn(faults)

    def _hold(self, faults: _PathFaults, seconds: float | None) -> None:
        self._release(faults)
        faults.gate.clear()
        if seconds is not None:
            assert self._loop is not None
            faults.release_at = self._loop.call_later(seconds, self._release, faults)

    @staticmethod
    def _release(faults: _PathFaults) -> None:
        if faults.release_at is not None:
            faults.release_at.cancel()
            faults.release_at = None
        faults.gate.set()

    def _drop(self, path: str | None) -> None:
        for conn in list(self._conns.values()):
            if path is None or conn.endpoint.path == path:
                logger.info(f"streams: dropping connection {conn.id} on {conn.endpoint.path}")
                conn.ws.transport.abort()

    # -- what a test or a harness reads ------------------------------------------------------------

    def sessions(self, path: str | None = None) -> list[SessionView]:
        """The open connections (of a path), oldest first."""
        with self._state:
            return [v for _, v in sorted(self._views.items()) if path is None or v.path == path]

    def wait_for(self, predicate: Callable[[list[SessionView]], bool], timeout: float) -> bool:
        """Wait until `predicate(sessions())` holds (False after `timeout` seconds): a subscription or a listen
        is in effect once the server says so, which alpaca-py does not report."""
        with self._state:
            return self._state.wait_for(lambda: predicate([v for _, v in sorted(self._views.items())]), timeout)

    # -- connections (the event loop's thread) -----------------------------------------------------

    def _check_path(self, ws: ServerConnection, request: Request) -> Response | None:
        if _path(request.path) in ENDPOINTS:
            return None
        return ws.respond(HTTPStatus.NOT_FOUND, f"no stream at {_path(request.path)}\n")

    async def _serve(self, ws: ServerConnection) -> None:
        assert ws.request is not None
        endpoint = ENDPOINTS[_path(ws.request.path)]
        cid = next(self._ids)
        session: DataSession | TradingSession
        if endpoint.feed == "trading":
            session, packed = TradingSession(self._keys_ok), False
        else:
            session = DataSession(endpoint, self._keys_ok, lambda: self._claim(endpoint.path, cid))
            packed = (ws.request.headers.get("Content-Type") or "").lower().startswith(wire.MSGPACK)
        conn = _Connection(cid, ws, endpoint, session, packed, asyncio.Queue(maxsize=self.queue_frames))
        self._conns[cid] = conn
        self._touch(conn)
        logger.debug(f"streams: connection {cid} on {endpoint.path} ({'msgpack' if packed else 'JSON'})")
        sender = asyncio.create_task(self._send_loop(conn))
        closing = False
        try:
            if isinstance(session, DataSession):
                closing = not self._answer(conn, session.opening(packed))
            deadline = asyncio.get_running_loop().time() + self.auth_timeout
            while not closing:
                closing = not self._answer(conn, await self._next_step(conn, deadline))
        except ConnectionClosed:
            pass
        finally:
            if closing:
                with contextlib.suppress(TimeoutError, ConnectionClosed):
                    await asyncio.wait_for(asyncio.shield(sender), CLOSE_GRACE_S)
            sender.cancel()
            self._forget(conn)

    async def _next_step(self, conn: _Connection, deadline: float) -> Step:
        """The answer to the client's next message; a data client has until `deadline` to authenticate (404)."""
        session = conn.session
        timeout = None
        if isinstance(session, DataSession) and not session.authenticated:
            timeout = max(0.0, deadline - asyncio.get_running_loop().time())
        try:
            frame = await asyncio.wait_for(conn.ws.recv(), timeout)
        except TimeoutError:
            return Step([wire.error(404)], close=True)
        data = isinstance(session, DataSession)
        try:
            message = wire.decode(frame, conn.packed)
        except ValueError:
            return Step([wire.error(400) if data else wire.trading_error("invalid syntax")])
        try:
            return session.on_message(message)
        except Exception:  # noqa: BLE001 - a simulator bug answers 500, as REST does, and keeps the connection
            logger.exception(f"streams: connection {conn.id} on {conn.endpoint.path}")  # not the message: keys
            return Step([wire.error(500) if data else wire.trading_error("internal error")])

    def _answer(self, conn: _Connection, step: Step) -> bool:
        """Queue a step's replies, one message a frame (Alpaca sends control messages alone); False when closing."""
        for reply in step.replies:
            frame = wire.encode_trading(reply) if conn.endpoint.feed == "trading" else wire.encode([reply], conn.packed)
            self._enqueue(conn, frame, 0)
        if step.changed:
            self._recompute_wanted()
            self._touch(conn)
        if step.close:
            self._enqueue(conn, _CLOSE, 0)
        return not step.close

    async def _send_loop(self, conn: _Connection) -> None:
        gate = self._faults[conn.endpoint.path].gate
        try:
            while True:
                item, messages = await conn.queue.get()
                await gate.wait()
                if item is _CLOSE:
                    await conn.ws.close()
                    return
                await conn.ws.send(item)
                conn.pending -= 1
                conn.delivered += messages
                self._touch(conn)
        except ConnectionClosed:
            pass

    def _enqueue(self, conn: _Connection, frame: object, messages: int) -> None:
        if conn.slow:
            return
        try:
            conn.queue.put_nowait((frame, messages))
        except asyncio.QueueFull:
            conn.slow = True
            task = asyncio.get_running_loop().create_task(self._cut_slow(conn))
            self._cutting.add(task)  # the loop keeps only a weak reference to a task
            task.add_done_callback(self._cutting.discard)
            return
        if frame is not _CLOSE:
            conn.pending += 1

    async def _cut_slow(self, conn: _Connection) -> None:
        """407 past the queue and any hold, given a moment to leave (not guaranteed, as at Alpaca), then cut."""
        logger.warning(f"streams: connection {conn.id} on {conn.endpoint.path} is a slow client: cut off")
        if isinstance(conn.session, DataSession):
            with contextlib.suppress(TimeoutError, ConnectionClosed):
                await asyncio.wait_for(conn.ws.send(wire.encode([wire.error(407)], conn.packed)), CLOSE_GRACE_S)
        conn.ws.transport.abort()

    def _deliver(self, events: list[StreamEvent]) -> int:
        handed = 0
        for conn in list(self._conns.values()):
            mine = [e for e in events if conn.wants(e)]
            if not mine or conn.slow:
                continue
            if self._faults[conn.endpoint.path].silent:
                conn.silenced += len(mine)
                self._touch(conn)
                continue
            conn.published += len(mine)
            handed += len(mine)
            if conn.endpoint.feed == "trading":
                for e in mine:
                    self._enqueue(conn, wire.encode_trading(e.message), 1)
            else:
                for i in range(0, len(mine), FRAME_MESSAGES):
                    chunk = [e.message for e in mine[i : i + FRAME_MESSAGES]]
                    self._enqueue(conn, wire.encode(chunk, conn.packed), len(chunk))
            self._touch(conn)
        return handed

    def _claim(self, path: str, cid: int) -> bool:
        faults = self._faults[path]
        if faults.refusals > 0:
            faults.refusals -= 1
            return False
        holder = self._slots.get(path)
        if holder is not None and holder != cid:
            return False
        self._slots[path] = cid
        return True

    def _keys_ok(self, key: str, secret: str) -> bool:
        ok_key = hmac.compare_digest(key.encode(), self._api_key.encode())
        ok_secret = hmac.compare_digest(secret.encode(), self._secret_key.encode())
        return ok_key and ok_secret

    def _forget(self, conn: _Connection) -> None:
        self._conns.pop(conn.id, None)
        if self._slots.get(conn.endpoint.path) == conn.id:
            del self._slots[conn.endpoint.path]
        self._recompute_wanted()
        with self._state:
            self._views.pop(conn.id, None)
            self._state.notify_all()
        logger.debug(f"streams: connection {conn.id} on {conn.endpoint.path} closed")

    def _touch(self, conn: _Connection) -> None:
        with self._state:
            if conn.id in self._conns:
                self._views[conn.id] = conn.view()
            self._state.notify_all()

    def _recompute_wanted(self) -> None:
        bars: set[str] = set()
        stock_quotes: set[str] = set()
        stock_trades: set[str] = set()
        option_quotes: set[str] = set()
        trade_updates = False
        for conn in self._conns.values():
            s = conn.session
            if not s.authenticated:
                continue
            if isinstance(s, TradingSession):
                trade_updates = trade_updates or s.listening
            elif conn.endpoint.feed == "stocks":
                bars |= s.subscriptions["bars"]
                stock_quotes |= s.subscriptions["quotes"]
                stock_trades |= s.subscriptions["trades"]
            else:
                option_quotes |= s.subscriptions["quotes"]
        wanted = Wanted(
            frozenset(bars), frozenset(stock_quotes), frozenset(stock_trades), frozenset(option_quotes), trade_updates
        )
        with self._state:
            self._wanted = wanted
