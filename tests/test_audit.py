import hashlib
import json
from datetime import UTC, datetime

import pytest

from engine.journal.audit import GENESIS, Journal, read_journal

T0 = datetime(2025, 7, 1, 14, 0, tzinfo=UTC)


def _write(path, n=3):
    j = Journal(path)
    for i in range(n):
        j.append("transition", T0, trigger=f"t{i}", reason="é ünïcode")
    j.close()


def test_chain_follows_the_published_rule(tmp_path):
    p = tmp_path / "a.jsonl"
    _write(p)
    prev = GENESIS
    for i, line in enumerate(p.read_bytes().splitlines(), start=1):
        rec = json.loads(line)
        body, tail = line.rsplit(b',"hash":', 1)
        assert tail == f'"{rec["hash"]}"}}'.encode()  # the hash is the line's last member
        assert rec["seq"] == i and rec["prev_hash"] == prev and rec["hash"] == hashlib.sha256(body + b"}").hexdigest()
        assert rec["ts"] == "2025-07-01T14:00:00+00:00"
        prev = rec["hash"]
    assert read_journal(p)[1] == []


@pytest.mark.parametrize(
    ("index", "old", "new"),
    [(1, '"t1"', '"tX"'), (2, '"kind":"transition"', '"kind": "transition"')],
    ids=["value", "spacing-only"],  # the hash covers the bytes, not a re-serialisation: equal JSON still shows
)
def test_modified_line_is_reported_with_its_number(tmp_path, index, old, new):
    p = tmp_path / "a.jsonl"
    _write(p)
    lines = p.read_text(encoding="utf-8").splitlines()
    lines[index] = lines[index].replace(old, new)
    p.write_text("\n".join(lines) + "\n", encoding="utf-8")
    problems = read_journal(p)[1]
    assert [(x.line, "modified" in x.what) for x in problems] == [(index + 1, True)]


def test_reading_back_without_hashes_gives_the_same_records_and_still_checks_the_links(tmp_path):
    p = tmp_path / "a.jsonl"
    _write(p, 4)
    assert read_journal(p, hashes=False) == read_journal(p)
    lines = p.read_text(encoding="utf-8").splitlines()
    edited = lines[:]
    edited[1] = edited[1].replace('"seq":2', '"seq": 2')  # the same JSON: only the line's own hash could tell
    p.write_text("\n".join(edited) + "\n", encoding="utf-8")
    assert read_journal(p, hashes=False)[1] == [] and read_journal(p)[1] != []
    del lines[1]
    p.write_text("\n".join(lines) + "\n", encoding="utf-8")
    assert {x.line for x in read_journal(p, hashes=False)[1]} == {2}


def test_deleted_line_breaks_seq_and_chain(tmp_path):
    p = tmp_path / "a.jsonl"
    _write(p, 4)
    lines = p.read_text(encoding="utf-8").splitlines()
    del lines[1]
    p.write_text("\n".join(lines) + "\n", encoding="utf-8")
    problems = read_journal(p)[1]
    assert {x.line for x in problems} == {2}
    assert any("seq 3 where 2" in x.what for x in problems)


def test_reopening_continues_the_chain_and_cuts_a_torn_tail(tmp_path):
    p = tmp_path / "a.jsonl"
    _write(p, 2)
    with open(p, "a", encoding="utf-8") as fh:
        fh.write('{"seq": 3, "ts": "torn')
    records, problems = read_journal(p)
    assert len(records) == 2 and problems[0].line == 3 and "torn" in problems[0].what
    j = Journal(p)
    assert j.recovered_torn_tail == '{"seq": 3, "ts": "torn'
    j.append("transition", T0, trigger="after")
    j.close()
    records, problems = read_journal(p)
    assert problems == [] and [r["seq"] for r in records] == [1, 2, 3]
    assert (tmp_path / "a.jsonl.torn").read_text().startswith('{"seq": 3')


