"""Where the reports go and how they are written: report-YYYYMMDD.json (every figure), .html (self-contained)
and one PNG per chart beside them (report-YYYYMMDD-<chart>.png), each replaced atomically."""

from __future__ import annotations

import json
from datetime import date
from pathlib import Path
from typing import Any


def report_path(logs_dir: Path, day: date) -> Path:
    return Path(logs_dir) / f"report-{day:%Y%m%d}.json"


def write_text(path: Path, text: str) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(path.name + ".tmp")
    tmp.write_text(text, encoding="utf-8")
    tmp.replace(path)
    return path


def write_json(path: Path, data: dict[str, Any]) -> Path:
    return write_text(path, json.dumps(data, indent=2) + "\n")


def _charts(makers: dict[str, Any], data: dict[str, Any], stem: Path) -> tuple[dict[str, str | None], dict[str, str]]:
    """Each chart as SVG text for the page, and as `<stem>-<name>.png`; charts without data are left out."""
    from engine.reporting.charts import render  # matplotlib: imported only when a page is drawn

    stem.parent.mkdir(parents=True, exist_ok=True)
    svgs: dict[str, str | None] = {}
    files: dict[str, str] = {}
    for name, make in makers.items():
        draw = make(data)
        png = stem.with_name(f"{stem.name}-{name}.png")
        svgs[name] = None if draw is None else render(draw, png)
        if draw is not None:
            files[name] = png.name
    return svgs, files


def write_summary(summary: dict[str, Any], out_dir: Path, html: bool = True) -> Path:
    """summary.json (every figure) and, with `html`, summary.html and its charts; returns the JSON's path."""
    path = Path(out_dir) / "summary.json"
    if html:
        from engine.reporting.charts import SUMMARY_CHARTS
        from engine.reporting.html import summary_page

        svgs, summary["charts"] = _charts(SUMMARY_CHARTS, summary, path.with_suffix(""))
        write_text(path.with_suffix(".html"), summary_page(summary, svgs))
    return write_json(path, summary)


def write_day(report: dict[str, Any], logs_dir: Path, html: bool = True) -> Path:
    """The day's JSON report, and with `html` its page and charts; returns the JSON's path."""
    path = report_path(logs_dir, date.fromisoformat(report["session_date"]))
    if html:
        from engine.reporting.charts import DAY_CHARTS
        from engine.reporting.html import day_page

        svgs, report["charts"] = _charts({} if report["holiday"] else DAY_CHARTS, report, path.with_suffix(""))
        write_text(path.with_suffix(".html"), day_page(report, svgs))
    return write_json(path, report)
