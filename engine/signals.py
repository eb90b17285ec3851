"""Outside requests to stop: the kill switch (a file, or SIGUSR1) and shutdown (SIGINT/SIGTERM).

They reach the engine through the Signals port, so each is recorded in the journal when it fires and a
replay stops at the same moment. Signal handlers only set flags and wake the clock; the engine acts on
them at its next step. A second SIGINT/SIGTERM while cleaning up ends the process at once, after one
last journal record.
"""

from __future__ import annotations

import os
import signal
from collections.abc import Callable
from pathlib import Path
from typing import Any

from engine.journal.audit import ABORT_EXIT_CODE


class ProcessSignals:
    """`kill()`: why trading must stop and flatten now; `stop()`: why the engine must shut down. None: carry on."""

    def __init__(self, kill_file: Path) -> None:
        self.kill_file = Path(kill_file)
        self._kill_path = os.fspath(self.kill_file)  # asked at every step: os.access on a str is ~10x Path.exists
        self.killed: str | None = None
        self.stopped: str | None = None

    def kill(self) -> str | None:
        if self.killed:
            return f"kill switch: {self.killed}"
        if os.access(self._kill_path, os.F_OK):  # exists, without making a stat result nobody reads
            return f"kill switch: file {self.kill_file}"
        return None

    def stop(self) -> str | None:
        return self.stopped


def install(signals: ProcessSignals, wake: Callable[[], None], abort: Callable[[str], None]) -> None:
    """Route SIGINT/SIGTERM to a shutdown (a second one aborts) and SIGUSR1 to the kill switch."""

    def on_stop(signum: int, _frame: Any) -> None:
        name = signal.Signals(signum).name
        if signals.stopped:
            abort(f"second {name} during cleanup: exiting at once")
            os._exit(ABORT_EXIT_CODE)
        signals.stopped = f"{name} received"
        wake()

    def on_kill(signum: int, _frame: Any) -> None:
        signals.killed = signal.Signals(signum).name
        wake()

    signal.signal(signal.SIGINT, on_stop)
    signal.signal(signal.SIGTERM, on_stop)
    signal.signal(signal.SIGUSR1, on_kill)
