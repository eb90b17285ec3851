"""A recorded session's quotes as a real day: what `calibrate` and `fidelity` read from a paper session's journal.

Every chain and quote answer the engine received is an input record of its journal, with the minute it was
asked in; its bars answers give the underlying's path. A minute the engine asked nothing about has no quote
here (it is not guessed), so a day fits on the minutes the engine was watching: the chain while scanning,
the held legs while a condor was open. This is how a user's own paper days make the simulator realistic
for an underlying where we hold no real 0DTE quotes.
"""

from __future__ import annotations

from datetime import date, datetime, time
from pathlib import Path

import numpy as np

from engine.calendar import ExchangeCalendar
from engine.errors import DataError
from engine.journal.audit import read_journal
from engine.journal.codec import decode_result
from engine.journal.recording import recorded_calls
from engine.models import Bars, OptionQuote, Right
from engine.occ import parse_occ
from engine.sim.realday import RealDay, build_real_day


def journal_day(
    path: Path, start: time | None = None, until: time | None = None, expiry: date | None = None
) -> RealDay:
    """The journal's quotes of `expiry` (default: the nearest quoted) in the window [start, until)."""
    records, problems = read_journal(path)
    broken = [p for p in problems if "torn last line" not in p.what]
    if broken:
        raise DataError(f"{path}: {broken[0]}: the journal does not verify")
    header = next((r for r in records if r.get("kind") == "header"), None)
    if header is None:
        raise DataError(f"{path}: not a journal (no header record)")
    cal = ExchangeCalendar()
    day = date.fromisoformat(header["session_date"])
    session = cal.session(day)
    if session is None:
        raise DataError(f"{path}: {day.isoformat()} has no session")
    open_s, close_s = int(session.open.timestamp()), int(session.close.timestamp())
    minutes = (close_s - open_s) // 60

    seen: dict[tuple[int, str], OptionQuote] = {}
    bar_rows: dict[int, tuple[float, float, float, float, float]] = {}
    for _, asked_at, call in recorded_calls(records):
        if "result" not in call:
            continue
        method = call["method"]
        if method not in ("chain", "quotes", "bars"):
            continue
        value = decode_result(call["port"], method, call["result"])
        if method == "bars":
            b: Bars = value
            for i, t in enumerate(b.ts.tolist()):
                bar_rows[int(t)] = (b.open[i], b.high[i], b.low[i], b.close[i], b.volume[i])
            continue
        m = int((datetime.fromisoformat(asked_at).timestamp() - open_s) // 60)
        if not 0 <= m < minutes:
            continue
        for q in value if method == "chain" else value.values():
            seen[(m, q.symbol)] = q
    if not seen:
        raise DataError(f"{path}: the journal holds no option quotes (was it recorded with journal.record_inputs?)")
    if not bar_rows:
        raise DataError(f"{path}: the journal holds no bars of the underlying")

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
    bar_ts = np.array(sorted(bar_rows), dtype=np.int64)
    cols = np.array([bar_rows[t] for t in bar_ts.tolist()], dtype=float).reshape(-1, 5)
    root = next(iter(contracts.values())).underlying
    bars = Bars(root, bar_ts, cols[:, 0], cols[:, 1], cols[:, 2], cols[:, 3], cols[:, 4])
    return build_real_day(path, session, expiry, root, strikes, listed, bid, ask, bars, cal, start, until)
