"""LEAN minute zips: underlying trade bars and option quote grids, on hand-made zips and on the real shared files."""

from __future__ import annotations

import os
import zipfile
from datetime import date, datetime, time, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

import numpy as np
import pytest

from engine.models import Right
from engine.sim.errors import SimDataError
from engine.sim.lean import (
    OptionQuoteFile,
    QuoteGrid,
    bars_ticker_and_day,
    read_option_quotes,
    underlying_bars,
    underlying_bars_path,
)

ET = ZoneInfo("America/New_York")
CT = ZoneInfo("America/Chicago")
DAY = date(2021, 1, 4)
LEAN = Path(__file__).resolve().parents[3] / "shared" / "data" / "lean"
GOOG_QUOTES = LEAN / "option" / "usa" / "minute" / "goog" / "20151224_quote_american.zip"
GOOG_TRADES = LEAN / "equity" / "usa" / "minute" / "goog" / "20151224_trade.zip"
SPXW_QUOTES = LEAN / "indexoption" / "usa" / "minute" / "spxw" / "20210104_quote_european.zip"
SPX_TRADES = LEAN / "index" / "usa" / "minute" / "spx" / "20210104_trade.zip"


def needs(*paths: Path) -> pytest.MarkDecorator:
    missing = [p for p in paths if not p.is_file()]
    return pytest.mark.skipif(bool(missing), reason=f"shared LEAN data not found: {', '.join(map(str, missing))}")


# ------------------------------------------------------------------------------------------ builders


def epoch(hh: int, mm: int, day: date = DAY, tz: ZoneInfo = ET) -> int:
    return int(datetime.combine(day, time(hh, mm), tzinfo=tz).timestamp())


def ms(hh: int, mm: int) -> int:
    return (hh * 60 + mm) * 60_000


def side(prices: tuple[int, int] | None, size: int) -> str:
    """Four deci-cent prices O,H,L,C from (open, close), or four empty fields and size 0."""
    if prices is None:
        return ",,,,0"
    o, c = prices
    return f"{o},{max(o, c)},{min(o, c)},{c},{size}"


def qrow(hh: int, mm: int, bid: tuple[int, int] | None, ask: tuple[int, int] | None) -> str:
    return f"{ms(hh, mm)},{side(bid, 10)},{side(ask, 20)}"


def entry(
    right: str, strike: float, expiry: date = DAY, day: date = DAY, root: str = "spxw", style: str = "european"
) -> str:
    return f"{day:%Y%m%d}_{root}_minute_quote_{style}_{right}_{round(strike * 10000)}_{expiry:%Y%m%d}.csv"


def write_zip(path: Path, entries: dict[str, str | bytes]) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as zf:
        for name, body in entries.items():
            zf.writestr(name, body)
    return path


def quote_zip(
    folder: Path, contracts: dict[str, list[str]], day: date = DAY, root: str = "spxw", style: str = "european"
) -> Path:
    security = "indexoption" if style == "european" else "option"
    path = folder / "lean" / security / "usa" / "minute" / root / f"{day:%Y%m%d}_quote_{style}.zip"
    return write_zip(path, {name: "".join(r + "\n" for r in rows) for name, rows in contracts.items()})


def one_contract_grid(tmp_path: Path, rows: list[str], minutes: int = 6, open_s: int | None = None) -> QuoteGrid:
    qf = read_option_quotes(quote_zip(tmp_path, {entry("call", 3700): rows}))
    return qf.grid(epoch(9, 30) if open_s is None else open_s, minutes, DAY)


# ------------------------------------------------------------------------------- grid semantics (synthetic)


def test_deci_cents_become_exact_dollars(tmp_path: Path) -> None:
    g = one_contract_grid(tmp_path, [qrow(9, 30, (5000, 18500), (18501, 1))], minutes=2)
    assert g.bid[0, 0] == 0.5 and g.ask[0, 0] == 1.8501  # minute 0: the bar's open
    assert g.bid[1, 0] == 1.85 and g.ask[1, 0] == 0.0001  # minute 1: its close


