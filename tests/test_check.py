"""`run.py check`: each line names what it checked and passes only that; a failure is reported once, on the line
of its culprit; a check that could not be made is SKIP (not checked), never PASS; exit 1 on any failure."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
from collections.abc import Iterator
from datetime import date, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
import yaml

from engine.app import adapters_for_check
from engine.calendar import ET, ExchangeCalendar
from engine.check import CheckLine, Status, run_checks, summary
from engine.clock import SimClock
from engine.config import SimConfig, parse_config
from engine.errors import ConfigError
from engine.sim.transport import SimServer
from engine.sim.venue import SimVenue

REPO_ROOT = Path(__file__).resolve().parents[1]
DAY = date(2025, 7, 1)
KEY, SECRET = "PKCHECKKEY123", "checkSecret456"
BROKER_LINES = ("connection", "paper account", "options level", "buying power", "market calendar",
                "data feed: bars", "data feed: option chain")


def raw_config(tmp_path: Path, example: str = "config.yaml", **sim: object) -> dict[str, Any]:
    raw = yaml.safe_load((REPO_ROOT / example).read_text())
    raw["logs_dir"], raw["risk"]["kill_file"] = str(tmp_path / "logs"), str(tmp_path / "KILL")
    raw["sim"].update(sim)
    return raw


def config(tmp_path: Path, **sim: object):
    return parse_config(raw_config(tmp_path, **sim), "test")


def loopback_config(tmp_path: Path, url: str, **alpaca: object):
    raw = raw_config(tmp_path, "examples/loopback.yaml")
    raw["alpaca"].update(trading_url=url, data_url=url, timeout_s=2.0, **alpaca)
    return parse_config(raw, "test")


def by_name(lines: list[CheckLine]) -> dict[str, CheckLine]:
    return {line.name: line for line in lines}


def failed(lines: list[CheckLine]) -> list[str]:
    return [line.name for line in lines if line.status is Status.FAIL]


def write_bars(path: Path, *days: date) -> Path:
    """A regular session of minute bars for each day (DAY if none), in the CSV form sim.bars reads."""
    rows = ["date,Open,High,Low,Close,Volume"]
    for day in days or (DAY,):
        start = datetime(day.year, day.month, day.day, 9, 30)
        for i in range(390):
            p = 600 + (i % 7) * 0.1
            rows.append(f"{start + timedelta(minutes=i):%Y-%m-%d %H:%M:%S},{p},{p + 0.05},{p - 0.05},{p},100")
    path.write_text("\n".join(rows) + "\n")
    return path


def run_py(tmp_path: Path, *args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, str(REPO_ROOT / "run.py"), *args],
        capture_output=True,
        text=True,
        timeout=60,
        cwd=tmp_path,
        env=env,
    )


def write_config(tmp_path: Path, raw: dict[str, Any]) -> Path:
    path = tmp_path / "cfg.yaml"
    path.write_text(yaml.safe_dump(raw))
    return path


@pytest.fixture
def keys_in_env(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """The keys the loopback servers here accept, and no .env of the checkout (the working directory is tmp)."""
    monkeypatch.setenv("ALPACA_API_KEY", KEY)
    monkeypatch.setenv("ALPACA_SECRET_KEY", SECRET)
    monkeypatch.chdir(tmp_path)


@pytest.fixture
def serve() -> Iterator[Any]:
    """serve(live_account=False): a SimServer on 127.0.0.1 at 09:00 ET of DAY (market not yet open)."""
    started: list[SimServer] = []

    def make(live_account: bool = False) -> SimServer:
        clock = SimClock(datetime(DAY.year, DAY.month, DAY.day, 9, 0, tzinfo=ET))
        venue = SimVenue(SimConfig(), "SPY", clock, ExchangeCalendar())
        flags = {"live_account": True} if live_account else {}
        server = SimServer(venue, clock, api_key=KEY, secret_key=SECRET, **flags).start()
        started.append(server)
        return server

    yield make
    for server in started:
        server.stop()


# -- the embedded simulator -------------------------------------------------------------------------------


def test_the_default_simulated_setup_passes_every_line_it_checks(tmp_path: Path) -> None:
    lines = run_checks(config(tmp_path), adapters_for_check)
    assert [line.name for line in lines] == [
        "API keys",
        "market data file",
        *BROKER_LINES,
        "options feed",
        "risk limits",
        "log directory",
        "kill switch",
        "alerts",
    ]
    skipped = {line.name: line.detail for line in lines if line.status is Status.SKIP}
    assert skipped == {
        "API keys": "not checked: the broker is the embedded simulator, which needs none",
        "market data file": "not checked: none configured: sim.bars and sim.quotes are null (a random walk, model "
        "prices)",
        "options feed": "not checked: the simulator's quotes are its own (model or real quote files)",
    }
    assert failed(lines) == []
    chain = by_name(lines)["data feed: option chain"]
    assert "option quotes within" in chain.detail  # checked at the entry window, not skipped as closed


def test_a_kill_file_fails_its_line_and_the_command(tmp_path: Path) -> None:
    (tmp_path / "KILL").write_text("")
    lines = run_checks(config(tmp_path), adapters_for_check)
    kill = by_name(lines)["kill switch"]
    assert kill.status is Status.FAIL and "EXISTS" in kill.detail
    done = run_py(tmp_path, "check", "--config", str(write_config(tmp_path, raw_config(tmp_path))))
    assert done.returncode == 1 and "[FAIL] kill switch" in done.stdout
    assert done.stdout.splitlines()[-1] == "10 passed, 1 failed, 3 not checked"


def test_a_missing_bars_file_fails_its_own_line_and_names_the_file(tmp_path: Path) -> None:
    missing = tmp_path / "nope.csv"
    lines = run_checks(config(tmp_path, bars=str(missing)), adapters_for_check)
    assert failed(lines) == ["market data file"]
    assert str(missing) in by_name(lines)["market data file"].detail


def test_a_bars_csv_with_bad_columns_is_blamed_not_the_broker(tmp_path: Path) -> None:
    """The user's case: a header of other names failed "connection" (or "paper account", the first line that
    loaded data); the culprit is the file, and the lines that need it are not checked, not failed or passed."""
    bad = tmp_path / "bars.csv"
    bad.write_text("when,o,h,l,c,v\n2025-07-01 09:30:00,600,600,600,600,100\n")
    lines = run_checks(config(tmp_path, bars=str(bad)), adapters_for_check)
    assert failed(lines) == ["market data file"]
    data = by_name(lines)["market data file"]
    assert str(bad) in data.detail and "missing column(s) date, Open" in data.detail
    for name in BROKER_LINES:
        assert by_name(lines)[name].status is Status.SKIP, by_name(lines)[name]
    assert by_name(lines)["connection"].detail == "not checked: market data file did not pass"


def test_a_good_bars_csv_passes_its_line_naming_the_file_and_the_session(tmp_path: Path) -> None:
    bars = write_bars(tmp_path / "bars.csv")
    lines = run_checks(config(tmp_path, bars=str(bars)), adapters_for_check)
    assert failed(lines) == []
    data = by_name(lines)["market data file"]
    assert data.status is Status.PASS and data.detail == f"sim.bars {bars}: read for the session(s) 2025-07-01"


def test_date_and_logs_dir_are_honoured_as_run_honours_them(tmp_path: Path) -> None:
    """--date moves the session the data checks look at (the file holds 2025-07-01 and 2025-07-07), --logs-dir
    the directory checked; a Saturday is the following Monday's session, as a run from it would trade."""
    bars = write_bars(tmp_path / "bars.csv", DAY, date(2025, 7, 7))
    cfg = str(write_config(tmp_path, raw_config(tmp_path, bars=str(bars))))
    elsewhere = tmp_path / "elsewhere"

    other = run_py(tmp_path, "check", "--config", cfg, "--date", "2025-07-02", "--logs-dir", str(elsewhere))
    assert other.returncode == 1, other.stderr
    assert f"[FAIL] market data file: DataError: {bars}: no bars for 2025-07-02" in other.stdout
    assert f"[PASS] log directory: {elsewhere} writable" in other.stdout and elsewhere.is_dir()

    weekend = run_py(tmp_path, "check", "--config", cfg, "--date", "2025-07-05")
    assert weekend.returncode == 0, weekend.stdout + weekend.stderr
    assert f"[PASS] market data file: sim.bars {bars}: read for the session(s) 2025-07-07" in weekend.stdout
    first_after = "session 2025-07-07 (the first on or after session.date 2025-07-05)"
    assert f"[PASS] market calendar: {first_after}" in weekend.stdout
    assert "bars in the 60 minutes to 2025-07-07 10:00 ET" in weekend.stdout

    same = run_py(tmp_path, "check", "--config", cfg, "--date", "2025-07-01")
    assert same.returncode == 0, same.stdout + same.stderr
    assert "read for the session(s) 2025-07-01" in same.stdout
    assert f"[PASS] log directory: {tmp_path / 'logs'} writable" in same.stdout


