"""`zdte ...` or `python run.py ...`: the one entry point. Exit codes (the README's table): 0 done, 1 fatal runtime
error, 2 bad config or usage, 3 interrupted."""

from __future__ import annotations

import argparse
import atexit
import gc
import os
import sys
import threading
from contextlib import suppress
from datetime import date, time
from pathlib import Path
from typing import TYPE_CHECKING, NoReturn

from engine.errors import AuthError, ConfigError, DataError, UnsafeEndpointError, ZdteError

if TYPE_CHECKING:
    from engine.config import Config

COMMANDS = ("run", "diagram", "check", "serve-sim", "replay", "journal", "calibrate", "fidelity", "report", "sweep")


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


def prog() -> str:
    """How the user called us, for usage lines: `zdte` (the installed command) or `run.py`."""
    name = Path(sys.argv[0]).name
    return name if name in ("zdte", "run.py") else "run.py"


class _Version(argparse.Action):
    """`--version`, the installed package's version looked up only when asked: importlib.metadata alone costs
    `--help` a sixth of its time."""

    def __init__(self, option_strings: list[str], dest: str = argparse.SUPPRESS, **kwargs) -> None:
        super().__init__(option_strings, dest, nargs=0, default=argparse.SUPPRESS, **kwargs)

    def __call__(self, parser: argparse.ArgumentParser, *_args) -> None:
        from engine.version import engine_version

        sys.stdout.write(f"zdte {engine_version()}\n")  # on stdout, as argparse's own version action
        parser.exit()


def parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(
        prog=prog(),
        description="zdte: paper-trade 0DTE option spreads (SPY iron condors) on the embedded simulator or Alpaca's "
        "paper API. Without a command it runs: `%(prog)s [run options]`.",
    )
    p.add_argument("--version", action=_Version, help="show the version and exit")
    sub = p.add_subparsers(dest="command", metavar="command")
    run = sub.add_parser("run", help="trade (the default command)")
    run.add_argument("--config", default="config.yaml", type=Path, help="config file (default: config.yaml)")
    run.add_argument("--date", type=_date, help="first session date, YYYY-MM-DD")
    run.add_argument("--days", type=int, help="number of consecutive sessions")
    run.add_argument("--forever", action="store_true",
                     help="trade every session until stopped (Alpaca; waits across nights, weekends and holidays)")
    run.add_argument("--seed", type=int, help="simulator seed")
    run.add_argument("--logs-dir", type=Path, help="where logs, journal and reports go")
    run.add_argument("-v", "--verbose", action="store_true", help="debug output on the console")
    run.add_argument("--quiet", action="store_true", help="warnings only on the console")
    run.add_argument("--set", dest="sets", action="append", default=[], metavar="KEY=VALUE",
                     help="change a config key, e.g. strategy.short_delta=0.20 (repeatable; validated like the file)")
    sub.add_parser("diagram", help="print the state machine as a mermaid diagram")
    chk = sub.add_parser(
        "check",
        help="the pre-launch checklist: keys, data files, broker, account, calendar, data, limits, logs",
        description="Each line is PASS, FAIL or SKIP (not checked, and why; never counted as passed). Exit 0 when "
        "no line failed, 1 when one did, 2 when the config cannot be used.",
    )
    chk.add_argument("--config", default="config.yaml", type=Path, help="config file (default: config.yaml)")
    chk.add_argument("--date", type=_date,
                     help="first session date, YYYY-MM-DD, as for run: the session the data checks look at")
    chk.add_argument("--logs-dir", type=Path, help="the logs directory to check, as for run")
    chk.set_defaults(sets=[], days=None, seed=None)  # the rest of run's overrides, unchanged (apply_overrides)
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
    jv.add_argument("files", type=Path, nargs="+", metavar="file", help="audit-YYYYMMDD.jsonl journals")
    sim = sub.add_parser("serve-sim", help="serve the simulator behind Alpaca's REST API and streams on 127.0.0.1")
    sim.add_argument("--port", type=int, default=0, help="REST port (default 0: any free port)")
    sim.add_argument("--stream-port", type=int, default=0, help="websocket streams' port (default 0: any free port)")
    sim.add_argument("--date", type=_date, default=date(2025, 7, 1), help="session date, YYYY-MM-DD")
    sim.add_argument("--seed", type=int, help="simulator seed (default: the config's)")
    sim.add_argument("--fault-rate", type=float, default=0.0, help="probability of an injected fault per request")
    sim.add_argument("--config", type=Path, help="config file whose sim section shapes the market")
    sim.add_argument("--slow-seconds", type=float, default=2.0, help="delay of an injected slow answer")
    from engine.calibration.cli import add_commands
    from engine.reporting.cli import add_command
    from engine.sweep.cli import add_command as add_sweep

    add_commands(sub, _hhmm)
    add_command(sub, _date)
    add_sweep(sub)
    return p


