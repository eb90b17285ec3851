"""Damaged journals: `journal verify` names the line of an edit, a deletion or an insertion and exits 1; a torn
last line (a crash mid-write) is reported but accepted, and replay still works on everything before it.
Replay of a malformed or missing file is a clear error naming the place, never a traceback.
"""

from __future__ import annotations

import json
from datetime import datetime
from pathlib import Path
from typing import Any

import pytest

from engine.journal.audit import Journal
from engine.journal.replay import OUTPUT_KINDS, summary, timeline, usable_records, verify


def write_lines(path: Path, lines: list[bytes], *, newline_at_end: bool = True) -> None:
    path.write_bytes(b"\n".join(lines) + (b"\n" if newline_at_end else b""))


def problem_lines(out: str, path: Path) -> list[int]:
    """The line numbers `journal verify` reports for `path`, in order."""
    found = []
    for line in out.splitlines():
        prefix = f"{path}: line "
        if line.startswith(prefix):
            found.append(int(line[len(prefix) :].split(":", 1)[0]))
    return found


def line_of(records: list[dict[str, Any]], pick) -> int:
    """The 1-based line of the first record `pick` accepts (line n holds seq n in an intact journal)."""
    return next(n for n, r in enumerate(records, start=1) if pick(r))


@pytest.fixture
def day(sim_day, copy_journal, helpers):
    """A copy of the recorded day's journal, its lines and records."""
    path = copy_journal(sim_day.journal())
    return path, helpers.journal_lines(path), helpers.records_of(path)


def test_the_intact_journal_verifies(day, cli) -> None:
    path, lines, _ = day
    code, out, _ = cli("journal", "verify", path)
    assert code == 0 and out.strip() == f"{path}: ok: {len(lines)} records, chain and seq checked"


def test_a_modified_value_is_reported_on_its_line(day, cli) -> None:
    path, lines, records = day
    n = line_of(records, lambda r: r["kind"] == "order" and r["event"] == "submit")
    rec = json.loads(lines[n - 1])
    rec["limit_price"] = round(rec["limit_price"] - 0.10, 2)  # a better price than the one really asked
    lines[n - 1] = json.dumps(rec, separators=(",", ":")).encode()
    write_lines(path, lines)
    code, out, _ = cli("journal", "verify", path)
    assert code == 1
    assert problem_lines(out, path) == [n]
    assert f"{path}: line {n}: hash does not match the record's content (the line was modified)" in out
    assert f"{path}: BROKEN" in out


def test_a_deleted_line_is_reported_where_it_is_missing(day, cli) -> None:
    path, lines, records = day
    n = line_of(records, lambda r: r["kind"] == "transition" and r["trigger"] == "filled")
    del lines[n - 1]
    write_lines(path, lines)
    code, out, _ = cli("journal", "verify", path)
    assert code == 1
    assert problem_lines(out, path) == [n, n]  # the seq gap and the broken link, both on the line after the hole
    assert f"line {n}: seq {n + 1} where {n} was expected (a line was deleted or inserted)" in out
    assert f"line {n}: prev_hash does not match the previous record (chain broken)" in out


def test_an_inserted_copy_of_another_line_is_reported_on_its_line(day, cli) -> None:
    path, lines, records = day
    n = line_of(records, lambda r: r["kind"] == "transition" and r["trigger"] == "exited")
    copied = line_of(records, lambda r: r["kind"] == "order" and r["event"] == "fill")
    lines.insert(n - 1, lines[copied - 1])  # the copy becomes line n
    write_lines(path, lines)
    code, out, _ = cli("journal", "verify", path)
    assert code == 1
    reported = problem_lines(out, path)
    assert reported[0] == n
    assert set(reported) <= {n, n + 1}  # the line after the copy no longer follows it either
    assert f"line {n}: seq {copied} where {n} was expected" in out


def test_an_inserted_copy_of_the_previous_line_is_reported_on_its_line(day, cli) -> None:
    path, lines, records = day
    n = line_of(records, lambda r: r["kind"] == "transition" and r["trigger"] == "exited")
    lines.insert(n - 1, lines[n - 2])  # a duplicated line: line n repeats line n - 1
    write_lines(path, lines)
    code, out, _ = cli("journal", "verify", path)
    assert code == 1 and problem_lines(out, path)[0] == n


def test_a_tampered_journal_is_refused_by_replay(day, cli) -> None:
    path, lines, _ = day
    del lines[5]
    write_lines(path, lines)
    code, out, err = cli("replay", path)
    assert code == 1 and out == ""
    assert "the journal does not verify" in err and "line 6:" in err


# --- a torn last line: reported, accepted, and everything before it still replays ------------------------


