"""Alpaca's REST API over the simulator, without a socket: a request in, a reply out.

The real alpaca-py clients, pointed at serve-sim with `url_override`, run unchanged against the simulator:
the same paths, query parameters, JSON shapes and error bodies as Alpaca's trading and market data APIs,
so the `alpaca` adapter (timeouts, retries, idempotent order submission) is exercised end to end without
an account or a network. Time is the simulator's: a client advances it with POST /sim/advance instead of
sleeping, so a whole simulated day over HTTP takes seconds.

No sockets, threads or faults here (engine/sim/transport.py has those), so every answer the API can give
is reachable from a plain function call. Not thread-safe: whoever serves it serializes the calls.
"""

from __future__ import annotations

import hmac
import json
import re
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Protocol

from engine.sim import alpaca_json as aj
from engine.sim.api_call import Reply, Request, error_reply
from engine.sim.errors import SimError, SimOrderRejected
from engine.sim.market_data_api import MarketDataApi
from engine.sim.params import NEW_YORK as ET
from engine.sim.params import SimulatedClock
from engine.sim.query import ApiError, Query, bad, number, unprocessable
from engine.sim.trading_api import TradingApi
from engine.sim.venue import SimVenue

Handler = Callable[[Request], Reply]
BAD_BODY: Any = object()
"""A body that is not JSON (or could not be read at all): answered 400, but only once routing, auth and
faults have had their turn, as Alpaca reads the body last."""


class Headers(Protocol):
    """Request headers: a dict, or the stdlib's parsed HTTP headers."""

    def items(self) -> Iterable[tuple[str, str]]: ...


@dataclass(frozen=True, slots=True)
class Route:
    method: str
    template: str
    pattern: re.Pattern[str]
    handler: Handler
    mutating: bool
    """Changes the venue: only such a request can be accepted and then have its answer lost."""


def _route(method: str, template: str, handler: Handler) -> Route:
    regex = re.sub(r"\\\{(\w+)\\\}", r"(?P<\1>[^/]+)", re.escape(template))
    mutating = method in ("POST", "DELETE", "PATCH", "PUT") and not template.startswith("/sim/")
    return Route(method, template, re.compile(regex + r"\Z"), handler, mutating)


@dataclass(frozen=True, slots=True)
class Match:
    """A path matched against the routes: the route (None: no route for this method) and its path parameters,
    and the template of the path even when the method does not fit, so a 405 is counted under its template,
    never under a raw path full of ids."""

    method: str
    path: str
    route: Route | None
    params: dict[str, str]
    template: str | None


def decode_body(raw: bytes | None) -> Any:
    """The JSON value of a body (None: no body), or BAD_BODY; `raw` None is a body that could not be read."""
    if raw is None:
        return BAD_BODY
    if not raw.strip():
        return None
    try:
        return json.loads(raw)
    except (ValueError, UnicodeDecodeError):
        return BAD_BODY


def _header(headers: Headers, name: str) -> str:
    """The first value of a header, case-insensitively, as HTTP reads header names; "" when absent."""
    wanted = name.lower()
    return next((value for key, value in headers.items() if key.lower() == wanted), "")