def apply_overrides(cfg: Config, args: argparse.Namespace) -> Config:
    """CLI flags win over the file (`--set` first, the named flags after); the result is validated again like the
    file itself. A command passes the flags it has (check has no --days, say)."""
    from engine.config import parse_config
    from engine.overrides import apply_sets

    flag = vars(args)
    raw = apply_sets(cfg.model_dump(), flag.get("sets") or [])
    if flag.get("date") is not None:
        raw["session"]["date"] = flag["date"]
    if flag.get("forever"):
        raw["session"]["days"] = "forever"
    if flag.get("days") is not None:  # bounds a --forever (a simulated one must be bounded)
        raw["session"]["days"] = flag["days"]
    if flag.get("seed") is not None:
        raw["sim"]["seed"] = flag["seed"]
    if flag.get("logs_dir") is not None:
        raw["logs_dir"] = flag["logs_dir"]
    return parse_config(raw, f"{args.config} (with command-line overrides)")


def writable(logs_dir: Path) -> None:
    """The logs folder can be made and written, or a ConfigError naming it: found before anything runs, not as a
    crash at the first journal record."""
    try:
        logs_dir.mkdir(parents=True, exist_ok=True)
        probe = logs_dir / ".zdte-write-probe"
        probe.write_bytes(b"")
        probe.unlink()
    except OSError as exc:
        raise ConfigError(f"logs_dir {logs_dir}: cannot write there ({exc.strerror or exc})") from None


def main(argv: list[str] | None = None) -> int:
    """The command's exit code; a reader that stops early (`| head`) ends it quietly."""
    return _guarded(argv)[0]


def entry() -> NoReturn:
    """The process's entry point (run.py, the installed `zdte`): main's exit code; after a run, without the
    interpreter's teardown (see _end_without_teardown)."""
    code, command = _guarded(None)
    if command == "run":
        _end_without_teardown(code)
    raise SystemExit(code)


def _end_without_teardown(code: int) -> None:
    """End the process as the interpreter's exit would, less freeing every object one by one (about 50 ms after
    a simulated day, a tenth of its run): the atexit handlers run (loguru's and logging's close and flush their
    sinks), stdout and stderr are flushed, then os._exit. Safe after a run: by then the runner has closed each
    day's journal and close_day_files the log files; and only with no other non-daemon thread alive (a stream's,
    say), which a normal exit would wait for. Otherwise it returns, and the interpreter exits as usual."""
    if any(t is not threading.main_thread() and not t.daemon for t in threading.enumerate()):
        return
    atexit._run_exitfuncs()  # noqa: SLF001 - what the interpreter's exit runs first
    for stream in (sys.stdout, sys.stderr):
        with suppress(BrokenPipeError, ValueError):  # a reader that stopped early (`| head`), or a stream closed
            stream.flush()
    os._exit(code)


def _guarded(argv: list[str] | None) -> tuple[int, str | None]:
    """The exit code and the command that ran (None when none did)."""
    try:
        return _main(argv)
    except BrokenPipeError:
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())  # the interpreter's last flush must not fail again
        return 0, None


