"""The simulated venue behind Alpaca's REST API on loopback (`run.py serve-sim`).

The real alpaca-py clients, pointed here with `url_override`, run unchanged against the simulator:
the same paths, query parameters, JSON shapes and error bodies as Alpaca's trading and market data
APIs, so the `alpaca` adapter (timeouts, retries, idempotent order submission) is exercised end to end
without an account or a network. Time is the simulator's: a client advances it with POST /sim/advance
instead of sleeping, so a whole simulated day over HTTP takes seconds.

Faults can be injected on purpose (seeded, so a failing run can be repeated): rate limits, server
errors, unavailability, slow answers and dropped connections, including the nasty one where an order
is accepted by the exchange but the answer is lost, which doubles orders in clients that resend blindly.
"""

from __future__ import annotations

import base64
import binascii
import contextlib
import hmac
import json
import math
import random
import re
import socket
import threading
import time
import uuid
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from datetime import time as dtime
from enum import StrEnum
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs, unquote, urlsplit

from engine.models import Intent, Leg, Order, OrderRequest, OrderStatus, Session, Side
from engine.occ import parse_occ
from engine.sim import alpaca_json as aj
from engine.sim.errors import SimDataError, SimError, SimNotFound, SimOrderRejected
from engine.sim.params import NEW_YORK as ET
from engine.sim.params import SimulatedClock
from engine.sim.venue import SimVenue

DEFAULT_API_KEY = "zdte-sim-key"
DEFAULT_SECRET_KEY = "zdte-sim-secret"
FAULT_KINDS = ("rate_limit", "server_error", "unavailable", "slow", "drop", "server_error_after", "drop_after")
"""Before the request is processed: 429, 500, 503, a slow answer, a dropped connection. After it is
processed (mutating requests only, e.g. an order the exchange accepted): a 500 or a dropped connection."""
AFTER_FAULTS = frozenset({"server_error_after", "drop_after"})
RATE_LIMIT_PER_MIN = 200
MAX_CLIENT_ORDER_ID = 128
_INTENT_SIDE = {
    Intent.BUY_TO_OPEN: Side.BUY,
    Intent.BUY_TO_CLOSE: Side.BUY,
    Intent.SELL_TO_OPEN: Side.SELL,
    Intent.SELL_TO_CLOSE: Side.SELL,
}
_FEEDS = frozenset({"iex", "sip", "delayed_sip", "otc", "boats", "overnight"})
_OPTION_FEEDS = frozenset({"indicative", "opra"})
_TIMEFRAMES = frozenset({"1Min", "1T"})


class ApiError(Exception):
    """An error answer in Alpaca's form: HTTP status plus {"code", "message"}."""

    def __init__(self, status: int, code: int, message: str) -> None:
        super().__init__(message)
        self.status = status
        self.code = code
        self.message = message


def _bad(name: str, why: str) -> ApiError:
    return ApiError(400, 40010001, f"invalid {name}: {why}")


def _unprocessable(message: str) -> ApiError:
    return ApiError(422, 42210000, message)


_ORDER_NOT_FOUND = (404, 40410000, "order not found")


# -- query strings -------------------------------------------------------------------------------


class _Query:
    """Query parameters the way Alpaca reads them: comma lists, RFC 3339 or YYYY-MM-DD times."""

    def __init__(self, raw: str) -> None:
        self._q = parse_qs(raw, keep_blank_values=True)

    def get(self, name: str) -> str | None:
        values = self._q.get(name)
        return values[-1] if values and values[-1] != "" else None

    def items(self, name: str) -> list[str]:
        out: list[str] = []
        for value in self._q.get(name, []):
            out.extend(v.strip() for v in value.split(",") if v.strip())
        return out

    def integer(self, name: str, default: int, lo: int, hi: int) -> int:
        text = self.get(name)
        if text is None:
            return default
        try:
            value = int(text)
        except ValueError:
            raise _bad(name, f"not an integer: {text!r}") from None
        if not lo <= value <= hi:
            raise _bad(name, f"must be between {lo} and {hi}, got {value}")
        return value

    def number(self, name: str) -> float | None:
        text = self.get(name)
        if text is None:
            return None
        try:
            value = float(text)
        except ValueError:
            raise _bad(name, f"not a number: {text!r}") from None
        if not math.isfinite(value):
            raise _bad(name, f"not a finite number: {text!r}")
        return value

    def day(self, name: str) -> date | None:
        text = self.get(name)
        if text is None:
            return None
        try:
            return date.fromisoformat(text[:10])
        except ValueError:
            raise _bad(name, f"not a date (YYYY-MM-DD): {text!r}") from None

    def moment(self, name: str, *, end: bool = False) -> datetime | None:
        """RFC 3339 (naive means UTC, as alpaca-py means it) or a bare date: that New York day's start,
        or for an end the next day's start, so the whole day is included."""
        text = self.get(name)
        if text is None:
            return None
        try:
            if len(text) == 10:
                day = date.fromisoformat(text) + timedelta(days=1 if end else 0)
                return datetime.combine(day, dtime(0), tzinfo=ET)
            value = datetime.fromisoformat(text)
        except ValueError:
            raise _bad(name, f"not an RFC 3339 time: {text!r}") from None
        return value if value.tzinfo is not None else value.replace(tzinfo=UTC)

    def choice(self, name: str, allowed: frozenset[str] | Sequence[str], default: str | None) -> str | None:
        value = self.get(name)
        if value is None:
            return default
        if value not in allowed:
            raise _bad(name, f"{value!r} (allowed: {', '.join(sorted(allowed))})")
        return value


