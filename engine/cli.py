"""`python run.py ...`: the one entry point. Exit codes: 0 done, 1 fatal runtime error, 2 bad config or usage."""

from __future__ import annotations

import argparse
import gc
import os
import sys
from datetime import date, time
from pathlib import Path

from engine.config import Config, load_config
from engine.errors import AuthError, ConfigError, DataError, UnsafeEndpointError, ZdteError

COMMANDS = ("run", "diagram", "check", "serve-sim", "replay", "journal", "calibrate", "fidelity", "report")


def _date(text: str) -> date:
    try:
        return date.fromisoformat(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a date (YYYY-MM-DD): {text!r}") from None


def _hhmm(text: str) -> time:
    try:
        return time.fromisoformat(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a time (HH:MM): {text!r}") from None


def _state(text: str) -> str:
    from engine.machine import State

    names = [str(s) for s in State]
    if text not in names:
        raise argparse.ArgumentTypeError(f"no state {text!r}: the states are {', '.join(names)}")
    return text


def parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="run.py", description="zdte: paper-trade 0DTE SPY iron condors")
    sub = p.add_subparsers(dest="command")
    run = sub.add_parser("run", help="trade (default command)")
    run.add_argument("--config", default="config.yaml", type=Path, help="config file (default: config.yaml)")
    run.add_argument("--date", type=_date, help="first session date, YYYY-MM-DD")
    run.add_argument("--days", type=int, help="number of consecutive sessions")
    run.add_argument("--seed", type=int, help="simulator seed")
    run.add_argument("--logs-dir", type=Path, help="where logs, journal and reports go")
    run.add_argument("-v", "--verbose", action="store_true", help="debug output on the console")
    run.add_argument("--quiet", action="store_true", help="warnings only on the console")
    run.add_argument("--set", dest="sets", action="append", default=[], metavar="KEY=VALUE",
                     help="change a config key, e.g. strategy.short_delta=0.20 (repeatable; validated like the file)")
    sub.add_parser("diagram", help="print the state machine as a mermaid diagram")
    chk = sub.add_parser("check", help="the pre-launch checklist: keys, account, calendar, data, limits, logs")
    chk.add_argument("--config", default="config.yaml", type=Path)
    rep = sub.add_parser("replay", help="a journal's timeline; --verify re-drives the current code from it")
    rep.add_argument("files", type=Path, nargs="+", metavar="file", help="audit-YYYYMMDD.jsonl journals, one or more")
    rep.add_argument("--verify", action="store_true", help="re-drive the engine from the recorded inputs and compare")
    rep.add_argument("--config", type=Path, help="verify with this config instead of the recorded one")
    rep.add_argument("--from", dest="start", type=_hhmm, help="timeline from HH:MM (market time)")
    rep.add_argument("--to", dest="end", type=_hhmm, help="timeline until HH:MM")
    rep.add_argument("--state", type=_state, help="only moves from or to this state")
    rep.add_argument("--json", action="store_true", help="the timeline and summary as JSON (a list for several files)")
    rep.add_argument("--what-if", action="store_true", help="simulate the recorded day again under --set changes")
    rep.add_argument("--set", dest="sets", action="append", default=[], metavar="KEY=VALUE",
                     help="with --what-if: a config change, e.g. strategy.short_delta=0.20 (repeatable)")
    jr = sub.add_parser("journal", help="journal tools")
    jsub = jr.add_subparsers(dest="journal_command", required=True)
    jv = jsub.add_parser("verify", help="check the hash chain and the seq numbering")
    jv.add_argument("files", type=Path, nargs="+")
    sim = sub.add_parser("serve-sim", help="serve the simulator behind Alpaca's REST API on 127.0.0.1")
    sim.add_argument("--port", type=int, default=0, help="port (default 0: any free port)")
    sim.add_argument("--date", type=_date, default=date(2025, 7, 1), help="session date, YYYY-MM-DD")
    sim.add_argument("--seed", type=int, help="simulator seed (default: the config's)")
    sim.add_argument("--fault-rate", type=float, default=0.0, help="probability of an injected fault per request")
    sim.add_argument("--config", type=Path, help="config file whose sim section shapes the market")
    sim.add_argument("--slow-seconds", type=float, default=2.0, help="delay of an injected slow answer")
    from engine.calibration.cli import add_commands
    from engine.reporting.cli import add_command

    add_commands(sub, _hhmm)
    add_command(sub, _date)
    return p


def apply_overrides(cfg: Config, args: argparse.Namespace) -> Config:
    """CLI flags win over the file (`--set` first, the named flags after); the result is validated again like the
    file itself."""
    from engine.overrides import apply_sets

    raw = apply_sets(cfg.model_dump(), args.sets)
    if args.date is not None:
        raw["session"]["date"] = args.date
    if args.days is not None:
        raw["session"]["days"] = args.days
    if args.seed is not None:
        raw["sim"]["seed"] = args.seed
    if args.logs_dir is not None:
        raw["logs_dir"] = args.logs_dir
    from engine.config import parse_config

    return parse_config(raw, f"{args.config} (with command-line overrides)")


def main(argv: list[str] | None = None) -> int:
    """The command's exit code; a reader that stops early (`| head`) ends it quietly."""
    try:
        return _main(argv)
    except BrokenPipeError:
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())  # the interpreter's last flush must not fail again
        return 0


