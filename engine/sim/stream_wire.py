"""The messages of Alpaca's streams as serve-sim writes them, and their two encodings.

Kept apart from the sockets (stream_server.py), the protocol (stream_protocol.py) and what the market did
(stream_feed.py), so the contract with alpaca-py's stream clients can be read and checked in one place, as
alpaca_json.py does for REST. The values come from alpaca_json's own functions, so a bar or an option quote
on a stream is the one REST answers for the same minute.

Data streams speak msgpack when the client asks for it (alpaca-py always sends `Content-Type:
application/msgpack`), else JSON; in msgpack every time `t` is a msgpack Timestamp (ext type -1), which
alpaca-py turns into a datetime with `to_datetime()`, and in JSON an RFC 3339 string. The trading stream
speaks JSON in binary frames, as Alpaca's paper endpoint does.
"""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from typing import Any

import msgpack

from engine.models import OptionQuote
from engine.sim import alpaca_json as aj

MSGPACK = "application/msgpack"
ERRORS = {
    400: "invalid syntax",
    401: "not authenticated",
    402: "auth failed",
    403: "already authenticated",
    404: "auth timeout",
    406: "connection limit exceeded",
    407: "slow client",
    410: "invalid subscribe action for this feed",
    412: "option messages are only available in MsgPack format",
    413: "star subscription is not allowed for option quotes",
    500: "internal error",
}
"""The error codes serve-sim sends, with Alpaca's own messages."""
STOCK_EXCHANGE = "V"
"""IEX's code: the simulator's underlying prints on one venue, whichever feed is asked for."""
STOCK_TAPE = "C"
STOCK_SPREAD = 0.01
"""Half the derived stock quote's width: a one-cent market either side of the bar's close."""
STOCK_SIZE = 100
DERIVED_LEAD = timedelta(milliseconds=1)
"""How long before a bar's end its derived trade and quote are stamped: inside the minute the bar covers."""


# -- data streams ------------------------------------------------------------------------------------


def success(msg: str) -> dict[str, Any]:
    """`connected` or `authenticated`."""
    return {"T": "success", "msg": msg}


def error(code: int) -> dict[str, Any]:
    return {"T": "error", "code": code, "msg": ERRORS[code]}


def subscription(channels: dict[str, list[str]]) -> dict[str, Any]:
    """The whole of a connection's subscriptions, as Alpaca answers every subscribe and unsubscribe."""
    return {"T": "subscription", **channels}


def bar(symbol: str, ts: int, o: float, h: float, low: float, c: float, v: float) -> dict[str, Any]:
    """A minute bar `b`, field for field the REST bar of the same minute; `t` is the minute's start."""
    return {"T": "b", "S": symbol, **aj.bar_json(ts, o, h, low, c, v), "t": datetime.fromtimestamp(int(ts), tz=UTC)}


def stock_trade(symbol: str, at: datetime, price: float, trade_id: int) -> dict[str, Any]:
    """The one trade `t` the simulator derives from a bar: a round lot at its close."""
    return {
        "T": "t",
        "S": symbol,
        "i": trade_id,
        "x": STOCK_EXCHANGE,
        "p": round(price, 4),
        "s": STOCK_SIZE,
        "c": ["@"],
        "z": STOCK_TAPE,
        "t": at,
    }


def stock_quote(symbol: str, at: datetime, price: float) -> dict[str, Any]:
    """The quote `q` the simulator derives from a bar: a cent either side of its close, so its mid is the close."""
    mid = round(price, 2)
    return {
        "T": "q",
        "S": symbol,
        "bx": STOCK_EXCHANGE,
        "bp": round(mid - STOCK_SPREAD, 2),
        "bs": STOCK_SIZE,
        "ax": STOCK_EXCHANGE,
        "ap": round(mid + STOCK_SPREAD, 2),
        "as": STOCK_SIZE,
        "c": ["R"],
        "z": STOCK_TAPE,
        "t": at,
    }


def option_quote(q: OptionQuote) -> dict[str, Any]:
    """An option quote `q` with the market's own timestamp; the fields of the REST snapshot's latestQuote."""
    return {"T": "q", "S": q.symbol, **aj.quote_fields(q), "t": q.ts}


def _rfc3339(value: Any) -> str:
    if isinstance(value, datetime):
        return aj.iso_utc(value)
    raise TypeError(f"{type(value).__name__} is not JSON serializable")


def encode(messages: list[dict[str, Any]], packed: bool) -> bytes | str:
    """One frame: an array of messages, as every frame of Alpaca's data streams is; msgpack frames are
    binary, JSON frames text."""
    if packed:
        return msgpack.packb(messages, datetime=True)
    return json.dumps(messages, default=_rfc3339, separators=(",", ":"))


def decode(frame: bytes | str, packed: bool) -> Any:
    """A client's message; ValueError when it is neither msgpack nor JSON as the connection speaks."""
    try:
        if packed:
            return msgpack.unpackb(frame.encode() if isinstance(frame, str) else frame)
        return json.loads(frame)
    except (ValueError, msgpack.UnpackException) as exc:
        raise ValueError(f"not a {'msgpack' if packed else 'JSON'} message: {exc}") from None


# -- the trading stream ------------------------------------------------------------------------------


def authorization(authorized: bool, action: str = "authenticate") -> dict[str, Any]:
    status = "authorized" if authorized else "unauthorized"
    return {"stream": "authorization", "data": {"status": status, "action": action}}


def listening(streams: list[str]) -> dict[str, Any]:
    return {"stream": "listening", "data": {"streams": streams}}


def trading_error(message: str) -> dict[str, Any]:
    """serve-sim's own answer to a message it cannot read (Alpaca documents none); alpaca-py ignores it."""
    return {"stream": "error", "data": {"error_message": message}}


def trade_update(
    event: str,
    order: dict[str, Any],
    at: datetime,
    execution_id: str,
    fill: tuple[float, float] | None = None,
    position_qty: int | None = None,
) -> dict[str, Any]:
    """One `trade_updates` message: the event, the order as REST shows it after the event, and for a fill its
    price and quantity (`fill`); money and quantities as decimal strings, as Alpaca sends them."""
    data: dict[str, Any] = {"event": event, "execution_id": execution_id, "order": order, "timestamp": aj.iso_utc(at)}
    if fill is not None:
        data["price"], data["qty"] = aj.num(fill[0]), aj.num(fill[1])
    if position_qty is not None:
        data["position_qty"] = aj.num(position_qty)
    return {"stream": "trade_updates", "data": data}


def encode_trading(message: dict[str, Any]) -> bytes:
    return json.dumps(message, separators=(",", ":")).encode()