def _encode_token(offset: int) -> str:
    """An opaque page token (Alpaca's are base64 too); clients must pass it back unchanged."""
    return base64.urlsafe_b64encode(f"zdte-sim:{offset}".encode()).decode()


def _decode_token(token: str | None) -> int:
    if token is None:
        return 0
    try:
        prefix, _, offset = base64.urlsafe_b64decode(token.encode()).decode().partition(":")
        if prefix != "zdte-sim" or not offset.isdigit():
            raise ValueError(token)
        return int(offset)
    except (ValueError, binascii.Error, UnicodeDecodeError):
        raise _bad("page_token", "not a token this server issued") from None


def _page(items: list, offset: int, limit: int) -> tuple[list, str | None]:
    end = offset + limit
    return items[offset:end], (_encode_token(end) if end < len(items) else None)


# -- routing ---------------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class _Route:
    method: str
    template: str
    pattern: re.Pattern[str]
    handler: str
    mutating: bool


def _route(method: str, template: str, handler: str) -> _Route:
    regex = re.sub(r"\\\{(\w+)\\\}", r"(?P<\1>[^/]+)", re.escape(template))
    mutating = method in ("POST", "DELETE", "PATCH", "PUT") and not template.startswith("/sim/")
    return _Route(method, template, re.compile(regex + r"\Z"), handler, mutating)


ROUTES = (
    _route("GET", "/v2/account", "_account"),
    _route("GET", "/v2/clock", "_clock"),
    _route("GET", "/v2/calendar", "_calendar"),
    _route("GET", "/v2/options/contracts", "_contracts"),
    _route("GET", "/v2/options/contracts/{symbol_or_id}", "_contract"),
    _route("POST", "/v2/orders", "_submit_order"),
    _route("GET", "/v2/orders", "_orders"),
    _route("DELETE", "/v2/orders", "_cancel_all"),
    _route("GET", "/v2/orders:by_client_order_id", "_order_by_client_id"),
    _route("GET", "/v2/orders/{order_id}", "_order"),
    _route("DELETE", "/v2/orders/{order_id}", "_cancel_order"),
    _route("GET", "/v2/positions", "_positions"),
    _route("GET", "/v2/positions/{symbol}", "_position"),
    _route("DELETE", "/v2/positions/{symbol}", "_close_position"),
    _route("GET", "/v2/stocks/bars", "_bars"),
    _route("GET", "/v1beta1/options/snapshots", "_snapshots"),
    _route("GET", "/v1beta1/options/snapshots/{underlying}", "_chain"),
    _route("GET", "/sim/info", "_sim_info"),
    _route("POST", "/sim/advance", "_sim_advance"),
)


@dataclass(slots=True)
class _Request:
    method: str
    path: str
    full_path: str
    query: _Query
    params: dict[str, str]
    body: Any


@dataclass(slots=True)
class _Reply:
    status: int
    body: Any = None
    headers: tuple[tuple[str, str], ...] = ()


# -- HTTP plumbing ---------------------------------------------------------------------------------


class _HTTPServer(ThreadingHTTPServer):
    """Tracks open connections so stop() can cut keep-alive ones that would otherwise outlive it."""

    daemon_threads = True
    block_on_close = False
    allow_reuse_address = True

    def __init__(self, address: tuple[str, int], sim: SimServer) -> None:
        self.sim = sim
        self._conns: set[socket.socket] = set()
        self._conns_lock = threading.Lock()
        super().__init__(address, _Handler)

    def process_request(self, request: Any, client_address: Any) -> None:
        with self._conns_lock:
            self._conns.add(request)
        super().process_request(request, client_address)

    def shutdown_request(self, request: Any) -> None:
        with self._conns_lock:
            self._conns.discard(request)
        super().shutdown_request(request)

    def close_connections(self) -> None:
        with self._conns_lock:
            conns = list(self._conns)
        for conn in conns:
            with contextlib.suppress(OSError):
                conn.shutdown(socket.SHUT_RDWR)


class _Handler(BaseHTTPRequestHandler):
    """One connection; HTTP/1.1 keep-alive like Alpaca's, so a client's pooled connection is reused."""

    protocol_version = "HTTP/1.1"
    server_version = "zdte-sim"
    sys_version = ""
    disable_nagle_algorithm = True
    timeout = 120
    server: _HTTPServer

    def do_GET(self) -> None:  # noqa: N802 - the stdlib's naming
        self.server.sim._serve(self, "GET")

    def do_POST(self) -> None:  # noqa: N802
        self.server.sim._serve(self, "POST")

    def do_DELETE(self) -> None:  # noqa: N802
        self.server.sim._serve(self, "DELETE")

    def do_PATCH(self) -> None:  # noqa: N802
        self.server.sim._serve(self, "PATCH")

    def do_PUT(self) -> None:  # noqa: N802
        self.server.sim._serve(self, "PUT")

    def log_message(self, format: str, *args: Any) -> None:  # noqa: A002 - the stdlib's signature
        """Silent: the server keeps its own request log and counts."""


_NO_BODY = object()
_BAD_BODY = object()


# -- the server ------------------------------------------------------------------------------------


