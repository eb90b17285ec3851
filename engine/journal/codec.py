"""Port values to JSON and back, exactly, so a recorded session can be answered again on replay.

Only the types that cross the ports are known here; anything else is an error, which keeps the
recording honest (no silent str() of an object replay could not rebuild). Dataclasses are written
as a tag plus their fields in declaration order (`{"$c": "OptionQuote", "v": [...]}`): recording runs
on every port call, so the encoder is a type-dispatch table and the form is compact. JSON has no NaN
or infinity, and a malformed quote must replay as malformed: those floats are tagged (`{"$f": "nan"}`).
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Iterable, Sequence
from datetime import date, datetime
from enum import Enum
from typing import Any

import numpy as np

from engine import models
from engine.feed import NOTHING, FeedBatch, Stream, StreamNews

_DATACLASSES: dict[str, type] = {
    cls.__name__: cls
    for cls in (
        models.Account,
        models.Bars,
        models.Leg,
        models.OptionContract,
        models.OptionQuote,
        models.Order,
        models.OrderRequest,
        models.Position,
        models.Session,
    )
}
_FIELDS = {name: tuple(f.name for f in dataclasses.fields(cls)) for name, cls in _DATACLASSES.items()}
_ENUMS: dict[str, type[Enum]] = {
    cls.__name__: cls for cls in (models.Right, models.Side, models.Intent, models.OrderStatus)
}


def _identity(v: Any) -> Any:
    return v


def _dataclass_encoder(name: str) -> Callable[[Any], Any]:
    fields = _FIELDS[name]

    def enc(v: Any) -> Any:
        return {"$c": name, "v": [encode(getattr(v, f)) for f in fields]}

    return enc


def _float(v: float) -> Any:
    return v if v - v == 0 else {"$f": repr(v)}


def _array(v: np.ndarray) -> Any:
    values = v.tolist()
    if v.dtype.kind == "f" and not np.isfinite(v).all():
        values = [_float(x) for x in values]
    return {"$a": v.dtype.str, "v": values}


def _enum_encoder(name: str) -> Callable[[Any], Any]:
    def enc(v: Any) -> Any:
        return {"$e": name, "v": v.value}

    return enc


_ENCODERS: dict[type, Callable[[Any], Any]] = {
    type(None): _identity,
    bool: _identity,
    int: _identity,
    float: _float,
    str: _identity,
    datetime: lambda v: {"$dt": v.isoformat()},
    date: lambda v: {"$d": v.isoformat()},
    list: lambda v: [encode(x) for x in v],
    tuple: lambda v: {"$t": [encode(x) for x in v]},
    np.ndarray: _array,
    **{cls: _dataclass_encoder(name) for name, cls in _DATACLASSES.items()},
    **{cls: _enum_encoder(name) for name, cls in _ENUMS.items()},
}


def _encode_dict(v: dict) -> Any:
    if not all(isinstance(k, str) for k in v):
        raise TypeError("cannot record a mapping with non-string keys crossing a port")
    return {"$m": {k: encode(x) for k, x in v.items()}}


_ENCODERS[dict] = _encode_dict


_STR = {str}


def encode_args(args: tuple[Any, ...]) -> list[Any]:
    """A call's arguments, the common kinds (ids, symbols, lists of symbols, times) without a walk through `encode`.

    A time is left to the journal's writer inside its tag, which spells it as isoformat() does, so compare
    recorded arguments with `json_form(encode_args(...))`.
    """
    out: list[Any] = []
    for a in args:
        kind = type(a)
        if kind is str or kind is int or a is None:
            out.append(a)
        elif kind is datetime:
            out.append({"$dt": a})
        elif kind is list and set(map(type, a)) <= _STR:  # the held legs' symbols, at every poll: no Python loop
            out.append(list(a))
        else:
            out.append(encode(a))
    return out


def encode(value: Any) -> Any:
    """A JSON-ready form; dataclasses, enums, dates and numpy arrays carry a type tag."""
    enc = _ENCODERS.get(type(value))
    if enc is not None:
        return enc(value)
    if isinstance(value, np.generic):
        return encode(value.item())
    raise TypeError(f"cannot record a {type(value).__name__} crossing a port")


def decode(data: Any) -> Any:
    if data is None or isinstance(data, (bool, int, float, str)):
        return data
    if isinstance(data, list):
        return [decode(v) for v in data]
    if not isinstance(data, dict):
        raise ValueError(f"unexpected recorded value {data!r}")
    if "$c" in data:
        name = data["$c"]
        if name not in _DATACLASSES:
            raise ValueError(f"unknown recorded type {name!r}")
        return _DATACLASSES[name](*(decode(v) for v in data["v"]))
    if "$dt" in data:
        return datetime.fromisoformat(data["$dt"])
    if "$d" in data:
        return date.fromisoformat(data["$d"])
    if "$e" in data:
        return _ENUMS[data["$e"]](data["v"])
    if "$f" in data:
        return float(data["$f"])
    if "$a" in data:
        return np.asarray([decode(v) for v in data["v"]], dtype=np.dtype(data["$a"]))
    if "$t" in data:
        return tuple(decode(v) for v in data["$t"])
    if "$m" in data:
        return {k: decode(v) for k, v in data["$m"].items()}
    raise ValueError(f"unexpected recorded object with keys {sorted(data)}")


def _finite(numbers: Iterable[Any]) -> bool:
    """One sum instead of a test per number: NaN or an infinity anywhere makes it non-finite. A finite sum
    that overflows only sends the row down the exact, slower path; so does a value that is not a number."""
    try:
        total = sum(numbers, 0.0)
    except TypeError:
        return False
    return total - total == 0


def _quotes_out(quotes: Sequence[models.OptionQuote]) -> dict[str, Any]:
    """Quotes of one snapshot share their timestamp: it is written once (`at`), not on every row.

    Times stay datetimes here: the journal's writer spells them as isoformat() does, in a fraction of the time.
    """
    rows = [[q.symbol, q.bid, q.ask, q.iv, q.delta] for q in quotes]
    try:
        finite = _finite([q.bid + q.ask + (q.iv or 0.0) + (q.delta or 0.0) for q in quotes])  # NaN is truthy
    except TypeError:
        finite = False
    if not finite:
        rows = [[encode(v) for v in row] for row in rows]
    at = quotes[0].ts if quotes else None
    if len({id(q.ts) for q in quotes}) <= 1 or all(q.ts == at and q.ts.tzinfo is at.tzinfo for q in quotes):
        return {"at": at, "q": rows}
    return {"q": [[*row, q.ts] for q, row in zip(quotes, rows, strict=True)]}


def _quotes_in(data: dict[str, Any]) -> list[models.OptionQuote]:
    at = datetime.fromisoformat(data["at"]) if data.get("at") else None
    out = []
    for row in data["q"]:
        head = row[:5]
        if dict in map(type, head):  # a tagged value (NaN): rows are written plain when every number is finite
            head = [decode(v) for v in head]
        symbol, bid, ask, iv, delta = head
        out.append(models.OptionQuote(symbol, bid, ask, at or datetime.fromisoformat(row[5]), iv, delta))
    return out


def _account_out(a: models.Account) -> list[Any]:
    row = [a.account_id, a.equity, a.last_equity, a.cash, a.options_buying_power, a.options_level, a.paper, a.status]
    return row if _finite(row[1:5]) else [encode(v) for v in row]


_BARS_DTYPES = tuple(np.dtype(t) for t in ("<i8", "<f8", "<f8", "<f8", "<f8", "<f8"))


def _bars_out(b: models.Bars) -> Any:
    """Bars of the usual dtypes as `[symbol, ts, open, high, low, close, volume]` lists; others tagged."""
    i8, f8 = _BARS_DTYPES[:2]
    if b.ts.dtype != i8 or not (b.open.dtype == b.high.dtype == b.low.dtype == b.close.dtype == b.volume.dtype == f8):
        return encode(b)
    prices = [b.open.tolist(), b.high.tolist(), b.low.tolist(), b.close.tolist(), b.volume.tolist()]
    return [b.symbol, b.ts.tolist(), *prices] if _finite(map(sum, prices)) else encode(b)


def _bars_in(data: Any) -> models.Bars:
    if not isinstance(data, list):
        return decode(data)
    symbol, *lists = data
    return models.Bars(symbol, *(np.asarray(v, dtype=dt) for v, dt in zip(lists, _BARS_DTYPES, strict=True)))


def _order_out(o: models.Order) -> Any:
    """An order as `[id, client id, status, [[symbol, side, intent, ratio], ...], qty, filled qty, limit, avg
    fill, submitted, filled, leg fill prices]`; one with a NaN or infinite price goes the tagged way."""
    prices = [o.limit_price, o.filled_avg_price or 0.0, *o.leg_fill_prices.values()]
    if not _finite(prices):
        return encode(o)
    return [
        o.id,
        o.client_order_id,
        o.status.value,
        [[leg.symbol, leg.side.value, leg.intent.value, leg.ratio_qty] for leg in o.legs],
        o.qty,
        o.filled_qty,
        o.limit_price,
        o.filled_avg_price,
        o.submitted_at,
        o.filled_at,
        dict(o.leg_fill_prices),
    ]


def _batch_out(b: FeedBatch) -> Any:
    """A drain as `[bars or null, quotes, order ids, [[stream, up, why], ...]]`; most drains are empty: `[]`."""
    if b.empty:
        return []
    bars = None if b.bars is None else _bars_out(b.bars)
    return [bars, _quotes_out(b.quotes), list(b.orders), [[n.stream.value, n.up, n.why] for n in b.news]]


def _batch_in(data: Any) -> FeedBatch:
    if not data:
        return NOTHING
    bars, quotes, orders, news = data
    return FeedBatch(
        None if bars is None else _bars_in(bars),
        tuple(_quotes_in(quotes)),
        tuple(orders),
        tuple(StreamNews(Stream(s), up, why) for s, up, why in news),
    )


def _order_in(data: Any) -> models.Order:
    if not isinstance(data, list):
        return decode(data)
    oid, cid, status, legs, qty, filled, limit, avg, submitted, filled_at, leg_prices = data
    return models.Order(
        oid,
        cid,
        models.OrderStatus(status),
        tuple(models.Leg(sym, models.Side(side), models.Intent(intent), ratio) for sym, side, intent, ratio in legs),
        qty,
        filled,
        limit,
        avg,
        datetime.fromisoformat(submitted),
        datetime.fromisoformat(filled_at) if filled_at else None,
        leg_prices,
    )


@dataclasses.dataclass(frozen=True, slots=True)
class ResultCodec:
    """How one method's answers are recorded: `write` gives the journal's form as the call returns (a value
    the caller cannot change afterwards, so it is also what a repeat is compared with); `read` rebuilds the
    answer on replay."""

    write: Callable[[Any], Any]
    read: Callable[[Any], Any]


GENERIC = ResultCodec(encode, decode)
# Results recorded on nearly every poll get a positional form chosen by the method that returns them:
# no type tags, a third of the size, several times faster to write. Everything else is generic.
RESULT_CODECS: dict[tuple[str, str], ResultCodec] = {
    # a datetime is immutable, and the journal's writer spells an aware one exactly as isoformat() does
    ("clock", "now"): ResultCodec(_identity, datetime.fromisoformat),
    ("market_data", "quotes"): ResultCodec(
        lambda qs: _quotes_out(list(qs.values())), lambda data: {q.symbol: q for q in _quotes_in(data)}
    ),
    ("market_data", "chain"): ResultCodec(_quotes_out, _quotes_in),
    ("market_data", "bars"): ResultCodec(_bars_out, _bars_in),
    ("broker", "account"): ResultCodec(_account_out, lambda row: models.Account(*map(decode, row))),
    ("broker", "get_order"): ResultCodec(_order_out, _order_in),
    ("broker", "submit_order"): ResultCodec(_order_out, _order_in),
    ("feed", "drain"): ResultCodec(_batch_out, _batch_in),
}


def result_codec(port: str, method: str) -> ResultCodec:
    return RESULT_CODECS.get((port, method), GENERIC)


def encode_result(port: str, method: str, value: Any) -> Any:
    return result_codec(port, method).write(value)


def decode_result(port: str, method: str, data: Any) -> Any:
    return result_codec(port, method).read(data)
