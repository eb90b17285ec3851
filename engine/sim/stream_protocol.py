"""What one stream connection is told in answer to what it says, without a socket: Alpaca's handshake,
authentication and subscriptions, for the data streams and the trading stream.

Apart from the server (stream_server.py) so every answer, each error code included, can be reached from a
plain call; the server only carries frames, holds the connection slots and applies the faults.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from engine.sim import stream_wire as wire

STOCK_CHANNELS = ("trades", "quotes", "bars", "updatedBars", "dailyBars", "statuses", "lulds")
OPTION_CHANNELS = ("trades", "quotes")
"""Alpaca's option stream has no bars."""
TRADE_UPDATES = "trade_updates"

KeyCheck = Callable[[str, str], bool]


@dataclass(frozen=True, slots=True)
class Endpoint:
    """One stream path: which feed it carries and the channels a client may subscribe to there."""

    path: str
    feed: str
    """"stocks", "options" or "trading"."""
    channels: tuple[str, ...]


ENDPOINTS = {
    e.path: e
    for e in (
        Endpoint("/v2/iex", "stocks", STOCK_CHANNELS),
        Endpoint("/v2/sip", "stocks", STOCK_CHANNELS),
        Endpoint("/v1beta1/indicative", "options", OPTION_CHANNELS),
        Endpoint("/v1beta1/opra", "options", OPTION_CHANNELS),
        Endpoint("/stream", "trading", ()),
    )
}
FEED_NAMES = {"/v2/iex": "iex", "/v2/sip": "sip", "/v1beta1/indicative": "indicative", "/v1beta1/opra": "opra"}
"""The names /sim/info lists the data streams under: alpaca-py's feed names."""


@dataclass(slots=True)
class Step:
    """The answer to one message: the messages to send, in order, and whether the connection closes after them."""

    replies: list[dict[str, Any]]
    close: bool = False
    changed: bool = False
    """Authentication or subscriptions changed: what the feed computes may have to change with them."""


@dataclass(slots=True)
class DataSession:
    """One data-stream connection: `connected`, then `auth`, then any number of subscribes and unsubscribes.

    `claim` takes the endpoint's one connection slot when the keys are right; False is the 406 Alpaca answers
    a second connection to the same endpoint.
    """

    endpoint: Endpoint
    keys_ok: KeyCheck
    claim: Callable[[], bool]
    authenticated: bool = False
    subscriptions: dict[str, set[str]] = field(default_factory=dict)

    def __post_init__(self) -> None:
        self.subscriptions = {c: set() for c in self.endpoint.channels}

    def opening(self, packed: bool) -> Step:
        """The first frame: `connected`, or the 412 of an option stream asked for JSON."""
        if self.endpoint.feed == "options" and not packed:
            return Step([wire.error(412)], close=True)
        return Step([wire.success("connected")])

    def on_message(self, msg: Any) -> Step:
        if not isinstance(msg, dict) or not isinstance(msg.get("action"), str):
            return Step([wire.error(400)])
        action = msg["action"]
        if action == "auth":
            return self._auth(msg)
        if action in ("subscribe", "unsubscribe"):
            if not self.authenticated:
                return Step([wire.error(401)])
            return self._subscribe(msg, action == "subscribe")
        return Step([wire.error(400)])

    def _auth(self, msg: dict[str, Any]) -> Step:
        if self.authenticated:
            return Step([wire.error(403)])
        key, secret = msg.get("key"), msg.get("secret")
        if not (isinstance(key, str) and isinstance(secret, str) and self.keys_ok(key, secret)):
            return Step([wire.error(402)], close=True)
        if not self.claim():
            return Step([wire.error(406)], close=True)
        self.authenticated = True
        return Step([wire.success("authenticated")], changed=True)

    def _subscribe(self, msg: dict[str, Any], add: bool) -> Step:
        """All or nothing: a message with one bad channel changes no subscription, as at Alpaca."""
        changes = {k: v for k, v in msg.items() if k != "action"}
        for channel, symbols in changes.items():
            if channel not in self.endpoint.channels:
                return Step([wire.error(410)])
            if not isinstance(symbols, list) or not all(isinstance(s, str) and s for s in symbols):
                return Step([wire.error(400)])
        if add and self.endpoint.feed == "options" and "*" in changes.get("quotes", []):
            return Step([wire.error(413)])
        for channel, symbols in changes.items():
            if add:
                self.subscriptions[channel].update(symbols)
            else:
                self.subscriptions[channel].difference_update(symbols)
        return Step([wire.subscription(self.listing())], changed=True)

    def listing(self) -> dict[str, list[str]]:
        """Every channel's symbols; on stocks, corrections and cancel errors follow the trades, as Alpaca lists them."""
        out = {c: sorted(self.subscriptions[c]) for c in self.endpoint.channels}
        if self.endpoint.feed == "stocks":
            out["corrections"] = list(out["trades"])
            out["cancelErrors"] = list(out["trades"])
        return out

    def wants(self, channel: str, symbol: str) -> bool:
        subs = self.subscriptions.get(channel)
        return subs is not None and (symbol in subs or "*" in subs)


@dataclass(slots=True)
class TradingSession:
    """One trading-stream connection: `authenticate`, then `listen` to trade_updates (an empty list stops it)."""

    keys_ok: KeyCheck
    authenticated: bool = False
    listening: bool = False

    def on_message(self, msg: Any) -> Step:
        if not isinstance(msg, dict):
            return Step([wire.trading_error("invalid syntax")])
        action, data = msg.get("action"), msg.get("data")
        if action == "authenticate":
            ok = isinstance(data, dict) and self.keys_ok(str(data.get("key_id", "")), str(data.get("secret_key", "")))
            if not ok:
                return Step([wire.authorization(False)], close=True)
            self.authenticated = True
            return Step([wire.authorization(True)], changed=True)
        if action == "listen":
            if not self.authenticated:
                return Step([wire.authorization(False, "listen")])
            streams = data.get("streams") if isinstance(data, dict) else None
            if not isinstance(streams, list):
                return Step([wire.trading_error("invalid syntax")])
            self.listening = TRADE_UPDATES in streams
            return Step([wire.listening([TRADE_UPDATES] if self.listening else [])], changed=True)
        return Step([wire.trading_error(f"unknown action {action!r}")])
