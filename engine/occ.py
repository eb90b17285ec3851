"""OCC option symbols as Alpaca writes them: SPY250701C00600000 is the SPY 600 call expiring 2025-07-01.

Alpaca's chain snapshots carry no strike or expiry, only this symbol, so parsing it is the one way
to know what a quote is for; the simulator writes the same symbols so both brokers look alike.
The root is not space-padded (unlike the 21-character OSI form).
"""

from __future__ import annotations

import re
from datetime import date
from functools import cache

from engine.models import OptionContract, Right

_OCC = re.compile(r"([A-Z]{1,6})(\d{2})(\d{2})(\d{2})([CP])(\d{8})")
_ROOT = re.compile(r"[A-Z]{1,6}")
_MAX_STRIKE_MILLIS = 10**8


def occ_symbol(root: str, expiry: date, right: Right | str, strike: float) -> str:
    """Build the symbol; raises ValueError when the strike cannot be written in 8 digits of 1/1000."""
    head = _head(root, expiry)
    millis = round(strike * 1000)
    if abs(strike * 1000 - millis) > 1e-6 or not 0 < millis < _MAX_STRIKE_MILLIS:
        raise ValueError(f"strike {strike!r} cannot be written as an OCC strike (0 < strike < 100000, 1/1000 steps)")
    return f"{head}{Right(right).value}{millis:08d}"


@cache
def _head(root: str, expiry: date) -> str:
    """Root and expiry, checked and written once for all of a day's strikes (the simulator lists some 160)."""
    if not _ROOT.fullmatch(root):
        raise ValueError(f"OCC root must be 1-6 capital letters, got {root!r}")
    return f"{root}{expiry:%y%m%d}"


def parse_occ(symbol: str) -> OptionContract:
    """The contract a symbol names; ValueError (naming the symbol) when it is not a valid OCC symbol."""
    m = _OCC.fullmatch(symbol)
    if m is None:
        raise ValueError(f"not an OCC option symbol: {symbol!r} (expected ROOT+YYMMDD+C|P+8-digit strike*1000)")
    root, yy, mm, dd, right, millis = m.groups()
    try:
        expiry = date(2000 + int(yy), int(mm), int(dd))
    except ValueError:
        raise ValueError(f"not an OCC option symbol: {symbol!r} (invalid expiry date {yy}{mm}{dd})") from None
    strike = int(millis) / 1000
    if strike <= 0:
        raise ValueError(f"not an OCC option symbol: {symbol!r} (strike must be positive)")
    return OptionContract(symbol=symbol, underlying=root, expiry=expiry, strike=strike, right=Right(right))
