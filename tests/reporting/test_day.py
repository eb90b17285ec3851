"""The day's report is built from the journal alone: its figures are the journal's, a rebuild is the report,
and the success metrics follow their written definitions (checked on hand-made records)."""

from __future__ import annotations

from datetime import date, datetime
from pathlib import Path
from typing import Any

import pytest

from engine.calendar import ET
from engine.config import Config, parse_config
from engine.journal.audit import json_form, read_journal
from engine.journal.codec import encode_args
from engine.models import Intent, Leg, OrderRequest, Side
from engine.reporting.day import Calls, build_day, exit_kind, intervals, metrics
from engine.reporting.files import write_day
from tests.reporting.conftest import run_session


def journal(report_path: Path) -> list[dict[str, Any]]:
    [path] = sorted(report_path.parent.glob("audit-*.jsonl"))
    return read_journal(path)[0]


def test_the_trades_and_pnl_are_the_journals(default_day) -> None:
    logs, report = default_day
    records = journal(logs)
    closed = [r for r in records if r["kind"] == "closed"]
    assert closed, "the default day trades once"
    assert [t["pnl"] for t in report["trades"]] == [r["pnl"] for r in closed]
    assert [(t["entry_time"], t["exit_time"]) for t in report["trades"]] == [
        (r["entry_time"], r["exit_time"]) for r in closed
    ]
    assert report["realized_pnl"] == round(sum(r["pnl"] for r in closed), 2)
    fills = [r for r in records if r["kind"] == "order" and r.get("event") == "fill"]
    assert report["trades"][0]["entry_price"] == fills[0]["price"]
    assert report["trades"][0]["exit_price"] == fills[-1]["price"]
    first_submit = next(r for r in records if r["kind"] == "order" and r.get("event") == "submit")
    t = report["trades"][0]
    assert t["entry_mid"] == first_submit["mid"]
    assert t["entry_slippage"] == pytest.approx((t["entry_price"] - t["entry_mid"]) * 100 * t["qty"])
    assert t["premium_kind"] == "credit" and t["premium"] == -t["entry_price"]
    assert t["max_risk"] == pytest.approx((t["strikes"][1] - t["strikes"][0] - t["premium"]) * 100 * t["qty"])


def test_a_rebuild_from_the_journal_is_the_report(default_day) -> None:
    logs, report = default_day
    rebuilt = build_day(journal(logs))
    assert rebuilt == {k: v for k, v in report.items() if k != "charts"}


def test_time_in_state_leaves_out_the_hours_before_the_open(default_day) -> None:
    """The simulated clock starts at 09:00: only the half hour from the 09:30 open is time in AwaitingOpen."""
    _, report = default_day
    assert report["seconds_in_state"]["AwaitingOpen"] == 1800.0
    assert report["timeline"][0]["start"] == "2025-07-01T09:00:00-04:00"


def test_the_series_are_the_recorded_markets(default_day) -> None:
    logs, report = default_day
    points = report["series"]["underlying"]
    assert points == sorted(points) and len(points) > 200
    opened = next(r for r in journal(logs) if r["kind"] == "opened")
    entry = datetime.fromisoformat(opened["entry_time"]).timestamp()
    recent = {c for t, c in points if entry - 180 <= t < entry}
    assert opened["spot"] in recent, "the spot journaled at the entry is one of the last bars the engine had"
    marks, trade = report["series"]["trades"]["1"], report["trades"][0]
    assert marks and trade["entry_time"] <= marks[0][0] and marks[-1][0] <= trade["exit_time"]
    assert marks[-1][2] == pytest.approx((marks[-1][1] - trade["entry_price"]) * 100 * trade["qty"])


# --- the metrics on hand-made records ------------------------------------------------------------

DAY = date(2025, 7, 1)


def at(hh: int, mm: int = 0) -> str:
    return datetime(2025, 7, 1, hh, mm, tzinfo=ET).isoformat()