def _main(argv: list[str] | None) -> tuple[int, str | None]:
    argv = list(sys.argv[1:] if argv is None else argv)
    if argv and argv[0] not in COMMANDS and not argv[0].startswith("-"):
        sys.stderr.write(f"{prog()}: unknown command {argv[0]!r}: the commands are {', '.join(COMMANDS)} "
                         f"(see {prog()} --help)\n")
        return 2, None
    if not argv or argv[0] not in COMMANDS and argv[0] not in ("-h", "--help", "--version"):
        argv.insert(0, "run")
    if argv[0] in ("-h", "--help"):
        return _help(), None
    args = parser().parse_args(argv)
    return _command(args), args.command


def _command(args: argparse.Namespace) -> int:
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
    if args.command == "sweep":
        from engine.sweep.cli import sweep_command

        return sweep_command(args)
    if args.command == "journal":
        from engine.journal.cli import journal_verify_command

        return journal_verify_command(args)
    return _run(args)


def _help() -> int:
    """The commands, then the default command's options: what a user types most is on the first screen."""
    p = parser()
    sub = next(a for a in p._actions if isinstance(a, argparse._SubParsersAction))  # noqa: SLF001 - argparse's own
    run_help = sub.choices["run"].format_help()
    options = run_help[run_help.index("options:") + len("options:"):]
    sys.stdout.write(p.format_help() + f"\nrun options (the default command: `{prog()} [run options]`):{options}")
    return 0


def _check(args: argparse.Namespace) -> int:
    """Lines not checked do not fail the command: each is either behind a failure that already does, or a check
    that cannot be made now (the market closed) or does not apply (keys for the simulator)."""
    from engine.app import adapters_for_check
    from engine.check import Status, run_checks, summary
    from engine.config import load_config
    from engine.logs import setup_logging

    setup_logging(-1)  # the lines are the output; the engine's own logging only when something warns
    try:
        lines = run_checks(apply_overrides(load_config(args.config), args), adapters_for_check)
    except ConfigError as exc:
        sys.stderr.write(f"config error: {exc}\n")
        return 2
    sys.stdout.write("\n".join(str(line) for line in lines) + "\n" + summary(lines) + "\n")
    return 1 if any(line.status is Status.FAIL for line in lines) else 0


def _install_signals(runner) -> None:
    from engine.signals import install

    ctx = runner.ctx

    def abort(reason: str) -> None:
        if ctx.now is not None:
            runner.audit.abort(ctx.now, reason)

    install(runner.signals, getattr(runner.clock, "wake", lambda: None), abort)


def _run(args: argparse.Namespace) -> int:
    # No garbage collection while the run starts: its imports, config and first market allocate a few hundred
    # thousand objects that all live on, so the collector's passes over them (about 100, 12 ms) would find nothing.
    gc.disable()
    try:
        from engine.alerts import alerts_for
        from engine.app import build
        from engine.config import load_config
        from engine.logs import close_day_files, setup_logging
        from engine.progress import Progress
        from engine.reporting.console import human_summary

        try:
            cfg = apply_overrides(load_config(args.config), args)
            writable(cfg.logs_dir)
            if cfg.kill_file.exists():
                raise ConfigError(f"kill file {cfg.kill_file} exists: remove it to trade")
            runner = None
            level = -1 if args.quiet else (1 if args.verbose else 0)
            setup_logging(level, lambda: runner.ctx.now if runner else None)
            count = cfg.session.count
            progress = Progress(count, "sessions") if count is not None and count > 1 else None
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
    finally:
        gc.enable()
    _install_signals(runner)  # what start-up made is moved out of the collector's sight by the runner itself
    try:
        code = runner.run()
    except Exception as exc:  # noqa: BLE001 - the last line of defence reports and exits 1
        sys.stderr.write(f"fatal: {type(exc).__name__}: {exc}\n")
        if alerts is not None:
            alerts.fatal(f"{type(exc).__name__}: {exc}")
        return 1
    finally:
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
        written = write_summary(summary, cfg.logs_dir, html=cfg.report.html, png=cfg.report.png)
        sys.stdout.write("\n".join(["", *summary_lines(summary), f"  summary {written}"]) + "\n")
    return code