def test_minute_zero_shows_the_open_of_the_bar_starting_at_the_open(tmp_path: Path) -> None:
    rows = [qrow(9, 29, (100, 200), (300, 400)), qrow(9, 30, (1000, 1100), (2000, 2100))]
    g = one_contract_grid(tmp_path, rows, minutes=2)
    assert (g.bid[0, 0], g.ask[0, 0], g.updated_s[0, 0]) == (0.1, 0.2, epoch(9, 30))
    assert (g.bid[1, 0], g.ask[1, 0], g.updated_s[1, 0]) == (0.11, 0.21, epoch(9, 31))


def test_minute_zero_without_a_bar_at_the_open_shows_the_last_completed_pre_open_bar(tmp_path: Path) -> None:
    rows = [qrow(9, 28, (100, 200), (300, 400)), qrow(9, 31, (1000, 1100), (2000, 2100))]
    g = one_contract_grid(tmp_path, rows, minutes=3)
    # The 09:28 bar ended 09:29 and stands through the missing 09:30 bar; 09:31's close shows at 09:32.
    assert (g.bid[0, 0], g.ask[0, 0], g.updated_s[0, 0]) == (0.02, 0.04, epoch(9, 29))
    assert (g.bid[1, 0], g.ask[1, 0], g.updated_s[1, 0]) == (0.02, 0.04, epoch(9, 29))
    assert (g.bid[2, 0], g.ask[2, 0], g.updated_s[2, 0]) == (0.11, 0.21, epoch(9, 32))


def test_omitted_minutes_carry_the_last_row_with_its_old_time(tmp_path: Path) -> None:
    rows = [qrow(9, 30, (100, 200), (300, 400)), qrow(9, 33, (500, 600), (700, 800))]
    g = one_contract_grid(tmp_path, rows, minutes=6)
    assert list(g.bid[:, 0]) == [0.01, 0.02, 0.02, 0.02, 0.06, 0.06]
    assert list(g.ask[:, 0]) == [0.03, 0.04, 0.04, 0.04, 0.08, 0.08]
    t = epoch(9, 30)
    assert list(g.updated_s[:, 0]) == [t, t + 60, t + 60, t + 60, t + 240, t + 240]


def test_an_empty_side_is_nan_and_never_filled_from_an_older_row(tmp_path: Path) -> None:
    rows = [qrow(9, 30, (100, 200), (300, 400)), qrow(9, 31, None, (500, 600)), qrow(9, 32, (700, 800), None)]
    g = one_contract_grid(tmp_path, rows, minutes=5)
    assert g.bid[1, 0] == 0.02 and g.ask[1, 0] == 0.04
    assert np.isnan(g.bid[2, 0]) and g.ask[2, 0] == 0.06 and g.updated_s[2, 0] == epoch(9, 32)
    assert g.bid[3, 0] == 0.08 and np.isnan(g.ask[3, 0]) and g.updated_s[3, 0] == epoch(9, 33)
    assert g.bid[4, 0] == 0.08 and np.isnan(g.ask[4, 0]) and g.updated_s[4, 0] == epoch(9, 33)


def test_empty_side_at_the_open_bar(tmp_path: Path) -> None:
    g = one_contract_grid(tmp_path, [qrow(9, 29, (100, 200), (300, 400)), qrow(9, 30, None, (500, 600))], minutes=1)
    assert np.isnan(g.bid[0, 0]) and g.ask[0, 0] == 0.05 and g.updated_s[0, 0] == epoch(9, 30)


def test_before_the_first_row_there_is_no_quote(tmp_path: Path) -> None:
    g = one_contract_grid(tmp_path, [qrow(9, 32, (100, 200), (300, 400))], minutes=4)
    assert np.isnan(g.bid[:3, 0]).all() and np.isnan(g.ask[:3, 0]).all()
    assert list(g.updated_s[:, 0]) == [-1, -1, -1, epoch(9, 33)]
    assert g.bid[3, 0] == 0.02


