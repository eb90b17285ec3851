"""`run.py replay` and `run.py journal verify`: what the commands print and the exit codes they give."""

from __future__ import annotations

import argparse
import json
import sys

from loguru import logger

from engine.config import ConfigError, load_config
from engine.replay import JournalUnusable, load, segments, summary, timeline, usable_records, verify


def journal_verify_command(args: argparse.Namespace) -> int:
    """Exit 1 when any line was modified, deleted or inserted; a torn last line (a crash) is reported, exit 0."""
    worst = 0
    for path in args.files:
        try:
            records, problems = load(path)
        except JournalUnusable as exc:
            sys.stdout.write(f"{exc}\n")
            worst = 1
            continue
        fatal = [p for p in problems if "torn last line" not in p.what]
        for p in problems:
            sys.stdout.write(f"{path}: {p}\n")
        verdict = "BROKEN" if fatal else "ok"
        sys.stdout.write(f"{path}: {verdict}: {len(records)} records, chain and seq checked\n")
        worst = max(worst, 1 if fatal else 0)
    return worst


MALFORMED = (KeyError, TypeError, ValueError, AttributeError, IndexError)


def replay_command(args: argparse.Namespace) -> int:
    """Exit 0 (timeline shown, or replay identical), 1 (diverged, or the journal is unusable), 2 (bad --config)."""
    try:
        return _verify(args) if args.verify else _timeline(args)
    except JournalUnusable as exc:
        sys.stderr.write(f"{exc}\n")
        return 1
    except MALFORMED as exc:
        sys.stderr.write(f"{args.file}: a record is malformed ({type(exc).__name__}: {exc}); is this a zdte journal?\n")
        return 1


def _timeline(args: argparse.Namespace) -> int:
    records = usable_records(args.file)
    rows = timeline(records, args.start, args.end, args.state)
    summ = summary(records)
    if args.json:
        sys.stdout.write(json.dumps({"timeline": rows, "summary": summ}, indent=2) + "\n")
    else:
        from engine.replay import format_timeline

        sys.stdout.write(format_timeline(rows, summ) + "\n")
    return 0


def _verify(args: argparse.Namespace) -> int:
    override = None
    if args.config is not None:
        try:
            override = load_config(args.config).model_dump(mode="json")
        except ConfigError as exc:
            sys.stderr.write(f"config error: {exc}\n")
            return 2
    logger.remove()
    n = len(segments(usable_records(args.file)))
    verdicts = verify(args.file, override)
    for i, v in enumerate(verdicts, start=1):
        label = f"run {i}/{n}: " if n > 1 else ""
        sys.stdout.write(f"{label}{v.message}\n")
    return 0 if verdicts and all(v.identical for v in verdicts) else 1
