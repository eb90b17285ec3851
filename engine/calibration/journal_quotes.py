"""A recorded session's quotes as a real day: what `calibrate` and `fidelity` read from a paper session's journal.

Every chain and quote answer the engine received is in its journal (engine/journal/answers.py), placed here in
the minute of its own timestamp; its bars answers give the underlying's path. A minute the engine asked nothing
about has no quote here (it is not guessed), so a day fits on the minutes the engine was watching: the chain
while scanning, the held legs while a condor was open. This is how a user's own paper days make the simulator
realistic for an underlying where we hold no real 0DTE quotes.
"""

from __future__ import annotations

from datetime import date, time
from pathlib import Path

import numpy as np

from engine.calendar import ExchangeCalendar
from engine.errors import DataError
from engine.journal.answers import recorded_market
from engine.models import OptionQuote, Right
from engine.occ import parse_occ
from engine.sim.realday import RealDay, build_real_day


def journal_day(
    path: Path, start: time | None = None, until: time | None = None, expiry: date | None = None
) -> RealDay:
    """The journal's quotes of `expiry` (default: the nearest quoted) in the window [start, until)."""
    market = recorded_market(path)
    cal = ExchangeCalendar()
    day = market.day
    session = cal.session(day)
    if session is None:
        raise DataError(f"{path}: {day.isoformat()} has no session")
    open_s, close_s = int(session.open.timestamp()), int(session.close.timestamp())
    minutes = (close_s - open_s) // 60

    seen: dict[tuple[int, str], OptionQuote] = {}
    for q in market.quotes:
        m = int((q.ts.timestamp() - open_s) // 60)
        if 0 <= m < minutes:
            seen[(m, q.symbol)] = q
    if not seen:
        raise DataError(f"{path}: the journal holds no option quotes (was it recorded with journal.record_inputs?)")

    contracts = {s: parse_occ(s) for _, s in seen}
    expiries = sorted({c.expiry for c in contracts.values() if c.expiry >= day})
    if not expiries:
        raise DataError(f"{path}: no quoted contract expires on or after {day.isoformat()}")
    if expiry is None:
        expiry = expiries[0]
    elif expiry not in expiries:
        raise DataError(f"{path}: holds no quote of a contract expiring {expiry.isoformat()}")
    strikes = np.array(sorted({c.strike for c in contracts.values() if c.expiry == expiry}))
    column = {k: i for i, k in enumerate(strikes.tolist())}
    bid = np.full((minutes, 2 * len(strikes)), np.nan)
    ask = np.full_like(bid, np.nan)
    listed = np.zeros(2 * len(strikes), dtype=bool)
    for (m, s), q in seen.items():
        c = contracts[s]
        if c.expiry != expiry:
            continue
        col = 2 * column[c.strike] + (0 if c.right is Right.CALL else 1)
        listed[col] = True
        bid[m, col] = q.bid if q.bid > 0 else np.nan
        ask[m, col] = q.ask if q.ask > 0 else np.nan
    root = next(iter(contracts.values())).underlying
    return build_real_day(path, session, expiry, root, strikes, listed, bid, ask, market.bars, cal, start, until)
