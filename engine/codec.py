"""Port values to JSON and back, exactly, so a recorded session can be answered again on replay.

Only the types that cross the ports are known here; anything else is an error, which keeps the
recording honest (no silent str() of an object replay could not rebuild). Dataclasses are written
as a tag plus their fields in declaration order (`{"$c": "OptionQuote", "v": [...]}`): recording runs
on every port call, so the encoder is a type-dispatch table and the form is compact.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable
from datetime import date, datetime
from enum import Enum
from typing import Any

import numpy as np

from engine import models

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


def _enum_encoder(name: str) -> Callable[[Any], Any]:
    def enc(v: Any) -> Any:
        return {"$e": name, "v": v.value}

    return enc


_ENCODERS: dict[type, Callable[[Any], Any]] = {
    type(None): _identity,
    bool: _identity,
    int: _identity,
    float: _identity,
    str: _identity,
    datetime: lambda v: {"$dt": v.isoformat()},
    date: lambda v: {"$d": v.isoformat()},
    list: lambda v: [encode(x) for x in v],
    tuple: lambda v: {"$t": [encode(x) for x in v]},
    np.ndarray: lambda v: {"$a": v.dtype.str, "v": v.tolist()},
    **{cls: _dataclass_encoder(name) for name, cls in _DATACLASSES.items()},
    **{cls: _enum_encoder(name) for name, cls in _ENUMS.items()},
}


def _encode_dict(v: dict) -> Any:
    if not all(isinstance(k, str) for k in v):
        raise TypeError("cannot record a mapping with non-string keys crossing a port")
    return {"$m": {k: encode(x) for k, x in v.items()}}


_ENCODERS[dict] = _encode_dict


_PLAIN = (str, int, float, type(None))


def encode_args(args: tuple[Any, ...]) -> list[Any]:
    """A call's arguments; most are plain (ids, symbols, lists of symbols) and need no walk through `encode`."""
    for a in args:
        if type(a) in _PLAIN or (type(a) is list and all(type(x) is str for x in a)):
            continue
        return encode(list(args))
    return [list(a) if type(a) is list else a for a in args]


def encode(value: Any) -> Any:
    """A JSON-ready form; dataclasses, enums, dates and numpy arrays carry a type tag."""
    enc = _ENCODERS.get(type(value))
    if enc is not None:
        return enc(value)
    if isinstance(value, np.generic):
        return value.item()
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
    if "$a" in data:
        return np.asarray(data["v"], dtype=np.dtype(data["$a"]))
    if "$t" in data:
        return tuple(decode(v) for v in data["$t"])
    if "$m" in data:
        return {k: decode(v) for k, v in data["$m"].items()}
    raise ValueError(f"unexpected recorded object with keys {sorted(data)}")


def _quotes_out(quotes: list[models.OptionQuote]) -> dict[str, Any]:
    """Quotes of one snapshot share their timestamp: it is written once (`at`), not on every row."""
    stamps = {q.ts for q in quotes}
    if len(stamps) == 1:
        return {"at": stamps.pop().isoformat(), "q": [[q.symbol, q.bid, q.ask, q.iv, q.delta] for q in quotes]}
    return {"q": [[q.symbol, q.bid, q.ask, q.iv, q.delta, q.ts.isoformat()] for q in quotes]}


def _quotes_in(data: dict[str, Any]) -> list[models.OptionQuote]:
    at = datetime.fromisoformat(data["at"]) if "at" in data else None
    return [
        models.OptionQuote(row[0], row[1], row[2], at or datetime.fromisoformat(row[5]), row[3], row[4])
        for row in data["q"]
    ]


# Results recorded on nearly every poll get a positional form chosen by the method that returns them:
# no type tags, a third of the size, several times faster to write. Everything else is generic.
RESULT_CODECS: dict[tuple[str, str], tuple[Callable[[Any], Any], Callable[[Any], Any]]] = {
    ("clock", "now"): (lambda t: t.isoformat(), datetime.fromisoformat),
    ("market_data", "quotes"): (
        lambda qs: _quotes_out(list(qs.values())),
        lambda data: {q.symbol: q for q in _quotes_in(data)},
    ),
    ("market_data", "chain"): (_quotes_out, _quotes_in),
    ("broker", "account"): (
        lambda a: [getattr(a, f) for f in _FIELDS["Account"]],
        lambda row: models.Account(*row),
    ),
}


def encode_result(port: str, method: str, value: Any) -> Any:
    codec = RESULT_CODECS.get((port, method))
    return codec[0](value) if codec else encode(value)


def decode_result(port: str, method: str, data: Any) -> Any:
    codec = RESULT_CODECS.get((port, method))
    return codec[1](data) if codec else decode(data)
