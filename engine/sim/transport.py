"""serve-sim's transport: the simulated Alpaca API (engine/sim/alpaca_api.py) over HTTP on 127.0.0.1.

Faults can be injected on purpose (seeded, so a failing run can be repeated): rate limits, server
errors, unavailability, slow answers and dropped connections, including the nasty one where an order
is accepted by the exchange but the answer is lost, which doubles orders in clients that resend blindly.
They live here, around the API and not in it, because they are what a network and a busy venue do to a
request, not what Alpaca answers.

With `streams=True` it also serves Alpaca's websocket streams (engine/sim/stream_server.py, on a port of their
own): after every request that can change something (any but a GET: an order, a cancel, a clock advance), it
publishes what happened since the previous one (engine/sim/stream_feed.py), so the streams follow the clock.
"""

from __future__ import annotations

import contextlib
import email.utils
import json
import math
import random
import socket
import threading
import time
from collections import Counter
from collections.abc import Sequence
from datetime import UTC, datetime
from http import HTTPStatus
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any, cast
from urllib.parse import unquote, urlsplit

from loguru import logger

from engine.sim import alpaca_json as aj
from engine.sim.alpaca_api import AlpacaApi, Match, Route, decode_body
from engine.sim.api_call import Reply, Request, error_reply
from engine.sim.params import SimulatedClock
from engine.sim.request_head import PLAIN_REQUEST_LINE, HeadersTooLarge, read_headers
from engine.sim.stream_feed import StreamFeed
from engine.sim.stream_server import StreamServer
from engine.sim.venue import SimVenue