def test_columns_are_strike_major_call_put_pairs(tmp_path: Path) -> None:
    contracts = {  # zip order deliberately unsorted; 3750 has a put only, 3800 a call only
        entry("put", 3800.5): [],
        entry("put", 3750): [qrow(9, 30, (2000, 2000), (2100, 2100))],
        entry("call", 3800.5): [qrow(9, 30, (3000, 3000), (3100, 3100))],
        entry("call", 3700): [qrow(9, 30, (1000, 1000), (1100, 1100))],
        entry("put", 3700): [qrow(9, 30, (1200, 1200), (1300, 1300))],
        entry("call", 3750, expiry=date(2021, 1, 6)): [qrow(9, 30, (9000, 9000), (9100, 9100))],
    }
    qf = read_option_quotes(quote_zip(tmp_path, contracts))
    assert qf.expiries() == (DAY, date(2021, 1, 6))
    g = qf.grid(epoch(9, 30), 1, DAY)
    assert list(g.strikes) == [3700.0, 3750.0, 3800.5]
    assert list(g.listed) == [True, True, False, True, True, True]
    np.testing.assert_array_equal(g.bid[0], [0.1, 0.12, np.nan, 0.2, 0.3, np.nan])  # 3800.5 P listed, never quoted
    assert list(g.updated_s[0]) == [epoch(9, 30)] * 2 + [-1] + [epoch(9, 30)] * 2 + [-1]
    assert g.column(3800.5, Right.PUT) == 5 and g.column(3700, Right.CALL) == 0
    with pytest.raises(KeyError):
        g.column(3725, Right.CALL)
    other = qf.grid(epoch(9, 30), 1, date(2021, 1, 6))
    assert list(other.strikes) == [3750.0] and list(other.listed) == [True, False] and other.bid[0, 0] == 0.9


def test_grid_arrays_are_read_only_and_shaped_minutes_by_columns(tmp_path: Path) -> None:
    g = one_contract_grid(tmp_path, [qrow(9, 30, (100, 200), (300, 400))], minutes=7)
    assert g.bid.shape == g.ask.shape == g.updated_s.shape == (7, 2) and g.updated_s.dtype == np.int64
    for a in (g.strikes, g.listed, g.bid, g.ask, g.updated_s):
        with pytest.raises(ValueError):
            a[0] = 0


