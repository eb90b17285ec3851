"""The grid of a sweep: `--set key=v1,v2`, `--dates` and `--seeds` turned into cells, each cell's config built and
validated before anything runs, so a typo in a key costs nothing instead of a sweep's worth of failed cells.

A cell's config is the file's with its `--set`s applied exactly as `run --set` applies them (each value read as
YAML), then the sweep's own keys: broker sim, one session on the cell's date, the cell's seed, no HTML page. Its
data files are made absolute here, so a worker in another folder, or on another node, reads the same paths.
"""

from __future__ import annotations

import hashlib
import itertools
import json
from dataclasses import dataclass
from datetime import date, timedelta
from pathlib import Path
from typing import Any

from engine.calendar import ExchangeCalendar
from engine.config import parse_config
from engine.errors import ConfigError
from engine.overrides import apply_sets, parse_set

RESERVED = {
    "broker": "a sweep always simulates",
    "session.date": "use --dates",
    "session.days": "a cell is one session",
    "sim.seed": "use --seeds",
    "logs_dir": "each cell writes to a scratch folder of its own",
    "risk.kill_file": "each cell has its own, in its scratch folder",
    "report.html": "a cell writes no page",
}
"""Keys the sweep sets in every cell itself: a `--set` of one would be silently overridden."""

DATA_KEYS = ("bars", "quotes", "model", "vol_file")
SCRATCH_KEYS = ("logs_dir", "kill_file")
"""Where a cell writes: chosen by the worker, so never part of what the cell is (its key)."""


@dataclass(frozen=True)
class Axis:
    """One swept key: each value's text (applied as `--set key=text`) and what it parses to (for rows and tables)."""

    key: str
    texts: tuple[str, ...]
    values: tuple[Any, ...]


@dataclass(frozen=True)
class Cell:
    """One session of the sweep. `config` is the effective config in JSON types (a worker parses it again), with
    the scratch paths still the file's; `key` names the cell for resume."""

    params: tuple[Any, ...]
    day: date
    seed: int
    config: dict[str, Any]
    key: str

    def label(self, axes: list[Axis]) -> str:
        return " ".join([*(f"{a.key}={v}" for a, v in zip(axes, self.params, strict=True)), str(self.day),
                         f"seed {self.seed}"])


def split_values(text: str) -> list[str]:
    """`v1,v2,...` split at the commas outside brackets and quotes, so a YAML list or a quoted string is one value."""
    out: list[str] = []
    current: list[str] = []
    depth, quote = 0, ""
    for ch in text:
        if quote:
            quote = "" if ch == quote else quote
        elif ch in "'\"":
            quote = ch
        elif ch in "[{":
            depth += 1
        elif ch in "]}":
            depth -= 1
        elif ch == "," and depth == 0:
            out.append("".join(current))
            current = []
            continue
        current.append(ch)
    out.append("".join(current))
    return out


def parse_axes(sets: list[str]) -> list[Axis]:
    axes: list[Axis] = []
    for text in sets:
        key, sep, values = text.partition("=")
        key = key.strip()
        if not sep or not key:
            raise ConfigError(f"--set {text!r}: expected section.key=value[,value...]")
        if key in RESERVED:
            raise ConfigError(f"--set {key}: the sweep sets it in every cell ({RESERVED[key]})")
        if any(a.key == key for a in axes):
            raise ConfigError(f"--set {key}: given twice; list its values in one --set {key}=v1,v2")
        texts = tuple(v.strip() for v in split_values(values))
        if any(not t for t in texts):
            raise ConfigError(f"--set {text!r}: an empty value")
        if len(set(texts)) != len(texts):
            raise ConfigError(f"--set {text!r}: a value is listed twice")
        axes.append(Axis(key, texts, tuple(parse_set(f"{key}={t}")[1] for t in texts)))
    return axes


def _ranges(text: str, option: str) -> list[tuple[str, str, bool]]:
    """`A..B` and comma lists of single values and ranges: (first, last, is_range) for each item."""
    out = []
    for item in text.split(","):
        first, sep, last = item.strip().partition("..")
        if not first or (sep and not last):
            raise ConfigError(f"{option} {text!r}: expected A..B or a comma list")
        out.append((first.strip(), (last if sep else first).strip(), bool(sep)))
    return out


