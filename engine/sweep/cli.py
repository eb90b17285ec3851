"""`zdte sweep`: the grid from the command line, every usage error found before the first cell runs (exit 2), and
the end of it on stdout: the ranked table, the counts, the files. Exit 0 when every cell finished, 1 when one
failed (its error is in its row), 3 when interrupted (the same command resumes)."""

from __future__ import annotations

import argparse
import hashlib
import os
import sys
from contextlib import ExitStack
from pathlib import Path
from typing import TYPE_CHECKING, Any

from engine.errors import ConfigError
from engine.sweep.on_ray import LOCAL

if TYPE_CHECKING:
    from engine.sweep.driver import Done, Executor
    from engine.sweep.grid import Axis, Cell

FAILURES_SHOWN = 5


def add_command(sub: Any) -> None:
    sw = sub.add_parser(
        "sweep", help="simulate a grid of sessions: parameter sets x dates x seeds, locally or on Ray",
        description="Every (parameter set, date, seed) cell is one simulated session, run as `run --set ... --date D "
        "--seed S` would run it. Rows go to OUT/results.parquet and .csv; a ranked table to stdout; a heatmap of "
        "total P&L to OUT/heatmap.html and .png. Run it again with the same OUT to resume.",
    )
    sw.add_argument("--config", default=Path("config.yaml"), type=Path, help="config file (default: config.yaml)")
    sw.add_argument("--set", dest="sets", action="append", default=[], metavar="KEY=V1[,V2...]",
                    help="a swept config key and its values, each read as YAML like run --set, e.g. "
                    "strategy.short_delta=0.10,0.15 (repeatable: the grid is every combination)")
    sw.add_argument("--dates", help="A..B (the exchange sessions from A to B) or a comma list of sessions "
                    "(default: the config's session.date)")
    sw.add_argument("--seeds", help="A..B or a comma list of simulator seeds (default: the config's sim.seed)")
    sw.add_argument("--workers", type=int, help="local worker processes (default: the CPUs, at most the cells); "
                    "with --ray and no address, the local runtime's CPUs")
    sw.add_argument("--ray", nargs="?", const=LOCAL, metavar="ADDRESS",
                    help="run the cells as Ray tasks: on a new local runtime, or on the cluster at ADDRESS "
                    "(HOST:PORT of its head, or auto); needs pip install -e \".[ray]\"")
    sw.add_argument("-o", "--out", type=Path,
                    help="output folder (default: sweeps/ID, ID a hash of the grid, so the same sweep resumes)")
    sw.add_argument("--keep-journals", action="store_true", help="keep each cell's journal in OUT/journals/")


def _grid(args: argparse.Namespace) -> tuple[list[Cell], list[Axis], int, int]:
    from engine.calendar import ExchangeCalendar
    from engine.config import load_config
    from engine.sweep.grid import build_cells, parse_axes, parse_dates, parse_seeds

    cfg = load_config(args.config)
    days = parse_dates(args.dates, ExchangeCalendar()) if args.dates else None
    if days is None:
        if cfg.session.date is None:
            raise ConfigError(f"{args.config}: no session.date: give the sweep's --dates")
        days = parse_dates(cfg.session.date.isoformat(), ExchangeCalendar())
    seeds = parse_seeds(args.seeds) if args.seeds else [cfg.sim.seed]
    axes = parse_axes(args.sets)
    cells = build_cells(cfg.model_dump(mode="json"), axes, days, seeds, str(args.config))
    return cells, axes, len(days), len(seeds)


def _executor(args: argparse.Namespace, stack: ExitStack) -> Executor:
    if args.workers is not None and args.workers < 1:
        raise ConfigError(f"--workers {args.workers}: at least 1")
    if args.ray is not None:
        from engine.sweep.on_ray import connect, ray_module, run_on_ray

        if connect(args.ray, args.workers):
            stack.callback(ray_module().shutdown)
        return lambda todo: run_on_ray(todo, args.keep_journals)
    from engine.sweep.local import run_local

    cpus = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else (os.cpu_count() or 1)
    return lambda todo: run_local(todo, min(args.workers or cpus, len(todo)), args.keep_journals)


def sweep_command(args: argparse.Namespace) -> int:
    from engine.logs import setup_logging
    from engine.sweep.driver import execute

    setup_logging(-1)  # the parent's console is the progress bar and the table
    with ExitStack() as stack:  # a Ray runtime started here is stopped when the cells are done
        try:
            cells, axes, days, seeds = _grid(args)
            executor = _executor(args, stack)
        except ConfigError as exc:
            sys.stderr.write(f"sweep: {exc}\n")
            return 2
        out = args.out or Path("sweeps") / hashlib.sha256("".join(c.key for c in cells).encode()).hexdigest()[:10]
        done = execute(cells, axes, out, executor, args.keep_journals)
    if done.interrupted:
        sys.stderr.write(f"interrupted: {len(done.rows)} of {len(cells)} cell(s) done, in {out}; the same command "
                         "resumes\n")
        return 3
    _report(done, cells, axes, out, days, seeds, args)
    return 1 if done.failed else 0


def _report(done: Done, cells: list[Cell], axes: list[Axis], out: Path, days: int, seeds: int,
            args: argparse.Namespace) -> None:
    from engine.sweep.heatmap import why_none, write_heatmap
    from engine.sweep.table import rank, table_lines

    ranked = rank(done.rows, axes)
    for row in done.failed[:FAILURES_SHOWN]:
        where = " ".join([*(f"{a.key}={row[a.key]}" for a in axes), row["date"], f"seed {row['seed']}"])
        sys.stderr.write(f"failed: {where}: {row['error']}\n")
    if len(done.failed) > FAILURES_SHOWN:
        sys.stderr.write(f"... and {len(done.failed) - FAILURES_SHOWN} more: the error column of {done.results[1]}\n")
    lines = [*table_lines(ranked, axes, seeds), "",
             f"{len(cells)} cell(s): {done.ran} ran, {done.skipped} skipped (finished before), "
             f"{len(done.failed)} failed",
             f"results {done.results[0]}, {done.results[1]}"]
    reason = why_none(axes)
    if reason is None:
        title = f"zdte sweep of {args.config}: {cells[0].day} .. {cells[-1].day}, {len(cells)} cell(s)"
        page = write_heatmap(out, done.rows, axes, ranked, title, days, seeds)
        single = " (a single row: one key is swept)" if len(axes) == 1 else ""
        lines.append(f"heatmap {page} and {page.with_suffix('.png')}{single}")
    else:
        lines.append(reason)
    sys.stdout.write("\n".join(lines) + "\n")
