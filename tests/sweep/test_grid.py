"""The grid: which sessions `--dates` means, how `--set` values split and parse, and what a cell's key covers."""

from __future__ import annotations

from datetime import date
from pathlib import Path

import pytest

from engine.calendar import ExchangeCalendar
from engine.config import load_config
from engine.errors import ConfigError
from engine.sweep.grid import build_cells, parse_axes, parse_dates, parse_seeds, split_values


@pytest.fixture(scope="module")
def base(repo_root: Path) -> dict:
    return load_config(repo_root / "config.yaml").model_dump(mode="json")


def test_a_range_is_its_exchange_sessions():
    # 2025-07-04 is Independence Day, 07-05 and 07-06 a weekend
    assert parse_dates("2025-07-03..2025-07-08", ExchangeCalendar()) == [
        date(2025, 7, 3), date(2025, 7, 7), date(2025, 7, 8)]


def test_a_list_mixes_dates_and_ranges_sorted_once_each():
    assert parse_dates("2025-07-08,2025-07-01..2025-07-02,2025-07-01", ExchangeCalendar()) == [
        date(2025, 7, 1), date(2025, 7, 2), date(2025, 7, 8)]


def test_a_listed_holiday_is_refused_not_moved_to_the_next_session():
    with pytest.raises(ConfigError, match="2025-07-04: not an exchange session"):
        parse_dates("2025-07-03,2025-07-04", ExchangeCalendar())


def test_seeds():
    assert parse_seeds("1..3,7") == [1, 2, 3, 7]


def test_values_split_at_top_level_commas_and_parse_as_yaml():
    assert split_values("[1, 2],3,'a,b'") == ["[1, 2]", "3", "'a,b'"]
    [axis] = parse_axes(["risk.spread_stop_pct=1, 2.5"])
    assert axis.values == (1, 2.5) and axis.texts == ("1", "2.5")


def test_a_key_is_the_config_not_where_the_cell_writes(base):
    elsewhere = {**base, "logs_dir": "/somewhere/else", "risk": {**base["risk"], "kill_file": "/x/KILL"}}
    [a] = build_cells(base, [], [date(2025, 7, 1)], [7], "a")
    [b] = build_cells(elsewhere, [], [date(2025, 7, 1)], [7], "b")
    assert a.key == b.key
    axes = parse_axes(["strategy.short_delta=0.15,0.20"])  # 0.15 is the file's own value: the same cell as a
    same, other = build_cells(base, axes, [date(2025, 7, 1)], [7], "c")
    assert same.key == a.key and other.key != a.key
    [seed8] = build_cells(base, [], [date(2025, 7, 1)], [8], "d")
    [day2] = build_cells(base, [], [date(2025, 7, 2)], [7], "e")
    assert len({a.key, seed8.key, day2.key}) == 3


def test_two_values_that_make_one_config_are_refused(base):
    with pytest.raises(ConfigError, match="two cells have the same config"):
        build_cells(base, parse_axes(["strategy.short_delta=0.15,0.150"]), [date(2025, 7, 1)], [7], "f")


def test_data_paths_are_made_absolute_for_workers_elsewhere(base, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    [cell] = build_cells(base, parse_axes(["sim.bars=bars.csv"]), [date(2025, 7, 1)], [7], "g")
    assert cell.config["sim"]["bars"] == str(tmp_path / "bars.csv")
    assert cell.config["broker"] == "sim" and cell.config["report"]["html"] is False
    assert cell.config["session"] == {"date": "2025-07-01", "days": 1} and cell.config["sim"]["seed"] == 7
