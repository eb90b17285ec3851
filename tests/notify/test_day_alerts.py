"""Alerts from whole simulated days (engine.app.build with alerts to a receiver on 127.0.0.1): what a trader is told
matches the day's report, a halt is told once, `notify.on` chooses, and no service, dead or slow, changes or
holds up the engine."""

from __future__ import annotations

import base64
import shutil
import threading
from pathlib import Path
from typing import Any

import pytest

import states
from engine.machine import State
from engine.runner import Runner
from tests.notify.conftest import Receiver, alerts_to, day_config, run_day

DAY = "20250701"


def _posts_by_title(receiver: Receiver, start: str) -> list[dict[str, Any]]:
    return [p for p in receiver.posts if p["title"].startswith(start)]


def test_a_day_tells_start_fill_exit_and_the_summary_with_the_reports_figures_and_charts(
    tmp_path: Path, default_raw_config: dict[str, Any], receiver: Receiver
) -> None:
    cfg = day_config(default_raw_config, tmp_path / "logs", report={"html": True, "png": True})
    runner = run_day(cfg, alerts_to(cfg, [receiver.url()]))

    assert runner.exit_code == 0
    [(path, report)] = runner.reports
    [trade] = report["trades"]
    n, strikes = trade["trade_no"], "/".join(f"{k:g}" for k in trade["strikes"])
    assert receiver.titles() == [
        "zdte: started",
        f"zdte: trade {n} filled",
        f"zdte: trade {n} closed, P&L {trade['pnl']:+.2f}",
        f"zdte: {report['session_date']} P&L {report['total_pnl']:+.2f}",
    ]
    start, fill, exit_, summary = receiver.posts
    assert "09:00 ET: SPY on sim, session 2025-07-01: paper account" in start["message"]
    assert fill["message"].startswith(f"{trade['entry_time'][11:16]} ET: short iron condor {strikes} x{trade['qty']}")
    assert f"{trade['premium_kind']} {trade['premium']:.2f}" in fill["message"]  # "credit 0.61", as a trader says it
    assert exit_["message"].startswith(f"{trade['exit_time'][11:16]} ET: {strikes}")
    assert f"{trade['exit_reason']}; P&L {trade['pnl']:+.2f}" in exit_["message"]
    assert f"{report['trade_count']} trade(s), {report['wins']} win(s), P&L {report['total_pnl']:+.2f}" in (
        summary["message"]
    )
    assert f"stopped: {report['stopped']}" in summary["message"]
    charts = sorted(report["charts"].values())
    assert sorted(a["filename"] for a in summary["attachments"]) == charts and len(charts) == 3
    for attached in summary["attachments"]:
        assert base64.b64decode(attached["base64"]) == (path.parent / attached["filename"]).read_bytes()
    assert all(p["attachments"] == [] for p in (start, fill, exit_))


def test_the_page_without_report_png_sends_the_summary_without_attachments(
    tmp_path: Path, default_raw_config: dict[str, Any], receiver: Receiver
) -> None:
    """The page's charts are SVG inside it: only PNG files (report.png) go out with the day summary."""
    cfg = day_config(default_raw_config, tmp_path / "logs", report={"html": True})
    runner = run_day(cfg, alerts_to(cfg, [receiver.url()]))

    [(path, report)] = runner.reports
    assert path.with_suffix(".html").exists() and set(report["charts"]) == {"underlying", "trades", "timeline"}
    [summary] = _posts_by_title(receiver, f"zdte: {report['session_date']} P&L")
    assert summary["attachments"] == []


def test_a_kill_file_mid_day_is_told_exactly_once_and_so_is_the_flatten(
    tmp_path: Path, default_raw_config: dict[str, Any], receiver: Receiver
) -> None:
    cfg = day_config(default_raw_config, tmp_path / "logs")

    def kill_when_open(runner: Runner) -> None:
        if runner.state is State.MONITORING:
            cfg.risk.kill_file.touch()

    runner = run_day(cfg, alerts_to(cfg, [receiver.url()]), between=kill_when_open)

    assert runner.exit_code == 0
    [halt] = _posts_by_title(receiver, "zdte: halted")
    assert halt["message"].endswith(f"kill switch: file {cfg.risk.kill_file}; closing what is open")
    assert halt["type"] == "warning"
    [closed] = _posts_by_title(receiver, "zdte: trade 1 closed")
    assert f"flatten: kill switch: file {cfg.risk.kill_file}" in closed["message"]
    assert _posts_by_title(receiver, "zdte: error") == []