def _random_chain(rng: np.random.Generator) -> dict[str, list[str]]:
    """Sparse random quotes 09:25..10:00 (pre-open rows included, later contracts starting after the open),
    with some sides empty."""

    def maybe_side() -> tuple[int, int] | None:
        return None if rng.random() < 0.2 else (int(rng.integers(1, 500)) * 100, int(rng.integers(1, 500)) * 100)

    contracts: dict[str, list[str]] = {}
    for k, (strike, right) in enumerate((s, r) for s in (3690, 3700, 3710) for r in ("call", "put")):
        rows = []
        for minute in range(9 * 60 + 25 + 4 * k, 10 * 60):
            if rng.random() < 0.45:
                rows.append(qrow(minute // 60, minute % 60, maybe_side(), maybe_side()))
        contracts[entry(right, strike)] = rows
    return contracts


def _start(row: str) -> int:
    return epoch(0, 0) + int(row.split(",")[0]) // 1000


def test_no_look_ahead_truncating_the_file_after_minute_m_changes_nothing_up_to_m(tmp_path: Path) -> None:
    rng = np.random.default_rng(11)
    contracts = _random_chain(rng)
    open_s, minutes = epoch(9, 30), 25
    path = quote_zip(tmp_path / "full", contracts)
    full = read_option_quotes(path).grid(open_s, minutes, DAY)
    _assert_matches_reference(full, _reference_grid(path, DAY, open_s, minutes))
    cuts = []
    for m in range(minutes):
        # Keep only bars that had started before minute m began (at m == 0, also the bar starting at the open).
        limit = open_s + 60 * m + (1 if m == 0 else 0)
        cut = {name: [r for r in rows if _start(r) < limit] for name, rows in contracts.items()}
        g = read_option_quotes(quote_zip(tmp_path / f"cut{m}", cut)).grid(open_s, minutes, DAY)
        for a, b in ((full.bid, g.bid), (full.ask, g.ask), (full.updated_s, g.updated_s)):
            np.testing.assert_array_equal(a[: m + 1], b[: m + 1], err_msg=f"minute {m}")
        cuts.append(g)
    assert not np.array_equal(full.updated_s[6:], cuts[5].updated_s[6:])  # the cut files do differ later on
    assert np.isnan(full.bid).any() and (full.updated_s == -1).any() and (full.updated_s[0] < open_s).any()


def test_open_between_minutes_and_late_open(tmp_path: Path) -> None:
    rows = [qrow(9, 30, (100, 200), (300, 400)), qrow(9, 31, (500, 600), (700, 800))]
    qf = read_option_quotes(quote_zip(tmp_path, {entry("call", 3700): rows}))
    g = qf.grid(epoch(9, 31) + 30, 2, DAY)  # 09:31:30: the 09:30 bar is complete, the 09:31 bar is not
    assert (g.bid[0, 0], g.updated_s[0, 0]) == (0.02, epoch(9, 31))
    assert (g.bid[1, 0], g.updated_s[1, 0]) == (0.06, epoch(9, 32))
    late = qf.grid(epoch(16, 0), 1, DAY)
    assert (late.bid[0, 0], late.updated_s[0, 0]) == (0.06, epoch(9, 32))


def test_crossed_quotes_are_kept_and_counted(tmp_path: Path) -> None:
    rows = [
        qrow(9, 30, (100, 200), (300, 400)),
        qrow(9, 31, (100, 900), (300, 400)),  # crossed at the close
        qrow(9, 32, (500, 100), (300, 400)),  # crossed at the open
        qrow(9, 33, (400, 400), (400, 400)),  # locked, not crossed
    ]
    qf = read_option_quotes(quote_zip(tmp_path, {entry("put", 3700): rows}))
    assert qf.crossed_rows == 2 and qf.rows == 4 and qf.contracts == 1
    g = qf.grid(epoch(9, 30), 3, DAY)
    assert (g.bid[2, 1], g.ask[2, 1]) == (0.09, 0.04)


def test_metadata_of_a_quote_file(tmp_path: Path) -> None:
    rows = [qrow(9, 30, (100, 200), (300, 400))]
    day = date(2015, 12, 24)
    path = quote_zip(tmp_path, {entry("call", 750, day, day, "goog", "american"): rows}, day, "goog", "american")
    qf = read_option_quotes(path)
    assert isinstance(qf, OptionQuoteFile)
    assert (qf.path, qf.day, qf.root, qf.style) == (path.resolve(), day, "GOOG", "american")
    assert read_option_quotes(path) is qf  # parsed once


def test_an_edited_file_is_read_again(tmp_path: Path) -> None:
    path = quote_zip(tmp_path, {entry("call", 3700): [qrow(9, 30, (100, 200), (300, 400))]})
    assert read_option_quotes(path).grid(epoch(9, 30), 2, DAY).bid[1, 0] == 0.02
    quote_zip(tmp_path, {entry("call", 3700): [qrow(9, 30, (100, 700), (300, 900))]})
    st = path.stat()
    os.utime(path, ns=(st.st_atime_ns, st.st_mtime_ns + 1_000_000_000))
    assert read_option_quotes(path).grid(epoch(9, 30), 2, DAY).bid[1, 0] == 0.07


# ------------------------------------------------------------------------------------ underlying bars


def test_index_bars_in_chicago_and_equity_bars_in_new_york_land_on_the_same_utc_minute(tmp_path: Path) -> None:
    idx = write_zip(
        tmp_path / "lean/index/usa/minute/spx/20210104_trade.zip",
        {"20210104_spx_minute_trade.csv": f"{ms(8, 30)},3764.61,3769.99,3764.61,3766.63,59\n"},
    )
    eq = write_zip(
        tmp_path / "lean/equity/usa/minute/spy/20210104_trade.zip",
        {
            "20210104_spy_minute_trade.csv": f"{ms(9, 29)},3700000,3700000,3700000,3700000,5\n"
            f"{ms(9, 30)},3701200,3705000,3700100,3704500,1200\n"
        },
    )
    spx, spy = underlying_bars(idx), underlying_bars(eq)
    assert spx.symbol == "SPX" and spy.symbol == "SPY"
    assert spx.ts[0] == spy.ts[1] == epoch(9, 30) == epoch(8, 30, tz=CT)
    assert spy.ts[0] == epoch(9, 29)  # extended-hours rows are kept
    assert (spx.open[0], spx.high[0], spx.low[0], spx.close[0], spx.volume[0]) == (
        3764.61,
        3769.99,
        3764.61,
        3766.63,
        59,
    )
    assert (spy.open[1], spy.high[1], spy.low[1], spy.close[1], spy.volume[1]) == (370.12, 370.5, 370.01, 370.45, 1200)
    assert bars_ticker_and_day(idx) == ("SPX", DAY)
    with pytest.raises(ValueError):
        spy.close[0] = 1.0


def test_kind_can_be_given_explicitly(tmp_path: Path) -> None:
    path = write_zip(tmp_path / "20210104_trade.zip", {"20210104_spx_minute_trade.csv": f"{ms(8, 30)},10,12,9,11,0\n"})
    with pytest.raises(SimDataError, match="pass kind"):
        underlying_bars(path)
    assert underlying_bars(path, kind="index").ts[0] == epoch(9, 30)
    assert underlying_bars(path, kind="equity").ts[0] == epoch(8, 30)
    assert underlying_bars(path, kind="equity").close[0] == 0.0011


def test_underlying_bars_path_maps_option_roots_to_underlyings(tmp_path: Path) -> None:
    root = tmp_path / "lean"
    goog_q = root / "option/usa/minute/goog/20151224_quote_american.zip"
    spxw_q = root / "indexoption/usa/minute/spxw/20210104_quote_european.zip"
    assert underlying_bars_path(goog_q, "GOOG") is None
    goog_t = write_zip(root / "equity/usa/minute/goog/20151224_trade.zip", {"x": ""})
    spx_t = write_zip(root / "index/usa/minute/spx/20210104_trade.zip", {"x": ""})
    assert underlying_bars_path(goog_q, "GOOG") == goog_t
    assert underlying_bars_path(spxw_q, "SPX") == spx_t
    assert underlying_bars_path(spxw_q, "SPXW") is None
    with pytest.raises(SimDataError, match="not a LEAN option file"):
        underlying_bars_path(tmp_path / "20210104_quote_european.zip", "SPX")


# ------------------------------------------------------------------------------------------------ errors


def test_missing_and_non_zip_files(tmp_path: Path) -> None:
    missing = tmp_path / "lean/option/usa/minute/goog/20151224_quote_american.zip"
    with pytest.raises(SimDataError, match=f"{missing}.*cannot read"):
        read_option_quotes(missing)
    with pytest.raises(SimDataError, match="cannot read"):
        underlying_bars(tmp_path / "lean/equity/usa/minute/goog/20151224_trade.zip")
    for path in (missing, tmp_path / "lean/equity/usa/minute/goog/20151224_trade.zip"):
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text("34200000,1,1,1,1,1\n")
    with pytest.raises(SimDataError, match=f"{missing.name}: not a zip file"):
        read_option_quotes(missing)
    with pytest.raises(SimDataError, match="20151224_trade.zip: not a zip file"):
        underlying_bars(tmp_path / "lean/equity/usa/minute/goog/20151224_trade.zip")


def test_a_zip_with_no_option_entries(tmp_path: Path) -> None:
    path = quote_zip(tmp_path, {})
    with pytest.raises(SimDataError, match=f"{path.name}: the zip holds no option entries"):
        read_option_quotes(path)


@pytest.mark.parametrize(
    "name",
    [
        "20210104_spxw_minute_quote_european_call_37000000.csv",
        "20210104_spxw_minute_trade_european_call_37000000_20210104.csv",
        "20210104_spxw_minute_quote_european_straddle_37000000_20210104.csv",
        "20210104_spxw_minute_quote_american_call_37000000_20210104.csv",  # style differs from the file's
        "20210104_spxw_minute_quote_european_call_37000000_20211340.csv",  # not a date
        "readme.txt",
    ],
)
def test_an_entry_name_that_does_not_parse(tmp_path: Path, name: str) -> None:
    path = quote_zip(tmp_path, {entry("call", 3700): [qrow(9, 30, (1, 1), (2, 2))], name: []})
    with pytest.raises(SimDataError, match=f"{path.name}: entry {name}"):
        read_option_quotes(path)


def test_an_entry_of_another_date(tmp_path: Path) -> None:
    other = entry("call", 3700, day=date(2021, 1, 5))
    path = quote_zip(tmp_path, {entry("put", 3700): [], other: [qrow(9, 30, (1, 1), (2, 2))]})
    with pytest.raises(SimDataError, match=f"{path.name}: entry {other}: date differs from the file name's 2021-01-04"):
        read_option_quotes(path)


def test_an_equity_entry_of_another_date(tmp_path: Path) -> None:
    path = write_zip(tmp_path / "lean/equity/usa/minute/spy/20210104_trade.zip", {"20210105_spy_minute_trade.csv": ""})
    with pytest.raises(SimDataError, match="20210104_trade.zip: entry 20210105_spy_minute_trade.csv: date differs"):
        underlying_bars(path)
    with pytest.raises(SimDataError, match="date differs"):
        bars_ticker_and_day(path)


@pytest.mark.parametrize(
    ("line", "why"),
    [
        ("34260000,1,1,1,1,5,2,2,2,2", "10 fields, expected 11"),
        ("34260000,1,1,1,1,5,2,2,2,2,5,7", "12 fields, expected 11"),
        ("", "1 fields, expected 11"),
        ("34260000,1,1,1,abc,5,2,2,2,2,5", "field 5 'abc' is not a number"),
        ("34260000,1,1,1,1.5,5,2,2,2,2,5", "bid price is not a whole number"),
        ("34260000,1,1,1,1,5,2,,2,2,5", "ask side partly empty"),
        ("34260000,1,1,1,1,,2,2,2,2,5", "bid size"),
        ("34230000,1,1,1,1,5,2,2,2,2,5", "time must be a whole minute"),
        ("34200000,1,1,1,1,5,2,2,2,2,5", "time not after the previous row"),
    ],
)
def test_a_malformed_row_names_file_entry_and_line(tmp_path: Path, line: str, why: str) -> None:
    good = entry("call", 3700)
    bad = entry("put", 3700)
    rows = [qrow(9, 30, (1, 1), (2, 2)), line, qrow(9, 32, (1, 1), (2, 2))]
    path = quote_zip(tmp_path, {good: [qrow(9, 30, (1, 1), (2, 2))], bad: rows})
    with pytest.raises(SimDataError, match=f"{path.name}: entry {bad}: line 2: {why}") as err:
        read_option_quotes(path)
    assert repr(line) in str(err.value)


def test_a_malformed_bar_names_file_entry_and_line(tmp_path: Path) -> None:
    name = "20210104_spy_minute_trade.csv"
    path = write_zip(
        tmp_path / "lean/equity/usa/minute/spy/20210104_trade.zip",
        {name: f"{ms(9, 30)},100,120,90,110,5\n{ms(9, 31)},100,120,105,110,5\n"},
    )
    with pytest.raises(SimDataError, match=f"{path.name}: entry {name}: line 2: high/low"):
        underlying_bars(path)


def test_a_grid_of_an_expiry_the_file_does_not_hold(tmp_path: Path) -> None:
    path = quote_zip(tmp_path, {entry("call", 3700): [qrow(9, 30, (1, 1), (2, 2))]})
    with pytest.raises(
        SimDataError, match=f"{path.name}: no contracts expiring 2021-01-05 \\(the file holds 2021-01-04\\)"
    ):
        read_option_quotes(path).grid(epoch(9, 30), 10, date(2021, 1, 5))


# ------------------------------------------------------------------------------------------ real files


def _raw_rows(zf: zipfile.ZipFile, name: str) -> list[list[str]]:
    return [line.split(",") for line in zf.read(name).decode().splitlines()]


def _reference_grid(path: Path, expiry: date, open_s: int, minutes: int) -> dict[tuple[float, str], list[tuple]]:
    """Straight from the spec, one contract and one minute at a time: (bid, ask, updated_s) per minute."""
    day = datetime.strptime(path.name[:8], "%Y%m%d").date()
    out: dict[tuple[float, str], list[tuple]] = {}
    with zipfile.ZipFile(path) as zf:
        for name in zf.namelist():
            parts = name[:-4].split("_")
            if parts[-1] != f"{expiry:%Y%m%d}":
                continue
            bars = []
            for f in _raw_rows(zf, name):
                start = int(
                    (datetime.combine(day, time()) + timedelta(milliseconds=int(f[0]))).replace(tzinfo=ET).timestamp()
                )
                bars.append((start, f))

            def px(s: str) -> float:
                return float("nan") if s == "" else int(s) / 10000

            cells = []
            for m in range(minutes):
                s = open_s + 60 * m
                at_open = [f for start, f in bars if start == s] if m == 0 else []
                done = [(start, f) for start, f in bars if start <= s - 60]
                if at_open:
                    cells.append((px(at_open[0][1]), px(at_open[0][6]), s))
                elif done:
                    start, f = done[-1]
                    cells.append((px(f[4]), px(f[9]), start + 60))
                else:
                    cells.append((float("nan"), float("nan"), -1))
            out[(int(parts[-2]) / 10000, parts[-3])] = cells
    return out


def _assert_matches_reference(g: QuoteGrid, ref: dict[tuple[float, str], list[tuple]]) -> None:
    assert int(g.listed.sum()) == len(ref)
    for (strike, right), cells in ref.items():
        col = g.column(strike, Right.CALL if right == "call" else Right.PUT)
        bid, ask, upd = (np.array(x) for x in zip(*cells, strict=True))
        np.testing.assert_array_equal(g.bid[:, col], bid, err_msg=f"{strike} {right}")
        np.testing.assert_array_equal(g.ask[:, col], ask, err_msg=f"{strike} {right}")
        np.testing.assert_array_equal(g.updated_s[:, col], upd, err_msg=f"{strike} {right}")


@needs(GOOG_QUOTES)
def test_goog_0dte_chain() -> None:
    day = date(2015, 12, 24)
    qf = read_option_quotes(GOOG_QUOTES)
    assert (qf.day, qf.root, qf.style, qf.contracts) == (day, "GOOG", "american", 2192)
    assert qf.expiries()[0] == day and len(qf.expiries()) == 12
    open_s = epoch(9, 30, day)
    g = qf.grid(open_s, 210, day)  # half day, 09:30-13:00
    assert len(g.strikes) == 88 and g.listed.all() and g.strikes[0] == 590.0 and g.strikes[-1] == 1000.0
    assert (np.diff(g.strikes[(g.strikes >= 692.5) & (g.strikes <= 787.5)]) == 2.5).all()
    c750 = g.column(750, Right.CALL)
    # raw 750 C 09:30 row: 34200000,14000,14000,8000,10000,15,18000,19000,17500,18500,11
    assert (g.bid[0, c750], g.ask[0, c750], g.updated_s[0, c750]) == (1.40, 1.80, open_s)
    assert (g.bid[1, c750], g.ask[1, c750], g.updated_s[1, c750]) == (1.00, 1.85, open_s + 60)
    # raw 09:31 row: 34260000,11000,13000,11000,11000,20,19500,20000,18000,18000,21
    assert (g.bid[2, c750], g.ask[2, c750]) == (1.10, 1.80)


@needs(GOOG_QUOTES)
def test_goog_0dte_grid_equals_a_minute_by_minute_reading_of_the_raw_rows() -> None:
    day = date(2015, 12, 24)
    open_s = epoch(9, 30, day)
    g = read_option_quotes(GOOG_QUOTES).grid(open_s, 215, day)
    _assert_matches_reference(g, _reference_grid(GOOG_QUOTES, day, open_s, 215))
    assert np.isnan(g.bid).sum() > 0  # wings with no bid exist in this file


@needs(SPXW_QUOTES)
def test_spxw_0dte_chain_stops_quoting_at_15_59() -> None:
    qf = read_option_quotes(SPXW_QUOTES)
    assert qf.root == "SPXW" and qf.style == "european"
    assert qf.expiries() == (DAY, date(2021, 1, 6), date(2021, 1, 8))
    open_s, minutes = epoch(9, 30), 405  # through 16:14
    g = qf.grid(open_s, minutes, DAY)
    assert list(g.strikes) == [3700.0, 3800.0] and g.listed.all()
    p3700 = g.column(3700, Right.PUT)
    # raw 3700 P 09:30 row: 34200000,3500,4000,3500,3500,463,5000,5500,5000,5000,272
    assert (g.bid[0, p3700], g.ask[0, p3700], g.bid[1, p3700], g.ask[1, p3700]) == (0.35, 0.50, 0.35, 0.50)
    # raw 3700 P last row: 57540000 (15:59),7500,14500,6500,6500,47,10000,33000,7000,13000,2
    last = epoch(16, 0) - open_s
    assert (g.updated_s[last // 60 :, p3700] == epoch(16, 0)).all()
    assert (g.bid[last // 60 :, p3700] == 0.65).all() and (g.ask[last // 60 :, p3700] == 1.30).all()
    assert g.updated_s[:, [0, 1, 3]].max() == epoch(16, 0)  # 3700 C/P and 3800 P: last bar 15:59
    later = qf.grid(open_s, minutes + 1, date(2021, 1, 6))
    assert later.updated_s.max() == epoch(16, 15)  # the 01-06 expiry has a 16:14 bar, shown at 16:15
    _assert_matches_reference(g, _reference_grid(SPXW_QUOTES, DAY, open_s, minutes))


@needs(SPX_TRADES)
def test_spx_index_bars() -> None:
    bars = underlying_bars(SPX_TRADES)
    assert bars.symbol == "SPX" and len(bars) == 411  # 08:30-15:20 CT
    # raw first row: 30600000,3764.61,3769.99,3764.61,3766.63,59 (08:30 CT)
    assert bars.ts[0] == epoch(9, 30) and bars.open[0] == 3764.61 and bars.close[0] == 3766.63
    assert bars.ts[-1] == epoch(16, 20)
    assert bars_ticker_and_day(SPX_TRADES) == ("SPX", DAY)


@needs(GOOG_TRADES)
def test_goog_equity_bars_keep_extended_hours() -> None:
    day = date(2015, 12, 24)
    bars = underlying_bars(GOOG_TRADES)
    assert bars.symbol == "GOOG" and len(bars) == 227
    # raw rows: 34080000,7503000,... (09:28) and 34200000,7495500,7499900,7485400,7485400,11492 (09:30)
    assert bars.ts[0] == epoch(9, 28, day) and bars.open[0] == 750.30
    i = int(np.searchsorted(bars.ts, epoch(9, 30, day)))
    assert (bars.open[i], bars.high[i], bars.low[i], bars.close[i], bars.volume[i]) == (
        749.55,
        749.99,
        748.54,
        748.54,
        11492,
    )


@needs(GOOG_QUOTES, SPXW_QUOTES, GOOG_TRADES, SPX_TRADES)
def test_underlying_bars_path_on_the_real_tree() -> None:
    assert underlying_bars_path(GOOG_QUOTES, "GOOG") == GOOG_TRADES
    assert underlying_bars_path(SPXW_QUOTES, "SPX") == SPX_TRADES
