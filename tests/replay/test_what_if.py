"""What-if: a recorded simulated day simulated again under changed settings, beside what was recorded."""

from __future__ import annotations

import json
from datetime import datetime
from pathlib import Path

import pytest

from engine.calendar import ET
from engine.cli import main
from engine.config import parse_config
from engine.errors import ConfigError
from engine.journal.audit import Journal
from engine.overrides import apply_sets


@pytest.fixture(scope="module")
def journal(tmp_path_factory) -> Path:
    logs = tmp_path_factory.mktemp("what-if")
    assert main(["--logs-dir", str(logs), "--quiet"]) == 0
    return logs / "audit-20250701.jsonl"


def what_if(journal: Path, capsys, *sets: str) -> dict:
    args = ["replay", str(journal), "--what-if", "--json"]
    for s in sets:
        args += ["--set", s]
    capsys.readouterr()
    assert main(args) == 0
    return json.loads(capsys.readouterr().out)


def test_nothing_changed_gives_back_the_recorded_day_to_the_cent(journal: Path, capsys) -> None:
    result = what_if(journal, capsys)
    assert result["what_if"] == result["recorded"]
    assert result["recorded"]["trades"], "the default day trades"


def test_a_changed_parameter_changes_the_day(journal: Path, capsys) -> None:
    result = what_if(journal, capsys, "strategy.short_delta=0.25", "risk.spread_stop_pct=2")
    recorded, alt = result["recorded"], result["what_if"]
    assert [t["strikes"] for t in alt["trades"]] != [t["strikes"] for t in recorded["trades"]]
    assert alt["pnl"] != recorded["pnl"]
    assert alt["pnl"] == pytest.approx(sum(t["pnl"] for t in alt["trades"]))


def test_the_text_puts_both_side_by_side(journal: Path, capsys) -> None:
    capsys.readouterr()
    assert main(["replay", str(journal), "--what-if", "--set", "strategy.short_delta=0.25"]) == 0
    out = capsys.readouterr().out
    assert "what if strategy.short_delta=0.25" in out and "recorded" in out and "what-if" in out
    assert out.count("day P&L") == 2


def test_an_unknown_key_is_a_config_error_naming_it(journal: Path, capsys) -> None:
    assert main(["replay", str(journal), "--what-if", "--set", "strategy.shortdelta=0.2"]) == 2
    assert "no key strategy.shortdelta" in capsys.readouterr().err


def test_a_paper_session_is_re_simulated_on_its_recorded_market(loopback_day, capsys) -> None:
    """Unchanged, the loopback day comes back trade for trade; changed, the strikes move and the text says on what
    market the what-if ran and where the recording ends."""
    same = what_if(loopback_day.journal(), capsys)
    assert same["recorded"]["trades"], "the loopback day trades"
    assert same["what_if"] == same["recorded"]
    changed = what_if(loopback_day.journal(), capsys, "strategy.short_delta=0.25")
    strikes = [t["strikes"] for t in changed["what_if"]["trades"]]
    assert strikes and strikes != [t["strikes"] for t in changed["recorded"]["trades"]]
    assert changed["market"]["chain"].startswith("recorded quotes of ")
    capsys.readouterr()
    assert main(["replay", str(loopback_day.journal()), "--what-if", "--set", "strategy.short_delta=0.25"]) == 0
    assert f"the recording ends {changed['recorded_until'][11:16]} ET" in capsys.readouterr().out


def test_a_paper_session_without_recorded_inputs_is_refused_with_the_reason(tmp_path: Path, capsys) -> None:
    path = tmp_path / "audit-20250701.jsonl"
    j = Journal(path)
    j.append("header", datetime(2025, 7, 1, 9, 0, tzinfo=ET), session_date="2025-07-01", broker="alpaca",
             config=json.loads(json.dumps(parse_config({}, "defaults").model_dump(mode="json"))))
    j.close()
    assert main(["replay", str(path), "--what-if"]) == 1
    assert "holds no bars" in capsys.readouterr().err


def test_sets_take_the_type_the_file_would_give() -> None:
    raw = {"strategy": {"short_delta": 0.15, "kind": "iron_condor"}, "report": {"html": True}}
    out = apply_sets(raw, ["strategy.short_delta=0.2", "report.html=false", "strategy.kind=iron_butterfly"])
    assert out == {"strategy": {"short_delta": 0.2, "kind": "iron_butterfly"}, "report": {"html": False}}
    assert raw["strategy"]["short_delta"] == 0.15, "the original is left alone"
    with pytest.raises(ConfigError, match="strategy.short_delta is not a config section"):
        apply_sets(raw, ["strategy.short_delta.x=1"])
    with pytest.raises(ConfigError, match="expected section.key=value"):
        apply_sets(raw, ["strategy.short_delta"])
