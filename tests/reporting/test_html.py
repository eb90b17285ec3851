"""The day's HTML report: one self-contained page whose charts and tables show the journal's figures."""

from __future__ import annotations

import copy
from html.parser import HTMLParser
from pathlib import Path
from typing import Any

import pytest

from engine.journal.audit import read_journal
from tests.reporting.conftest import run_session


class Page(HTMLParser):
    """The parts of the page the tests read: sections and tables by id, their cells' text, any reference out."""

    def __init__(self) -> None:
        super().__init__()
        self.sections: dict[str, list[str]] = {}
        self.tables: dict[str, list[list[str]]] = {}
        self.links: list[str] = []
        self._section: str | None = None
        self._table: str | None = None
        self._cell: list[str] | None = None

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        a = dict(attrs)
        for key in ("src", "href"):
            if a.get(key):
                self.links.append(str(a[key]))
        if tag == "section" and a.get("id"):
            self._section = str(a["id"])
            self.sections[self._section] = []
        elif self._section is not None:
            self.sections[self._section].append(tag)
        if tag == "table" and a.get("id"):
            self._table = str(a["id"])
            self.tables[self._table] = []
        elif tag == "tr" and self._table:
            self.tables[self._table].append([])
        elif tag in ("td", "th") and self._table:
            self._cell = []

    def handle_endtag(self, tag: str) -> None:
        if tag == "section":
            self._section = None
        elif tag == "table":
            self._table = None
        elif tag in ("td", "th") and self._table and self._cell is not None:
            self.tables[self._table][-1].append(" ".join("".join(self._cell).split()))
            self._cell = None

    def handle_data(self, data: str) -> None:
        if self._cell is not None:
            self._cell.append(data)


@pytest.fixture(scope="module")
def page(default_day) -> tuple[Path, Page, dict[str, Any]]:
    path, report = default_day
    parsed = Page()
    parsed.feed(path.with_suffix(".html").read_text(encoding="utf-8"))
    return path, parsed, report


def test_every_chart_is_an_inline_svg_and_no_png_unless_asked(page) -> None:
    path, parsed, report = page
    for name in ("underlying", "trades", "timeline"):
        assert "svg" in parsed.sections[f"chart-{name}"], f"chart {name} has no SVG"
        assert report["charts"][name] is None  # on the page; no PNG file (report.png is off by default)
    assert list(path.parent.glob("*.png")) == []
    assert parsed.links == [], "the page references nothing outside itself"


def test_report_png_draws_each_chart_as_a_png_beside_the_page(tmp_path, default_raw_config) -> None:
    raw = copy.deepcopy(default_raw_config)
    raw["report"] = {**raw.get("report", {}), "png": True}
    path, report = run_session(tmp_path, raw)
    for name in ("underlying", "trades", "timeline"):
        png = path.with_name(f"{path.stem}-{name}.png")
        assert png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
        assert report["charts"][name] == png.name
    parsed = Page()
    parsed.feed(path.with_suffix(".html").read_text(encoding="utf-8"))
    assert all("svg" in parsed.sections[f"chart-{n}"] for n in ("underlying", "trades", "timeline"))


def test_the_trades_table_shows_the_journals_trade(page) -> None:
    path, parsed, _ = page
    [journal] = path.parent.glob("audit-*.jsonl")
    [closed] = [r for r in read_journal(journal)[0] if r["kind"] == "closed"]
    head, row = parsed.tables["trades"]
    cell = dict(zip(head, row, strict=False))
    assert cell["entry"] == closed["entry_time"][11:19] and cell["exit"] == closed["exit_time"][11:19]
    assert cell["entry price"] == f"credit {-closed['entry_price']:.2f}"
    assert cell["exit price"] == f"debit {closed['exit_price']:.2f}"
    assert cell["P&L"] == f"{closed['pnl']:+,.2f}"
    assert cell["exit reason"] == closed["exit_reason"]


def test_the_metrics_and_timeline_tables_are_there(page) -> None:
    _, parsed, report = page
    metrics = {row[0]: row for row in parsed.tables["metrics"][1:]}
    assert set(metrics) == {"uptime in market hours", "order success rate", "API failure rate", "limit breaches",
                            "expectation gap"}
    assert metrics["uptime in market hours"][1] == "100.00%"
    assert metrics["limit breaches"][1] == "0"
    states = [row[0] for row in parsed.tables["timeline"][1:]]
    assert states == [r["state"] for r in report["timeline"]]
