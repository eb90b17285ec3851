"""`replay --verify`: a recorded day re-driven through the current code from its recorded inputs.

Unchanged code and config reproduce every transition and order event; a changed parameter shows up as the
first recorded output that is not reproduced, with its seq and both sides; a question the recording cannot
answer is reported as a divergence, never a crash. Each day of a multi-day run verifies on its own.
"""

from __future__ import annotations

import copy
import hashlib
import json
import shutil
from datetime import date
from pathlib import Path
from typing import Any

import pytest
import yaml

from engine.journal.replay import OUTPUT_KINDS, verify

DAYS = (date(2025, 7, 1), date(2025, 7, 2), date(2025, 7, 3))


def outputs(records: list[dict[str, Any]]) -> list[dict[str, Any]]:
    return [r for r in records if r["kind"] in OUTPUT_KINDS]


def first_signal(records: list[dict[str, Any]]) -> dict[str, Any]:
    return next(r for r in records if r["kind"] == "transition" and r["trigger"] == "signal")


def header_config(records: list[dict[str, Any]], **changes: dict[str, Any]) -> dict[str, Any]:
    raw = copy.deepcopy(records[0]["config"])
    for section, values in changes.items():
        raw[section].update(values)
    return raw


def digest(folder: Path) -> dict[str, str]:
    return {p.name: hashlib.sha256(p.read_bytes()).hexdigest() for p in sorted(folder.iterdir())}


# --- 1. an unchanged day replays identically ----------------------------------------------------------


def test_recorded_day_verifies_identical_and_leaves_the_logs_alone(sim_day, helpers) -> None:
    journal = sim_day.journal()
    before = digest(sim_day.logs)
    verdicts = verify(journal)
    records = helpers.records_of(journal)
    assert [v.identical for v in verdicts] == [True], verdicts[0].message
    assert verdicts[0].compared == len(outputs(records)) > 10
    assert verdicts[0].message.startswith("identical:")
    assert digest(sim_day.logs) == before  # replay writes into a temporary folder, never next to the recording


def test_cli_verify_prints_identical_and_exits_0(sim_day, run_py) -> None:
    done = run_py("replay", sim_day.journal(), "--verify")
    assert done.returncode == 0, done.stdout + done.stderr
    assert "identical" in done.stdout and "divergence" not in done.stdout
    assert "Traceback" not in done.stderr


# --- 2. a changed strategy parameter diverges at the recorded signal ----------------------------------


def test_changed_short_delta_diverges_at_the_signal_transition(sim_day, helpers) -> None:
    records = helpers.records_of(sim_day.journal())
    signal = first_signal(records)
    override = header_config(records, strategy={"short_delta": 0.20})
    [verdict] = verify(sim_day.journal(), override)
    assert not verdict.identical
    assert verdict.compared == outputs(records).index(signal)  # everything before the signal was reproduced
    lines = verdict.message.splitlines()
    assert lines[0].startswith(f"first divergence at seq {signal['seq']} ({signal['ts']})")
    recorded = next(line for line in lines if line.strip().startswith("recorded:"))
    now = next(line for line in lines if "now did:" in line)
    assert "Scanning -> Entering [signal]" in recorded and signal["reason"] in recorded
    assert "Scanning -> Entering [signal]" in now and signal["reason"] not in now


def test_cli_verify_with_changed_config_exits_1_and_shows_both_sides(sim_day, helpers, run_py, tmp_path) -> None:
    records = helpers.records_of(sim_day.journal())
    signal = first_signal(records)
    changed = header_config(records, strategy={"short_delta": 0.20})
    config = tmp_path / "changed.yaml"
    config.write_text(yaml.safe_dump(changed), encoding="utf-8")
    done = run_py("replay", sim_day.journal(), "--verify", "--config", config)
    assert done.returncode == 1, done.stdout + done.stderr
    assert f"first divergence at seq {signal['seq']}" in done.stdout
    assert f"recorded: transition Scanning -> Entering [signal] {signal['reason']}" in done.stdout
    assert "the code now did: transition Scanning -> Entering [signal]" in done.stdout
    assert "inputs just before it:" in done.stdout
    assert "Traceback" not in done.stderr


def test_cli_verify_with_an_unreadable_config_is_a_usage_error(sim_day, cli, tmp_path) -> None:
    code, out, err = cli("replay", sim_day.journal(), "--verify", "--config", tmp_path / "missing.yaml")
    assert code == 2 and "config error" in err and "missing.yaml" in err


# --- 3. multi-day: one journal per session date, each verifies on its own ------------------------------


def test_three_days_write_one_journal_per_session(three_days, helpers) -> None:
    journals = sorted(p.name for p in three_days.logs.glob("audit-*.jsonl"))
    assert journals == [f"audit-{d:%Y%m%d}.jsonl" for d in DAYS]
    for d in DAYS:
        records = helpers.records_of(three_days.journal(d))
        header = records[0]
        assert header["kind"] == "header" and header["seq"] == 1
        assert header["session_date"] == d.isoformat()
        assert [r["seq"] for r in records] == list(range(1, len(records) + 1))
        assert sum(r["kind"] == "header" for r in records) == 1
        assert any(r["kind"] == "transition" and r["trigger"] == "market_open" for r in records)
    assert helpers.records_of(three_days.journal(DAYS[0]))[0]["resume"]["state"] == "Initializing"