def _main(argv: list[str] | None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    if not argv or argv[0] not in COMMANDS and argv[0] not in ("-h", "--help"):
        argv.insert(0, "run")
    args = parser().parse_args(argv)
    if args.command == "diagram":
        from engine.machine import mermaid

        sys.stdout.write(mermaid() + "\n")
        return 0
    if args.command == "serve-sim":
        from engine.serve_cli import serve

        return serve(args)
    if args.command == "check":
        return _check(args)
    if args.command == "replay":
        from engine.journal.cli import replay_command

        return replay_command(args)
    if args.command in ("calibrate", "fidelity"):
        from engine.calibration.cli import calibrate_command, fidelity_command

        return calibrate_command(args) if args.command == "calibrate" else fidelity_command(args)
    if args.command == "report":
        from engine.reporting.cli import report_command

        return report_command(args)
    if args.command == "journal":
        from engine.journal.cli import journal_verify_command

        return journal_verify_command(args)
    return _run(args)


def _check(args: argparse.Namespace) -> int:
    from engine.app import adapters_for_check
    from engine.check import run_checks

    try:
        cfg = load_config(args.config)
    except ConfigError as exc:
        sys.stderr.write(f"config error: {exc}\n")
        return 2
    lines = run_checks(cfg, adapters_for_check)
    sys.stdout.write("\n".join(str(line) for line in lines) + "\n")
    failed = sum(not line.ok for line in lines)
    sys.stdout.write(f"{len(lines) - failed} passed, {failed} failed\n")
    return 1 if failed else 0


def _install_signals(runner) -> None:
    from engine.signals import install

    ctx = runner.ctx

    def abort(reason: str) -> None:
        if ctx.now is not None:
            runner.audit.abort(ctx.now, reason)

    install(runner.signals, getattr(runner.clock, "wake", lambda: None), abort)


def _run(args: argparse.Namespace) -> int:
    from engine.alerts import alerts_for
    from engine.app import build
    from engine.logs import close_day_files, setup_logging
    from engine.progress import Progress
    from engine.reporting.console import human_summary

    try:
        cfg = apply_overrides(load_config(args.config), args)
        if cfg.risk.kill_file.exists():
            raise ConfigError(f"kill file {cfg.risk.kill_file} exists: remove it to trade")
        runner = None
        setup_logging(-1 if args.quiet else (1 if args.verbose else 0), lambda: runner.ctx.now if runner else None)
        progress = Progress(cfg.session.days, "sessions") if cfg.session.days > 1 else None
        alerts = alerts_for(cfg)
        try:
            runner = build(cfg, progress=progress, alerts=alerts)
        except ZdteError as exc:
            if alerts is not None:
                alerts.startup_failed(str(exc))
                alerts.close()
            raise
    except ConfigError as exc:
        sys.stderr.write(f"config error: {exc}\n")
        return 2
    except (AuthError, UnsafeEndpointError) as exc:
        sys.stderr.write(f"refused: {exc}\n")
        return 2
    except DataError as exc:
        sys.stderr.write(f"data error: {exc}\n")
        return 2
    except ZdteError as exc:
        sys.stderr.write(f"cannot start: {exc}\n")
        return 1
    _install_signals(runner)
    # Everything loaded so far (pandas, the calendar, alpaca-py) lives as long as the run: keep it out of the
    # garbage collector's full passes, which otherwise walk it all every few thousand allocations.
    gc.freeze()
    try:
        code = runner.run()
    except Exception as exc:  # noqa: BLE001 - the last line of defence reports and exits 1
        sys.stderr.write(f"fatal: {type(exc).__name__}: {exc}\n")
        if alerts is not None:
            alerts.fatal(f"{type(exc).__name__}: {exc}")
        return 1
    finally:
        gc.unfreeze()
        if alerts is not None:  # the day summary goes out before the process ends; a failure is in the day's log
            alerts.close()
        close_day_files()
        if progress is not None:
            progress.close()
    sys.stdout.write(human_summary(runner) + "\n")
    if len(runner.reports) > 1:
        from engine.reporting.files import write_summary
        from engine.reporting.summary import summarize, summary_lines

        summary = summarize([r for _, r in runner.reports])
        written = write_summary(summary, cfg.logs_dir, html=cfg.report.html)
        sys.stdout.write("\n".join(["", *summary_lines(summary), f"  summary {written}"]) + "\n")
    return code
