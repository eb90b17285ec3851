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
from collections.abc import Callable
from datetime import date, datetime
from pathlib import Path

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
    """verbosity: -1 quiet (warnings), 0 normal (info), 1 verbose (debug) on the console."""
    global _market_now
    _market_now = market_now
    level = {-1: "WARNING", 0: "INFO"}.get(verbosity, "DEBUG")
    logger.remove()
    _day_sinks.clear()
    logger.configure(patcher=_patch)
    logger.add(sys.stderr, level=level, format=CONSOLE_FORMAT, colorize=None, diagnose=False)
    logging.basicConfig(handlers=[_Intercept()], level=logging.INFO, force=True)
    logging.getLogger("transitions").setLevel(logging.WARNING)
    logging.getLogger("urllib3").setLevel(logging.WARNING)


def open_day_files(logs_dir: Path, day: date, fresh: bool = False) -> None:
    """Point the detailed and trade files at `day`'s names; `fresh` starts them over (a new simulated world)."""
    for sink in _day_sinks:
        logger.remove(sink)
    _day_sinks.clear()
    logger.configure(patcher=_patch)
    logs_dir.mkdir(parents=True, exist_ok=True)
    mode = "w" if fresh else "a"
    _day_sinks.append(
        logger.add(
            logs_dir / f"engine-{day:%Y%m%d}.log", level="DEBUG", format=FILE_FORMAT, mode=mode, diagnose=False
        )
    )
    _day_sinks.append(
        logger.add(
            logs_dir / f"trades-{day:%Y%m%d}.log",
            level="DEBUG",
            format=TRADE_FORMAT,
            filter=lambda r: r["extra"].get("trade", False),
            mode=mode,
            diagnose=False,
        )
    )


def close_day_files() -> None:
    for sink in _day_sinks:
        logger.remove(sink)
    _day_sinks.clear()
