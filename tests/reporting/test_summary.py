"""The summary across days, by hand on made-up reports, and end to end: `--days N` ends with it and
`run.py report` rebuilds the same from the journals."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from engine.cli import main
from engine.reporting.summary import summarize


def trade(no: int, pnl: float, reason: str, credit: float = 0.50, risk_pct: float | None = None,
          slip: float = 1.0) -> dict[str, Any]:
    return {"trade_no": no, "pnl": pnl, "exit_reason": reason, "premium_kind": "credit", "premium": credit,
            "pnl_pct_of_risk": risk_pct if risk_pct is not None else pnl / 4.5, "entry_slippage": slip,
            "exit_slippage": slip}


def day(d: str, trades: list[dict[str, Any]], total: float | None = None, holiday: bool = False) -> dict[str, Any]:
    realized = round(sum(t["pnl"] for t in trades), 2)
    return {"session_date": d, "holiday": holiday, "trades": trades, "realized_pnl": realized, "total_pnl": total,
            "trade_count": len({t["trade_no"] for t in trades}), "stopped": None}


def test_the_figures_by_hand() -> None:
    reports = [
        day("2025-07-01", [trade(1, 40.0, "profit target: x"), trade(2, -70.0, "spread stop: y")], total=-31.0),
        day("2025-07-02", [trade(1, -20.0, "spread stop: y"), trade(2, -10.0, "time exit at 15:15 ET")]),
        day("2025-07-04", [], holiday=True),
        day("2025-07-03", [trade(1, 50.0, "profit target: x", credit=0.70)], total=49.0),
    ]
    s = summarize(reports)
    assert (s["sessions"], s["holidays"], s["trades"]) == (3, 1, 5)
    # days: -31 (account), -30 (realized: no account), +49
    assert [c["equity"] for c in s["equity_curve"]] == [-31.0, -61.0, -12.0]
    assert [c["drawdown"] for c in s["equity_curve"]] == [-31.0, -61.0, -12.0]
    assert s["total_pnl"] == -12.0 and s["max_drawdown"] == -61.0
    assert s["worst_day"] == {"day": "2025-07-01", "pnl": -31.0, "equity": -31.0, "drawdown": -31.0}
    assert s["win_rate"] == 0.4
    assert s["profit_factor"] == pytest.approx(90 / 100, abs=1e-3)
    assert s["expectancy"] == pytest.approx(-10 / 5)
    assert s["max_consecutive_losses"] == 3, "trade 2 of day 1, both of day 2"
    assert s["average_credit"] == pytest.approx((0.5 * 4 + 0.7) / 5)
    assert s["by_exit"] == {"profit target": {"count": 2, "pnl": 90.0}, "spread stop": {"count": 2, "pnl": -90.0},
                            "time exit": {"count": 1, "pnl": -10.0}}
    assert s["average_slippage"] == 2.0
    assert s["trades_per_day"] == pytest.approx(5 / 3, abs=0.01)


def test_a_trade_closed_in_parts_counts_once() -> None:
    s = summarize([day("2025-07-01", [trade(1, 30.0, "profit target: x"), trade(1, 20.0, "profit target: x")])])
    assert s["trades"] == 1 and s["expectancy"] == 50.0 and s["by_exit"]["profit target"] == {"count": 1, "pnl": 50.0}


def test_days_n_ends_with_the_summary_and_report_rebuilds_it(tmp_path: Path, capsys) -> None:
    logs = tmp_path / "logs"
    assert main(["--days", "3", "--logs-dir", str(logs), "--quiet"]) == 0
    out = capsys.readouterr().out
    assert "3 session(s) 2025-07-01 .. 2025-07-03" in out
    live = json.loads((logs / "summary.json").read_text())
    assert (logs / "summary.html").exists() and list(logs.glob("*.png")) == []  # PNGs only with report.png
    (logs / "summary.json").unlink()

    assert main(["report", "--logs-dir", str(logs)]) == 0
    rebuilt = json.loads((logs / "summary.json").read_text())
    assert rebuilt == live

    assert main(["report", "--logs-dir", str(logs), "--png"]) == 0
    drawn = json.loads((logs / "summary.json").read_text())["charts"]
    assert drawn == {"equity": "summary-equity.png", "exits": "summary-exits.png"}
    assert all((logs / name).read_bytes().startswith(b"\x89PNG") for name in drawn.values())
    assert (logs / "report-20250701-underlying.png").exists()  # the day pages' charts too
    days = [json.loads((logs / f"report-202507{d:02d}.json").read_text()) for d in (1, 2, 3)]
    assert live["total_pnl"] == pytest.approx(sum(r["total_pnl"] for r in days))


def test_report_says_when_it_finds_nothing(tmp_path: Path, capsys) -> None:
    assert main(["report", "--logs-dir", str(tmp_path)]) == 2
    assert "no journal" in capsys.readouterr().err


def test_report_names_a_journal_that_does_not_verify_and_goes_on(tmp_path: Path, capsys) -> None:
    logs = tmp_path / "logs"
    assert main(["--days", "2", "--logs-dir", str(logs), "--quiet"]) == 0
    first = logs / "audit-20250701.jsonl"
    lines = first.read_text().splitlines()
    lines[3] = lines[3].replace('"kind"', '"kinD"')
    first.write_text("\n".join(lines) + "\n")
    capsys.readouterr()
    assert main(["report", "--logs-dir", str(logs)]) == 1
    captured = capsys.readouterr()
    assert "audit-20250701.jsonl" in captured.err and "does not verify" in captured.err
    assert "1 session(s) 2025-07-02 .. 2025-07-02" in captured.out
