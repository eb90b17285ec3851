"""Prices of a multi-leg combo from its legs' quotes, all in net-debit terms (a credit is negative).

One convention everywhere (Alpaca's): paying is positive, receiving is negative. "More aggressive"
is therefore always "higher", for entries and exits, credits and debits alike.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping

from engine.errors import DataError
from engine.models import Intent, Leg, OptionQuote, Side


def _sign(leg: Leg) -> int:
    return leg.ratio_qty if leg.side is Side.BUY else -leg.ratio_qty


def check_quote(q: OptionQuote) -> None:
    """A quote we may trade on: finite, non-negative, not crossed. Anything else is refused, never repaired."""
    bid, ask = q.bid, q.ask
    if not (bid - bid == 0 and ask - ask == 0) or bid < 0 or ask <= 0 or ask < bid:  # x - x is NaN for NaN and inf
        raise DataError(f"malformed quote for {q.symbol}: bid={q.bid} ask={q.ask}")


def _quote_of(leg: Leg, quotes: Mapping[str, OptionQuote]) -> OptionQuote:
    q = quotes.get(leg.symbol)
    if q is None:
        raise DataError(f"no quote for {leg.symbol}")
    check_quote(q)
    return q


def _quotes_for(legs: Iterable[Leg], quotes: Mapping[str, OptionQuote]) -> list[tuple[Leg, OptionQuote]]:
    return [(leg, _quote_of(leg, quotes)) for leg in legs]


def net_mid(legs: Iterable[Leg], quotes: Mapping[str, OptionQuote]) -> float:
    """Asked of every open condor at every poll: one pass over the legs, no list of pairs made."""
    total: float = 0.0
    for leg in legs:
        total += _sign(leg) * _quote_of(leg, quotes).mid
    return total


def natural(legs: Iterable[Leg], quotes: Mapping[str, OptionQuote]) -> float:
    """What the combo costs if it crosses every leg's spread: buy at the ask, sell at the bid."""
    return sum(_sign(leg) * (q.ask if leg.side is Side.BUY else q.bid) for leg, q in _quotes_for(legs, quotes))


def reverse(legs: Iterable[Leg]) -> tuple[Leg, ...]:
    """The legs that close an open combo, as one order: buy back the shorts, sell out the longs."""
    closing = {
        Intent.BUY_TO_OPEN: (Side.SELL, Intent.SELL_TO_CLOSE),
        Intent.SELL_TO_OPEN: (Side.BUY, Intent.BUY_TO_CLOSE),
    }
    out = []
    for leg in legs:
        side, intent = closing[leg.intent]
        out.append(Leg(leg.symbol, side, intent, leg.ratio_qty))
    return tuple(out)


def round_to_tick(price: float, tick: float, up: bool) -> float:
    steps = price / tick
    n = math.ceil(steps - 1e-9) if up else math.floor(steps + 1e-9)
    return round(n * tick, 10)
