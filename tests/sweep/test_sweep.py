"""`zdte sweep` on local workers: its rows are the cells run alone, however many workers run them; it resumes; a
failing cell is a row, not the end of the sweep; usage errors cost nothing; the table and the heatmap show the rows."""

from __future__ import annotations

import copy
import json
import re
from collections import Counter
from datetime import date
from pathlib import Path

import pyarrow.parquet as pq
import pytest

from engine.config import load_config, parse_config
from engine.sweep import local
from engine.sweep.cell import run_cell
from engine.sweep.driver import execute
from engine.sweep.grid import build_cells, parse_axes
from tests.engine_run import run_engine


def _alone(default_raw_config: dict, tmp_path: Path, row: dict[str, str]) -> dict:
    """The row's cell as a user would run it by hand: the default config, the two keys, the date, no page."""
    raw = copy.deepcopy(default_raw_config)
    raw["strategy"]["short_delta"] = float(row["strategy.short_delta"])
    raw["risk"]["spread_stop_pct"] = int(row["risk.spread_stop_pct"])
    raw["session"]["date"] = row["date"]
    raw["sim"]["seed"] = int(row["seed"])
    raw["report"] = {**raw.get("report", {}), "html": False}
    raw["logs_dir"] = str(tmp_path / row["key"])
    raw["risk"]["kill_file"] = str(tmp_path / row["key"] / "KILL")
    runner, code = run_engine(parse_config(raw, "test"))
    assert code == 0
    [(_, report)] = runner.reports
    return report


def test_every_row_is_its_cell_run_alone(reference, default_raw_config, tmp_path):
    rows = reference.rows()
    assert len(rows) == 8 and len({r["key"] for r in rows}) == 8
    assert {(r["strategy.short_delta"], r["risk.spread_stop_pct"], r["date"]) for r in rows} == {
        (d, s, day) for d in ("0.15", "0.2") for s in ("1", "2") for day in ("2025-07-01", "2025-07-02")}
    pnls = set()
    for row in rows:
        report = _alone(default_raw_config, tmp_path, row)
        total = report["total_pnl"]
        assert float(row["pnl"]) == pytest.approx(total, abs=0.005)
        assert float(row["realized_pnl"]) == pytest.approx(report["realized_pnl"], abs=0.005)
        assert int(row["trades"]) == report["trade_count"]
        assert int(row["wins"]) == report["wins"]
        kinds = Counter(t["exit_kind"] for t in report["trades"])
        assert int(row["exit_spread_stop"]) == kinds["spread stop"]
        assert int(row["exit_profit_target"]) == kinds["profit target"]
        assert float(row["max_drawdown"]) <= min(0.0, total)
        assert row["error"] == ""
        pnls.add(total)
    assert len(pnls) > 2  # the parameters and dates do change the result: a sweep of one repeated cell would pass


def test_one_worker_gives_the_rows_of_two(grid, reference, sweep, tmp_path):
    one = sweep(tmp_path / "one", *grid, "--workers", "1")
    assert one.code == 0, one.stderr
    assert one.rows() == reference.rows()


def test_parquet_holds_the_rows_typed(reference):
    table = pq.read_table(reference.out / "results.parquet")
    assert table.num_rows == 8
    assert str(table.schema.field("date").type) == "date32[day]"
    assert str(table.schema.field("strategy.short_delta").type) == "double"
    assert str(table.schema.field("trades").type) == "int64"
    csv_pnls = sorted(float(r["pnl"]) for r in reference.rows())
    assert sorted(table.column("pnl").to_pylist()) == csv_pnls
    assert table.column("date").to_pylist()[0] == date(2025, 7, 1)


def _table(stdout: str) -> list[tuple[str, str, float]]:
    """(short_delta, spread_stop_pct, total P&L) of each line of the ranked table, in its order."""
    lines = stdout.splitlines()
    assert lines[0].split()[:3] == ["rank", "strategy.short_delta", "risk.spread_stop_pct"]
    out = []
    for line in lines[1:]:
        if not line.strip():
            break
        rank, delta, stop, _cells, _trades, total, *_ = line.split()
        out.append((delta, stop, float(total.replace(",", ""))))
    return out