def test_a_journal_that_does_not_verify_is_not_continued(tmp_path):
    import pytest

    from engine.errors import ZdteError

    for n, damage in enumerate(('{"seq": 4}', "[1, 2]", '{"seq": "x", "hash": "ab"}')):
        p = tmp_path / f"a{n}.jsonl"
        _write(p, 3)
        with open(p, "a", encoding="utf-8") as fh:
            fh.write(damage + "\n")
        before = p.read_bytes()
        with pytest.raises(ZdteError, match=r"line 4: .*does not verify"):
            Journal(p)
        assert p.read_bytes() == before  # nothing changed, nothing lost
    lines = p.read_text(encoding="utf-8").splitlines()[:3]
    lines[1] = lines[1].replace('"t1"', '"tX"')  # damage in the middle, valid last line
    p.write_text("\n".join(lines) + "\n", encoding="utf-8")
    with pytest.raises(ZdteError, match="line 2: hash does not match"):
        Journal(p)


@pytest.mark.parametrize(("durable", "fsyncs"), [(True, 5 + 1), (False, 1)])
def test_paper_journals_fsync_every_record_simulated_ones_once_at_close(tmp_path, monkeypatch, durable, fsyncs):
    import engine.journal.audit as audit

    calls = []
    monkeypatch.setattr(audit.os, "fsync", lambda fd: calls.append(fd))
    j = Journal(tmp_path / "d.jsonl", durable=durable)
    for i in range(5):
        j.append("transition", T0, trigger=f"t{i}")
    before_close = len(calls)
    j.close()
    assert len(calls) == fsyncs and before_close == fsyncs - 1
    assert len((tmp_path / "d.jsonl").read_bytes().splitlines()) == 5


def test_a_paper_record_is_on_the_file_when_written_a_simulated_one_once_flushed(tmp_path):
    """A killed paper session loses no record; a simulated journal groups its writes until it is flushed."""
    paper, sim = Journal(tmp_path / "p.jsonl", durable=True), Journal(tmp_path / "s.jsonl", durable=False)
    for j in (paper, sim):
        j.append("transition", T0, trigger="t0")
    assert len((tmp_path / "p.jsonl").read_bytes().splitlines()) == 1
    sim.flush()
    records, problems = read_journal(tmp_path / "s.jsonl")
    assert problems == [] and [r["trigger"] for r in records] == ["t0"]
    paper.close()
    sim.close()


def test_paper_sessions_write_durable_journals_and_simulated_ones_do_not(tmp_path, default_raw_config):
    import copy

    from engine.app import build, sim_adapters
    from engine.config import parse_config

    raw = copy.deepcopy(default_raw_config)
    raw["logs_dir"] = str(tmp_path)
    raw["risk"]["kill_file"] = str(tmp_path / "KILL")
    sim_cfg = parse_config(raw, "test")
    paper_cfg = parse_config({**raw, "broker": "alpaca"}, "test")
    for cfg, durable in ((sim_cfg, False), (paper_cfg, True)):
        runner = build(cfg, sim_adapters(sim_cfg, sim_cfg.session.date))
        runner.start()
        assert runner.audit.journal is not None and runner.audit.journal.durable is durable
        runner.audit.close(runner.ctx.now)


def test_a_simulated_run_that_fails_leaves_every_record_it_made_on_the_file(tmp_path, default_raw_config):
    import copy

    from engine.app import build
    from engine.config import parse_config
    from engine.runner import Runner

    raw = copy.deepcopy(default_raw_config)
    raw["logs_dir"] = str(tmp_path)
    raw["risk"]["kill_file"] = str(tmp_path / "KILL")
    runner = build(parse_config(raw, "test"))
    ticks = 0
    tick = Runner.tick

    def failing(self: Runner):
        nonlocal ticks
        ticks += 1
        if ticks > 3:
            raise RuntimeError("the process dies here")
        return tick(self)

    runner.tick = failing.__get__(runner)  # type: ignore[method-assign]
    with pytest.raises(RuntimeError):
        runner.run()
    assert runner.audit.journal is not None
    records, problems = read_journal(runner.audit.journal.path)
    assert problems == [] and records[-1]["seq"] == runner.audit.journal.seq
    assert any(r["kind"] == "transition" for r in records)
