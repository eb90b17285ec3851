"""The installed engine's version: for --version and every journal header (kept apart so --version imports nothing
else)."""

from __future__ import annotations

from importlib.metadata import PackageNotFoundError, version


def engine_version() -> str:
    try:
        return version("zdte")
    except PackageNotFoundError:
        return "unknown"