def _totals(rows: list[dict[str, str]]) -> dict[tuple[str, str], float]:
    totals: dict[tuple[str, str], float] = {}
    for r in rows:
        pair = (r["strategy.short_delta"], r["risk.spread_stop_pct"])
        totals[pair] = round(totals.get(pair, 0.0) + float(r["pnl"]), 2)
    return totals


def test_the_table_ranks_the_sets_by_total_pnl(reference):
    table = _table(reference.stdout)
    assert len(table) == 4
    assert [t for *_, t in table] == sorted((t for *_, t in table), reverse=True)
    assert {(d, s): t for d, s, t in table} == _totals(reference.rows())
    assert "8 cell(s): 8 ran, 0 skipped (finished before), 0 failed" in reference.stdout


def test_the_heatmap_has_one_cell_per_pair_with_its_total(reference):
    html = (reference.out / "heatmap.html").read_text(encoding="utf-8")
    assert (reference.out / "heatmap.png").read_bytes().startswith(b"\x89PNG")
    assert "<svg" in html and not any(tag in html for tag in ("<script", "<link", 'src="http', "<img"))
    assert sorted(re.findall(r'<g id="cell-(\d+)-(\d+)"', html)) == [("0", "0"), ("0", "1"), ("1", "0"), ("1", "1")]
    totals = _totals(reference.rows())
    for i, delta in enumerate(("0.15", "0.2")):
        for j, stop in enumerate(("1", "2")):
            shown = re.search(rf'<g id="total-{i}-{j}">\s*<text[^>]*>([^<]+)</text>', html).group(1)
            assert float(shown.replace(",", "")) == totals[(delta, stop)]


def test_a_sweep_started_again_runs_only_what_it_has_not_finished(grid, sweep, reference, tmp_path):
    out = tmp_path / "resumed"
    first = sweep(out, *grid[:4], "--dates", "2025-07-01", "--workers", "2")  # an interrupted sweep: half the cells
    assert "4 cell(s): 4 ran, 0 skipped" in first.stdout
    again = sweep(out, *grid, "--workers", "2")
    assert "8 cell(s): 4 ran, 4 skipped (finished before), 0 failed" in again.stdout
    assert again.rows() == reference.rows()
    rows = (out / "rows.jsonl").read_text(encoding="utf-8").splitlines()
    (out / "rows.jsonl").write_text("\n".join(rows[:-1]) + "\n", encoding="utf-8")  # one finished cell forgotten
    third = sweep(out, *grid, "--workers", "2")
    assert "8 cell(s): 1 ran, 7 skipped" in third.stdout
    assert third.rows() == reference.rows()


def test_an_interrupted_sweep_keeps_its_finished_cells_and_resumes_with_the_rest(repo_root, tmp_path):
    cfg = load_config(repo_root / "config.yaml")
    axes = parse_axes(["strategy.short_delta=0.15,0.20"])
    cells = build_cells(cfg.model_dump(mode="json"), axes, [date(2025, 7, 1)], [7], "config.yaml")

    def interrupted(todo):
        yield run_cell(todo[0])
        raise KeyboardInterrupt

    done = execute(cells, axes, tmp_path, interrupted)
    assert done.interrupted and done.ran == 1 and len(done.rows) == 1
    asked: list[str] = []

    def recording(todo):
        asked.extend(c.key for c in todo)
        yield from (run_cell(c) for c in todo)

    done = execute(cells, axes, tmp_path, recording)
    assert asked == [cells[1].key] and done.ran == 1 and done.skipped == 1 and len(done.rows) == 2


def _bars_of_one_day(path: Path) -> Path:
    """A minute-bar CSV holding 2025-07-01 only (a seeded walk): any other date has no data."""
    import numpy as np

    rng = np.random.default_rng(3)
    closes = 600 * np.exp(np.cumsum(rng.normal(0, 0.0004, 420)))
    lines = ["date,Open,High,Low,Close,Volume"]
    for i, c in enumerate(closes):
        h, m = divmod(9 * 60 + i, 60)
        o = closes[i - 1] if i else c
        high, low = max(o, c) + 0.05, min(o, c) - 0.05
        lines.append(f"2025-07-01 {h:02d}:{m:02d}:00,{o:.2f},{high:.2f},{low:.2f},{c:.2f},1000")
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path


