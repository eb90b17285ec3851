"""Logging: a human console, a detailed daily file, and a trades-only daily file, all through loguru.

Lines carry the market time (simulated or real) next to the level, because a simulated day runs in a
second of wall time and only market time tells the story. Standard-library loggers (alpaca-py,
transitions, urllib3) are routed here too; `transitions` is kept at WARNING (its INFO costs 10x).
Tracebacks never show local variables (`diagnose=False` on every sink): an HTTP client's locals hold
the API keys, and keys must never reach a log.
"""

from __future__ import annotations

import logging
import sys
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import date, datetime
from pathlib import Path
from typing import IO, Any

from loguru import logger

_market_now: Callable[[], datetime | None] | None = None
_day_sinks: list[int] = []

CONSOLE_FORMAT = "<green>{extra[mkt]}</green> <level>{level: <7}</level> {message}"
FILE_FORMAT = "{time:YYYY-MM-DD HH:mm:ss.SSS} | mkt {extra[mkt]} | {level: <7} | {name}:{function}:{line} | {message}"
TRADE_FORMAT = "{extra[mkt]} | {message}"


class _Intercept(logging.Handler):
    def emit(self, record: logging.LogRecord) -> None:
        try:
            level: str | int = logger.level(record.levelname).name
        except ValueError:
            level = record.levelno
        logger.opt(depth=6, exception=record.exc_info).log(level, record.getMessage())


def _patch(record) -> None:
    now = _market_now() if _market_now else None
    record["extra"].setdefault("mkt", now.isoformat(timespec="seconds") if now else "-")


def setup_logging(verbosity: int = 0, market_now: Callable[[], datetime | None] | None = None) -> None:
    """verbosity: -1 quiet (warnings), 0 normal (info), 1 verbose (debug) on the console; -2 silent (no console: a
    sweep's worker process, whose parent owns the console and whose cells' warnings are in their rows)."""
    global _market_now
    _market_now = market_now
    level = {-1: "WARNING", 0: "INFO"}.get(verbosity, "DEBUG")
    silence()
    logger.configure(patcher=_patch)
    if verbosity > -2:
        logger.add(
            _console_sink(), level=level, format=CONSOLE_FORMAT, colorize=sys.stderr.isatty(), diagnose=False,
            filter=_outer,
        )
    logging.basicConfig(handlers=[_Intercept()], level=logging.INFO, force=True)
    logging.getLogger("transitions").setLevel(logging.WARNING)
    logging.getLogger("urllib3").setLevel(logging.WARNING)


def silence() -> None:
    """No sink at all (loguru's logger.remove() goes through here, so the day sinks are known to be gone)."""
    close_day_files()
    logger.remove()
    _day_sinks.clear()


def _outer(record: Any) -> bool:
    """Not a line of a simulation run inside this one (the expectation of a paper day, a what-if)."""
    return not record["extra"].get("inner", False)


@contextmanager
def inner_run() -> Iterator[None]:
    """Lines logged by this thread in the block stay out of the console and the day's files: a re-simulation's
    transitions are not the session's."""
    with logger.contextualize(inner=True):
        yield


def _console_sink() -> Any:
    """On a terminal, lines go through tqdm so a progress bar stays below them; otherwise straight to stderr."""
    if not sys.stderr.isatty():
        return _to_stderr
    from tqdm import tqdm

    return lambda message: tqdm.write(message, end="", file=sys.stderr)


def _to_stderr(message: str) -> None:
    """The stderr of the moment, not the one at set-up: where it is swapped and the old one closed (pytest's capture),
    a thread still running (alpaca-py's stream client, which logs its retries) writes on, not into a closed file."""
    sys.stderr.write(message)


class DayFile:
    """A loguru sink whose file follows the session day. It is added to loguru once a process (until
    setup_logging or silence starts over): a new day only opens a file, where adding new sinks would cost
    loguru a scan of sysconfig's install paths (about 5 ms) per sink per day. A paper session's files are
    line-buffered like loguru's own file sink, so a crash loses no finished line; a simulated world's are written
    in blocks (a write per line was a tenth of a simulated day's Monitoring), and a crashed simulated run is
    simply run again, its files started afresh."""

    def __init__(self) -> None:
        self._file: IO[str] | None = None

    def open(self, path: Path, mode: str, line_buffered: bool = True) -> None:
        self.close()
        self._file = path.open(mode, encoding="utf-8", buffering=1 if line_buffered else -1)

    def write(self, message: str) -> None:
        if self._file is not None:
            self._file.write(message)

    def close(self) -> None:
        if self._file is not None:
            self._file.close()
            self._file = None


_engine_file, _trade_file = DayFile(), DayFile()


def open_day_files(logs_dir: Path, day: date, fresh: bool = False) -> None:
    """Point the detailed and trade files at `day`'s names; `fresh` starts them over, block-buffered (a new
    simulated world)."""
    if not _day_sinks:
        logger.configure(patcher=_patch)
        _day_sinks.append(logger.add(_engine_file, level="DEBUG", format=FILE_FORMAT, diagnose=False, filter=_outer))
        _day_sinks.append(
            logger.add(
                _trade_file,
                level="DEBUG",
                format=TRADE_FORMAT,
                filter=lambda r: r["extra"].get("trade", False) and _outer(r),
                diagnose=False,
            )
        )
    logs_dir.mkdir(parents=True, exist_ok=True)
    mode = "w" if fresh else "a"
    _engine_file.open(logs_dir / f"engine-{day:%Y%m%d}.log", mode, line_buffered=not fresh)
    _trade_file.open(logs_dir / f"trades-{day:%Y%m%d}.log", mode, line_buffered=not fresh)


def close_day_files() -> None:
    """Close the day's files; their sinks stay added (writing nowhere), so the next day or the next cell of a
    sweep in this process opens files and adds nothing."""
    _engine_file.close()
    _trade_file.close()