def parse_dates(text: str, calendar: ExchangeCalendar) -> list[date]:
    """The exchange sessions asked for: every session of an `A..B` range (both ends included, weekends and holidays
    skipped), and each listed date, which must be a session (a Saturday would silently trade Monday twice)."""
    days: set[date] = set()
    for first, last, is_range in _ranges(text, "--dates"):
        try:
            a, b = date.fromisoformat(first), date.fromisoformat(last)
        except ValueError:
            raise ConfigError(f"--dates {text!r}: not a date (YYYY-MM-DD)") from None
        if a > b:
            raise ConfigError(f"--dates {first}..{last}: the range ends before it starts")
        if a < calendar.first_day or b > calendar.last_day:
            raise ConfigError(f"--dates {text!r}: the calendar covers {calendar.first_day} .. {calendar.last_day}")
        found = [a + timedelta(days=i) for i in range((b - a).days + 1)]
        found = [d for d in found if calendar.session(d) is not None]
        if not found:
            raise ConfigError(f"--dates {first}..{last}: no exchange session" if is_range
                              else f"--dates {first}: not an exchange session (a weekend or a holiday)")
        days.update(found)
    return sorted(days)


def parse_seeds(text: str) -> list[int]:
    seeds: set[int] = set()
    for first, last, _ in _ranges(text, "--seeds"):
        try:
            a, b = int(first), int(last)
        except ValueError:
            raise ConfigError(f"--seeds {text!r}: seeds are integers") from None
        if a > b:
            raise ConfigError(f"--seeds {first}..{last}: the range ends before it starts")
        seeds.update(range(a, b + 1))
    return sorted(seeds)


def _absolute(raw: dict[str, Any]) -> None:
    for key in DATA_KEYS:
        value = raw["sim"].get(key)
        if value:
            raw["sim"][key] = str(Path(value).expanduser().resolve())


def cell_key(config: dict[str, Any]) -> str:
    """A hash of everything that decides the cell's result: its whole effective config, date and seed included, and
    nothing of where it writes. Two sweeps that share a cell share its key, so a resumed sweep skips it."""
    what = {k: v for k, v in config.items() if k not in SCRATCH_KEYS}
    what["risk"] = {k: v for k, v in config["risk"].items() if k not in SCRATCH_KEYS}
    text = json.dumps(what, sort_keys=True, separators=(",", ":"))
    return hashlib.sha256(text.encode()).hexdigest()[:16]


def build_cells(base: dict[str, Any], axes: list[Axis], days: list[date], seeds: list[int],
                source: str) -> list[Cell]:
    """Every cell, parameter set by parameter set, then date, then seed; a ConfigError (the key and the value named)
    for any cell whose config the file itself would refuse."""
    cells = []
    for combo in itertools.product(*(range(len(a.texts)) for a in axes)):
        sets = [f"{a.key}={a.texts[i]}" for a, i in zip(axes, combo, strict=True)]
        raw = apply_sets(base, sets)
        raw["broker"] = "sim"
        raw["report"]["html"] = False
        _absolute(raw)
        where = f"{source} with --set {' '.join(sets)}" if sets else source
        for day in days:
            for seed in seeds:
                raw["session"] = {**raw["session"], "date": day.isoformat(), "days": 1}
                raw["sim"]["seed"] = seed
                config = parse_config(raw, where).model_dump(mode="json")
                cells.append(Cell(tuple(a.values[i] for a, i in zip(axes, combo, strict=True)), day, seed, config,
                                  cell_key(config)))
    _distinct(cells, axes)
    return cells


def _distinct(cells: list[Cell], axes: list[Axis]) -> None:
    """Two cells with one config are one cell run twice, its rows counted twice: refused, naming both (a model
    file's keys win over the `sim` keys a --set changes, as in `run --set`)."""
    seen: dict[str, Cell] = {}
    for cell in cells:
        if cell.key in seen:
            raise ConfigError(f"two cells have the same config: {seen[cell.key].label(axes)} and {cell.label(axes)} "
                              "(is a swept sim key set by sim.model's file?)")
        seen[cell.key] = cell
