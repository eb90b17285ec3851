"""Running the engine in-process, as the tests do: build, run, and always close the day's log files."""

from __future__ import annotations

from engine.app import Adapters, build
from engine.config import Config
from engine.logs import close_day_files
from engine.runner import Runner


def run_engine(cfg: Config, adapters: Adapters | None = None) -> tuple[Runner, int]:
    try:
        runner = build(cfg, adapters)
        code = runner.run()
    finally:
        close_day_files()
    return runner, code