@pytest.mark.parametrize("day", DAYS, ids=lambda d: f"{d:%m%d}")
def test_each_day_of_a_multi_day_run_verifies_on_its_own(three_days, helpers, tmp_path, day) -> None:
    alone = tmp_path / f"audit-{day:%Y%m%d}.jsonl"
    shutil.copyfile(three_days.journal(day), alone)  # no neighbouring day's file to lean on
    records = helpers.records_of(alone)
    if day != DAYS[0]:
        resume = records[0]["resume"]
        assert resume["state"] == "AwaitingOpen" and resume["session_loaded"] is True
    [verdict] = verify(alone)
    assert verdict.identical, verdict.message
    assert verdict.compared == len(outputs(records)) > 5


def test_journal_verify_accepts_all_three_days(three_days, cli) -> None:
    code, out, _ = cli("journal", "verify", *sorted(three_days.logs.glob("audit-*.jsonl")))
    assert code == 0, out
    assert out.count(": ok: ") == 3 and "BROKEN" not in out


def test_cli_verifies_every_journal_of_a_multi_day_run_in_one_command(three_days, run_py) -> None:
    files = sorted(three_days.logs.glob("audit-*.jsonl"))
    done = run_py("replay", *files, "--verify")
    assert done.returncode == 0, done.stdout + done.stderr
    lines = done.stdout.splitlines()
    assert [line.split(": identical: ")[0] for line in lines[:-1]] == [str(f) for f in files]  # one line a day
    assert lines[-1] == "3 of 3 journals replay identically"


def test_one_damaged_journal_fails_the_check_and_the_others_are_still_verified(three_days, run_py, tmp_path) -> None:
    files = sorted(three_days.logs.glob("audit-*.jsonl"))
    damaged = tmp_path / files[1].name
    lines = files[1].read_bytes().splitlines(keepends=True)
    lines[3] = lines[3].replace(b'"kind":"', b'"kind": "', 1)
    damaged.write_bytes(b"".join(lines))
    done = run_py("replay", files[0], damaged, files[2], "--verify")
    assert done.returncode == 1
    assert f"{damaged}: the journal does not verify" in done.stderr and "line 4:" in done.stderr
    assert f"{files[0]}: identical: " in done.stdout and f"{files[2]}: identical: " in done.stdout
    assert done.stdout.splitlines()[-1] == "2 of 3 journals replay identically"


def test_the_timelines_of_several_journals_as_json_name_their_files(three_days, cli) -> None:
    files = sorted(three_days.logs.glob("audit-*.jsonl"))[:2]
    code, out, _ = cli("replay", *files, "--json")
    assert code == 0
    shown = json.loads(out)
    assert [entry["file"] for entry in shown] == [str(f) for f in files]
    assert all(entry["timeline"] and entry["summary"]["transitions"] > 0 for entry in shown)
    code, out, _ = cli("replay", files[0], "--json")
    assert code == 0 and sorted(json.loads(out)) == ["summary", "timeline"]  # one file: the object itself


def test_a_journal_recorded_without_inputs_says_so_instead_of_diverging(helpers, default_raw_config, tmp_path, run_py):
    logs = tmp_path / "logs"
    _, code = helpers.run_engine(helpers.make_config(default_raw_config, logs, journal={"record_inputs": False}))
    journal = logs / "audit-20250701.jsonl"
    assert code == 0 and not [r for r in helpers.records_of(journal) if r["kind"] == "input"]
    done = run_py("replay", journal, "--verify")
    assert done.returncode == 1 and "divergence" not in done.stdout + done.stderr
    assert f"{journal}: recorded without its inputs (journal.record_inputs: false)" in done.stderr
    assert run_py("replay", journal).returncode == 0  # the timeline is still there


# --- 7. a question the recording cannot answer is a divergence, not a crash -----------------------------


def test_a_new_bars_request_is_reported_as_cannot_answer(sim_day, helpers) -> None:
    records = helpers.records_of(sim_day.journal())
    signal = first_signal(records)
    override = header_config(records, data={"lookback_minutes": 45})
    [verdict] = verify(sim_day.journal(), override)
    assert not verdict.identical
    assert f"first divergence at seq {signal['seq']}" in verdict.message
    assert "cannot answer" in verdict.message
    asked = verdict.message.split("cannot answer:", 1)[1]
    now, recorded = asked.split("(recorded next:", 1)
    assert now.strip().startswith("market_data.bars('SPY'") and "09:15:00" in now
    assert recorded.strip().startswith("market_data.bars('SPY'") and "09:00:00" in recorded


def test_a_different_strike_rule_is_reported_not_raised(sim_day, helpers) -> None:
    records = helpers.records_of(sim_day.journal())
    signal = first_signal(records)
    override = header_config(records, strategy={"short_strike_rule": "distance", "short_distance": 1.0})
    [verdict] = verify(sim_day.journal(), override)
    assert not verdict.identical
    assert f"first divergence at seq {signal['seq']}" in verdict.message
    assert "cannot answer" in verdict.message or ("recorded:" in verdict.message and "now did:" in verdict.message)


def test_a_multi_day_run_starting_on_a_holiday_verifies_file_by_file(helpers, default_raw_config, tmp_path) -> None:
    """The holiday's file holds only its own calls; the next session's file starts from its resume point."""
    logs = tmp_path / "logs"
    runner, code = helpers.run_engine(
        helpers.make_config(default_raw_config, logs, session={"date": "2025-07-04", "days": 2})
    )
    assert code == 0
    files = sorted(logs.glob("audit-*.jsonl"))
    assert [f.name for f in files] == ["audit-20250704.jsonl", "audit-20250707.jsonl", "audit-20250708.jsonl"]
    assert helpers.records_of(files[1])[0]["resume"]["skip_day"] is True
    for f in files:
        [verdict] = verify(f)
        assert verdict.identical, (f.name, verdict.message)