def test_a_failing_cell_is_recorded_and_the_others_complete(sweep, tmp_path):
    bars = _bars_of_one_day(tmp_path / "bars.csv")
    done = sweep(tmp_path / "out", "--set", f"sim.bars={bars}", "--set", "strategy.short_delta=0.15,0.20",
                 "--dates", "2025-07-01,2025-07-02", "--workers", "2")
    assert done.code == 1
    rows = done.rows()
    assert len(rows) == 4
    failed = [r for r in rows if r["error"]]
    assert {r["date"] for r in failed} == {"2025-07-02"} and len(failed) == 2
    assert all(r["error"] == f"DataError: {bars}: no bars for 2025-07-02" for r in failed)
    assert all(r["pnl"] == "" for r in failed)
    assert all(r["pnl"] != "" and r["stopped"] for r in rows if not r["error"])
    assert "4 cell(s): 4 ran, 0 skipped (finished before), 2 failed" in done.stdout
    assert "failed: sim.bars=" in done.stderr
    again = sweep(tmp_path / "out", "--set", f"sim.bars={bars}", "--set", "strategy.short_delta=0.15,0.20",
                  "--dates", "2025-07-01,2025-07-02", "--workers", "2")
    assert "4 cell(s): 2 ran, 2 skipped" in again.stdout  # a failed cell runs again; a finished one does not


@pytest.mark.parametrize("args, said", [
    (("--set", "strategy.short_detla=0.1,0.2"), "no key strategy.short_detla"),
    (("--set", "strategy.short_delta=0.15,0.7"), "strategy.short_delta: Input should be less than 0.5"),
    (("--set", "sim.seed=1,2"), "use --seeds"),
    (("--dates", "2025-07-04"), "not an exchange session"),
    (("--dates", "2025-07-02..2025-07-01"), "ends before it starts"),
    (("--seeds", "1..x"), "seeds are integers"),
    (("--workers", "0"), "at least 1"),
])
def test_a_usage_error_exits_2_before_any_cell_runs(sweep, tmp_path, monkeypatch, args, said):
    monkeypatch.setattr(local, "run_local", lambda *a: pytest.fail("a cell ran"))
    done = sweep(tmp_path / "out", "--dates", "2025-07-01", *args)
    assert done.code == 2
    assert said in done.stderr
    assert not (tmp_path / "out").exists()


def test_without_ray_installed_ray_is_a_usage_error(sweep, tmp_path, monkeypatch):
    import sys

    monkeypatch.setitem(sys.modules, "ray", None)  # import ray raises ImportError
    done = sweep(tmp_path / "out", "--ray")
    assert done.code == 2
    assert 'pip install -e ".[ray]"' in done.stderr
    assert not (tmp_path / "out").exists()


def test_kept_journals_are_the_cells_journals(sweep, tmp_path):
    done = sweep(tmp_path / "out", "--dates", "2025-07-01", "--seeds", "3,4", "--keep-journals", "--workers", "1")
    assert done.code == 0
    assert "no heatmap: no parameter is swept" in done.stdout
    journals = sorted((tmp_path / "out" / "journals").glob("audit-20250701-*.jsonl"))
    assert len(journals) == 2
    seeds = {json.loads(p.read_text(encoding="utf-8").splitlines()[0])["seed"] for p in journals}
    assert seeds == {3, 4}


def test_a_ray_address_nothing_answers_at_exits_2_at_once(sweep, tmp_path):
    pytest.importorskip("ray", reason="Ray is not installed (pip install -e \".[ray]\")")
    done = sweep(tmp_path / "out", "--dates", "2025-07-01", "--ray", "127.0.0.1:1")
    assert done.code == 2
    assert "--ray 127.0.0.1:1: no Ray head answers there" in done.stderr
    assert not (tmp_path / "out").exists()
