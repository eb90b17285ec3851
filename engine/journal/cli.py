"""`run.py replay` and `run.py journal verify`: what the commands print and the exit codes they give."""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import Any

from engine.config import ConfigError, load_config
from engine.journal.replay import JournalUnusable, load, segments, summary, timeline, usable_records, verify
from engine.logs import silence
from engine.progress import Progress


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
    """Exit 0 (timelines shown, or every replay identical), 1 (a replay diverged, or a journal is unusable), 2 (bad
    --config). Several journals (a multi-day run) are taken one after the other; each line names its file."""
    if args.what_if:
        return _what_if(args)
    override = None
    if args.verify and args.config is not None:
        try:
            override = load_config(args.config).model_dump(mode="json")
        except ConfigError as exc:
            sys.stderr.write(f"config error: {exc}\n")
            return 2
    if args.verify:
        silence()
    several = len(args.files) > 1
    worst, shown, identical = 0, [], 0
    # each verified file prints its own line; on a terminal a bar below them shows how far the run is
    bar = Progress(len(args.files), "journals") if several and args.verify and sys.stderr.isatty() else None
    for path in args.files:
        if bar is not None:
            bar.step(path.name)
        try:
            if args.verify:
                ok = _verify(path, override, label=f"{path}: " if several else "")
                identical += ok
                worst = max(worst, 0 if ok else 1)
            else:
                shown.append(_timeline(path, args))
        except JournalUnusable as exc:
            sys.stderr.write(f"{exc}\n")
            worst = 1
        except MALFORMED as exc:
            sys.stderr.write(f"{path}: a record is malformed ({type(exc).__name__}: {exc}); is this a zdte journal?\n")
            worst = 1
    if bar is not None:
        bar.close()
    if args.json and shown:
        sys.stdout.write(json.dumps(shown if several else shown[0], indent=2) + "\n")
    if args.verify and several:
        sys.stdout.write(f"{identical} of {len(args.files)} journals replay identically\n")
    return worst


def _timeline(path: Path, args: argparse.Namespace) -> dict[str, Any]:
    """Print the journal's timeline (text), or return it for the JSON output."""
    records = usable_records(path)
    rows = timeline(records, args.start, args.end, args.state)
    summ = summary(records)
    if not args.json:
        from engine.journal.replay import format_timeline

        header = f"== {path}\n" if len(args.files) > 1 else ""
        sys.stdout.write(header + format_timeline(rows, summ) + "\n")
    shown = {"timeline": rows, "summary": summ}
    return {"file": str(path), **shown} if len(args.files) > 1 else shown


def _verify(path: Path, override: dict[str, Any] | None, label: str) -> bool:
    """Print one line per run in the journal (a restart starts a new run); True when every run is identical."""
    n = len(segments(usable_records(path)))
    verdicts = verify(path, override)
    for i, v in enumerate(verdicts, start=1):
        run = f"run {i}/{n}: " if n > 1 else ""
        sys.stdout.write(f"{label}{run}{v.message}\n")
    sys.stdout.flush()  # one line a journal as it is done: the progress of a long multi-day check
    return bool(verdicts) and all(v.identical for v in verdicts)


def _what_if(args: argparse.Namespace) -> int:
    """Exit 0 (every file compared), 1 (a journal that cannot be re-simulated), 2 (a bad --set)."""
    from engine.journal.whatif import format_what_if, what_if

    if args.verify:
        sys.stderr.write("--what-if and --verify are separate questions: ask one at a time\n")
        return 2
    silence()
    worst, shown = 0, []
    bar = Progress(len(args.files), "journals") if len(args.files) > 1 else None
    for path in args.files:
        try:
            result = what_if(path, args.sets)
        except ConfigError as exc:
            sys.stderr.write(f"config error: {exc}\n")
            return 2
        except JournalUnusable as exc:
            sys.stderr.write(f"{exc}\n")
            worst = 1
            continue
        finally:
            if bar is not None:
                bar.step(path.name)
        shown.append(result)
        if not args.json:
            sys.stdout.write(format_what_if(result) + "\n")
    if bar is not None:
        bar.close()
    if args.json:
        sys.stdout.write(json.dumps(shown if len(args.files) > 1 else shown[0] if shown else {}, indent=2) + "\n")
    return worst
