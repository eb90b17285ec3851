"""Runs on real option quotes (the examples), and the data errors that must stop a run before it starts.

The example runs need ../shared/data and skip, naming the missing file, without it; the bad-data cases build
their own small files and always run. Fill prices are checked against the raw zip rows read here, not the loader.
"""

from __future__ import annotations

import csv
import io
import json
import subprocess
import sys
import zipfile
from pathlib import Path
from typing import Any

import pytest
import yaml

from engine.occ import parse_occ
from tests.sim.test_lean import entry, qrow, quote_zip, write_zip

REPO_ROOT = Path(__file__).resolve().parents[1]
RUN_PY = str(REPO_ROOT / "run.py")
LEAN = REPO_ROOT.parent / "shared" / "data" / "lean"
GOOG_QUOTES = LEAN / "option" / "usa" / "minute" / "goog" / "20151224_quote_american.zip"
SPXW_QUOTES = LEAN / "indexoption" / "usa" / "minute" / "spxw" / "20210104_quote_european.zip"
OPEN_MS = 34_200_000


def run(*args: str, cwd: Path = REPO_ROOT) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, RUN_PY, *args], cwd=cwd, capture_output=True, text=True, timeout=180)


def records(journal: Path) -> list[dict[str, Any]]:
    return [r for r in map(json.loads, journal.read_text().splitlines()) if r["kind"] != "input"]


def shown(zf: zipfile.ZipFile, symbol: str, minute: int) -> tuple[float | None, float | None]:
    """(bid, ask) the raw file shows during regular-session minute `minute`: the close of the last bar completed
    by the minute's start (at the bell, the open of the 09:30 bar); an empty side is None."""
    c = parse_occ(symbol)
    name = entry("call" if c.right == "C" else "put", c.strike, c.expiry, c.expiry, c.underlying.lower(), "american")
    rows = list(csv.reader(io.TextIOWrapper(zf.open(name))))
    start = OPEN_MS + 60_000 * minute
    if minute == 0:
        chosen, bid_i, ask_i = [r for r in rows if int(r[0]) == OPEN_MS], 1, 6
    else:
        chosen, bid_i, ask_i = [r for r in rows if int(r[0]) <= start - 60_000][-1:], 4, 9
    if not chosen:
        return None, None
    row = chosen[0]
    return (int(row[bid_i]) / 10_000 if row[bid_i] else None), (int(row[ask_i]) / 10_000 if row[ask_i] else None)


def minute_of(ts: str) -> int:
    hh, mm = int(ts[11:13]), int(ts[14:16])
    return (hh * 60 + mm) - (9 * 60 + 30)


@pytest.fixture(scope="module")
def goog_day(tmp_path_factory: pytest.TempPathFactory) -> tuple[subprocess.CompletedProcess[str], Path]:
    if not GOOG_QUOTES.is_file():
        pytest.skip(f"../shared/data not present: {GOOG_QUOTES} is missing")
    logs = tmp_path_factory.mktemp("goog")
    return run("--config", "examples/goog-20151224.yaml", "--logs-dir", str(logs)), logs / "audit-20151224.jsonl"


def test_the_goog_example_trades_its_real_chain_to_shutting_down(
    goog_day: tuple[subprocess.CompletedProcess[str], Path],
) -> None:
    done, journal = goog_day
    assert done.returncode == 0, done.stderr
    recs = records(journal)
    transitions = [r for r in recs if r["kind"] == "transition"]
    assert transitions[-1]["dest"] == "ShuttingDown"
    assert any(t["trigger"] == "signal" for t in transitions)
    # The 13:00 early close moves the hard exit to 12:15.
    assert "hard exit 12:15" in transitions[1]["reason"]
    assert run("journal", "verify", str(journal)).returncode == 0
    replayed = run("replay", str(journal), "--verify", "--config", "examples/goog-20151224.yaml")
    assert replayed.returncode == 0 and "identical" in replayed.stdout, replayed.stdout + replayed.stderr


def test_every_goog_fill_is_at_the_bid_and_ask_the_file_shows(
    goog_day: tuple[subprocess.CompletedProcess[str], Path],
) -> None:
    _, journal = goog_day
    recs = [r for r in records(journal) if r["kind"] == "order"]
    sides = {r["client_order_id"]: dict(s.split(":")[::-1] for s in r["legs"]) for r in recs if r["event"] == "submit"}
    sent = {r["client_order_id"]: minute_of(r["ts"]) for r in recs if r["event"] == "submit"}
    fills = [r for r in recs if r["event"] == "fill"]
    assert fills, "the example day made no fill to check"
    with zipfile.ZipFile(GOOG_QUOTES) as zf:
        for fill in fills:
            cid, legs = fill["client_order_id"], fill["leg_prices"]

            def at_minute(m: int, cid: str = cid, legs: dict[str, float] = legs) -> bool:
                for symbol, price in legs.items():
                    bid, ask = shown(zf, symbol, m)
                    wanted = ask if sides[cid][symbol] == "buy" else (0.0 if bid is None else bid)
                    if wanted is None or abs(wanted - price) > 1e-9:
                        return False
                return True

            minutes = range(sent[cid], minute_of(fill["ts"]) + 1)
            assert any(at_minute(m) for m in minutes), f"{cid}: {legs} is no minute's bid/ask in the file"


