"""The `calibrate` and `fidelity` commands: fit the simulator's model to real quotes, and measure it."""

from __future__ import annotations

import argparse
import json
import sys
from datetime import date
from pathlib import Path
from typing import TYPE_CHECKING

from engine.errors import ConfigError, DataError

if TYPE_CHECKING:
    from engine.config import Config
    from engine.sim.realday import RealDay


def add_commands(sub: argparse._SubParsersAction, hhmm) -> None:
    cal = sub.add_parser("calibrate", help="fit the simulator's model to real option quotes; write a model file")
    cal.add_argument(
        "sources", type=Path, nargs="+", metavar="SOURCE", help="LEAN minute option quote zips or session journals"
    )
    cal.add_argument("-o", "--output", type=Path, required=True, help="the model file to write (YAML)")
    _common(cal, hhmm)
    cal.add_argument(
        "--history", type=Path, nargs="*", default=[], help="earlier sessions' minute bars: the level's realized base"
    )
    fid = sub.add_parser("fidelity", help="compare the model's quotes with a real day's, minute by minute")
    fid.add_argument(
        "sources", type=Path, nargs="+", metavar="SOURCE", help="LEAN minute option quote zips or session journals"
    )
    fid.add_argument("--model", type=Path, help="a model file (from calibrate) instead of the config's model")
    fid.add_argument("--json", action="store_true", help="the figures as JSON")
    _common(fid, hhmm)


def _common(p: argparse.ArgumentParser, hhmm) -> None:
    p.add_argument("--expiry", type=date.fromisoformat, help="the expiry to use, YYYY-MM-DD (default: the nearest)")
    p.add_argument("--config", type=Path, default=Path("config.yaml"), help="instrument, rate and strategy from here")
    p.add_argument("--bars", type=Path, help="the underlying's minute bars (default: found beside the quotes)")
    p.add_argument("--from", dest="start", type=hhmm, help="window start HH:MM (ET)")
    p.add_argument("--until", dest="until", type=hhmm, help="window end HH:MM (ET)")


def _config(args: argparse.Namespace, model: Path | None = None) -> Config:
    from engine.config import load_config, parse_config

    cfg = load_config(args.config)
    if model is None:
        return cfg
    raw = cfg.model_dump(mode="json")
    raw["sim"]["model"] = str(model)
    return parse_config(raw, f"{args.config} with {model}")


def calibrate_command(args: argparse.Namespace) -> int:
    from engine.calibration.calibrate import calibrate, describe, write_model
    from engine.sim.errors import SimDataError
    from engine.sim.market import model_params

    try:
        cfg = _config(args)
        days = [_day(s, args) for s in args.sources]
        fit = calibrate(days, model_params(cfg.sim, cfg.instrument, cfg.sim.implied_vol), _history_rv(args.history))
    except (ConfigError, DataError, SimDataError, ValueError) as exc:
        sys.stderr.write(f"calibrate: {exc}\n")
        return 2
    write_model(args.output, fit, [str(s) for s in args.sources])
    sys.stdout.write(describe(fit) + f"\nwrote {args.output}\n")
    return 0


def _day(source: Path, args: argparse.Namespace) -> RealDay:
    """A LEAN quote zip, or a session journal (`.jsonl`) whose input records hold the chains the engine fetched."""
    if source.suffix == ".jsonl":
        from engine.calibration.journal_quotes import journal_day

        return journal_day(source, args.start, args.until, args.expiry)
    from engine.calendar import ExchangeCalendar
    from engine.sim.realday import load_real_day

    return load_real_day(source, ExchangeCalendar(), args.bars, args.expiry, args.start, args.until)


def _history_rv(paths: list[Path]) -> float | None:
    from engine.calendar import ExchangeCalendar
    from engine.sim import lean
    from engine.sim.errors import SimDataError
    from engine.sim.underlying import realized_vol, regular_closes

    if not paths:
        return None
    cal = ExchangeCalendar()
    closes = []
    for p in paths:
        ticker, day = lean.bars_ticker_and_day(p)
        session = cal.session(day)
        if session is None:
            raise SimDataError(f"{p}: {day.isoformat()} is not a trading session")
        closes.append(regular_closes(lean.underlying_bars(p), session))
    return realized_vol(closes)


def fidelity_command(args: argparse.Namespace) -> int:
    from engine.calibration.fidelity import measure, table
    from engine.sim.errors import SimDataError

    try:
        cfg = _config(args, args.model)
        if cfg.sim.vol_source != "fixed":
            sys.stderr.write(
                f"fidelity: vol_source {cfg.sim.vol_source} has no earlier sessions beside a quote file; "
                f"the model runs at its fixed level, implied_vol {cfg.sim.implied_vol:g}\n"
            )
        results = [measure(_day(s, args), cfg, cfg.sim.implied_vol) for s in args.sources]
    except (ConfigError, DataError, SimDataError, ValueError) as exc:
        sys.stderr.write(f"fidelity: {exc}\n")
        return 2
    if args.json:
        sys.stdout.write(json.dumps(results[0] if len(results) == 1 else results, indent=2) + "\n")
    else:
        sys.stdout.write("\n\n".join(table(r) for r in results) + "\n")
    return 0
