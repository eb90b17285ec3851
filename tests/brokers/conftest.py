"""Fixtures of the Alpaca adapter tests: real alpaca-py over real sockets, on 127.0.0.1 only.

Two kinds of server: `stub`, a tiny stdlib HTTP server answering recorded Alpaca payloads (or anything a
test routes), and `make_sim`, zdte's SimServer (the simulated venue behind Alpaca's REST paths) with its
seeded faults. Helpers are handed out as fixtures, not imported from here: tests/ has several conftest
modules and `from conftest import ...` would pick whichever was imported last.
"""

from __future__ import annotations

import json
import threading
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import date, datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, unquote, urlsplit

import pytest

from engine.brokers.alpaca import AlpacaBroker, AlpacaMarketData, alpaca_adapters
from engine.brokers.serve_sim_clock import RemoteSimClock, is_simulator
from engine.calendar import ET, ExchangeCalendar
from engine.clock import SimClock, WallClock
from engine.config import AlpacaConfig, SimConfig
from engine.ports import Clock
from engine.sim.transport import SimServer
from engine.sim.venue import SimVenue

SHARED = Path(__file__).resolve().parents[2].parent / "shared"
FIXTURES = SHARED / "fixtures" / "alpaca"
KEY, SECRET = "brokers-test-key", "brokers-test-secret"
KEYS = {"ALPACA_API_KEY": KEY, "ALPACA_SECRET_KEY": SECRET}
HEADERS = {"APCA-API-KEY-ID": KEY, "APCA-API-SECRET-KEY": SECRET}
DAY = date(2025, 7, 1)

Reply = tuple[int, Any] | tuple[int, Any, dict[str, str]]


@dataclass
class Seen:
    """One request the stub answered: what alpaca-py actually sent."""

    method: str
    path: str
    query: dict[str, str]
    body: Any
    headers: dict[str, str]


@dataclass
class Stub:
    """Routes "METHOD /path" to a reply (status, JSON body[, headers]) or to a function of the request."""

    url: str = ""
    routes: dict[str, Reply | Callable[[Seen], Reply]] = field(default_factory=dict)
    seen: list[Seen] = field(default_factory=list)

    def route(self, key: str, reply: Reply | Callable[[Seen], Reply]) -> None:
        self.routes[key] = reply

    def requests_to(self, path: str) -> list[Seen]:
        return [s for s in self.seen if s.path == path]


class _StubHandler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server: Any

    def _answer(self, method: str) -> None:
        stub: Stub = self.server.stub
        split = urlsplit(self.path)
        length = int(self.headers.get("Content-Length") or 0)
        raw = self.rfile.read(length) if length else b""
        seen = Seen(
            method=method,
            path=unquote(split.path),
            query={k: v[-1] for k, v in parse_qs(split.query, keep_blank_values=True).items()},
            body=json.loads(raw) if raw.strip() else None,
            headers=dict(self.headers.items()),
        )
        stub.seen.append(seen)
        reply = stub.routes.get(f"{method} {seen.path}")
        if callable(reply):
            try:
                reply = reply(seen)
            except Exception as exc:  # noqa: BLE001 - a broken route must answer (and fail the test), not hang up
                reply = (500, {"code": 50010000, "message": f"stub route failed: {type(exc).__name__}: {exc}"})
        if reply is None:
            reply = (404, {"code": 40410000, "message": f"stub has no route for {method} {seen.path}"})
        status, payload, headers = reply if len(reply) == 3 else (*reply, {})
        body = b"" if payload is None else json.dumps(payload).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        for name, value in headers.items():
            self.send_header(name, value)
        self.end_headers()
        self.wfile.write(body)

    def do_GET(self) -> None:  # noqa: N802 - the stdlib's naming
        self._answer("GET")

    def do_POST(self) -> None:  # noqa: N802
        self._answer("POST")

    def do_DELETE(self) -> None:  # noqa: N802
        self._answer("DELETE")

    def log_message(self, format: str, *args: Any) -> None:  # noqa: A002 - the stdlib's signature
        """Silent."""


@pytest.fixture
def stub() -> Iterator[Stub]:
    """A stub Alpaca on 127.0.0.1 (an ephemeral port), stopped after the test."""
    httpd = ThreadingHTTPServer(("127.0.0.1", 0), _StubHandler)
    httpd.daemon_threads = True
    httpd.block_on_close = False
    state = Stub(url=f"http://127.0.0.1:{httpd.server_address[1]}")
    httpd.stub = state  # type: ignore[attr-defined]
    thread = threading.Thread(target=httpd.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)
    thread.start()
    yield state
    httpd.shutdown()
    httpd.server_close()
    thread.join(timeout=5)


@pytest.fixture(scope="session")
def fixture_json() -> Callable[[str], Any]:
    """A recorded Alpaca payload by file name; skips (saying which) when ../shared is not there."""

    def load(name: str) -> Any:
        path = FIXTURES / name
        if not path.is_file():
            pytest.skip(f"recorded Alpaca payload {path} is not available (../shared/fixtures/alpaca is absent)")
        return json.loads(path.read_text(encoding="utf-8"))

    return load


@dataclass
class Adapters:
    clock: Clock
    broker: AlpacaBroker
    market_data: AlpacaMarketData


@pytest.fixture
def adapters_for() -> Callable[..., Adapters]:
    """adapters_for(url, clock=None, loopback=None, **alpaca_config): the production adapters (tamed clients, retry
    policy) pointed at `url`; clock None finds the simulator's clock (else the wall's) and then, loopback None, takes
    the short way to serve-sim (engine/brokers/loopback_http.py) when it is found, as `run.py` does. A clock given:
    requests, unless loopback says otherwise."""

    def make(url: str, clock: Clock | None = None, loopback: bool | None = None, **settings: Any) -> Adapters:
        cfg = AlpacaConfig(trading_url=url, data_url=url, **{"timeout_s": 2.0, **settings})
        if clock is None:
            found = is_simulator(url, cfg.timeout_s)
            clock = RemoteSimClock(url, HEADERS, cfg.timeout_s) if found else WallClock()
            if loopback is None:
                loopback = found  # as the composition root decides: serve-sim found on this machine
        return Adapters(clock, *alpaca_adapters(cfg, KEYS, clock, loopback=bool(loopback)))

    return make


@pytest.fixture
def make_sim() -> Iterator[Callable[..., SimServer]]:
    """make_sim(day=DAY, **SimServer kwargs): a started SimServer at 09:00 ET of `day`, stopped after the test."""
    started: list[SimServer] = []

    def make(day: date = DAY, sim: SimConfig | None = None, **kwargs: Any) -> SimServer:
        clock = SimClock(datetime(day.year, day.month, day.day, 9, 0, tzinfo=ET))
        venue = SimVenue(sim or SimConfig(), "SPY", clock, ExchangeCalendar())
        server = SimServer(venue, clock, api_key=KEY, secret_key=SECRET, **kwargs).start()
        started.append(server)
        return server

    yield make
    for server in started:
        server.stop()


@pytest.fixture(scope="session")
def keys() -> dict[str, str]:
    """The keys every server here accepts (simulator keys: nothing real)."""
    return dict(KEYS)
