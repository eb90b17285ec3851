"""Where the reports go and how they are written: report-YYYYMMDD.json (every figure), .html (self-contained, its
charts inline SVG) and, when asked (`report.png`), one PNG per chart beside them (report-YYYYMMDD-<chart>.png), each
replaced atomically. The JSON's `charts` names the charts the page shows, each with its PNG file (null without)."""

from __future__ import annotations

import json
from datetime import date
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from engine.reporting.charts import Maker


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


def _charts(makers: dict[str, Maker], data: dict[str, Any], stem: Path, png: bool) -> tuple[dict[str, str | None],
                                                                                         dict[str, str | None]]:
    """Each chart as SVG text for the page and, with `png`, as `<stem>-<name>.png` (matplotlib, imported only then);
    charts without data are left out. Returns the SVGs, and each drawn chart's PNG file name (None without `png`)."""
    from engine.reporting.svg import draw

    svgs: dict[str, str | None] = {}
    files: dict[str, str | None] = {}
    for name, make in makers.items():
        chart = make(data)
        svgs[name] = None if chart is None else draw(chart)
        if chart is None:
            continue
        files[name] = None
        if png:
            from engine.reporting.matplotlib_render import write_png

            stem.parent.mkdir(parents=True, exist_ok=True)
            files[name] = write_png(chart, stem.with_name(f"{stem.name}-{name}.png")).name
    return svgs, files


def write_summary(summary: dict[str, Any], out_dir: Path, html: bool = True, png: bool = False) -> Path:
    """summary.json (every figure) and, with `html`, summary.html with its charts (and with `png` each chart as a
    PNG file beside it); returns the JSON's path."""
    path = Path(out_dir) / "summary.json"
    if html:
        from engine.reporting.charts import SUMMARY_CHARTS
        from engine.reporting.html import summary_page

        svgs, summary["charts"] = _charts(SUMMARY_CHARTS, summary, path.with_suffix(""), png)
        write_text(path.with_suffix(".html"), summary_page(summary, svgs))
    return write_json(path, summary)


def write_day(report: dict[str, Any], logs_dir: Path, html: bool = True, png: bool = False) -> Path:
    """The day's JSON report, and with `html` its page with its charts (and with `png` each chart as a PNG file
    beside it); returns the JSON's path."""
    path = report_path(logs_dir, date.fromisoformat(report["session_date"]))
    if html:
        from engine.reporting.charts import DAY_CHARTS
        from engine.reporting.html import day_page

        svgs, report["charts"] = _charts({} if report["holiday"] else DAY_CHARTS, report, path.with_suffix(""), png)
        write_text(path.with_suffix(".html"), day_page(report, svgs))
    return write_json(path, report)