class AlpacaApi:
    """Alpaca's trading and market data APIs, and serve-sim's own /sim/* control, over one SimVenue."""

    def __init__(
        self, venue: SimVenue, clock: SimulatedClock, *, api_key: str, secret_key: str, live_account: bool = False
    ) -> None:
        """`live_account`: answer GET /v2/account as a live account would (tests of the engine's refusal only)."""
        self.venue = venue
        self.clock = clock
        self._api_key = api_key
        self._secret_key = secret_key
        self.stream_urls: dict[str, str] | None = None
        """Where the websocket streams serve, when the transport serves them: /sim/info tells a client."""
        self.trading = TradingApi(venue, clock, live_account)
        market = MarketDataApi(venue, clock)
        t = self.trading
        self.routes: tuple[Route, ...] = (
            _route("GET", "/v2/account", t.get_account),
            _route("GET", "/v2/clock", t.get_clock),
            _route("GET", "/v2/calendar", t.get_calendar),
            _route("GET", "/v2/options/contracts", t.list_contracts),
            _route("GET", "/v2/options/contracts/{symbol_or_id}", t.get_contract),
            _route("POST", "/v2/orders", t.submit_order),
            _route("GET", "/v2/orders", t.list_orders),
            _route("DELETE", "/v2/orders", t.cancel_all),
            _route("GET", "/v2/orders:by_client_order_id", t.order_by_client_id),
            _route("GET", "/v2/orders/{order_id}", t.get_order),
            _route("DELETE", "/v2/orders/{order_id}", t.cancel_order),
            _route("GET", "/v2/positions", t.list_positions),
            _route("GET", "/v2/positions/{symbol}", t.get_position),
            _route("DELETE", "/v2/positions/{symbol}", t.close_position),
            _route("GET", "/v2/stocks/bars", market.bars),
            _route("GET", "/v1beta1/options/snapshots", market.snapshots),
            _route("GET", "/v1beta1/options/snapshots/{underlying}", market.chain),
            _route("GET", "/sim/info", self._sim_info),
            _route("POST", "/sim/advance", self._sim_advance),
        )

    def handle(self, method: str, path: str, query: str, headers: Headers, body: bytes | None = b"") -> Reply:
        """One request answered whole: `path` decoded, without its query; `body` None could not be read."""
        match = self.match(method, path)
        admitted = self.admit(match, headers)
        if isinstance(admitted, Reply):
            return admitted
        req = self.request(match, query, decode_body(body))
        return req if isinstance(req, Reply) else self.dispatch(admitted, req)

    # -- the steps of handle, for a transport that acts between them (counts, faults) --------------------

    def match(self, method: str, path: str) -> Match:
        template = None
        for route in self.routes:
            m = route.pattern.match(path)
            if m is None:
                continue
            if route.method == method:
                return Match(method, path, route, m.groupdict(), route.template)
            template = route.template
        return Match(method, path, None, {}, template)

    def admit(self, match: Match, headers: Headers) -> Route | Reply:
        """The route to run, or the refusal that comes before anything else: 401, 405 or 404."""
        public = match.method == "GET" and match.path == "/sim/info"  # tells a simulator apart, even with bad keys
        if not public and not self._authorized(headers):
            return error_reply(401, 40110000, "request is not authorized")
        if match.route is not None:
            return match.route
        if match.template is not None:
            return error_reply(405, 40510000, f"method {match.method} not allowed on {match.path}")
        return error_reply(404, 40410000, "endpoint not found")

    def request(self, match: Match, query: str, body: Any) -> Request | Reply:
        """What the handler reads, or the 400 of a body that is not JSON."""
        if body is BAD_BODY:
            return error_reply(400, 40010000, "request body format is invalid")
        return Request(Query(query), match.params, body)

    def dispatch(self, route: Route, req: Request) -> Reply:
        """Run one handler and turn every failure into Alpaca's error form."""
        try:
            return route.handler(req)
        except ApiError as exc:
            return error_reply(exc.status, exc.code, exc.message)
        except SimOrderRejected as exc:  # 403 for what the account may not do now, 422 for what is not valid
            return error_reply(exc.status, exc.status * 100000 + 10000, str(exc))
        except SimError as exc:
            return error_reply(500, 50010000, f"{type(exc).__name__}: {exc}")
        except Exception as exc:  # noqa: BLE001 - a simulator bug must answer 500, not kill the connection
            return error_reply(500, 50010000, f"internal simulator error: {type(exc).__name__}: {exc}")

    def client_order_id(self, match: Match, body: Any) -> str | None:
        """The client order id an order post carries: a request log names the order by it, answered or not."""
        if match.route is None or match.route.handler != self.trading.submit_order or not isinstance(body, dict):
            return None
        cid = body.get("client_order_id")
        return cid if isinstance(cid, str) else None

    def _authorized(self, headers: Headers) -> bool:
        key = _header(headers, "APCA-API-KEY-ID")
        secret = _header(headers, "APCA-API-SECRET-KEY")
        ok_key = hmac.compare_digest(key.encode(), self._api_key.encode())
        ok_secret = hmac.compare_digest(secret.encode(), self._secret_key.encode())
        return ok_key and ok_secret

    # -- simulator control ---------------------------------------------------------------------------

    def _sim_info(self, req: Request) -> Reply:
        now = self.clock.now()
        day = now.astimezone(ET).date()
        session = self.venue.session(day)
        return Reply(
            200,
            {
                "simulator": True,
                "now": aj.iso_et(now),
                "session_date": day.isoformat() if session else None,
                "is_open": bool(session and session.open <= now < session.close),
                "underlying": self.venue.underlying,
                "streams": self.stream_urls,
            },
        )

    def _sim_advance(self, req: Request) -> Reply:
        """Move simulated time forward: {"seconds": s} or {"until": RFC 3339}; never backwards."""
        body = req.body
        if not isinstance(body, dict) or ("seconds" in body) == ("until" in body):
            raise ApiError(400, 40010000, 'body must be {"seconds": number} or {"until": "RFC 3339 time"}')
        if "seconds" in body:
            seconds = number(body["seconds"], "seconds")
            if seconds < 0:
                raise unprocessable("seconds must not be negative: simulated time never goes back")
            self.clock.sleep(seconds)
        else:
            try:
                until = datetime.fromisoformat(str(body["until"]))
            except ValueError:
                raise bad("until", f"not an RFC 3339 time: {body['until']!r}") from None
            if until.tzinfo is None:
                raise bad("until", "needs a UTC offset")
            self.clock.set(until)
        return Reply(200, {"now": aj.iso_et(self.clock.now())})