class SimServer:
    """Alpaca's REST API over one SimVenue, on 127.0.0.1, serving in a background thread.

    Every venue and clock access is serialized by one lock: the venue is not thread-safe, and a
    client's view (an order, then the clock) must be of one consistent moment.
    """

    def __init__(
        self,
        venue: SimVenue,
        clock: SimulatedClock,
        *,
        host: str = "127.0.0.1",
        port: int = 0,
        api_key: str,
        secret_key: str,
        fault_rate: float = 0.0,
        seed: int = 0,
        slow_seconds: float = 2.0,
        fault_kinds: Sequence[str] | None = None,
    ) -> None:
        if not 0.0 <= fault_rate <= 1.0:
            raise ValueError(f"fault_rate must be between 0 and 1, got {fault_rate}")
        kinds = tuple(fault_kinds) if fault_kinds is not None else FAULT_KINDS
        unknown = [k for k in kinds if k not in FAULT_KINDS]
        if unknown or not kinds:
            raise ValueError(f"fault_kinds must be a non-empty subset of {FAULT_KINDS}, got {list(kinds)}")
        self.venue = venue
        self.clock = clock
        self.host = host
        self.fault_rate = fault_rate
        """Read on every request, so a test may switch faults off (or on) while the server runs."""
        self.fault_kinds = kinds
        self.slow_seconds = slow_seconds
        self._port = port
        self._api_key = api_key
        self._secret_key = secret_key
        self._rng = random.Random(seed)
        self._lock = threading.Lock()
        self._counts: Counter[str] = Counter()
        self._log: list[dict[str, Any]] = []
        self._meta: dict[str, aj.OrderMeta] = {}
        self._sessions: dict[date, Session | None] = {}
        self._auto_cid = 0
        self._httpd: _HTTPServer | None = None
        self._thread: threading.Thread | None = None

    # -- lifecycle ---------------------------------------------------------------------------------

    def start(self) -> SimServer:
        """Bind and serve in a daemon thread; returns self so `server = SimServer(...).start()` reads well."""
        if self._httpd is not None:
            raise RuntimeError("server already started")
        self._httpd = _HTTPServer((self.host, self._port), self)
        self._thread = threading.Thread(
            target=self._httpd.serve_forever, kwargs={"poll_interval": 0.05}, name="zdte-sim-server", daemon=True
        )
        self._thread.start()
        return self

    def stop(self) -> None:
        """Stop serving and cut open connections (a pooled client connection must not outlive the server)."""
        httpd, self._httpd = self._httpd, None
        if httpd is None:
            return
        httpd.shutdown()
        httpd.server_close()
        httpd.close_connections()
        if self._thread is not None:
            self._thread.join(timeout=5)
            self._thread = None

    def __enter__(self) -> SimServer:
        return self.start() if self._httpd is None else self

    def __exit__(self, *exc: object) -> None:
        self.stop()

    @property
    def url(self) -> str:
        """Base URL for alpaca-py's `url_override` (no trailing slash)."""
        if self._httpd is None:
            raise RuntimeError("server not started")
        host, port = self._httpd.server_address[:2]
        return f"http://{host if isinstance(host, str) else host.decode()}:{port}"

    @property
    def request_counts(self) -> Counter[str]:
        """A copy of the counts by "METHOD /path/template" (every request, answered or not)."""
        with self._lock:
            return Counter(self._counts)

    @property
    def request_log(self) -> list[dict[str, Any]]:
        """A copy of the log: method, path (template), full_path, status (None: dropped), fault, sim_time,
        client_order_id (order posts)."""
        with self._lock:
            return [dict(e) for e in self._log]

    def format_counts(self) -> str:
        """Requests per path and faults per kind, as a table to print at exit."""
        with self._lock:
            counts = Counter(self._counts)
            faults = Counter(e["fault"] for e in self._log if e["fault"])
        width = max((len(k) for k in counts), default=10)
        lines = [f"{'requests':>8}  path", f"{'-' * 8}  {'-' * width}"]
        lines += [f"{n:>8}  {key}" for key, n in sorted(counts.items(), key=lambda kv: (kv[0].split(" ", 1)[1], kv[0]))]
        lines.append(f"{sum(counts.values()):>8}  total")
        if faults:
            lines.append("faults injected: " + ", ".join(f"{k} {n}" for k, n in sorted(faults.items())))
        return "\n".join(lines)

    # -- request handling --------------------------------------------------------------------------

    def _serve(self, handler: _Handler, method: str) -> None:
        split = urlsplit(handler.path)
        path = unquote(split.path)
        body = self._read_body(handler)
        route, params, known = self._match(method, path)
        template = known or "(unknown path)"
        cid = None
        if route is not None and route.handler == "_submit_order" and isinstance(body, dict):
            cid = body.get("client_order_id") if isinstance(body.get("client_order_id"), str) else None
        with self._lock:
            self._counts[f"{method} {template}"] += 1
            sim_time = aj.iso_et(self.clock.now())
        entry: dict[str, Any] = {
            "method": method,
            "path": template,
            "full_path": handler.path,
            "status": None,
            "fault": None,
            "sim_time": sim_time,
            "client_order_id": cid,
        }
        reply = self._answer(handler, method, path, split.query, route, params, known is not None, body, entry)
        entry["status"] = reply.status if reply is not None else None
        with self._lock:
            self._log.append(entry)  # before answering: a client that got its answer finds the entry
        if reply is None:
            handler.close_connection = True
        else:
            self._send(handler, reply)

    def _answer(
        self,
        handler: _Handler,
        method: str,
        path: str,
        query: str,
        route: _Route | None,
        params: dict[str, str],
        known_path: bool,
        body: Any,
        entry: dict[str, Any],
    ) -> _Reply | None:
        """The reply, or None for a dropped connection."""
        public = method == "GET" and path == "/sim/info"  # lets a client tell a simulator apart, even with bad keys
        if not public and not self._authorized(handler):
            return _error_reply(401, 40110000, "request is not authorized")
        if route is None:
            if known_path:
                return _error_reply(405, 40510000, f"method {method} not allowed on {path}")
            return _error_reply(404, 40410000, "endpoint not found")
        fault = self._draw_fault(route)
        entry["fault"] = fault
        if fault == "rate_limit":
            with self._lock:
                reset = math.ceil(self.clock.now().timestamp()) + 1
            headers = (
                ("Retry-After", "1"),
                ("X-RateLimit-Limit", str(RATE_LIMIT_PER_MIN)),
                ("X-RateLimit-Remaining", "0"),
                ("X-RateLimit-Reset", str(reset)),
            )
            return _Reply(429, aj.error(42910000, "rate limit exceeded"), headers)
        if fault == "server_error":
            return _error_reply(500, 50010000, "internal server error")
        if fault == "unavailable":
            return _error_reply(503, 50310000, "service unavailable")
        if fault == "drop":
            return None
        if fault == "slow":
            time.sleep(self.slow_seconds)
        if body is _BAD_BODY:
            return _error_reply(400, 40010000, "request body format is invalid")
        req = _Request(method, path, handler.path, _Query(query), params, None if body is _NO_BODY else body)
        with self._lock:
            reply = self._call(route, req)
        if fault == "server_error_after":
            return _error_reply(500, 50010000, "internal server error")
        if fault == "drop_after":
            return None
        return reply

    def _call(self, route: _Route, req: _Request) -> _Reply:
        """Run one handler (under the lock) and turn every failure into Alpaca's error form."""
        try:
            return getattr(self, route.handler)(req)
        except ApiError as exc:
            return _error_reply(exc.status, exc.code, exc.message)
        except SimOrderRejected as exc:
            return _error_reply(422, 42210000, str(exc))
        except SimError as exc:
            return _error_reply(500, 50010000, f"{type(exc).__name__}: {exc}")
        except Exception as exc:  # noqa: BLE001 - a simulator bug must answer 500, not kill the connection
            return _error_reply(500, 50010000, f"internal simulator error: {type(exc).__name__}: {exc}")

    def _match(self, method: str, path: str) -> tuple[_Route | None, dict[str, str], str | None]:
        """The route, its path parameters, and the template of the path even when the method does not fit
        (so a 405 is counted under its template, never under a raw path full of ids)."""
        template = None
        for route in ROUTES:
            m = route.pattern.match(path)
            if m is None:
                continue
            if route.method == method:
                return route, m.groupdict(), route.template
            template = route.template
        return None, {}, template

    def _authorized(self, handler: _Handler) -> bool:
        key = handler.headers.get("APCA-API-KEY-ID") or ""
        secret = handler.headers.get("APCA-API-SECRET-KEY") or ""
        ok_key = hmac.compare_digest(key.encode(), self._api_key.encode())
        ok_secret = hmac.compare_digest(secret.encode(), self._secret_key.encode())
        return ok_key and ok_secret

    def _draw_fault(self, route: _Route) -> str | None:
        """Seeded: one draw per eligible request decides, a second picks the kind among those that apply."""
        if self.fault_rate <= 0 or route.template.startswith("/sim/"):
            return None
        kinds = [k for k in self.fault_kinds if route.mutating or k not in AFTER_FAULTS]
        with self._lock:
            if self._rng.random() >= self.fault_rate or not kinds:
                return None
            return self._rng.choice(kinds)

    @staticmethod
    def _read_body(handler: _Handler) -> Any:
        """The JSON body, _NO_BODY, or _BAD_BODY; a chunked body is refused (and the connection closed,
        since its unread bytes would be taken for the next request). alpaca-py always sends a length."""
        if "chunked" in (handler.headers.get("Transfer-Encoding") or "").lower():
            handler.close_connection = True
            return _BAD_BODY
        length = handler.headers.get("Content-Length")
        if not length:
            return _NO_BODY
        try:
            raw = handler.rfile.read(int(length))
        except (ValueError, OSError):
            return _BAD_BODY
        if not raw.strip():
            return _NO_BODY
        try:
            return json.loads(raw)
        except (ValueError, UnicodeDecodeError):
            return _BAD_BODY

    @staticmethod
    def _send(handler: _Handler, reply: _Reply) -> None:
        body = b"" if reply.body is None else json.dumps(reply.body, separators=(",", ":")).encode()
        try:
            handler.send_response(reply.status)
            if reply.status != 204:
                handler.send_header("Content-Type", "application/json; charset=UTF-8")
                handler.send_header("Content-Length", str(len(body)))
            for name, value in reply.headers:
                handler.send_header(name, value)
            handler.end_headers()
            if body:
                handler.wfile.write(body)
        except OSError:
            handler.close_connection = True  # the client gave up (e.g. timed out on a slow answer)

    # -- helpers on the venue (called under the lock) ----------------------------------------------

    def _now(self) -> datetime:
        return self.clock.now()

    def _close_of(self, when: datetime) -> datetime | None:
        """The close of the session of `when`'s New York date: when a DAY order expires."""
        session = self._session(when.astimezone(ET).date())
        return session.close if session else None

    def _instrument(self) -> tuple[int, str]:
        return self.venue.instrument.multiplier, self.venue.instrument.exercise

    def _order_json(self, order: Order) -> dict[str, Any]:
        return aj.order_json(order, self._meta.get(order.id) or aj.OrderMeta(), self._close_of(order.submitted_at))

    def _get_order(self, order_id: str) -> Order:
        try:
            return self.venue.get_order(order_id)
        except SimNotFound:
            raise ApiError(*_ORDER_NOT_FOUND) from None

    def _natural(self, legs: Sequence[Leg]) -> float:
        """Net price per unit of the combo at the current quotes (buy at the ask, sell at the bid):
        what a market order is sent at, so it fills at once like a market order."""
        symbols = [leg.symbol for leg in legs]
        try:
            quotes = self.venue.quotes(symbols)
        except SimDataError as exc:
            raise _unprocessable(f"market is closed: no quotes for a market order ({exc})") from None
        total = 0.0
        for leg in legs:
            q = quotes.get(leg.symbol)
            if q is None:
                raise _unprocessable(f"unknown option symbol {leg.symbol} (not listed today)")
            total += (q.ask if leg.side is Side.BUY else -q.bid) * leg.ratio_qty
        return round(total, 2)

    # -- trading API -------------------------------------------------------------------------------

    def _account(self, req: _Request) -> _Reply:
        return _Reply(200, aj.account_json(self.venue.account(), self.venue.positions()))

    def _clock(self, req: _Request) -> _Reply:
        now = self._now()
        day = now.astimezone(ET).date()
        return _Reply(200, aj.clock_json(now, self._session(day), self.venue.next_session(day)))

    def _calendar(self, req: _Request) -> _Reply:
        # The calendar's range less its edges: it refuses days before its first session, and the last session
        # needs a next one for its settlement date.
        cal = self.venue.calendar
        first, last = cal.first_day + timedelta(days=7), cal.last_day - timedelta(days=15)
        start = req.query.day("start") or first
        end = req.query.day("end") or last
        start, end = max(start, first), min(end, last)
        out = []
        day = start
        while day <= end:
            entry = self._calendar_day(day)
            if entry is not None:
                out.append(entry)
            day += timedelta(days=1)
        return _Reply(200, out)

    def _session(self, day: date) -> Session | None:
        """The venue's session of a day, cached: the calendar never changes while the server runs."""
        if day not in self._sessions:
            self._sessions[day] = self.venue.session(day)
        return self._sessions[day]

    def _calendar_day(self, day: date) -> dict[str, Any] | None:
        session = self._session(day)
        if session is None:
            return None
        settlement = day + timedelta(days=1)
        while self._session(settlement) is None:
            settlement += timedelta(days=1)
        return aj.calendar_json(session, settlement)

    def _listed(self, req: _Request) -> list:
        """Today's contracts matching the filters Alpaca's /v2/options/contracts takes."""
        q = req.query
        mk = self.venue.market()
        if mk is None or q.choice("status", ("active", "inactive"), "active") != "active":
            return []
        if q.choice("style", ("american", "european"), "american") != "american":
            return []
        kind = q.choice("type", ("call", "put"), None)
        day = mk.session.day
        if not _expiry_matches(q, day):
            return []
        underlyings = q.items("underlying_symbols") or [self.venue.underlying]
        root = q.get("root_symbol")
        if self.venue.underlying not in underlyings or root not in (None, self.venue.underlying):
            return []
        lo = q.number("strike_price_gte")
        hi = q.number("strike_price_lte")
        listed = self.venue.contracts(
            self.venue.underlying, day, -math.inf if lo is None else lo, math.inf if hi is None else hi
        )
        if kind is not None:
            listed = [c for c in listed if (c.right.value == "C") == (kind == "call")]
        return listed

    def _contracts(self, req: _Request) -> _Reply:
        limit = req.query.integer("limit", 100, 1, 10_000)
        page, token = _page(self._listed(req), _decode_token(req.query.get("page_token")), limit)
        contracts = [aj.contract_json(c, *self._instrument()) for c in page]
        return _Reply(200, {"option_contracts": contracts, "next_page_token": token})

    def _contract(self, req: _Request) -> _Reply:
        key = req.params["symbol_or_id"]
        mk = self.venue.market()
        for c in mk.contracts() if mk is not None else []:
            if key in (c.symbol, aj.asset_id(c.symbol)):
                return _Reply(200, aj.contract_json(c, *self._instrument()))
        raise ApiError(404, 40410000, f"option contract not found: {key}")

    def _submit_order(self, req: _Request) -> _Reply:
        request, meta = self._parse_order(req.body)
        order = self.venue.submit_order(request)
        self._meta[order.id] = meta
        return _Reply(200, self._order_json(order))

    def _parse_order(self, body: Any) -> tuple[OrderRequest, aj.OrderMeta]:
        """Alpaca's order body to the exchange's OrderRequest; what Alpaca would refuse is refused here."""
        if not isinstance(body, dict):
            raise ApiError(400, 40010000, "request body format is invalid")
        legs_raw = body.get("legs")
        order_class = body.get("order_class") or ("mleg" if legs_raw else "simple")
        if order_class not in ("mleg", "simple"):
            raise _unprocessable(f"order_class {order_class!r} is not supported for options (mleg or simple)")
        kind = body.get("type") or body.get("order_type")
        if kind not in ("limit", "market"):
            raise _unprocessable(f"order type {kind!r} is not supported for options (limit or market)")
        if body.get("time_in_force") != "day":
            raise _unprocessable("options orders must have time_in_force day")
        if body.get("extended_hours"):
            raise _unprocessable("extended hours orders are not supported for options")
        if body.get("notional") is not None:
            raise _unprocessable("notional orders are not supported for options")
        qty = _whole(body.get("qty"), "qty")
        cid = body.get("client_order_id")
        if cid is None:
            self._auto_cid += 1
            cid = str(uuid.uuid5(uuid.NAMESPACE_URL, f"zdte-sim-client-order/{self._auto_cid}"))
        if not isinstance(cid, str) or not cid or len(cid) > MAX_CLIENT_ORDER_ID:
            raise _unprocessable(f"client_order_id must be a string of 1 to {MAX_CLIENT_ORDER_ID} characters")
        if order_class == "mleg":
            if body.get("symbol"):
                raise _unprocessable("mleg orders take their symbols in legs, not at the top level")
            if not isinstance(legs_raw, list) or not legs_raw:
                raise _unprocessable("legs is required for the mleg order class")
            legs = [self._parse_leg(raw) for raw in legs_raw]
        else:
            if legs_raw:
                raise _unprocessable("legs are only allowed for the mleg order class")
            legs = [self._parse_leg({**body, "ratio_qty": 1})]
        if kind == "market":
            limit = self._natural(legs)
            display = None
        else:
            limit = _number(body.get("limit_price"), "limit_price")
            display = limit
            if order_class == "simple":
                if limit <= 0:
                    raise _unprocessable("limit_price must be positive for a single-leg option order")
                limit = limit if legs[0].side is Side.BUY else -limit
        meta = aj.OrderMeta(order_class=order_class, type=kind, display_limit=display)
        return OrderRequest(client_order_id=cid, legs=tuple(legs), qty=qty, limit_price=limit), meta

    def _parse_leg(self, raw: Any) -> Leg:
        if not isinstance(raw, dict):
            raise _unprocessable("each leg must be an object with symbol, ratio_qty, side and position_intent")
        symbol = raw.get("symbol")
        if not isinstance(symbol, str):
            raise _unprocessable("symbol is required")
        try:
            parse_occ(symbol)
        except ValueError:
            raise _unprocessable(f"asset {symbol} is not an option contract the simulator lists") from None
        ratio = _whole(raw.get("ratio_qty", 1), "ratio_qty")
        side = _enum(Side, raw.get("side"), "side")
        intent = _enum(Intent, raw.get("position_intent"), "position_intent")
        if side is None and intent is None:
            raise _unprocessable(f"side or position_intent is required ({symbol})")
        if side is None:
            side = _INTENT_SIDE[intent]
        if intent is None:
            held = next((p.qty for p in self.venue.positions() if p.symbol == symbol), 0)
            if side is Side.BUY:
                intent = Intent.BUY_TO_CLOSE if held < 0 else Intent.BUY_TO_OPEN
            else:
                intent = Intent.SELL_TO_CLOSE if held > 0 else Intent.SELL_TO_OPEN
        return Leg(symbol=symbol, side=side, intent=intent, ratio_qty=ratio)

    def _orders(self, req: _Request) -> _Reply:
        q = req.query
        status = q.choice("status", ("open", "closed", "all"), "open")
        limit = q.integer("limit", 50, 1, 500)
        direction = q.choice("direction", ("asc", "desc"), "desc")
        after, until = q.moment("after"), q.moment("until")
        symbols = set(q.items("symbols"))
        side = q.choice("side", ("buy", "sell"), None)
        orders = self.venue.all_orders()
        if status != "all":
            orders = [o for o in orders if o.status.is_open == (status == "open")]
        if after is not None:
            orders = [o for o in orders if o.submitted_at > after]
        if until is not None:
            orders = [o for o in orders if o.submitted_at < until]
        if symbols:
            orders = [o for o in orders if symbols & {leg.symbol for leg in o.legs}]
        if side is not None:
            orders = [o for o in orders if len(o.legs) == 1 and o.legs[0].side.value == side]
        if direction == "desc":
            orders = orders[::-1]
        return _Reply(200, [self._order_json(o) for o in orders[:limit]])

    def _order(self, req: _Request) -> _Reply:
        return _Reply(200, self._order_json(self._get_order(req.params["order_id"])))

    def _order_by_client_id(self, req: _Request) -> _Reply:
        cid = req.query.get("client_order_id")
        if cid is None:
            raise _bad("client_order_id", "required")
        order = self.venue.order_by_client_id(cid)
        if order is None:
            raise ApiError(*_ORDER_NOT_FOUND)
        return _Reply(200, self._order_json(order))

    def _cancel(self, order_id: str) -> None:
        order = self._get_order(order_id)
        if not order.status.is_open and order.status is not OrderStatus.CANCELED:
            raise _unprocessable(f'order is already in "{order.status.value}" state')
        self.venue.cancel_order(order_id)
        meta = self._meta.setdefault(order_id, aj.OrderMeta())
        if meta.canceled_at is None:
            meta.canceled_at = self._now()

    def _cancel_order(self, req: _Request) -> _Reply:
        self._cancel(req.params["order_id"])
        return _Reply(204)

    def _cancel_all(self, req: _Request) -> _Reply:
        out = []
        for order in self.venue.open_orders():
            try:
                self._cancel(order.id)
                out.append({"id": order.id, "status": 200})
            except (ApiError, SimOrderRejected) as exc:
                out.append({"id": order.id, "status": 422, "body": aj.error(42210000, str(exc))})
        return _Reply(207, out)

    def _positions_with_available(self) -> list[dict[str, Any]]:
        reserved: Counter[str] = Counter()
        for order in self.venue.open_orders():
            for leg in order.legs:
                if leg.intent in (Intent.BUY_TO_CLOSE, Intent.SELL_TO_CLOSE):
                    reserved[leg.symbol] += leg.ratio_qty * (order.qty - order.filled_qty)
        out = []
        for p in self.venue.positions():
            available = max(abs(p.qty) - reserved[p.symbol], 0)
            out.append(aj.position_json(p, available if p.qty > 0 else -available, self.venue.instrument.multiplier))
        return out

    def _positions(self, req: _Request) -> _Reply:
        return _Reply(200, self._positions_with_available())

    def _position(self, req: _Request) -> _Reply:
        symbol = req.params["symbol"]
        for p in self._positions_with_available():
            if symbol in (p["symbol"], p["asset_id"]):
                return _Reply(200, p)
        raise ApiError(404, 40410000, "position does not exist")

    def _close_position(self, req: _Request) -> _Reply:
        """One leg closed by a market order (Alpaca's DELETE /v2/positions/{symbol}). The engine never
        does this (a spread is closed as one mleg order), but a user poking at the API may."""
        symbol = req.params["symbol"]
        held = next((p.qty for p in self.venue.positions() if symbol in (p.symbol, aj.asset_id(p.symbol))), None)
        if held is None:
            raise ApiError(404, 40410000, "position does not exist")
        symbol = next(p.symbol for p in self.venue.positions() if symbol in (p.symbol, aj.asset_id(p.symbol)))
        qty_text, pct = req.query.get("qty"), req.query.number("percentage")
        if qty_text is not None:
            qty = _whole(qty_text, "qty")
        elif pct is not None:
            if not 0 < pct <= 100:
                raise _bad("percentage", "must be in (0, 100]")
            qty = math.floor(abs(held) * pct / 100)
        else:
            qty = abs(held)
        if not 1 <= qty <= abs(held):
            raise ApiError(
                403, 40310000, f"insufficient qty available for order (requested: {qty}, available: {abs(held)})"
            )
        side = Side.SELL if held > 0 else Side.BUY
        leg = Leg(symbol=symbol, side=side, intent=aj.closing_intent(held), ratio_qty=1)
        self._auto_cid += 1
        cid = str(uuid.uuid5(uuid.NAMESPACE_URL, f"zdte-sim-client-order/{self._auto_cid}"))
        request = OrderRequest(client_order_id=cid, legs=(leg,), qty=qty, limit_price=self._natural([leg]))
        order = self.venue.submit_order(request)
        self._meta[order.id] = aj.OrderMeta(order_class="simple", type="market")
        return _Reply(200, self._order_json(order))

    # -- market data API ---------------------------------------------------------------------------

    def _bars(self, req: _Request) -> _Reply:
        q = req.query
        symbols = sorted(set(q.items("symbols")))
        if not symbols:
            raise _bad("symbols", "required")
        if q.get("timeframe") not in _TIMEFRAMES:
            raise _bad("timeframe", f"{q.get('timeframe')!r}: the simulator serves 1Min bars only")
        q.choice("feed", _FEEDS, "sip")
        limit = q.integer("limit", 1000, 1, 10_000)
        descending = q.choice("sort", ("asc", "desc"), "asc") == "desc"
        now = self._now()
        start = q.moment("start") or datetime.combine(now.astimezone(ET).date(), dtime(0), tzinfo=ET)
        end = q.moment("end", end=True) or now
        rows: list[tuple[str, dict[str, Any]]] = []
        for symbol in symbols:
            try:
                bars = self.venue.bars(symbol, start, end)
            except SimDataError:
                continue  # Alpaca leaves symbols without bars out
            cols = (bars.ts.tolist(), bars.open.tolist(), bars.high.tolist(), bars.low.tolist())
            one = [aj.bar_json(*r) for r in zip(*cols, bars.close.tolist(), bars.volume.tolist(), strict=True)]
            rows.extend((symbol, b) for b in (one[::-1] if descending else one))
        page, token = _page(rows, _decode_token(q.get("page_token")), limit)
        out: dict[str, list[dict[str, Any]]] = {}
        for symbol, bar in page:
            out.setdefault(symbol, []).append(bar)
        return _Reply(200, {"bars": out, "next_page_token": token})

    def _snapshot_map(self, quotes: list) -> dict[str, Any]:
        mk = self.venue.market()
        ordered = sorted(quotes, key=lambda x: x.symbol)
        if mk is None:
            return {qt.symbol: aj.snapshot_json(qt, None) for qt in ordered}
        listed = [(qt, mk.contract(qt.symbol)) for qt in ordered]
        rows = [(qt, c, mk.spot(qt.ts)) for qt, c in listed if c is not None]
        computed = aj.greeks(rows, mk.session.close, self.venue.cfg.rate)
        found = {qt.symbol: g for (qt, _, _), g in zip(rows, computed, strict=True)}
        return {qt.symbol: aj.snapshot_json(qt, found.get(qt.symbol)) for qt in ordered}

    def _chain(self, req: _Request) -> _Reply:
        """The chain of today's expiry; empty outside regular hours, when the simulator has no live quotes."""
        q = req.query
        q.choice("feed", _OPTION_FEEDS, "indicative")
        limit = q.integer("limit", 100, 1, 1000)
        kind = q.choice("type", ("call", "put"), None)
        mk = self.venue.market()
        quotes = []
        root = q.get("root_symbol")
        underlying = req.params["underlying"]
        if mk is not None and underlying == self.venue.underlying and root in (None, underlying):
            day = mk.session.day
            lo, hi = q.number("strike_price_gte"), q.number("strike_price_lte")
            if _expiry_matches(q, day):
                try:
                    quotes = self.venue.chain(
                        underlying, day, -math.inf if lo is None else lo, math.inf if hi is None else hi
                    )
                except SimDataError:
                    quotes = []
        if kind is not None:
            quotes = [x for x in quotes if (parse_occ(x.symbol).right.value == "C") == (kind == "call")]
        quotes.sort(key=lambda x: x.symbol)
        page, token = _page(quotes, _decode_token(q.get("page_token")), limit)
        return _Reply(200, {"snapshots": self._snapshot_map(page), "next_page_token": token})

    def _snapshots(self, req: _Request) -> _Reply:
        """Snapshots of listed symbols; unknown ones are left out, as Alpaca leaves them out."""
        q = req.query
        symbols = q.items("symbols")
        if not symbols:
            raise _bad("symbols", "required")
        q.choice("feed", _OPTION_FEEDS, "indicative")
        limit = q.integer("limit", 100, 1, 1000)
        try:
            quotes = list(self.venue.quotes(symbols).values())
        except SimDataError:
            quotes = []
        quotes.sort(key=lambda x: x.symbol)
        page, token = _page(quotes, _decode_token(q.get("page_token")), limit)
        return _Reply(200, {"snapshots": self._snapshot_map(page), "next_page_token": token})

    # -- simulator control -------------------------------------------------------------------------

    def _sim_info(self, req: _Request) -> _Reply:
        now = self._now()
        day = now.astimezone(ET).date()
        session = self.venue.session(day)
        return _Reply(
            200,
            {
                "simulator": True,
                "now": aj.iso_et(now),
                "session_date": day.isoformat() if session else None,
                "is_open": bool(session and session.open <= now < session.close),
                "underlying": self.venue.underlying,
            },
        )

    def _sim_advance(self, req: _Request) -> _Reply:
        """Move simulated time forward: {"seconds": s} or {"until": RFC 3339}; never backwards."""
        body = req.body
        if not isinstance(body, dict) or ("seconds" in body) == ("until" in body):
            raise ApiError(400, 40010000, 'body must be {"seconds": number} or {"until": "RFC 3339 time"}')
        if "seconds" in body:
            seconds = _number(body["seconds"], "seconds")
            if seconds < 0:
                raise _unprocessable("seconds must not be negative: simulated time never goes back")
            self.clock.sleep(seconds)
        else:
            try:
                until = datetime.fromisoformat(str(body["until"]))
            except ValueError:
                raise _bad("until", f"not an RFC 3339 time: {body['until']!r}") from None
            if until.tzinfo is None:
                raise _bad("until", "needs a UTC offset")
            self.clock.set(until)
        return _Reply(200, {"now": aj.iso_et(self._now())})


