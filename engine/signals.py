"""The kill switch: a file (path in config) or a signal, read through a port so it is recorded and replayable."""

from __future__ import annotations

from pathlib import Path


class KillSwitch:
    """`kill()` says why trading must stop now, or None. A signal handler only sets the flag."""

    def __init__(self, path: Path) -> None:
        self.path = Path(path)
        self.signalled: str | None = None

    def trip(self, why: str) -> None:
        self.signalled = why

    def kill(self) -> str | None:
        if self.signalled:
            return f"kill switch: {self.signalled}"
        if self.path.exists():
            return f"kill switch: file {self.path}"
        return None
