"""LEAN minute zips (QuantConnect's on-disk format): underlying trade bars and option quote chains.

The layout is `<root>/<securityType>/usa/minute/<ticker>/<YYYYMMDD>_<trade|quote_american|quote_european>.zip`
(shared/data/SOURCES.md, section 2). Rows have no header; column 1 is milliseconds since midnight of the
file's date in the data time zone (America/New_York, except index files: America/Chicago) and stamps the
bar's start. Equity and option prices are integer deci-cents (1/10,000 dollar); index prices are dollars.

Each zip is parsed and validated once (cached on path and mtime); the arrays handed out are read-only.
Every error is a SimDataError naming the file and, when it is about one row, the entry and the line.
"""

from __future__ import annotations

import io
import re
import zipfile
import zlib
from dataclasses import dataclass, field
from datetime import date, datetime
from functools import lru_cache
from pathlib import Path
from typing import Literal, NoReturn

import numpy as np

from engine.models import Bars, Right
from engine.sim.errors import SimDataError

Kind = Literal["equity", "index"]
DECI_CENTS_PER_DOLLAR = 10_000
MS_PER_MINUTE = 60_000
MINUTES_PER_DAY = 1440
TIME_ZONES: dict[str, str] = {"equity": "America/New_York", "index": "America/Chicago"}
OPTION_TIME_ZONE = "America/New_York"
TRADE_FIELDS = 6
QUOTE_FIELDS = 11

_TRADE_ZIP = re.compile(r"(\d{8})_trade\.zip", re.IGNORECASE)
_TRADE_ENTRY = re.compile(r"(\d{8})_(.+?)_minute_trade\.csv", re.IGNORECASE)
_QUOTE_ZIP = re.compile(r"(\d{8})_quote_(american|european)\.zip", re.IGNORECASE)
_QUOTE_ENTRY = re.compile(
    r"(\d{8})_(.+?)_minute_quote_(american|european)_(call|put)_(\d+)_(\d{8})\.csv", re.IGNORECASE
)
_NUMBER = re.compile(r"[-+]?(\d+\.?\d*|\.\d+)([eE][-+]?\d+)?")
_KEY = 1 << 32
"""Row keys are entry * _KEY + (epoch seconds - _base): one sorted int64 array over every contract."""


# ---------------------------------------------------------------------------------------------- shared


def _file_date(path: object, text: str, what: str) -> date:
    try:
        return datetime.strptime(text, "%Y%m%d").date()
    except ValueError:
        raise SimDataError(f"{path}: {what} date {text!r} is not a valid YYYYMMDD date") from None


def _stat(path: Path) -> int:
    try:
        return path.stat().st_mtime_ns
    except OSError as exc:
        raise SimDataError(f"{path}: cannot read LEAN file ({exc.strerror})") from None


def _open_zip(path: str) -> zipfile.ZipFile:
    try:
        return zipfile.ZipFile(path)
    except zipfile.BadZipFile:
        raise SimDataError(f"{path}: not a zip file") from None
    except OSError as exc:
        raise SimDataError(f"{path}: cannot read LEAN file ({exc.strerror or exc})") from None


def _entry_names(zf: zipfile.ZipFile) -> list[str]:
    return [n for n in zf.namelist() if not n.endswith("/")]


def _read_entry(path: str, zf: zipfile.ZipFile, name: str) -> bytes:
    try:
        return zf.read(name)
    except (zipfile.BadZipFile, zlib.error, EOFError, OSError, NotImplementedError) as exc:
        raise SimDataError(f"{path}: entry {name}: cannot decompress ({exc})") from None


@lru_cache(maxsize=64)
def _minute_epochs(day: date, tz: str) -> np.ndarray:
    """Epoch seconds (UTC) of each wall-clock minute of `day` in `tz`; -1 where the minute does not exist
    or is ambiguous (the DST changes), so a row stamped there is reported instead of guessed."""
    import pandas as pd  # here and in _parse: only a run on LEAN files pays for pandas (the random walk does not)

    local = pd.date_range(pd.Timestamp(day), periods=MINUTES_PER_DAY, freq="min")
    aware = local.tz_localize(tz, ambiguous="NaT", nonexistent="NaT")
    out = np.full(MINUTES_PER_DAY, -1, dtype=np.int64)
    ok = ~aware.isna()
    out[ok] = (aware[ok] - pd.Timestamp(0, tz="UTC")) // pd.Timedelta(seconds=1)
    out.flags.writeable = False
    return out