def header(ts: str, state: str = "Initializing") -> dict[str, Any]:
    return {"kind": "header", "ts": ts, "session_date": "2025-07-01", "broker": "alpaca", "resume": {"state": state}}


def move(ts: str, source: str, dest: str, reason: str = "") -> dict[str, Any]:
    return {"kind": "transition", "ts": ts, "source": source, "dest": dest, "trigger": "x", "reason": reason}


def calls(ts: str, *rows: list[Any]) -> dict[str, Any]:
    return {"kind": "input", "seq": 0, "ts": ts, "calls": list(rows)}


SESSION_ROW = ["session", json_form(encode_args((DAY,))),
               {"$c": "Session", "v": [{"$d": "2025-07-01"}, {"$dt": at(9, 30)}, {"$dt": at(16)}]}]


def test_an_outage_halt_and_a_restart_gap_are_lost_time_a_loss_limit_halt_is_not() -> None:
    records = [
        header(at(9, 0)), calls(at(9, 0), SESSION_ROW),
        move(at(9, 0), "Initializing", "AwaitingOpen"), move(at(10, 0), "AwaitingOpen", "Scanning"),
        move(at(11, 0), "Scanning", "Halted", "data outage"),
        {"kind": "halt", "ts": at(11, 0), "resumable": True},
        move(at(11, 30), "Halted", "Scanning", "cleared"),
        move(at(12, 0), "Scanning", "Halted", "daily loss limit"),
        {"kind": "halt", "ts": at(12, 0), "resumable": False},
        header(at(13, 0)),  # the engine died after 12:00 and came back at 13:00
        move(at(13, 0), "Initializing", "AwaitingOpen"), move(at(15, 30), "AwaitingOpen", "ShuttingDown"),
    ]
    timeline = intervals(records, datetime.fromisoformat(at(15, 30)))
    assert [(i.state, i.outage) for i in timeline] == [
        ("Initializing", False), ("AwaitingOpen", False), ("Scanning", False), ("Halted", True), ("Scanning", False),
        ("Halted", False), ("Down", True), ("Initializing", False), ("AwaitingOpen", False), ("ShuttingDown", False),
    ]
    m = metrics(timeline, _session(), Calls({}), records, Config(), 0.0, [], [])
    # covered 09:30-15:30 = 360 minutes; lost 30 (outage) + 60 (down) = 90
    assert m["uptime"]["value"] == pytest.approx(1 - 90 / 360)
    assert m["uptime"]["met"] is False and "90 of 360" in m["uptime"]["detail"]


def _session():
    from engine.models import Session

    return Session(DAY, datetime.fromisoformat(at(9, 30)), datetime.fromisoformat(at(16)))


def _submit(cid: str, ok: bool, error: str = "OrderRejected") -> list[Any]:
    legs = (Leg("SPY250701P00595000", Side.SELL, Intent.SELL_TO_OPEN),)
    args = json_form(encode_args((OrderRequest(cid, legs, 1, -0.5),)))
    return ["submit_order", args, {"ok": 1}] if ok else ["submit_order", args, None, {"type": error, "message": "x"}]


def test_order_success_counts_attempts_taken_or_found_after_a_failed_send() -> None:
    rows = [_submit("a", True), _submit("b", False), _submit("c", False, "BrokerError"), _submit("d", False)]
    records = [header(at(9)), calls(at(10), *rows),
               {"kind": "order", "ts": at(10), "event": "adopt", "client_order_id": "c"}]
    from engine.journal.recording import calls_by_method

    m = metrics([], None, Calls(calls_by_method(records)), records, Config(), None, [], [])
    assert m["order_success"]["value"] == 0.5, "a and c (found by id after its send failed) of a, b, c, d"
    # the API failed once (c's BrokerError); the two rejections are answers, not failures
    assert m["api_failures"]["value"] == 0.25


