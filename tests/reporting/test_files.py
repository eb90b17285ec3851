"""The report files: indented JSON any reader takes, replaced whole."""

import json
import math

import pytest

from engine.reporting.files import write_json


def _strict(text: str) -> object:
    def refuse(name: str) -> object:
        raise ValueError(f"{name} is not JSON")

    return json.loads(text, parse_constant=refuse)


def test_a_report_is_indented_json_that_strict_readers_take_even_with_an_unknown_number(tmp_path) -> None:
    path = write_json(tmp_path / "report.json", {"total_pnl": math.nan, "trades": [{"pnl": -70.0, "why": "stop ≥"}]})
    text = path.read_text(encoding="utf-8")
    assert _strict(text) == {"total_pnl": None, "trades": [{"pnl": -70.0, "why": "stop ≥"}]}
    assert text.endswith("}\n") and '\n  "trades": [\n' in text
    assert not path.with_name("report.json.tmp").exists()


def test_a_report_that_cannot_be_written_leaves_the_old_one(tmp_path) -> None:
    path = write_json(tmp_path / "report.json", {"day": 1})
    with pytest.raises(TypeError):
        write_json(path, {"day": object()})
    assert _strict(path.read_text()) == {"day": 1}