class _Rows:
    """The rows of several headerless CSV entries, parsed in one pass (pandas' C parser on the
    concatenated bytes). Empty fields are NaN. `fail(row, why)` raises naming the entry and line."""

    def __init__(self, file: str, names: list[str], chunks: list[bytes], nfields: int) -> None:
        self.file, self.names = file, names
        parts = []
        for chunk in chunks:
            body = chunk.replace(b"\r", b"").rstrip(b"\n")
            parts.append(body + b"\n" if body else b"")
        counts = np.array([p.count(b"\n") for p in parts], dtype=np.int64)
        self.first = np.concatenate(([0], np.cumsum(counts)))
        """Entry e holds rows first[e] .. first[e + 1] - 1."""
        self.entry = np.repeat(np.arange(len(parts), dtype=np.int64), counts)
        self.buf = b"".join(parts)
        raw = np.frombuffer(self.buf, dtype=np.uint8)
        self.ends = np.flatnonzero(raw == ord("\n"))
        self.starts = np.concatenate(([0], self.ends[:-1] + 1)).astype(np.int64)
        commas = np.searchsorted(np.flatnonzero(raw == ord(",")), self.ends)
        fields = np.diff(commas, prepend=0) + 1
        if (fields != nfields).any():
            i = int(np.argmax(fields != nfields))
            self.fail(i, f"{fields[i]} fields, expected {nfields}")
        self.values = self._parse(nfields)

    def __len__(self) -> int:
        return len(self.ends)

    def _parse(self, nfields: int) -> np.ndarray:
        import pandas as pd

        if not self.buf:
            return np.empty((0, nfields), dtype=float)
        try:
            df = pd.read_csv(
                io.BytesIO(self.buf),
                header=None,
                names=list(range(nfields)),
                dtype=np.float64,
                na_values=[""],
                keep_default_na=False,
                skip_blank_lines=False,
                encoding="latin-1",
                engine="c",
            )
        except (ValueError, pd.errors.ParserError) as exc:
            self._find_non_numeric()
            raise SimDataError(f"{self.file}: cannot parse rows ({exc})") from None
        values = df.to_numpy(dtype=float)
        if len(values) != len(self):
            raise SimDataError(f"{self.file}: parsed {len(values)} rows out of {len(self)} lines")
        if np.isinf(values).any():
            self.fail(int(np.argmax(np.isinf(values).any(axis=1))), "non-numeric (infinite) field")
        return values

    def _find_non_numeric(self) -> None:
        """Slow path, only after the fast parse failed: the first field that is neither empty nor a number."""
        for i, line in enumerate(self.buf.decode("latin-1").split("\n")[: len(self)]):
            for k, token in enumerate(line.split(",")):
                if token and not _NUMBER.fullmatch(token):
                    self.fail(i, f"field {k + 1} {token!r} is not a number")

    def fail(self, row: int, why: str) -> NoReturn:
        e = int(self.entry[row])
        line = row - int(self.first[e]) + 1
        text = self.buf[self.starts[row] : self.ends[row]].decode("latin-1")
        raise SimDataError(f"{self.file}: entry {self.names[e]}: line {line}: {why}: {text!r}")

    def check(self, bad: np.ndarray | np.bool_, why: str) -> None:
        if bad.any():
            self.fail(int(np.argmax(bad)), why)

    def times(self, day: date, tz: str) -> np.ndarray:
        """Column 1 as bar-start epoch seconds; whole minutes of the day, increasing within each entry."""
        ms = self.values[:, 0]
        with np.errstate(invalid="ignore"):
            bad = np.isnan(ms) | (ms < 0) | (ms >= MINUTES_PER_DAY * MS_PER_MINUTE) | (ms % MS_PER_MINUTE != 0)
        self.check(bad, "time must be a whole minute in ms since midnight (0 <= ms < 86400000)")
        same_entry = self.entry[1:] == self.entry[:-1]
        self.check(np.concatenate(([False], same_entry & (np.diff(ms) <= 0))), "time not after the previous row")
        epochs = _minute_epochs(day, tz)[(ms // MS_PER_MINUTE).astype(np.int64)]
        self.check(epochs < 0, f"wall-clock time does not exist (or is ambiguous) in {tz} on {day.isoformat()}")
        return epochs


def _whole(a: np.ndarray) -> np.ndarray:
    return np.floor(a) == a


def _frozen(*arrays: np.ndarray) -> None:
    for a in arrays:
        a.flags.writeable = False


# ---------------------------------------------------------------------------------------- trade bars


def _security_kind(path: Path) -> Kind:
    """The security type is the nearest `index` or `equity` directory above the file (LEAN: 4 levels up)."""
    for part in reversed(path.absolute().parts[:-1]):
        if part.lower() in TIME_ZONES:
            return "index" if part.lower() == "index" else "equity"
    raise SimDataError(
        f"{path}: cannot tell an equity file from an index file (no 'equity' or 'index' directory); pass kind"
    )


def _trade_entry(path: str, zf: zipfile.ZipFile) -> tuple[str, str, date]:
    """(entry name, ticker upper-case, day) of a minute trade zip, checked against the file name."""
    found = _TRADE_ZIP.fullmatch(Path(path).name)
    if not found:
        raise SimDataError(f"{path}: file name is not <YYYYMMDD>_trade.zip")
    day = _file_date(path, found.group(1), "file name")
    names = _entry_names(zf)
    if len(names) != 1:
        raise SimDataError(f"{path}: expected one CSV entry, found {len(names)}")
    entry = _TRADE_ENTRY.fullmatch(names[0])
    if not entry:
        raise SimDataError(f"{path}: entry {names[0]}: name is not <YYYYMMDD>_<ticker>_minute_trade.csv")
    if _file_date(path, entry.group(1), f"entry {names[0]}") != day:
        raise SimDataError(f"{path}: entry {names[0]}: date differs from the file name's {day.isoformat()}")
    return names[0], entry.group(2).upper(), day


def bars_ticker_and_day(path: str | Path) -> tuple[str, date]:
    """(ticker upper-case, session day) of a LEAN minute trade zip, from its entry name, without parsing rows."""
    path = Path(path)
    _stat(path)
    with _open_zip(str(path)) as zf:
        _, ticker, day = _trade_entry(str(path), zf)
    return ticker, day


def underlying_bars(path: str | Path, kind: Kind | None = None) -> Bars:
    """Every minute bar (extended hours included) of a LEAN minute trade zip of an equity
    (`equity/usa/minute/<t>/<YYYYMMDD>_trade.zip`: deci-cents, New York time) or an index
    (`index/usa/minute/<t>/...`: dollars, Chicago time). `kind` defaults to what the path says.
    `ts` is the bar start in epoch seconds (UTC); the symbol is the ticker upper-case."""
    path = Path(path)
    if kind is None:
        kind = _security_kind(path)
    elif kind not in TIME_ZONES:
        raise ValueError(f"kind must be 'equity' or 'index', not {kind!r}")
    mtime = _stat(path)
    return _load_bars(str(path.resolve()), mtime, kind)


@lru_cache(maxsize=32)
def _load_bars(path: str, mtime_ns: int, kind: Kind) -> Bars:
    with _open_zip(path) as zf:
        name, ticker, day = _trade_entry(path, zf)
        chunk = _read_entry(path, zf, name)
    rows = _Rows(path, [name], [chunk], TRADE_FIELDS)
    if not len(rows):
        raise SimDataError(f"{path}: entry {name}: no bars")
    ts = rows.times(day, TIME_ZONES[kind])
    v = rows.values
    o, h, lo, c, vol = (v[:, k] for k in range(1, 6))
    px = v[:, 1:5]
    rows.check(np.isnan(px).any(axis=1), "empty price")
    if kind == "equity":
        rows.check(~_whole(px).all(axis=1), "price is not a whole number of deci-cents")
        o, h, lo, c = (a / DECI_CENTS_PER_DOLLAR for a in (o, h, lo, c))
    rows.check((px <= 0).any(axis=1), "price must be positive")
    rows.check((h < np.maximum(o, c)) | (lo > np.minimum(o, c)), "high/low do not contain open and close")
    with np.errstate(invalid="ignore"):
        rows.check(np.isnan(vol) | (vol < 0), "volume must be >= 0")
    arrays = [np.ascontiguousarray(a) for a in (ts, o, h, lo, c, vol)]
    _frozen(*arrays)
    return Bars(ticker, *arrays)


# ------------------------------------------------------------------------------------- option quotes


@dataclass(frozen=True, slots=True)
class QuoteGrid:
    """Minute-by-minute quotes of one expiry's chain, as a trader would have seen them (no look-ahead).

    Columns are strike-major pairs: column 2*i is the call and 2*i + 1 the put of `strikes[i]`; a pair
    member the file does not hold has `listed` False. Row m is minute m, starting at open_s + 60*m, and
    shows the close of the latest bar completed by then (at m == 0, the open of a bar starting exactly at
    open_s, if any). `updated_s` is when the quote shown was set (epoch seconds, -1 before the first one).
    A side with no quote is NaN. Prices are dollars."""

    expiry: date
    open_s: int
    strikes: np.ndarray
    listed: np.ndarray
    bid: np.ndarray
    ask: np.ndarray
    updated_s: np.ndarray

    def column(self, strike: float, right: Right) -> int:
        """Column of (strike, right); KeyError if the strike is not listed for this expiry."""
        i = int(np.argmin(np.abs(self.strikes - strike))) if len(self.strikes) else 0
        if i >= len(self.strikes) or abs(self.strikes[i] - strike) > 1e-6:
            raise KeyError(f"strike {strike} not listed for {self.expiry.isoformat()}")
        return 2 * i + (0 if Right(right) is Right.CALL else 1)


@dataclass(frozen=True, slots=True)
class _Chain:
    """Every contract of a file (entry order) and every row, contract after contract."""

    expiry: np.ndarray  # ordinal of each contract's expiry
    strike: np.ndarray  # strike * 10,000 (int64)
    put: np.ndarray  # bool
    first: np.ndarray  # contract c holds rows first[c] .. first[c + 1] - 1
    key: np.ndarray  # contract * _KEY + (ts - base): sorted
    base: int
    bid_open: np.ndarray
    ask_open: np.ndarray
    bid_close: np.ndarray
    ask_close: np.ndarray


@dataclass(frozen=True, slots=True, eq=False)
class OptionQuoteFile:
    """One LEAN minute option quote zip: every contract of every expiry it holds, parsed once.

    `crossed_rows` counts rows in which, at the open or at the close, the bid is above the ask: real
    data has them (they are shown as they are, not an error)."""

    path: Path
    day: date
    root: str
    style: str
    contracts: int
    rows: int
    crossed_rows: int
    _chain: _Chain = field(repr=False)

    def expiries(self) -> tuple[date, ...]:
        return tuple(date.fromordinal(int(o)) for o in np.unique(self._chain.expiry))

    def grid(self, open_s: int, minutes: int, expiry: date) -> QuoteGrid:
        """The chain of `expiry` for `minutes` minutes from `open_s` (epoch seconds); see QuoteGrid."""
        ch = self._chain
        open_s, minutes = int(open_s), int(minutes)
        if minutes < 0:
            raise ValueError(f"minutes must be >= 0, not {minutes}")
        sel = np.flatnonzero(ch.expiry == expiry.toordinal())
        if not sel.size:
            held = ", ".join(d.isoformat() for d in self.expiries())
            raise SimDataError(f"{self.path}: no contracts expiring {expiry.isoformat()} (the file holds {held})")
        strikes = np.unique(ch.strike[sel])
        n = len(strikes)
        contract = np.full(2 * n, -1, dtype=np.int64)
        contract[2 * np.searchsorted(strikes, ch.strike[sel]) + ch.put[sel]] = sel
        listed = contract >= 0
        c = np.where(listed, contract, 0)[:, None]
        lo, hi = ch.first[c], ch.first[c + 1]
        last = max(len(ch.key) - 1, 0)
        updated = np.full((2 * n, minutes), -1, dtype=np.int64)
        bid = np.full((2 * n, minutes), np.nan)
        ask = np.full((2 * n, minutes), np.nan)
        if minutes and len(ch.key):
            # Latest bar completed by each minute's start: bar start <= minute start - 60.
            cutoff = np.clip(open_s + 60 * np.arange(minutes - 1, dtype=np.int64) - ch.base, -1, _KEY - 1)
            idx = np.searchsorted(ch.key, c * _KEY + cutoff[None, :], side="right") - 1
            ok = listed[:, None] & (idx >= lo) & (idx < hi)
            safe = np.clip(idx, 0, last)
            bid[:, 1:] = np.where(ok, ch.bid_close[safe], np.nan)
            ask[:, 1:] = np.where(ok, ch.ask_close[safe], np.nan)
            updated[:, 1:] = np.where(ok, (ch.key[safe] - c * _KEY) + ch.base + 60, -1)
            # Minute 0: the open of a bar starting exactly at open_s, else the latest bar completed by open_s.
            at = np.clip(open_s - ch.base, -1, _KEY - 1)
            exact = np.clip(np.searchsorted(ch.key, c[:, 0] * _KEY + at, side="left"), 0, last)
            hit = listed & (exact < hi[:, 0]) & (ch.key[exact] == c[:, 0] * _KEY + at)
            prev = np.searchsorted(ch.key, c[:, 0] * _KEY + at - 60, side="right") - 1
            ok0 = listed & ~hit & (prev >= lo[:, 0]) & (prev < hi[:, 0])
            prev = np.clip(prev, 0, last)
            bid[:, 0] = np.where(hit, ch.bid_open[exact], np.where(ok0, ch.bid_close[prev], np.nan))
            ask[:, 0] = np.where(hit, ch.ask_open[exact], np.where(ok0, ch.ask_close[prev], np.nan))
            prev_end = (ch.key[prev] - c[:, 0] * _KEY) + ch.base + 60
            updated[:, 0] = np.where(hit, open_s, np.where(ok0, prev_end, -1))
        arrays = [strikes / DECI_CENTS_PER_DOLLAR, listed, bid.T.copy(), ask.T.copy(), updated.T.copy()]
        _frozen(*arrays)
        return QuoteGrid(expiry, open_s, *arrays)


def read_option_quotes(path: str | Path) -> OptionQuoteFile:
    """Parse (once; cached on path and mtime) a LEAN minute option quote zip:
    `option/usa/minute/<root>/<YYYYMMDD>_quote_american.zip` or `indexoption/.../<YYYYMMDD>_quote_european.zip`."""
    path = Path(path)
    mtime = _stat(path)
    return _load_quotes(str(path.resolve()), mtime)


@lru_cache(maxsize=8)
def _load_quotes(path: str, mtime_ns: int) -> OptionQuoteFile:
    found = _QUOTE_ZIP.fullmatch(Path(path).name)
    if not found:
        raise SimDataError(f"{path}: file name is not <YYYYMMDD>_quote_<american|european>.zip")
    day = _file_date(path, found.group(1), "file name")
    style = found.group(2).lower()
    with _open_zip(path) as zf:
        names = _entry_names(zf)
        if not names:
            raise SimDataError(f"{path}: the zip holds no option entries")
        roots, expiry, strike, put = set(), [], [], []
        for name in names:
            entry = _QUOTE_ENTRY.fullmatch(name)
            if not entry:
                raise SimDataError(
                    f"{path}: entry {name}: name is not "
                    "<YYYYMMDD>_<root>_minute_quote_<american|european>_<call|put>_<strike*10000>_<YYYYMMDD>.csv"
                )
            if _file_date(path, entry.group(1), f"entry {name}") != day:
                raise SimDataError(f"{path}: entry {name}: date differs from the file name's {day.isoformat()}")
            if entry.group(3).lower() != style:
                raise SimDataError(f"{path}: entry {name}: style differs from the file name's {style}")
            roots.add(entry.group(2).upper())
            put.append(entry.group(4).lower() == "put")
            strike.append(int(entry.group(5)))
            expiry.append(_file_date(path, entry.group(6), f"entry {name} expiry").toordinal())
        if len(roots) > 1:
            raise SimDataError(f"{path}: entries of several roots: {', '.join(sorted(roots))}")
        chunks = [_read_entry(path, zf, name) for name in names]
    expiry_a, strike_a, put_a = np.array(expiry), np.array(strike, dtype=np.int64), np.array(put)
    contract_ids = np.stack([expiry_a, strike_a, put_a.astype(np.int64)], axis=1)
    uniq, counts = np.unique(contract_ids, axis=0, return_counts=True)
    if (counts > 1).any():
        e, k, p = uniq[int(np.argmax(counts > 1))]
        raise SimDataError(
            f"{path}: contract {'put' if p else 'call'} {k / DECI_CENTS_PER_DOLLAR:g} "
            f"exp {date.fromordinal(int(e)).isoformat()} appears in several entries"
        )

    rows = _Rows(path, names, chunks, QUOTE_FIELDS)
    ts = rows.times(day, OPTION_TIME_ZONE)
    v = rows.values
    sides = {}
    for side, first in (("bid", 1), ("ask", 6)):
        px, size = v[:, first : first + 4], v[:, first + 4]
        empty = np.isnan(px)
        rows.check(empty.any(axis=1) & ~empty.all(axis=1), f"{side} side partly empty (all four prices or none)")
        with np.errstate(invalid="ignore"):
            rows.check(
                ~empty.any(axis=1) & ~(_whole(px) & (px >= 0)).all(axis=1),
                f"{side} price is not a whole number of deci-cents >= 0",
            )
            rows.check(np.isnan(size) | ~_whole(size) | (size < 0), f"{side} size must be a whole number >= 0")
        sides[side] = (px[:, 0] / DECI_CENTS_PER_DOLLAR, px[:, 3] / DECI_CENTS_PER_DOLLAR)
    (bid_o, bid_c), (ask_o, ask_c) = sides["bid"], sides["ask"]
    crossed = int(((bid_o > ask_o) | (bid_c > ask_c)).sum())

    base = int(_minute_epochs(day, OPTION_TIME_ZONE)[0]) - 86_400
    key = rows.entry * _KEY + (ts - base)
    arrays = [np.ascontiguousarray(a) for a in (expiry_a, strike_a, put_a, rows.first, key, bid_o, ask_o, bid_c, ask_c)]
    _frozen(*arrays)
    expiry_c, strike_c, put_c, first_c, key_c, bid_o_c, ask_o_c, bid_c_c, ask_c_c = arrays
    chain = _Chain(expiry_c, strike_c, put_c, first_c, key_c, base, bid_o_c, ask_o_c, bid_c_c, ask_c_c)
    return OptionQuoteFile(Path(path), day, roots.pop(), style, len(names), len(rows), crossed, chain)


# -------------------------------------------------------------------------------------------- finder


def underlying_bars_path(quote_zip: str | Path, ticker: str) -> Path | None:
    """The minute trade zip of `ticker` on the quote file's day in the same LEAN data root, if it exists:
    `<root>/option/usa/minute/goog/20151224_quote_american.zip` -> `<root>/equity/usa/minute/goog/20151224_trade.zip`,
    `<root>/indexoption/usa/minute/spxw/20210104_quote_european.zip` with "SPX" -> `<root>/index/.../spx/...`."""
    quote_zip = Path(quote_zip)
    found = re.fullmatch(r"(\d{8})_.*\.zip", quote_zip.name, re.IGNORECASE)
    parents = quote_zip.parents
    if not found or len(parents) < 5 or parents[3].name.lower() not in ("option", "indexoption"):
        raise SimDataError(
            f"{quote_zip}: not a LEAN option file (<root>/<option|indexoption>/<market>/<res>/<t>/<date>_*.zip)"
        )
    security = "equity" if parents[3].name.lower() == "option" else "index"
    candidate = (
        parents[4] / security / parents[2].name / parents[1].name / ticker.lower() / f"{found.group(1)}_trade.zip"
    )
    return candidate if candidate.is_file() else None
