"""What a recorded session was shown: every bar of the underlying and every option quote its ports answered.

A journal recorded with `journal.record_inputs` holds each answer the engine received. Read back, they are
the day's market as the session saw it: the simulator can run on them (sim.bars and sim.quotes naming a
journal), and calibration can fit the model to them. Quotes keep their own timestamps, which say when they
were shown; the input record's time says only when a batch of calls was written.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from pathlib import Path
from typing import Any

import numpy as np

from engine.errors import DataError
from engine.journal.audit import read_journal
from engine.journal.codec import decode_result
from engine.journal.recording import recorded_calls
from engine.models import Bars, OptionQuote


@dataclass(frozen=True)
class RecordedMarket:
    source: Path
    header: dict[str, Any]
    day: date
    bars: Bars
    """Every bar the session received, once each, in time order."""
    quotes: list[OptionQuote]
    """Every option quote answered (chains and quotes), in the order received."""


def recorded_market(path: Path) -> RecordedMarket:
    """The journal's answers; DataError naming the file when it does not verify or recorded no market."""
    try:
        records, problems = read_journal(path)
    except OSError as exc:
        raise DataError(f"{path}: cannot read the journal ({exc.strerror})") from None
    broken = [p for p in problems if "torn last line" not in p.what]
    if broken:
        raise DataError(f"{path}: {broken[0]}: the journal does not verify")
    header = next((r for r in records if r.get("kind") == "header"), None)
    if header is None:
        raise DataError(f"{path}: not a journal (no header record)")
    quotes: list[OptionQuote] = []
    bar_rows: dict[int, tuple[float, float, float, float, float]] = {}
    symbol = header.get("config", {}).get("underlying", "")
    for _, _, call in recorded_calls(records):
        method = call["method"]
        if "result" not in call or method not in ("chain", "quotes", "bars"):
            continue
        value = decode_result(call["port"], method, call["result"])
        if method == "bars":
            b: Bars = value
            symbol = b.symbol
            for i, t in enumerate(b.ts.tolist()):
                bar_rows[int(t)] = (b.open[i], b.high[i], b.low[i], b.close[i], b.volume[i])
        else:
            quotes.extend(value if method == "chain" else value.values())
    if not bar_rows:
        raise DataError(f"{path}: the journal holds no bars of the underlying (was it recorded with "
                        "journal.record_inputs?)")
    ts = np.array(sorted(bar_rows), dtype=np.int64)
    cols = np.array([bar_rows[t] for t in ts.tolist()], dtype=float).reshape(-1, 5)
    bars = Bars(symbol, ts, cols[:, 0], cols[:, 1], cols[:, 2], cols[:, 3], cols[:, 4])
    return RecordedMarket(Path(path), header, date.fromisoformat(header["session_date"]), bars, quotes)