DEFAULT_API_KEY = "zdte-sim-key"
DEFAULT_SECRET_KEY = "zdte-sim-secret"
FAULT_KINDS = ("rate_limit", "server_error", "unavailable", "slow", "drop", "server_error_after", "drop_after")
"""Before the request is processed: 429, 500, 503, a slow answer, a dropped connection. After it is
processed (mutating requests only, e.g. an order the exchange accepted): a 500 or a dropped connection."""
AFTER_FAULTS = frozenset({"server_error_after", "drop_after"})
RATE_LIMIT_PER_MIN = 200


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
    raw_requestline: bytes

    def parse_request(self) -> bool:
        """The standard library's, but a plain request's head is read by engine/sim/request_head.py (the
        stdlib's email parser cost more than the answer); any other is left to the standard library."""
        if not PLAIN_REQUEST_LINE.fullmatch(self.raw_requestline):
            return super().parse_request()
        self.requestline = str(self.raw_requestline, "iso-8859-1").rstrip("\r\n")
        self.command, self.path, self.request_version = self.requestline.split(" ")
        try:
            self.headers = cast(Any, read_headers(self.rfile))
        except HeadersTooLarge as exc:
            self.close_connection = True
            self.send_error(HTTPStatus.REQUEST_HEADER_FIELDS_TOO_LARGE, str(exc))
            return False
        connection = (self.headers.get("Connection") or "").lower()
        http_1_0 = self.request_version == "HTTP/1.0"
        self.close_connection = connection == "close" or (http_1_0 and connection != "keep-alive")
        expect = (self.headers.get("Expect") or "").lower()
        if expect == "100-continue" and not http_1_0:
            return self.handle_expect_100()
        return True

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
        live_account: bool = False,
        streams: bool = False,
        stream_port: int = 0,
    ) -> None:
        """`live_account`: pose as a live Alpaca account (its number without the paper "PA"), only so that a test
        can prove the engine refuses one behind a loopback URL; serve-sim itself always answers as paper."""
        if not 0.0 <= fault_rate <= 1.0:
            raise ValueError(f"fault_rate must be between 0 and 1, got {fault_rate}")
        kinds = tuple(fault_kinds) if fault_kinds is not None else FAULT_KINDS
        unknown = [k for k in kinds if k not in FAULT_KINDS]
        if unknown or not kinds:
            raise ValueError(f"fault_kinds must be a non-empty subset of {FAULT_KINDS}, got {list(kinds)}")
        self.venue = venue
        self.clock = clock
        self.api = AlpacaApi(venue, clock, api_key=api_key, secret_key=secret_key, live_account=live_account)
        self.host = host
        self.fault_rate = fault_rate
        """Read on every request, so a test may switch faults off (or on) while the server runs."""
        self.fault_kinds = kinds
        self.slow_seconds = slow_seconds
        self._port = port
        self._rng = random.Random(seed)
        self._lock = threading.Lock()
        self._counts: Counter[str] = Counter()
        self._log: list[dict[str, Any]] = []
        self._httpd: _HTTPServer | None = None
        self._thread: threading.Thread | None = None
        self.streams = (
            StreamServer(api_key=api_key, secret_key=secret_key, host=host, port=stream_port) if streams else None
        )
        """The websocket streams (None unless asked for): their URLs, and their faults for a test to inject."""
        self._feed: StreamFeed | None = None

    # -- lifecycle ---------------------------------------------------------------------------------

    def start(self) -> SimServer:
        """Bind and serve in a daemon thread; returns self so `server = SimServer(...).start()` reads well."""
        if self._httpd is not None:
            raise RuntimeError("server already started")
        self._httpd = _HTTPServer((self.host, self._port), self)
        if self.streams is not None:
            try:
                self.streams.start()
            except OSError:
                self._httpd.server_close()
                self._httpd = None
                raise
            with self._lock:
                self._feed = StreamFeed(self.venue, self.clock, self.api.trading.order_json)
            self.api.stream_urls = self.streams.urls
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
        if self.streams is not None:
            self.streams.stop()

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
        """A copy of the log: method, path (template), full_path, status (None: dropped), fault, sim_time (the
        clock as the request arrived), wall (perf_counter then, for latency benchmarks), client_order_id (order
        posts)."""
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
        body = decode_body(self._read_body(handler))
        match = self.api.match(method, unquote(split.path))
        template = match.template or "(unknown path)"
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
            "wall": time.perf_counter(),
            "client_order_id": self.api.client_order_id(match, body),
        }
        reply = self._answer(handler, match, split.query, body, entry)
        entry["status"] = reply.status if reply is not None else None
        with self._lock:
            self._log.append(entry)  # before answering: a client that got its answer finds the entry
        if reply is None:
            handler.close_connection = True
        else:
            self._send(handler, reply)

    def _answer(self, handler: _Handler, match: Match, query: str, body: Any, entry: dict[str, Any]) -> Reply | None:
        """The reply, or None for a dropped connection."""
        route = self.api.admit(match, handler.headers)
        if isinstance(route, Reply):
            return route
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
            return Reply(429, aj.error(42910000, "rate limit exceeded"), headers)
        if fault == "server_error":
            return error_reply(500, 50010000, "internal server error")
        if fault == "unavailable":
            return error_reply(503, 50310000, "service unavailable")
        if fault == "drop":
            return None
        if fault == "slow":
            time.sleep(self.slow_seconds)
        req = self.api.request(match, query, body)
        if isinstance(req, Reply):
            return req
        with self._lock:
            advance = route.template == "/sim/advance" and self.streams is not None
            if advance and isinstance(req.body, dict) and req.body.get("until_event") is True:
                reply = self._advance_to_event(route, req)
            else:
                reply = self.api.dispatch(route, req)
                if route.method != "GET":
                    self._publish()  # even when the answer is then lost: the stream tells what the exchange did
            if advance and reply.status == 200 and isinstance(reply.body, dict) and self.streams is not None:
                reply.body["streams"] = self.streams.published()
        if fault == "server_error_after":
            return error_reply(500, 50010000, "internal server error")
        if fault == "drop_after":
            return None
        return reply

    def _publish(self) -> int:
        """What happened since the last request, to the streams (how many messages went out); called under the
        lock, as it reads the venue. A failure here is a simulator bug, logged: the request it follows has been
        carried out and is answered."""
        if self._feed is None or self.streams is None:
            return 0
        try:
            events = self._feed.catch_up(self.streams.wanted())
        except Exception:  # noqa: BLE001 - see the docstring
            logger.exception("streams: publishing failed")
            return 0
        return self.streams.publish(events)

    def _advance_to_event(self, route: Route, req: Request) -> Reply:
        """{"until": T, "until_event": true}: a streamed client's sleep, which an event cuts short. The clock
        moves a minute boundary at a time (the simulated market changes only there: bars end, quotes and fills
        happen) and stops at the first that publishes something, or at T. Called under the lock."""
        try:
            target = datetime.fromisoformat(str(req.body["until"]))
        except (KeyError, ValueError):
            target = None
        if target is None or target.tzinfo is None:
            return self.api.dispatch(route, req)  # the plain advance's own 400 names what is wrong
        while True:
            now = self.clock.now()
            step = min(target, datetime.fromtimestamp((math.floor(now.timestamp() / 60) + 1) * 60, tz=UTC))
            reply = self.api.dispatch(route, Request(req.query, req.params, {"until": step.isoformat()}))
            if reply.status != 200 or self._publish() or step >= target or self.clock.now() >= target:
                return reply

    def _draw_fault(self, route: Route) -> str | None:
        """Seeded: one draw per eligible request decides, a second picks the kind among those that apply."""
        if self.fault_rate <= 0 or route.template.startswith("/sim/"):
            return None
        kinds = [k for k in self.fault_kinds if route.mutating or k not in AFTER_FAULTS]
        with self._lock:
            if self._rng.random() >= self.fault_rate or not kinds:
                return None
            return self._rng.choice(kinds)

    @staticmethod
    def _read_body(handler: _Handler) -> bytes | None:
        """The body's bytes, or None when it cannot be read; a chunked body is refused (and the connection
        closed, since its unread bytes would be taken for the next request). alpaca-py always sends a length."""
        if "chunked" in (handler.headers.get("Transfer-Encoding") or "").lower():
            handler.close_connection = True
            return None
        length = handler.headers.get("Content-Length")
        if not length:
            return b""
        try:
            return handler.rfile.read(int(length))
        except (ValueError, OSError):
            return None

    @staticmethod
    def _send(handler: _Handler, reply: Reply) -> None:
        """The status line, headers and body in one write. The standard library's send_response, send_header and
        end_headers write the head and then the body, two sends each waking the client (a thread of the same
        process, in a loopback day) before its answer is whole; the head is the same, Server and Date first."""
        body = b"" if reply.body is None else SimServer._json(reply.body)
        if handler.request_version == "HTTP/0.9":  # no status line nor headers: the standard library's way
            SimServer._send_stdlib(handler, reply, body)
            return
        phrase = handler.responses[reply.status][0] if reply.status in handler.responses else ""
        head = [
            f"{handler.protocol_version} {reply.status} {phrase}",
            f"Server: {handler.version_string()}",
            f"Date: {_http_date()}",
        ]
        if reply.status != 204:
            head += ("Content-Type: application/json; charset=UTF-8", f"Content-Length: {len(body)}")
        for name, value in reply.headers:
            head.append(f"{name}: {value}")
            if name.lower() == "connection":  # as send_header reads it
                if value.lower() == "close":
                    handler.close_connection = True
                elif value.lower() == "keep-alive":
                    handler.close_connection = False
        head += ("", "")
        try:
            handler.wfile.write("\r\n".join(head).encode("latin-1", "strict") + body)
        except OSError:
            handler.close_connection = True  # the client gave up (e.g. timed out on a slow answer)

    @staticmethod
    def _json(body: Any) -> bytes:
        return json.dumps(body, separators=(",", ":")).encode()

    @staticmethod
    def _send_stdlib(handler: _Handler, reply: Reply, body: bytes) -> None:
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
            handler.close_connection = True


_date: tuple[int, str] = (0, "")


def _http_date() -> str:
    """The Date header's value, as BaseHTTPRequestHandler.date_time_string gives it, formatted once a second (the
    email package's formatdate cost a loopback answer more than its JSON)."""
    global _date
    now = time.time()
    second, text = _date
    if int(now) != second:
        text = email.utils.formatdate(now, usegmt=True)
        _date = (int(now), text)
    return text
