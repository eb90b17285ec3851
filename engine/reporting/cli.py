"""`run.py report`: rebuild the day reports from journals and write the summary across the days."""

from __future__ import annotations

import argparse
import sys
from collections.abc import Callable
from datetime import date
from pathlib import Path
from typing import Any


def add_command(sub: Any, as_date: Callable[[str], date]) -> None:
    rep = sub.add_parser("report", help="rebuild the day reports from journals and summarize the days")
    rep.add_argument("files", type=Path, nargs="*", metavar="journal", help="audit-YYYYMMDD.jsonl journals")
    rep.add_argument("--logs-dir", type=Path, help="every journal in this directory (default: logs)")
    rep.add_argument("--from", dest="first", type=as_date, help="first session date, YYYY-MM-DD")
    rep.add_argument("--to", dest="last", type=as_date, help="last session date, YYYY-MM-DD")
    rep.add_argument("-o", "--out", type=Path, help="where summary.json/.html go (default: the journals' directory)")
    rep.add_argument("--no-html", action="store_true", help="JSON only: no pages, no charts")
    rep.add_argument("--png", action="store_true", help="each chart of the pages also as a PNG file (matplotlib)")


def journals(args: argparse.Namespace) -> list[Path]:
    """The journals asked for, by session date (the name's), within --from/--to."""
    found = list(args.files) if args.files else sorted((args.logs_dir or Path("logs")).glob("audit-*.jsonl"))

    def day(p: Path) -> date | None:
        try:
            return date.fromisoformat(f"{p.stem[6:10]}-{p.stem[10:12]}-{p.stem[12:14]}")
        except ValueError:
            return None

    out = []
    for p in found:
        d = day(p)
        if d is not None and ((args.first and d < args.first) or (args.last and d > args.last)):
            continue
        out.append(p)
    return sorted(out, key=lambda p: (day(p) or date.min, str(p)))


def report_command(args: argparse.Namespace) -> int:
    """Exit 0 (every journal reported), 1 (a journal that does not verify or is malformed: named, skipped), 2 (none
    found)."""
    from engine.journal.replay import JournalUnusable, usable_records
    from engine.logs import setup_logging
    from engine.progress import Progress
    from engine.reporting.day import build_day
    from engine.reporting.expectation import with_expectation
    from engine.reporting.files import write_day, write_summary
    from engine.reporting.summary import summarize, summary_lines

    setup_logging(-1)  # warnings only: the expectation's re-simulation of a paper day keeps its lines to itself
    paths = journals(args)
    if not paths:
        where = ", ".join(map(str, args.files)) if args.files else str(args.logs_dir or Path("logs"))
        sys.stderr.write(f"no journal (audit-YYYYMMDD.jsonl) found in {where} for those dates\n")
        return 2
    reports, failed = [], 0
    bar = Progress(len(paths), "journals")
    for path in paths:
        bar.step(path.name)
        try:
            records = usable_records(path)
            report = with_expectation(build_day(records), path, records)
        except JournalUnusable as exc:
            sys.stderr.write(f"{exc}\n")
            failed += 1
            continue
        except (KeyError, TypeError, ValueError) as exc:
            sys.stderr.write(f"{path}: a record is malformed ({type(exc).__name__}: {exc}); is this a zdte journal?\n")
            failed += 1
            continue
        write_day(report, path.parent, html=not args.no_html, png=args.png)
        reports.append(report)
    bar.close()
    out = args.out or paths[0].parent
    summary = summarize(reports)
    written = write_summary(summary, out, html=not args.no_html, png=args.png)
    sys.stdout.write("\n".join(summary_lines(summary)) + "\n")
    sys.stdout.write(f"{len(reports)} day report(s) rebuilt; summary {written}"
                     + ("" if args.no_html else f" and {written.with_suffix('.html')}") + "\n")
    return 1 if failed else 0