@pytest.mark.parametrize("on", [["fill", "day_summary"], ["exit"], []])
def test_notify_on_sends_only_the_events_chosen(
    tmp_path: Path, default_raw_config: dict[str, Any], receiver: Receiver, on: list[str]
) -> None:
    cfg = day_config(default_raw_config, tmp_path / "logs", notify={"on": on})
    run_day(cfg, alerts_to(cfg, [receiver.url()]))

    expected = {"fill": "zdte: trade 1 filled", "exit": "zdte: trade 1 closed", "day_summary": "zdte: 2025-07-01"}
    assert [t.rsplit(",", 1)[0].rsplit(" P&L", 1)[0] for t in receiver.titles()] == [expected[e] for e in on]


@pytest.mark.parametrize("on", [None, ["error"], ["halt"]], ids=["all", "error", "halt"])
def test_an_unexpected_error_in_a_state_is_one_alert_sent_for_error_or_halt(
    tmp_path: Path, default_raw_config: dict[str, Any], receiver: Receiver, monkeypatch, on: list[str] | None
) -> None:
    monitoring = states.HANDLERS[State.MONITORING]
    raised: list[bool] = []

    def fails_once(ctx):
        if not raised:
            raised.append(True)
            raise RuntimeError("boom in the handler")
        return monitoring(ctx)

    monkeypatch.setitem(states.HANDLERS, State.MONITORING, fails_once)
    cfg = day_config(default_raw_config, tmp_path / "logs", **({"notify": {"on": on}} if on else {}))
    runner = run_day(cfg, alerts_to(cfg, [receiver.url()]))

    assert runner.exit_code == 0
    [error] = _posts_by_title(receiver, "zdte: error")
    assert error["title"] == "zdte: error, halted" and error["type"] == "failure"
    assert "unexpected error in Monitoring: RuntimeError: boom in the handler; halted, closing what is open" in (
        error["message"]
    )
    assert _posts_by_title(receiver, "zdte: halted") == []


def test_a_start_up_failure_in_initializing_is_told_with_its_reason(
    tmp_path: Path, default_raw_config: dict[str, Any], receiver: Receiver, monkeypatch
) -> None:
    from engine.brokers.sim import SimBroker
    from engine.errors import AuthError

    def refused(self):
        raise AuthError("401 unauthorized: check the API keys")

    monkeypatch.setattr(SimBroker, "account", refused)
    cfg = day_config(default_raw_config, tmp_path / "logs", notify={"on": ["startup_failure"]})
    runner = run_day(cfg, alerts_to(cfg, [receiver.url()]))

    assert runner.exit_code == 2
    [post] = receiver.posts
    assert post["title"] == "zdte: start-up failed" and post["type"] == "failure"
    assert post["message"] == "09:00 ET: start-up failed: AuthError: 401 unauthorized: check the API keys"


@pytest.mark.parametrize("dead", ["refused", "HTTP 500"])
def test_a_dead_service_changes_nothing_in_the_journal_and_the_day_ends_well(
    tmp_path: Path, default_raw_config: dict[str, Any], make_receiver, dead_url: str, dead: str
) -> None:
    logs = tmp_path / "logs"
    cfg = day_config(default_raw_config, logs)
    journal = logs / f"audit-{DAY}.jsonl"
    quiet = run_day(cfg, None)
    without = journal.read_bytes()
    shutil.rmtree(logs)  # the same logs dir again: the header (config included) must match to the byte

    failing = make_receiver(status=500) if dead == "HTTP 500" else None
    url = failing.url() if failing else dead_url
    told = run_day(cfg, alerts_to(cfg, [url], retries=2))

    assert quiet.exit_code == told.exit_code == 0
    assert journal.read_bytes() == without
    assert told.reports[0][1] == quiet.reports[0][1]
    if failing is not None:
        assert len(failing.posts) == 3 * 4  # start, fill, exit, summary: each tried 1 + 2 times
    warned = [line for line in (logs / f"engine-{DAY}.log").read_text().splitlines() if "| WARNING |" in line]
    assert len(warned) == 4 and all("not sent to url 1 (json) after 3 attempt(s)" in line for line in warned)


def test_a_slow_service_does_not_hold_up_the_day_and_its_alerts_arrive_once_it_answers(
    tmp_path: Path, default_raw_config: dict[str, Any], make_receiver
) -> None:
    hold = threading.Event()
    slow = make_receiver(hold=hold)
    cfg = day_config(default_raw_config, tmp_path / "logs")
    alerts = alerts_to(cfg, [slow.url()], timeout_s=120)
    from engine.app import build
    from engine.logs import close_day_files

    runner = build(cfg, alerts=alerts)
    try:
        try:
            assert runner.run() == 0  # the whole day, while the service holds its first request
            assert runner.finished and len(runner.reports) == 1
            assert slow.entered.wait(60) and slow.posts == [] and not hold.is_set()
        finally:
            hold.set()
        assert alerts.close()
    finally:
        close_day_files()
    assert [p["title"].split(",")[0] for p in slow.posts] == [
        "zdte: started", "zdte: trade 1 filled", "zdte: trade 1 closed", "zdte: 2025-07-01 P&L -70.00"
    ]
