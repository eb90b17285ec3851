"""A recorded day simulated again: the what-if and the expectation of a paper day both run on this.

A simulated session's market is a function of its config's `sim` section, its date and its seed, all in the
journal's header, so re-running it meets the very market it met. A paper session's market exists only in
what it recorded; the simulator runs on that (sim.bars naming the journal: its bars), with the model's level
fitted to the chains it recorded (the simulator issue's calibration, the level alone: the late-day shape stays
the config's, since a session that stops watching at the hard exit cannot tell the two apart).
"""

from __future__ import annotations

import tempfile
from datetime import datetime
from pathlib import Path
from typing import Any

from engine.calendar import ET
from engine.config import parse_config
from engine.overrides import apply_sets


def fitted_level(path: Path, sim: dict[str, Any]) -> float:
    """The model's ATM IV (trading time) that carries the journal's recorded chains, with the config's late-day
    shape; DataError or ValueError when the journal holds too few chains to say."""
    from engine.calibration.calibrate import atm_series, level_for_shape, trading_iv
    from engine.calibration.journal_quotes import journal_day

    day = journal_day(path)
    atm = atm_series(day, trading_iv(day, sim["rate"]), sim["rate"])
    return level_for_shape(day, atm, sim["late_rise"], sim["late_minutes"])


def recorded_sim(path: Path, header: dict[str, Any], quotes: bool) -> dict[str, Any]:
    """The `sim` keys that put a paper session's recorded market under the simulator: its bars, the model at the
    level its chains carry, and (`quotes`) its recorded quotes over the model in the minutes it recorded them."""
    sim = header["config"]["sim"]
    return {
        "bars": str(path),
        "quotes": str(path) if quotes else None,
        "model": None,  # the header's sim section already holds the model file's keys
        "vol_source": "fixed",
        "implied_vol": fitted_level(path, sim),
    }


def recorded_until(path: Path) -> datetime:
    """The end of the last bar the session recorded: past it, the simulator knows no price (it holds the last)."""
    from engine.journal.answers import recorded_market

    bars = recorded_market(path).bars
    return datetime.fromtimestamp(int(bars.ts[-1]) + 60, ET)


def resimulate(path: Path, header: dict[str, Any], sim: dict[str, Any], sets: list[str]) -> dict[str, Any]:
    """The day's report of the header's config, with `sim` keys replaced and `sets` applied, simulated in a
    scratch folder; its log lines stay out of the caller's console and files."""
    from engine.app import build
    from engine.logs import inner_run

    with tempfile.TemporaryDirectory(prefix="zdte-resim-") as tmp:
        raw = apply_sets({**header["config"], "broker": "sim", "sim": {**header["config"]["sim"], **sim}}, sets)
        raw.update(logs_dir=tmp)
        raw["session"] = {**raw["session"], "date": header["session_date"], "days": 1}
        raw["risk"] = {**raw["risk"], "kill_file": str(Path(tmp) / "KILL")}
        raw["report"] = {**raw.get("report", {}), "html": False}
        cfg = parse_config(raw, f"{path}'s config with {' '.join(sets) or 'no change'}")
        with inner_run():
            runner = build(cfg, day_files=False)
            runner.run()
        [(_, report)] = runner.reports
    return report