# -- small parsers -----------------------------------------------------------------------------------


def _error_reply(status: int, code: int, message: str) -> _Reply:
    return _Reply(status, aj.error(code, message))


def _number(value: Any, name: str) -> float:
    """A JSON number or a numeric string (Alpaca's docs send strings, alpaca-py sends numbers)."""
    if isinstance(value, bool) or value is None:
        raise _unprocessable(f"{name} is required and must be a number")
    try:
        out = float(value)
    except (TypeError, ValueError):
        raise _unprocessable(f"{name} must be a number, got {value!r}") from None
    if not math.isfinite(out):
        raise _unprocessable(f"{name} must be finite, got {value!r}")
    return out


def _whole(value: Any, name: str) -> int:
    out = _number(value, name)
    if out != int(out) or out < 1:
        raise _unprocessable(f"{name} must be a whole number of at least 1 for options, got {value!r}")
    return int(out)


def _enum(kind: type[StrEnum], value: Any, name: str) -> Any:
    if value in (None, ""):
        return None
    try:
        return kind(value)
    except ValueError:
        allowed = ", ".join(m.value for m in kind)
        raise _unprocessable(f"invalid {name} {value!r} (allowed: {allowed})") from None


def _expiry_matches(q: _Query, day: date) -> bool:
    exact, gte, lte = q.day("expiration_date"), q.day("expiration_date_gte"), q.day("expiration_date_lte")
    return (exact is None or exact == day) and (gte is None or gte <= day) and (lte is None or day <= lte)