def test_a_config_that_cannot_be_used_is_not_a_failed_line_but_exit_2(tmp_path: Path) -> None:
    raw = raw_config(tmp_path)
    raw["session"]["date"] = None  # the simulator needs a date: a config error, as for run
    with pytest.raises(ConfigError, match="session.date: required"):
        run_checks(parse_config(raw, "test"), adapters_for_check)
    done = run_py(tmp_path, "check", "--config", str(write_config(tmp_path, raw)))
    assert done.returncode == 2 and "config error: session.date" in done.stderr and done.stdout == ""


def test_check_options_have_help() -> None:
    from engine.cli import parser

    check = parser()._subparsers._group_actions[0].choices["check"]  # type: ignore[union-attr]
    options = {a.dest: a.help for a in check._actions if a.option_strings and a.dest != "help"}
    assert set(options) == {"config", "date", "logs_dir"} and all(options.values()), options


# -- Alpaca's adapter on loopback ---------------------------------------------------------------------------


@pytest.mark.usefixtures("keys_in_env")
def test_a_paper_account_on_loopback_passes_and_a_closed_market_is_not_checked(tmp_path: Path, serve) -> None:
    """At 09:00 the market is closed: the bars and chain lines could not be checked, and say so instead of
    passing ("[PASS] data feed: option chain: market closed now: chain not checked" was the bug)."""
    lines = run_checks(loopback_config(tmp_path, serve().url), adapters_for_check)
    for name in ("data feed: bars", "data feed: option chain"):
        line = by_name(lines)[name]
        assert line.status is Status.SKIP and "market closed at 2025-07-01 09:00 ET" in line.detail, line
    assert failed(lines) == []
    assert by_name(lines)["paper account"].detail == "account PA0ZDTESIM01 is paper (its number starts with PA)"
    feed = by_name(lines)["options feed"]
    assert feed.status is Status.WARN and "derived from OPRA" in feed.detail and "15 minutes late" in feed.detail
    assert summary(lines).endswith(", 1 warning(s)"), "a caveat is told, never counted as passed or failed"
    opra = run_checks(loopback_config(tmp_path, serve().url, options_feed="opra"), adapters_for_check)
    assert by_name(opra)["options feed"].status is Status.PASS