def test_the_spxw_example_runs_on_spx_and_says_why_it_trades_nothing(tmp_path: Path) -> None:
    if not SPXW_QUOTES.is_file():
        pytest.skip(f"../shared/data not present: {SPXW_QUOTES} is missing")
    done = run("--config", "examples/spxw-20210104.yaml", "--logs-dir", str(tmp_path))
    assert done.returncode == 0, done.stderr
    journal = tmp_path / "audit-20210104.jsonl"
    assert [r for r in records(journal) if r["kind"] == "transition"][-1]["dest"] == "ShuttingDown"
    assert "no entry:" in done.stderr
    assert run("replay", str(journal), "--verify").returncode == 0


# ------------------------------------------------------------------------------------------ bad data


def config_with(tmp_path: Path, sim: dict[str, Any], **top: Any) -> Path:
    raw = yaml.safe_load((REPO_ROOT / "config.yaml").read_text())
    raw["sim"].update(sim)
    raw.update(top)
    raw["logs_dir"] = str(tmp_path / "logs")
    raw["risk"]["kill_file"] = str(tmp_path / "KILL")
    path = tmp_path / "bad.yaml"
    path.write_text(yaml.safe_dump(raw))
    return path


def spxw_tree(tmp_path: Path) -> Path:
    """A tiny LEAN tree: SPXW quotes of 2021-01-04 and the SPX bars beside them."""
    quotes = quote_zip(tmp_path, {entry("put", 3700): [qrow(9, 30, (3500, 3500), (5000, 5000))]})
    bars_zip = tmp_path / "lean" / "index" / "usa" / "minute" / "spx" / "20210104_trade.zip"
    rows = "".join(f"{30_600_000 + 60_000 * i},3750.0,3751.0,3749.0,3750.5,0\n" for i in range(390))
    write_zip(bars_zip, {"20210104_spx_minute_trade.csv": rows})
    return quotes


@pytest.mark.parametrize(
    ("case", "want"),
    [
        ("missing bars file", "cannot read bars file"),
        ("wrong columns", "missing column"),
        ("date not in the file", "no bars for 2025-07-02"),
        ("quotes of another day", "holds quotes of 2021-01-04, not of 2021-01-05"),
        ("quotes of another underlying", "holds SPXW options, the config trades SPY"),
    ],
)
def test_bad_data_is_a_start_up_error_naming_the_file(tmp_path: Path, case: str, want: str) -> None:
    csv_file = tmp_path / "bars.csv"
    if case == "missing bars file":
        cfg, named = config_with(tmp_path, {"bars": str(csv_file)}), csv_file
    elif case == "wrong columns":
        csv_file.write_text("time,o,h,l,c,v\n2025-07-01 09:30:00,1,1,1,1,1\n")
        cfg, named = config_with(tmp_path, {"bars": str(csv_file)}), csv_file
    elif case == "date not in the file":
        minutes = [f"{9 + (30 + i) // 60:02d}:{(30 + i) % 60:02d}" for i in range(60)]
        rows = "".join(f"2025-07-01 {hhmm}:00,600,601,599,600,100\n" for hhmm in minutes)
        csv_file.write_text("date,Open,High,Low,Close,Volume\n" + rows)
        cfg, named = config_with(tmp_path, {"bars": str(csv_file)}, session={"date": "2025-07-01", "days": 2}), csv_file
    else:
        quotes = spxw_tree(tmp_path)
        day = "2021-01-05" if case == "quotes of another day" else "2021-01-04"
        top: dict[str, Any] = {"session": {"date": day, "days": 1}}
        if case == "quotes of another day":
            top.update(underlying="SPX", instrument={"root": "SPXW"})
        cfg, named = config_with(tmp_path, {"quotes": str(quotes)}, **top), quotes
    done = run("--config", str(cfg))
    assert done.returncode == 2, done.stdout + done.stderr
    assert want in done.stderr and str(named) in done.stderr
    assert "Traceback" not in done.stderr
    assert not list((tmp_path / "logs").glob("audit-*.jsonl"))  # nothing ran, so no journal was started


def test_a_quote_file_holds_one_day_so_it_runs_one_session(tmp_path: Path) -> None:
    cfg = config_with(tmp_path, {"quotes": str(spxw_tree(tmp_path))}, session={"date": "2021-01-04", "days": 2})
    done = run("--config", str(cfg))
    assert done.returncode == 2 and "session.days must be 1 with sim.quotes" in done.stderr


def test_the_contract_multiplier_is_the_instruments_in_the_book_and_at_the_exchange(tmp_path: Path) -> None:
    """With 10-share contracts the engine's trade P&L (its book) must equal the account's change (the exchange):
    were either still counting 100 shares a contract, the two would differ tenfold."""
    path = tmp_path / "mini.yaml"
    raw = yaml.safe_load((REPO_ROOT / "config.yaml").read_text())
    raw["instrument"] = {"multiplier": 10}
    raw["logs_dir"], raw["risk"]["kill_file"] = str(tmp_path / "logs"), str(tmp_path / "KILL")
    path.write_text(yaml.safe_dump(raw))
    done = run("--config", str(path))
    assert done.returncode == 0, done.stderr
    report = json.loads((tmp_path / "logs" / "report-20250701.json").read_text())
    assert report["trade_count"] >= 1 and report["open_at_end"] == []
    assert report["realized_pnl"] == pytest.approx(report["total_pnl"], abs=0.01)
    for t in report["trades"]:
        assert t["pnl"] == pytest.approx(-(t["entry_price"] + t["exit_price"]) * 10 * t["qty"], abs=0.01)