def test_api_failures_count_every_call_a_repeat_included_and_only_the_apis() -> None:
    account = ["account", [], ["acct", 100.0, 100.0, 100.0, 100.0, 3, True]]
    failed = ["bars", ["SPY"], None, {"type": "BrokerError", "message": "timeout"}]
    kill = ["kill", [], "kill switch: file KILL"]  # the signals port: not an API
    records = [header(at(9)), calls(at(10), account, ["account"], kill), calls(at(11), ["account"], failed)]
    from engine.journal.recording import calls_by_method

    m = metrics([], None, Calls(calls_by_method(records)), records, Config(), None, [], [])
    assert m["api_failures"]["value"] == 0.25, "one failed bars call of four API calls (the account asked thrice)"
    assert m["api_failures"]["detail"] == "1 of 4 calls failed"


def test_breaches_are_named() -> None:
    cfg = parse_config({"risk": {"max_daily_loss": 100.0, "max_daily_trades": 1}}, "test")
    trades = [{"trade_no": 1}, {"trade_no": 2}]
    m = metrics([], None, Calls({}), [header(at(9))], cfg, -150.0, trades, [{"trade_no": 2}])
    assert m["limit_breaches"]["value"] == 3
    assert "day P&L -150.00 below -100.00" in m["limit_breaches"]["detail"]
    assert "more than max_daily_trades 1" in m["limit_breaches"]["detail"]


@pytest.mark.parametrize(
    ("reason", "kind"),
    [("profit target: 40 >= 50% of max", "profit target"), ("spread stop: -65.00 <= -61.00", "spread stop"),
     ("time exit at 15:15 ET", "time exit"), ("flatten: daily loss limit", "halt"),
     ("close_positions_on_shutdown", "shutdown"), ("adopted at start-up", "other")],
)
def test_exit_kinds(reason: str, kind: str) -> None:
    assert exit_kind(reason) == kind


def test_a_holiday_is_a_holiday(tmp_path, default_raw_config) -> None:
    """A run from a holiday trades the next session; the holiday's own journal, rebuilt, is a holiday's page."""
    path, report = run_session(tmp_path, default_raw_config, date="2025-07-04", days=1)
    assert report["session_date"] == "2025-07-07" and not report["holiday"]
    holiday = build_day(read_journal(tmp_path / "audit-20250704.jsonl")[0])
    assert holiday["holiday"] and holiday["total_pnl"] is None and holiday["session"] is None
    page = write_day(holiday, tmp_path / "rebuilt", html=True)
    assert "no session" in page.with_suffix(".html").read_text()
    assert not list((tmp_path / "rebuilt").glob("*.png"))


def test_a_trade_whose_closed_record_a_crash_cut_off_comes_from_the_restarts_reconciliation(default_day) -> None:
    """The engine died after the exit filled and before it wrote `closed`; the restart rebuilt the trade from the
    broker's orders (reconcile's closed_earlier): the report still lists it, once."""
    logs, report = default_day
    records = journal(logs)
    closed = next(r for r in records if r["kind"] == "closed")
    rebuilt = {k: closed[k] for k in ("trade_no", "direction", "legs", "qty", "entry_price", "entry_time", "strikes",
                                      "exit_price", "exit_time", "exit_reason", "pnl")}
    cut = [r for r in records if r["kind"] != "closed"]
    reconcile = {"kind": "reconcile", "ts": closed["exit_time"], "closed_earlier": [rebuilt], "adopted": [],
                 "broken_flattened": []}
    restart = [{**records[0], "ts": closed["exit_time"]}, reconcile]
    at = next(i for i, r in enumerate(cut) if r["ts"] > closed["exit_time"])
    day = build_day(cut[:at] + restart + cut[at:])
    assert [t["pnl"] for t in day["trades"]] == [closed["pnl"]]
    assert day["trades"][0]["max_risk"] == report["trades"][0]["max_risk"]
    again = build_day(records[:at] + restart + records[at:])
    assert len(again["trades"]) == 1, "a trade with its closed record is not listed twice"