def tear(path: Path, lines: list[bytes], n: int) -> None:
    """Keep lines 1..n-1 and the first half of line n, without its newline: a writer stopped mid-record."""
    write_lines(path, lines[: n - 1] + [lines[n - 1][: len(lines[n - 1]) // 2]], newline_at_end=False)


def test_a_torn_last_line_is_reported_as_torn_and_exits_0(day, cli) -> None:
    path, lines, records = day
    tear(path, lines, len(lines))
    code, out, _ = cli("journal", "verify", path)
    assert code == 0, out
    assert f"{path}: line {len(lines)}: torn last line" in out
    assert f"{path}: ok: {len(lines) - 1} records" in out


def test_timeline_of_a_torn_journal_shows_everything_before_the_tear(day, sim_day, cli) -> None:
    path, lines, records = day
    tear(path, lines, len(lines))
    assert records[-1]["kind"] == "input"  # the day's last record: the timeline loses nothing
    assert timeline(usable_records(path)) == timeline(records)
    assert summary(usable_records(path)) == summary(records)
    code, out, err = cli("replay", path)
    assert code == 0, err
    _, intact, _ = cli("replay", sim_day.journal())
    assert out == intact


def test_verify_of_a_journal_torn_at_its_end_is_identical(day) -> None:
    path, lines, records = day
    tear(path, lines, len(lines))
    [verdict] = verify(path)
    assert verdict.identical, verdict.message
    assert verdict.compared == sum(r["kind"] in OUTPUT_KINDS for r in records)


def test_verify_of_a_journal_torn_mid_day_reproduces_everything_before_the_tear(day) -> None:
    """A crash while monitoring: the journal ends in a torn `input` record; what was written before is reproduced."""
    path, lines, records = day
    filled = line_of(records, lambda r: r["kind"] == "transition" and r["trigger"] == "filled")
    n = line_of(records, lambda r: r["seq"] > filled + 3 and r["kind"] == "input")
    tear(path, lines, n)
    [verdict] = verify(path)
    assert verdict.identical, verdict.message
    assert verdict.compared == sum(r["kind"] in OUTPUT_KINDS for r in records[: n - 1]) > 10


def test_verify_of_a_journal_torn_inside_a_transition_is_identical_up_to_the_tear(day) -> None:
    """A crash while writing the `filled` transition: the replay reproduces everything written before it."""
    path, lines, records = day
    n = line_of(records, lambda r: r["kind"] == "transition" and r["trigger"] == "filled")
    tear(path, lines, n)
    [verdict] = verify(path)
    assert verdict.identical, verdict.message
    assert verdict.compared == sum(r["kind"] in OUTPUT_KINDS for r in records[: n - 1])


# --- malformed and missing files: clear errors, no tracebacks ------------------------------------------


def test_replay_of_a_line_that_is_not_json_names_the_line(day, run_py) -> None:
    path, lines, _ = day
    lines[9] = b"this is not a journal record"
    write_lines(path, lines)
    for extra in ([], ["--verify"]):
        done = run_py("replay", path, *extra)
        assert done.returncode == 1, (extra, done.stdout, done.stderr)
        assert "Traceback" not in done.stderr
        assert "line 10: not a valid JSON record" in done.stderr, done.stderr
        assert "the journal does not verify" in done.stderr


def test_journal_verify_names_a_line_that_is_not_json(day, cli) -> None:
    path, lines, _ = day
    lines[9] = b'["a", "list"]'
    write_lines(path, lines)
    code, out, _ = cli("journal", "verify", path)
    assert code == 1
    assert f"{path}: line 10: not a valid JSON record (not a JSON object)" in out


def test_replay_of_a_missing_file_is_a_clear_error(tmp_path, run_py, cli) -> None:
    missing = tmp_path / "audit-20250701.jsonl"
    done = run_py("replay", missing, "--verify")
    assert done.returncode == 1 and "Traceback" not in done.stderr
    assert f"{missing}: cannot read (No such file or directory)" in done.stderr
    code, out, err = cli("replay", missing)
    assert code == 1 and f"{missing}: cannot read" in err
    code, out, err = cli("journal", "verify", missing)
    assert code == 1 and f"{missing}: cannot read" in out


def test_replay_of_a_directory_is_a_clear_error(tmp_path, cli) -> None:
    code, _, err = cli("replay", tmp_path)
    assert code == 1 and f"{tmp_path}: cannot read" in err


@pytest.mark.parametrize("kind", ["report", "engine_log", "plain_json"])
def test_replay_of_a_file_that_is_not_a_journal_is_refused(sim_day, tmp_path, cli, kind) -> None:
    day = "20250701"
    if kind == "report":
        path = sim_day.logs / f"report-{day}.json"
    elif kind == "engine_log":
        path = sim_day.logs / f"engine-{day}.log"
    else:
        path = tmp_path / "records.jsonl"
        path.write_text('{"seq": 1, "kind": "header"}\n{"seq": 2, "kind": "input", "calls": []}\n')
    code, out, err = cli("replay", path)
    assert code == 1 and out == ""
    if kind == "plain_json":  # it starts like a journal, but its lines carry no chain
        assert f"{path}: the journal does not verify" in err and "line 1:" in err
    else:
        assert f"{path}: not a zdte journal" in err


@pytest.mark.parametrize("content", ["", "hello, not a journal", '{"seq": 1}\n'])
def test_an_empty_or_foreign_file_is_not_taken_for_a_journal(tmp_path, cli, content) -> None:
    path = tmp_path / "audit-20250701.jsonl"
    path.write_text(content)
    code, out, _ = cli("journal", "verify", path)
    assert code == 1 and "not a zdte journal" in out
    code, _, err = cli("replay", path)
    assert code == 1 and "not a zdte journal" in err


@pytest.mark.parametrize(
    "row",
    [["no_such_method", [], 1], "now", [], ["quotes"]],
    ids=["unknown-method", "not-a-row", "empty", "orphan-same"],
)
def test_a_recorded_call_of_the_wrong_shape_is_a_clear_error(sim_day, tmp_path, cli, helpers, row) -> None:
    """A line can verify and still hold an input row no writer of ours makes: verify names its seq, no traceback."""
    header = helpers.records_of(sim_day.journal())[0]
    path = tmp_path / "audit-20250701.jsonl"
    journal = Journal(path)
    fields = {k: v for k, v in header.items() if k not in ("seq", "ts", "kind", "prev_hash", "hash")}
    journal.append("header", datetime.fromisoformat(header["ts"]), **fields)
    journal.append("input", datetime.fromisoformat(header["ts"]), sync=False, calls=[row])
    journal.close()
    code, out, err = cli("replay", path, "--verify")
    assert code == 1 and "Traceback" not in out + err
    assert f"seq 2: not a recorded call: {str(row)[:20]}" in err
