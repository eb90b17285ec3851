"""The installed engine's version: for --version and every journal header (kept apart so --version imports nothing
else)."""

from __future__ import annotations

from functools import cache
from importlib.metadata import PackageNotFoundError, version


@cache
def engine_version() -> str:
    """Read once a process: the code running is the code imported, whatever is installed later (and reading the
    package metadata cost a simulated day 5 ms, on every journal header)."""
    try:
        return version("zdte")
    except PackageNotFoundError:
        return "unknown"
