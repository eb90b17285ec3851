"""`run.py replay FILE`: one row per transition (market time, source -> dest, trigger, spot, P&L, reason), the
--from/--to/--state filters, and --json whose summary agrees with the journal and with the day's report."""

from __future__ import annotations

import json
import re
from datetime import time
from typing import Any

ROW = re.compile(
    r"^\s*(?P<seq>\d+)  (?P<time>\d\d:\d\d:\d\d)  (?P<source>\S+) -> (?P<dest>\S+)\s+(?P<trigger>\S+)\s+"
    r"(?P<rest>.*)$"
)


def rows_of(out: str) -> list[dict[str, str]]:
    """The timeline rows of the text output (between the header line and the blank line before the summary)."""
    lines = out.splitlines()
    assert lines[0].split() == ["seq", "time", "move", "trigger", "spot", "P&L", "reason"]
    rows = []
    for line in lines[1 : lines.index("")]:
        m = ROW.match(line)
        assert m, f"not a timeline row: {line!r}"
        rows.append(m.groupdict())
    return rows


def transitions(records: list[dict[str, Any]]) -> list[dict[str, Any]]:
    return [r for r in records if r["kind"] == "transition"]


def at(r: dict[str, Any]) -> time:
    return time.fromisoformat(r["ts"][11:19])


def expected_rest(r: dict[str, Any]) -> list[str]:
    """spot, P&L and reason as the row prints them (blank while unknown, e.g. the spot before the first bar)."""
    snap = r["snapshot"]
    parts = [] if snap["underlying_price"] is None else [f"{snap['underlying_price']:.2f}"]
    parts += [] if snap["daily_pnl"] is None else [f"{snap['daily_pnl']:+.2f}"]
    return parts + r["reason"].split()


def test_timeline_prints_one_row_per_transition(sim_day, helpers, run_py) -> None:
    records = helpers.records_of(sim_day.journal())
    moves = transitions(records)
    assert not [r for r in records if r["kind"] in ("refused", "error")]  # a clean day: only transitions
    done = run_py("replay", sim_day.journal())
    assert done.returncode == 0, done.stderr
    rows = rows_of(done.stdout)
    assert len(rows) == len(moves) >= 5
    for row, rec in zip(rows, moves, strict=True):
        assert int(row["seq"]) == rec["seq"]
        assert row["time"] == rec["ts"][11:19]  # market time (US/Eastern), as recorded
        assert (row["source"], row["dest"], row["trigger"]) == (rec["source"], rec["dest"], rec["trigger"])
        assert row["rest"].split() == expected_rest(rec)
    assert any(r["snapshot"]["underlying_price"] is not None for r in moves)
    orders = [r for r in records if r["kind"] == "order"]
    submits = sum(r["event"] == "submit" for r in orders)
    fills = sum(r["event"] == "fill" for r in orders)
    assert f"{len(moves)} transitions, {submits} orders submitted, {fills} fills;" in done.stdout
    assert f"final state {moves[-1]['dest']}" in done.stdout


def test_from_to_keeps_the_rows_inside_the_window(sim_day, helpers, cli) -> None:
    records = helpers.records_of(sim_day.journal())
    code, out, _ = cli("replay", sim_day.journal(), "--from", "10:00", "--to", "11:00")
    assert code == 0
    rows = rows_of(out)
    want = [r for r in transitions(records) if time(10, 0) <= at(r) <= time(11, 0)]
    assert [int(r["seq"]) for r in rows] == [r["seq"] for r in want]
    assert rows and all("10:00:00" <= r["time"] <= "11:00:00" for r in rows)
    outside = [r for r in transitions(records) if not time(10, 0) <= at(r) <= time(11, 0)]
    assert outside, "the day should have moves outside the window too"


def test_from_alone_and_to_alone(sim_day, helpers, cli) -> None:
    records = helpers.records_of(sim_day.journal())
    _, out, _ = cli("replay", sim_day.journal(), "--from", "12:00")
    assert [int(r["seq"]) for r in rows_of(out)] == [r["seq"] for r in transitions(records) if at(r) >= time(12)]
    _, out, _ = cli("replay", sim_day.journal(), "--to", "09:59")
    assert [r["time"] for r in rows_of(out)] == [r["ts"][11:19] for r in transitions(records) if at(r) <= time(9, 59)]


def test_state_keeps_the_moves_from_or_to_that_state(sim_day, helpers, cli) -> None:
    records = helpers.records_of(sim_day.journal())
    code, out, _ = cli("replay", sim_day.journal(), "--state", "Monitoring")
    assert code == 0
    rows = rows_of(out)
    want = [r for r in transitions(records) if "Monitoring" in (r["source"], r["dest"])]
    assert len(rows) == len(want) >= 2
    assert [(r["source"], r["dest"], r["trigger"]) for r in rows] == [
        (r["source"], r["dest"], r["trigger"]) for r in want
    ]
    assert all("Monitoring" in (r["source"], r["dest"]) for r in rows)


def test_state_and_window_together(sim_day, helpers, cli) -> None:
    records = helpers.records_of(sim_day.journal())
    _, out, _ = cli("replay", sim_day.journal(), "--state", "Scanning", "--from", "10:00", "--to", "10:30")
    want = [
        r for r in transitions(records) if "Scanning" in (r["source"], r["dest"]) and time(10) <= at(r) <= time(10, 30)
    ]
    assert [int(r["seq"]) for r in rows_of(out)] == [r["seq"] for r in want]


def test_json_output_parses_and_its_counts_match_the_journal_and_the_report(sim_day, helpers, cli) -> None:
    records = helpers.records_of(sim_day.journal())
    code, out, _ = cli("replay", sim_day.journal(), "--json")
    assert code == 0
    data = json.loads(out)
    moves = transitions(records)
    assert [r["seq"] for r in data["timeline"]] == [r["seq"] for r in moves]
    for row, rec in zip(data["timeline"], moves, strict=True):
        assert row["ts"] == rec["ts"] and (row["source"], row["dest"]) == (rec["source"], rec["dest"])
        assert row["underlying"] == rec["snapshot"]["underlying_price"]
        assert row["daily_pnl"] == rec["snapshot"]["daily_pnl"]
    summ = data["summary"]
    submits = sum(1 for r in records if r["kind"] == "order" and r["event"] == "submit")
    fills = sum(1 for r in records if r["kind"] == "order" and r["event"] == "fill")
    assert (summ["transitions"], summ["orders_submitted"], summ["fills"]) == (len(moves), submits, fills)
    report = sim_day.report()  # counted by the runner as it went, not from the journal
    assert (summ["transitions"], summ["orders_submitted"], summ["fills"]) == (
        report["transitions"],
        report["orders_submitted"],
        report["fills"],
    )
    assert summ["final_state"] == report["end_state"]
    assert summ["realized_pnl"] == report["realized_pnl"]


def test_json_output_with_a_filter_keeps_the_whole_day_summary(sim_day, cli) -> None:
    _, whole, _ = cli("replay", sim_day.journal(), "--json")
    _, some, _ = cli("replay", sim_day.journal(), "--json", "--state", "Entering")
    whole, some = json.loads(whole), json.loads(some)
    assert some["summary"] == whole["summary"]
    assert 0 < len(some["timeline"]) < len(whole["timeline"])
    assert all("Entering" in (r["source"], r["dest"]) for r in some["timeline"])