@pytest.mark.usefixtures("keys_in_env")
def test_a_broker_that_does_not_answer_fails_the_connection_and_nothing_after_it_passes(tmp_path: Path) -> None:
    """127.0.0.2 is loopback but not serve-sim's address, so the adapter goes straight to GET /v2/account, as to
    Alpaca: the connection line passed before anything was asked, and the account line took the blame."""
    with socket.socket() as s:  # a port nothing listens on
        s.bind(("127.0.0.2", 0))
        port = s.getsockname()[1]
    lines = run_checks(loopback_config(tmp_path, f"http://127.0.0.2:{port}", max_retries=0), adapters_for_check)
    assert failed(lines) == ["connection"]
    assert "GET /v2/account: connection failed" in by_name(lines)["connection"].detail
    for name in BROKER_LINES[1:]:
        assert by_name(lines)[name].status is Status.SKIP, by_name(lines)[name]


@pytest.mark.usefixtures("keys_in_env")
def test_a_live_account_behind_loopback_fails_the_paper_account_line(tmp_path: Path, serve) -> None:
    server = serve(live_account=True)
    lines = run_checks(loopback_config(tmp_path, server.url), adapters_for_check)
    assert failed(lines) == ["paper account"]
    paper = by_name(lines)["paper account"]
    assert paper.detail.startswith("UnsafeEndpointError: GET /v2/account: account '0ZDTESIM01' is not evidently paper")
    assert "its account number does not start with 'PA'" in paper.detail
    assert by_name(lines)["connection"].status is Status.PASS  # it answered: the account is what is refused
    for name in ("options level", "buying power"):  # a live account's figures are not judged
        assert by_name(lines)[name].detail == "not checked: paper account did not pass"
    for name in ("market calendar", "data feed: bars", "data feed: option chain"):
        assert by_name(lines)[name].status is Status.SKIP, by_name(lines)[name]
    assert [e["path"] for e in server.request_log if not e["path"].startswith("/sim/")] == ["/v2/account"]


def test_a_live_form_key_fails_the_keys_line_and_nothing_is_asked(tmp_path: Path, serve) -> None:
    server = serve()
    raw = raw_config(tmp_path, "examples/loopback.yaml")
    raw["alpaca"].update(trading_url=server.url, data_url=server.url, timeout_s=2.0)
    env = {k: v for k, v in os.environ.items() if not k.startswith("ALPACA_")}
    env.update(ALPACA_API_KEY="AKFAKE123", ALPACA_SECRET_KEY=SECRET)
    done = run_py(tmp_path, "check", "--config", str(write_config(tmp_path, raw)), env=env)
    assert done.returncode == 1, done.stderr
    assert "[FAIL] API keys: UnsafeEndpointError: ALPACA_API_KEY starts with 'AK'" in done.stdout
    assert "[SKIP] connection: not checked: API keys did not pass" in done.stdout
    assert "AKFAKE123" not in done.stdout + done.stderr
    assert server.request_log == []
