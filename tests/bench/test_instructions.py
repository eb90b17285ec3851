"""bench/instructions.py: what it drives under valgrind, and how a count becomes a figure per day."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.bench_scripts import load_bench

bench = load_bench("instructions")
REPO = Path(__file__).resolve().parents[2]


def test_a_day_costs_the_difference_between_the_longer_and_the_warm_up_run(monkeypatch) -> None:
    counted = {(REPO, 0): 4_000, (REPO, 4): 4_800}
    monkeypatch.setattr(bench, "count", lambda root, days: counted[(root, days)])
    assert bench.per_day(REPO, 4) == 200.0


def test_the_driver_runs_the_warm_up_day_and_the_days_asked(monkeypatch) -> None:
    ran: list[object] = []
    sim_day = pytest.importorskip("bench.sim_day")
    real = sim_day.run_day
    monkeypatch.setattr(sim_day, "run_day", lambda *a, **k: ran.append(a[1]) or real(*a, **k))
    bench.drive(REPO, 1)
    assert len(ran) == 2 and ran[0] < ran[1]  # two different sessions, the warm-up first


def test_valgrinds_summary_line_is_read() -> None:
    line = "==12924== Collected : 4167117513\n==12924== \n==12924== I   refs:      4,167,117,513"
    found = bench.COLLECTED.search(line)
    assert found is not None and int(found.group(1)) == 4_167_117_513


def test_a_counted_process_may_drive_the_warm_up_alone_but_a_user_must_ask_for_days(monkeypatch, capsys) -> None:
    driven: list[tuple[Path, int]] = []
    monkeypatch.setattr(bench, "drive", lambda root, days: driven.append((root, days)))
    monkeypatch.setattr("sys.argv", ["instructions.py", "--drive", str(REPO), "--days", "0"])
    assert bench.main() == 0 and driven == [(REPO, 0)]
    monkeypatch.setattr("sys.argv", ["instructions.py", "--days", "0"])
    with pytest.raises(SystemExit):
        bench.main()
    assert "--days must be at least 1" in capsys.readouterr().err
